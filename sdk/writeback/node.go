package writeback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// node is the write-back state of one open file, shared by every handle
// opened on it through the same name (and kept by rename and unlink).
type node struct {
	fs *FS

	mu   sync.Mutex
	cond *sync.Cond // on mu; broadcast whenever a waiter's condition may have changed

	// Everything below is guarded by mu, except where noted.

	// name is the file's current name; "" once unlinked or renamed over.
	// Written with fs.mu held as well.
	name string
	// refs counts open handles plus Opens in progress that pinned the node.
	refs    int
	handles map[*handle]struct{}
	// rf and wf are the backend files used to read and to write back; they
	// may be the same file. files lists every backend file the node owns,
	// closed when the node retires.
	rf, wf sdk.File
	files  []sdk.File
	// attr is the last attribute set read from the backend, for fstat of an
	// unlinked file whose backend file cannot stat itself.
	attr sdk.Attr

	buf dirtyBuf
	// flight holds the chunks workers are writing back, in the order they
	// were taken; they never overlap, and their bytes stay readable here
	// until the backend has them.
	flight  []*chunk
	directs []span // unbuffered writes under way
	// dirty is the bytes of buf's pages, plus what the chunks in flight
	// hold, plus writers' reservations: the per-file count
	// MaxDirtyPerFile bounds.
	dirty int64

	// owned is set while the node is the authority on size and mtime: from
	// the first buffered write until write-back has sent every byte and set
	// the backend's mtime. size is valid when sizeValid; sizeEpoch counts
	// size changes made behind the buffer (unbuffered writes, truncates),
	// so that a size read from the backend without the lock is not stored
	// over a newer one.
	owned      bool
	size       int64
	sizeValid  bool
	sizeEpoch  uint64
	mtime      time.Time
	gen        uint64 // bumped by every buffered change, to detect writes during setMtime
	dirtySince time.Time

	workers    int  // workers sending this node's chunks or setting its mtime
	gate       int  // flushes and truncates in progress; buffered writes wait while > 0
	flushers   int  // drains waiting; they let a failed node be retried
	throttled  int  // writers waiting for the file to get under MaxDirtyPerFile
	truncating bool // stops the workers after their current chunks
	failed     bool // the last write-back failed; only a flush or the age tick retries
	failedAt   time.Time
	lastErr    error
	// failSeq counts the node's write-back failures and repairedSeq is
	// failSeq when the failures were last repaired (repairedLocked): the
	// node is failing while they differ. Each handle remembers the failSeq
	// it has reported (errseq style). Written under mu; read without it
	// by writers throttled on the FS's limit.
	failSeq, repairedSeq atomic.Uint64
	retired              bool
	// failLo is the lowest offset of data whose write-back failed since
	// the failures were last repaired (noFailure when none): a truncate to
	// at most it drops every failed byte. A failure to set the mtime
	// counts as offset 0.
	failLo int64
	// noSpace is set when a write-back failed for lack of space in the
	// backend (ENOSPC, EDQUOT, EFBIG): the file's writes then go through
	// to the backend, which refuses them at write(2) instead of this
	// layer acknowledging more data it cannot place. Cleared with the
	// failure (repairedLocked).
	noSpace bool
	// attempts counts the tries of the file's write-back that failed with
	// a temporary error in a row; retryAt is when the next may start, and
	// retryTimer queues the node then. Workers do not wait through the
	// backoff: other files are written back meanwhile.
	attempts   int
	retryAt    time.Time
	retryTimer *time.Timer
	// held is the part of FS.failedHeld this node accounts for: its dirty
	// count when its write-back last failed, zero once repaired.
	held int64
	// dropped is set once the node's buffered data was thrown away because
	// nobody can read it any more (its file was unlinked and its last
	// handle closed): chunks that were in flight and fail are not put
	// back.
	dropped bool

	queued bool // guarded by fs.qMu, not mu
}

// span is a byte range [off, end).
type span struct{ off, end int64 }

// chunk is a piece of a file being written back.
type chunk struct {
	extent        // data is a slice of buf
	buf    []byte // from FS.chunks, given back when the chunk is done
	// acct is the part of the dirty counts the chunk holds until it is
	// done: the pages its bytes were taken from.
	acct int64
}

