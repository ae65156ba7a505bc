package writeback

import (
	"sort"
	"sync"
)

// pageSize is the unit buffered data is stored and counted in, as the
// kernel counts dirty pages: a write of one byte holds one page, and the
// dirty limits bound the pages held, so that they bound memory whatever
// the write pattern. Options with a ChunkSize below it use ChunkSize.
const pageSize = 4096

// bufPool is a free list of equal-sized byte buffers: the pages of every
// file's dirty buffer, and the chunk buffers write-back sends from. A
// steady stream of writes then reuses the same memory instead of asking the
// Go heap for fresh, zeroed pages (on these VMs a first touch costs about
// 11 µs per 4 KiB page, and the old growing buffers were the top of the
// profile: docs/performance.md, section 3). trim gives back buffers that
// stayed unused for a whole period, so memory returns to the runtime after
// a burst.
type bufPool struct {
	size int

	mu   sync.Mutex // a leaf: taken under node.mu, never with another leaf
	free [][]byte   // guarded by mu
	low  int        // guarded by mu: the fewest free buffers since the last trim
}

func newBufPool(size int) *bufPool { return &bufPool{size: size} }

// get returns a buffer of p.size bytes with arbitrary contents.
func (p *bufPool) get() []byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.low = min(p.low, n-1)
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return make([]byte, p.size)
}

// put gives buffers back. Nobody may use them afterwards.
func (p *bufPool) put(bufs ...[]byte) {
	p.mu.Lock()
	for _, b := range bufs {
		p.free = append(p.free, b[:p.size])
	}
	p.mu.Unlock()
}

// trim drops the buffers that nobody took since the previous trim and
// returns how many it dropped.
func (p *bufPool) trim() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.low
	keep := len(p.free) - n
	clear(p.free[keep:])
	p.free = p.free[:keep]
	p.low = keep
	return n
}

// extent is a copy of buffered bytes at off.
type extent struct {
	off  int64
	data []byte
}

func (e *extent) end() int64 { return e.off + int64(len(e.data)) }

// overlayOne copies the part of data (at doff) that falls in p (at off).
func overlayOne(off int64, p []byte, doff int64, data []byte) {
	lo := max(off, doff)
	hi := min(off+int64(len(p)), doff+int64(len(data)))
	if lo < hi {
		copy(p[lo-off:hi-off], data[lo-doff:hi-doff])
	}
}

// dirtyBuf is the dirty data of one file. runs says which bytes are
// buffered: byte ranges sorted by offset, never overlapping and never
// touching (touching runs are merged), so a file written sequentially is
// one run however many writes built it. The bytes themselves live in
// pages of ps bytes, page i holding file offsets [i*ps, (i+1)*ps); a page
// exists exactly while some run overlaps it. Bytes of a page outside every
// run are garbage and never read. It is plain data with no locking; the
// node's mutex guards it.
type dirtyBuf struct {
	pool  *bufPool
	ps    int64
	runs  []span
	pages map[int64][]byte
	bytes int64 // sum of the runs' lengths
}

func newDirtyBuf(pool *bufPool) dirtyBuf {
	return dirtyBuf{pool: pool, ps: int64(pool.size), pages: make(map[int64][]byte)}
}

// len reports the buffered byte count.
func (b *dirtyBuf) len() int64 { return b.bytes }

func (b *dirtyBuf) empty() bool { return len(b.runs) == 0 }

// end returns the end of the last run, or 0.
func (b *dirtyBuf) end() int64 {
	if len(b.runs) == 0 {
		return 0
	}
	return b.runs[len(b.runs)-1].end
}

// search returns the index of the first run whose end is >= off: the first
// one that overlaps or touches a range starting at off.
func (b *dirtyBuf) search(off int64) int {
	return sort.Search(len(b.runs), func(i int) bool { return b.runs[i].end >= off })
}

