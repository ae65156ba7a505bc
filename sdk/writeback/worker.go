package writeback

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// chunksPerTurn is how many chunks a worker sends for one file before it
// puts the file back at the end of the queue, so a file that is written
// without pause cannot keep a worker from the others.
const chunksPerTurn = 16

// errHandleFailed tells a writer throttled on the global limit that its
// handle has an error to return.
var errHandleFailed = errors.New("writeback: handle has a pending error")

// reserve blocks until want more bytes fit under MaxDirty, then counts
// them. A write larger than the limit goes through when nothing else is
// buffered, so that it cannot wait forever. Waiting starts write-back of
// every file, as the kernel's balance_dirty_pages does. It returns through
// (and counts nothing) when the backend has too little free space for the
// data to be buffered: the write must go to the backend at once.
func (f *FS) reserve(ctx context.Context, want int64, h *handle) (through bool, err error) {
	f.acctMu.Lock()
	defer f.acctMu.Unlock()
	if !f.roomLocked(ctx, want) {
		return true, nil
	}
	if f.limitedLocked() > 0 && f.limitedLocked()+want > f.opts.MaxDirty {
		// Counted before the kick: the workers must see a writer waiting,
		// or they would keep the files' last partial chunks.
		f.pressure.Add(1)
		defer f.pressure.Add(-1)
		f.acctMu.Unlock()
		for _, n := range f.liveNodes() {
			f.enqueue(n)
		}
		f.acctMu.Lock()
		for f.limitedLocked() > 0 && f.limitedLocked()+want > f.opts.MaxDirty {
			if h.errPending() {
				return false, errHandleFailed
			}
			if f.stopped.Load() {
				return false, ErrClosed
			}
			f.stats.throttleWaits.Add(1)
			f.acctCond.Wait()
		}
	}
	f.dirty += want
	return false, nil
}

// limitedLocked is the part of the dirty count MaxDirty limits: all of
// it but up to MaxDirty held by failing files. acctMu is held.
func (f *FS) limitedLocked() int64 {
	return f.dirty - min(f.failedHeld, f.opts.MaxDirty, f.dirty)
}

// setHeld makes the node's dirty count, or none, count as held by a
// failing file. n.mu is held.
func (f *FS) setHeldLocked(n *node, held int64) {
	if held == n.held {
		return
	}
	f.acctMu.Lock()
	f.failedHeld += held - n.held
	f.acctCond.Broadcast()
	f.acctMu.Unlock()
	n.held = held
}

// spaceRecheck is how often, at most, a write that the last StatFS says
// does not fit asks the backend again. Writes refused meanwhile go through
// to the backend, which costs each of them a backend call anyway.
const spaceRecheck = 100 * time.Millisecond

// roomLocked is the admission check: it reports whether the backend, by
// its last StatFS, has room for everything buffered plus want bytes, twice
// over (ext4 stops delaying allocation when free blocks fall under twice
// the dirty ones, for the same reason: data acknowledged to write(2) must
// fit when it is written back). The bytes written back since that StatFS
// (and written through) count as taken, which overestimates for rewrites, so a refusal is
// checked again with a fresh StatFS (at most every spaceRecheck). The
// answer is also refreshed once per tick of the age flusher. A backend
// whose StatFS fails or reports no capacity admits everything. acctMu is
// held; it is dropped while StatFS runs.
func (f *FS) roomLocked(ctx context.Context, want int64) bool {
	if !f.space.asked || f.spaceStale.Load() {
		f.refreshSpaceLocked(ctx)
	}
	if !f.space.known || f.fitsLocked(want) {
		return true
	}
	if time.Since(f.space.at) >= spaceRecheck {
		f.refreshSpaceLocked(ctx)
		return !f.space.known || f.fitsLocked(want)
	}
	return false
}

func (f *FS) fitsLocked(want int64) bool {
	free := f.space.avail - (f.sent.Load() - f.space.sent)
	return 2*(f.dirty+want) <= free
}