func (s span) overlaps(off, end int64) bool { return s.off < end && off < s.end }

func newNode(f *FS, name string) *node {
	n := &node{fs: f, name: name, handles: make(map[*handle]struct{}), buf: newDirtyBuf(f.pages), failLo: noFailure}
	n.cond = sync.NewCond(&n.mu)
	return n
}

func (n *node) setName(name string) {
	n.mu.Lock()
	n.name = name
	n.mu.Unlock()
}

// wake lets every waiter recheck, after Close stopped the workers.
func (n *node) wake() {
	n.mu.Lock()
	n.cond.Broadcast()
	n.mu.Unlock()
}

// handle is one open of a node: what Open returns.
type handle struct {
	n        *node
	flags    int
	buffered bool
	writable bool
	datasync bool // O_DSYNC without O_SYNC

	// seen is the node's failSeq when the handle was opened or last
	// returned a write-back error. Written under n.mu.
	seen   atomic.Uint64
	closed bool // guarded by n.mu
}

var (
	_ sdk.File       = (*handle)(nil)
	_ sdk.Flusher    = (*handle)(nil)
	_ sdk.FileStater = (*handle)(nil)
)

// takeErr returns the node's last write-back error if the handle has not
// reported it yet, and marks it reported. A handle reports a failure that
// happened since it was opened or since it last reported one, errseq
// style, unless the failure has been repaired meanwhile (the data reached
// the backend after all, or was truncated or dropped): an error that no
// longer means anything is not returned to anyone who has not seen it
// yet. n.mu is held.
func (h *handle) takeErr() error {
	if !h.errPending() {
		return nil
	}
	h.seen.Store(h.n.failSeq.Load())
	return h.n.lastErr
}

// errPending reports whether takeErr has an error to return; it needs no
// lock.
func (h *handle) errPending() bool {
	seq := h.n.failSeq.Load()
	return seq != h.seen.Load() && seq != h.n.repairedSeq.Load()
}

// Open opens name in the backend and attaches the handle to the file's
// node, creating it on first open. O_APPEND and O_DIRECT are not passed to
// the backend: the SDK places appends, and direct I/O is this layer's
// business. A write-only open asks the backend for read-write access first
// (reads may be needed to serve the file), falling back to write-only.
func (f *FS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if f.isClosed() {
		return nil, ErrClosed
	}
	// Pin an existing node so it cannot retire while the backend opens.
	f.mu.Lock()
	pinned := f.names[name]
	if pinned != nil {
		pinned.mu.Lock()
		pinned.refs++
		pinned.mu.Unlock()
	}
	f.mu.Unlock()

	trunc := flags&oTrunc != 0
	bflags := flags &^ (oAppend | oDirect)
	if pinned != nil {
		// Truncating in the backend now could be undone by write-back in
		// flight: the node truncates instead, in order, once attached.
		bflags &^= oTrunc
	}
	acc := flags & oAccMode
	var bf sdk.File
	var err error
	if acc == oWronly {
		bf, err = f.backend.Open(ctx, name, bflags&^oAccMode|oRdwr, perm)
		if err == nil {
			acc = oRdwr
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			bf, err = f.backend.Open(ctx, name, bflags, perm)
		}
	} else {
		bf, err = f.backend.Open(ctx, name, bflags, perm)
	}
	if err != nil {
		if pinned != nil {
			pinned.unref()
		}
		return nil, err
	}

	h := &handle{
		flags:    flags,
		buffered: f.buffered(name, flags),
		writable: flags&oAccMode != oRdonly,
		datasync: flags&oDsync != 0 && flags&oSync != oSync,
	}
	f.mu.Lock()
	n := f.names[name]
	existed := n != nil
	switch {
	case n == nil:
		n = newNode(f, name)
		f.names[name] = n
		f.live[n] = struct{}{}
		n.mu.Lock()
		n.refs++
	case n == pinned:
		n.mu.Lock()
	default:
		// The pinned node was renamed or unlinked while the backend opened
		// name: the file opened is another one.
		n.mu.Lock()
		n.refs++
	}
	spare := n.addFile(bf, acc)
	h.n = n
	h.seen.Store(n.failSeq.Load())
	n.handles[h] = struct{}{}
	n.mu.Unlock()
	f.mu.Unlock()
	if pinned != nil && pinned != n {
		pinned.unref()
	}
	if spare != nil {
		if cerr := spare.Close(); cerr != nil {
			f.noteOrphan(name, fmt.Errorf("writeback: closing a spare backend handle of %q: %w", name, cerr))
		}
	}
	if trunc && h.writable && (existed || pinned != nil) {
		if err := n.truncate(ctx, 0); err != nil {
			_ = h.Close()
			return nil, err
		}
	}
	return h, nil
}