// used reports whether a run overlaps page pi.
func (b *dirtyBuf) used(pi int64) bool {
	lo := pi * b.ps
	i := sort.Search(len(b.runs), func(i int) bool { return b.runs[i].end > lo })
	return i < len(b.runs) && b.runs[i].off < lo+b.ps
}

// freePages gives back the pages of [lo, hi), a range no run holds any
// more, that no run overlaps, and returns how many.
func (b *dirtyBuf) freePages(lo, hi int64) int64 {
	if lo >= hi {
		return 0
	}
	var freed int64
	// Given back in batches: one pool lock per batch, not per page (a
	// written-back 1 MiB chunk frees 256 pages at once).
	var batch [64][]byte
	n := 0
	for pi := lo / b.ps; pi*b.ps < hi; pi++ {
		// A page inside [lo, hi) can overlap no run; only the two at its
		// ends may be shared with a neighbour.
		inside := pi*b.ps >= lo && (pi+1)*b.ps <= hi
		if pg, ok := b.pages[pi]; ok && (inside || !b.used(pi)) {
			delete(b.pages, pi)
			batch[n] = pg
			n++
			if n == len(batch) {
				b.pool.put(batch[:]...)
				clear(batch[:])
				n = 0
			}
			freed++
		}
	}
	if n > 0 {
		b.pool.put(batch[:n]...)
	}
	return freed
}

// write buffers a copy of p at off, replacing older data it overlaps and
// merging with runs it overlaps or touches. It returns how many bytes the
// buffer grew by and how many pages it took.
func (b *dirtyBuf) write(off int64, p []byte) (grown, pages int64) {
	if len(p) == 0 {
		return 0, 0
	}
	end := off + int64(len(p))
	i := b.search(off)
	j := i
	for j < len(b.runs) && b.runs[j].off <= end {
		j++
	}
	if i == j {
		b.runs = append(b.runs, span{})
		copy(b.runs[i+1:], b.runs[i:])
		b.runs[i] = span{off, end}
		grown = end - off
	} else {
		// The union is contiguous: every byte of it that no old run holds
		// is in p, so the pages below already exist where p does not reach.
		lo, hi := min(off, b.runs[i].off), max(end, b.runs[j-1].end)
		var old int64
		for k := i; k < j; k++ {
			old += b.runs[k].end - b.runs[k].off
		}
		b.runs[i] = span{lo, hi}
		b.runs = append(b.runs[:i+1], b.runs[j:]...)
		grown = (hi - lo) - old
	}
	b.bytes += grown
	for pi := off / b.ps; pi*b.ps < end; pi++ {
		pg, ok := b.pages[pi]
		if !ok {
			pg = b.pool.get()
			b.pages[pi] = pg
			pages++
		}
		base := pi * b.ps
		lo, hi := max(off, base), min(end, base+b.ps)
		copy(pg[lo-base:hi-base], p[lo-off:hi-off])
	}
	return grown, pages
}

// copyOut copies the buffered bytes [lo, hi), which must all be in runs,
// into dst, which starts at file offset dstOff.
func (b *dirtyBuf) copyOut(dst []byte, dstOff, lo, hi int64) {
	for pi := lo / b.ps; pi*b.ps < hi; pi++ {
		base := pi * b.ps
		l, h := max(lo, base), min(hi, base+b.ps)
		copy(dst[l-dstOff:h-dstOff], b.pages[pi][l-base:h-base])
	}
}

// fillHoles buffers the parts of data at off that no run covers, leaving
// newer buffered bytes alone. It puts back a chunk whose write-back failed,
// underneath whatever was written meanwhile. It returns the growth.
func (b *dirtyBuf) fillHoles(off int64, data []byte) (grown, pages int64) {
	end := off + int64(len(data))
	var holes []span
	pos := off
	for i := b.search(off); i < len(b.runs) && b.runs[i].off < end && pos < end; i++ {
		r := b.runs[i]
		if r.off > pos {
			holes = append(holes, span{pos, r.off})
		}
		pos = max(pos, r.end)
	}
	if pos < end {
		holes = append(holes, span{pos, end})
	}
	for _, h := range holes {
		g, p := b.write(h.off, data[h.off-off:h.end-off])
		grown += g
		pages += p
	}
	return grown, pages
}

