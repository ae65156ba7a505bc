package writeback

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// model is the obvious implementation a dirtyBuf must agree with: one
// byte slice and a mask of which bytes are buffered.
type model struct {
	data  []byte
	dirty []bool
}

func (m *model) ensure(n int64) {
	for int64(len(m.data)) < n {
		m.data = append(m.data, 0)
		m.dirty = append(m.dirty, false)
	}
}

func (m *model) write(off int64, p []byte) {
	m.ensure(off + int64(len(p)))
	copy(m.data[off:], p)
	for i := range p {
		m.dirty[off+int64(i)] = true
	}
}

func (m *model) fillHoles(off int64, p []byte) {
	m.ensure(off + int64(len(p)))
	for i, b := range p {
		if !m.dirty[off+int64(i)] {
			m.data[off+int64(i)] = b
			m.dirty[off+int64(i)] = true
		}
	}
}

func (m *model) truncate(size int64) {
	for i := size; i < int64(len(m.dirty)); i++ {
		m.dirty[i] = false
	}
}

func (m *model) count() int64 {
	var n int64
	for _, d := range m.dirty {
		if d {
			n++
		}
	}
	return n
}

// takeChunk removes the front of the first dirty run, up to the next
// multiple of maxLen.
func (m *model) takeChunk(maxLen int) (int64, []byte, bool) {
	start := -1
	for i, d := range m.dirty {
		if d {
			start = i
			break
		}
	}
	if start < 0 {
		return 0, nil, false
	}
	end := start
	for end < len(m.dirty) && m.dirty[end] {
		end++
	}
	end = min(end, (start/maxLen+1)*maxLen)
	for i := start; i < end; i++ {
		m.dirty[i] = false
	}
	return int64(start), append([]byte(nil), m.data[start:end]...), true
}

// newTestBuf makes a buffer with tiny pages, so that every test crosses
// page boundaries.
func newTestBuf(ps int) *dirtyBuf {
	b := newDirtyBuf(newBufPool(ps))
	return &b
}

// take takes the next chunk of at most maxLen bytes, as write-back does.
func (b *dirtyBuf) testTake(maxLen int) (extent, bool) {
	s, _, ok := b.next(int64(maxLen))
	if !ok {
		return extent{}, false
	}
	c := extent{off: s.off, data: make([]byte, s.end-s.off)}
	b.take(s, c.data)
	return c, true
}

