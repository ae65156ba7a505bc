package writeback

import "sort"

// extent is a run of buffered bytes at off. Its data slice may share a
// backing array with a chunk handed to write-back (takeChunk slices the
// front off), which is safe because neither side ever writes outside its
// own length.
type extent struct {
	off  int64
	data []byte
}

func (e *extent) end() int64 { return e.off + int64(len(e.data)) }

// extentSet is the dirty data of one file: extents sorted by offset, never
// overlapping and never touching (touching extents are merged), so a file
// written sequentially is one extent however many writes built it. It is
// plain data with no locking; the node's mutex guards it.
type extentSet struct {
	exts  []extent
	bytes int64 // sum of len(data)
}

// len reports the buffered byte count.
func (s *extentSet) len() int64 { return s.bytes }

func (s *extentSet) empty() bool { return len(s.exts) == 0 }

// end returns the end of the last extent, or 0.
func (s *extentSet) end() int64 {
	if len(s.exts) == 0 {
		return 0
	}
	return s.exts[len(s.exts)-1].end()
}

// search returns the index of the first extent whose end is >= off: the
// first one that overlaps or touches a range starting at off.
func (s *extentSet) search(off int64) int {
	return sort.Search(len(s.exts), func(i int) bool { return s.exts[i].end() >= off })
}

// write buffers a copy of p at off, replacing older data it overlaps and
// merging with extents it overlaps or touches. It returns how many bytes
// the set grew by.
func (s *extentSet) write(off int64, p []byte) int64 {
	if len(p) == 0 {
		return 0
	}
	end := off + int64(len(p))
	i := s.search(off)
	j := i
	for j < len(s.exts) && s.exts[j].off <= end {
		j++
	}
	if i == j {
		s.exts = append(s.exts, extent{})
		copy(s.exts[i+1:], s.exts[i:])
		s.exts[i] = extent{off: off, data: append([]byte(nil), p...)}
		s.bytes += int64(len(p))
		return int64(len(p))
	}
	first, last := &s.exts[i], &s.exts[j-1]
	lo, hi := min(off, first.off), max(end, last.end())
	var old int64
	for k := i; k < j; k++ {
		old += int64(len(s.exts[k].data))
	}
	var buf []byte
	if first.off == lo {
		// Grow the first extent in place: sequential writes append to it
		// with amortised copying, as append does.
		buf = grow(first.data, int(hi-lo))
	} else {
		buf = make([]byte, hi-lo)
		copy(buf[first.off-lo:], first.data)
	}
	// The extents between are copied before p, which overwrites them where
	// they overlap: the newest write wins.
	for k := i + 1; k < j; k++ {
		copy(buf[s.exts[k].off-lo:], s.exts[k].data)
	}
	copy(buf[off-lo:], p)
	s.exts[i] = extent{off: lo, data: buf}
	s.exts = append(s.exts[:i+1], s.exts[j:]...)
	grown := (hi - lo) - old
	s.bytes += grown
	return grown
}

// grow returns b resized to n bytes, keeping its contents. Bytes past the
// old length are not cleared: write overwrites all of them, since the union
// of merged extents and the new write is contiguous.
func grow(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// fillHoles buffers the parts of data at off that no extent covers, leaving
// newer buffered bytes alone. It puts back a chunk whose write-back failed,
// underneath whatever was written meanwhile. It returns the growth.
func (s *extentSet) fillHoles(off int64, data []byte) int64 {
	end := off + int64(len(data))
	type hole struct{ lo, hi int64 }
	var holes []hole
	pos := off
	for i := s.search(off); i < len(s.exts) && s.exts[i].off < end && pos < end; i++ {
		e := &s.exts[i]
		if e.off > pos {
			holes = append(holes, hole{pos, e.off})
		}
		pos = max(pos, e.end())
	}
	if pos < end {
		holes = append(holes, hole{pos, end})
	}
	var grown int64
	for _, h := range holes {
		grown += s.write(h.lo, data[h.lo-off:h.hi-off])
	}
	return grown
}

// truncate drops every buffered byte at or past size and returns how many
// were dropped.
func (s *extentSet) truncate(size int64) int64 {
	var freed int64
	i := len(s.exts)
	for i > 0 && s.exts[i-1].off >= size {
		i--
		freed += int64(len(s.exts[i].data))
		s.exts[i] = extent{}
	}
	s.exts = s.exts[:i]
	if i > 0 {
		e := &s.exts[i-1]
		if e.end() > size {
			freed += e.end() - size
			e.data = e.data[:size-e.off]
		}
	}
	s.bytes -= freed
	return freed
}

// overlaps reports whether any buffered byte lies in [off, end).
func (s *extentSet) overlaps(off, end int64) bool {
	i := sort.Search(len(s.exts), func(i int) bool { return s.exts[i].end() > off })
	return i < len(s.exts) && s.exts[i].off < end
}

// overlay copies the buffered bytes that fall in [off, off+len(p)) into p,
// leaving the rest of p as it is.
func (s *extentSet) overlay(off int64, p []byte) {
	end := off + int64(len(p))
	for i := s.search(off); i < len(s.exts) && s.exts[i].off < end; i++ {
		overlayOne(off, p, s.exts[i].off, s.exts[i].data)
	}
}

// overlayOne copies the part of data (at doff) that falls in p (at off).
func overlayOne(off int64, p []byte, doff int64, data []byte) {
	lo := max(off, doff)
	hi := min(off+int64(len(p)), doff+int64(len(data)))
	if lo < hi {
		copy(p[lo-off:hi-off], data[lo-doff:hi-doff])
	}
}

// snapshot returns copies of the buffered pieces in [off, end), for a
// reader that must apply them after reading the backend without the lock.
func (s *extentSet) snapshot(off, end int64) []extent {
	var out []extent
	for i := s.search(off); i < len(s.exts) && s.exts[i].off < end; i++ {
		e := &s.exts[i]
		lo, hi := max(off, e.off), min(end, e.end())
		if lo < hi {
			out = append(out, extent{off: lo, data: append([]byte(nil), e.data[lo-e.off:hi-e.off]...)})
		}
	}
	return out
}

// takeChunk removes and returns the lowest buffered bytes: a contiguous
// piece of at most max bytes from the front of the first extent. Write-back
// calls it repeatedly, which sends a file in offset order.
func (s *extentSet) takeChunk(maxLen int) (extent, bool) {
	if len(s.exts) == 0 {
		return extent{}, false
	}
	e := &s.exts[0]
	if len(e.data) <= maxLen {
		c := *e
		s.exts[0] = extent{}
		s.exts = s.exts[1:]
		s.bytes -= int64(len(c.data))
		return c, true
	}
	// Cap the chunk's capacity so that nothing appended to it can reach
	// into the bytes the extent keeps.
	c := extent{off: e.off, data: e.data[:maxLen:maxLen]}
	e.off += int64(maxLen)
	e.data = e.data[maxLen:]
	s.bytes -= int64(maxLen)
	return c, true
}
