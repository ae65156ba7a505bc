package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Runner runs every workload on every target, interleaved: for each
// repetition, for each workload, every target in turn. Interleaving spreads
// the machine's drift (other load, disk state, thermal) over all targets
// instead of charging it to whichever ran last. The order changes from one
// repetition to the next (Order), so that no target always follows the
// same one: what a workload leaves behind (the kernel still writing back or
// freeing the blocks of the files just deleted) falls on every target in
// turn. Use a multiple of the design's cycle as Reps (the number of targets,
// twice that when it is odd) for a fully balanced run.
type Runner struct {
	Targets   []Target // Targets[0] is the reference for ratios
	Workloads []Workload
	Reps      int
	Config    Config
	// WorkDir is where cmd: targets get their source and mount
	// directories. Empty means os.TempDir(). Put it on the same
	// filesystem as the native target for a fair comparison.
	WorkDir string
	// MountTimeout bounds the wait for a cmd: target to mount (default
	// 30 s); StopTimeout the wait for it to exit after SIGTERM before the
	// mount is detached and the process killed (default 15 s).
	MountTimeout time.Duration
	StopTimeout  time.Duration
	// Progress receives one line per measurement and every warning; nil
	// discards them.
	Progress io.Writer
}

// liveTarget is a target during a run.
type liveTarget struct {
	Target
	info TargetInfo
	base string  // scratch directory of this run inside the target
	tree string  // extracted tree left by tar-x or a setup, "" if none
	d    *daemon // nil for directory targets
}

func (t *liveTarget) dropTree() error {
	if t.tree == "" {
		return nil
	}
	err := os.RemoveAll(t.tree)
	t.tree = ""
	return err
}

// Run measures and returns the report. On failure it still returns what
// was measured so far together with the error. Whatever happens, including
// a cancelled ctx or a panic in a workload, every started target is stopped
// and every scratch directory removed before Run returns.
func (r *Runner) Run(ctx context.Context) (rep *Report, err error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	mountTimeout := orDefault(r.MountTimeout, 30*time.Second)
	stopTimeout := orDefault(r.StopTimeout, 15*time.Second)
	workdir := r.WorkDir
	if workdir == "" {
		workdir = os.TempDir()
	}
	progress := r.Progress
	if progress == nil {
		progress = io.Discard
	}
	warn := func(msg string) { fmt.Fprintln(progress, "warning:", msg) }

	rep = &Report{Settings: r.settings()}
	for _, w := range r.Workloads {
		rep.Workloads = append(rep.Workloads, WorkloadInfo{Name: w.Name, Unit: w.Unit})
	}

	var tree *treeArchive
	for _, w := range r.Workloads {
		if w.Name == "tar-x" || w.Name == "find" || w.Name == "grep-r" || w.Name == "rm-rf" {
			src := r.Config.TreeSource
			if src == "" {
				if src, err = goSourceTree(ctx); err != nil {
					return rep, err
				}
			}
			fmt.Fprintf(progress, "preparing the archive of %s\n", src)
			if tree, err = prepareTree(ctx, src, r.Config.CacheDir); err != nil {
				return rep, err
			}
			fmt.Fprintf(progress, "tree: %s, %d entries, %d bytes of file data\n", tree.path, tree.entries, tree.dataBytes)
			break
		}
	}

	var live []*liveTarget
	defer func() {
		// Stop in reverse order, and also on panic: deferred calls run
		// while a panic unwinds this goroutine.
		for i := len(live) - 1; i >= 0; i-- {
			err = errors.Join(err, live[i].stop(stopTimeout, warn))
		}
	}()
	for _, t := range r.Targets {
		lt := &liveTarget{Target: t, info: TargetInfo{
			Name: t.Name, Kind: t.Kind(), Definition: t.Describe(), Label: t.Label,
		}}
		root := t.Dir
		if t.IsCommand() {
			fmt.Fprintf(progress, "starting %s: %s\n", t.Name, t.Describe())
			d, err := startDaemon(ctx, t, workdir, mountTimeout, stopTimeout, warn)
			if err != nil {
				return rep, err
			}
			lt.d = d
			live = append(live, lt)
			lt.info.Detected = detectLibfuse(d.pgid)
			root = d.mnt
			fmt.Fprintf(progress, "%s: mounted on %s (pid %d, %s)\n", t.Name, d.mnt, d.pgid, orDash(lt.info.Build()))
		} else {
			if err := os.MkdirAll(root, 0o755); err != nil {
				return rep, fmt.Errorf("target %q: %w", t.Name, err)
			}
			live = append(live, lt)
		}
		if lt.base, err = os.MkdirTemp(root, "fusekit-bench-"); err != nil {
			return rep, fmt.Errorf("target %q: %w", t.Name, err)
		}
		rep.Targets = append(rep.Targets, lt.info)
	}

	for i := 1; i <= r.Reps; i++ {
		order := Order(len(live), i)
		for _, w := range r.Workloads {
			for _, k := range order {
				lt := live[k]
				m, err := r.runOne(ctx, lt, w, i, tree)
				if err != nil {
					return rep, err
				}
				rep.Raw = append(rep.Raw, m)
				fmt.Fprintf(progress, "rep %d/%d  %-8s %-16s %s %s\n", i, r.Reps, w.Name, lt.Name,
					formatValue(w.Unit, m.Result.Value(w.Unit)), w.Unit)
			}
		}
	}
	return rep, nil
}