// addFile keeps bf if the node lacks the access it gives and returns it
// otherwise, for the caller to close. n.mu is held.
func (n *node) addFile(bf sdk.File, acc int) sdk.File {
	keep := false
	if acc != oWronly && n.rf == nil {
		n.rf, keep = bf, true
	}
	if acc != oRdonly && n.wf == nil {
		n.wf, keep = bf, true
	}
	if !keep {
		return bf
	}
	n.files = append(n.files, bf)
	return nil
}

// unref drops a pin taken by an Open that failed or went elsewhere.
func (n *node) unref() {
	n.mu.Lock()
	n.refs--
	n.mu.Unlock()
	_ = n.fs.maybeRetire(n)
}

// overlay is a node's view of size and times, taken under its lock.
type overlay struct {
	n     *node
	owned bool
	size  int64
	dirty int64
	mtime time.Time
}

func (n *node) attrOverlay() overlay {
	n.mu.Lock()
	defer n.mu.Unlock()
	return overlay{n: n, owned: n.owned, size: n.size, dirty: n.dirty, mtime: n.mtime}
}

// apply puts the buffered size and times over backend attributes.
func (o overlay) apply(a *sdk.Attr) {
	if !o.owned {
		return
	}
	a.Size = o.size
	// What the backend has allocated plus what is buffered. A sparse file
	// keeps reporting few blocks; zero would tell the SDK "unknown" and it
	// would derive the blocks from the size, as if every hole were data.
	a.Blocks += (o.dirty + 511) / 512
	if a.Blocks == 0 && a.Size > 0 {
		a.Blocks = 1
	}
	a.Mtime = o.mtime
	if a.Ctime.Before(o.mtime) {
		a.Ctime = o.mtime
	}
}

// Stat (fstat) reports the backend file's attributes with the buffered size
// and times. The SDK places O_APPEND writes at the Size it returns.
func (h *handle) Stat(ctx context.Context) (sdk.Attr, error) {
	n := h.n
	if n.fs.isClosed() {
		return sdk.Attr{}, ErrClosed
	}
	ov := n.attrOverlay()
	a, err := n.backendAttr(ctx)
	if err != nil {
		return a, err
	}
	ov.apply(&a)
	return a, nil
}

// backendAttr stats the backend file, through the open file when it can,
// by name otherwise, and from the last answer once the file has no name.
func (n *node) backendAttr(ctx context.Context) (sdk.Attr, error) {
	n.mu.Lock()
	bf := n.rf
	if bf == nil {
		bf = n.wf
	}
	name := n.name
	n.mu.Unlock()
	var a sdk.Attr
	var err error
	switch st, ok := bf.(sdk.FileStater); {
	case ok:
		a, err = st.Stat(ctx)
	case name != "":
		a, err = n.fs.backend.Stat(ctx, name)
	default:
		n.mu.Lock()
		a = n.attr
		n.mu.Unlock()
		if a.Mode == 0 {
			return a, errNoName
		}
		return a, nil
	}
	if err == nil {
		n.mu.Lock()
		n.attr = a
		n.mu.Unlock()
	}
	return a, err
}

