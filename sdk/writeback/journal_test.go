package writeback

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// crash stops f as a killed process would stop: no drain, nothing acked,
// the journal's files closed as the kernel closes them. Backend files are
// left as they are.
func (f *FS) crash() {
	f.mu.Lock()
	f.closed = true
	f.closedFlag.Store(true)
	f.mu.Unlock()
	f.closeOnce.Do(func() {}) // a later Close does nothing
	f.stopWorkers()
	if f.journal != nil {
		close(f.journal.stop)
		f.journal.done.Wait()
		f.journal.mu.Lock()
		for _, s := range f.journal.segs {
			s.f.Close()
		}
		f.journal.mu.Unlock()
		f.journal.lock.Close()
	}
}

// jenv is a write-back FS with a journal over an in-memory backend that
// can be crashed and mounted again over the same backend and journal.
type jenv struct {
	t    *testing.T
	dir  string
	mem  afero.Fs
	ff   *faultfs.Fs
	opts Options
	wb   *FS
}

func newJenv(t *testing.T, opts Options) *jenv {
	e := &jenv{t: t, dir: t.TempDir(), mem: afero.NewMemMapFs()}
	e.ff = faultfs.New(e.mem, faultfs.Config{})
	opts.Journal = e.dir
	e.opts = opts
	wb, err := e.mount()
	require.NoError(t, err)
	e.wb = wb
	t.Cleanup(func() {
		if e.wb != nil {
			e.wb.crash()
		}
	})
	return e
}

func (e *jenv) mount() (*FS, error) {
	return New(aferofs.New(e.ff), e.opts)
}

// remount crashes the current FS and mounts a new one on the journal.
func (e *jenv) remount() *FS {
	e.t.Helper()
	e.wb.crash()
	e.wb = nil
	wb, err := e.mount()
	require.NoError(e.t, err)
	e.wb = wb
	return wb
}

func (e *jenv) create(name string) *handle {
	e.t.Helper()
	f, err := e.wb.Open(ctx, name, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(e.t, err)
	return f.(*handle)
}

func (e *jenv) backend(name string) string {
	e.t.Helper()
	b, err := afero.ReadFile(e.mem, "/"+name)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	require.NoError(e.t, err)
	return string(b)
}

func TestRecordRoundTrip(t *testing.T) {
	b := appendRecord(nil, recWrite, 7, 4096, []byte("hello "), []byte("world"))
	b = appendRecord(b, recOpen, 8, 0, openPayload(identity{ino: 3, size: 10, mtime: 99}, "a/b"))
	r, n, err := decodeRecord(b)
	require.NoError(t, err)
	require.Equal(t, record{typ: recWrite, id: 7, off: 4096, data: []byte("hello world")}, r)
	r, m, err := decodeRecord(b[n:])
	require.NoError(t, err)
	require.Equal(t, len(b), n+m)
	id, name := parseOpen(r.data)
	require.Equal(t, identity{ino: 3, size: 10, mtime: 99}, id)
	require.Equal(t, "a/b", name)

	// Every cut of the record and every flipped bit is refused.
	for i := range n {
		_, _, err := decodeRecord(b[:i])
		require.Error(t, err, "cut at %d", i)
		c := bytes.Clone(b[:n])
		c[i] ^= 0x10
		_, _, err = decodeRecord(c)
		require.Error(t, err, "bit flipped in byte %d", i)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, recWrite, 1, 0, []byte("x")))
	f.Add(appendRecord(nil, recOpen, 2, 0, openPayload(identity{}, "name")))
	f.Add(appendRecord(nil, recAck, 2, 0))
	f.Add([]byte("FKJ1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n < recHdrLen || n > len(b) || len(r.data) != n-recHdrLen {
			t.Fatalf("decoded length %d of %d bytes, payload %d", n, len(b), len(r.data))
		}
		// What decodes encodes to the same bytes.
		if again := appendRecord(nil, r.typ, r.id, r.off, r.data); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs")
		}
		if r.typ == recOpen {
			parseOpen(r.data)
		}
		// Replay's fold accepts whatever decodes.
		applyRecord(map[uint64]*rfile{}, r, 1, recHdrLen)
	})
}

