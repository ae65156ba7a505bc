package faultfs

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPassThrough(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	require.NoError(t, f.MkdirAll("d", 0o755))
	w, err := f.OpenFile("d/x", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = w.WriteAt([]byte("hello"), 0)
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())

	fi, err := f.Stat("d/x")
	require.NoError(t, err)
	assert.EqualValues(t, 5, fi.Size())
	require.NoError(t, f.Rename("d/x", "d/y"))
	b, err := afero.ReadFile(f, "d/y")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	require.NoError(t, f.Remove("d/y"))

	assert.Equal(t, 1, f.Calls(OpWrite))
	assert.Equal(t, 1, f.Calls(OpSync))
	assert.Equal(t, 1, f.Calls(OpRename))
	assert.GreaterOrEqual(t, f.Calls(OpOpen), 2)
	assert.Equal(t, f.Calls(""), f.Calls(OpOpen)+f.Calls(OpWrite)+f.Calls(OpSync)+
		f.Calls(OpClose)+f.Calls(OpStat)+f.Calls(OpRename)+f.Calls(OpRead)+
		f.Calls(OpRemove)+f.Calls(OpMkdir)+f.Calls(OpSeek)+f.Calls(OpReaddir))
	f.ResetCalls()
	assert.Zero(t, f.Calls(""))
}

func TestInjectCountAndSkip(t *testing.T) {
	boom := errors.New("boom")
	f := New(afero.NewMemMapFs(), Config{})
	w, err := f.Create("a")
	require.NoError(t, err)
	defer w.Close()

	f.Inject(Rule{Op: OpWrite, Path: "a", Skip: 1, Count: 2, Err: boom})
	assert.Equal(t, 2, f.Pending())
	var errs []error
	for i := range 5 {
		_, err := w.WriteAt([]byte{'x'}, int64(i))
		errs = append(errs, err)
	}
	assert.NoError(t, errs[0], "skipped")
	assert.ErrorIs(t, errs[1], boom)
	assert.ErrorIs(t, errs[2], boom)
	assert.NoError(t, errs[3])
	assert.NoError(t, errs[4])
	assert.Zero(t, f.Pending())
	assert.Equal(t, 5, f.Calls(OpWrite), "failed calls are counted too")

	// A failed write leaves the base untouched.
	b, err := afero.ReadFile(f, "a")
	require.NoError(t, err)
	assert.Equal(t, "x\x00\x00xx", string(b))
}

func TestInjectGlobAndForever(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	require.NoError(t, f.MkdirAll("logs", 0o755))
	f.Inject(Rule{Op: OpOpen, Path: "logs/*.log"})

	for range 3 {
		_, err := f.Create("logs/a.log")
		assert.ErrorIs(t, err, ErrInjected)
		var pe *os.PathError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "logs/a.log", pe.Path)
	}
	g, err := f.Create("logs/a.txt")
	require.NoError(t, err)
	require.NoError(t, g.Close())
	// Names given with a leading slash match the same glob.
	_, err = f.Create("/logs/b.log")
	assert.ErrorIs(t, err, ErrInjected)

	f.Clear()
	g, err = f.Create("logs/a.log")
	require.NoError(t, err)
	require.NoError(t, g.Close())
}

func TestInjectRenameMatchesEitherName(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	require.NoError(t, afero.WriteFile(f, "a", nil, 0o644))
	f.Inject(Rule{Op: OpRename, Path: "b", Count: 1})
	assert.ErrorIs(t, f.Rename("a", "b"), ErrInjected)
	assert.NoError(t, f.Rename("a", "b"))
}

func TestInjectAnyOp(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	f.Inject(Rule{Count: 1})
	assert.ErrorIs(t, f.Mkdir("d", 0o755), ErrInjected)
	assert.NoError(t, f.Mkdir("d", 0o755))
}

func TestInjectRejectsMistakes(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	assert.PanicsWithValue(t, `faultfs: unknown Rule.Op "wirte"`, func() { f.Inject(Rule{Op: "wirte"}) })
	assert.Panics(t, func() { f.Inject(Rule{Path: "["}) })
}