// check compares b with m and verifies the buffer's own invariants.
func check(t testing.TB, b *dirtyBuf, m *model) {
	t.Helper()
	var total int64
	for i, r := range b.runs {
		require.Less(t, r.off, r.end, "run %d is empty", i)
		if i > 0 {
			require.Greater(t, r.off, b.runs[i-1].end, "runs %d and %d overlap or touch", i-1, i)
		}
		total += r.end - r.off
		for off := r.off; off < r.end; off++ {
			require.Less(t, off, int64(len(m.dirty)), "run %d holds a byte past anything written", i)
			require.True(t, m.dirty[off], "byte %d is buffered but the model says clean", off)
		}
	}
	require.Equal(t, m.count(), total, "buffered byte count")
	require.Equal(t, total, b.len(), "bytes field")
	// A page exists exactly while a run overlaps it.
	for pi := range b.pages {
		require.True(t, b.used(pi), "page %d is held but no run overlaps it", pi)
	}
	for _, r := range b.runs {
		for pi := r.off / b.ps; pi*b.ps < r.end; pi++ {
			require.Contains(t, b.pages, pi, "page %d of run [%d,%d) is missing", pi, r.off, r.end)
		}
	}

	// overlay over a backend of 0xEE bytes must give the model's view.
	n := int64(len(m.data)) + 3
	for _, r := range [][2]int64{{0, n}, {1, n / 2}, {n / 3, n}} {
		if r[0] >= r[1] {
			continue
		}
		p := bytes.Repeat([]byte{0xEE}, int(r[1]-r[0]))
		b.overlay(r[0], p)
		q := bytes.Repeat([]byte{0xEE}, int(r[1]-r[0]))
		for _, e := range b.snapshot(r[0], r[1]) {
			overlayOne(r[0], q, e.off, e.data)
		}
		var dirtyIn bool
		for i := r[0]; i < r[1]; i++ {
			want := byte(0xEE)
			if i < int64(len(m.dirty)) && m.dirty[i] {
				want = m.data[i]
				dirtyIn = true
			}
			require.Equal(t, want, p[i-r[0]], "overlay byte %d", i)
			require.Equal(t, want, q[i-r[0]], "snapshot byte %d", i)
		}
		require.Equal(t, dirtyIn, b.overlaps(r[0], r[1]), "overlaps(%d,%d)", r[0], r[1])
	}
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestBufferCoalesce(t *testing.T) {
	b := newTestBuf(16)
	var m model
	for i := range 100 {
		p := fill(10, byte(i))
		grown, _ := b.write(int64(i*10), p)
		assert.EqualValues(t, 10, grown)
		m.write(int64(i*10), p)
	}
	require.Len(t, b.runs, 1, "sequential writes make one run")
	assert.EqualValues(t, (1000+15)/16, b.pageCount(), "1000 bytes in 16-byte pages")
	check(t, b, &m)

	// Overwriting inside does not grow; a gap makes a second run; a write
	// bridging the gap merges all three.
	grown, pages := b.write(5, fill(20, 0xAA))
	assert.Zero(t, grown)
	assert.Zero(t, pages)
	m.write(5, fill(20, 0xAA))
	grown, _ = b.write(1010, fill(5, 0xBB))
	assert.EqualValues(t, 5, grown)
	m.write(1010, fill(5, 0xBB))
	require.Len(t, b.runs, 2)
	grown, _ = b.write(995, fill(20, 0xCC))
	assert.EqualValues(t, 10, grown)
	m.write(995, fill(20, 0xCC))
	require.Len(t, b.runs, 1)
	check(t, b, &m)
	assert.EqualValues(t, 1015, b.end())
}

func TestBufferWriteCoversSeveral(t *testing.T) {
	b := newTestBuf(16)
	var m model
	for _, off := range []int64{10, 30, 50, 70} {
		b.write(off, fill(5, byte(off)))
		m.write(off, fill(5, byte(off)))
	}
	require.Len(t, b.runs, 4)
	// Starts before the first run and ends inside the third.
	grown, _ := b.write(0, fill(52, 0x11))
	m.write(0, fill(52, 0x11))
	assert.EqualValues(t, 55-15, grown, "[0,55) replaces three 5-byte runs")
	require.Len(t, b.runs, 2)
	check(t, b, &m)
}

func TestBufferPagesAreCounted(t *testing.T) {
	b := newTestBuf(4096)
	_, pages := b.write(4095, []byte("ab"))
	assert.EqualValues(t, 2, pages, "two bytes across a page boundary hold two pages")
	_, pages = b.write(100, []byte("x"))
	assert.Zero(t, pages, "a byte in a page already held")
	_, pages = b.write(1<<40, []byte("far"))
	assert.EqualValues(t, 1, pages, "a sparse write holds only its own page")
	assert.EqualValues(t, 3, b.pageCount())
	_, freed := b.truncate(4096)
	assert.EqualValues(t, 2, freed, "the page past 4096 and the far one")
	assert.Equal(t, 2, b.pool.idle(), "freed pages go back to the pool")
	b.release()
	assert.Zero(t, b.pageCount())
	assert.Equal(t, 3, b.pool.idle())
}

func TestBufferTruncate(t *testing.T) {
	b := newTestBuf(16)
	var m model
	b.write(0, fill(100, 1))
	m.write(0, fill(100, 1))
	b.write(200, fill(100, 2))
	m.write(200, fill(100, 2))
	freed, _ := b.truncate(50)
	assert.EqualValues(t, 100+50, freed)
	m.truncate(50)
	check(t, b, &m)
	assert.EqualValues(t, 50, b.end())

	// Growing after a truncate must not show the trimmed bytes again,
	// though the page that held them is reused.
	b.write(60, fill(10, 3))
	m.write(60, fill(10, 3))
	check(t, b, &m)
	freed, _ = b.truncate(0)
	assert.EqualValues(t, 60, freed)
	assert.True(t, b.empty())
	assert.Zero(t, b.pageCount())
}

func TestBufferTakeChunk(t *testing.T) {
	b := newTestBuf(4)
	var m model
	b.write(0, fill(10, 1))
	m.write(0, fill(10, 1))
	b.write(20, fill(25, 2))
	m.write(20, fill(25, 2))
	var offs []int64
	for {
		c, ok := b.testTake(8)
		mo, md, mok := m.takeChunk(8)
		require.Equal(t, mok, ok)
		if !ok {
			break
		}
		assert.Equal(t, mo, c.off)
		assert.Equal(t, md, c.data)
		assert.LessOrEqual(t, len(c.data), 8)
		offs = append(offs, c.off)
		check(t, b, &m)
	}
	assert.Equal(t, []int64{0, 8, 20, 24, 32, 40}, offs, "offset order, cut at multiples of the chunk size")
	assert.Zero(t, b.pageCount())
}

func TestBufferNextReady(t *testing.T) {
	b := newTestBuf(4)
	b.write(0, fill(6, 1))
	s, ready, ok := b.next(8)
	require.True(t, ok)
	assert.Equal(t, span{0, 6}, s)
	assert.False(t, ready, "a partial chunk at the end may still grow")
	b.write(6, fill(2, 1))
	_, ready, _ = b.next(8)
	assert.True(t, ready, "a full chunk")
	b.truncate(4)
	b.write(20, fill(1, 2))
	s, ready, _ = b.next(8)
	assert.Equal(t, span{0, 4}, s, "a gap ends the chunk")
	assert.True(t, ready, "not the last run: nothing appends to it")
	b.write(5, fill(20, 3))
	s, ready, _ = b.next(8)
	assert.Equal(t, span{0, 4}, s)
	assert.True(t, ready)
	b.write(4, fill(1, 4))
	s, ready, _ = b.next(8)
	assert.Equal(t, span{0, 8}, s, "a long run is cut at the chunk size")
	assert.True(t, ready)
	b.truncate(0)
	b.write(5, fill(3, 5))
	s, ready, _ = b.next(8)
	assert.Equal(t, span{5, 8}, s, "a run up to a boundary is complete")
	assert.True(t, ready)
}

func TestBufferFillHoles(t *testing.T) {
	b := newTestBuf(4)
	var m model
	b.write(4, fill(4, 9))
	m.write(4, fill(4, 9))
	b.write(12, fill(2, 8))
	m.write(12, fill(2, 8))
	old := fill(16, 1)
	grown, _ := b.fillHoles(0, old)
	assert.EqualValues(t, 16-6, grown)
	m.fillHoles(0, old)
	check(t, b, &m)
	require.Len(t, b.runs, 1)
}

func TestBufPoolTrim(t *testing.T) {
	p := newBufPool(8)
	a, c := p.get(), p.get()
	p.put(a, c)
	assert.Zero(t, p.trim(), "both were in use during the period")
	assert.Equal(t, 2, p.idle())
	p.put(p.get())
	assert.Equal(t, 1, p.trim(), "one buffer stayed free for the whole period")
	assert.Equal(t, 1, p.trim(), "and then the other")
	assert.Zero(t, p.idle())
	assert.Len(t, p.get(), 8, "an empty pool allocates")
}

// FuzzBuffer is the write-back model check: any sequence of writes,
// truncates, chunk removals and failed-chunk reinsertions leaves the
// buffer agreeing byte for byte with a plain slice model, with pages held
// exactly where data is. Pages are 4 bytes, so almost every operation
// splits, shares or frees pages, and reused pages carry old bytes.
func FuzzBuffer(f *testing.F) {
	f.Add([]byte{0, 10, 5, 1, 0, 3, 2, 4, 3, 1})
	f.Add([]byte{0, 0, 200, 0, 100, 50, 1, 20, 2, 7, 3, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		b := newTestBuf(4)
		var m model
		var taken []extent
		next := func() int64 {
			if len(ops) == 0 {
				return 0
			}
			v := ops[0]
			ops = ops[1:]
			return int64(v)
		}
		for seq := byte(1); len(ops) > 0; seq++ {
			switch next() % 4 {
			case 0:
				off, n := next()*2, next()%64+1
				p := fill(int(n), seq)
				b.write(off, p)
				m.write(off, p)
			case 1:
				size := next() * 2
				b.truncate(size)
				m.truncate(size)
				taken = nil // a truncate waits for in-flight chunks
			case 2:
				maxLen := int(next()%32 + 1)
				c, ok := b.testTake(maxLen)
				mo, md, mok := m.takeChunk(maxLen)
				require.Equal(t, mok, ok)
				if ok {
					require.Equal(t, mo, c.off)
					require.Equal(t, md, c.data)
					taken = append(taken, c)
				}
			case 3:
				if len(taken) > 0 {
					c := taken[len(taken)-1]
					taken = taken[:len(taken)-1]
					b.fillHoles(c.off, c.data)
					m.fillHoles(c.off, c.data)
				}
			}
			check(t, b, &m)
		}
		b.release()
		require.Zero(t, b.pageCount())
	})
}
