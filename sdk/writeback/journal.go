// # Journal
//
// Without Options.Journal, buffered data that write(2) acknowledged is
// lost if the process dies before writing it back. With it, every
// buffered write is first appended to a journal in that local directory,
// with one write(2) of a checksummed record, and only then acknowledged;
// the in-memory buffer stays the fast path for reads and for coalescing.
// What the journal promises depends on Options.JournalSync:
//
//   - 0 (the default): an acknowledged write survives the process being
//     killed (SIGKILL, a crash), since the record is in the kernel's page
//     cache; a power failure or kernel crash may lose any of it.
//   - a period d: as above, and a power failure loses at most the writes
//     of the last d (the journal is fdatasync'd every d; new segment files
//     and their directory are synced before they are used).
//   - JournalSyncEveryWrite: every write is fdatasync'd before it is
//     acknowledged; it survives a power failure if the device honours
//     flushes.
//
// A file's records are given back once the chunks written back cover them
// (or the file has nothing buffered any more); the journal is a sequence
// of segment files, and a segment is deleted when it and every older one
// hold nothing still needed. Renames, unlinks and truncates of files with
// journaled data are journaled too, so that replay writes to the file's
// last name, or nowhere once it was unlinked, and does not resurrect
// truncated bytes. Options.JournalMaxBytes bounds the journal: writers
// block while it is full, and every file is written back meanwhile. If an
// append to the journal fails (its disk is full, an I/O error), that write
// fails with the error, and so does every later buffered write until the
// FS is closed: a journal with a gap could not be replayed safely.
//
// New replays the journal before it returns, so before a mount serves
// anything: every record that was not given back is applied to the
// backend in order (contiguous records as one write). A file whose
// backend copy changed behind the journal is not written over: its
// journaled writes are put at their offsets in a sparse file under
// DIR/conflicts, named after the file, and reported in Stats.Journal,
// through OnError, and as ErrJournalConflict from New with
// Options.JournalStrict. The journal notices a change by the inode number
// (when the backend has them), and, as long as none of the file's data
// had been written back before the crash, by the size and mtime recorded
// when the file's first journaled write came; once write-back had begun,
// only a changed inode is noticed. A record that is cut short or fails
// its CRC32C ends the valid part of the journal: the records before it
// are replayed, the bytes from it on are counted in Stats.Journal
// (TornBytes, TornError) and nothing is made up for them. If the backend
// fails during replay, New returns the error and the journal is kept
// whole; the next New replays it again from the start, which gives the
// same result. Only one FS at a time can use a journal directory. Data
// that Close could not write back stays in the journal too (Close reports
// it as a DataLostError whose Journal field names the directory, which
// errors.Is(err, ErrDataLost) does not match), and the next New on it
// writes it back.
//
// Options.JournalFsync makes fsync(2) on a buffered file return once the
// journal holds the file's data durably (fdatasync of the journal)
// instead of waiting for the backend: the data survives a crash or power
// failure of this machine, but the backend gets it later, and a backend
// failure is then reported only by a later write, fsync or close.
//
// The SIGKILL tests of examples/passthrough (dd of up to 200 MiB in
// 4 KiB writes, two writers killed 20 times, SQLite in WAL mode with
// synchronous=NORMAL) check this on a backend with 1 ms latency.
package writeback

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// JournalSyncEveryWrite as Options.JournalSync makes every journal append
// durable (fdatasync) before the write is acknowledged.
const JournalSyncEveryWrite = time.Duration(-1)

// DefaultJournalSegment is the size at which the journal starts a new
// segment file; space is given back a whole segment at a time.
const DefaultJournalSegment = 16 << 20

// ErrJournalConflict is returned (wrapped) by New with
// Options.JournalStrict when replaying the journal found backend files
// changed behind its back; their journaled data was set aside.
var ErrJournalConflict = errors.New("writeback: journaled data conflicts with the backend file; set aside")