// truncate drops every buffered byte at or past size and returns how many
// bytes and pages it dropped.
func (b *dirtyBuf) truncate(size int64) (freed, pages int64) {
	i := len(b.runs)
	for i > 0 && b.runs[i-1].off >= size {
		i--
	}
	dropped := append([]span(nil), b.runs[i:]...)
	b.runs = b.runs[:i]
	if i > 0 {
		if r := &b.runs[i-1]; r.end > size {
			dropped = append(dropped, span{size, r.end})
			r.end = size
		}
	}
	for _, r := range dropped {
		freed += r.end - r.off
		pages += b.freePages(r.off, r.end)
	}
	b.bytes -= freed
	return freed, pages
}

// overlaps reports whether any buffered byte lies in [off, end).
func (b *dirtyBuf) overlaps(off, end int64) bool {
	i := sort.Search(len(b.runs), func(i int) bool { return b.runs[i].end > off })
	return i < len(b.runs) && b.runs[i].off < end
}

// overlay copies the buffered bytes that fall in [off, off+len(p)) into p,
// leaving the rest of p as it is.
func (b *dirtyBuf) overlay(off int64, p []byte) {
	end := off + int64(len(p))
	for i := b.search(off); i < len(b.runs) && b.runs[i].off < end; i++ {
		lo, hi := max(off, b.runs[i].off), min(end, b.runs[i].end)
		if lo < hi {
			b.copyOut(p, off, lo, hi)
		}
	}
}

// snapshot returns copies of the buffered pieces in [off, end), for a
// reader that must apply them after reading the backend without the lock.
func (b *dirtyBuf) snapshot(off, end int64) []extent {
	var out []extent
	for i := b.search(off); i < len(b.runs) && b.runs[i].off < end; i++ {
		lo, hi := max(off, b.runs[i].off), min(end, b.runs[i].end)
		if lo < hi {
			e := extent{off: lo, data: make([]byte, hi-lo)}
			b.copyOut(e.data, lo, lo, hi)
			out = append(out, e)
		}
	}
	return out
}

// next returns the piece take would remove next: the front of the first
// run, up to the next multiple of maxLen, so that a file written from any
// offset goes to the backend in chunks aligned to maxLen. ready reports
// whether the piece is worth sending when nobody waits for it: it reaches
// that boundary (nothing can be added to it), or it is not the last run,
// where a sequential writer is still appending.
func (b *dirtyBuf) next(maxLen int64) (s span, ready, ok bool) {
	if len(b.runs) == 0 {
		return span{}, false, false
	}
	r := b.runs[0]
	if bound := (r.off/maxLen + 1) * maxLen; r.end >= bound {
		return span{r.off, bound}, true, true
	}
	return r, len(b.runs) > 1, true
}

// take removes s, which next returned, copies its bytes into dst and
// returns how many pages it gave back.
func (b *dirtyBuf) take(s span, dst []byte) int64 {
	b.copyOut(dst, s.off, s.off, s.end)
	if r := &b.runs[0]; s.end < r.end {
		r.off = s.end
	} else {
		b.runs[0] = span{}
		b.runs = b.runs[1:]
	}
	b.bytes -= s.end - s.off
	return b.freePages(s.off, s.end)
}

// pageCount reports how many pages the buffer holds.
func (b *dirtyBuf) pageCount() int64 { return int64(len(b.pages)) }

// release gives every page back and empties the buffer.
func (b *dirtyBuf) release() {
	for pi, pg := range b.pages {
		b.pool.put(pg)
		delete(b.pages, pi)
	}
	b.runs, b.bytes = nil, 0
}