// ReadAt serves buffered bytes merged over the backend's. An unbuffered
// handle first writes back the buffered data at or past off, then reads the
// backend alone.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n := h.n
	if n.fs.isClosed() {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("writeback: read at negative offset %d: %w", off, fs.ErrInvalid)
	}
	n.mu.Lock()
	if !h.buffered && n.pendingFrom(off) {
		// Data past the range counts too: it sets the size, and the
		// backend would report an early end of file without it. If the
		// write-back fails, the merged read below is still right.
		_ = n.drainLocked(ctx)
	}
	if !n.owned {
		rf := n.rf
		n.mu.Unlock()
		if rf == nil {
			return 0, errNotReadable
		}
		return rf.ReadAt(ctx, p, off)
	}
	size := n.size
	if off >= size {
		n.mu.Unlock()
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), size-off))
	end := off + int64(want)
	// Copies are taken under the lock and applied after the backend read:
	// a chunk written back meanwhile is then either in the copy or already
	// in the backend, never in neither.
	var pieces []extent
	for _, c := range n.flight {
		if lo, hi := max(off, c.off), min(end, c.end()); lo < hi {
			pieces = append(pieces, extent{off: lo, data: append([]byte(nil), c.data[lo-c.off:hi-c.off]...)})
		}
	}
	buffered := n.buf.snapshot(off, end)
	pieces = append(pieces, buffered...)
	rf := n.rf
	n.mu.Unlock()

	q := p[:want]
	var covered int
	for _, e := range buffered {
		covered += len(e.data)
	}
	if covered < want {
		if rf == nil {
			return 0, errNotReadable
		}
		m, err := readFull(ctx, rf, q, off)
		if err != nil {
			return 0, err
		}
		clear(q[m:]) // past the backend's end, below the buffered size: a hole
	}
	for _, e := range pieces {
		overlayOne(off, q, e.off, e.data)
	}
	if want < len(p) {
		return want, io.EOF
	}
	return want, nil
}