// journal is the append-only log of acknowledged writes. Records of one
// file go in the order the file's buffer sees them (they are appended
// under the node's lock); segments are deleted oldest first, once every
// record in them and in every older segment is acknowledged.
type journal struct {
	dir       string
	lock      *os.File // holds the flock that keeps other mounts out
	segMax    int64
	limit     int64
	syncEvery time.Duration

	mu   sync.Mutex
	cond *sync.Cond // on mu: broadcast when bytes go down
	// segs are the live segments, oldest first; the last is appended to.
	// All fields below are guarded by mu.
	segs        []*segment
	active      map[uint64]*episode // open episodes by file id
	nextSeq     uint64
	nextID      uint64
	bytes       int64 // sum of the segments' sizes
	buf         []byte
	dirUnsynced bool  // a segment was created since the directory was synced
	err         error // the first append error; the journal refuses writes after it

	waits atomic.Int64 // writers that blocked on the size limit

	stop chan struct{}
	done sync.WaitGroup
}

type segment struct {
	seq         uint64
	f           *os.File
	size        int64
	outstanding int64 // records not acknowledged yet
	unsynced    bool  // appended to since the last fdatasync
}

// nodeJournal is a node's journal state, guarded by the node's mu.
type nodeJournal struct {
	id    uint64 // the open episode's file id; 0 when none is open
	begun bool   // write-back of the episode started (a begin record is out)
	seq   uint64 // buffered write records appended in the episode
	// pend are the byte ranges of buffered write records not yet on the
	// backend, oldest first; each counts once in its segment.
	pend []pendRec
}

// pendRec is an outstanding range of a write record.
type pendRec struct {
	seq      uint64
	seg      *segment
	off, end int64
}

// episode is the journal's copy of an open episode, rewritten at the head
// of every new segment so that older segments can go.
type episode struct {
	name  string
	ident identity
	begun bool
}

// JournalStats are the journal's numbers; see Stats.
type JournalStats struct {
	// Bytes is the size of the live journal segments.
	Bytes int64
	// Waits counts writers that blocked because the journal was full.
	Waits int64
	// ReplayedFiles and ReplayedBytes count what the last replay (at New)
	// wrote to the backend; DroppedFiles counts journaled files that were
	// unlinked before the crash, whose data went nowhere.
	ReplayedFiles int
	ReplayedBytes int64
	DroppedFiles  int
	// Conflicts lists the files whose backend copy had changed behind the
	// journal's back: their journaled data is in SetAside, not the backend.
	Conflicts []JournalConflict
	// TornBytes counts bytes at the end of the journal that did not form
	// valid records (cut short by a crash, or corrupt) and were not
	// replayed; TornError says why the first of them was refused.
	TornBytes int64
	TornError error
}

// JournalConflict is a journaled file that was not replayed because its
// backend file changed.
type JournalConflict struct {
	Name string // the backend name the data was for
	// SetAside is the local file holding the journaled writes at their
	// offsets (holes elsewhere), in the journal's conflicts directory.
	SetAside string
	Reason   string
}

func (c JournalConflict) String() string {
	return fmt.Sprintf("%q changed behind the journal (%s); its journaled data is in %s", c.Name, c.Reason, c.SetAside)
}

func segName(seq uint64) string { return fmt.Sprintf("seg-%016x.log", seq) }

// parseSegName returns the sequence number of a segment file name.
func parseSegName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, "seg-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".log")
	if !ok || len(s) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// openJournal locks dir (creating it) and returns the journal with the
