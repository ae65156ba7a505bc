package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestRunCommandTarget runs every workload on a FUSE daemon the runner
// starts itself, against a native directory, and checks that the daemon is
// stopped and every directory removed.
func TestRunCommandTarget(t *testing.T) {
	native, work := t.TempDir(), t.TempDir()
	var progress syncBuffer
	mem := daemonTarget(t, "memfs", "memfs")
	mem.Label = wantLibfuse
	r := &Runner{
		Targets:   []Target{{Name: "native", Dir: native}, mem},
		Workloads: Workloads(),
		Reps:      1,
		Config:    tinyConfig(t),
		WorkDir:   work,
		Progress:  &progress,
	}
	rep, err := r.Run(context.Background())
	require.NoError(t, err, progress.String())
	require.Len(t, rep.Targets, 2)
	assert.Equal(t, wantLibfuse, rep.Targets[1].Detected, "the build is read from the daemon's memory maps")
	assert.Equal(t, wantLibfuse, rep.Targets[1].Build())
	assert.Equal(t, "cmd", rep.Targets[1].Kind)
	require.Len(t, rep.Raw, 2*len(all))
	for _, m := range rep.Raw {
		assert.Positive(t, m.Result.Elapsed, "%s/%s", m.Workload, m.Target)
	}
	assert.Contains(t, progress.String(), "memfs: mounted on "+work)
	assert.NotContains(t, progress.String(), "warning")
	requireClean(t, work)
	requireClean(t, native)
}

func TestCommandThatFailsToMount(t *testing.T) {
	work := t.TempDir()
	r := &Runner{
		Targets:   []Target{{Name: "native", Dir: t.TempDir()}, daemonTarget(t, "bad", "fail")},
		Workloads: Workloads()[:1], Reps: 1, Config: tinyConfig(t), WorkDir: work,
	}
	rep, err := r.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `target "bad"`)
	assert.Contains(t, err.Error(), "exited before mounting")
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "test daemon: refusing to mount", "the command's output is quoted")
	assert.Empty(t, rep.Raw)
	requireClean(t, work)
}

func TestCommandThatNeverMounts(t *testing.T) {
	work := t.TempDir()
	var progress syncBuffer
	r := &Runner{
		Targets:   []Target{daemonTarget(t, "hung", "never")},
		Workloads: Workloads()[:1], Reps: 1, Config: tinyConfig(t), WorkDir: work,
		// The daemon ignores SIGTERM only once it runs: the mount wait must
		// outlast its start, or SIGTERM kills it first and the kill path is
		// never taken. The race-built test binary took 0.24–1.11 s to start
		// and exit with both CPUs of a 2-CPU machine busy; 300 ms failed
		// there every time. The stop wait is only how long a process that
		// never exits is given.
		MountTimeout: 10 * time.Second, StopTimeout: 200 * time.Millisecond,
		Progress: &progress,
	}
	_, err := r.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `target "hung"`)
	assert.Contains(t, err.Error(), "no FUSE filesystem appeared")
	assert.Contains(t, err.Error(), "it printed nothing")
	assert.Contains(t, progress.String(), `target "hung": no exit within 200ms of SIGTERM`, "SIGTERM is ignored, so the tool kills it")
	requireClean(t, work)
}

func TestCommandThatIgnoresSIGTERM(t *testing.T) {
	work := t.TempDir()
	var progress syncBuffer
	r := &Runner{
		Targets:   []Target{daemonTarget(t, "stubborn", "stubborn")},
		Workloads: Workloads()[:1], Reps: 1, Config: tinyConfig(t), WorkDir: work,
		StopTimeout: 300 * time.Millisecond, Progress: &progress,
	}
	rep, err := r.Run(context.Background())
	require.NoError(t, err, "escalating is a warning, not a failure")
	assert.Len(t, rep.Raw, 1)
	assert.Contains(t, progress.String(), `target "stubborn": no exit within 300ms of SIGTERM; detaching the mount and killing it`)
	requireClean(t, work)
}

func TestMountVanishesMidRun(t *testing.T) {
	work := t.TempDir()
	d, err := startDaemon(context.Background(), daemonTarget(t, "m", "memfs"), work, 10*time.Second, 10*time.Second, func(string) {})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			assert.NoError(t, d.stop(10*time.Second, func(string) {}))
		}
	})
	require.NoError(t, d.check())
	require.NoError(t, detach(d.mnt))
	err = d.check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the FUSE mount on "+d.mnt+" is gone")
	stopped = true
	require.NoError(t, d.stop(10*time.Second, func(string) {}))
	requireClean(t, work)
}

