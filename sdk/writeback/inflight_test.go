package writeback

import (
	"bytes"
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedFS is a backend that records every write the layer makes and can
// hold them, so that a test sees which chunks are in flight together.
type gatedFS struct {
	sdk.FileSystem

	mu         sync.Mutex
	cond       *sync.Cond
	held       bool   // writes wait while set
	writes     []span // every write, in the order they started
	active     []span // writes under way
	maxActive  int
	overlapped bool // two overlapping writes were under way at once
}

type gatedFile struct {
	sdk.File
	g *gatedFS
}

func (g *gatedFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := g.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &gatedFile{File: f, g: g}, nil
}

func (f *gatedFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	g, s := f.g, span{off, off + int64(len(p))}
	g.mu.Lock()
	for _, a := range g.active {
		g.overlapped = g.overlapped || a.overlaps(s.off, s.end)
	}
	g.writes = append(g.writes, s)
	g.active = append(g.active, s)
	g.maxActive = max(g.maxActive, len(g.active))
	g.cond.Broadcast()
	for g.held {
		g.cond.Wait()
	}
	g.mu.Unlock()
	n, err := f.File.WriteAt(ctx, p, off)
	g.mu.Lock()
	g.active = slices.DeleteFunc(g.active, func(a span) bool { return a == s })
	g.cond.Broadcast()
	g.mu.Unlock()
	return n, err
}

func (g *gatedFS) hold(on bool) {
	g.mu.Lock()
	g.held = on
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitActive waits until n writes are under way.
func (g *gatedFS) waitActive(t *testing.T, n int) {
	t.Helper()
	eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.active) == n
	}, "writes under way")
}

func (g *gatedFS) snapshot() (writes, active []span, maxActive int, overlapped bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.writes), slices.Clone(g.active), g.maxActive, g.overlapped
}

// newGatedEnv is an FS over gatedFS over aferofs over MemMapFs.
func newGatedEnv(t *testing.T, opts Options) (*FS, *gatedFS, afero.Fs) {
	mem := afero.NewMemMapFs()
	g := &gatedFS{FileSystem: aferofs.New(mem)}
	g.cond = sync.NewCond(&g.mu)
	wb, err := New(g, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		g.hold(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, wb.Close(ctx))
	})
	return wb, g, mem
}

func gatedOpen(t *testing.T, wb *FS, name string, flags int) *handle {
	t.Helper()
	f, err := wb.Open(ctx, name, flags, 0o644)
	require.NoError(t, err)
	return f.(*handle)
}

func TestChunksOfOneFileInFlightTogether(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 4096
	opts.Workers = 4
	opts.InFlightPerFile = 2
	wb, g, mem := newGatedEnv(t, opts)
	f := gatedOpen(t, wb, "f", os.O_RDWR|os.O_CREATE)
	r := gatedOpen(t, wb, "f", os.O_RDONLY)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB, 4 chunks
	g.hold(true)
	for off := 0; off < len(data); off += 4096 {
		write(t, f, int64(off), string(data[off:off+4096]))
	}
	// Full chunks go in the background, two at a time.
	g.waitActive(t, 2)
	_, active, _, _ := g.snapshot()
	assert.ElementsMatch(t, []span{{0, 4096}, {4096, 8192}}, active, "the first two chunks, in offset order")
	assert.Equal(t, string(data), readAll(t, r), "chunks in flight stay readable")
	st, err := r.Stat(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, len(data), st.Size)

	g.hold(false)
	require.NoError(t, f.Flush(ctx))
	writes, _, maxActive, overlapped := g.snapshot()
	assert.Equal(t, 2, maxActive, "never more than InFlightPerFile")
	assert.False(t, overlapped)
	slices.SortFunc(writes, func(a, b span) int { return int(a.off - b.off) })
	assert.Equal(t, []span{{0, 4096}, {4096, 8192}, {8192, 12288}, {12288, 16384}}, writes, "one write per chunk")
	got, err := afero.ReadFile(mem, "/f")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	require.NoError(t, r.Close())
	require.NoError(t, f.Close())
}

func TestOverlappingChunkWaitsForTheOneInFlight(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 4096
	opts.InFlightPerFile = 2
	wb, g, mem := newGatedEnv(t, opts)
	f := gatedOpen(t, wb, "f", os.O_RDWR|os.O_CREATE)
	g.hold(true)
	write(t, f, 0, string(bytes.Repeat([]byte("a"), 4096)))
	g.waitActive(t, 1)
	write(t, f, 0, string(bytes.Repeat([]byte("b"), 4096)))

	flushed := make(chan error, 1)
	go func() { flushed <- f.Flush(ctx) }()
	n := f.n
	eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.flushers == 1
	}, "the flush waits")
	// The flush asked for the rest; once the queue is empty and only the
	// first chunk's worker is on the file, no second write over the same
	// bytes went out behind the first.
	eventually(t, func() bool {
		if wb.Stats().QueuedWriteBacks > 0 {
			return false
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.workers == 1
	}, "the workers settle")
	n.mu.Lock()
	assert.Len(t, n.flight, 1, "the overlapping chunk is not sent")
	n.mu.Unlock()

	g.hold(false)
	require.NoError(t, <-flushed)
	writes, _, _, overlapped := g.snapshot()
	assert.False(t, overlapped)
	assert.Equal(t, []span{{0, 4096}, {0, 4096}}, writes)
	got, err := afero.ReadFile(mem, "/f")
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte("b"), 4096), got, "the newer bytes landed last")
	require.NoError(t, f.Close())
}