// sequence numbers of the segments found there, oldest first. Nothing is
// appended until start.
func openJournal(o Options) (*journal, []uint64, error) {
	if err := os.MkdirAll(o.Journal, 0o700); err != nil {
		return nil, nil, fmt.Errorf("writeback: journal directory: %w", err)
	}
	lk, err := os.OpenFile(filepath.Join(o.Journal, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("writeback: journal lock: %w", err)
	}
	if err := lockJournal(lk); err != nil {
		lk.Close()
		return nil, nil, fmt.Errorf("writeback: journal %s is in use by another mount: %w", o.Journal, err)
	}
	ents, err := os.ReadDir(o.Journal)
	if err != nil {
		lk.Close()
		return nil, nil, fmt.Errorf("writeback: journal directory: %w", err)
	}
	var seqs []uint64
	for _, e := range ents {
		if s, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	j := &journal{
		dir:       o.Journal,
		lock:      lk,
		segMax:    DefaultJournalSegment,
		limit:     o.JournalMaxBytes,
		syncEvery: o.JournalSync,
		nextID:    1,
		active:    make(map[uint64]*episode),
		stop:      make(chan struct{}),
	}
	if len(seqs) > 0 {
		j.nextSeq = seqs[len(seqs)-1] + 1
	}
	j.cond = sync.NewCond(&j.mu)
	return j, seqs, nil
}

// start opens a fresh segment to append to and starts the periodic sync.
func (j *journal) start() error {
	j.mu.Lock()
	err := j.rotateLocked()
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if j.syncEvery > 0 {
		j.done.Go(j.syncer)
	}
	return nil
}

// rotateLocked starts a new segment. j.mu is held.
func (j *journal) rotateLocked() error {
	if n := len(j.segs); n > 0 && j.syncEvery != 0 && j.segs[n-1].unsynced {
		if err := datasync(j.segs[n-1].f); err != nil {
			return j.failLocked(err)
		}
		j.segs[n-1].unsynced = false
	}
	seq := j.nextSeq
	f, err := os.OpenFile(filepath.Join(j.dir, segName(seq)), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return j.failLocked(err)
	}
	if j.syncEvery != 0 {
		// The new name must survive a power failure too.
		if err := syncDir(j.dir); err != nil {
			f.Close()
			return j.failLocked(err)
		}
	} else {
		j.dirUnsynced = true
	}
	j.nextSeq++
	s := &segment{seq: seq, f: f}
	j.segs = append(j.segs, s)
	return j.restateLocked(s)
}

// restateLocked writes every open episode at the head of s, so that replay
// can start at s once the older segments are gone. j.mu is held.
func (j *journal) restateLocked(s *segment) error {
	for id, e := range j.active {
		var begun int64
		if e.begun {
			begun = 1
		}
		if err := j.writeLocked(s, recCont, id, begun, openPayload(e.ident, e.name)); err != nil {
			return err
		}
	}
	return nil
}

func (j *journal) failLocked(err error) error {
	if j.err == nil {
		j.err = fmt.Errorf("writeback: journal %s: %w", j.dir, err)
	}
	return j.err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes one record to the active segment with one write(2), and
// returns the segment, which counts the record as outstanding when
// counted is set.
func (j *journal) append(typ uint8, id uint64, off int64, counted bool, parts ...[]byte) (*segment, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appendLocked(typ, id, off, counted, parts...)
}

// appendLocked is append with j.mu held.
func (j *journal) appendLocked(typ uint8, id uint64, off int64, counted bool, parts ...[]byte) (*segment, error) {
	if j.err != nil {
		return nil, j.err
	}
	s := j.segs[len(j.segs)-1]
	if s.size >= j.segMax {
		if err := j.rotateLocked(); err != nil {
			return nil, err
		}
		s = j.segs[len(j.segs)-1]
	}
	if err := j.writeLocked(s, typ, id, off, parts...); err != nil {
		return nil, err
	}
	if counted {
		s.outstanding++
	}
	return s, nil
}

// writeLocked writes one record to s with one write(2). j.mu is held.
func (j *journal) writeLocked(s *segment, typ uint8, id uint64, off int64, parts ...[]byte) error {
	j.buf = appendRecord(j.buf[:0], typ, id, off, parts...)
	m, err := s.f.Write(j.buf)
	s.size += int64(m)
	j.bytes += int64(m)
	if err != nil {
		// A partial record is a torn tail for replay; nothing more may
		// follow it in this segment.
		return j.failLocked(err)
	}
	if cap(j.buf) > 1<<20 {
		j.buf = nil // do not keep a large write's buffer
	}
	if j.syncEvery < 0 {
		if err := datasync(s.f); err != nil {
			return j.failLocked(err)
		}
	} else {
		s.unsynced = true
	}
	return nil
}

// open starts an episode: a new file id and its open record.
func (j *journal) open(ident identity, name string) (uint64, error) {
	// The record and the registry change under one lock: a segment
	// started in between would lack the episode's restatement.
	j.mu.Lock()
	defer j.mu.Unlock()
	id := j.nextID
	j.nextID++
	if _, err := j.appendLocked(recOpen, id, 0, false, openPayload(ident, name)); err != nil {
		return 0, err
	}
	j.active[id] = &episode{name: name, ident: ident}
	return id, nil
}

// rename records an episode's new name.
func (j *journal) rename(id uint64, name string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.appendLocked(recName, id, 0, false, []byte(name)); err != nil {
		return err
	}
	if e := j.active[id]; e != nil {
		e.name = name
	}
	return nil
}

// begin records that an episode's write-back started.
func (j *journal) begin(id uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.appendLocked(recBegin, id, 0, false); err != nil {
		return err
	}
	if e := j.active[id]; e != nil {
		e.begun = true
	}
	return nil
}

// end closes an episode whose data is all on the backend, releasing what
// it still held. The ack record goes first: no segment holding the
// episode's records can go before it is written.
func (j *journal) end(id uint64, held []*segment) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.appendLocked(recAck, id, 0, false); err != nil {
		return err
	}
	delete(j.active, id)
	for _, s := range held {
		s.outstanding--
	}
	j.collectLocked()
	return nil
}

// addOutstanding counts n more outstanding records in s.
func (j *journal) addOutstanding(s *segment, n int64) {
	j.mu.Lock()
	s.outstanding += n
	j.mu.Unlock()
}

// release drops one outstanding record per entry and gives back the
// segments nothing needs any more.
func (j *journal) release(segs []*segment) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range segs {
		s.outstanding--
	}
	j.collectLocked()
}

// collectLocked deletes the oldest segments while nothing in them is
// outstanding; when nothing at all is, the active segment is emptied in
// place. j.mu is held.
func (j *journal) collectLocked() {
	freed := false
	for len(j.segs) > 1 && j.segs[0].outstanding == 0 {
		s := j.segs[0]
		s.f.Close()
		if err := os.Remove(filepath.Join(j.dir, segName(s.seq))); err != nil {
			j.failLocked(err)
		}
		j.bytes -= s.size
		j.segs[0] = nil
		j.segs = j.segs[1:]
		freed = true
	}
	if s := j.segs[0]; len(j.segs) == 1 && s.outstanding == 0 && s.size > 0 && j.err == nil {
		if err := s.f.Truncate(0); err != nil {
			j.failLocked(err)
		} else {
			j.bytes -= s.size
			s.size = 0
			freed = true
			_ = j.restateLocked(s)
		}
	}
	if freed {
		j.cond.Broadcast()
	}
}

// full reports whether want more bytes would pass the size limit.
func (j *journal) full(want int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes > 0 && j.bytes+want > j.limit
}

// sync makes every appended record durable.
func (j *journal) sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	for _, s := range j.segs {
		if s.unsynced {
			if err := datasync(s.f); err != nil {
				return j.failLocked(err)
			}
			s.unsynced = false
		}
	}
	if j.dirUnsynced {
		if err := syncDir(j.dir); err != nil {
			return j.failLocked(err)
		}
		j.dirUnsynced = false
	}
	return nil
}

