package exerciser

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report summarises a run that completed.
type Report struct {
	// Mode is "file" or "namespace".
	Mode string
	Seed uint64
	// Ops is the number of ops that ran (skipped ones excluded).
	Ops int
	// Counts is the number of ops run per kind.
	Counts  map[Kind]int
	Elapsed time.Duration
}

// Divergence is returned when the target disagrees with the oracle.
type Divergence struct {
	// Mode is "file" or "namespace".
	Mode string
	Seed uint64
	// Index is the index in Log of the op that diverged. It is len(Log)
	// when the divergence was found by the check after the last op (the
	// final read-back or tree walk); Op then describes that check.
	Index int
	Op    Op
	// Want and Got say what the oracle expected and what the target did.
	Want, Got string
	// Log is the sequence that ran, up to and including the failing op.
	Log []Op
	// Minimal is the shrunk sequence that still diverges, nil if shrinking
	// was disabled or the divergence did not reproduce; MinimalWant and
	// MinimalGot are its own divergence.
	Minimal                 []Op
	MinimalWant, MinimalGot string
	// ShrinkNote says how shrinking ended (e.g. out of time).
	ShrinkNote string
}

func newDivergence(mode string, seed uint64, ops []Op, f *failure) *Divergence {
	return &Divergence{
		Mode:  mode,
		Seed:  seed,
		Index: f.index,
		Op:    f.op,
		Want:  f.want,
		Got:   f.got,
		Log:   ops[:min(f.index+1, len(ops))],
	}
}

// logTail is how many ops before the failure Error prints.
const logTail = 20

// Error prints the seed, the failing op, the end of the log and the
// minimal sequence in the text form ParseOps reads.
func (d *Divergence) Error() string {
	var b strings.Builder
	where := fmt.Sprintf("op %d (%s)", d.Index, d.Op)
	if d.Index >= len(d.Log) {
		where = fmt.Sprintf("the check after the last op (%s)", d.Op)
	}
	fmt.Fprintf(&b, "exerciser: %s mode, seed %d: %s diverged\n  want: %s\n  got:  %s\n",
		d.Mode, d.Seed, where, d.Want, d.Got)
	from := max(0, len(d.Log)-logTail)
	fmt.Fprintf(&b, "log (ops %d to %d of %d):\n", from, len(d.Log)-1, len(d.Log))
	for i := from; i < len(d.Log); i++ {
		fmt.Fprintf(&b, "  %d: %s\n", i, d.Log[i])
	}
	if d.Minimal != nil {
		fmt.Fprintf(&b, "minimal failing sequence (%d ops; replay with ParseOps and Replay%s):\n",
			len(d.Minimal), titleMode(d.Mode))
		for _, o := range d.Minimal {
			fmt.Fprintf(&b, "  %s\n", o)
		}
		fmt.Fprintf(&b, "  which fails with\n    want: %s\n    got:  %s\n", d.MinimalWant, d.MinimalGot)
	}
	if d.ShrinkNote != "" {
		fmt.Fprintf(&b, "shrinking: %s\n", d.ShrinkNote)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func titleMode(mode string) string {
	if mode == "namespace" {
		return "Namespace"
	}
	return "File"
}

// WriteLog writes the whole log, one "index: op" line each.
func (d *Divergence) WriteLog(w io.Writer) error {
	for i, o := range d.Log {
		if _, err := fmt.Fprintf(w, "%d: %s\n", i, o); err != nil {
			return err
		}
	}
	return nil
}
