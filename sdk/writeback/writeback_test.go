package writeback

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		field string
	}{
		{Options{WriteThrough: true, Policy: func(string, int) bool { return true }}, "Policy"},
		{Options{ChunkSize: -1}, "ChunkSize"},
		{Options{MaxDirty: 100, ChunkSize: 1000}, "MaxDirty"},
		{Options{MaxDirty: 1 << 20, MaxDirtyPerFile: 2 << 20, ChunkSize: 4096}, "MaxDirtyPerFile"},
		{Options{MaxAge: -time.Second}, "MaxAge"},
		{Options{Workers: -2}, "Workers"},
		{Options{Workers: 2, InFlightPerFile: 3}, "InFlightPerFile"},
		{Options{InFlightPerFile: -1}, "InFlightPerFile"},
	} {
		_, err := New(newEnv(t, quiet(), faultfs.Config{}).be, tc.opts)
		var oe *OptionError
		require.ErrorAs(t, err, &oe, "%+v", tc.opts)
		assert.Equal(t, tc.field, oe.Field)
		assert.Contains(t, err.Error(), "Options."+tc.field)
	}
	_, err := New(nil, Options{})
	assert.ErrorContains(t, err, "backend")

	o, err := Options{}.resolve()
	require.NoError(t, err)
	assert.Equal(t, DefaultChunkSize, o.ChunkSize)
	assert.EqualValues(t, DefaultMaxDirty, o.MaxDirty)
	assert.EqualValues(t, DefaultMaxDirtyPerFile, o.MaxDirtyPerFile)
	assert.Equal(t, DefaultRetries, o.Retries)
	assert.Equal(t, DefaultInFlightPerFile, o.InFlightPerFile)
	o, err = Options{Workers: 1}.resolve()
	require.NoError(t, err)
	assert.Equal(t, 1, o.InFlightPerFile, "at most Workers")
	o, err = Options{Retries: -1}.resolve()
	require.NoError(t, err)
	assert.Zero(t, o.Retries)
}

func TestReadYourWritesAcrossHandles(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	a := e.create("f")
	b := e.open("f", os.O_RDONLY)
	write(t, a, 0, "hello world")
	write(t, a, 6, "WORLD, again")
	write(t, a, 30, "tail")
	want := "hello WORLD, again" + strings.Repeat("\x00", 12) + "tail"
	assert.Equal(t, want, readAll(t, b), "another handle sees buffered data")
	assert.Equal(t, "", e.backend("f"), "nothing written back yet")
	assert.Equal(t, 0, e.ff.Calls(faultfs.OpWrite))

	// A third open, after the data was buffered, joins the same node.
	c := e.open("f", os.O_RDONLY)
	assert.Equal(t, want, readAll(t, c))

	require.NoError(t, a.Flush(ctx))
	assert.Equal(t, want, e.backend("f"))
	assert.Equal(t, 2, e.ff.Calls(faultfs.OpWrite), "two extents, each one chunk")
	assert.Equal(t, want, readAll(t, b))
	for _, f := range []*handle{a, b, c} {
		require.NoError(t, f.Close())
	}
}

func TestReadMergesOverBackend(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "0123456789")
	require.NoError(t, f.Flush(ctx))
	write(t, f, 3, "ab")
	write(t, f, 8, "XYZW")
	assert.Equal(t, "012ab567XYZW", readAll(t, f))
	assert.Equal(t, "0123456789", e.backend("f"))
	require.NoError(t, f.Close())
	assert.Equal(t, "012ab567XYZW", e.backend("f"), "the last close writes back")
}