// readFull reads until p is full or the backend's file ends.
func readFull(ctx context.Context, f sdk.File, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.ReadAt(ctx, p[n:], off+int64(n))
		n += m
		if errors.Is(err, io.EOF) || (err == nil && m == 0) {
			break
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pendingFrom reports whether buffered or in-flight data lies at or past
// off; n.mu is held.
func (n *node) pendingFrom(off int64) bool {
	for _, c := range n.flight {
		if c.end() > off {
			return true
		}
	}
	return n.buf.end() > off
}

// pendingIn reports whether buffered or in-flight data overlaps [off, end);
// n.mu is held.
func (n *node) pendingIn(off, end int64) bool {
	return n.flightOverlaps(off, end) || n.buf.overlaps(off, end)
}

// flightOverlaps reports whether a chunk in flight overlaps [off, end);
// n.mu is held.
func (n *node) flightOverlaps(off, end int64) bool {
	for _, c := range n.flight {
		if c.off < end && off < c.end() {
			return true
		}
	}
	return false
}

// WriteAt buffers p (or, for an unbuffered handle, writes it through). It
// first returns the handle's unreported write-back error, if any, without
// writing. A buffered write blocks while the file or the whole FS is at its
// dirty limit, and while an unbuffered write overlapping it is under way.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	n := h.n
	f := n.fs
	if f.isClosed() {
		return 0, ErrClosed
	}
	if !h.writable {
		return 0, errNotWritable
	}
	if off < 0 {
		return 0, fmt.Errorf("writeback: write at negative offset %d: %w", off, fs.ErrInvalid)
	}
	n.mu.Lock()
	if err := h.takeErr(); err != nil {
		n.mu.Unlock()
		return 0, err
	}
	if len(p) == 0 {
		n.mu.Unlock()
		return 0, nil
	}
	if !h.buffered || n.noSpace {
		// After a write-back failed for lack of space, the file's writes
		// are not acknowledged before the backend has them.
		return h.writeThrough(ctx, p, off)
	}
	end := off + int64(len(p))
	// Every page the write touches may be new.
	ps := n.buf.ps
	want := (end+ps-1)/ps*ps - off/ps*ps

	// Reserve the pages against the file's limit, then the FS's. The
	// reservation counts as dirty at once, so limits hold with concurrent
	// writers; the pages the write does not take (they were buffered
	// already) are given back.
	for n.dirty > 0 && n.dirty+want > f.opts.MaxDirtyPerFile {
		if f.stopped.Load() {
			n.mu.Unlock()
			return 0, ErrClosed
		}
		f.stats.throttleWaits.Add(1)
		n.throttled++
		n.kickLocked()
		n.cond.Wait()
		n.throttled--
		if err := h.takeErr(); err != nil {
			n.mu.Unlock()
			return 0, err
		}
	}
	n.dirty += want
	n.mu.Unlock()

	through, err := f.reserve(ctx, want, h)
	if err != nil {
		n.mu.Lock()
		n.dirty -= want
		if errors.Is(err, errHandleFailed) {
			err = h.takeErr()
		}
		n.cond.Broadcast()
		n.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return 0, err
	}
	if through {
		// The backend is short of space: what it cannot hold is refused
		// now, by write(2), rather than acknowledged and lost later. The
		// file's buffered data goes first, so that the write cannot take
		// the space it was admitted for.
		n.mu.Lock()
		n.dirty -= want
		n.cond.Broadcast()
		if err := n.drainLocked(ctx); err != nil {
			if e := h.takeErr(); e != nil {
				err = e
			}
			n.mu.Unlock()
			return 0, err
		}
		return h.writeThrough(ctx, p, off)
	}

	n.mu.Lock()
	for {
		if n.gate > 0 || n.directOverlaps(off, end) {
			if f.stopped.Load() {
				n.dirty -= want
				n.mu.Unlock()
				f.release(want)
				return 0, ErrClosed
			}
			n.cond.Wait()
			continue
		}
		if !n.sizeValid {
			if err := n.loadSizeLocked(ctx); err != nil {
				n.dirty -= want
				n.cond.Broadcast()
				n.mu.Unlock()
				f.release(want)
				return 0, err
			}
			continue // the lock was dropped: check again
		}
		break
	}
	_, pages := n.buf.write(off, p)
	unused := want - pages*ps
	n.dirty -= unused
	now := time.Now()
	if n.dirtySince.IsZero() {
		n.dirtySince = now
	}
	n.owned = true
	n.size = max(n.size, end)
	n.mtime = now
	n.gen++
	// Workers already on the file take the new data in their loop. A
	// writer throttled on the file waits for this data to be sent.
	kick := (n.buf.len() >= int64(f.opts.ChunkSize) || n.throttled > 0) && n.workers < f.opts.InFlightPerFile
	n.mu.Unlock()
	if f.release(unused) > f.opts.MaxDirty/2 {
		kick = true // past the background threshold: start writing back now
	}
	if kick {
		f.enqueue(n)
	}
	return len(p), nil
}

// directOverlaps reports whether an unbuffered write overlapping [off,end)
// is under way; n.mu is held.
func (n *node) directOverlaps(off, end int64) bool {
	for _, s := range n.directs {
		if s.overlaps(off, end) {
			return true
		}
	}
	return false
}

// loadSizeLocked reads the backend's size before the node starts owning
// it. n.mu is held and dropped meanwhile; a size change made while the
// lock was dropped wins over the value read.
func (n *node) loadSizeLocked(ctx context.Context) error {
	epoch := n.sizeEpoch
	n.mu.Unlock()
	a, err := n.backendAttr(ctx)
	n.mu.Lock()
	if err != nil {
		return err
	}
	if !n.sizeValid && n.sizeEpoch == epoch {
		n.size, n.sizeValid = a.Size, true
	}
	return nil
}

// writeThrough writes p to the backend at once, ordered with the buffer:
// buffered data overlapping the range is written back first, and buffered
// writes overlapping it wait until it is done. n.mu is held on entry and
// released.
func (h *handle) writeThrough(ctx context.Context, p []byte, off int64) (int, error) {
	n := h.n
	f := n.fs
	end := off + int64(len(p))
	for n.pendingIn(off, end) {
		if err := n.drainLocked(ctx); err != nil {
			// Writing now could be undone when the older buffered data is
			// retried: refuse instead.
			if e := h.takeErr(); e != nil {
				err = e
			}
			n.mu.Unlock()
			return 0, err
		}
	}
	s := span{off, end}
	n.directs = append(n.directs, s)
	wf := n.wf
	n.mu.Unlock()

	var m int
	var err error
	if wf == nil {
		err = errNotWritable
	} else {
		m, err = wf.WriteAt(ctx, p, off)
		if err == nil && h.flags&(oSync|oDsync) != 0 {
			err = wf.Sync(ctx, h.datasync)
		}
	}

	n.mu.Lock()
	for i, d := range n.directs {
		if d == s {
			n.directs = append(n.directs[:i], n.directs[i+1:]...)
			break
		}
	}
	if m > 0 {
		f.sent.Add(int64(m))
		n.sizeEpoch++
		if n.sizeValid {
			n.size = max(n.size, off+int64(m))
		}
		if n.owned {
			n.mtime = time.Now()
			n.gen++
		}
	}
	n.cond.Broadcast()
	n.mu.Unlock()
	return m, err
}

// Truncate sets the size in order with the buffered data; see node.truncate.
func (h *handle) Truncate(ctx context.Context, size int64) error {
	if h.n.fs.isClosed() {
		return ErrClosed
	}
	return h.n.truncate(ctx, size)
}

// truncate stops write-back of the node after its current chunks, waits for
// them and for unbuffered writes, truncates the backend, and only
// then drops the buffered bytes past size: nothing in flight can resurrect
// them, and a failed truncate loses nothing. Buffered writes wait
// meanwhile.
func (n *node) truncate(ctx context.Context, size int64) error {
	if size < 0 {
		return fmt.Errorf("writeback: truncate to negative size %d: %w", size, fs.ErrInvalid)
	}
	f := n.fs
	n.mu.Lock()
	n.gate++
	n.truncating = true
	for (n.workers > 0 || len(n.flight) > 0 || len(n.directs) > 0) && !f.stopped.Load() {
		n.cond.Wait()
	}
	wf, name := n.wf, n.name
	n.mu.Unlock()

	var err error
	switch {
	case wf != nil:
		err = wf.Truncate(ctx, size)
	case name != "":
		err = f.backend.Truncate(ctx, name, size)
	default:
		err = errNoName
	}

	n.mu.Lock()
	var freed int64
	if err == nil {
		_, pages := n.buf.truncate(size)
		freed = pages * n.buf.ps
		n.dirty -= freed
		n.sizeEpoch++
		if n.sizeValid {
			n.size = size
		}
		if n.failLo != noFailure && size <= n.failLo {
			// Every byte whose write-back failed is gone with the truncate.
			n.repairedLocked()
		}
		if n.owned {
			if n.buf.empty() {
				// The backend has every byte and set its own mtime.
				n.owned, n.sizeValid = false, false
				n.dirtySince = time.Time{}
			} else {
				n.mtime = time.Now()
				n.gen++
			}
		}
	}
	n.truncating = false
	n.gate--
	more := !n.buf.empty()
	n.cond.Broadcast()
	n.mu.Unlock()
	f.release(freed)
	if more {
		f.enqueue(n)
	}
	return err
}

// Flush is called at every close(2): it writes the file's buffered data
// back, waits for it, and returns the first write-back error this handle
// has not reported yet, then the backend file's own Flush error, if any.
func (h *handle) Flush(ctx context.Context) error {
	n := h.n
	if n.fs.isClosed() {
		return ErrClosed
	}
	n.mu.Lock()
	derr := n.drainLocked(ctx)
	err := h.takeErr()
	if !h.writable {
		// A reader's close(2) does not fail for data others wrote: they
		// hear of it, and fsync on this handle would too.
		err = nil
	}
	wf := n.wf
	n.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		err = derr
	}
	if fl, ok := wf.(sdk.Flusher); ok && err == nil {
		err = fl.Flush(ctx)
	}
	return err
}

