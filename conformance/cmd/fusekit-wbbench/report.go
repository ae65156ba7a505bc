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

// result is one measurement: one workload against one configuration, in
// one repetition.
type result struct {
	Config   string
	Workload string
	Rep      int // counted from 0
	Bytes    int64
	// Elapsed is the whole command, close(2) included.
	Elapsed time.Duration
	// OnServer is the time from the start of the command until the whole
	// file was in the backend's directory; zero when there is none to
	// watch (the in-memory store of memfs).
	OnServer time.Duration
	// PeakRSS is the server process's VmHWM in bytes once the data was on
	// the backend.
	PeakRSS int64
	// Check says how the copy was verified: "content" (compared with the
	// source where the backend keeps it) or "size" (stat through the
	// mount).
	Check string
	// Err is why the measurement failed; the numbers are then partial.
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

// rowStats sums up the repetitions of one row: medians of the times, the
// spread of the throughput and the highest peak RSS.
type rowStats struct {
	Config, Workload string
	Bytes            int64
	Runs             int // measurements that succeeded
	Elapsed          time.Duration
	OnServer         time.Duration
	MinMBps, MaxMBps float64
	PeakRSS          int64
	Check            string
	Errs             []error
}

func (s rowStats) id() string { return s.Config + " " + s.Workload }

// ok reports whether the row has numbers to compare: it ran, and no
// repetition failed.
func (s rowStats) ok() bool { return s.Runs > 0 && len(s.Errs) == 0 }

// MBps is the throughput at the median time.
func (s rowStats) MBps() float64 { return mbps(s.Bytes, s.Elapsed) }

// summarize groups results by row, in the order the rows first appear.
func summarize(results []result) []rowStats {
	var out []rowStats
	index := map[string]int{}
	var elapsed, onServer [][]float64
	for _, r := range results {
		i, ok := index[r.id()]
		if !ok {
			i = len(out)
			index[r.id()] = i
			out = append(out, rowStats{Config: r.Config, Workload: r.Workload, Bytes: r.Bytes, Check: r.Check})
			elapsed, onServer = append(elapsed, nil), append(onServer, nil)
		}
		s := &out[i]
		if r.Err != nil {
			s.Errs = append(s.Errs, fmt.Errorf("repetition %d: %w", r.Rep+1, r.Err))
			continue
		}
		rate := mbps(r.Bytes, r.Elapsed)
		if s.Runs == 0 || rate < s.MinMBps {
			s.MinMBps = rate
		}
		s.MaxMBps = max(s.MaxMBps, rate)
		s.Runs++
		s.Check = r.Check
		s.PeakRSS = max(s.PeakRSS, r.PeakRSS)
		elapsed[i] = append(elapsed[i], r.Elapsed.Seconds())
		if r.OnServer > 0 {
			onServer[i] = append(onServer[i], r.OnServer.Seconds())
		}
	}
	for i := range out {
		if len(elapsed[i]) > 0 {
			out[i].Elapsed = seconds(fkbench.Median(elapsed[i]))
		}
		if len(onServer[i]) > 0 {
			out[i].OnServer = seconds(fkbench.Median(onServer[i]))
		}
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// writeTable prints the rows as an aligned table: median times, the
// throughput at the median and its range over the repetitions, and the
// highest peak RSS.
func writeTable(w io.Writer, rows []rowStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "config\tworkload\tsize\truns\tseconds\tMB/s\tMB/s range\ton server s\ton server MB/s\tpeak RSS MiB\tcheck\t")
	for _, r := range rows {
		onServer, onServerRate := "-", "-"
		if r.OnServer > 0 {
			onServer = fmt.Sprintf("%.2f", r.OnServer.Seconds())
			onServerRate = fmt.Sprintf("%.1f", mbps(r.Bytes, r.OnServer))
		}
		check := r.Check
		if len(r.Errs) > 0 {
			check = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%.1f\t%.1f-%.1f\t%s\t%s\t%.1f\t%s\t\n",
			r.Config, r.Workload, fkbench.FormatSize(r.Bytes), r.Runs, r.Elapsed.Seconds(), r.MBps(),
			r.MinMBps, r.MaxMBps, onServer, onServerRate, float64(r.PeakRSS)/(1<<20), check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		for _, err := range r.Errs {
			if _, werr := fmt.Fprintf(w, "FAILED %s: %v\n", r.id(), err); werr != nil {
				return werr
			}
		}
	}
	return nil
}

// csvHeader names the CSV columns; times in seconds, sizes in bytes except
// the RSS in MiB.
var csvHeader = []string{"config", "workload", "rep", "bytes", "seconds", "mb_per_s", "on_server_seconds", "on_server_mb_per_s", "peak_rss_mib", "check", "error"}

// writeCSV writes every measurement, one line each, with a header line.
// Unmeasured cells are empty.
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
			r.Config, r.Workload, strconv.Itoa(r.Rep + 1), strconv.FormatInt(r.Bytes, 10),
			f(r.Elapsed.Seconds(), 3), f(mbps(r.Bytes, r.Elapsed), 2),
			onServer, onServerRate, f(float64(r.PeakRSS)/(1<<20), 1), r.Check, errText,
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeSummary prints the comparisons the issue asks for, from the
// medians of the rows that were run: write-back against write-through on
// each latency backend, and write-back on SFTP against rclone, data on the
// server in both.
func writeSummary(w io.Writer, rows []rowStats) {
	find := func(config, workload string) (rowStats, bool) {
		for _, r := range rows {
			if r.Config == config && r.Workload == workload && r.ok() {
				return r, true
			}
		}
		return rowStats{}, false
	}
	for _, lb := range []struct{ name, wb, wt string }{
		{"latency backend (memfs)", cfgLatencyWB, cfgLatencyWT},
		{"latency backend (local disk)", cfgDiskWB, cfgDiskWT},
	} {
		for _, wl := range workloads {
			wb, ok1 := find(lb.wb, wl.name)
			wt, ok2 := find(lb.wt, wl.name)
			if ok1 && ok2 {
				fmt.Fprintf(w, "%s, %s: write-back %.1f MB/s vs write-through %.1f MB/s: %.1fx (goal: at least 10x)\n",
					lb.name, wl.name, wb.MBps(), wt.MBps(), wb.MBps()/wt.MBps())
			}
		}
	}
	for _, lb := range []struct{ name, j, wb, wt string }{
		{"latency backend (memfs)", cfgLatencyJ, cfgLatencyWB, cfgLatencyWT},
		{"latency backend (local disk)", cfgDiskJ, cfgDiskWB, cfgDiskWT},
		{"sftp", cfgSFTPJ, cfgSFTPWB, cfgSFTPWT},
	} {
		for _, wl := range workloads {
			j, ok1 := find(lb.j, wl.name)
			wb, ok2 := find(lb.wb, wl.name)
			if !ok1 || !ok2 {
				continue
			}
			fmt.Fprintf(w, "%s, %s: journal %.1f MB/s vs memory-only write-back %.1f MB/s: costs %.0f %% (goal: at most 20 %%)",
				lb.name, wl.name, j.MBps(), wb.MBps(), 100*(1-j.MBps()/wb.MBps()))
			if wt, ok := find(lb.wt, wl.name); ok {
				fmt.Fprintf(w, "; %.1fx write-through (goal for dd-4k: at least 10x)", j.MBps()/wt.MBps())
			}
			fmt.Fprintln(w)
		}
	}
	for _, wl := range workloads {
		ours, ok1 := find(cfgSFTPWB, wl.name)
		rc, ok2 := find(cfgRclone, wl.name)
		if ok1 && ok2 && rc.OnServer > 0 {
			verdict := "slower than"
			if ours.MBps() >= mbps(rc.Bytes, rc.OnServer) {
				verdict = "at least as fast as"
			}
			fmt.Fprintf(w, "sftp, %s: fusekit write-back %.1f MB/s (on the server at close) is %s rclone %.1f MB/s until on the server (rclone's close returned after %.2f s, %.1f MB/s)\n",
				wl.name, ours.MBps(), verdict, mbps(rc.Bytes, rc.OnServer), rc.Elapsed.Seconds(), rc.MBps())
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
