package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// daemon is a running cmd: target: the process, its private source and
// mount directories, and its output log. The process leads its own process
// group, so that the terminal's Ctrl-C reaches the tool alone (the tool
// decides when filesystems stop) and so that wrappers and their children
// can be signalled together.
type daemon struct {
	name string
	dir  string // private directory holding src, mnt and output.log
	src  string
	mnt  string // resolved, as /proc/self/mountinfo spells it
	log  string // the process's stdout and stderr
	cmd  *exec.Cmd
	pgid int

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // written before exited is closed
}

// outputTailBytes bounds how much of a daemon's output an error quotes.
const outputTailBytes = 2048

// startDaemon runs t's command on fresh directories under workdir and
// returns once a FUSE filesystem is mounted on {mnt} and answers statfs.
// On any failure nothing is left behind: no process, no mount, no
// directory.
func startDaemon(ctx context.Context, t Target, workdir string, mountTimeout, stopTimeout time.Duration, warn func(string)) (_ *daemon, err error) {
	dir, err := os.MkdirTemp(workdir, "fusekit-bench-"+t.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	d := &daemon{name: t.Name, dir: dir, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.stop(stopTimeout, warn))
		}
	}()
	if d.dir, err = filepath.EvalSymlinks(dir); err != nil {
		d.dir = dir
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	d.src = filepath.Join(d.dir, "src")
	d.mnt = filepath.Join(d.dir, "mnt")
	d.log = filepath.Join(d.dir, "output.log")
	for _, p := range []string{d.src, d.mnt} {
		if err := os.Mkdir(p, 0o755); err != nil {
			return nil, fmt.Errorf("target %q: %w", t.Name, err)
		}
	}
	out, err := os.Create(d.log)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	defer out.Close() // the child holds its own copy

	argv := t.Expand(d.src, d.mnt)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.Dir = d.dir
	d.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the tool dies without cleaning up (SIGKILL, a crash outside
		// the deferred cleanup), the filesystem still unmounts itself.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := d.cmd.Start(); err != nil {
		d.cmd = nil
		return nil, fmt.Errorf("target %q: cannot start %s: %w", t.Name, argv[0], err)
	}
	d.pgid = d.cmd.Process.Pid
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()

	if err := d.waitMounted(ctx, mountTimeout); err != nil {
		return nil, fmt.Errorf("target %q: %w%s", t.Name, err, d.outputTail())
	}
	return d, nil
}

// waitMounted polls mountinfo until {mnt} is a FUSE mount, then asks it for
// statfs so that the first workload does not pay for the FUSE handshake.
func (d *daemon) waitMounted(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := fuseMountedAt(d.mnt)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no FUSE filesystem appeared on %s within %v", d.mnt, timeout)
		}
		select {
		case <-d.exited:
			// A daemon that forks into the background exits once it has
			// mounted; look once more before calling it a failure.
			if ok, _ := fuseMountedAt(d.mnt); ok {
				return d.statRoot(ctx, deadline)
			}
			return fmt.Errorf("the command exited before mounting on %s (%s)", d.mnt, exitText(d.waitErr))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return d.statRoot(ctx, deadline)
}

func (d *daemon) statRoot(ctx context.Context, deadline time.Time) error {
	done := make(chan error, 1)
	// statfs, not stat: the kernel may answer a stat of the root from its
	// attribute cache, but always asks the daemon for statfs. A wedged
	// daemon can block it forever; the goroutine then ends when stop
	// detaches the mount.
	go func() {
		var st unix.Statfs_t
		err := unix.Statfs(d.mnt, &st)
		if err != nil {
			err = &os.PathError{Op: "statfs", Path: d.mnt, Err: err}
		}
		done <- err
	}()
	timer := time.NewTimer(max(time.Until(deadline), time.Second))
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the mount on %s does not answer: %w", d.mnt, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("the mount on %s does not answer statfs", d.mnt)
	}
}