// Sync (fsync) writes the file's buffered data back, waits for it and then
// syncs the backend file: a durability barrier to the backend, not to this
// buffer. It returns the handle's first unreported write-back error first.
func (h *handle) Sync(ctx context.Context, datasync bool) error {
	n := h.n
	if n.fs.isClosed() {
		return ErrClosed
	}
	n.mu.Lock()
	derr := n.drainLocked(ctx)
	err := h.takeErr()
	bf := n.wf
	if bf == nil {
		bf = n.rf
	}
	n.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		err = derr
	}
	if err != nil {
		return err
	}
	return bf.Sync(ctx, datasync)
}

// Close is the release of the handle. The last handle's Close writes back
// what is still buffered (Flush normally did already) and waits for it;
// once the node has nothing left it closes the backend files. If the
// write-back fails the data stays buffered, the node lives on and the age
// flusher retries; the error is returned here, by SyncFS and in Stats.
func (h *handle) Close() error {
	n := h.n
	f := n.fs
	n.mu.Lock()
	if h.closed {
		n.mu.Unlock()
		return fmt.Errorf("writeback: handle closed twice: %w", fs.ErrClosed)
	}
	h.closed = true
	delete(n.handles, h)
	n.refs--
	var err error
	if n.refs == 0 && n.name == "" {
		// The file was unlinked: once its last handle is gone nobody can
		// read what is buffered, so it is dropped, not written back.
		n.mu.Unlock()
		if dropped, err := f.forget(f.ctx, n); dropped {
			return err
		}
		n.mu.Lock()
	}
	if n.refs == 0 && !f.stopped.Load() {
		err = n.drainLocked(f.ctx)
	}
	n.mu.Unlock()
	return errors.Join(err, f.maybeRetire(n))
}

