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
	// The drain at unmount reports the failure once more; take it now.
	assert.ErrorIs(t, srv.Sync(context.Background()), faultfs.ErrInjected)
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