func (j *journal) syncer() {
	t := time.NewTicker(j.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			_ = j.sync()
		}
	}
}

// close stops the syncer and closes the files; the segments stay for the
// next mount to replay what was not acknowledged.
func (j *journal) close() error {
	close(j.stop)
	j.done.Wait()
	err := j.sync()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range j.segs {
		s.f.Close()
	}
	j.segs = nil
	j.lock.Close()
	if j.err != nil {
		return j.err
	}
	return err
}

func (j *journal) stats() (bytes, waits int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes, j.waits.Load()
}

// Hooks called by the write-back code. Each is a no-op without a journal.

// journalWait blocks a writer while the journal is full, starting the
// write-back of every file so that segments are given back. It returns
// the handle's pending error or ErrClosed if either ends the wait. No lock
// is held.
func (f *FS) journalWait(h *handle, want int64) error {
	j := f.journal
	if j == nil || !j.full(want) {
		return nil
	}
	j.waits.Add(1)
	f.pressure.Add(1)
	defer f.pressure.Add(-1)
	for _, n := range f.liveNodes() {
		f.enqueue(n)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Wake the waiter for errors and Close, which do not broadcast
		// the journal's cond.
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				j.mu.Lock()
				j.cond.Broadcast()
				j.mu.Unlock()
			}
		}
	}()
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.bytes > 0 && j.bytes+want > j.limit {
		if h.errPending() {
			return errHandleFailed
		}
		if f.stopped.Load() {
			return ErrClosed
		}
		j.cond.Wait()
	}
	return nil
}

