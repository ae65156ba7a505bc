package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	fkbench "github.com/fusekit/fusekit/conformance/bench"
)

// Target names. The ratio columns compare the fusekit builds with the two
// FUSE peers.
const (
	kernelName    = "kernel-overlayfs"
	fuseOvlName   = "fuse-overlayfs"
	unionfsName   = "unionfs-fuse"
	fusekit2Name  = "fusekit-fuse2"
	fusekit3Name  = "fusekit-fuse3"
	allTargetList = kernelName + "," + fuseOvlName + "," + unionfsName + "," + fusekit2Name + "," + fusekit3Name
	// fusekitVolName is the libfuse2 build mounted with -o volatile (no
	// fsync of copy-ups, as fuse-overlayfs and unionfs-fuse): not in the
	// default list, asked for with -targets.
	fusekitVolName = "fusekit-fuse2-volatile"
	validTargets   = allTargetList + "," + fusekitVolName
)

// measurement is one timed run of one row on one target.
type measurement struct {
	Row, Target string
	Rep         int
	Result      fkbench.Result
}

// report collects the measurements of a run.
type report struct {
	rows    []rowInfo
	targets []string
	raw     []measurement
}

// rowInfo is what the report needs to know of a row.
type rowInfo struct {
	Name, Title string
	Unit        fkbench.Unit
}

// median is the median figure of row on target, NaN without measurements.
func (r *report) median(row, target string, u fkbench.Unit) float64 {
	var xs []float64
	for _, m := range r.raw {
		if m.Row == row && m.Target == target {
			xs = append(xs, m.Result.Value(u))
		}
	}
	return fkbench.Median(xs)
}

func (r *report) has(target string) bool {
	for _, t := range r.targets {
		if t == target {
			return true
		}
	}
	return false
}

func formatFigure(u fkbench.Unit, v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case u == fkbench.Seconds:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case u == fkbench.Throughput:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatRatio(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// writeTable prints the medians as a Markdown table: one column per
// target, then for each fusekit build its ratio to fuse-overlayfs and to
// unionfs-fuse (above 1: fusekit is faster).
func (r *report) writeTable(w io.Writer) error {
	var ratios [][2]string // fusekit target, peer
	for _, fk := range []string{fusekit2Name, fusekit3Name, fusekitVolName} {
		for _, peer := range []string{fuseOvlName, unionfsName} {
			if r.has(fk) && r.has(peer) {
				ratios = append(ratios, [2]string{fk, peer})
			}
		}
	}
	var b strings.Builder
	b.WriteString("| row | unit |")
	for _, t := range r.targets {
		b.WriteString(" " + t + " |")
	}
	for _, rt := range ratios {
		fmt.Fprintf(&b, " %s vs %s |", strings.TrimPrefix(rt[0], "fusekit-"), rt[1])
	}
	b.WriteString("\n|---|---|")
	b.WriteString(strings.Repeat("---|", len(r.targets)+len(ratios)))
	b.WriteString("\n")
	for _, row := range r.rows {
		fmt.Fprintf(&b, "| %s | %s |", row.Title, row.Unit)
		for _, t := range r.targets {
			b.WriteString(" " + formatFigure(row.Unit, r.median(row.Name, t, row.Unit)) + " |")
		}
		for _, rt := range ratios {
			v := fkbench.Ratio(row.Unit, r.median(row.Name, rt[0], row.Unit), r.median(row.Name, rt[1], row.Unit))
			b.WriteString(" " + formatRatio(v) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCSV writes every measurement, one line each.
func (r *report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	units := map[string]fkbench.Unit{}
	for _, row := range r.rows {
		units[row.Name] = row.Unit
	}
	if err := cw.Write([]string{"row", "target", "rep", "unit", "value", "bytes", "ops", "elapsed_s"}); err != nil {
		return err
	}
	for _, m := range r.raw {
		u := units[m.Row]
		if err := cw.Write([]string{
			m.Row, m.Target, strconv.Itoa(m.Rep), u.String(),
			strconv.FormatFloat(m.Result.Value(u), 'g', -1, 64),
			strconv.FormatInt(m.Result.Bytes, 10), strconv.FormatInt(m.Result.Ops, 10),
			strconv.FormatFloat(m.Result.Elapsed.Seconds(), 'f', 6, 64),
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// parseList splits a comma-separated list, checking every element against
// known (in known's order when all is given).
func parseList(list, what string, known []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		ok := false
		for _, k := range known {
			ok = ok || k == s
		}
		if !ok {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, s, strings.Join(known, ", "))
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s in %q", what, list)
	}
	return out, nil
}
