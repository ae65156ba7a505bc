//go:build linux && fuse3

package passthrough

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// renameat2(RENAME_WHITEOUT) through the mount, as overlayfs does it on
// its upper layer. Only libfuse3 passes renameat2 flags on; libfuse2
// refuses them all with EINVAL, which no filesystem can change.
func TestMountRenameWhiteout(t *testing.T) {
	mnt, back := mountTree(t, nil)
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	writeFile(t, a, "A")
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_WHITEOUT))
	requireWhiteout(t, a)
	requireWhiteout(t, filepath.Join(back, "a"))
	got, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, "A", string(got))

	// Over an existing name, and with RENAME_NOREPLACE.
	writeFile(t, a+"2", "A2")
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, a+"2", unix.AT_FDCWD, b, unix.RENAME_WHITEOUT))
	requireWhiteout(t, a+"2")
	got, err = os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, "A2", string(got))
	writeFile(t, a+"3", "A3")
	err = unix.Renameat2(unix.AT_FDCWD, a+"3", unix.AT_FDCWD, b, unix.RENAME_WHITEOUT|unix.RENAME_NOREPLACE)
	assert.ErrorIs(t, err, unix.EEXIST)
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, a+"3", unix.AT_FDCWD, b+"3", unix.RENAME_WHITEOUT|unix.RENAME_NOREPLACE))
	requireWhiteout(t, a+"3")

	// A directory leaves a whiteout too.
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "dir"), 0o755))
	writeFile(t, filepath.Join(mnt, "dir", "f"), "f")
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, filepath.Join(mnt, "dir"), unix.AT_FDCWD, filepath.Join(mnt, "moved"), unix.RENAME_WHITEOUT))
	requireWhiteout(t, filepath.Join(mnt, "dir"))
	got, err = os.ReadFile(filepath.Join(mnt, "moved", "f"))
	require.NoError(t, err)
	assert.Equal(t, "f", string(got))
}
