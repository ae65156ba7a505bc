package exerciser

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShrinkTruncateBug plants the classic bug: truncate is ignored when
// the file is larger than 1000 bytes. A long random run must find it and
// shrink it to the two or three ops that show it.
func TestShrinkTruncateBug(t *testing.T) {
	newTarget := memFiles(func(m *memFile) {
		m.ignoreTruncate = func(oldSize, _ int64) bool { return oldSize > 1000 }
	})
	cfg := Config{Seed: 7, Ops: 5000, Features: Features{Mmap: true, ODirect: true}}
	ops, err := GenerateFile(cfg)
	require.NoError(t, err)
	_, err = ReplayFile(newTarget, ops, cfg)

	var d *Divergence
	require.ErrorAs(t, err, &d)
	assert.Equal(t, uint64(7), d.Seed)
	assert.Equal(t, "file", d.Mode)
	require.NotNil(t, d.Minimal, d.ShrinkNote)
	assert.LessOrEqual(t, len(d.Minimal), 3, "minimal sequence:\n%s", FormatOps(d.Minimal))
	assert.Empty(t, d.ShrinkNote)

	// The minimal sequence is a write past 1000 bytes and a truncate.
	var kinds []Kind
	for _, o := range d.Minimal {
		kinds = append(kinds, o.Kind)
	}
	assert.Contains(t, kinds, OpTruncate)

	// It still fails, also after a round trip through its text form, and
	// with shrinking off the failure is the one Error reported.
	text := FormatOps(d.Minimal)
	replayed, err := ParseOps(text)
	require.NoError(t, err)
	require.Equal(t, d.Minimal, replayed)
	_, err = ReplayFile(newTarget, replayed, Config{ShrinkTime: -1})
	var again *Divergence
	require.ErrorAs(t, err, &again)
	assert.Equal(t, d.MinimalWant, again.Want)
	assert.Equal(t, d.MinimalGot, again.Got)
	assert.Nil(t, again.Minimal, "ShrinkTime < 0 disables shrinking")

	msg := d.Error()
	assert.Contains(t, msg, "seed 7")
	assert.Contains(t, msg, "minimal failing sequence")
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		assert.Contains(t, msg, "\n  "+line+"\n")
	}
}

// TestLostWriteExplained checks that a lost write is reported as such and
// names both the op whose data is there and the op whose data should be.
func TestLostWriteExplained(t *testing.T) {
	newTarget := memFiles(func(m *memFile) {
		// Drop the second write at offset 0x1000.
		n := 0
		m.dropWrite = func(off int64, _ int) bool {
			if off == 0x1000 {
				n++
				return n == 2
			}
			return false
		}
	})
	ops := []Op{
		{Kind: OpWrite, Off: 0x1000, Len: 0x100, Data: 1},
		{Kind: OpFsync},
		{Kind: OpWrite, Off: 0x1000, Len: 0x80, Data: 2},
		{Kind: OpRead, Off: 0x1000, Len: 0x100},
	}
	_, err := ReplayFile(newTarget, ops, Config{ShrinkTime: -1})
	var d *Divergence
	require.ErrorAs(t, err, &d)
	assert.Equal(t, 3, d.Index)
	assert.Equal(t, ops[3], d.Op)
	assert.Contains(t, d.Got, "byte at 0x1000 is from op 0 (write off=0x1000 len=0x100 data=1)")
	assert.Contains(t, d.Got, "want from op 2 (write off=0x1000 len=0x80 data=2)")
	assert.Contains(t, d.Got, "a reordered or lost write")
	assert.Contains(t, d.Got, "128 byte(s) differ in [0x1000, 0x107f]")
}

// TestStaleDataAfterTruncateExplained plants a target that forgets to zero
// the bytes a truncate extension brings back.
func TestStaleDataAfterTruncateExplained(t *testing.T) {
	// A target that forgets to zero an extension: write, shrink, grow.
	stale := memFiles(func(m *memFile) {
		m.ignoreTruncate = func(oldSize, newSize int64) bool {
			if newSize > oldSize && int64(cap(m.data)) >= newSize {
				m.data = m.data[:newSize]
				return true
			}
			return false
		}
	})
	ops := []Op{
		{Kind: OpWrite, Off: 0, Len: 0x200, Data: 1},
		{Kind: OpTruncate, Size: 0x10},
		{Kind: OpTruncate, Size: 0x200},
		{Kind: OpRead, Off: 0, Len: 0x200},
	}
	_, err := ReplayFile(stale, ops, Config{ShrinkTime: -1})
	var d *Divergence
	require.ErrorAs(t, err, &d)
	assert.Contains(t, d.Got, "byte at 0x10 is from op 0")
	assert.Contains(t, d.Got, "want zero")
	assert.Contains(t, d.Got, "stale data")
}