// journalOpenNeeded reports whether a buffered write must first open an
// episode (which needs the backend's identity). n.mu is held.
func (n *node) journalOpenNeeded() bool {
	return n.fs.journal != nil && n.j.id == 0
}

// journalOpenLocked starts an episode: it stats the backend file (with the
// lock dropped) and appends an open record with its identity and name.
// The caller checks its conditions again afterwards. n.mu is held.
func (n *node) journalOpenLocked(ctx context.Context) error {
	n.mu.Unlock()
	a, err := n.backendAttr(ctx)
	n.mu.Lock()
	if err != nil {
		return err
	}
	if n.j.id != 0 {
		return nil // another writer opened it meanwhile
	}
	j := n.fs.journal
	ident := identity{ino: a.Ino, size: a.Size, mtime: a.Mtime.UnixNano()}
	id, err := j.open(ident, n.name)
	if err != nil {
		return err
	}
	n.j = nodeJournal{id: id}
	return nil
}

// journalWriteLocked journals a write before it is acknowledged: for a
// buffered write once the episode is open, for an unbuffered one only
// when the file has an episode open (replaying older data over it would
// undo it). A buffered write's record stays outstanding until chunks
// written back cover it; an unbuffered one is on the backend when the
// write returns, and a later segment than every older record of the file,
// so it needs no release. n.mu is held.
func (n *node) journalWriteLocked(off int64, p []byte, buffered bool) error {
	if n.fs.journal == nil || n.j.id == 0 {
		return nil
	}
	s, err := n.fs.journal.append(recWrite, n.j.id, off, buffered, p)
	if err != nil || !buffered {
		return err
	}
	n.j.seq++
	n.j.pend = append(n.j.pend, pendRec{seq: n.j.seq, seg: s, off: off, end: off + int64(len(p))})
	return nil
}

// journalTruncLocked journals a truncate before the backend does it, so
// that replay does not resurrect bytes past it. It is appended after
// every older record of the file, so it needs no release either. n.mu is
// held.
func (n *node) journalTruncLocked(size int64) error {
	if n.fs.journal == nil || n.j.id == 0 {
		return nil
	}
	n.journalBeginLocked()
	_, err := n.fs.journal.append(recTrunc, n.j.id, size, false)
	return err
}

// journalNameLocked journals a rename or unlink of a file with an open
// episode, so that replay writes to the right name or nowhere. n.mu is
// held. An error leaves the journal failed; writes report it.
func (n *node) journalNameLocked(name string) {
	if n.fs.journal == nil || n.j.id == 0 {
		return
	}
	if err := n.fs.journal.rename(n.j.id, name); err != nil {
		n.fs.recordError(name, err)
	}
}

// journalBeginLocked marks the start of the episode's write-back: from
// here on the backend file may hold part of the journaled data, so replay
// cannot compare its size and mtime. n.mu is held.
func (n *node) journalBeginLocked() {
	if n.fs.journal == nil || n.j.id == 0 || n.j.begun {
		return
	}
	if err := n.fs.journal.begin(n.j.id); err != nil {
		n.fs.recordError(n.name, err)
		return
	}
	n.j.begun = true
}

