package writeback

import (
	"errors"
	"io"
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
// every file, as the kernel's balance_dirty_pages does.
func (f *FS) reserve(want int64, h *handle) error {
	f.acctMu.Lock()
	kicked := false
	for f.dirty > 0 && f.dirty+want > f.opts.MaxDirty {
		if h.hasErr.Load() {
			f.acctMu.Unlock()
			return errHandleFailed
		}
		if f.stopped.Load() {
			f.acctMu.Unlock()
			return ErrClosed
		}
		if !kicked {
			kicked = true
			f.acctMu.Unlock()
			for _, n := range f.liveNodes() {
				f.enqueue(n)
			}
			f.acctMu.Lock()
			continue
		}
		f.stats.throttleWaits.Add(1)
		f.acctCond.Wait()
	}
	f.dirty += want
	f.acctMu.Unlock()
	return nil
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

// writeBack sends a node's buffered data to the backend in offset order,
// one chunk at a time, then sets the backend's mtime to that of the last
// buffered write so that stat never goes back in time.
func (f *FS) writeBack(n *node) {
	n.mu.Lock()
	if n.running || n.truncating || n.retired || (n.failed && n.flushers == 0) {
		n.mu.Unlock()
		return
	}
	n.running = true
	var failure *WriteBackError
	requeue := false
	for sent := 0; !n.truncating; sent++ {
		if sent == chunksPerTurn {
			requeue = true
			break
		}
		c, ok := n.ext.takeChunk(f.opts.ChunkSize)
		if !ok {
			break
		}
		n.inflight = &c
		wf, name := n.wf, n.name
		n.mu.Unlock()
		err := f.writeChunk(wf, c)
		n.mu.Lock()
		n.inflight = nil
		size := int64(len(c.data))
		if err != nil {
			// Put the chunk back under whatever was written meanwhile: the
			// data stays buffered until the error is reported and a later
			// write-back succeeds.
			grown := n.ext.fillHoles(c.off, c.data)
			n.dirty -= size - grown
			f.release(size - grown)
			failure = &WriteBackError{Name: name, Off: c.off, Len: len(c.data), Err: err}
			break
		}
		n.dirty -= size
		f.release(size)
		f.stats.written.Add(size)
		n.cond.Broadcast() // writers throttled on the per-file limit
	}
	if failure == nil && n.owned && n.ext.empty() && !n.truncating {
		if err := f.setMtime(n); err != nil {
			failure = &WriteBackError{Name: n.name, Err: err}
		}
	}
	if n.ext.empty() {
		n.dirtySince = time.Time{}
	}
	if failure != nil {
		// OnError hears of the failure before anyone waiting for this
		// write-back does; running keeps the node to this worker meanwhile.
		n.mu.Unlock()
		f.tellError(failure.Name, failure)
		n.mu.Lock()
		f.recordError(failure.Name, failure)
		n.recordFailureLocked(failure)
	} else if !n.ext.empty() && !n.truncating {
		// Written while setMtime had the lock dropped: an enqueue then
		// found this worker running and left the data to it.
		requeue = true
	}
	n.running = false
	n.cond.Broadcast()
	n.mu.Unlock()
	if requeue {
		f.enqueue(n)
	}
	_ = f.maybeRetire(n)
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
	if err == nil && n.gen == gen && n.ext.empty() && n.inflight == nil {
		n.owned, n.sizeValid = false, false
	}
	return err
}

// writeChunk writes one chunk, retrying temporary errors with doubling
// backoff. It gives up early when Close stops the workers.
func (f *FS) writeChunk(wf sdk.File, c extent) error {
	if wf == nil {
		return errNotWritable
	}
	backoff := f.opts.RetryBackoff
	for attempt := 0; ; attempt++ {
		f.stats.inflight.Add(1)
		m, err := wf.WriteAt(f.ctx, c.data, c.off)
		f.stats.inflight.Add(-1)
		if err == nil && m < len(c.data) {
			err = io.ErrShortWrite
		}
		if err == nil {
			return nil
		}
		if !IsTemporary(err) || attempt >= f.opts.Retries {
			return err
		}
		f.stats.retries.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-f.stopFlusher:
			t.Stop()
			return err
		}
		backoff = min(2*backoff, f.opts.MaxBackoff)
	}
}

// flusher is the age-based write-back: files whose oldest buffered byte is
// older than MaxAge are written back although nobody asked, and files whose
// write-back failed are retried after MaxAge.
func (f *FS) flusher() {
	tick := min(max(f.opts.MaxAge/4, time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-f.stopFlusher:
			return
		case now := <-t.C:
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