func TestJournalReplaysAfterCrash(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	write(t, a, 0, "hello world")
	write(t, a, 6, "WORLD")
	write(t, a, 20, "tail")
	require.NoError(t, a.Truncate(ctx, 16)) // nothing past 16 may come back
	write(t, a, 11, "!")
	b := e.create("b")
	write(t, b, 0, "moved")
	require.NoError(t, e.wb.Rename(ctx, "b", "c", 0))
	d := e.create("d")
	write(t, d, 0, "gone")
	require.NoError(t, e.wb.Unlink(ctx, "d"))
	// Nothing was written back: the backend has empty files.
	require.Equal(t, "", e.backend("c"))
	require.Equal(t, "", e.backend("a")[:0])

	wb := e.remount()
	require.Equal(t, "hello WORLD!\x00\x00\x00\x00", e.backend("a"))
	require.Equal(t, "moved", e.backend("c"))
	require.Equal(t, "<missing>", e.backend("b"))
	require.Equal(t, "<missing>", e.backend("d"))
	st := wb.Stats().Journal
	require.Equal(t, 2, st.ReplayedFiles)
	require.Equal(t, 1, st.DroppedFiles)
	require.Empty(t, st.Conflicts)
	require.Zero(t, st.TornBytes)
	require.Zero(t, st.Bytes, "replayed journal given back")

	// A second crash with nothing new replays nothing again.
	wb = e.remount()
	require.Zero(t, wb.Stats().Journal.ReplayedFiles)
}

func TestJournalReleasedByWriteBack(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	write(t, a, 0, strings.Repeat("x", 10000))
	require.Greater(t, e.wb.Stats().Journal.Bytes, int64(10000))
	require.NoError(t, a.Flush(ctx))
	require.Zero(t, e.wb.Stats().Journal.Bytes)
	// The next episode journals again, and is given back again.
	write(t, a, 0, "y")
	require.Greater(t, e.wb.Stats().Journal.Bytes, int64(0))
	require.NoError(t, a.Flush(ctx))
	require.Zero(t, e.wb.Stats().Journal.Bytes)
	require.NoError(t, a.Close())
	wb := e.remount()
	require.Zero(t, wb.Stats().Journal.ReplayedFiles)
	require.Equal(t, "y"+strings.Repeat("x", 9999), e.backend("a"))
}

// segments returns the journal's segment files, oldest first.
func segments(t *testing.T, dir string) []string {
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	require.NoError(t, err)
	return m
}

func TestJournalTornTail(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	write(t, a, 0, "first ")
	write(t, a, 6, "second")
	e.wb.crash()
	e.wb = nil
	segs := segments(t, e.dir)
	require.Len(t, segs, 1)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	// The last record is cut 3 bytes short, as a kill mid-append leaves it.
	require.NoError(t, os.WriteFile(segs[0], data[:len(data)-3], 0o600))

	wb, err := e.mount()
	require.NoError(t, err)
	e.wb = wb
	require.Equal(t, "first ", e.backend("a"))
	st := wb.Stats().Journal
	require.Equal(t, int64(recHdrLen+len("second")-3), st.TornBytes)
	require.ErrorIs(t, st.TornError, errShortRecord)

	// A corrupt byte in the middle ends the valid prefix there too.
	a = e.create("b")
	write(t, a, 0, "one")
	write(t, a, 3, "two")
	write(t, a, 6, "three")
	e.wb.crash()
	e.wb = nil
	segs = segments(t, e.dir)
	data, err = os.ReadFile(segs[len(segs)-1])
	require.NoError(t, err)
	i := bytes.Index(data, []byte("two"))
	data[i] ^= 1
	require.NoError(t, os.WriteFile(segs[len(segs)-1], data, 0o600))
	wb, err = e.mount()
	require.NoError(t, err)
	e.wb = wb
	require.Equal(t, "one", e.backend("b"))
	require.Contains(t, wb.Stats().Journal.TornError.Error(), "checksum")
}

