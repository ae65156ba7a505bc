package exerciser

import (
	"bytes"
	"fmt"
	"time"
)

// Run generates cfg.Ops file-mode operations from cfg.Seed and runs them
// against a fresh file in dir (removed afterwards). A divergence from the
// oracle is returned as a *Divergence; other errors mean the run could not
// be set up.
func Run(dir string, cfg Config) (*Report, error) {
	ops, err := GenerateFile(cfg)
	if err != nil {
		return nil, err
	}
	return ReplayFile(NativeFile(dir), ops, cfg)
}

// ReplayFile runs ops against a fresh target from newTarget, checks every
// read and the size after every op, and finally reads the whole file back.
// On a divergence it shrinks the sequence (within cfg.ShrinkTime, each
// candidate on a fresh target) and returns a *Divergence. cfg.Ops is
// ignored; cfg.Seed is only reported.
func ReplayFile(newTarget FileFactory, ops []Op, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for i, o := range ops {
		if !o.Kind.IsFile() {
			return nil, fmt.Errorf("exerciser: op %d (%s) is not a file-mode op", i, o)
		}
	}
	start := time.Now()
	rep := &Report{Mode: "file", Seed: cfg.Seed, Counts: map[Kind]int{}}
	f, err := replayFileOnce(newTarget, ops, cfg, rep)
	rep.Elapsed = time.Since(start)
	if err != nil {
		return rep, err
	}
	if f == nil {
		return rep, nil
	}
	d := newDivergence("file", cfg.Seed, ops, f)
	d.shrink(cfg.ShrinkTime, func(cand []Op) *failure {
		f, err := replayFileOnce(newTarget, cand, cfg, nil)
		if err != nil {
			return nil
		}
		return f
	})
	return rep, d
}

// failure is a divergence before it is dressed up: the index of the op
// (len(ops) for the final read-back), the op as run, and what differed.
type failure struct {
	index     int
	op        Op
	want, got string
}

// fileRunner holds the state of one replay.
type fileRunner struct {
	cfg Config
	t   FileTarget
	o   *fileOracle
	// eff[i] is op i as it ran (folded into range); Kind 0 if it was
	// skipped. Mismatch explanations search it for the writer of a byte.
	eff  []Op
	wbuf []byte
	rbuf []byte
	rep  *Report
}

// replayFileOnce runs ops on a fresh target. It returns a failure for a
// divergence and an error only when the target cannot be made or closed.
// rep, if not nil, receives the op counts.
func replayFileOnce(newTarget FileFactory, ops []Op, cfg Config, rep *Report) (_ *failure, err error) {
	t, err := newTarget()
	if err != nil {
		return nil, fmt.Errorf("exerciser: making the file: %w", err)
	}
	defer func() {
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("exerciser: closing the file: %w", cerr)
		}
	}()
	bufLen := max(cfg.MaxOpLen, cfg.maxDirectLen())
	r := &fileRunner{
		cfg:  cfg,
		t:    t,
		o:    newFileOracle(cfg.MaxSize),
		eff:  make([]Op, len(ops)),
		wbuf: make([]byte, bufLen),
		rbuf: make([]byte, bufLen),
		rep:  rep,
	}
	if rep == nil {
		// Shrink candidates run silently.
		r.cfg.Log = nil
	}
	for i, op := range ops {
		if f := r.step(i, op); f != nil {
			return f, nil
		}
	}
	return r.readBack(len(ops)), nil
}

// effective folds op into range for a file of the given size; skip is true
// when the op does nothing in that state (mapread of an empty file).
func effective(op Op, size int64, c *Config) (e Op, skip bool) {
	e = Op{Kind: op.Kind, Data: op.Data}
	switch op.Kind {
	case OpWrite, OpMapWrite:
		e.Off = fold(op.Off, c.MaxSize)
		e.Len = min(clampLen(op.Len, c.MaxOpLen), c.MaxSize-e.Off)
	case OpRead:
		e.Off = fold(op.Off, c.MaxSize)
		e.Len = clampLen(op.Len, c.MaxOpLen)
	case OpMapRead:
		if size == 0 {
			return e, true
		}
		e.Off = fold(op.Off, size)
		e.Len = min(clampLen(op.Len, c.MaxOpLen), size-e.Off)
	case OpTruncate:
		e.Size = fold(op.Size, c.MaxSize+1)
	case OpDirectRead, OpDirectWrite:
		maxLen := c.maxDirectLen()
		top := c.MaxSize &^ (DirectAlign - 1)
		e.Len = min(alignUp(clampLen(op.Len, maxLen)), maxLen)
		e.Off = fold(op.Off, top) &^ (DirectAlign - 1)
		if op.Kind == OpDirectWrite && e.Off+e.Len > top {
			e.Off = top - e.Len
		}
	}
	return e, false
}