// check reports a daemon that can no longer serve: its mount has
// disappeared (a crash with auto_unmount, an unmount from outside), its
// process died, or its connection is dead (a stale mount, an aborted
// connection), with the exit status and last output.
func (d *daemon) check() error {
	ok, err := fuseMountedAt(d.mnt)
	if err != nil {
		return err
	}
	state := "still running"
	exited := d.hasExited()
	if exited {
		state = exitText(d.waitErr)
	}
	switch {
	case !ok:
		return fmt.Errorf("the FUSE mount on %s is gone (process %s)%s", d.mnt, state, d.outputTail())
	case exited && d.waitErr != nil:
		return fmt.Errorf("the process serving %s died (%s)%s", d.mnt, state, d.outputTail())
	}
	if err := d.statRoot(context.Background(), time.Now().Add(5*time.Second)); err != nil {
		return fmt.Errorf("%w (process %s)%s", err, state, d.outputTail())
	}
	return nil
}

// stop ends the daemon and removes its directories: SIGTERM to the process
// group and a wait of up to timeout for a clean unmount; then, whatever
// happened, a lazy unmount of anything still mounted and SIGKILL for any
// process left in the group. Escalations are passed to warn; the error
// reports only what could not be cleaned up (a mount or a process that
// survived), and in that case the directories are kept.
func (d *daemon) stop(timeout time.Duration, warn func(string)) error {
	if d.cmd != nil && !d.hasExited() {
		_ = syscall.Kill(-d.pgid, syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(timeout):
			warn(fmt.Sprintf("target %q: no exit within %v of SIGTERM; detaching the mount and killing it", d.name, timeout))
		}
	}
	var errs []error
	// Several rounds, because mounts stack: libfuse3 mounts over an
	// existing mount without complaint, and each detach removes one.
	for round := 0; round < 3; round++ {
		ok, err := fuseMountedAt(d.mnt)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if !ok {
			break
		}
		if round == 0 && d.cmd != nil && d.hasExited() {
			warn(fmt.Sprintf("target %q: the process exited but left its mount; detaching it", d.name))
		}
		if err := detach(d.mnt); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if ok, _ := fuseMountedAt(d.mnt); ok && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s is still mounted after three detaches", d.mnt))
	}
	if d.cmd != nil {
		// Stragglers (a wrapper's children, a daemon that forked) go too.
		_ = syscall.Kill(-d.pgid, syscall.SIGKILL)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("process %d did not exit after SIGKILL", d.pgid))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("target %q: cleanup incomplete, %s kept: %w", d.name, d.dir, errors.Join(errs...))
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("target %q: %w", d.name, err)
	}
	return nil
}

func (d *daemon) hasExited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// outputTail quotes the end of the daemon's output for an error message,
// or returns "" when it printed nothing.
func (d *daemon) outputTail() string {
	f, err := os.Open(d.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > outputTailBytes {
		if _, err := f.Seek(-outputTailBytes, io.SeekEnd); err != nil {
			return ""
		}
	}
	b, _ := io.ReadAll(f)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "; it printed nothing"
	}
	return "; its output ends with:\n" + s
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

// detectLibfuse names the libfuse library mapped by any process of the
// group led by pgid: cgofuse loads libfuse with dlopen, so the maps are the
// only reliable witness of which build a binary is. "" if none is mapped.
func detectLibfuse(pgid int) string {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	found := map[string]bool{}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and
		// may itself contain spaces: state, ppid, pgrp.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		if err != nil {
			continue
		}
		for lib, build := range map[string]string{"/libfuse3.so": "libfuse3", "/libfuse.so.2": "libfuse2"} {
			if strings.Contains(string(maps), lib) {
				found[build] = true
			}
		}
	}
	var builds []string
	for _, b := range []string{"libfuse2", "libfuse3"} {
		if found[b] {
			builds = append(builds, b)
		}
	}
	return strings.Join(builds, "+")
}
