//go:build cgo

package sdk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/winfsp/cgofuse/fuse"
	"golang.org/x/sys/unix"
)

// checkMountpoint verifies the mountpoint before libfuse sees it, so that
// each problem gets its own message instead of libfuse's stderr line (and
// so that both libfuse lines behave alike: libfuse3 would silently stack a
// second mount or mount over a non-empty directory). It reports whether the
// directory has entries (then AllowNonEmpty was set). A stale FUSE mount is
// looked for first, through mountinfo and statfs only: every other look at
// the path (stat, lstat, symlink resolution) fails on it with ENOTCONN.
func checkMountpoint(dir string, r *resolved) (nonempty bool, err error) {
	if r.ClearStale {
		if err := ClearStale(dir); err != nil {
			return false, err
		}
	} else if err := checkStale(dir); err != nil {
		return false, err
	}
	m, isMount, err := mountAt(mountinfoPath(dir))
	if err != nil {
		return false, &MountError{Dir: dir, Reason: "cannot read /proc/self/mountinfo", Err: err}
	}
	if isMount {
		return false, &MountError{Dir: dir,
			Reason: fmt.Sprintf("something is already mounted there (%s from %s); unmount it first", m.FSType, m.Source)}
	}
	var st unix.Stat_t
	err = unix.Stat(dir, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, &MountError{Dir: dir, Reason: "the mountpoint does not exist"}
	case deadConn(err):
		// The dead mount is not at dir itself but on the way to it (a
		// parent), or dir names it through a symlink that cannot be
		// resolved any more.
		return false, &MountError{Dir: dir, Reason: "a stale FUSE mount is on the path to the mountpoint (its server died); unmount it with " + fusermount() + " -u -z", Err: ErrStaleMount}
	case err != nil:
		return false, &MountError{Dir: dir, Reason: "cannot stat the mountpoint", Err: err}
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return false, &MountError{Dir: dir, Reason: "the mountpoint is not a directory"}
	}
	f, err := os.Open(dir)
	if err != nil {
		return false, &MountError{Dir: dir, Reason: "cannot read the mountpoint", Err: err}
	}
	names, _ := f.Readdirnames(1)
	f.Close()
	if len(names) > 0 {
		if !r.AllowNonEmpty {
			return false, &MountError{Dir: dir,
				Reason: fmt.Sprintf("the mountpoint is not empty (it contains %q); set Options.AllowNonEmpty to mount over it", names[0])}
		}
		return true, nil
	}
	return false, nil
}

// CheckStale reports whether a stale FUSE mount (one whose server died
// without unmounting: "transport endpoint is not connected") sits at dir.
// It returns nil when there is none, and a *MountError matching
// ErrStaleMount when there is; its message says how to clear it. It looks
// only at /proc/self/mountinfo and statfs(2), so it works where stat, lstat
// and filepath.EvalSymlinks of dir fail: a program that resolves its
// mountpoint itself should call it (or ClearStale) first. Mount makes the
// same check.
func CheckStale(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return &MountError{Dir: dir, Reason: "cannot make the mountpoint absolute", Err: err}
	}
	return checkStale(abs)
}

func checkStale(dir string) error {
	st, err := staleAt(dir)
	if err != nil {
		return err
	}
	if st {
		return &MountError{Dir: dir, Err: ErrStaleMount,
			Reason: fmt.Sprintf("a stale FUSE mount is in the way; set Options.ClearStale (-clear-stale in the example binaries) or run: %s -u -z %s", fusermount(), dir)}
	}
	return nil
}

// ClearStale removes every stale FUSE mount stacked at dir, and does
// nothing when there is none; a live mount is left alone. As root it
// detaches the mount lazily (umount2 MNT_DETACH), otherwise it runs
// fusermount -u -z, which allows it for mounts the user made. The dead
// connection itself ends once nothing uses the old mount any more.
// Mount does this when Options.ClearStale is set.
func ClearStale(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return &MountError{Dir: dir, Reason: "cannot make the mountpoint absolute", Err: err}
	}
	// Stale mounts can be stacked (a server that died, restarted over its
	// own dead mount with libfuse3, and died again); a bound keeps a mount
	// that comes back at once from looping forever.
	for i := 0; i < 16; i++ {
		st, err := staleAt(abs)
		if err != nil || !st {
			return err
		}
		if err := detach(mountinfoPath(abs)); err != nil {
			return &MountError{Dir: abs, Reason: "cannot clear the stale FUSE mount", Err: err}
		}
	}
	return &MountError{Dir: abs, Reason: "a stale FUSE mount is still there after 16 lazy unmounts", Err: ErrStaleMount}
}

// staleAt reports whether the topmost mount at dir is a FUSE mount whose
// server is gone.
func staleAt(dir string) (bool, error) {
	m, isMount, err := mountAt(mountinfoPath(dir))
	if err != nil {
		return false, &MountError{Dir: dir, Reason: "cannot read /proc/self/mountinfo", Err: err}
	}
	return isMount && isFUSE(m.FSType) && stale(dir), nil
}

