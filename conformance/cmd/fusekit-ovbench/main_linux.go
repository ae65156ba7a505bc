package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	fkbench "github.com/fusekit/fusekit/conformance/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	dir       string
	reps      int
	rows      []string
	targets   []string
	fusekit2  string
	fusekit3  string
	csv       string
	lower     lowerSpec
	files     int
	writeSize int64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("fusekit-ovbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var rowList, targetList, big, large, write string
	fl.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "fusekit-ovbench"), "work directory: the lower tree (kept for the next run) and the mounts")
	fl.IntVar(&o.reps, "reps", 3, "repetitions of every row on every target")
	fl.StringVar(&rowList, "rows", strings.Join(rowNames(), ","), "rows to run")
	fl.StringVar(&targetList, "targets", allTargetList, "targets to compare")
	fl.StringVar(&o.fusekit2, "fusekit-fuse2", "", "examples/overlay built for libfuse2")
	fl.StringVar(&o.fusekit3, "fusekit-fuse3", "", "examples/overlay built with -tags fuse3")
	fl.StringVar(&o.csv, "csv", "", "also write every measurement to this CSV file")
	fl.StringVar(&o.lower.goSrc, "go-src", filepath.Join(runtime.GOROOT(), "src"), "the tree copied into the lower as gosrc/")
	fl.IntVar(&o.lower.small, "small", 1000, "number of 16 KiB lower files")
	fl.IntVar(&o.lower.big, "big", 100, "number of big lower files")
	fl.StringVar(&big, "big-size", "10M", "size of each big lower file")
	fl.StringVar(&large, "large-size", "256M", "size of the large lower file")
	fl.StringVar(&write, "write-size", "256M", "size of the new file the write row writes")
	fl.IntVar(&o.files, "files", 10000, "files for the create, stat and unlink rows")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	var err error
	if o.rows, err = parseList(rowList, "row", rowNames()); err != nil {
		return nil, err
	}
	if o.targets, err = parseList(targetList, "target", strings.Split(validTargets, ",")); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		v   string
		dst *int64
	}{{big, &o.lower.bigSize}, {large, &o.lower.largeSize}, {write, &o.writeSize}} {
		if *s.dst, err = fkbench.ParseSize(s.v); err != nil {
			return nil, err
		}
	}
	switch {
	case o.reps < 1:
		return nil, errors.New("-reps must be at least 1")
	case o.lower.small < 1 || o.lower.big < 1 || o.files < 1:
		return nil, errors.New("-small, -big and -files must be at least 1")
	case o.lower.largeSize < 1 || o.lower.bigSize < 1 || o.writeSize < 1:
		return nil, errors.New("sizes must be positive")
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return nil, err
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fusekit-ovbench:", err)
		return 2
	}
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "fusekit-ovbench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o *options, stdout, stderr io.Writer) (err error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "fusekit-ovbench: "+format+"\n", args...)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: it mounts kernel overlayfs and drops the page cache")
	}
	targets, err := targetsFor(o.targets, o.fusekit2, o.fusekit3)
	if err != nil {
		return err
	}
	var selected []row
	for _, name := range o.rows {
		for _, r := range rows {
			if r.Name == name {
				selected = append(selected, r)
			}
		}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	// mountinfo lists resolved paths; a -dir or $TMPDIR through a symlink
	// would never match them.
	if o.dir, err = filepath.EvalSymlinks(o.dir); err != nil {
		return err
	}
	// The cold rows drop the page cache before they time anything, which
	// cannot evict a tmpfs: its "cold" rows would be warm.
	var sfs unix.Statfs_t
	if err := unix.Statfs(o.dir, &sfs); err != nil {
		return fmt.Errorf("-dir %s: %w", o.dir, err)
	}
	if sfs.Type == unix.TMPFS_MAGIC {
		return fmt.Errorf("-dir %s is on tmpfs, whose pages dropping the caches cannot evict, so the cold rows would be warm; give a directory on a disk", o.dir)
	}
	lt, err := buildLower(ctx, o.dir, o.lower, logf)
	if err != nil {
		return err
	}
	runDir := filepath.Join(o.dir, "run")
	if left, err := fkbench.MountsUnder(runDir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("mounts left under %s by an earlier run: %v (unmount them first)", runDir, left)
	}
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	defer func() {
		left, _ := fkbench.MountsUnder(runDir)
		for _, m := range left {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		if left, lerr := fkbench.MountsUnder(runDir); lerr == nil && len(left) == 0 {
			err = errors.Join(err, os.RemoveAll(runDir))
		}
	}()

	rep := &report{targets: o.targets}
	for _, r := range selected {
		rep.rows = append(rep.rows, r.rowInfo)
	}
	fmt.Fprintln(stdout, describe(o, lt))
	start := time.Now()
	for i := 1; i <= o.reps; i++ {
		order := fkbench.Order(len(targets), i)
		for _, r := range selected {
			for _, k := range order {
				t := targets[k]
				m, err := measure(ctx, o, lt, t, r, filepath.Join(runDir, t.name))
				if err != nil {
					return fmt.Errorf("row %s, target %s, rep %d: %w", r.Name, t.name, i, err)
				}
				m.Rep = i
				rep.raw = append(rep.raw, m)
				logf("rep %d/%d %-12s %-16s %s %s", i, o.reps, r.Name, t.name, formatFigure(r.Unit, m.Result.Value(r.Unit)), r.Unit)
			}
		}
	}
	fmt.Fprintf(stdout, "\nMedians of %d repetitions (%v in all); ratios: fusekit against the peer, above 1 when fusekit is faster.\n\n", o.reps, time.Since(start).Round(time.Second))
	if err := rep.writeTable(stdout); err != nil {
		return err
	}
	if o.csv != "" {
		f, err := os.Create(o.csv)
		if err != nil {
			return err
		}
		if err := errors.Join(rep.writeCSV(f), f.Close()); err != nil {
			return err
		}
	}
	return nil
}

// measure mounts t over a fresh upper in dir, runs r once and unmounts.
func measure(ctx context.Context, o *options, lt *lowerTree, t target, r row, dir string) (_ measurement, err error) {
	if err := os.RemoveAll(dir); err != nil {
		return measurement{}, err
	}
	upper, work, mnt := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "mnt")
	for _, d := range []string{upper, work, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return measurement{}, err
		}
	}
	m, err := startMount(t, lt.dir, upper, work, mnt)
	if err != nil {
		return measurement{}, err
	}
	defer func() {
		err = errors.Join(err, m.stop())
		if err == nil {
			err = os.RemoveAll(dir)
		}
	}()
	e := &env{ctx: ctx, mnt: mnt, lower: lt, files: o.files, write: o.writeSize}
	if r.setup != nil {
		if err := r.setup(e); err != nil {
			return measurement{}, fmt.Errorf("setup: %w", errors.Join(err, m.check()))
		}
	}
	unix.Sync()
	if r.cold {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
			return measurement{}, fmt.Errorf("dropping the caches: %w", err)
		}
	}
	res, err := r.run(e)
	if err != nil {
		return measurement{}, errors.Join(err, m.check())
	}
	if r.check != nil {
		if err := r.check(e); err != nil {
			return measurement{}, fmt.Errorf("check: %w", errors.Join(err, m.check()))
		}
	}
	return measurement{Row: r.Name, Target: t.name, Result: res}, ctx.Err()
}

