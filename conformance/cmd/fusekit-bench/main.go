//go:build linux

// Command fusekit-bench runs filesystem workloads against several
// directories in one run (the first is the reference, normally native
// storage) and prints the medians and each target's ratio to the
// reference. It starts and stops the FUSE daemons it is told to, so one
// command reproduces a whole comparison. Run it with -h for the syntax.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fusekit/fusekit/conformance/bench"
)

const usageHead = `usage: fusekit-bench [flags] TARGET...

A TARGET is NAME=DIR, or NAME=cmd:COMMAND ARGS... for a filesystem the tool
starts: it makes an empty source directory and a mountpoint, runs COMMAND
with {src} and {mnt} replaced by them, waits for the FUSE mount, and stops
the command at the end (SIGTERM, then a lazy unmount and SIGKILL). NAME@LABEL
adds a label, usually the libfuse build; the build a cmd: target really
loaded is detected and shown beside it. The first TARGET is the reference:
ratios are against it, and above 1 means faster. COMMAND is split like a
shell would split it but run without a shell, so quote the whole TARGET.

Example:
  fusekit-bench -size 256M -reps 2 -workloads core -csv out.csv \
    native=/var/tmp/bench/native \
    'sdk-fuse2@libfuse2=cmd:./bin/passthrough-fuse2 {src} {mnt}' \
    'cgofuse-fuse2@libfuse2=cmd:./bin/cgofuse-passthrough-fuse2 {src} {mnt}'

Workloads (-workloads takes names and the sets "all" and "core"):
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fusekit-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := bench.DefaultConfig()
	var (
		size         = fs.String("size", bench.FormatSize(def.Size), "file size of the I/O workloads (K, M, G suffixes)")
		reps         = fs.Int("reps", 2, "repetitions; the table shows medians")
		workloads    = fs.String("workloads", "all", "comma-separated workloads")
		files        = fs.Int("files", def.Files, "files for create, stat and unlink")
		randOps      = fs.Int("rand-ops", def.RandOps, "4 KiB operations for randr4k and randw4k")
		csvPath      = fs.String("csv", "", "also write every measurement and the medians as CSV to this file (- for stdout)")
		workdir      = fs.String("workdir", "", "where cmd: targets get their source and mount directories (default $TMPDIR); use the native target's filesystem")
		tree         = fs.String("tree", "", "directory archived for tar-x, find, grep-r, rm-rf (default $(go env GOROOT)/src)")
		cacheDir     = fs.String("cache", "", "where that archive is kept (default $XDG_CACHE_HOME/fusekit-bench)")
		warm         = fs.Bool("warm", false, "do not drop the page cache before cold workloads (no root needed; not a fair comparison)")
		mountTimeout = fs.Duration("mount-timeout", 0, "how long a cmd: target may take to mount (default 30s)")
		stopTimeout  = fs.Duration("stop-timeout", 0, "how long a cmd: target may take to exit after SIGTERM (default 15s)")
		quiet        = fs.Bool("q", false, "no progress lines on stderr")
	)
	fs.Usage = func() {
		var b strings.Builder
		b.WriteString(usageHead)
		for _, w := range bench.Workloads() {
			fmt.Fprintf(&b, "  %-8s %-6s %s\n", w.Name, w.Unit, w.Doc)
		}
		b.WriteString("\nFlags:\n")
		fmt.Fprint(stderr, b.String())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(err error) int {
		fmt.Fprintf(stderr, "fusekit-bench: %v\n(run fusekit-bench -h for the syntax)\n", err)
		return 2
	}
	cfg := def
	var err error
	if cfg.Size, err = bench.ParseSize(*size); err != nil {
		return usageErr(fmt.Errorf("-size: %w", err))
	}
	cfg.Files, cfg.RandOps = *files, *randOps
	cfg.Cold = !*warm
	cfg.TreeSource, cfg.CacheDir = *tree, *cacheDir
	ws, err := bench.ParseWorkloads(*workloads)
	if err != nil {
		return usageErr(fmt.Errorf("-workloads: %w", err))
	}
	targets, err := bench.ParseTargets(fs.Args())
	if err != nil {
		return usageErr(err)
	}
	var csvOut io.Writer
	if *csvPath == "-" {
		csvOut = stdout
	} else if *csvPath != "" {
		// Created before the run, so that a bad path fails in a second
		// rather than after an hour of measuring.
		f, err := os.Create(*csvPath)
		if err != nil {
			return usageErr(fmt.Errorf("-csv: %w", err))
		}
		defer f.Close()
		csvOut = f
	}

	progress := stderr
	if *quiet {
		progress = io.Discard
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second signal kills the tool the default way; the daemons
		// still exit through their parent-death signal.
		stop()
	}()

	r := &bench.Runner{
		Targets: targets, Workloads: ws, Reps: *reps, Config: cfg,
		WorkDir: *workdir, MountTimeout: *mountTimeout, StopTimeout: *stopTimeout,
		Progress: progress,
	}
	rep, runErr := r.Run(ctx)
	if rep != nil && len(rep.Targets) > 0 {
		fmt.Fprintln(stdout)
		if err := rep.WriteTable(stdout); err != nil {
			runErr = errors.Join(runErr, err)
		}
		if csvOut != nil {
			if err := rep.WriteCSV(csvOut); err != nil {
				runErr = errors.Join(runErr, fmt.Errorf("-csv: %w", err))
			}
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "fusekit-bench: interrupted; every target was stopped")
		}
		fmt.Fprintf(stderr, "fusekit-bench: %v\n", runErr)
		return 1
	}
	return 0
}