func TestStatOwnsSizeAndMtime(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "abc")
	require.NoError(t, f.Flush(ctx))
	before, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)

	time.Sleep(2 * time.Millisecond) // so the buffered write's mtime differs
	write(t, f, 100, "x")
	st, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)
	assert.EqualValues(t, 101, st.Size, "size includes the buffered extent")
	assert.True(t, st.Mtime.After(before.Mtime), "mtime is the buffered write's")
	assert.False(t, st.Ctime.Before(st.Mtime))
	fst, err := f.Stat(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 101, fst.Size)
	assert.Equal(t, st.Mtime, fst.Mtime)
	ents, err := e.wb.ReadDir(ctx, ".")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	if ents[0].Attr != nil {
		assert.EqualValues(t, 101, ents[0].Attr.Size)
	}
	back, err := e.be.Stat(ctx, "f")
	require.NoError(t, err)
	assert.EqualValues(t, 3, back.Size, "the backend still has the old size")

	require.NoError(t, f.Flush(ctx))
	after, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)
	assert.EqualValues(t, 101, after.Size)
	assert.True(t, after.Mtime.Equal(st.Mtime), "write-back set the backend's mtime to the buffered write's: %v vs %v", after.Mtime, st.Mtime)
	back, err = e.be.Stat(ctx, "f")
	require.NoError(t, err)
	assert.True(t, back.Mtime.Equal(st.Mtime))

	require.NoError(t, f.Close())
	final, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)
	assert.False(t, final.Mtime.Before(st.Mtime), "mtime never goes back")
}

func TestTruncateOrderedWithInFlightWriteBack(t *testing.T) {
	// Every backend call takes 30 ms, so the first chunk is really in
	// flight when the truncate arrives.
	opts := quiet()
	opts.ChunkSize = 4096
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	e.ff.SetLatency(30 * time.Millisecond)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB, 16 chunks
	_, err := f.WriteAt(ctx, data, 0)
	require.NoError(t, err)

	flushed := make(chan error, 1)
	go func() { flushed <- f.Flush(ctx) }()
	eventually(t, func() bool { return e.wb.Stats().InFlightWriteBacks > 0 }, "write-back starts")
	require.NoError(t, f.Truncate(ctx, 100))
	st, err := f.Stat(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 100, st.Size)
	write(t, f, 200, "Z")
	require.NoError(t, <-flushed)
	require.NoError(t, f.Flush(ctx))
	e.ff.SetLatency(0)

	want := string(data[:100]) + strings.Repeat("\x00", 100) + "Z"
	assert.Equal(t, want, e.backend("f"), "no byte past the truncate came back")
	assert.Equal(t, want, readAll(t, f))
	require.NoError(t, f.Close())
}

func TestTruncateWhileDirty(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "0123456789")
	require.NoError(t, f.Flush(ctx))
	write(t, f, 5, "ABCDEFGHIJ")
	require.NoError(t, e.wb.Truncate(ctx, "f", 8)) // by name, as truncate(2)
	assert.Equal(t, "01234ABC", readAll(t, f))
	require.NoError(t, f.Truncate(ctx, 12))
	assert.Equal(t, "01234ABC\x00\x00\x00\x00", readAll(t, f))
	st, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)
	assert.EqualValues(t, 12, st.Size)
	require.NoError(t, f.Close())
	assert.Equal(t, "01234ABC\x00\x00\x00\x00", e.backend("f"))
	assert.ErrorIs(t, e.wb.Truncate(ctx, "f", -1), syscall.EINVAL)
}

func TestOpenTruncOrderedWithBuffer(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	a := e.create("f")
	write(t, a, 0, "old data")
	b := e.open("f", os.O_WRONLY|os.O_TRUNC)
	assert.Equal(t, "", readAll(t, a))
	write(t, b, 0, "new")
	require.NoError(t, b.Close())
	require.NoError(t, a.Close())
	assert.Equal(t, "new", e.backend("f"))
}

func TestFlushReturnsErrorOnceAndKeepsData(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	g := e.open("f", os.O_RDONLY)
	write(t, f, 0, "precious")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 1})

	err := f.Flush(ctx)
	require.ErrorIs(t, err, faultfs.ErrInjected)
	var wbe *WriteBackError
	require.ErrorAs(t, err, &wbe)
	assert.Equal(t, "f", wbe.Name)
	assert.Equal(t, 8, wbe.Len)
	assert.Equal(t, syscall.EIO, sdk.Errno(err))
	assert.Equal(t, "precious", readAll(t, f), "the data is still buffered")
	assert.Equal(t, "", e.backend("f"))

	// Repaired before g asked: g has nothing to hear of (it would have,
	// had it asked while the data was failing).
	require.NoError(t, f.Flush(ctx), "retried and succeeded")
	assert.Equal(t, "precious", e.backend("f"))
	assert.NoError(t, g.Sync(ctx, false))

	s := e.wb.Stats()
	assert.EqualValues(t, 1, s.WriteBackErrors)
	assert.ErrorIs(t, s.LastError, faultfs.ErrInjected)
	assert.Equal(t, "f", s.LastErrorName)
	// Delivered and repaired: SyncFS has nothing to report.
	assert.NoError(t, e.wb.SyncFS(ctx))
	require.NoError(t, f.Close())
	require.NoError(t, g.Close())
}

