package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// TargetInfo describes a target as the report shows it.
type TargetInfo struct {
	Name       string
	Kind       string // "dir" or "cmd"
	Definition string // the directory, or the command line as given
	Label      string // from NAME@LABEL
	Detected   string // libfuse build seen in the running process ("libfuse2", "libfuse3"), if any
}

// Build is what the report prints as the target's build: the label, the
// detected libfuse, or both when they disagree (a mislabelled binary is
// worth noticing before trusting a comparison).
func (t TargetInfo) Build() string {
	switch {
	case t.Label != "" && t.Detected != "" && t.Label != t.Detected:
		return t.Label + " (detected " + t.Detected + ")"
	case t.Label != "":
		return t.Label
	default:
		return t.Detected
	}
}

// WorkloadInfo describes a workload as the report shows it.
type WorkloadInfo struct {
	Name string
	Unit Unit
}

// Measurement is one timed run: one repetition of one workload on one
// target.
type Measurement struct {
	Target   string
	Workload string
	Rep      int // 1-based
	Result   Result
}

// Report holds every raw measurement of a run and turns them into medians,
// a table and CSV. Targets[0] is the reference for ratios. The zero value
// is not useful; the Runner fills it, tests may build one by hand.
type Report struct {
	// Settings is one line describing the run (size, counts, repetitions),
	// printed above the table.
	Settings  string
	Targets   []TargetInfo
	Workloads []WorkloadInfo
	Raw       []Measurement
}

// Summary is the median of one (workload, target) cell.
type Summary struct {
	Workload string
	Unit     Unit
	Target   string
	N        int     // measurements behind the median
	Median   float64 // NaN when N is 0
	Ratio    float64 // against Targets[0]; NaN when either median is unusable
}

// Summaries returns one Summary per workload and target, in workload order
// and then target order, including cells that have no measurement yet (a
// run that stopped early).
func (r *Report) Summaries() []Summary {
	type key struct{ target, workload string }
	values := make(map[key][]float64)
	unit := make(map[string]Unit, len(r.Workloads))
	for _, w := range r.Workloads {
		unit[w.Name] = w.Unit
	}
	for _, m := range r.Raw {
		k := key{m.Target, m.Workload}
		values[k] = append(values[k], m.Result.Value(unit[m.Workload]))
	}
	var out []Summary
	for _, w := range r.Workloads {
		var ref float64
		for i, t := range r.Targets {
			vs := values[key{t.Name, w.Name}]
			med := Median(vs)
			if i == 0 {
				ref = med
			}
			out = append(out, Summary{
				Workload: w.Name,
				Unit:     w.Unit,
				Target:   t.Name,
				N:        len(vs),
				Median:   med,
				Ratio:    Ratio(w.Unit, med, ref),
			})
		}
	}
	return out
}

func formatValue(u Unit, v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "inf"
	}
	switch u {
	case Throughput:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case Rate:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func formatRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// WriteTable prints the settings, the targets with their builds, and one row
// per workload: the reference's median, then each other target's median
// with its ratio to the reference in parentheses.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	if r.Settings != "" {
		b.WriteString(r.Settings + "\n")
	}
	if len(r.Targets) == 0 {
		b.WriteString("no targets\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	ref := r.Targets[0].Name
	fmt.Fprintf(&b, "medians; (ratio) = against %s, above 1 is faster than %s\n", ref, ref)

	var rows [][]string
	for _, t := range r.Targets {
		build := t.Build()
		if build == "" {
			build = "-"
		}
		rows = append(rows, []string{"  " + t.Name, t.Kind, build, t.Definition})
	}
	writeColumns(&b, rows, []bool{false, false, false, false})
	b.WriteString("\n")

	header := []string{"workload", "unit"}
	for _, t := range r.Targets {
		header = append(header, t.Name)
	}
	rows = [][]string{header}
	sums := r.Summaries()
	for wi, wl := range r.Workloads {
		row := []string{wl.Name, wl.Unit.String()}
		for ti := range r.Targets {
			s := sums[wi*len(r.Targets)+ti]
			cell := formatValue(s.Unit, s.Median)
			if ti > 0 {
				cell += " (" + formatRatio(s.Ratio) + ")"
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	right := []bool{false, false}
	for range r.Targets {
		right = append(right, true)
	}
	writeColumns(&b, rows, right)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeColumns pads every column to its widest cell, two spaces apart,
// right-aligned where right says so; the last column is not padded on the
// left unless right-aligned, so definitions with spaces stay readable.
func writeColumns(b *strings.Builder, rows [][]string, right []bool) {
	width := make([]int, len(right))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			switch {
			case right[i]:
				line.WriteString(pad + c)
			case i == len(row)-1:
				line.WriteString(c)
			default:
				line.WriteString(c + pad)
			}
		}
		b.WriteString(line.String() + "\n")
	}
}

// CSVHeader is the first line WriteCSV writes.
var CSVHeader = []string{"row", "target", "build", "workload", "unit", "rep", "n", "value", "ratio", "bytes", "ops", "elapsed_s"}

// WriteCSV writes every raw measurement ("raw" rows, with the bytes,
// operations and seconds behind the value) followed by the medians
// ("median" rows, with the ratio to the reference). Numbers carry full
// precision; missing figures are empty fields.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	build := make(map[string]string, len(r.Targets))
	for _, t := range r.Targets {
		build[t.Name] = t.Build()
	}
	unit := make(map[string]Unit, len(r.Workloads))
	for _, wl := range r.Workloads {
		unit[wl.Name] = wl.Unit
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, m := range r.Raw {
		u := unit[m.Workload]
		res := m.Result
		if err := cw.Write([]string{
			"raw", m.Target, build[m.Target], m.Workload, u.String(),
			strconv.Itoa(m.Rep), "1", num(res.Value(u)), "",
			strconv.FormatInt(res.Bytes, 10), strconv.FormatInt(res.Ops, 10),
			num(res.Elapsed.Seconds()),
		}); err != nil {
			return err
		}
	}
	for _, s := range r.Summaries() {
		if err := cw.Write([]string{
			"median", s.Target, build[s.Target], s.Workload, s.Unit.String(),
			"", strconv.Itoa(s.N), num(s.Median), num(s.Ratio), "", "", "",
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