func TestTruncateWaitsForEveryChunkInFlight(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 4096
	opts.InFlightPerFile = 2
	wb, g, mem := newGatedEnv(t, opts)
	f := gatedOpen(t, wb, "f", os.O_RDWR|os.O_CREATE)
	data := bytes.Repeat([]byte("0123456789abcdef"), 768) // 12 KiB, 3 chunks
	g.hold(true)
	_, err := f.WriteAt(ctx, data, 0)
	require.NoError(t, err)
	g.waitActive(t, 2)

	truncated := make(chan []span, 1)
	go func() {
		assert.NoError(t, f.Truncate(ctx, 100))
		_, active, _, _ := g.snapshot()
		truncated <- active
	}()
	eventually(t, func() bool {
		f.n.mu.Lock()
		defer f.n.mu.Unlock()
		return f.n.truncating
	}, "the truncate waits")
	g.hold(false)
	assert.Empty(t, <-truncated, "the truncate returned only after both chunks")
	require.NoError(t, f.Flush(ctx))
	got, err := afero.ReadFile(mem, "/f")
	require.NoError(t, err)
	assert.Equal(t, data[:100], got, "the third chunk never went out, the others were cut")
	require.NoError(t, f.Close())
}

func TestSequentialWritesGoBackInFullChunks(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 64 << 10
	wb, g, mem := newGatedEnv(t, opts)
	f := gatedOpen(t, wb, "f", os.O_WRONLY|os.O_CREATE)
	data := bytes.Repeat([]byte("fusekit!"), (1<<20+200)/8)
	// From an unaligned offset, 4 KiB at a time, as dd does.
	for off := 0; off < len(data); off += 4096 {
		end := min(off+4096, len(data))
		write(t, f, int64(100+off), string(data[off:end]))
	}
	require.NoError(t, f.Flush(ctx))
	writes, _, _, _ := g.snapshot()
	slices.SortFunc(writes, func(a, b span) int { return int(a.off - b.off) })
	want := []span{{100, 64 << 10}}
	for off := int64(64 << 10); off < 1<<20; off += 64 << 10 {
		want = append(want, span{off, off + 64<<10})
	}
	want = append(want, span{1 << 20, int64(100 + len(data))})
	assert.Equal(t, want, writes, "full chunks at multiples of ChunkSize; the rest at the flush")
	got, err := afero.ReadFile(mem, "/f")
	require.NoError(t, err)
	assert.Equal(t, append(make([]byte, 100), data...), got)
	require.NoError(t, f.Close())
}

func TestThrottledWritersOnOneFileComplete(t *testing.T) {
	// Several writers share one file's limit, with a backend slower than
	// they are and no age flush to rescue a stall.
	opts := Options{
		MaxAge:          time.Hour,
		ChunkSize:       16 << 10,
		MaxDirty:        64 << 10,
		MaxDirtyPerFile: 32 << 10,
	}
	e := newEnv(t, opts, faultfs.Config{Bandwidth: 8 << 20, Burst: 16 << 10})
	f := e.create("f")
	const per = 128 << 10
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rec := bytes.Repeat([]byte{byte('a' + g)}, 4096)
			for off := 0; off < per; off += len(rec) {
				if _, err := f.WriteAt(ctx, rec, int64(g*per+off)); !assert.NoError(t, err) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, f.Close())
	got := e.backend("f")
	require.Len(t, got, 4*per)
	for g := range 4 {
		assert.Equal(t, string(bytes.Repeat([]byte{byte('a' + g)}, per)), got[g*per:(g+1)*per], "writer %d", g)
	}
	assert.Positive(t, e.wb.Stats().ThrottleWaits)
}

func TestIdleBuffersGoBackToTheRuntime(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 64 << 10
	opts.MaxAge = 8 * time.Millisecond // ticks every 2 ms
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	_, err := f.WriteAt(ctx, make([]byte, 256<<10), 0)
	require.NoError(t, err)
	require.NoError(t, f.Flush(ctx))
	assert.Positive(t, e.wb.pages.idle()+e.wb.chunks.idle(), "written-back buffers wait in the pools")
	eventually(t, func() bool { return e.wb.pages.idle() == 0 && e.wb.chunks.idle() == 0 }, "unused buffers are dropped")
	require.NoError(t, f.Close())
}