func TestJournalConflictSetAside(t *testing.T) {
	e := newJenv(t, quiet())
	require.NoError(t, afero.WriteFile(e.mem, "/a", []byte("original"), 0o644))
	a := e.create("a")
	write(t, a, 0, "JOURNAL")
	e.wb.crash()
	e.wb = nil
	// Somebody else changes the file before the next mount.
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, afero.WriteFile(e.mem, "/a", []byte("theirs, longer"), 0o644))

	wb, err := e.mount()
	require.NoError(t, err)
	e.wb = wb
	require.Equal(t, "theirs, longer", e.backend("a"), "the change is kept")
	st := wb.Stats().Journal
	require.Len(t, st.Conflicts, 1)
	c := st.Conflicts[0]
	require.Equal(t, "a", c.Name)
	require.Contains(t, c.Reason, "size")
	aside, err := os.ReadFile(c.SetAside)
	require.NoError(t, err)
	require.Equal(t, "JOURNAL", string(aside))
	require.Contains(t, filepath.Base(c.SetAside), "a.")
	require.Equal(t, 0, st.ReplayedFiles)
	require.ErrorContains(t, wb.Stats().LastError, "changed behind the journal")

	// Strict: New refuses the mount, the data is set aside all the same.
	b := e.create("b")
	write(t, b, 0, "x")
	e.wb.crash()
	e.wb = nil
	require.NoError(t, afero.WriteFile(e.mem, "/b", []byte("yy"), 0o644))
	e.opts.JournalStrict = true
	_, err = e.mount()
	require.ErrorIs(t, err, ErrJournalConflict)
	require.Equal(t, "yy", e.backend("b"))
	m, _ := filepath.Glob(filepath.Join(e.dir, "conflicts", "b.*"))
	require.Len(t, m, 1)
	e.opts.JournalStrict = false
	wb, err = e.mount()
	require.NoError(t, err, "the set-aside journal is not replayed again")
	e.wb = wb
	require.Empty(t, wb.Stats().Journal.Conflicts)

	// A file removed behind the journal (or a store that did not outlive
	// the process) is not created again.
	g := e.create("g")
	write(t, g, 0, "orphan")
	e.wb.crash()
	e.wb = nil
	require.NoError(t, e.mem.Remove("/g"))
	wb, err = e.mount()
	require.NoError(t, err)
	e.wb = wb
	require.Equal(t, "<missing>", e.backend("g"))
	st = wb.Stats().Journal
	require.Len(t, st.Conflicts, 1)
	require.Equal(t, "it no longer exists", st.Conflicts[0].Reason)
	aside, err = os.ReadFile(st.Conflicts[0].SetAside)
	require.NoError(t, err)
	require.Equal(t, "orphan", string(aside))
}

func TestJournalReplayFaults(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	want := make([]byte, 0, 40000)
	for i := range 10 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 4000)
		n, err := a.WriteAt(ctx, p, int64(i*4000))
		require.NoError(t, err)
		require.Equal(t, len(p), n)
		want = append(want, p...)
	}
	require.NoError(t, a.Truncate(ctx, 38000))
	write(t, a, 37000, "end")
	want = want[:38000]
	copy(want[37000:], "end")
	e.wb.crash()
	e.wb = nil

	// The backend fails the replay's truncate, after its first write (the
	// contiguous records go as one): the mount fails and the journal
	// stays, with part of it applied.
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpTruncate, Count: 1, Err: errors.New("EIO from the backend")})
	_, err := e.mount()
	require.ErrorContains(t, err, "EIO from the backend")
	require.False(t, string(want) == e.backend("a"), "the failed replay applied everything")
	// A full backend likewise.
	e.ff.Clear()
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Skip: 1, Count: 1, Err: syscall.ENOSPC})
	_, err = e.mount()
	require.ErrorIs(t, err, syscall.ENOSPC)

	// The next mount replays everything once more: same result, no
	// conflict although the file changed in the failed replays.
	e.ff.Clear()
	wb, err := e.mount()
	require.NoError(t, err)
	e.wb = wb
	requireSame(t, want, []byte(e.backend("a")))
	st := wb.Stats().Journal
	require.Equal(t, 1, st.ReplayedFiles)
	require.Empty(t, st.Conflicts)
	require.Empty(t, segmentsWithData(t, e.dir))
}

// segmentsWithData lists the non-empty segments.
func segmentsWithData(t *testing.T, dir string) []string {
	var out []string
	for _, s := range segments(t, dir) {
		st, err := os.Stat(s)
		require.NoError(t, err)
		if st.Size() > 0 {
			out = append(out, s)
		}
	}
	return out
}

