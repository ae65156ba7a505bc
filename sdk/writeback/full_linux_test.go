//go:build linux

package writeback

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests put the write-back layer over the passthrough adapter on a
// small tmpfs, so that the backend really runs out of space.

// smallTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// cleanup (after everything registered later, the FUSE mount included).
func smallTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10))
	require.NoError(t, err, "mounting a %d-byte tmpfs on %s", size, dir)
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the tmpfs on %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is what statfs(2) says is free on dir's filesystem.
func freeBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return int64(st.Bavail) * st.Bsize
}

// fullEnv mounts writeback over passthrough over a tmpfs of size bytes.
// At cleanup it unmounts, requiring Unmount and Close to report nothing:
// the tests tell the application of every failure, and the files that
// failed are unlinked, so no data is lost.
func fullEnv(t *testing.T, size int64, opts Options) (src string, wb *FS, srv *sdk.Server) {
	t.Helper()
	src = smallTmpfs(t, size)
	pt, err := passthrough.New(src)
	require.NoError(t, err)
	t.Cleanup(func() { pt.Close() })
	wb, err = New(pt, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, wb.Close(ctx), "writeback Close")
	})
	srv, err = sdk.Mount(wb, t.TempDir(), nil)
	require.NoError(t, err, "mount")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sdktest.UnmountTimeout)
		defer cancel()
		assert.NoError(t, srv.Unmount(ctx), "Unmount reports nothing: every failure was returned to the application and its file unlinked")
	})
	return src, wb, srv
}

// writeUntilError writes size bytes to f in 1 MiB write(2)s until one fails, and
// returns how many bytes were acknowledged and the error.
func writeUntilError(f *os.File, size int) (int64, error) {
	block := bytes.Repeat([]byte("x"), 1<<20)
	var acked int64
	for acked < int64(size) {
		n, err := f.Write(block)
		acked += int64(n)
		if err != nil {
			return acked, err
		}
	}
	return acked, nil
}

// checkOthersUnaffected checks that a failed file leaves the rest of the
// mount alone: a new file is written, closed and reaches the backend, and
// a read-only open and close of another file succeeds.
func checkOthersUnaffected(t *testing.T, src, mnt string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "small"), []byte("hello"), 0o644), "a new small file after the failed one")
	got, err := os.ReadFile(filepath.Join(src, "small"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got), "the new file reached the backend")

	require.NoError(t, os.WriteFile(filepath.Join(src, "other"), []byte("other"), 0o644))
	r, err := os.Open(filepath.Join(mnt, "other"))
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "other", string(b))
	require.NoError(t, r.Close(), "a read-only open and close of another file")
}

// The scenario of issue 14, item 1: a file written far past the space of
// the backend. Before the fix write(2) acknowledged all 32 MiB, close(2)
// returned ENOSPC, and the unlink that followed freed nothing: the layer
// kept the backend file open and retried its write-back, so every later
// file failed too.
func TestMountFullBackendUnlinkFreesSpace(t *testing.T) {
	const size = 8 << 20
	src, wb, srv := fullEnv(t, size, Options{})
	mnt := srv.Dir()
	big := filepath.Join(mnt, "big")

	f, err := os.Create(big)
	require.NoError(t, err)
	acked, werr := writeUntilError(f, 4*size)
	cerr := f.Close()
	t.Logf("acknowledged %d bytes, write: %v, close: %v", acked, werr, cerr)
	require.True(t, errors.Is(werr, syscall.ENOSPC) || errors.Is(cerr, syscall.ENOSPC),
		"the application hears of the full backend (write: %v, close: %v)", werr, cerr)
	if cerr == nil {
		fi, err := os.Stat(filepath.Join(src, "big"))
		require.NoError(t, err)
		assert.Equal(t, acked, fi.Size(), "close(2) succeeded, so every acknowledged byte is in the backend")
	}
	assert.LessOrEqual(t, acked, int64(size), "no more is acknowledged than the backend can hold")

	require.NoError(t, os.Remove(big))
	// The release that follows the last close may still be on its way.
	eventually(t, func() bool { return freeBytes(t, src) >= size*7/8 }, "unlinking the file through the mount frees its space in the backend")
	checkOthersUnaffected(t, src, mnt)
	assert.Empty(t, wb.Files(), "nothing is pending")
}

// A write-back that fails for lack of space (the backend filled up behind
// the layer's back after the data was acknowledged): close(2) says so, a
// handle still open keeps getting the error, and the unlink drops the
// data and frees the backend's space once the last handle is closed.
func TestMountFailedWriteBackDroppedAtUnlink(t *testing.T) {
	const size = 8 << 20
	src, wb, srv := fullEnv(t, size, Options{})
	mnt := srv.Dir()
	big := filepath.Join(mnt, "big")

	f, err := os.Create(big)
	require.NoError(t, err)
	g, err := os.OpenFile(big, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.Write(bytes.Repeat([]byte("b"), 2<<20))
	require.NoError(t, err, "2 MiB fit in 8 MiB")
	// Leave 1 MiB: the write-back of the 2 MiB places half of it.
	filler, err := os.Create(filepath.Join(src, "filler"))
	require.NoError(t, err)
	_, err = filler.Write(make([]byte, freeBytes(t, src)-1<<20))
	require.NoError(t, err)
	require.NoError(t, filler.Close())

	require.ErrorIs(t, f.Close(), syscall.ENOSPC, "close(2) reports the failed write-back")
	_, err = f.Write([]byte("x"))
	require.Error(t, err)
	require.NoError(t, os.Remove(big))
	assert.Less(t, freeBytes(t, src), int64(1<<20), "the open handle still holds the file")

	_, err = g.Write([]byte("more"))
	assert.ErrorIs(t, err, syscall.ENOSPC, "after a write-back failed for lack of space, writes are not acknowledged")
	assert.ErrorIs(t, g.Sync(), syscall.ENOSPC, "a handle still open keeps getting the error")
	_ = g.Close() // its flush retries and fails once more, or has nothing new to say

	eventually(t, func() bool { return freeBytes(t, src) >= 1<<20 }, "the last close of the unlinked file frees its space")
	checkOthersUnaffected(t, src, mnt)
	assert.Empty(t, wb.Files(), "the unlinked file's data was dropped")
}