// A chunk that failed stays in flight while OnError runs, which happens
// with the node's lock dropped: a flush arriving meanwhile must not send the
// same range again. Before 23f5e63 the range was already back in the
// buffer, so a second worker sent it and the range was then marked failed
// after it had reached the backend.
func TestFailedChunkIsNotResentWhileOnErrorRuns(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	opts := quiet()
	opts.Retries = -1
	opts.OnError = func(string, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	g := e.open("f", os.O_WRONLY)
	write(t, f, 0, "abc")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 1})

	ferr, gerr := make(chan error, 1), make(chan error, 1)
	go func() { ferr <- f.Flush(ctx) }()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the write-back never failed")
	}
	go func() { gerr <- g.Flush(ctx) }()
	n := f.n
	eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.flushers == 2
	}, "the second flush is waiting")
	// A resend would take a worker well under this; the fixed code has
	// nothing to send however long it waits.
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, "", e.backend("f"), "nothing is sent while the failure is being reported")
	close(release)

	require.ErrorIs(t, <-ferr, faultfs.ErrInjected)
	require.ErrorIs(t, <-gerr, faultfs.ErrInjected, "the other handle hears of the failure too")
	assert.EqualValues(t, 1, calls.Load(), "one failure, reported once")
	assert.EqualValues(t, 1, e.wb.Stats().WriteBackErrors)
	require.NoError(t, f.Flush(ctx), "retried and succeeded")
	assert.Equal(t, "abc", e.backend("f"))
	require.NoError(t, g.Close())
	require.NoError(t, f.Close())
	assert.NoError(t, e.wb.SyncFS(ctx), "delivered and repaired")
}

func TestStickyErrorReturnedByNextWrite(t *testing.T) {
	opts := quiet()
	opts.MaxAge = 10 * time.Millisecond
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 1, Err: syscall.ENOSPC})
	write(t, f, 0, "abc")
	eventually(t, func() bool { return e.wb.Stats().WriteBackErrors == 1 }, "the age flusher tries and fails")

	_, err := f.WriteAt(ctx, []byte("def"), 3)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, syscall.ENOSPC, sdk.Errno(err), "a permanent backend errno is passed on")
	write(t, f, 3, "def")
	require.NoError(t, f.Flush(ctx))
	assert.Equal(t, "abcdef", e.backend("f"))
	require.NoError(t, f.Close())
	assert.NoError(t, e.wb.SyncFS(ctx), "delivered and repaired")
}

func TestTemporaryErrorsAreRetried(t *testing.T) {
	opts := quiet()
	opts.Retries = 3
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")

	// Two temporary failures: retried, nobody sees an error.
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 2, Err: faultfs.Temporary(syscall.ETIMEDOUT)})
	write(t, f, 0, "one")
	require.NoError(t, f.Flush(ctx))
	assert.Equal(t, "one", e.backend("f"))
	assert.EqualValues(t, 2, e.wb.Stats().Retries)

	// Four: one try and three retries fail, then the error is sticky, as
	// EIO rather than ETIMEDOUT.
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 4, Err: faultfs.Temporary(syscall.ETIMEDOUT)})
	write(t, f, 3, "two")
	err := f.Flush(ctx)
	require.ErrorIs(t, err, syscall.ETIMEDOUT)
	assert.Equal(t, syscall.EIO, sdk.Errno(err))
	assert.EqualValues(t, 5, e.wb.Stats().Retries)
	assert.Zero(t, e.ff.Pending())
	assert.Equal(t, "one", e.backend("f"))
	require.NoError(t, f.Flush(ctx))
	assert.Equal(t, "onetwo", e.backend("f"))

	// errors.Is(err, ErrTemporary) counts too.
	assert.True(t, IsTemporary(fmt.Errorf("x: %w", ErrTemporary)))
	assert.False(t, IsTemporary(syscall.EIO))
	require.NoError(t, f.Close())
	assert.NoError(t, e.wb.SyncFS(ctx), "delivered and repaired")
}

