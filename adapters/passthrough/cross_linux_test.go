package passthrough

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
)

// RenameTo and LinkTo move and link between two trees of one mount; the
// overlay's tests use them for its work directory through a real mount.
func TestRenameToAndLinkTo(t *testing.T) {
	ctx := context.Background()
	a, adir := newFS(t)
	b, bdir := newFS(t)
	require.NoError(t, a.CheckSeparate(b))
	require.NoError(t, os.WriteFile(filepath.Join(adir, "f"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bdir, "g"), []byte("y"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(bdir, "d"), 0o700))

	require.NoError(t, a.RenameTo(ctx, "f", b, "d/f", 0))
	assert.NoFileExists(t, filepath.Join(adir, "f"))
	got, err := os.ReadFile(filepath.Join(bdir, "d/f"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))

	require.NoError(t, b.LinkTo(ctx, "d/f", a, "hl"))
	st := lstat(t, filepath.Join(adir, "hl"))
	assert.Equal(t, uint64(2), uint64(st.Nlink))

	require.NoError(t, a.RenameTo(ctx, "hl", b, "g", sdk.RenameExchange))
	got, err = os.ReadFile(filepath.Join(adir, "hl"))
	require.NoError(t, err)
	assert.Equal(t, "y", string(got), "exchanged across the trees")
	assert.ErrorIs(t, a.RenameTo(ctx, "hl", b, "g", sdk.RenameNoReplace), unix.EEXIST)

	mem := aferofs.New(afero.NewMemMapFs())
	assert.ErrorIs(t, a.RenameTo(ctx, "hl", mem, "x", 0), unix.EXDEV)
	assert.ErrorIs(t, a.LinkTo(ctx, "hl", mem, "x"), unix.EXDEV)
	assert.ErrorContains(t, a.CheckSeparate(mem), "aferofs")
}
