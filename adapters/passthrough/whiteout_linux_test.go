package passthrough

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// requireWhiteout checks that path is a whiteout: a character device 0/0.
func requireWhiteout(t *testing.T, path string) {
	t.Helper()
	st := lstat(t, path)
	assert.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "%s is not a character device", path)
	assert.Zero(t, st.Rdev, "%s is not device 0/0", path)
}

// sdk.RenameWhiteout reaches renameat2 as RENAME_WHITEOUT (the tests run
// as root, which has the CAP_MKNOD it needs).
func TestRenameWhiteout(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "a"), "A")
	require.NoError(t, f.Rename(ctx, "a", "b", sdk.RenameWhiteout))
	requireWhiteout(t, filepath.Join(dir, "a"))
	assert.FileExists(t, filepath.Join(dir, "b"))

	writeFile(t, filepath.Join(dir, "c"), "C")
	requireErrno(t, unix.EEXIST, f.Rename(ctx, "c", "b", sdk.RenameWhiteout|sdk.RenameNoReplace))
	require.NoError(t, f.Rename(ctx, "c", "d", sdk.RenameWhiteout|sdk.RenameNoReplace))
	requireWhiteout(t, filepath.Join(dir, "c"))
	requireErrno(t, unix.EINVAL, f.Rename(ctx, "d", "b", sdk.RenameWhiteout|sdk.RenameExchange))
	requireErrno(t, unix.EINVAL, f.Rename(ctx, "d", "e", sdk.RenameFlags(1<<3)))
}