func TestNoInjectedFailureIsDropped(t *testing.T) {
	opts := quiet()
	opts.Retries = -1
	opts.ChunkSize = 1024
	e := newEnv(t, opts, faultfs.Config{})
	const failures = 12
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Skip: 3, Count: failures})

	var mu sync.Mutex
	reported := 0
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			name := fmt.Sprintf("f%d", g)
			sf, err := e.wb.Open(ctx, name, os.O_RDWR|os.O_CREATE, 0o644)
			if !assert.NoError(t, err) {
				return
			}
			f := sf.(*handle)
			for i := range 30 {
				rec := []byte(fmt.Sprintf("%s-%02d|", name, i))
				for {
					_, err := f.WriteAt(ctx, rec, int64(i*len(rec)))
					if err == nil {
						break
					}
					mu.Lock()
					reported++
					mu.Unlock()
				}
				if err := f.Flush(ctx); err != nil {
					mu.Lock()
					reported++
					mu.Unlock()
				}
			}
			for f.Flush(ctx) != nil {
				mu.Lock()
				reported++
				mu.Unlock()
			}
			assert.NoError(t, f.Close())
		})
	}
	wg.Wait()
	assert.Zero(t, e.ff.Pending(), "every injected failure happened")
	assert.Equal(t, failures, reported, "every failure reached the application exactly once")
	assert.EqualValues(t, failures, e.wb.Stats().WriteBackErrors)
	assert.NoError(t, e.wb.SyncFS(ctx), "every failure was delivered and repaired: none is repeated")
	for g := range 4 {
		name := fmt.Sprintf("f%d", g)
		var want strings.Builder
		for i := range 30 {
			fmt.Fprintf(&want, "%s-%02d|", name, i)
		}
		assert.Equal(t, want.String(), e.backend(name), "all data arrived in the end")
	}
}

func TestDirectIOOrdering(t *testing.T) {
	if oDirect == 0 {
		t.Fatal("this platform has no O_DIRECT; the test is Linux-only by design")
	}
	e := newEnv(t, quiet(), faultfs.Config{})
	buf := e.create("f")
	dir := e.open("f", os.O_RDWR|oDirect)
	write(t, buf, 0, "AAAAAAAA")
	assert.Equal(t, "AAAAAAAA", readAll(t, dir), "a direct read sees buffered writes")
	assert.Equal(t, "AAAAAAAA", e.backend("f"), "because they were written back first")

	write(t, buf, 2, "bb") // buffered again, overlapping the next direct write
	write(t, dir, 1, "DDDD")
	assert.Equal(t, "ADDDDAAA", e.backend("f"), "the direct write landed after the older buffered one")
	assert.Equal(t, "ADDDDAAA", readAll(t, buf), "a buffered read sees the direct write")
	write(t, buf, 7, "z")
	assert.Equal(t, "ADDDDAAz", readAll(t, dir))
	require.NoError(t, dir.Close())
	require.NoError(t, buf.Close())
	assert.Equal(t, "ADDDDAAz", e.backend("f"))
}

func TestDirectReadPastBufferedHole(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	buf := e.create("f")
	dir := e.open("f", os.O_RDONLY|oDirect)
	write(t, buf, 10, "x")
	// [0,5) overlaps nothing buffered, but the buffered byte makes it part
	// of the file: the direct read must not see an early end of file.
	p := make([]byte, 5)
	n, err := dir.ReadAt(ctx, p, 0)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	require.NoError(t, dir.Close())
	require.NoError(t, buf.Close())
}