func TestJournalLimitBlocksWriters(t *testing.T) {
	o := quiet()
	o.ChunkSize = 64 << 10
	o.MaxDirty = 4 << 20
	o.JournalMaxBytes = 256 << 10
	e := newJenv(t, o)
	a := e.create("a")
	p := bytes.Repeat([]byte("z"), 4096)
	for i := range 256 { // 1 MiB: four times the journal's limit
		n, err := a.WriteAt(ctx, p, int64(i*4096))
		require.NoError(t, err)
		require.Equal(t, 4096, n)
		require.LessOrEqual(t, e.wb.Stats().Journal.Bytes, o.JournalMaxBytes+4096+2*recHdrLen)
	}
	require.Positive(t, e.wb.Stats().Journal.Waits)
	wb := e.remount()
	require.True(t, strings.Repeat("z", 1<<20) == e.backend("a"), "replayed content differs")
	require.Empty(t, wb.Stats().Journal.Conflicts)
}

func TestJournalFsync(t *testing.T) {
	o := quiet()
	o.JournalFsync = true
	e := newJenv(t, o)
	a := e.create("a")
	write(t, a, 0, "durable")
	require.NoError(t, a.Sync(ctx, false))
	require.Equal(t, "", e.backend("a"), "fsync did not wait for the backend")
	e.remount()
	require.Equal(t, "durable", e.backend("a"))
}

func TestJournalOptions(t *testing.T) {
	_, err := New(aferofs.New(afero.NewMemMapFs()), Options{JournalSync: time.Second})
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "JournalSync", oe.Field)
	_, err = New(aferofs.New(afero.NewMemMapFs()), Options{Journal: t.TempDir(), WriteThrough: true})
	require.ErrorAs(t, err, &oe)
	dir := t.TempDir()
	wb, err := New(aferofs.New(afero.NewMemMapFs()), Options{Journal: dir})
	require.NoError(t, err)
	_, err = New(aferofs.New(afero.NewMemMapFs()), Options{Journal: dir})
	require.ErrorContains(t, err, "in use by another mount")
	require.NoError(t, wb.Close(context.Background()))
}

// requireSame compares file contents without printing them whole.
func requireSame(t *testing.T, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Fatalf("content differs: %d bytes, want %d; first difference at %d", len(got), len(want), i)
}

// TestJournalReleasesChunksMidEpisode writes a file that never gets
// clean: chunks written back release their records, old segments go
// while the file is still open, and a crash after a rename replays what
// was left under the new name from the restated episode.
func TestJournalReleasesChunksMidEpisode(t *testing.T) {
	o := quiet()
	o.ChunkSize = 64 << 10
	e := newJenv(t, o)
	e.wb.journal.mu.Lock()
	e.wb.journal.segMax = 64 << 10
	e.wb.journal.mu.Unlock()
	a := e.create("a")
	// Starting at 100, every write straddles a page and the buffer always
	// ends in a partial chunk: the file never gets clean.
	want := make([]byte, 100, 2<<20)
	var most int64
	for i := range 512 {
		p := bytes.Repeat([]byte{byte(i), byte(i >> 8), 'x', 'y'}, 1024)
		n, err := a.WriteAt(ctx, p, int64(100+i*4096))
		require.NoError(t, err)
		require.Equal(t, 4096, n)
		want = append(want, p...)
		if i%64 == 63 {
			// Let the full chunks reach the backend.
			eventually(t, func() bool { return len(e.backend("a")) >= (i-15)*4096 }, "chunks written back")
			most = max(most, e.wb.Stats().Journal.Bytes)
		}
	}
	require.Less(t, most, int64(1<<20), "segments given back while the file stays open")
	require.Greater(t, len(segments(t, e.dir)), 0)
	require.NoError(t, e.wb.Rename(ctx, "a", "b", 0))
	write(t, a, 100+2<<20, "end") // after the rename, in a later segment
	want = append(want, "end"...)
	wb := e.remount()
	requireSame(t, want, []byte(e.backend("b")))
	require.Equal(t, "<missing>", e.backend("a"))
	require.Empty(t, wb.Stats().Journal.Conflicts)
}