func TestDeadConnectionIsReported(t *testing.T) {
	work := t.TempDir()
	// Without auto_unmount: with it, the SDK's watchdog detaches the dead
	// mount as soon as the daemon's loop ends, racing the check.
	d, err := startDaemon(context.Background(), daemonTarget(t, "m", "noauto"), work, 10*time.Second, 10*time.Second, func(string) {})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			assert.NoError(t, d.stop(10*time.Second, func(string) {}))
		}
	})
	var st unix.Stat_t
	require.NoError(t, unix.Stat(d.mnt, &st))
	// Abort the connection, as a crash without auto_unmount or an
	// administrator would leave it: still listed, answering ENOTCONN.
	// fusectl need not be mounted here: the abort runs in a mount
	// namespace of its own that mounts it, which leaves this machine's
	// mounts as they were.
	abort := fmt.Sprintf("{ grep -q ' /sys/fs/fuse/connections ' /proc/self/mountinfo || mount -t fusectl fusectl /sys/fs/fuse/connections; } && echo 1 > /sys/fs/fuse/connections/%d/abort", unix.Minor(st.Dev))
	cmd := exec.Command("sh", "-c", abort)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "aborting the connection: %s", out)
	err = d.check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not answer")
	assert.ErrorIs(t, err, unix.ENOTCONN)
	stopped = true
	require.NoError(t, d.stop(10*time.Second, func(string) {}))
	requireClean(t, work)
}

// panicking stands in for a workload with a bug.
var panicking = Workload{Name: "boom", Unit: Seconds, run: func(*env) (Result, error) { panic("workload bug") }}

func TestPanicStillStopsTargets(t *testing.T) {
	work, native := t.TempDir(), t.TempDir()
	r := &Runner{
		Targets:   []Target{{Name: "native", Dir: native}, daemonTarget(t, "memfs", "memfs")},
		Workloads: []Workload{panicking}, Reps: 1, Config: tinyConfig(t), WorkDir: work,
	}
	assert.PanicsWithValue(t, "workload bug", func() { _, _ = r.Run(context.Background()) })
	requireClean(t, work)
	requireClean(t, native)
}

func TestCancelStopsTargets(t *testing.T) {
	work, native := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as the first measurement is reported, as Ctrl-C would.
	progress := cancelOn{substr: "rep 1/3", cancel: cancel}
	r := &Runner{
		Targets:   []Target{{Name: "native", Dir: native}, daemonTarget(t, "memfs", "memfs")},
		Workloads: Workloads()[:2], Reps: 3, Config: tinyConfig(t), WorkDir: work, Progress: &progress,
	}
	rep, err := r.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, rep.Raw, 1, "the run stops at the next measurement")
	requireClean(t, work)
	requireClean(t, native)
}

type cancelOn struct {
	substr string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.substr) {
		c.cancel()
	}
	return len(p), nil
}

func TestColdDropsTheCache(t *testing.T) {
	// One real drop_caches (the rest of the suite runs warm, since the
	// machine is shared): it needs root, and the error must say so when
	// it fails.
	dir := t.TempDir()
	cfg := tinyConfig(t)
	cfg.Cold = true
	r := &Runner{Targets: []Target{{Name: "n", Dir: dir}}, Workloads: []Workload{all[3]}, Reps: 1, Config: cfg}
	rep, err := r.Run(context.Background())
	if os.Geteuid() != 0 {
		require.Error(t, err)
		assert.Contains(t, err.Error(), "needs root")
		return
	}
	require.NoError(t, err)
	require.Len(t, rep.Raw, 1)
	assert.Equal(t, "r4k", rep.Raw[0].Workload)
	assert.Contains(t, rep.Settings, "cold rows drop the page cache")
}

func TestRunnerValidates(t *testing.T) {
	ok := Runner{Targets: []Target{{Name: "n", Dir: "/tmp"}}, Workloads: all[:1], Reps: 1, Config: DefaultConfig()}
	for name, tc := range map[string]struct {
		mutate func(*Runner)
		want   string
	}{
		"no targets":  {func(r *Runner) { r.Targets = nil }, "no targets"},
		"no work":     {func(r *Runner) { r.Workloads = nil }, "no workloads"},
		"reps":        {func(r *Runner) { r.Reps = 0 }, "reps 0"},
		"duplicate":   {func(r *Runner) { r.Targets = append(r.Targets, Target{Name: "n", Dir: "/x"}) }, `target "n": name used twice`},
		"relative":    {func(r *Runner) { r.Targets = []Target{{Name: "rel", Dir: "x"}} }, `target "rel": directory "x" is not absolute`},
		"tiny size":   {func(r *Runner) { r.Config.Size = 10 }, "size 10"},
		"tree source": {func(r *Runner) { r.Workloads = all[9:10]; r.Config.TreeSource = "/nonexistent/tree" }, "tree source"},
	} {
		t.Run(name, func(t *testing.T) {
			r := ok
			tc.mutate(&r)
			_, err := r.Run(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDetectLibfuseNone(t *testing.T) {
	// A group that does not exist maps nothing; the positive case is in
	// TestRunCommandTarget.
	assert.Equal(t, "", detectLibfuse(1<<30))
}

func TestDaemonStartErrorNamesTarget(t *testing.T) {
	work := t.TempDir()
	tg, err := ParseTarget("ghost=cmd:" + filepath.Join(work, "no-such-binary") + " {mnt}")
	require.NoError(t, err)
	_, err = startDaemon(context.Background(), tg, work, time.Second, time.Second, func(string) {})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `target "ghost": cannot start`)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	requireClean(t, work)
}
