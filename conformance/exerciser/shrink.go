package exerciser

import (
	"fmt"
	"slices"
	"time"
)

// shrink looks for a short sequence that still diverges: delta debugging
// (remove halves, quarters, ... down to single ops, each time keeping any
// removal after which the sequence still fails, and cutting a candidate
// just after its own failing op), then smaller lengths, offsets and sizes,
// repeated until nothing changes or the time is up. fails replays a
// candidate on a fresh target and returns its failure, or nil.
//
// Any divergence counts, not only the original one: a shorter sequence
// with another symptom of the same bug is what a reader wants, and
// comparing symptoms would make shrinking depend on message wording.
func (d *Divergence) shrink(limit time.Duration, fails func([]Op) *failure) {
	if limit < 0 {
		return
	}
	s := shrinker{fails: fails, deadline: time.Now().Add(limit)}
	ops := slices.Clone(d.Log)
	f := fails(ops)
	if f == nil {
		d.ShrinkNote = "the failing sequence passed when replayed on a fresh target, " +
			"so the divergence depends on timing or on state outside the sequence"
		return
	}
	ops, f = s.minimise(ops, f)
	d.Minimal, d.MinimalWant, d.MinimalGot = ops, f.want, f.got
	if s.timedOut {
		d.ShrinkNote = fmt.Sprintf("stopped after %v (%d replays); the sequence may not be minimal", limit, s.replays)
	}
}

type shrinker struct {
	fails    func([]Op) *failure
	deadline time.Time
	timedOut bool
	replays  int
}

// try replays cand and returns it cut after its failing op, or nil.
func (s *shrinker) try(cand []Op) ([]Op, *failure) {
	if s.timedOut || time.Now().After(s.deadline) {
		s.timedOut = true
		return nil, nil
	}
	s.replays++
	f := s.fails(cand)
	if f == nil {
		return nil, nil
	}
	return cand[:min(f.index+1, len(cand))], f
}

func (s *shrinker) minimise(ops []Op, f *failure) ([]Op, *failure) {
	ops = ops[:min(f.index+1, len(ops))]
	for changed := true; changed && !s.timedOut; {
		changed = false
		for chunk := len(ops); chunk >= 1 && !s.timedOut; chunk /= 2 {
			for start := 0; start < len(ops) && !s.timedOut; {
				end := min(start+chunk, len(ops))
				cand := slices.Concat(ops[:start], ops[end:])
				if c, g := s.try(cand); g != nil {
					ops, f, changed = c, g, true
					continue // the same start now names the next chunk
				}
				start = end
			}
		}
		for i := 0; i < len(ops) && !s.timedOut; i++ {
			for _, v := range simpler(ops[i]) {
				cand := slices.Clone(ops)
				cand[i] = v
				if c, g := s.try(cand); g != nil {
					ops, f, changed = c, g, true
					break
				}
			}
		}
	}
	return ops, f
}

// simpler returns variants of o with smaller numbers, most aggressive
// first. Every variant is strictly smaller in one field, so repeated
// shrinking terminates. O_DIRECT variants keep their offset and length
// multiples of DirectAlign: an unaligned one would fail with EINVAL on any
// filesystem, and the shrinker would keep it as a "smaller reproducer" of
// a bug it no longer shows.
func simpler(o Op) []Op {
	var out []Op
	smaller := func(v, floor int64, cands []int64, set func(*Op, int64)) {
		for _, c := range cands {
			if c >= floor && c < v {
				n := o
				set(&n, c)
				out = append(out, n)
			}
		}
	}
	setOff := func(n *Op, v int64) { n.Off = v }
	setLen := func(n *Op, v int64) { n.Len = v }
	switch o.Kind {
	case OpWrite, OpRead, OpMapRead, OpMapWrite:
		smaller(o.Off, 0, []int64{0, 1, alignDown(o.Off), o.Off / 2}, setOff)
		smaller(o.Len, 1, []int64{1, alignDown(o.Len), o.Len / 2}, setLen)
	case OpDirectRead, OpDirectWrite:
		smaller(o.Off, 0, []int64{0, alignDown(o.Off / 2)}, setOff)
		smaller(o.Len, DirectAlign, []int64{DirectAlign, alignDown(o.Len / 2)}, setLen)
	case OpTruncate:
		smaller(o.Size, 0, []int64{0, 1, alignDown(o.Size), o.Size / 2}, func(n *Op, v int64) { n.Size = v })
	}
	return out
}
