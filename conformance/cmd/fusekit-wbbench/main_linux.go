package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	fkbench "github.com/fusekit/fusekit/conformance/bench"
	"github.com/fusekit/fusekit/sdk"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// benchOptions is the command line of the comparison.
type benchOptions struct {
	size, wtLatencySize int64
	reps                int
	latency             time.Duration
	only                filter
	csvFile             string
	memfsBin            string
	rclone              string
	rcloneWriteBack     time.Duration
	dir                 string
	rowTimeout          time.Duration
}

const usageText = `Usage: fusekit-wbbench [flags]
       fusekit-wbbench serve [flags] MOUNTPOINT

Copies a file of -size random bytes into FUSE mounts with cp and with
dd bs=4k and reports throughput and the server process's peak RSS for:
  latency/write-through       latency/write-back        examples/memfs -latency D [-writeback]
  latency-disk/write-through  latency-disk/write-back   fusekit-wbbench serve -local DIR -latency D [-writeback]
  sftp/write-through          sftp/write-back           fusekit-wbbench serve [-writeback] over a loopback sshd
  rclone/vfs-writes                                     rclone mount --vfs-cache-mode writes, same sshd
Rows are "CONFIG WORKLOAD" (workloads: cp, dd-4k); -only picks some. Every
row runs -reps times, interleaved with the others; the table shows medians.
Run it from inside the fusekit module unless -memfs-bin is given.

Example:
  go build -o /tmp/wbbench ./conformance/cmd/fusekit-wbbench
  /tmp/wbbench -size 256M -csv /tmp/wb.csv
  /tmp/wbbench -size 16M -reps 1 -only latency

Flags:
`

func parseBenchArgs(args []string, stderr io.Writer) (*benchOptions, error) {
	o := &benchOptions{}
	fl := flag.NewFlagSet("fusekit-wbbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fl.PrintDefaults()
	}
	size := fl.String("size", "256M", "bytes copied per row (K, M, G suffixes)")
	wtSize := fl.String("wt-latency-size", "64M", "bytes copied by the write-through dd-4k rows of the latency backends, which make one slow call per 4 KiB (0: -size)")
	fl.IntVar(&o.reps, "reps", 3, "repetitions of every row, interleaved; the table shows medians")
	fl.DurationVar(&o.latency, "latency", time.Millisecond, "latency of every call to the latency backend")
	only := fl.String("only", "", "run only rows whose \"CONFIG WORKLOAD\" contains one of these comma-separated terms")
	fl.StringVar(&o.csvFile, "csv", "", "also write the results as CSV to this `file`")
	fl.StringVar(&o.memfsBin, "memfs-bin", "", "examples/memfs binary (default: go build it)")
	fl.StringVar(&o.rclone, "rclone", "rclone", "rclone binary")
	fl.DurationVar(&o.rcloneWriteBack, "rclone-write-back", 0, "rclone's --vfs-write-back: how long rclone waits after close before uploading (rclone's own default is 5s; 0 uploads at once, the fair setting for the on-server time)")
	fl.StringVar(&o.dir, "dir", "", "parent `directory` of the work directory, on local disk (default: the system temporary directory)")
	fl.DurationVar(&o.rowTimeout, "row-timeout", 10*time.Minute, "give up on a row after this long")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see -h)", fl.Args())
	}
	var err error
	if o.size, err = fkbench.ParseSize(*size); err != nil {
		return nil, fmt.Errorf("-size: %w", err)
	}
	if *wtSize == "0" {
		o.wtLatencySize = o.size
	} else if o.wtLatencySize, err = fkbench.ParseSize(*wtSize); err != nil {
		return nil, fmt.Errorf("-wt-latency-size: %w", err)
	}
	if o.reps < 1 {
		return nil, fmt.Errorf("-reps must be at least 1, got %d", o.reps)
	}
	if o.latency <= 0 {
		return nil, fmt.Errorf("-latency must be positive, got %v", o.latency)
	}
	if o.rcloneWriteBack < 0 {
		return nil, fmt.Errorf("-rclone-write-back must not be negative, got %v", o.rcloneWriteBack)
	}
	if o.rowTimeout <= 0 {
		return nil, fmt.Errorf("-row-timeout must be positive, got %v", o.rowTimeout)
	}
	o.only = parseFilter(*only)
	if o.dir != "" {
		// Mount points are compared with the absolute paths of
		// /proc/self/mountinfo.
		if o.dir, err = filepath.Abs(o.dir); err != nil {
			return nil, err
		}
	}
	if o.memfsBin != "" {
		if o.memfsBin, err = filepath.Abs(o.memfsBin); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// benchMain is the comparison; it returns the exit status: 0 when every
// row succeeded, 1 when one failed, 2 for a bad command line.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseBenchArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "fusekit-wbbench: %v\n", err)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "fusekit-wbbench: %v\n", err)
		return 1
	}
	b := &bench{opts: o, log: stderr, serveCmd: selfServe(self)}
	results, err := b.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fusekit-wbbench: %v\n", err)
		return 1
	}
	if err := report(o, results, stdout); err != nil {
		fmt.Fprintf(stderr, "fusekit-wbbench: %v\n", err)
		return 1
	}
	for _, r := range results {
		if r.Err != nil {
			return 1
		}
	}
	return 0
}

// report prints the table and the summary and writes the CSV file.
func report(o *benchOptions, results []result, stdout io.Writer) error {
	fmt.Fprintf(stdout, "fusekit-wbbench: %s per row, latency backends %v per call", fkbench.FormatSize(o.size), o.latency)
	if o.wtLatencySize != o.size {
		fmt.Fprintf(stdout, "; their write-through dd-4k rows copy %s (one slow call per 4 KiB)", fkbench.FormatSize(o.wtLatencySize))
	}
	fmt.Fprintf(stdout, "; rclone --vfs-write-back %v; %s build\n", o.rcloneWriteBack, sdk.Build)
	fmt.Fprintf(stdout, "%d repetitions, interleaved; seconds: median of the whole cp/dd command, close(2) included; MB/s range: over the repetitions; on server: until the whole file was in the backend's directory; peak RSS: the highest\n", o.reps)
	rows := summarize(results)
	if err := writeTable(stdout, rows); err != nil {
		return err
	}
	writeSummary(stdout, rows)
	if o.csvFile == "" {
		return nil
	}
	f, err := os.Create(o.csvFile)
	if err != nil {
		return err
	}
	if err := writeCSV(f, results); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", o.csvFile, err)
	}
	return f.Close()
}
