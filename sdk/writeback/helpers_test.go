package writeback

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// env is an FS over a fault-injecting in-memory backend:
// writeback → aferofs → faultfs → MemMapFs.
type env struct {
	t   testing.TB
	mem afero.Fs
	ff  *faultfs.Fs
	be  *aferofs.FS
	wb  *FS
	// closeChecked is set by tests that check Close's error themselves.
	closeChecked bool
}

// quiet are options under which nothing is written back unless asked:
// chunks and limits far above what the tests write, a long MaxAge.
func quiet() Options {
	return Options{MaxAge: time.Hour, ChunkSize: 64 << 20, MaxDirty: 256 << 20, RetryBackoff: time.Millisecond}
}

func newEnv(t testing.TB, opts Options, cfg faultfs.Config) *env {
	t.Helper()
	e := &env{t: t, mem: afero.NewMemMapFs()}
	e.ff = faultfs.New(e.mem, cfg)
	e.be = aferofs.New(e.ff)
	wb, err := New(e.be, opts)
	require.NoError(t, err)
	e.wb = wb
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := wb.Close(ctx)
		if !e.closeChecked {
			require.NoError(t, err, "Close")
		}
	})
	return e
}

var ctx = context.Background()

func (e *env) open(name string, flags int) *handle {
	e.t.Helper()
	f, err := e.wb.Open(ctx, name, flags, 0o644)
	require.NoError(e.t, err, "open %s", name)
	return f.(*handle)
}

func (e *env) create(name string) *handle {
	e.t.Helper()
	return e.open(name, os.O_RDWR|os.O_CREATE)
}

func write(t testing.TB, f sdk.File, off int64, s string) {
	t.Helper()
	n, err := f.WriteAt(ctx, []byte(s), off)
	require.NoError(t, err)
	require.Equal(t, len(s), n)
}

// readAll reads the whole file through f, as the SDK does: until EOF.
func readAll(t testing.TB, f sdk.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 7) // odd size: reads straddle extents
	for off := int64(0); ; {
		n, err := f.ReadAt(ctx, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return string(out)
		}
		require.NoError(t, err)
	}
}

// backend returns what the backend holds for name, bypassing every layer.
func (e *env) backend(name string) string {
	e.t.Helper()
	b, err := afero.ReadFile(e.mem, "/"+name)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	require.NoError(e.t, err)
	return string(b)
}

// eventually waits for cond, for conditions that depend on background
// goroutines. The bound is generous: it catches hangs, not slowness.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 30*time.Second, time.Millisecond, msg)
}

// idle reports how many free buffers the pool holds.
func (p *bufPool) idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