// mountinfoPath returns dir as /proc/self/mountinfo lists it: with the
// symlinks of its parent resolved. The last component is not resolved, as
// resolving it would stat a possibly dead mount.
func mountinfoPath(dir string) string {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return dir
	}
	return filepath.Join(parent, filepath.Base(dir))
}

func isFUSE(fstype string) bool {
	return fstype == "fuse" || fstype == "fuseblk" || strings.HasPrefix(fstype, "fuse.") || strings.HasPrefix(fstype, "fuseblk.")
}

// stale reports whether the FUSE mount at dir has lost its server. statfs
// always reaches the server, where stat may be answered from the kernel's
// attribute cache even after the server died.
func stale(dir string) bool {
	var sfs unix.Statfs_t
	return deadConn(unix.Statfs(dir, &sfs))
}

// deadConn reports whether err is what a FUSE connection without a server
// answers: ENOTCONN once it has been aborted, ECONNABORTED for a request
// that was in flight when it was.
func deadConn(err error) bool {
	return errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNABORTED)
}

// fusermount is the setuid helper of this build's libfuse line; libfuse
// needs it for auto_unmount and for unprivileged mounts.
func fusermount() string {
	if Build == "fuse3" {
		return "fusermount3"
	}
	return "fusermount"
}

func checkHelpers(r *resolved) error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("/dev/fuse is not available (load the fuse module, or pass the device to the container): %w", err)
	}
	need := ""
	switch {
	case !r.NoAutoUnmount:
		need = "auto_unmount"
	case os.Geteuid() != 0:
		need = "unprivileged mounts"
	}
	if need != "" {
		if _, err := exec.LookPath(fusermount()); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install -y fuse3), and it is needed for %s: %w", fusermount(), need, err)
		}
	}
	return nil
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	MountPoint string
	FSType     string
	Source     string
}

// parseMountinfo parses the format of proc(5) mountinfo: "36 35 98:0
// /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
// Fields before the " - " separator are positional; optional fields vary in
// number. Paths are octal-escaped (\040 for a space).
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			return nil, fmt.Errorf("mountinfo line without separator: %q", line)
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 6 || len(g) < 2 {
			return nil, fmt.Errorf("mountinfo line with too few fields: %q", line)
		}
		out = append(out, mountEntry{
			MountPoint: unescapeMountinfo(f[4]),
			FSType:     g[0],
			Source:     unescapeMountinfo(g[1]),
		})
	}
	return out, sc.Err()
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// mountAt returns the topmost mount at dir.
func mountAt(dir string) (mountEntry, bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false, err
	}
	ms, err := parseMountinfo(bytes.NewReader(data))
	if err != nil {
		return mountEntry{}, false, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].MountPoint == dir {
			return ms[i], true, nil
		}
	}
	return mountEntry{}, false, nil
}

