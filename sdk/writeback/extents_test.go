package writeback

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// model is the obvious implementation an extentSet must agree with: one
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

// takeChunk removes the first dirty run, at most maxLen bytes of it.
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
	for end < len(m.dirty) && m.dirty[end] && end-start < maxLen {
		m.dirty[end] = false
		end++
	}
	return int64(start), append([]byte(nil), m.data[start:end]...), true
}

// check compares s with m and verifies the set's own invariants.
func check(t testing.TB, s *extentSet, m *model) {
	t.Helper()
	var total int64
	for i, e := range s.exts {
		require.NotEmpty(t, e.data, "extent %d is empty", i)
		if i > 0 {
			require.Greater(t, e.off, s.exts[i-1].end(), "extents %d and %d overlap or touch", i-1, i)
		}
		total += int64(len(e.data))
		for k, b := range e.data {
			off := e.off + int64(k)
			require.Less(t, off, int64(len(m.dirty)), "extent %d holds a byte past anything written", i)
			require.True(t, m.dirty[off], "byte %d is buffered but the model says clean", off)
			require.Equal(t, m.data[off], b, "byte %d", off)
		}
	}
	require.Equal(t, m.count(), total, "buffered byte count")
	require.Equal(t, total, s.len(), "bytes field")

	// overlay over a backend of 0xEE bytes must give the model's view.
	n := int64(len(m.data)) + 3
	for _, r := range [][2]int64{{0, n}, {1, n / 2}, {n / 3, n}} {
		if r[0] >= r[1] {
			continue
		}
		p := bytes.Repeat([]byte{0xEE}, int(r[1]-r[0]))
		s.overlay(r[0], p)
		q := bytes.Repeat([]byte{0xEE}, int(r[1]-r[0]))
		for _, e := range s.snapshot(r[0], r[1]) {
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
		require.Equal(t, dirtyIn, s.overlaps(r[0], r[1]), "overlaps(%d,%d)", r[0], r[1])
	}
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestExtentsCoalesce(t *testing.T) {
	var s extentSet
	var m model
	for i := range 100 {
		p := fill(10, byte(i))
		assert.EqualValues(t, 10, s.write(int64(i*10), p))
		m.write(int64(i*10), p)
	}
	require.Len(t, s.exts, 1, "sequential writes make one extent")
	check(t, &s, &m)

	// Overwriting inside does not grow; a gap makes a second extent; a
	// write bridging the gap merges all three.
	assert.Zero(t, s.write(5, fill(20, 0xAA)))
	m.write(5, fill(20, 0xAA))
	assert.EqualValues(t, 5, s.write(1010, fill(5, 0xBB)))
	m.write(1010, fill(5, 0xBB))
	require.Len(t, s.exts, 2)
	assert.EqualValues(t, 10, s.write(995, fill(20, 0xCC)))
	m.write(995, fill(20, 0xCC))
	require.Len(t, s.exts, 1)
	check(t, &s, &m)
	assert.EqualValues(t, 1015, s.end())
}

func TestExtentsWriteCoversSeveral(t *testing.T) {
	var s extentSet
	var m model
	for _, off := range []int64{10, 30, 50, 70} {
		s.write(off, fill(5, byte(off)))
		m.write(off, fill(5, byte(off)))
	}
	require.Len(t, s.exts, 4)
	// Starts before the first extent and ends inside the third.
	grown := s.write(0, fill(52, 0x11))
	m.write(0, fill(52, 0x11))
	assert.EqualValues(t, 55-15, grown, "[0,55) replaces three 5-byte extents")
	require.Len(t, s.exts, 2)
	check(t, &s, &m)
}

func TestExtentsTruncate(t *testing.T) {
	var s extentSet
	var m model
	s.write(0, fill(100, 1))
	m.write(0, fill(100, 1))
	s.write(200, fill(100, 2))
	m.write(200, fill(100, 2))
	assert.EqualValues(t, 100+50, s.truncate(50))
	m.truncate(50)
	check(t, &s, &m)
	assert.EqualValues(t, 50, s.end())

	// Growing after a truncate must not show the trimmed bytes again.
	s.write(60, fill(10, 3))
	m.write(60, fill(10, 3))
	check(t, &s, &m)
	assert.EqualValues(t, 60, s.truncate(0))
	assert.True(t, s.empty())
}

func TestExtentsTakeChunk(t *testing.T) {
	var s extentSet
	var m model
	s.write(0, fill(10, 1))
	m.write(0, fill(10, 1))
	s.write(20, fill(25, 2))
	m.write(20, fill(25, 2))
	var offs []int64
	for {
		c, ok := s.takeChunk(8)
		mo, md, mok := m.takeChunk(8)
		require.Equal(t, mok, ok)
		if !ok {
			break
		}
		assert.Equal(t, mo, c.off)
		assert.Equal(t, md, c.data)
		assert.LessOrEqual(t, len(c.data), 8)
		offs = append(offs, c.off)
		check(t, &s, &m)
	}
	assert.Equal(t, []int64{0, 8, 20, 28, 36, 44}, offs, "offset order, chunk-sized pieces")
}

func TestExtentsChunkIsolatedFromLaterWrites(t *testing.T) {
	var s extentSet
	s.write(0, fill(16, 1))
	c, _ := s.takeChunk(8)
	// Appending to the remaining extent and to the chunk must not write
	// into each other.
	s.write(16, fill(8, 2))
	c.data = append(c.data, 9)
	assert.Equal(t, append(fill(8, 1), 9), c.data)
	p := make([]byte, 16)
	s.overlay(8, p)
	assert.Equal(t, append(fill(8, 1), fill(8, 2)...), p)
}

func TestExtentsFillHoles(t *testing.T) {
	var s extentSet
	var m model
	s.write(4, fill(4, 9))
	m.write(4, fill(4, 9))
	s.write(12, fill(2, 8))
	m.write(12, fill(2, 8))
	old := fill(16, 1)
	assert.EqualValues(t, 16-6, s.fillHoles(0, old))
	m.fillHoles(0, old)
	check(t, &s, &m)
	require.Len(t, s.exts, 1)
}

// FuzzExtents is the write-back model check: any sequence of writes,
// truncates, chunk removals and failed-chunk reinsertions leaves the extent
// set agreeing byte for byte with a plain slice model.
func FuzzExtents(f *testing.F) {
	f.Add([]byte{0, 10, 5, 1, 0, 3, 2, 4, 3, 1})
	f.Add([]byte{0, 0, 200, 0, 100, 50, 1, 20, 2, 7, 3, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var s extentSet
		var m model
		var taken []extent
		next := func() int64 {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return int64(b)
		}
		for seq := byte(1); len(ops) > 0; seq++ {
			switch next() % 4 {
			case 0:
				off, n := next()*2, next()%64+1
				p := fill(int(n), seq)
				s.write(off, p)
				m.write(off, p)
			case 1:
				size := next() * 2
				s.truncate(size)
				m.truncate(size)
				taken = nil // a truncate waits for in-flight chunks
			case 2:
				maxLen := int(next()%32 + 1)
				c, ok := s.takeChunk(maxLen)
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
					s.fillHoles(c.off, c.data)
					m.fillHoles(c.off, c.data)
				}
			}
			check(t, &s, &m)
		}
	})
}