func (r *Runner) runOne(ctx context.Context, lt *liveTarget, w Workload, rep int, tree *treeArchive) (Measurement, error) {
	fail := func(err error) error {
		err = fmt.Errorf("target %q, workload %s, rep %d: %w", lt.Name, w.Name, rep, err)
		if lt.d != nil {
			if derr := lt.d.check(); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	if lt.d != nil {
		if err := lt.d.check(); err != nil {
			return Measurement{}, fmt.Errorf("target %q, before workload %s: %w", lt.Name, w.Name, err)
		}
	}
	dir, err := os.MkdirTemp(lt.base, w.Name+"-")
	if err != nil {
		return Measurement{}, fail(err)
	}
	e := &env{ctx: ctx, cfg: &r.Config, dir: dir, target: lt, tree: tree}
	res, err := w.run(e)
	if rmErr := os.RemoveAll(dir); err == nil && rmErr != nil {
		err = fmt.Errorf("cleanup: %w", rmErr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Measurement{}, ctx.Err()
		}
		return Measurement{}, fail(err)
	}
	return Measurement{Target: lt.Name, Workload: w.Name, Rep: rep, Result: res}, nil
}

// stop removes the target's scratch directory and, for a cmd: target,
// stops the daemon and removes its directories.
func (t *liveTarget) stop(timeout time.Duration, warn func(string)) error {
	var errs []error
	if t.base != "" {
		// Only remove through a mount that is still there: walking a
		// dead FUSE mount would fail on every entry.
		if t.d == nil || t.d.check() == nil {
			if err := os.RemoveAll(t.base); err != nil {
				errs = append(errs, fmt.Errorf("target %q: %w", t.Name, err))
			}
		}
	}
	if t.d != nil {
		errs = append(errs, t.d.stop(timeout, warn))
	}
	return errors.Join(errs...)
}

func (r *Runner) validate() error {
	if len(r.Targets) == 0 {
		return errors.New("no targets")
	}
	if len(r.Workloads) == 0 {
		return errors.New("no workloads")
	}
	if r.Reps < 1 {
		return fmt.Errorf("reps %d: must be at least 1", r.Reps)
	}
	seen := map[string]bool{}
	for _, t := range r.Targets {
		if seen[t.Name] {
			return &SpecError{t.Name, "name used twice"}
		}
		seen[t.Name] = true
		if !t.IsCommand() && !filepath.IsAbs(t.Dir) {
			return &SpecError{t.Name, fmt.Sprintf("directory %q is not absolute", t.Dir)}
		}
	}
	return r.Config.validate()
}

func (r *Runner) settings() string {
	c := r.Config
	cold := "cold rows drop the page cache"
	if !c.Cold {
		cold = "warm: the page cache is NOT dropped"
	}
	return fmt.Sprintf("fusekit-bench: size %s, %d files, %d random ops, %d reps interleaved, %s",
		FormatSize(c.Size), c.Files, c.RandOps, r.Reps, cold)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "build unknown"
	}
	return s
}