// refreshSpaceLocked asks the backend for its free space, unless another
// writer is already asking (its answer will do). acctMu is held and
// dropped meanwhile.
func (f *FS) refreshSpaceLocked(ctx context.Context) {
	if f.space.refreshing {
		return
	}
	f.space.refreshing = true
	f.spaceStale.Store(false)
	sent := f.sent.Load()
	f.acctMu.Unlock()
	st, err := f.backend.StatFS(ctx)
	f.acctMu.Lock()
	f.space.refreshing = false
	f.space.asked = true
	f.space.at = time.Now()
	unit := st.FragSize
	if unit == 0 {
		unit = st.BlockSize
	}
	f.space.known = err == nil && st.Blocks > 0 && unit > 0
	avail := uint64(math.MaxInt64 / 4)
	if unit > 0 && st.BlocksAvail < avail/unit {
		avail = st.BlocksAvail * unit
	}
	f.space.avail = int64(avail)
	f.space.sent = sent
}

// dirtyNow returns the FS's dirty count.
func (f *FS) dirtyNow() int64 {
	f.acctMu.Lock()
	defer f.acctMu.Unlock()
	return f.dirty
}

// release gives back n bytes and returns the new total.
func (f *FS) release(n int64) int64 {
	f.acctMu.Lock()
	defer f.acctMu.Unlock()
	if n != 0 {
		f.dirty -= n
		f.acctCond.Broadcast()
	}
	return f.dirty
}

// enqueue asks a worker to write n back, unless it is already queued.
func (f *FS) enqueue(n *node) {
	f.qMu.Lock()
	if !n.queued && !f.qStop {
		n.queued = true
		f.queue = append(f.queue, n)
		f.qCond.Signal()
	}
	f.qMu.Unlock()
}

func (f *FS) worker() {
	for {
		f.qMu.Lock()
		for len(f.queue) == 0 && !f.qStop {
			f.qCond.Wait()
		}
		if f.qStop {
			f.qMu.Unlock()
			return
		}
		n := f.queue[0]
		f.queue[0] = nil
		f.queue = f.queue[1:]
		n.queued = false
		f.qMu.Unlock()
		f.writeBack(n)
	}
}

// failLocked reports a write-back failure: OnError hears of it before anyone
// waiting for this write-back does (n.workers keeps the node from looking
// clean meanwhile), then the handles and waiters. n.mu is held on entry and
// on return, and dropped in between.
func (f *FS) failLocked(n *node, e *WriteBackError) {
	n.mu.Unlock()
	f.tellError(e.Name, e)
	n.mu.Lock()
	// The node first: writers throttled on the FS's limit, which
	// recordError wakes, look at its failSeq.
	n.recordFailureLocked(e)
	f.recordError(e.Name, e)
}