func TestTemporary(t *testing.T) {
	base := errors.New("connection reset")
	err := Temporary(base)
	assert.ErrorIs(t, err, base)
	var tmp interface{ Temporary() bool }
	require.ErrorAs(t, err, &tmp)
	assert.True(t, tmp.Temporary())
	assert.ErrorIs(t, Temporary(nil), ErrInjected)

	// An injected temporary error keeps its nature through the PathError.
	f := New(afero.NewMemMapFs(), Config{})
	f.Inject(Rule{Op: OpMkdir, Err: err})
	got := f.Mkdir("x", 0o755)
	require.ErrorAs(t, got, &tmp)
	assert.True(t, tmp.Temporary())
}

func TestFailedCloseReleasesFile(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	w, err := f.Create("a")
	require.NoError(t, err)
	f.Inject(Rule{Op: OpClose, Count: 1})
	assert.ErrorIs(t, w.Close(), ErrInjected)
	_, err = w.Write([]byte("x"))
	assert.ErrorIs(t, err, mem.ErrFileClosed)
}

func TestConcurrentUse(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{Latency: time.Microsecond})
	f.Inject(Rule{Op: OpWrite, Count: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for g := range 8 {
		wg.Go(func() {
			w, err := f.Create("f" + string(rune('a'+g)))
			if !assert.NoError(t, err) {
				return
			}
			defer w.Close()
			for i := range 20 {
				if _, err := w.WriteAt([]byte{1}, int64(i)); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 10, failed, "exactly Count calls fail, whatever the interleaving")
	assert.Equal(t, 160, f.Calls(OpWrite))
}

func TestBucket(t *testing.T) {
	var b bucket
	b.set(1000, 100)
	t0 := time.Unix(0, 0)
	assert.Zero(t, b.take(100, t0), "the burst passes at once")
	assert.Equal(t, 500*time.Millisecond, b.take(500, t0), "a debt of 500 bytes at 1000 B/s")
	// After the debt is repaid and a further 100 ms pass, the bucket holds
	// 100 tokens again (capped at the burst).
	assert.Zero(t, b.take(100, t0.Add(2*time.Second)))
	assert.Equal(t, 100*time.Millisecond, b.take(100, t0.Add(2*time.Second)))

	var off bucket
	off.set(0, 0)
	assert.Zero(t, off.take(1<<30, t0), "zero bandwidth means unlimited")
}

func TestBandwidthLimitsReads(t *testing.T) {
	mem := afero.NewMemMapFs()
	require.NoError(t, afero.WriteFile(mem, "big", make([]byte, 64<<10), 0o644))
	f := New(mem, Config{Bandwidth: 1 << 20, Burst: 4096})
	r, err := f.Open("big")
	require.NoError(t, err)
	defer r.Close()
	b := make([]byte, 64<<10)
	n, err := r.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, 64<<10, n)
	// One 64 KiB transfer against a 4 KiB burst leaves the bucket 60 KiB in
	// debt at the moment it was taken, whatever the clock did since: the
	// next transfer at that moment must wait. Checked on the bucket's own
	// clock, so the test is not timed.
	f.mu.Lock()
	d := f.bucket.take(4096, f.bucket.last)
	f.mu.Unlock()
	assert.Positive(t, d)
}

func TestBucketArithmetic(t *testing.T) {
	var b bucket
	b.set(1<<20, 4096)
	t0 := time.Unix(1000, 0)
	assert.Zero(t, b.take(4096, t0), "the burst is free")
	assert.Equal(t, time.Second/256, b.take(4096, t0), "4 KiB more at 1 MiB/s costs 1/256 s")
	assert.Zero(t, b.take(4096, t0.Add(time.Second)), "a second later the debt is repaid and the burst is back")
}

func TestSymlinkPassThrough(t *testing.T) {
	f := New(afero.NewMemMapFs(), Config{})
	err := f.SymlinkIfPossible("a", "b")
	assert.ErrorIs(t, err, afero.ErrNoSymlink, "MemMapFs has no symlinks and the wrapper says so")

	dir := t.TempDir()
	o := New(afero.NewOsFs(), Config{})
	link := filepath.Join(dir, "link")
	require.NoError(t, o.SymlinkIfPossible("target", link))
	got, err := o.ReadlinkIfPossible(link)
	require.NoError(t, err)
	assert.Equal(t, "target", got)
	_, lstat, err := o.LstatIfPossible(link)
	require.NoError(t, err)
	assert.True(t, lstat)
	assert.Equal(t, 1, o.Calls(OpSymlink))
	assert.Equal(t, 1, o.Calls(OpReadlink))
}
