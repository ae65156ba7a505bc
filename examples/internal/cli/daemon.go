//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// daemonEnv marks the re-executed copy of a program as the daemon; its
// value is the descriptor of the pipe to the parent.
const daemonEnv = "FUSEKIT_EXAMPLE_DAEMON_FD"

// Daemon mode, as libfuse programs without -f do it: the program mounts in
// the background and the command returns once the mount answers.
//
// A Go program cannot fork, so the parent re-executes its own binary in a
// new session with the same arguments, its standard streams on /dev/null (or
// on the log file), and one extra descriptor: a pipe on which the daemon
// reports "ok" once the mount is live, or its exit status and what it wrote
// to stderr until then. The parent waits for that report, however long the
// mount takes: the daemon's own mount timeout bounds it, and if the daemon
// dies without reporting, the parent sees the pipe close and reports the
// daemon's exit status.

// Detach runs in the parent. It starts the daemon (this binary with args)
// and waits until it has mounted (exit status 0) or failed (its status,
// with its error text copied to stderr). A signal on stop while waiting
// stops the daemon.
// logFile, if not empty, receives the daemon's output; it is created if
// needed and appended to.
func Detach(prog string, args []string, logFile string, stderr io.Writer, stop <-chan os.Signal) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot find my own binary to start the daemon (run with -f to stay in the foreground): %v\n", prog, err)
		return 1
	}
	out, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	defer out.Close()
	stdin := out
	if logFile != "" {
		lf, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "%s: log file: %v\n", prog, err)
			return 2
		}
		defer lf.Close()
		out = lf
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	defer r.Close()
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot start the daemon: %v\n", prog, err)
		return 1
	}
	type report struct {
		line string
		rest []byte
	}
	got := make(chan report, 1)
	go func() {
		br := bufio.NewReader(r)
		line, _ := br.ReadString('\n')
		var rest []byte
		if line != "ok\n" {
			rest, _ = io.ReadAll(br)
		}
		got <- report{line, rest}
	}()
	var rep report
	select {
	case rep = <-got:
	case sig := <-stop:
		// The daemon is in its own session, so the terminal's signal did
		// not reach it; it unmounts cleanly on SIGTERM.
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		fmt.Fprintf(stderr, "%s: %v while mounting: stopped the daemon\n", prog, sig)
		return 1
	}
	if rep.line == "ok\n" {
		cmd.Process.Release()
		return 0
	}
	werr := cmd.Wait()
	if code, ok := strings.CutPrefix(strings.TrimSpace(rep.line), "exit "); ok {
		stderr.Write(rep.rest)
		if n, err := strconv.Atoi(code); err == nil && n != 0 {
			return n
		}
		return 1
	}
	where := "its log: syslog"
	if logFile != "" {
		where = "its log: " + logFile
	}
	fmt.Fprintf(stderr, "%s: the daemon died before mounting (%v); see %s\n", prog, werr, where)
	return 1
}

// Daemon is the daemon's side of Detach: nil when this process is not a
// daemon started by Detach.
type Daemon struct {
	pipe   *os.File
	logger io.Writer // guarded by mu: syslog, the log file or /dev/null

	mu    sync.Mutex
	early bytes.Buffer // guarded by mu: stderr until Ready, for the parent
	ready bool         // guarded by mu
}

// StartDaemon returns the daemon state when this process was started by
// Detach, and nil otherwise. It clears the marker so that programs the
// daemon starts do not take themselves for daemons. Until OpenLog, output
// goes to the process's stderr (the log file, or /dev/null).
func StartDaemon() *Daemon {
	v, ok := os.LookupEnv(daemonEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(daemonEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	unix.CloseOnExec(fd)
	return &Daemon{pipe: os.NewFile(uintptr(fd), "daemon-pipe"), logger: os.Stderr}
}

// OpenLog sends output to syslog (tagged prog) when no log file was named;
// with one, the parent has already made it the daemon's stdout and stderr.
// Without a reachable syslog the output is lost.
func (d *Daemon) OpenLog(prog, logFile string) {
	if logFile != "" {
		return
	}
	var w io.Writer = io.Discard
	if sl, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, prog); err == nil {
		w = sl
	}
	d.mu.Lock()
	d.logger = w
	d.mu.Unlock()
}

// Stdout is where the program writes its normal output.
func (d *Daemon) Stdout() io.Writer { return daemonStdout{d} }

type daemonStdout struct{ d *Daemon }

func (s daemonStdout) Write(p []byte) (int, error) {
	s.d.mu.Lock()
	w := s.d.logger
	s.d.mu.Unlock()
	return w.Write(p)
}

// Stderr is where the program writes errors: kept for the parent until
// Ready, then logged.
func (d *Daemon) Stderr() io.Writer { return daemonStderr{d} }

type daemonStderr struct{ d *Daemon }

func (s daemonStderr) Write(p []byte) (int, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if !s.d.ready && s.d.early.Len() < 64<<10 {
		s.d.early.Write(p)
	}
	return s.d.logger.Write(p)
}

// Ready tells the parent the mount is live, and moves the working
// directory to "/" as libfuse daemons do, so that the daemon keeps no
// directory busy.
func (d *Daemon) Ready() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ready {
		return
	}
	d.ready = true
	d.pipe.WriteString("ok\n")
	d.pipe.Close()
	_ = os.Chdir("/")
}

// Exit reports a failure before Ready to the parent with the exit status
// and everything written to Stderr; after Ready it does nothing.
func (d *Daemon) Exit(code int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ready {
		return
	}
	d.ready = true
	if code == 0 {
		code = 1 // ended before mounting: never a success for the parent
		if d.early.Len() == 0 {
			d.early.WriteString("the daemon ended before the mount was live\n")
		}
	}
	fmt.Fprintf(d.pipe, "exit %d\n", code)
	d.pipe.Write(d.early.Bytes())
	d.pipe.Close()
}