// writeBack sends a node's buffered data to the backend in offset order,
// one chunk at a time per worker. While it has a chunk in flight and the
// file has more to send, it queues the node again, so that another worker
// sends the next chunk meanwhile: up to InFlightPerFile chunks of one file
// are in flight at once, taken in offset order, never overlapping. The last
// worker to finish sets the backend's mtime to that of the last buffered
// write, so that stat never goes back in time.
func (f *FS) writeBack(n *node) {
	n.mu.Lock()
	if n.truncating || n.retired || (n.failed && n.flushers == 0) || n.backingOff() {
		n.mu.Unlock()
		return
	}
	n.workers++
	var failure *WriteBackError
	requeue, retrying := false, false
	for sent := 0; ; sent++ {
		if n.truncating || (n.failed && n.flushers == 0) || len(n.flight) >= f.opts.InFlightPerFile || n.backingOff() {
			break
		}
		if sent == chunksPerTurn {
			requeue = true
			break
		}
		s, ok := n.nextChunk()
		if !ok {
			break
		}
		c := &chunk{buf: f.chunks.get()}
		c.off, c.data = s.off, c.buf[:s.end-s.off]
		c.acct = n.buf.take(s, c.data) * n.buf.ps
		n.flight = append(n.flight, c)
		if len(n.flight) < f.opts.InFlightPerFile {
			if _, more := n.nextChunk(); more {
				f.enqueue(n)
			}
		}
		wf, name := n.wf, n.name
		n.mu.Unlock()
		err := f.writeChunk(wf, c.extent)
		n.mu.Lock()
		size := int64(len(c.data))
		if err != nil && n.dropped {
			// Nobody can read the file any more: the data goes, and so
			// does the error, which no application could act on.
			n.flight = slices.DeleteFunc(n.flight, func(x *chunk) bool { return x == c })
			n.dirty -= c.acct
			f.release(c.acct)
			f.chunks.put(c.buf)
			n.cond.Broadcast()
			break
		}
		if err != nil && IsTemporary(err) && n.attempts < f.opts.Retries && !f.stopped.Load() {
			// Retried after a backoff, from the queue: the worker goes on
			// to other files meanwhile.
			n.attempts++
			f.stats.retries.Add(1)
			n.flight = slices.DeleteFunc(n.flight, func(x *chunk) bool { return x == c })
			_, pages := n.buf.fillHoles(c.off, c.data)
			delta := pages*n.buf.ps - c.acct
			n.dirty += delta
			f.release(-delta)
			f.chunks.put(c.buf)
			backoff := min(f.opts.RetryBackoff<<(n.attempts-1), f.opts.MaxBackoff)
			if backoff <= 0 { // shifted past the int64 range
				backoff = f.opts.MaxBackoff
			}
			n.retryAt = time.Now().Add(backoff)
			if n.retryTimer != nil {
				n.retryTimer.Stop()
			}
			n.retryTimer = time.AfterFunc(backoff, func() { f.enqueue(n) })
			retrying = true
			n.cond.Broadcast()
			break
		}
		if err != nil {
			n.attempts = 0
			// Reported while the chunk is still in flight, so that no other
			// worker takes its range and sends it again (or succeeds and is
			// then marked failed) while the lock is dropped for OnError;
			// readers still see its bytes.
			failure = &WriteBackError{Name: name, Off: c.off, Len: len(c.data), Err: err}
			f.failLocked(n, failure)
			// Put the chunk back under whatever was written meanwhile: the
			// data stays buffered until a later write-back succeeds.
			n.flight = slices.DeleteFunc(n.flight, func(x *chunk) bool { return x == c })
			_, pages := n.buf.fillHoles(c.off, c.data)
			delta := pages*n.buf.ps - c.acct
			n.dirty += delta
			f.release(-delta)
			f.chunks.put(c.buf)
			break
		}
		n.attempts = 0
		n.flight = slices.DeleteFunc(n.flight, func(x *chunk) bool { return x == c })
		n.dirty -= c.acct
		f.release(c.acct)
		f.chunks.put(c.buf)
		f.stats.written.Add(size)
		f.sent.Add(size)
		n.cond.Broadcast() // throttled writers, drains, truncates
	}
	// The last worker out sets the mtime, again if a write came while it
	// had the lock dropped to do so.
	for failure == nil && !retrying && n.workers == 1 && len(n.flight) == 0 && n.owned && n.buf.empty() && !n.truncating {
		if err := f.setMtime(n); err != nil {
			failure = &WriteBackError{Name: n.name, Err: err}
			f.failLocked(n, failure)
		}
	}
	if n.buf.empty() && len(n.flight) == 0 {
		n.dirtySince = time.Time{}
		if failure == nil && !n.owned && n.failLo != noFailure {
			// Every byte that failed is on the backend now.
			n.repairedLocked()
		}
	}
	if failure == nil && !retrying && !n.truncating && n.workers == 1 {
		if _, more := n.nextChunk(); more {
			// Written while the lock was dropped, and no other worker is
			// on the file to take it: a writer's kick then may have found
			// this one busy and left the data to it.
			requeue = true
		}
	}
	n.workers--
	n.cond.Broadcast()
	n.mu.Unlock()
	if requeue {
		f.enqueue(n)
	}
	_ = f.maybeRetire(n)
}

