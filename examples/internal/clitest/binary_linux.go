package clitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// PkgDir is the test's package directory, the working directory the test
// binary starts in, taken before any mount: the libfuse3 build changes the
// working directory while mounting.
var PkgDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

// Build compiles the example in pkgDir into a temporary directory, for the
// libfuse line the test itself runs under (go test -tags fuse3 builds the
// libfuse3 binary).
func Build(t testing.TB, pkgDir, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	args := []string{"build", "-o", bin}
	if sdk.Build == "fuse3" {
		args = append(args, "-tags", "fuse3")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = pkgDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	// Whatever a failed test left running (a daemon that mounted when it
	// should have refused) is stopped; the test has already failed then.
	t.Cleanup(func() {
		for _, pid := range Processes(t, bin) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return bin
}

// Result is what a finished run of a binary left.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// runLimit bounds one run of a binary that should exit by itself. It only
// turns a hang (the bug daemon mode fixes) into a failure; every run that
// works ends in well under a second.
const runLimit = 2 * time.Minute

// Run runs bin with args in dir (the test's working directory if empty)
// and waits for it to exit.
func Run(t testing.TB, dir, bin string, args ...string) Result {
	t.Helper()
	return RunAs(t, nil, dir, bin, args...)
}

// RunAs is Run with the credentials cred (nil: this process's).
func RunAs(t testing.TB, cred *syscall.Credential, dir, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// libfuse's auto_unmount helper inherits the output pipes and
	// outlives a killed server until it has unmounted.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %q did not exit within %v; stderr: %s", bin, args, runLimit, stderr.String())
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return Result{code, stdout.String(), stderr.String()}
}

// Processes lists the live processes running bin (zombies have no
// executable and are not listed).
func Processes(t testing.TB, bin string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("reading /proc: %v", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			pids = append(pids, pid)
		}
	}
	return pids
}

// MountsUnder lists the mountpoints at or below dir.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mountinfo: %v", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := unescapeMountinfo(f[4]); mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// BecomeSubreaper makes this process the parent of the daemons its
// children detach, so that a test can wait for a daemon's exit status (and
// reap it) with WaitDaemon instead of leaving a zombie to an init that may
// not reap.
func BecomeSubreaper(t testing.TB) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
}

// WaitDaemon waits for the process pid, a daemon reparented to this
// (subreaper) process, and returns its exit status; -1 if a signal killed
// it.
func WaitDaemon(t testing.TB, pid int) int {
	t.Helper()
	done := make(chan unix.WaitStatus, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		done <- ws
	}()
	select {
	case ws := <-done:
		if ws.Signaled() {
			return -1
		}
		return ws.ExitStatus()
	case <-time.After(runLimit):
		t.Fatalf("daemon %d did not exit within %v", pid, runLimit)
		return 0
	}
}

// The stale mount helper: the test binary, started again with staleEnv
// naming a directory, mounts an empty filesystem there without
// auto_unmount and waits to be killed.
const staleEnv = "FUSEKIT_CLITEST_STALE_DIR"

// Main is for a test package's TestMain: it serves the stale-mount helper
// when the binary was started as one, and otherwise runs the tests.
func Main(m *testing.M) {
	if dir := os.Getenv(staleEnv); dir != "" {
		srv, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{NoAutoUnmount: true})
		if err != nil {
			os.Stdout.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString("mounted\n")
		srv.Wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// StaleMount leaves a stale FUSE mount on dir, as a server killed by
// SIGKILL without auto_unmount does: every access then fails with "transport
// endpoint is not connected". It is detached at cleanup if still there.
func StaleMount(t testing.TB, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), staleEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range MountsUnder(t, dir) {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if line != "mounted\n" {
		t.Fatalf("the stale-mount helper did not mount: %q", line)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); !errors.Is(err, unix.ENOTCONN) {
		t.Fatalf("want a stale mount on %s, statfs said %v", dir, err)
	}
}

// BadCase is one bad command line for TestBadInputs-style tables: Setup
// prepares it in the scratch directory dir and returns the arguments and
// the fragments the message must contain.
type BadCase struct {
	Name  string
	Setup func(t *testing.T, dir string) (args, want []string)
	Code  int
}

// RunBadCases runs bin on every case twice, in the foreground and with the
// modeFlag that detaches it (so that the daemon's report of the failure to
// the waiting parent is checked too), and checks the exit status, the
// message, that nothing panicked, and that no mount or process is left.
func RunBadCases(t *testing.T, bin, modeFlag string, cases []BadCase) {
	for _, c := range cases {
		for _, mode := range []string{"foreground", "daemon"} {
			t.Run(c.Name+"/"+mode, func(t *testing.T) {
				dir := t.TempDir()
				t.Cleanup(func() {
					for _, m := range MountsUnder(t, dir) {
						unix.Unmount(m, unix.MNT_DETACH)
					}
				})
				args, want := c.Setup(t, dir)
				if mode == "daemon" {
					args = append([]string{modeFlag}, args...)
				}
				before := MountsUnder(t, dir)
				res := Run(t, "", bin, args...)
				if res.Code != c.Code {
					t.Errorf("exit status %d, want %d; stderr: %s", res.Code, c.Code, res.Stderr)
				}
				for _, w := range want {
					if !strings.Contains(res.Stderr, w) {
						t.Errorf("stderr does not contain %q: %s", w, res.Stderr)
					}
				}
				if strings.Contains(res.Stderr, "panic") || strings.Contains(res.Stderr, "goroutine ") {
					t.Errorf("a panic reached the user: %s", res.Stderr)
				}
				after := MountsUnder(t, dir)
				if strings.Join(after, "\n") != strings.Join(before, "\n") {
					t.Errorf("mounts before the run %q, after %q", before, after)
				}
				NoProcessLeft(t, bin)
			})
		}
	}
}

// NoProcessLeft fails the test if a process of bin is still running once a
// generous grace period (for a daemon that is shutting down) has passed.
func NoProcessLeft(t testing.TB, bin string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(Processes(t, bin)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pids := Processes(t, bin); len(pids) > 0 {
		t.Errorf("processes of %s left behind: %v", bin, pids)
	}
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
