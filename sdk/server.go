//go:build !linux || cgo

package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/winfsp/cgofuse/fuse"
)

// Server is one live mount. Every Server is independent: several can run in
// one process, each with its own filesystem, options, handles and counters.
type Server struct {
	dir    string
	fsys   FileSystem
	opts   *resolved
	host   *fuse.FileSystemHost
	bridge *bridge
	cancel context.CancelFunc // cancels the context every request carries
	dev    uint64             // st_dev of the mounted root, names the FUSE connection
	grace  time.Duration      // releaseGrace, shortened by tests that wait for it

	done chan struct{} // closed when the filesystem has been released

	mu         sync.Mutex
	destroyErr error     // guarded by mu: the drain error from Destroy
	destroyed  bool      // guarded by mu: Destroy ran
	mountOK    bool      // guarded by mu: what host.Mount returned
	loopEnded  bool      // guarded by mu: host.Mount has returned
	watchdog   *watchdog // guarded by mu: the stale-mount watchdog, if running

	unmountOnce sync.Once
	unmountErr  error
	stopSignals func()
}

// ErrNotMounted is returned by Unmount on a Server whose mount is already
// gone.
var ErrNotMounted = errors.New("sdk: not mounted")

// ErrStaleMount is matched (errors.Is) by the *MountError of Mount,
// CheckStale or ClearStale when a FUSE mount whose server died ("transport
// endpoint is not connected") is in the way: a process killed outright
// while auto_unmount was off, or whose auto_unmount helper lost a race
// with the kernel (README, Known limits). Options.ClearStale or ClearStale
// removes it.
var ErrStaleMount = errors.New("its FUSE server is gone (transport endpoint is not connected)")

// MountError explains why Mount failed.
type MountError struct {
	Dir    string
	Reason string
	Err    error  // the underlying error, if any
	Stderr string // what libfuse printed while mounting, if anything
}

