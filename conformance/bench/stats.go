package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Unit says how a workload's Result becomes one number and which way is
// better.
type Unit int

const (
	// Throughput is MiB/s over Result.Bytes; higher is better.
	Throughput Unit = iota
	// Rate is operations per second over Result.Ops; higher is better.
	Rate
	// Seconds is the elapsed wall time; lower is better.
	Seconds
)

func (u Unit) String() string {
	switch u {
	case Throughput:
		return "MiB/s"
	case Rate:
		return "ops/s"
	case Seconds:
		return "s"
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// LowerIsBetter reports whether a smaller value means a faster target.
func (u Unit) LowerIsBetter() bool { return u == Seconds }

// Result is what one timed run of a workload did.
type Result struct {
	Bytes   int64         // bytes written or read in the timed part
	Ops     int64         // operations (files, syscalls, tree entries) in the timed part
	Elapsed time.Duration // wall time of the timed part only
}

// Value turns r into the workload's figure. A zero elapsed time gives
// +Inf for rates (the run was too small to measure), never a division
// panic.
func (r Result) Value(u Unit) float64 {
	sec := r.Elapsed.Seconds()
	switch u {
	case Throughput:
		return float64(r.Bytes) / (1 << 20) / sec
	case Rate:
		return float64(r.Ops) / sec
	case Seconds:
		return sec
	}
	return math.NaN()
}

// Median of xs; the mean of the middle two for an even count, NaN for none.
// xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// Ratio expresses target against the reference so that a ratio above 1
// always means the target is faster: target/reference for rates and
// throughput, reference/target for times. It is NaN when either figure is
// missing, zero or not finite, so a broken measurement is never shown as a
// speed-up.
func Ratio(u Unit, target, reference float64) float64 {
	for _, v := range []float64{target, reference} {
		if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return math.NaN()
		}
	}
	if u.LowerIsBetter() {
		return reference / target
	}
	return target / reference
}