// forget drops the buffered data of a node that has neither a name nor a
// handle (its file was unlinked or renamed over, and closed), then retires
// it, which closes its backend files and so frees the backend's space. The
// kernel does the same with the dirty pages of an unlinked inode at its
// last close. A backend file that still has a link (a hard link made in
// the backend) keeps its data: it is written back as usual.
func (f *FS) forget(ctx context.Context, n *node) (dropped bool, err error) {
	n.mu.Lock()
	if n.refs > 0 || n.name != "" || n.retired {
		n.mu.Unlock()
		return false, nil
	}
	bf := n.rf
	if bf == nil {
		bf = n.wf
	}
	n.mu.Unlock()
	if f.stillLinked(ctx, bf) {
		return false, nil
	}
	n.mu.Lock()
	var freed int64
	if n.refs == 0 && n.name == "" {
		freed, dropped = n.dropLocked(), true
	}
	n.mu.Unlock()
	f.release(freed)
	return dropped, f.maybeRetire(n)
}

// stillLinked reports whether the backend file bf, whose name was removed,
// has another link. Only a backend that can make hard links can have one,
// and only its fstat can tell.
func (f *FS) stillLinked(ctx context.Context, bf sdk.File) bool {
	if _, ok := f.backend.(sdk.Linker); !ok {
		return false
	}
	st, ok := bf.(sdk.FileStater)
	if !ok {
		return false
	}
	a, err := st.Stat(ctx)
	return err == nil && a.Nlink > 0
}

// drain writes back everything buffered and waits for it.
func (n *node) drain(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.drainLocked(ctx)
}

// drainLocked writes back everything buffered on the node and waits until
// it is on the backend or a write-back of it failed (that error is
// returned; it was also delivered to the handles). New buffered writes wait
// meanwhile, so a steady writer cannot starve it. n.mu is held; it is
// dropped while waiting.
func (n *node) drainLocked(ctx context.Context) error {
	if n.clean() {
		return nil
	}
	f := n.fs
	n.gate++
	n.flushers++
	n.failed = false
	start := n.failSeq.Load()
	stop := context.AfterFunc(ctx, n.wake)
	defer stop()
	var err error
	for {
		if n.failSeq.Load() != start {
			err = n.lastErr
			break
		}
		if n.clean() {
			break
		}
		if err = ctx.Err(); err != nil {
			break
		}
		if f.stopped.Load() {
			err = ErrClosed
			break
		}
		n.kickLocked()
		n.cond.Wait()
	}
	n.gate--
	n.flushers--
	n.cond.Broadcast()
	return err
}