func TestSizeAndShortReadDivergence(t *testing.T) {
	newTarget := memFiles(func(m *memFile) {
		m.ignoreTruncate = func(_, newSize int64) bool { return newSize == 5 }
	})
	ops := []Op{{Kind: OpWrite, Off: 0, Len: 10, Data: 1}, {Kind: OpTruncate, Size: 5}}
	_, err := ReplayFile(newTarget, ops, Config{})
	var d *Divergence
	require.ErrorAs(t, err, &d)
	assert.Equal(t, 1, d.Index)
	assert.Equal(t, "size 0x5 (5) after the op", d.Want)
	assert.Equal(t, "size 0xa (10)", d.Got)
	// The bug shows without the write: truncating an empty file to 5.
	assert.Equal(t, ops[1:], d.Minimal)
}

func TestNotReproducible(t *testing.T) {
	// Only the first file made is buggy: the replay passes.
	first := true
	newTarget := func() (FileTarget, error) {
		m := &memFile{}
		if first {
			m.ignoreTruncate = func(_, _ int64) bool { return true }
			first = false
		}
		return m, nil
	}
	ops := []Op{{Kind: OpWrite, Off: 0, Len: 10, Data: 1}, {Kind: OpTruncate, Size: 5}}
	_, err := ReplayFile(newTarget, ops, Config{})
	var d *Divergence
	require.ErrorAs(t, err, &d)
	assert.Nil(t, d.Minimal)
	assert.Contains(t, d.ShrinkNote, "passed when replayed")
	assert.Contains(t, d.Error(), "passed when replayed")
}

func TestSetupErrorIsNotDivergence(t *testing.T) {
	_, err := ReplayFile(func() (FileTarget, error) { return nil, errSetup }, nil, Config{})
	require.ErrorIs(t, err, errSetup)
	var d *Divergence
	assert.False(t, errors.As(err, &d))
}

func TestReplayRejectsWrongMode(t *testing.T) {
	newTarget := memFiles(nil)
	_, err := ReplayFile(newTarget, []Op{{Kind: OpMkdir, Path: "a"}}, Config{})
	require.ErrorContains(t, err, "op 0 (mkdir a) is not a file-mode op")
	_, err = ReplayNamespace(NativeNamespace(t.TempDir()), []Op{{Kind: OpFsync}}, Config{})
	require.ErrorContains(t, err, "op 0 (fsync) is not a namespace-mode op")
	_, err = ReplayNamespace(NativeNamespace(t.TempDir()), []Op{{Kind: OpSymlink, Path: "a", Path2: "b"}}, Config{})
	require.ErrorContains(t, err, `symlink target "a" must contain ':'`)
}

// Every variant simpler offers is strictly smaller in exactly one field, so
// shrinking terminates, and O_DIRECT variants stay aligned: an unaligned
// one fails with EINVAL everywhere and would replace the real reproducer.
func TestSimplerVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []Kind{OpWrite, OpRead, OpMapRead, OpMapWrite, OpDirectRead, OpDirectWrite, OpTruncate}
	for range 2000 {
		o := Op{Kind: kinds[r.IntN(len(kinds))], Off: r.Int64N(1 << 20), Len: 1 + r.Int64N(1<<17), Size: r.Int64N(1 << 20)}
		direct := o.Kind == OpDirectRead || o.Kind == OpDirectWrite
		if direct {
			o.Off, o.Len = alignDown(o.Off), alignUp(o.Len)
		}
		for _, v := range simpler(o) {
			smaller := 0
			for _, f := range []struct{ was, now int64 }{{o.Off, v.Off}, {o.Len, v.Len}, {o.Size, v.Size}} {
				require.LessOrEqual(t, f.now, f.was, "%v -> %v grew a field", o, v)
				if f.now < f.was {
					smaller++
				}
			}
			require.Equal(t, 1, smaller, "%v -> %v must shrink exactly one field", o, v)
			require.GreaterOrEqual(t, v.Off, int64(0))
			require.Positive(t, v.Len, "%v -> %v", o, v)
			if direct {
				require.Zero(t, v.Off%DirectAlign, "%v -> %v: unaligned O_DIRECT offset", o, v)
				require.Zero(t, v.Len%DirectAlign, "%v -> %v: unaligned O_DIRECT length", o, v)
			}
		}
	}
}