func TestConcurrentAppenders(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 512
	opts.MaxDirty = 4096
	opts.MaxDirtyPerFile = 2048
	e := newEnv(t, opts, faultfs.Config{})
	var appendMu sync.Mutex // the SDK's per-node append lock
	appendAt := func(f sdk.File, rec []byte) error {
		appendMu.Lock()
		defer appendMu.Unlock()
		st, err := f.(sdk.FileStater).Stat(ctx)
		if err != nil {
			return err
		}
		_, err = f.WriteAt(ctx, rec, st.Size)
		return err
	}
	const writers, records = 4, 50
	// Created up front: concurrent O_CREAT of one name races inside
	// afero's MemMapFs (two creates can both succeed, one orphaned).
	require.NoError(t, e.create("log").Close())
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
			if g == 3 {
				flags |= oDirect // one appender writes through
			}
			f, err := e.wb.Open(ctx, "log", flags, 0o644)
			if !assert.NoError(t, err) {
				return
			}
			for i := range records {
				assert.NoError(t, appendAt(f, []byte(fmt.Sprintf("<%d:%03d>\n", g, i))))
			}
			assert.NoError(t, f.Close())
		})
	}
	wg.Wait()
	got := e.backend("log")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	require.Len(t, lines, writers*records, "no append overwrote another")
	next := make([]int, writers)
	for _, l := range lines {
		var g, i int
		_, err := fmt.Sscanf(l, "<%d:%03d>", &g, &i)
		require.NoError(t, err, "record %q intact", l)
		assert.Equal(t, next[g], i, "writer %d's records in order", g)
		next[g]++
	}
}

func TestSyncFSDrainsEverything(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	var files []*handle
	for i := range 10 {
		f := e.create(fmt.Sprintf("f%d", i))
		write(t, f, int64(i), strings.Repeat("x", 100*i+1))
		files = append(files, f)
	}
	assert.Equal(t, 10, e.wb.Stats().DirtyFiles)
	require.NoError(t, e.wb.SyncFS(ctx))
	for i := range 10 {
		assert.Equal(t, strings.Repeat("\x00", i)+strings.Repeat("x", 100*i+1), e.backend(fmt.Sprintf("f%d", i)))
	}
	s := e.wb.Stats()
	assert.Zero(t, s.DirtyBytes)
	assert.Zero(t, s.DirtyFiles)
	assert.Zero(t, s.OldestDirtyAge)
	for _, f := range files {
		require.NoError(t, f.Close())
	}
	assert.Empty(t, e.wb.liveNodes(), "closed clean nodes retire")
}

func TestDirtyLimitsHoldUnderParallelWriters(t *testing.T) {
	opts := Options{
		MaxAge:          time.Hour,
		ChunkSize:       16 << 10,
		MaxDirty:        128 << 10,
		MaxDirtyPerFile: 64 << 10,
	}
	// A slow backend, so that writers really outrun it.
	e := newEnv(t, opts, faultfs.Config{Bandwidth: 16 << 20, Burst: 16 << 10})
	done := make(chan struct{})
	var peak int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			default:
			}
			peak = max(peak, e.wb.Stats().DirtyBytes)
			runtime.Gosched()
		}
	}()
	const size = 512 << 10
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			f, err := e.wb.Open(ctx, fmt.Sprintf("f%d", g), os.O_WRONLY|os.O_CREATE, 0o644)
			if !assert.NoError(t, err) {
				return
			}
			rec := bytes.Repeat([]byte{byte('a' + g)}, 4096)
			for off := 0; off < size; off += len(rec) {
				if _, err := f.WriteAt(ctx, rec, int64(off)); !assert.NoError(t, err) {
					return
				}
			}
			assert.NoError(t, f.Close())
		})
	}
	wg.Wait()
	close(done)
	<-sampled
	assert.LessOrEqual(t, peak, opts.MaxDirty, "dirty bytes never exceed MaxDirty")
	assert.Positive(t, peak)
	assert.Positive(t, e.wb.Stats().ThrottleWaits, "writers were throttled")
	for g := range 4 {
		assert.Equal(t, strings.Repeat(string(rune('a'+g)), size), e.backend(fmt.Sprintf("f%d", g)))
	}
}