// fold maps any v into [0, m).
func fold(v, m int64) int64 { return int64(uint64(v) % uint64(m)) }

func clampLen(l, maxLen int64) int64 { return max(1, min(l, maxLen)) }

func (r *fileRunner) step(i int, op Op) *failure {
	e, skip := effective(op, r.o.size(), &r.cfg)
	if r.cfg.Log != nil {
		if skip {
			fmt.Fprintf(r.cfg.Log, "%d: %s (skipped: empty file)\n", i, op)
		} else {
			fmt.Fprintf(r.cfg.Log, "%d: %s\n", i, e)
		}
	}
	if skip {
		return nil
	}
	r.eff[i] = e
	if r.rep != nil {
		r.rep.Counts[e.Kind]++
		r.rep.Ops++
	}
	errf := func(what string, err error) *failure {
		return &failure{index: i, op: op, want: what + " succeeds", got: fmt.Sprintf("%s: %v", what, err)}
	}
	switch e.Kind {
	case OpWrite, OpDirectWrite:
		p := r.wbuf[:e.Len]
		fillPattern(p, e.Data, e.Off)
		write, what := r.t.WriteAt, "pwrite"
		if e.Kind == OpDirectWrite {
			write, what = r.t.DirectWriteAt, "O_DIRECT pwrite"
		}
		n, err := write(p, e.Off)
		if err != nil {
			return errf(what, err)
		}
		if n != len(p) {
			return &failure{index: i, op: op,
				want: fmt.Sprintf("%s of %d bytes", what, len(p)),
				got:  fmt.Sprintf("%s wrote %d bytes", what, n)}
		}
		r.o.write(p, e.Off, i)
	case OpMapWrite:
		if end := e.Off + e.Len; end > r.o.size() {
			if err := r.t.Truncate(end); err != nil {
				return errf("ftruncate before mapwrite", err)
			}
			r.o.truncate(end)
			// Touching a mapping past the real end of file is SIGBUS, so
			// the extension must be confirmed before mapping.
			if f := r.checkSize(i, op); f != nil {
				return f
			}
		}
		p := r.wbuf[:e.Len]
		fillPattern(p, e.Data, e.Off)
		if err := r.t.MapWrite(p, e.Off); err != nil {
			return errf("mapwrite", err)
		}
		r.o.write(p, e.Off, i)
	case OpRead, OpDirectRead:
		read, what := r.t.ReadAt, "pread"
		if e.Kind == OpDirectRead {
			read, what = r.t.DirectReadAt, "O_DIRECT pread"
		}
		p := r.rbuf[:e.Len]
		n, err := read(p, e.Off)
		if err != nil {
			return errf(what, err)
		}
		if f := r.checkRead(i, op, e, what, p, n); f != nil {
			return f
		}
	case OpMapRead:
		p := r.rbuf[:e.Len]
		if err := r.t.MapRead(p, e.Off); err != nil {
			return errf("mapread", err)
		}
		if f := r.checkRead(i, op, e, "mapread", p, len(p)); f != nil {
			return f
		}
	case OpTruncate:
		if err := r.t.Truncate(e.Size); err != nil {
			return errf("ftruncate", err)
		}
		r.o.truncate(e.Size)
	case OpFsync:
		if err := r.t.Sync(); err != nil {
			return errf("fsync", err)
		}
	case OpReopen:
		if err := r.t.Reopen(); err != nil {
			return errf("close and reopen", err)
		}
	}
	return r.checkSize(i, op)
}

func (r *fileRunner) checkSize(i int, op Op) *failure {
	got, err := r.t.Size()
	if err != nil {
		return &failure{index: i, op: op, want: "fstat succeeds", got: fmt.Sprintf("fstat: %v", err)}
	}
	if want := r.o.size(); got != want {
		return &failure{index: i, op: op,
			want: fmt.Sprintf("size %#x (%d) after the op", want, want),
			got:  fmt.Sprintf("size %#x (%d)", got, got)}
	}
	return nil
}