func (e *MountError) Error() string {
	msg := fmt.Sprintf("sdk: cannot mount on %s: %s", e.Dir, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Stderr != "" {
		msg += " (libfuse said: " + e.Stderr + ")"
	}
	return msg
}

func (e *MountError) Unwrap() error { return e.Err }

// Mount mounts fsys on dir and returns once the mount is live: listed in
// /proc/self/mountinfo and answering a stat of its root. opts may be nil for
// the defaults. Every way it can fail (a missing, non-directory, non-empty,
// already mounted or stale mountpoint, missing libfuse or fusermount, an
// option libfuse rejects) is reported as a *MountError or *OptionError that
// names the problem; a dead FUSE mount in the way matches ErrStaleMount
// and is cleared instead when Options.ClearStale is set.
func Mount(fsys FileSystem, dir string, opts *Options) (*Server, error) {
	if fsys == nil {
		return nil, &MountError{Dir: dir, Reason: "the FileSystem is nil"}
	}
	if opts == nil {
		opts = &Options{}
	}
	r, err := opts.validate()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, &MountError{Dir: `""`, Reason: "the mountpoint is empty"}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &MountError{Dir: dir, Reason: "cannot make the mountpoint absolute", Err: err}
	}
	nonempty, err := checkMountpoint(abs, r)
	if err != nil {
		return nil, err
	}
	if err := checkHelpers(r); err != nil {
		return nil, &MountError{Dir: abs, Reason: err.Error()}
	}

	if !r.KeepGOMAXPROCS {
		if before, after := raiseProcs(r.callbackThreads()); after != before && r.Logger != nil {
			r.Logger.Debug("raised GOMAXPROCS so every libfuse thread keeps a P", "from", before, "to", after)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		dir:    abs,
		fsys:   fsys,
		opts:   r,
		cancel: cancel,
		grace:  releaseGrace,
		done:   make(chan struct{}),
	}
	s.bridge = newBridge(ctx, fsys, r, s.setDestroyErr)
	s.host = fuse.NewFileSystemHost(s.bridge)
	s.host.SetCapOpenTrunc(true)
	s.host.SetUseIno(true)

	args := []string{"-o", joinOptions(r.libfuseOptions(nonempty))}
	if err := s.start(args); err != nil {
		cancel()
		return nil, err
	}
	if r.HandleSignals {
		s.handleSignals()
	}
	return s, nil
}

// start runs the libfuse loop in its own goroutine and waits until the
// mount answers, fails, or MountTimeout passes.
func (s *Server) start(args []string) error {
	// libfuse3 changes the process's working directory to "/" while it
	// starts (fuse_daemonize, even in the foreground). A library must not
	// do that to the program embedding it, so the directory is restored
	// once the mount is up; relative paths used by other goroutines during
	// those milliseconds are the remaining exposure.
	wd, wdErr := os.Getwd()
	defer func() {
		if wdErr == nil {
			if now, err := os.Getwd(); err != nil || now != wd {
				_ = os.Chdir(wd)
			}
		}
	}()
	// No Go fork may happen while libfuse's descriptors are inheritable:
	// from before the mount starts until they are marked close-on-exec.
	syscall.ForkLock.RLock()
	closeOnExecAll()
	forkLocked := true
	unlockFork := func() {
		if forkLocked {
			closeOnExecAll()
			syscall.ForkLock.RUnlock()
			forkLocked = false
		}
	}
	defer unlockFork()
	capture := captureStderr()
	mounted := make(chan bool, 1)
	var panicErr error
	go func() {
		defer close(s.done)
		ok := false
		defer func() {
			// cgofuse panics when it cannot load libfuse at all.
			if r := recover(); r != nil {
				panicErr = fmt.Errorf("%v", r)
			}
			s.mu.Lock()
			s.mountOK = ok
			s.loopEnded = true
			wd := s.watchdog
			s.watchdog = nil
			s.mu.Unlock()
			wd.stop()
			mounted <- ok
		}()
		ok = s.host.Mount(s.dir, args)
	}()

	timer := time.NewTimer(s.opts.MountTimeout)
	defer timer.Stop()
	select {
	case <-s.bridge.initc:
	case <-mounted:
		text := capture.stop()
		if panicErr != nil {
			return &MountError{Dir: s.dir, Reason: "libfuse could not be loaded (install fuse3 and libfuse2/libfuse3: apt-get install -y fuse3 libfuse3-3 libfuse2)", Err: panicErr, Stderr: text}
		}
		return &MountError{Dir: s.dir, Reason: "libfuse refused to mount", Stderr: text}
	case <-timer.C:
		text := capture.stop()
		s.host.Unmount()
		return &MountError{Dir: s.dir, Reason: fmt.Sprintf("the mount did not come up within %v", s.opts.MountTimeout), Stderr: text}
	}
	text := capture.stop()
	unlockFork()
	dev, err := waitLive(s.dir, s.opts.Subtype, timer.C)
	if err != nil {
		s.host.Unmount()
		<-s.done
		return &MountError{Dir: s.dir, Reason: "the mount did not become live", Err: err, Stderr: text}
	}
	s.dev = dev
	if !s.opts.NoAutoUnmount {
		if wd, err := startWatchdog(s.dir, dev); err != nil {
			s.bridge.warn("cannot start the stale-mount watchdog; auto_unmount alone remains", "dir", s.dir, "err", err)
		} else {
			s.mu.Lock()
			if s.loopEnded {
				defer wd.stop()
			} else {
				s.watchdog = wd
			}
			s.mu.Unlock()
		}
	}
	if text != "" {
		s.bridge.warn("libfuse printed while mounting", "dir", s.dir, "stderr", text)
	}
	return nil
}

func (s *Server) setDestroyErr(err error) {
	s.mu.Lock()
	s.destroyErr, s.destroyed = err, true
	s.mu.Unlock()
}

// Dir returns the absolute mountpoint.
func (s *Server) Dir() string { return s.dir }

// Done is closed when the filesystem has been released: after Unmount, or
// after the mount went away by other means (umount, a signal).
func (s *Server) Done() <-chan struct{} { return s.done }

// Wait blocks until the filesystem is released and returns the error of the
// final drain of buffered data, if any.
func (s *Server) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.destroyErr
}

// Stats returns a snapshot of the mount's counters.
func (s *Server) Stats() Stats {
	st := s.bridge.stats.snapshot()
	st.OpenFiles = s.bridge.handles.count()
	return st
}

// Sync pushes every piece of buffered data to the backend and makes it
// durable, when the filesystem buffers (it implements Syncer).
func (s *Server) Sync(ctx context.Context) error {
	if s.bridge.syncer == nil {
		return nil
	}
	return s.bridge.syncer.SyncFS(ctx)
}

