package sftpfs_test

import (
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/sftpfs"
	"github.com/fusekit/fusekit/adapters/sftpfs/sshdtest"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMountOverSFTP serves a directory of a real sshd through aferofs and a
// FUSE mount and drives it with system calls: the whole network path.
func TestMountOverSFTP(t *testing.T) {
	srv := sshdtest.Start(t)
	client, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	remoteDir := t.TempDir()
	fsys, err := sftpfs.New(client, remoteDir)
	require.NoError(t, err)
	mnt := sdktest.Mount(t, aferofs.New(fsys), nil).Dir()
	at := func(name string) string { return filepath.Join(mnt, name) }
	remote := func(name string) string { return filepath.Join(remoteDir, name) }

	// write, then read back through the mount and on the server.
	require.NoError(t, os.WriteFile(at("a"), []byte("hello over sftp"), 0o640))
	got, err := os.ReadFile(at("a"))
	require.NoError(t, err)
	assert.Equal(t, "hello over sftp", string(got))
	got, err = os.ReadFile(remote("a"))
	require.NoError(t, err)
	assert.Equal(t, "hello over sftp", string(got))
	fi, err := os.Stat(remote("a"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "the mode asked for by open(2)")

	// pwrite at an offset past the end, and pread across it.
	f, err := os.OpenFile(at("a"), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("!"), 20)
	require.NoError(t, err)
	buf := make([]byte, 6)
	n, err := f.ReadAt(buf, 15)
	require.NoError(t, err)
	assert.Equal(t, "\x00\x00\x00\x00\x00!", string(buf[:n]))
	require.NoError(t, f.Close())

	// rename over an existing file replaces it.
	require.NoError(t, os.WriteFile(at("b"), []byte("old"), 0o644))
	require.NoError(t, os.Rename(at("a"), at("b")))
	got, err = os.ReadFile(remote("b"))
	require.NoError(t, err)
	assert.Equal(t, "hello over sftp\x00\x00\x00\x00\x00!", string(got))
	assert.NoFileExists(t, remote("a"))

	// mkdir, readdir, symlink.
	require.NoError(t, os.Mkdir(at("d"), 0o755))
	require.NoError(t, os.Symlink("b", at("d/link")))
	target, err := os.Readlink(remote("d/link"))
	require.NoError(t, err)
	assert.Equal(t, "b", target)
	entries, err := os.ReadDir(mnt)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	assert.Equal(t, []string{"b", "d"}, names)

	// errors come back as the errno the server's answer means.
	assert.ErrorIs(t, os.Mkdir(at("d"), 0o755), syscall.EEXIST)
	assert.ErrorIs(t, os.Remove(at("d")), syscall.ENOTEMPTY)
	_, err = os.Stat(at("missing"))
	assert.ErrorIs(t, err, syscall.ENOENT)

	// unlink.
	require.NoError(t, os.Remove(at("d/link")))
	require.NoError(t, os.Remove(at("d")))
	require.NoError(t, os.Remove(at("b")))
	left, err := os.ReadDir(remoteDir)
	require.NoError(t, err)
	assert.Empty(t, left)
}
