package main

import (
	"encoding/csv"
	"fmt"
	fkbench "github.com/fusekit/fusekit/conformance/bench"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one measured row: one workload against one configuration.
type result struct {
	Config   string
	Workload string
	Bytes    int64
	// Elapsed is the whole command, close(2) included.
	Elapsed time.Duration
	// OnServer is the time from the start of the command until the whole
	// file was on the server; zero when there is no server-side file to
	// watch (the in-memory latency backend).
	OnServer time.Duration
	// PeakRSS is the server process's VmHWM in bytes once the data was on
	// the backend.
	PeakRSS int64
	// Check says how the copy was verified: "content" (compared with the
	// source on the server) or "size" (stat through the mount).
	Check string
	// Err is why the row failed; the numbers are then partial.
	Err error
}

// mbps is throughput in MB/s (10^6 bytes per second), the unit cp and dd
// users read.
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

func (r result) id() string { return r.Config + " " + r.Workload }

// writeTable prints the results as an aligned table.
func writeTable(w io.Writer, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "config\tworkload\tsize\tseconds\tMB/s\ton server s\ton server MB/s\tpeak RSS MiB\tcheck\t")
	for _, r := range results {
		onServer, onServerRate := "-", "-"
		if r.OnServer > 0 {
			onServer = fmt.Sprintf("%.2f", r.OnServer.Seconds())
			onServerRate = fmt.Sprintf("%.1f", mbps(r.Bytes, r.OnServer))
		}
		check := r.Check
		if r.Err != nil {
			check = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t%s\t%s\t%.1f\t%s\t\n",
			r.Config, r.Workload, fkbench.FormatSize(r.Bytes), r.Elapsed.Seconds(), mbps(r.Bytes, r.Elapsed),
			onServer, onServerRate, float64(r.PeakRSS)/(1<<20), check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Err != nil {
			if _, err := fmt.Fprintf(w, "FAILED %s: %v\n", r.id(), r.Err); err != nil {
				return err
			}
		}
	}
	return nil
}

// csvHeader names the CSV columns; times in seconds, sizes in bytes except
// the RSS in MiB.
var csvHeader = []string{"config", "workload", "bytes", "seconds", "mb_per_s", "on_server_seconds", "on_server_mb_per_s", "peak_rss_mib", "check", "error"}

// writeCSV writes the results with a header line. Unmeasured cells are
// empty.
func writeCSV(w io.Writer, results []result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, r := range results {
		onServer, onServerRate := "", ""
		if r.OnServer > 0 {
			onServer, onServerRate = f(r.OnServer.Seconds(), 3), f(mbps(r.Bytes, r.OnServer), 2)
		}
		errText := ""
		if r.Err != nil {
			errText = r.Err.Error()
		}
		if err := cw.Write([]string{
			r.Config, r.Workload, strconv.FormatInt(r.Bytes, 10),
			f(r.Elapsed.Seconds(), 3), f(mbps(r.Bytes, r.Elapsed), 2),
			onServer, onServerRate, f(float64(r.PeakRSS)/(1<<20), 1), r.Check, errText,
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeSummary prints the comparisons the issue asks for, for the rows
// that were run: write-back against write-through on the latency backend,
// and write-back on SFTP against rclone, data on the server in both.
func writeSummary(w io.Writer, results []result) {
	find := func(config, workload string) (result, bool) {
		for _, r := range results {
			if r.Config == config && r.Workload == workload && r.Err == nil {
				return r, true
			}
		}
		return result{}, false
	}
	for _, wl := range workloads {
		wb, ok1 := find(cfgLatencyWB, wl.name)
		wt, ok2 := find(cfgLatencyWT, wl.name)
		if ok1 && ok2 {
			ratio := mbps(wb.Bytes, wb.Elapsed) / mbps(wt.Bytes, wt.Elapsed)
			fmt.Fprintf(w, "latency backend, %s: write-back %.1f MB/s vs write-through %.1f MB/s: %.1fx (goal: at least 10x)\n",
				wl.name, mbps(wb.Bytes, wb.Elapsed), mbps(wt.Bytes, wt.Elapsed), ratio)
		}
	}
	for _, wl := range workloads {
		ours, ok1 := find(cfgSFTPWB, wl.name)
		rc, ok2 := find(cfgRclone, wl.name)
		if ok1 && ok2 && rc.OnServer > 0 {
			verdict := "slower than"
			if mbps(ours.Bytes, ours.Elapsed) >= mbps(rc.Bytes, rc.OnServer) {
				verdict = "at least as fast as"
			}
			fmt.Fprintf(w, "sftp, %s: fusekit write-back %.1f MB/s (on the server at close) is %s rclone %.1f MB/s until on the server (rclone's close returned after %.2f s, %.1f MB/s)\n",
				wl.name, mbps(ours.Bytes, ours.Elapsed), verdict, mbps(rc.Bytes, rc.OnServer), rc.Elapsed.Seconds(), mbps(rc.Bytes, rc.Elapsed))
		}
	}
}

// filter selects rows by substring: a row runs when its "config workload"
// contains one of the comma-separated terms. An empty filter selects all.
type filter []string

func parseFilter(s string) filter {
	var f filter
	for term := range strings.SplitSeq(s, ",") {
		if term = strings.TrimSpace(term); term != "" {
			f = append(f, term)
		}
	}
	return f
}

func (f filter) match(id string) bool {
	if len(f) == 0 {
		return true
	}
	for _, term := range f {
		if strings.Contains(id, term) {
			return true
		}
	}
	return false
}