func TestRenameDirtyFile(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	require.NoError(t, e.wb.Mkdir(ctx, "d", 0o755))
	f := e.create("d/a")
	write(t, f, 0, "data of a")
	require.NoError(t, e.wb.Rename(ctx, "d/a", "d/b", 0))
	st, err := e.wb.Stat(ctx, "d/b")
	require.NoError(t, err)
	assert.EqualValues(t, 9, st.Size, "the new name shows the buffered size")

	// Renaming the directory moves the open file along.
	require.NoError(t, e.wb.Rename(ctx, "d", "e", 0))
	g := e.open("e/b", os.O_RDONLY)
	assert.Equal(t, "data of a", readAll(t, g), "a new open of the new name joins the buffer")
	require.NoError(t, f.Flush(ctx)) // close(2)
	require.NoError(t, f.Close())
	assert.Equal(t, "data of a", e.backend("e/b"))
	assert.Equal(t, "<missing>", e.backend("d/a"))
	assert.Equal(t, "<missing>", e.backend("d/b"))
	require.NoError(t, g.Close())
}

func TestRenameOverAndExchange(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	a := e.create("a")
	b := e.create("b")
	write(t, a, 0, "AAA")
	write(t, b, 0, "BBB")
	// aferofs over MemMapFs cannot exchange; a plain rename over b must
	// leave b's buffer with the replaced (now nameless) file.
	require.NoError(t, e.wb.Rename(ctx, "a", "b", 0))
	require.NoError(t, b.Close())
	require.NoError(t, a.Close())
	assert.Equal(t, "AAA", e.backend("b"))
	assert.Equal(t, "<missing>", e.backend("a"))
	st, err := e.wb.Stat(ctx, "b")
	require.NoError(t, err)
	assert.EqualValues(t, 3, st.Size)
}

func TestUnlinkDirtyFile(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "ghost")
	require.NoError(t, e.wb.Unlink(ctx, "f"))
	assert.Equal(t, "ghost", readAll(t, f), "the open file keeps its data")
	st, err := f.Stat(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 5, st.Size)
	require.NoError(t, f.Flush(ctx))
	require.NoError(t, f.Close())
	assert.Equal(t, "<missing>", e.backend("f"), "write-back did not recreate the name")

	// A new file under the same name is a new node.
	g := e.create("f")
	assert.Equal(t, "", readAll(t, g))
	require.NoError(t, g.Close())
}

func TestAgeBasedWriteBack(t *testing.T) {
	opts := quiet()
	opts.MaxAge = 20 * time.Millisecond
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("log")
	write(t, f, 0, "line 1\n")
	eventually(t, func() bool { return e.backend("log") == "line 1\n" }, "the age flusher writes an open file back")
	assert.Zero(t, e.wb.Stats().DirtyBytes)
	require.NoError(t, f.Close())
}

func TestWriteOnlyHandleReads(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.open("f", os.O_WRONLY|os.O_CREATE)
	write(t, f, 0, "abc")
	require.NoError(t, f.Flush(ctx))
	write(t, f, 1, "X")
	assert.Equal(t, "aXc", readAll(t, f), "the backend was opened read-write")
	require.NoError(t, f.Close())

	r := e.open("f", os.O_RDONLY)
	_, err := r.WriteAt(ctx, []byte("x"), 0)
	assert.ErrorIs(t, err, syscall.EBADF)
	require.NoError(t, r.Close())
}

func TestWriteThroughAndPolicy(t *testing.T) {
	e := newEnv(t, Options{WriteThrough: true}, faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "now")
	assert.Equal(t, "now", e.backend("f"))
	require.NoError(t, f.Close())

	opts := quiet()
	opts.Policy = func(name string, flags int) bool { return strings.HasSuffix(name, ".log") }
	p := newEnv(t, opts, faultfs.Config{})
	l := p.create("a.log")
	d := p.create("a.db")
	write(t, l, 0, "buffered")
	write(t, d, 0, "through")
	assert.Equal(t, "", p.backend("a.log"))
	assert.Equal(t, "through", p.backend("a.db"))
	require.NoError(t, l.Close())
	require.NoError(t, d.Close())
	assert.Equal(t, "buffered", p.backend("a.log"))
}

func TestSyncCallsBackendSync(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "x")
	require.NoError(t, f.Sync(ctx, false))
	assert.Equal(t, "x", e.backend("f"))
	assert.Equal(t, 1, e.ff.Calls(faultfs.OpSync))
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpSync, Count: 1})
	assert.ErrorIs(t, f.Sync(ctx, true), faultfs.ErrInjected)
	require.NoError(t, f.Close())
}

