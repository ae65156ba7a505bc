package main

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	fkbench "github.com/fusekit/fusekit/conformance/bench"
)

// Bounds on a broken setup, not measurements.
const (
	mountTimeout = 30 * time.Second
	stopTimeout  = 60 * time.Second
)

// target is one overlay implementation. argv returns the command that
// mounts it in the foreground, or nil for kernel overlayfs, which is
// mounted with mount(2).
type target struct {
	name string
	argv func(lower, upper, work, mnt string) []string
}

func targetsFor(names []string, fusekit2, fusekit3 string) ([]target, error) {
	all := map[string]target{
		kernelName: {name: kernelName},
		fuseOvlName: {name: fuseOvlName, argv: func(l, u, w, m string) []string {
			return []string{"fuse-overlayfs", "-f", "-o", "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w, m}
		}},
		unionfsName: {name: unionfsName, argv: func(l, u, _, m string) []string {
			return []string{"unionfs-fuse", "-f", "-o", "cow", u + "=RW:" + l + "=RO", m}
		}},
		fusekit2Name: {name: fusekit2Name, argv: func(l, u, w, m string) []string {
			return []string{fusekit2, "-f", "-o", "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w, m}
		}},
		fusekit3Name: {name: fusekit3Name, argv: func(l, u, w, m string) []string {
			return []string{fusekit3, "-f", "-o", "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w, m}
		}},
		fusekitVolName: {name: fusekitVolName, argv: func(l, u, w, m string) []string {
			return []string{fusekit2, "-f", "-o", "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w + ",volatile", m}
		}},
	}
	var out []target
	for _, n := range names {
		t := all[n]
		if t.argv != nil {
			bin := t.argv("", "", "", "")[0]
			if bin == "" {
				binFlag := n
				if n == fusekitVolName {
					binFlag = fusekit2Name
				}
				return nil, fmt.Errorf("target %s: give its binary with -%s", n, binFlag)
			}
			if _, err := exec.LookPath(bin); err != nil {
				return nil, fmt.Errorf("target %s: %w (run.sh installs and builds what is missing)", n, err)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// mount is one live mount of a target.
type mount struct {
	t    target
	dir  string // mount point
	cmd  *exec.Cmd
	out  *fkbench.Tail
	done chan struct{} // closed when cmd has exited
	err  error         // cmd's exit status, set before done is closed
}

func startMount(t target, lower, upper, work, mnt string) (*mount, error) {
	m := &mount{t: t, dir: mnt}
	if t.argv == nil {
		opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
		if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
			return nil, fmt.Errorf("mount -t overlay -o %s %s: %w", opts, mnt, err)
		}
		return m, nil
	}
	argv := t.argv(lower, upper, work, mnt)
	m.cmd = exec.Command(argv[0], argv[1:]...)
	m.out = &fkbench.Tail{Max: 8 << 10}
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	// Its own process group, and told to stop when we die: SIGTERM, not
	// SIGKILL, so that the daemon still unmounts itself and the next run
	// finds no dead mount in its way.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	m.done = make(chan struct{})
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(mountTimeout)
	for {
		ok, err := fkbench.FUSEMountedAt(mnt)
		if err != nil {
			return nil, errors.Join(err, m.stop())
		}
		if ok {
			var st unix.Statfs_t
			if err := unix.Statfs(mnt, &st); err == nil {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("%s exited before mounting (%v): %s", t.name, m.err, m.out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("%s did not mount on %s within %v: %s", t.name, mnt, mountTimeout, m.out), m.stop())
		}
	}
}

// check reports a daemon that died during a row.
func (m *mount) check() error {
	if m.done == nil {
		return nil
	}
	select {
	case <-m.done:
		return fmt.Errorf("%s exited during the row (%v): %s", m.t.name, m.err, m.out)
	default:
		return nil
	}
}

// stop unmounts and, for a FUSE target, waits for the daemon to exit,
// killing it and detaching the mount if it does not.
func (m *mount) stop() error {
	var err error
	for i := 0; ; i++ {
		err = unix.Unmount(m.dir, 0)
		if err != unix.EBUSY || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == unix.EINVAL && m.done != nil {
		// The daemon failed before mounting; no unmount will end it.
		err = nil
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	}
	if m.done == nil {
		return err
	}
	select {
	case <-m.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = unix.Unmount(m.dir, unix.MNT_DETACH)
		<-m.done
		err = errors.Join(err, fmt.Errorf("%s did not exit within %v of the unmount: killed", m.t.name, stopTimeout))
	}
	if err != nil {
		return fmt.Errorf("unmounting %s (%s): %w", m.dir, m.t.name, err)
	}
	return nil
}