// journalTakeLocked returns the sequence number a chunk taken now
// carries: the chunk holds the newest data of every record up to it.
// n.mu is held.
func (n *node) journalTakeLocked() uint64 { return n.j.seq }

// journalChunkDoneLocked releases what a chunk written back covers: the
// parts of records no newer than the chunk that fall in its range. A
// record the chunk covers only in part keeps the rest. n.mu is held.
func (n *node) journalChunkDoneLocked(seq uint64, off, end int64) {
	j := n.fs.journal
	if j == nil || n.j.id == 0 {
		return
	}
	var freed []*segment
	out := n.j.pend[:0]
	var extra []pendRec
	for _, r := range n.j.pend {
		if r.seq > seq || r.end <= off || end <= r.off {
			out = append(out, r)
			continue
		}
		left, right := r.off < off, r.end > end
		switch {
		case left && right:
			a, b := r, r
			a.end, b.off = off, end
			out = append(out, a)
			extra = append(extra, b)
			j.addOutstanding(r.seg, 1)
		case left:
			r.end = off
			out = append(out, r)
		case right:
			r.off = end
			out = append(out, r)
		default:
			freed = append(freed, r.seg)
		}
	}
	clear(n.j.pend[len(out):])
	n.j.pend = append(out, extra...)
	if len(freed) > 0 {
		j.release(freed)
	}
}

// journalAckLocked ends the episode of a node that is clean: everything
// journaled for it is on the backend. n.mu is held.
func (n *node) journalAckLocked() {
	j := n.fs.journal
	if j == nil || n.j.id == 0 || !n.clean() || len(n.directs) > 0 {
		return
	}
	segs := make([]*segment, len(n.j.pend))
	for i, r := range n.j.pend {
		segs[i] = r.seg
	}
	if err := j.end(n.j.id, segs); err != nil {
		n.fs.recordError(n.name, err)
		return
	}
	n.j = nodeJournal{}
}

// checkJournal checks the journal options.
func (o Options) checkJournal() error {
	if o.Journal == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"JournalMaxBytes", o.JournalMaxBytes != 0},
			{"JournalSync", o.JournalSync != 0},
			{"JournalStrict", o.JournalStrict},
			{"JournalFsync", o.JournalFsync},
		} {
			if f.set {
				return &OptionError{f.name, "set", "needs Options.Journal"}
			}
		}
		return nil
	}
	if o.JournalMaxBytes < 0 {
		return &OptionError{"JournalMaxBytes", o.JournalMaxBytes, "must not be negative"}
	}
	if o.JournalSync < 0 && o.JournalSync != JournalSyncEveryWrite {
		return &OptionError{"JournalSync", o.JournalSync, "must be 0, positive or JournalSyncEveryWrite"}
	}
	if o.WriteThrough {
		return &OptionError{"Journal", o.Journal, "cannot be combined with WriteThrough, which buffers nothing to journal"}
	}
	return nil
}

// journalSync serves fsync from the journal with Options.JournalFsync:
// the handle's pending error first, then the journal is made durable.
// done is false when fsync must go to the backend as usual.
func (h *handle) journalSync() (done bool, err error) {
	f := h.n.fs
	if f.journal == nil || !f.opts.JournalFsync || !h.buffered {
		return false, nil
	}
	h.n.mu.Lock()
	err = h.takeErr()
	h.n.mu.Unlock()
	if err != nil {
		return true, err
	}
	return true, f.journal.sync()
}

func (f *FS) journalStats(s *Stats) {
	if f.journal == nil {
		return
	}
	r := f.replayed
	s.Journal = JournalStats{
		ReplayedFiles: r.files,
		ReplayedBytes: r.bytes,
		DroppedFiles:  r.dropped,
		Conflicts:     slices.Clone(r.conflicts),
		TornBytes:     r.torn,
		TornError:     r.tornErr,
	}
	s.Journal.Bytes, s.Journal.Waits = f.journal.stats()
}