func TestFailedLastCloseKeepsDataForRetry(t *testing.T) {
	opts := quiet()
	opts.MaxAge = 10 * time.Millisecond
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "keep me")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 1})
	assert.ErrorIs(t, f.Close(), faultfs.ErrInjected, "release reports what it could")
	assert.EqualValues(t, 1, e.wb.Stats().WriteBackErrors)
	eventually(t, func() bool { return e.backend("f") == "keep me" }, "the age flusher retries")
	eventually(t, func() bool { return len(e.wb.liveNodes()) == 0 }, "and the node retires")
	assert.NoError(t, e.wb.SyncFS(ctx), "repaired: nothing was lost")
}

func TestCloseReportsLostDataAndStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	e := newEnv(t, quiet(), faultfs.Config{})
	e.closeChecked = true
	f := e.create("f")
	write(t, f, 0, "doomed")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite})
	err := e.wb.Close(ctx)
	assert.ErrorIs(t, err, ErrDataLost)
	assert.ErrorIs(t, err, faultfs.ErrInjected)
	assert.ErrorContains(t, err, `data lost: 6 bytes acknowledged to write(2) in 1 file never reached the backend: "f" 6 bytes`)
	var dle *DataLostError
	require.ErrorAs(t, err, &dle)
	assert.Equal(t, []LostFile{{Name: "f", Bytes: 6, Err: dle.Files[0].Err}}, dle.Files)
	assert.True(t, dle.Final)
	assert.Equal(t, err, e.wb.Close(ctx), "Close is idempotent")
	// Not require.Eventually: it runs the condition on goroutines of its own.
	for i := 0; i < 10000 && runtime.NumGoroutine() > base; i++ {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), base, "no goroutine outlives Close")

	_, err = f.WriteAt(ctx, []byte("x"), 0)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.wb.Open(ctx, "g", os.O_RDWR|os.O_CREATE, 0o644)
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, syscall.EBADF, sdk.Errno(ErrClosed))
}

func TestSetTimesWinsOverWriteBack(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "x")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, e.wb.SetTimes(ctx, "f", time.Time{}, old))
	st, err := e.wb.Stat(ctx, "f")
	require.NoError(t, err)
	assert.True(t, st.Mtime.Equal(old), "got %v", st.Mtime)
	assert.Equal(t, "x", e.backend("f"))
	require.NoError(t, f.Close())
}

func TestCapabilitiesPassThrough(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	// MemMapFs has no symlinks: aferofs says so, and so does FS.
	err := e.wb.Symlink(ctx, "t", "l")
	assert.Error(t, err)
	f := e.create("f")
	write(t, f, 0, "linked")
	err = e.wb.Link(ctx, "f", "g")
	if _, ok := any(e.be).(sdk.Linker); !ok {
		assert.ErrorIs(t, err, sdk.ErrNotSupported)
	}
	assert.NoError(t, e.wb.SyncDir(ctx, "."))
	require.NoError(t, f.Close())
}

func TestOnErrorAndFiles(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	opts := quiet()
	opts.OnError = func(name string, err error) {
		mu.Lock()
		heard = append(heard, name+": "+err.Error())
		mu.Unlock()
	}
	e := newEnv(t, opts, faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "12345")
	assert.Equal(t, []FileStats{{Name: "f", DirtyBytes: 5, DirtySince: e.wb.Files()[0].DirtySince}}, e.wb.Files())
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Count: 1})
	require.Error(t, f.Flush(ctx))
	mu.Lock()
	got := append([]string(nil), heard...)
	mu.Unlock()
	require.Len(t, got, 1, "OnError is called before the failure is returned")
	assert.Contains(t, got[0], `f: writeback: writing 5 bytes at offset 0 of "f"`)
	files := e.wb.Files()
	require.Len(t, files, 1)
	assert.ErrorIs(t, files[0].Err, faultfs.ErrInjected, "the failing file is listed with its error")
	require.NoError(t, f.Close())
	assert.Empty(t, e.wb.Files())
	assert.NoError(t, e.wb.SyncFS(ctx), "delivered and repaired")
}