// nextChunk returns the piece of the file to send next, if one should be
// sent now: none while it would overlap a chunk in flight (the file's
// bytes must reach the backend in the order they were written), and only
// a full chunk, or data that is not at the end of the buffer, unless
// someone waits for the data or it is old. A file written sequentially
// then goes to the backend in chunks of ChunkSize, and its last partial
// chunk at close. n.mu is held.
func (n *node) nextChunk() (span, bool) {
	s, ready, ok := n.buf.next(int64(n.fs.opts.ChunkSize))
	if !ok || n.flightOverlaps(s.off, s.end) {
		return span{}, false
	}
	return s, ready || n.urgent()
}

// urgent reports whether the node's data should go to the backend however
// little there is: someone waits for it (a flush, a writer throttled by
// either dirty limit), the FS is past its background threshold, or the
// data is older than MaxAge. n.mu is held.
func (n *node) urgent() bool {
	f := n.fs
	if n.flushers > 0 || n.throttled > 0 || f.pressure.Load() > 0 {
		return true
	}
	if !n.dirtySince.IsZero() && time.Since(n.dirtySince) >= f.opts.MaxAge {
		return true
	}
	return f.dirtyNow() > f.opts.MaxDirty/2
}

// setMtime gives the backend the mtime of the last buffered write, and
// hands size and times back to the backend if nothing was written
// meanwhile. n.mu is held on entry and on return, dropped in between; the
// name is read under nsMu so a rename cannot slip between reading and
// using it.
func (f *FS) setMtime(n *node) error {
	gen, mtime := n.gen, n.mtime
	n.mu.Unlock()
	f.nsMu.RLock()
	n.mu.Lock()
	name := n.name
	n.mu.Unlock()
	var err error
	if name != "" {
		err = f.backend.SetTimes(f.ctx, name, time.Time{}, mtime)
		if errors.Is(err, sdk.ErrNotSupported) {
			err = nil // the backend keeps its own times; they only move forward
		}
	}
	f.nsMu.RUnlock()
	n.mu.Lock()
	if err == nil && n.gen == gen && n.buf.empty() && len(n.flight) == 0 {
		n.owned, n.sizeValid = false, false
	}
	return err
}

// writeChunk writes one chunk, once; writeBack retries temporary errors.
func (f *FS) writeChunk(wf sdk.File, c extent) error {
	if wf == nil {
		return errNotWritable
	}
	f.stats.inflight.Add(1)
	m, err := wf.WriteAt(f.ctx, c.data, c.off)
	f.stats.inflight.Add(-1)
	if err == nil && m < len(c.data) {
		err = io.ErrShortWrite
	}
	return err
}

// backingOff reports whether the node waits for the retry of a chunk that
// failed with a temporary error; its timer queues it again. n.mu is held.
func (n *node) backingOff() bool {
	return !n.retryAt.IsZero() && time.Now().Before(n.retryAt)
}

// flusher is the age-based write-back: files whose oldest buffered byte is
// older than MaxAge are written back although nobody asked, and files whose
// write-back failed are retried after MaxAge. It also gives the buffers no
// write needed for a whole tick back to the Go runtime.
func (f *FS) flusher() {
	tick := min(max(f.opts.MaxAge/4, time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-f.stopFlusher:
			return
		case now := <-t.C:
			f.spaceStale.Store(true)
			f.pages.trim()
			f.chunks.trim()
			for _, n := range f.liveNodes() {
				n.mu.Lock()
				due := !n.dirtySince.IsZero() && now.Sub(n.dirtySince) >= f.opts.MaxAge
				if n.failed && now.Sub(n.failedAt) >= f.opts.MaxAge {
					n.failed = false
					due = true
				}
				n.mu.Unlock()
				if due {
					f.enqueue(n)
				}
			}
		}
	}
}