// kickLocked queues the node for a worker if a chunk can be sent now.
// Otherwise the workers on the file are sending and take the rest as their
// chunks complete; queueing it again would only make a worker spin. n.mu is
// held.
func (n *node) kickLocked() {
	if _, ok := n.nextChunk(); ok && len(n.flight) < n.fs.opts.InFlightPerFile {
		n.fs.enqueue(n)
	}
}

// clean reports whether nothing is buffered, in flight or being finished
// by a worker; n.mu is held.
func (n *node) clean() bool {
	return n.buf.empty() && len(n.flight) == 0 && n.workers == 0
}

// recordFailureLocked makes err sticky: every open handle will return it
// once unless it is repaired first, drains waiting now return it, and
// background write-back of the node pauses until a flush or the age tick.
// n.mu is held.
func (n *node) recordFailureLocked(err *WriteBackError) {
	n.lastErr = err
	n.failSeq.Add(1)
	n.failed = true
	n.failedAt = time.Now()
	if err.Len > 0 {
		n.failLo = min(n.failLo, err.Off)
	} else {
		n.failLo = 0
	}
	if isNoSpace(err.Err) {
		n.noSpace = true
	}
	n.fs.setHeldLocked(n, n.dirty)
	n.cond.Broadcast()
}

// noFailure is node.failLo when no failed data is pending.
const noFailure = math.MaxInt64

// isNoSpace reports whether err says the backend has no room for the data.
func isNoSpace(err error) bool {
	switch sdk.Errno(err) {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return true
	}
	return false
}

// repairedLocked ends the node's failure: every byte whose write-back
// failed has reached the backend since, or was truncated or dropped. The
// node's write-back runs in the background again and its writes are
// buffered again. n.mu is held.
func (n *node) repairedLocked() {
	n.fs.setHeldLocked(n, 0)
	n.repairedSeq.Store(n.failSeq.Load())
	n.failed = false
	n.noSpace = false
	n.failLo = noFailure
}

// dropLocked throws the buffered data away, for a node nobody can read any
// more, and returns the bytes of dirty accounting it gave back (the caller
// releases them from the FS). Chunks in flight finish on their own. n.mu
// is held.
func (n *node) dropLocked() int64 {
	freed := n.buf.pageCount() * n.buf.ps
	n.buf.release()
	n.dirty -= freed
	n.dropped = true
	n.owned, n.sizeValid = false, false
	n.dirtySince = time.Time{}
	n.repairedLocked()
	n.cond.Broadcast()
	return freed
}

// maybeRetire removes a node that has no handles and nothing buffered, and
// closes its backend files.
func (f *FS) maybeRetire(n *node) error {
	f.mu.Lock()
	n.mu.Lock()
	if n.retired || n.refs > 0 || !n.clean() || n.dirty > 0 || len(n.directs) > 0 || n.gate > 0 {
		n.mu.Unlock()
		f.mu.Unlock()
		return nil
	}
	n.retired = true
	if n.name != "" && f.names[n.name] == n {
		delete(f.names, n.name)
	}
	delete(f.live, n)
	files, name := n.files, n.name
	n.files, n.rf, n.wf = nil, nil, nil
	n.mu.Unlock()
	f.mu.Unlock()
	var errs []error
	for _, bf := range files {
		if err := bf.Close(); err != nil {
			err = fmt.Errorf("writeback: closing the backend file of %q: %w", name, err)
			f.noteOrphan(name, err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shutdown closes a node's backend files at Close, after the workers
// stopped, and gives its buffer back.
func (n *node) shutdown() error {
	n.mu.Lock()
	if n.retryTimer != nil {
		n.retryTimer.Stop()
	}
	n.buf.release()
	files := n.files
	n.files, n.rf, n.wf = nil, nil, nil
	n.retired = true
	n.mu.Unlock()
	var errs []error
	for _, bf := range files {
		if err := bf.Close(); err != nil && !errors.Is(err, fs.ErrClosed) && !errors.Is(err, syscall.EBADF) {
			errs = append(errs, fmt.Errorf("writeback: closing a backend file at Close: %w", err))
		}
	}
	return errors.Join(errs...)
}