// TestJournalRandomCrashes runs random writes, overwrites, truncates and
// flushes on a few files with small chunks and segments while write-back
// runs, crashes at a random point and checks that the replayed backend
// equals a model that applied every acknowledged operation.
func TestJournalRandomCrashes(t *testing.T) {
	for round := range 30 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		o := Options{ChunkSize: 4096, MaxAge: time.Millisecond, MaxDirty: 1 << 20, RetryBackoff: time.Millisecond}
		e := newJenv(t, o)
		e.wb.journal.mu.Lock()
		e.wb.journal.segMax = 8192
		e.wb.journal.mu.Unlock()
		names := []string{"f0", "f1", "f2"}
		model := make(map[string][]byte)
		hs := make(map[string]*handle)
		for _, n := range names {
			hs[n] = e.create(n)
			model[n] = nil
		}
		for range 300 {
			n := names[rng.IntN(len(names))]
			h := hs[n]
			switch k := rng.IntN(20); {
			case k < 15:
				off := int64(rng.IntN(20000))
				p := make([]byte, 1+rng.IntN(3000))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				m, err := h.WriteAt(ctx, p, off)
				require.NoError(t, err)
				require.Equal(t, len(p), m)
				cur := model[n]
				if end := int(off) + len(p); end > len(cur) {
					cur = append(cur, make([]byte, end-len(cur))...)
				}
				copy(cur[off:], p)
				model[n] = cur
			case k < 17:
				size := rng.IntN(20000)
				require.NoError(t, h.Truncate(ctx, int64(size)))
				cur := model[n]
				if size > len(cur) {
					cur = append(cur, make([]byte, size-len(cur))...)
				}
				model[n] = cur[:size]
			case k < 18:
				require.NoError(t, h.Flush(ctx))
			default:
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		e.remount()
		for _, n := range names {
			got := []byte(e.backend(n))
			if !bytes.Equal(model[n], got) {
				i := 0
				for i < len(got) && i < len(model[n]) && got[i] == model[n][i] {
					i++
				}
				t.Fatalf("round %d: %s: %d bytes, want %d; first difference at %d", round, n, len(got), len(model[n]), i)
			}
		}
		e.wb.crash()
		e.wb = nil
	}
}

// TestJournalSyncPolicies runs the durable policies: the records are the
// same, only fdatasync calls are added.
func TestJournalSyncPolicies(t *testing.T) {
	for _, sync := range []time.Duration{JournalSyncEveryWrite, 5 * time.Millisecond} {
		o := quiet()
		o.JournalSync = sync
		e := newJenv(t, o)
		a := e.create("a")
		for i := range 20 {
			write(t, a, int64(i*5), "block")
		}
		time.Sleep(20 * time.Millisecond)
		e.remount()
		require.Equal(t, strings.Repeat("block", 20), e.backend("a"), "JournalSync %v", sync)
	}
}

// TestJournalReplayCutShortIsNoConflict fails a replay after it changed a
// file whose write-back had not begun before the crash: the next replay
// must not take the change it made itself for somebody else's.
func TestJournalReplayCutShortIsNoConflict(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	write(t, a, 0, "head")
	write(t, a, 10000, "tail") // not contiguous: a second backend write
	e.wb.crash()
	e.wb = nil
	e.ff.Inject(faultfs.Rule{Op: faultfs.OpWrite, Skip: 1, Count: 1, Err: errors.New("killed while replaying")})
	_, err := e.mount()
	require.ErrorContains(t, err, "killed while replaying")
	require.Equal(t, "head", e.backend("a"), "the replay was cut short after changing the file")
	e.ff.Clear()
	wb, err := e.mount()
	require.NoError(t, err)
	e.wb = wb
	require.Empty(t, wb.Stats().Journal.Conflicts)
	require.Equal(t, "head"+strings.Repeat("\x00", 10000-4)+"tail", e.backend("a"))
}

// TestJournalAppendFailureFailsWrites: a write whose record cannot be
// appended is not acknowledged, nor is any later one.
func TestJournalAppendFailureFailsWrites(t *testing.T) {
	e := newJenv(t, quiet())
	a := e.create("a")
	write(t, a, 0, "ok")
	j := e.wb.journal
	j.mu.Lock()
	j.segs[len(j.segs)-1].f.Close() // as an I/O error would
	j.mu.Unlock()
	_, err := a.WriteAt(ctx, []byte("refused"), 2)
	require.ErrorContains(t, err, "journal")
	b := e.create("b")
	_, err = b.WriteAt(ctx, []byte("also refused"), 0)
	require.ErrorContains(t, err, "journal")
	require.Equal(t, "ok", readAll(t, a), "the refused write was not buffered")
}