// checkRead compares n bytes read into p at e.Off with the oracle.
func (r *fileRunner) checkRead(i int, op, e Op, what string, p []byte, n int) *failure {
	want := r.o.read(e.Off, e.Len)
	if n != len(want) {
		return &failure{index: i, op: op,
			want: fmt.Sprintf("%s of %#x bytes at %#x returns %#x bytes (file size %#x)", what, e.Len, e.Off, len(want), r.o.size()),
			got:  fmt.Sprintf("%#x bytes", n)}
	}
	if bytes.Equal(p[:n], want) {
		return nil
	}
	return &failure{index: i, op: op,
		want: fmt.Sprintf("%s of %#x bytes at %#x matches the oracle", what, e.Len, e.Off),
		got:  r.explain(i, e.Off, p[:n], want)}
}

// readBack reads the whole file after the last op; its failure carries
// index len(ops) and a synthetic read op.
func (r *fileRunner) readBack(index int) *failure {
	size := r.o.size()
	if f := r.checkSize(index, Op{Kind: OpRead, Len: size}); f != nil {
		f.want = "final " + f.want
		return f
	}
	chunk := int64(len(r.rbuf))
	for off := int64(0); off < size; off += chunk {
		e := Op{Kind: OpRead, Off: off, Len: min(chunk, size-off)}
		p := r.rbuf[:e.Len]
		n, err := r.t.ReadAt(p, off)
		if err != nil {
			return &failure{index: index, op: e, want: "final read-back succeeds", got: fmt.Sprintf("pread: %v", err)}
		}
		if f := r.checkRead(index, e, e, "final read-back", p, n); f != nil {
			return f
		}
	}
	return nil
}

// explain describes the first wrong byte of got (read at off, want is the
// oracle's) by naming the op that wrote it and the op that should have.
func (r *fileRunner) explain(index int, off int64, got, want []byte) string {
	first, last, count := -1, -1, 0
	for j := range got {
		if got[j] != want[j] {
			if first < 0 {
				first = j
			}
			last = j
			count++
		}
	}
	at := off + int64(first)
	window := got[first:min(first+8, len(got))]
	wantFrom := "zero (a hole or an extension nothing wrote)"
	wantOp := -1
	if w := r.o.who[at]; w > 0 {
		wantOp = int(w) - 1
		wantFrom = fmt.Sprintf("from op %d (%s)", wantOp, r.eff[wantOp])
	}
	gotOp := r.origin(index, at, window)
	var gotFrom, verdict string
	switch {
	case gotOp == -2:
		gotFrom = "zero"
		verdict = "a lost write"
	case gotOp >= 0 && wantOp >= 0:
		gotFrom = fmt.Sprintf("from op %d (%s)", gotOp, r.eff[gotOp])
		verdict = "a reordered or lost write"
	case gotOp >= 0:
		gotFrom = fmt.Sprintf("from op %d (%s)", gotOp, r.eff[gotOp])
		verdict = "stale data that a truncate or extension should have cleared"
	default:
		gotFrom = fmt.Sprintf("%#02x, written by no op in the log", got[first])
		verdict = "corrupted or misplaced data"
	}
	return fmt.Sprintf("%d byte(s) differ in [%#x, %#x]; byte at %#x is %s, want %s — %s",
		count, off+int64(first), off+int64(last), at, gotFrom, wantFrom, verdict)
}

// origin returns the latest op before index whose data matches window at
// off, -2 if window is all zero, -1 if no op wrote it.
func (r *fileRunner) origin(index int, off int64, window []byte) int {
	if allZero(window) {
		return -2
	}
	for k := min(index, len(r.eff)) - 1; k >= 0; k-- {
		e := r.eff[k]
		if (e.Kind != OpWrite && e.Kind != OpMapWrite && e.Kind != OpDirectWrite) ||
			off < e.Off || off >= e.Off+e.Len {
			continue
		}
		match := true
		for m := int64(0); m < int64(len(window)) && off+m < e.Off+e.Len; m++ {
			if window[m] != patternByte(e.Data, off+m) {
				match = false
				break
			}
		}
		if match {
			return k
		}
	}
	return -1
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}