// describe is the header: what was compared, on what.
func describe(o *options, lt *lowerTree) string {
	version := func(name string, args ...string) string {
		out, _ := exec.Command(name, args...).CombinedOutput()
		return versionLine(string(out), strings.TrimSuffix(name, "-fuse"))
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	params := []string{}
	for _, p := range []string{"metacopy", "redirect_dir", "index", "xino_auto"} {
		if b, err := os.ReadFile("/sys/module/overlay/parameters/" + p); err == nil {
			params = append(params, p+"="+strings.TrimSpace(string(b)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fusekit-ovbench: %d repetitions; lower %s: gosrc/ (%d entries), %d x 16 KiB, %d x %s, large %s\n",
		o.reps, lt.dir, lt.entries, lt.small, lt.big, fkbench.FormatSize(lt.bigSize), fkbench.FormatSize(lt.largeSize))
	fmt.Fprintf(&b, "kernel %s (overlay module: %s); %s; %s; nproc %d\n",
		unix.ByteSliceToString(u.Release[:]), strings.Join(params, " "), version("fuse-overlayfs", "--version"), version("unionfs-fuse", "--version"), runtime.NumCPU())
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "load average at the start: %s\n", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	for _, t := range o.targets {
		fmt.Fprintf(&b, "  %-16s ", t)
		switch t {
		case kernelName:
			b.WriteString("mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W M\n")
		default:
			tg, _ := targetsFor([]string{t}, o.fusekit2, o.fusekit3)
			if len(tg) == 1 {
				b.WriteString(strings.Join(tg[0].argv("L", "U", "W", "M"), " ") + "\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
