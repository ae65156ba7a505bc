package aferofs_test

import (
	"context"
	"io"
	"testing"
	"testing/fstest"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An io/fs filesystem (embed.FS, fstest.MapFS) served through afero's
// FromIOFS uses io/fs names, not absolute afero paths.
func TestFromIOFS(t *testing.T) {
	ctx := context.Background()
	fsys := aferofs.New(afero.FromIOFS{FS: fstest.MapFS{
		"etc/motd":  {Data: []byte("hi\n"), Mode: 0o644},
		"etc/empty": {Mode: 0o600},
	}})
	a, err := fsys.Stat(ctx, ".")
	require.NoError(t, err)
	assert.True(t, a.IsDir())
	ents, err := fsys.ReadDir(ctx, "etc")
	require.NoError(t, err)
	require.Len(t, ents, 2)
	f, err := fsys.Open(ctx, "etc/motd", 0, 0)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 16)
	n, err := f.ReadAt(ctx, buf, 0)
	if err != io.EOF {
		require.NoError(t, err)
	}
	assert.Equal(t, "hi\n", string(buf[:n]))
	assert.ErrorIs(t, fsys.Mkdir(ctx, "x", 0o755), sdk.ErrReadOnly)
}