// waitLive polls until dir is a FUSE mount of ours in mountinfo and its root
// answers stat, and returns the mount's device number.
func waitLive(dir, subtype string, deadline <-chan time.Time) (uint64, error) {
	want := "fuse." + subtype
	listed := mountinfoPath(dir)
	var last error
	for {
		m, ok, err := mountAt(listed)
		switch {
		case err != nil:
			last = err
		case !ok:
			last = errors.New("not listed in /proc/self/mountinfo")
		case m.FSType != want && m.FSType != "fuse":
			last = fmt.Errorf("mountinfo lists %s there, not %s", m.FSType, want)
		default:
			var st unix.Stat_t
			if err := unix.Stat(dir, &st); err != nil {
				last = fmt.Errorf("stat of the mounted root failed: %w", err)
			} else {
				return st.Dev, nil
			}
		}
		select {
		case <-deadline:
			return 0, last
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// detach lazily unmounts dir: the mount disappears from the namespace now
// and goes away for good when the last user lets go.
func detach(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		return runFusermount("-u", "-z", dir)
	}
	return err
}

func runFusermount(args ...string) error {
	out, err := exec.Command(fusermount(), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", fusermount(), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// unmountDir unmounts gracefully: a plain unmount fails with EBUSY while
// files are open, so it is retried until ctx is done; then the mount is
// detached lazily and forced is true: the caller must abort the
// connection (abortConnection), or open files keep this process serving.
func unmountDir(ctx context.Context, dir string, host *fuse.FileSystemHost) (forced bool, err error) {
	for {
		err := unix.Unmount(dir, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return false, nil
		case errors.Is(err, unix.EPERM):
			if runFusermount("-u", dir) == nil {
				return false, nil
			}
		case !errors.Is(err, unix.EBUSY):
			return false, fmt.Errorf("unmount %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			if derr := detach(dir); derr != nil {
				return true, fmt.Errorf("lazy unmount of %s: %w", dir, derr)
			}
			return true, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// fusectlDir is where the kernel's fusectl filesystem lists connections.
const fusectlDir = "/sys/fs/fuse/connections"

// abortConnection aborts the FUSE connection of the mount with device dev,
// as `echo 1 > /sys/fs/fuse/connections/N/abort` does: every request
// waiting on it fails, and libfuse's loop stops reading. A lazy detach
// alone leaves the connection alive for as long as a file on it is open.
// fusectl is mounted first when it is not, which needs root; mounted
// reports that it was, for the caller to say so. An error says why the
// connection could not be aborted.
func abortConnection(dev uint64) (mounted bool, err error) {
	if dev == 0 {
		return false, errors.New("the mount's device number is unknown")
	}
	m, ok, err := mountAt(fusectlDir)
	if err != nil {
		return false, fmt.Errorf("cannot read /proc/self/mountinfo: %w", err)
	}
	if !ok || m.FSType != "fusectl" {
		if _, err := os.Stat(fusectlDir); err != nil {
			return false, fmt.Errorf("the FUSE control filesystem cannot be mounted, %s is missing (is sysfs mounted, and the fuse module loaded?): %w", fusectlDir, err)
		}
		if os.Geteuid() != 0 {
			return false, fmt.Errorf("the FUSE control filesystem is not mounted on %s and only root can mount it (mount -t fusectl none %s)", fusectlDir, fusectlDir)
		}
		if err := unix.Mount("fusectl", fusectlDir, "fusectl", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return false, fmt.Errorf("cannot mount the FUSE control filesystem on %s: %w", fusectlDir, err)
		}
		mounted = true
	}
	// fusectl names a connection by the kernel's encoding of the device
	// number, which for the anonymous devices FUSE uses is the minor.
	id := unix.Major(dev)<<20 | unix.Minor(dev)
	err = os.WriteFile(filepath.Join(fusectlDir, strconv.FormatUint(uint64(id), 10), "abort"), []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) {
		// The connection ended between the detach and now.
		return mounted, nil
	}
	if err != nil {
		return mounted, fmt.Errorf("cannot abort FUSE connection %d through %s: %w", id, fusectlDir, err)
	}
	return mounted, nil
}

// closeOnExecAll marks every descriptor above 2 close-on-exec. Go opens all
// its own descriptors that way, but libfuse does not: libfuse2 keeps its
// end of the auto_unmount socket to fusermount, and the /dev/fuse
// descriptor, inheritable. Every process started afterwards would then hold
// them, and a fusermount watcher of one mount holding another mount's
// socket keeps that mount's watcher (and whatever pipes it inherited, such
// as go test's output pipe) alive after the server has gone. Descriptors
// this process meant to pass on are passed with exec.Cmd.ExtraFiles, which
// does not depend on this flag. The caller holds syscall.ForkLock so that
// no fork happens while a descriptor is still inheritable.
func closeOnExecAll() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
	}
}

// stderrMu serialises stderr capture: file descriptor 2 belongs to the whole
// process, so only one Mount at a time may borrow it.
var stderrMu sync.Mutex

// stderrCapture tees what is written to fd 2 while libfuse mounts, so that
// its messages ("fuse: unknown option ...") can go into the MountError.
type stderrCapture struct {
	saved int // the original fd 2, -1 if capture could not start
	r     *os.File
	mu    sync.Mutex
	buf   bytes.Buffer // guarded by mu
	done  chan struct{}
}

func captureStderr() *stderrCapture {
	stderrMu.Lock()
	c := &stderrCapture{saved: -1, done: make(chan struct{})}
	r, w, err := os.Pipe()
	if err != nil {
		close(c.done)
		return c
	}
	saved, err := unix.Dup(2)
	if err != nil {
		r.Close()
		w.Close()
		close(c.done)
		return c
	}
	unix.CloseOnExec(saved)
	if err := unix.Dup3(int(w.Fd()), 2, 0); err != nil {
		unix.Close(saved)
		r.Close()
		w.Close()
		close(c.done)
		return c
	}
	w.Close()
	c.saved, c.r = saved, r
	go func() {
		defer close(c.done)
		p := make([]byte, 4096)
		for {
			n, err := r.Read(p)
			if n > 0 {
				// Everything still reaches the real stderr.
				_, _ = unix.Write(saved, p[:n])
				c.mu.Lock()
				if c.buf.Len() < 16<<10 {
					c.buf.Write(p[:n])
				}
				c.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// stop restores fd 2 and returns what was captured. A helper process
// started meanwhile (fusermount with auto_unmount lives as long as the
// mount) may still hold the pipe, so the reader is stopped by a deadline,
// not by end of file.
func (c *stderrCapture) stop() string {
	defer stderrMu.Unlock()
	if c.saved < 0 {
		return ""
	}
	_ = unix.Dup3(c.saved, 2, 0)
	_ = c.r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	<-c.done
	c.r.Close()
	unix.Close(c.saved)
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.buf.String())
}