// Unmount drains buffered data, then unmounts. While files are open it
// keeps trying to unmount until ctx is done; then it detaches the mount
// lazily and aborts the FUSE connection so that nothing waits on this
// process any more. Aborting goes through the kernel's fusectl filesystem
// (/sys/fs/fuse/connections); when it is not mounted, Unmount mounts it
// (root only) and logs a warning saying so. When the abort is impossible
// the error says why: the connection then lives on until the last file on
// it is closed. It returns once the filesystem has been released, with
// the drain errors, if any, each once: data still lost after the final
// drain wraps ErrDataLost. Calling it again returns the first result.
func (s *Server) Unmount(ctx context.Context) error {
	s.unmountOnce.Do(func() {
		s.unmountErr = s.unmount(ctx)
	})
	return s.unmountErr
}

func (s *Server) unmount(ctx context.Context) error {
	if s.stopSignals != nil {
		s.stopSignals()
	}
	select {
	case <-s.done:
		return errors.Join(ErrNotMounted, s.Wait())
	default:
	}
	// Drain first, while the backend and the mount are both still there,
	// so that an error is reported to the caller and nothing is lost.
	drainErr := s.Sync(ctx)
	forced, detachErr := unmountDir(ctx, s.dir, s.host)
	if forced {
		mountedCtl, abortErr := abortConnection(s.dev)
		if mountedCtl {
			s.bridge.warn("mounted the FUSE control filesystem to abort the connection of a forced unmount", "dir", s.dir, "fusectl", "/sys/fs/fuse/connections")
		}
		if abortErr != nil {
			abortErr = fmt.Errorf("sdk: %s was detached, but its FUSE connection could not be aborted; it lives on while files on it are open: %w", s.dir, abortErr)
			s.bridge.warn("forced unmount could not abort the FUSE connection", "dir", s.dir, "err", abortErr)
			detachErr = errors.Join(detachErr, abortErr)
		}
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		// The kernel was told to let go; the libfuse loop ends as soon as
		// the connection is gone. Cancel what the filesystem is doing, and
		// give the loop a bounded time to notice: a libfuse thread stuck
		// in a deadlock would otherwise hang the caller forever.
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(s.grace):
			return errors.Join(drainErr, detachErr,
				fmt.Errorf("sdk: %s was detached, but the FUSE loop did not stop within %v after the deadline; a request is stuck in the filesystem", s.dir, s.grace))
		}
	}
	s.cancel()
	final := s.Wait()
	s.mu.Lock()
	ran := s.destroyed
	s.mu.Unlock()
	return errors.Join(finalDrain(drainErr, final, ran), detachErr)
}

// releaseGrace bounds the wait for the libfuse loop to end once the
// caller's deadline has passed and the mount was detached and its
// connection aborted. The loop then ends as soon as the requests in flight
// return, which takes milliseconds on a quiet machine; with both CPUs of
// a 2-CPU machine saturated, the race-enabled suite saw more than 5 s
// (issue 14). Only a request stuck in the filesystem for good should
// reach this bound, so it is set far beyond what load explains.
const releaseGrace = 60 * time.Second

// handleSignals unmounts gracefully on SIGHUP. SIGINT and SIGTERM are
// cgofuse's own: while a mount is live it unmounts on them from a goroutine
// of its own, and the final drain happens in Destroy. Unmounting on them
// here too would race that goroutine (cgofuse reads its connection pointer
// unlocked while Destroy clears it; the race detector reports it).
func (s *Server) handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	stop := make(chan struct{})
	var once sync.Once
	s.stopSignals = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(stop)
		})
	}
	go func() {
		select {
		case sig := <-ch:
			s.bridge.warn("unmounting on signal", "dir", s.dir, "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.Unmount(ctx); err != nil && !errors.Is(err, ErrNotMounted) {
				s.bridge.warn("unmount on signal reported errors", "dir", s.dir, "err", err)
			}
		case <-stop:
		case <-s.done:
			signal.Stop(ch)
		}
	}()
}

// joinOptions joins -o options with commas, the form libfuse parses.
func joinOptions(opts []string) string {
	out := ""
	for i, o := range opts {
		if i > 0 {
			out += ","
		}
		out += o
	}
	return out
}