// Once a write-back failed for lack of space, the file's writes are no
// longer acknowledged before the backend has them; a truncate below the
// failed data drops it and ends that.
func TestNoSpaceStopsBufferingUntilTruncated(t *testing.T) {
	e := newEnv(t, quiet(), faultfs.Config{})
	f := e.create("f")
	write(t, f, 0, "abcdef")
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Err: syscall.ENOSPC})
	require.ErrorIs(t, f.Flush(ctx), syscall.ENOSPC)
	for range 2 {
		_, err := f.WriteAt(ctx, []byte("more"), 6)
		require.ErrorIs(t, err, syscall.ENOSPC, "refused, not buffered")
	}
	require.Len(t, e.wb.Files(), 1)

	require.NoError(t, f.Truncate(ctx, 0))
	e.ff.Clear()
	assert.Empty(t, e.wb.Files(), "the failed data went with the truncate")
	write(t, f, 0, "new")
	assert.Equal(t, "", e.backend("f"), "buffered again")
	require.NoError(t, f.Close())
	assert.Equal(t, "new", e.backend("f"))
	assert.NoError(t, e.wb.SyncFS(ctx), "delivered, then dropped by the truncate: nothing is lost")
}

// A file whose write-back keeps failing holds its buffered data; before
// the fix that counted against MaxDirty, so once it held the whole budget
// a writer of any other file blocked for good.
func TestFailingFileDoesNotBlockOthers(t *testing.T) {
	opts := quiet()
	opts.ChunkSize = 64 << 10
	opts.MaxDirty = 64 << 10
	opts.Retries = -1
	e := newEnv(t, opts, faultfs.Config{})
	e.closeChecked = true
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "a"})
	a := e.create("a")
	write(t, a, 0, strings.Repeat("a", 64<<10))
	require.ErrorIs(t, a.Flush(ctx), faultfs.ErrInjected)
	require.EqualValues(t, 64<<10, e.wb.Stats().DirtyBytes, "a holds the whole budget")

	b := e.create("b")
	done := make(chan error, 1)
	go func() {
		_, err := b.WriteAt(ctx, []byte(strings.Repeat("b", 4096)), 0)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("a write to b waits for a's failing write-back")
	}
	require.NoError(t, b.Close())
	assert.Equal(t, strings.Repeat("b", 4096), e.backend("b"))

	require.NoError(t, e.wb.Unlink(ctx, "a"))
	require.ErrorIs(t, a.Flush(ctx), faultfs.ErrInjected, "a's handle still hears of it")
	require.NoError(t, a.Close(), "the last close drops the unlinked file's data")
	require.NoError(t, e.wb.Close(ctx), "a was unlinked: nothing is lost")
}

// A chunk waiting to be retried after a temporary error does not hold a
// worker: before the fix the worker slept through the backoff, so with
// every worker on a failing file no other file was written back (a
// close(2) of an unrelated file, or the drain at unmount, waited for it).
func TestRetryBackoffDoesNotHoldWorkers(t *testing.T) {
	opts := quiet()
	opts.Workers = 1
	opts.Retries = 1
	opts.RetryBackoff = time.Hour
	e := newEnv(t, opts, faultfs.Config{})
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "a", Err: faultfs.Temporary(syscall.ETIMEDOUT)})
	a := e.create("a")
	write(t, a, 0, "slow")
	aerr := make(chan error, 1)
	go func() { aerr <- a.Flush(ctx) }()
	eventually(t, func() bool { return e.wb.Stats().Retries == 1 }, "a's write-back failed once and waits to be retried")

	b := e.create("b")
	write(t, b, 0, "unrelated")
	done := make(chan error, 1)
	go func() { done <- b.Flush(ctx) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("b's write-back waits for a's retry")
	}
	assert.Equal(t, "unrelated", e.backend("b"))
	require.NoError(t, b.Close())
	require.NoError(t, e.wb.Unlink(ctx, "a"))
	require.NoError(t, a.Close(), "the last close drops the unlinked file's data")
	select {
	case <-aerr: // nil once the data is dropped; ErrClosed before the fix
	case <-time.After(30 * time.Second):
		t.Fatal("a's flush still waits after its data was dropped")
	}
}
