//go:build linux

package writeback

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the FS under a real mount, in whichever libfuse build
// the test binary was made for.

func TestMountCloseReturnsWriteBackError(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	srv := sdktest.Mount(t, e.wb, nil)
	p := filepath.Join(srv.Dir(), "f")

	f, err := os.Create(p)
	require.NoError(t, err)
	_, err = f.WriteString("must not vanish")
	require.NoError(t, err)
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "f", Count: 1})
	err = f.Close()
	require.ErrorIs(t, err, syscall.EIO, "close(2) reports the failed write-back")

	// The data stayed buffered: the release that follows close(2), or the
	// next close, writes it back.
	g, err := os.Open(p)
	require.NoError(t, err)
	require.NoError(t, g.Close())
	assert.Equal(t, "must not vanish", e.backend("f"))
	// The failure was returned by close(2) and repaired since: the drain
	// at unmount has nothing to report.
	assert.NoError(t, srv.Sync(context.Background()))
}

func TestMountReadYourWritesAcrossFds(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	srv := sdktest.Mount(t, e.wb, nil)
	p := filepath.Join(srv.Dir(), "f")

	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = w.WriteAt([]byte("buffered bytes"), 0)
	require.NoError(t, err)
	assert.Equal(t, "", e.backend("f"), "still in the write-back buffer")

	r, err := os.Open(p)
	require.NoError(t, err)
	b := make([]byte, 64)
	n, err := r.ReadAt(b, 0)
	require.ErrorContains(t, err, "EOF")
	assert.Equal(t, "buffered bytes", string(b[:n]))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.EqualValues(t, 14, fi.Size())
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())
	assert.Equal(t, "buffered bytes", e.backend("f"))
}

func TestMountDirectIOOrdering(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	srv := sdktest.Mount(t, e.wb, nil)
	p := filepath.Join(srv.Dir(), "f")

	w, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer w.Close()
	_, err = w.WriteAt([]byte(strings.Repeat("b", 4096)), 0)
	require.NoError(t, err)

	d, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	require.NoError(t, err)
	defer d.Close()
	// The SDK mounts O_DIRECT opens direct_io, so an unaligned buffer is
	// fine here.
	b := make([]byte, 4096)
	n, err := d.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("b", 4096), string(b[:n]), "a direct read sees the buffered write")
	assert.Equal(t, strings.Repeat("b", 4096), e.backend("f"), "written back first")

	_, err = d.WriteAt([]byte("DIRECT"), 10)
	require.NoError(t, err)
	n, err = w.ReadAt(b[:20], 0)
	require.NoError(t, err)
	assert.Equal(t, "bbbbbbbbbbDIRECTbbbb", string(b[:n]), "a buffered fd sees the direct write")
}

func TestMountUnmountDrains(t *testing.T) {
	opts := quiet()
	e := newEnv(t, opts, faultfs.Config{})
	srv := sdktest.Mount(t, e.wb, nil)
	// Buffer data through the FS directly, on a handle the mount knows
	// nothing of: only the unmount's drain can write it back.
	f := e.create("late")
	write(t, f, 0, "written at unmount")
	require.NoError(t, os.WriteFile(filepath.Join(srv.Dir(), "early"), []byte("closed"), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, srv.Unmount(ctx))
	assert.Equal(t, "written at unmount", e.backend("late"))
	assert.Equal(t, "closed", e.backend("early"))
	assert.Zero(t, e.wb.Stats().DirtyBytes)
	require.NoError(t, f.Close())
}

// mountEnv mounts e's FS; the test unmounts it itself and checks the
// error, and the cleanup only makes sure the mount is gone.
func mountEnv(t *testing.T, e *env) *sdk.Server {
	t.Helper()
	srv, err := sdk.Mount(e.wb, t.TempDir(), nil)
	require.NoError(t, err, "mount")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sdktest.UnmountTimeout)
		defer cancel()
		_ = srv.Unmount(ctx)
	})
	return srv
}

func unmount(t *testing.T, srv *sdk.Server) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return srv.Unmount(ctx)
}

// Issue 14, item 2: an outage that the application heard of (fsync and
// close returned EIO) and that was repaired afterwards. Before the fix the
// second handle got an extra EIO from its first fsync although the data
// had reached the backend, and Unmount returned every failure again, each
// several times, so a run in which nothing was lost ended in an error.
func TestMountRepairedOutageIsReportedOnce(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	srv := mountEnv(t, e)
	p := filepath.Join(srv.Dir(), "f")

	fd1, err := os.Create(p)
	require.NoError(t, err)
	fd2, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = fd1.WriteString("survives the outage")
	require.NoError(t, err)

	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite}) // the backend is down
	require.ErrorIs(t, fd1.Sync(), syscall.EIO, "fsync reports the outage")
	fd3, err := os.OpenFile(p, os.O_RDWR, 0) // opened while it is failing
	require.NoError(t, err)
	g, err := os.Create(filepath.Join(srv.Dir(), "g"))
	require.NoError(t, err)
	_, err = g.WriteString("closed during the outage")
	require.NoError(t, err)
	require.ErrorIs(t, g.Close(), syscall.EIO, "close reports the outage")

	e.ff.Clear() // repaired
	require.NoError(t, fd1.Sync(), "written back now")
	assert.Equal(t, "survives the outage", e.backend("f"))
	assert.NoError(t, fd2.Sync(), "the data reached the backend: no error for a handle that had not asked")
	assert.NoError(t, fd3.Sync())
	for _, fd := range []*os.File{fd1, fd2, fd3} {
		require.NoError(t, fd.Close())
	}
	// g's data is written back by the release after its close(2), or by
	// the drain at unmount.
	require.NoError(t, unmount(t, srv), "every failure was delivered and repaired")
	assert.Equal(t, "closed during the outage", e.backend("g"))
	assert.Zero(t, e.wb.Stats().DirtyBytes)
}

// When the outage outlasts the mount, Unmount says plainly that data was
// lost, naming the file and the bytes, once.
func TestMountUnmountReportsLostDataOnce(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	e.closeChecked = true
	srv := mountEnv(t, e)

	require.NoError(t, os.WriteFile(filepath.Join(srv.Dir(), "fine"), []byte("ok"), 0o644))
	f, err := os.Create(filepath.Join(srv.Dir(), "doomed"))
	require.NoError(t, err)
	_, err = f.WriteString("12345")
	require.NoError(t, err)
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "doomed"})
	require.ErrorIs(t, f.Close(), syscall.EIO)

	err = unmount(t, srv)
	require.ErrorIs(t, err, ErrDataLost)
	require.ErrorIs(t, err, sdk.ErrDataLost)
	msg := err.Error()
	t.Logf("Unmount: %v", msg)
	assert.Contains(t, msg, `data lost: 5 bytes acknowledged to write(2) in 1 file never reached the backend`)
	assert.Contains(t, msg, `"doomed" 5 bytes`)
	assert.Equal(t, 1, strings.Count(msg, "data lost"), "reported once")
	assert.Equal(t, 1, strings.Count(msg, "injected failure"), "the cause once")
	assert.NotContains(t, msg, `"fine"`)
	assert.Equal(t, "ok", e.backend("fine"))

	err = e.wb.Close(context.Background())
	require.ErrorIs(t, err, ErrDataLost, "Close: the data is gone")
	assert.Contains(t, err.Error(), `"doomed" 5 bytes`)
}
