package conformance

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// T is what a test body sees. The runner implements it with a recorder
// rather than *testing.T so that a suite can run outside "go test" (from a
// command-line exerciser); *testing.T satisfies it too.
//
// As with testing.T, Fatalf and Skipf stop the test by calling
// runtime.Goexit, so they must be called from the goroutine running the
// test body; other goroutines report with Errorf.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	// TempDir returns a scratch directory outside the target, removed
	// after the test.
	TempDir() string
	// Cleanup registers a function to run after the test body, last
	// registered first.
	Cleanup(func())
}

// Test is one named conformance test.
type Test struct {
	// Name is "group/test", for example "rename/noreplace".
	Name string
	// Group is the part of Name before the slash.
	Group string
	// Needs lists the features the test exercises (FeatureNames, plus
	// "overlay", "faults" and "closefaults" for the values only code can
	// supply). The test is skipped when the target claims fewer.
	Needs []string
	// Run is the test body. dir is a fresh, empty directory on the target,
	// mode 0777 so that child processes of other users can reach it.
	Run func(t T, dir string)
}

// Status is the outcome of one test.
type Status int

const (
	// Pass: the test ran and found nothing wrong.
	Pass Status = iota
	// Fail: the test found a deviation, or panicked, or timed out.
	Fail
	// Skip: the target does not claim a feature the test needs, or the
	// environment cannot run it; Message says which.
	Skip
	// XFail: the test failed and a declared Limitation explains it.
	XFail
	// XPass: a declared Limitation says the test fails, but it passed.
	// This counts as a failure: the limitation is stale.
	XPass
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	case XFail:
		return "XFAIL"
	case XPass:
		return "XPASS"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one test with its explanation.
type Result struct {
	Name   string
	Status Status
	// Message explains any status but Pass: the failures found (one per
	// line), the skip reason, or the limitation with what it observed.
	Message  string
	Duration time.Duration
	// Logs are the test's Logf lines, kept for diagnosing failures.
	Logs []string
}

// DefaultTimeout bounds one test when RunOptions.Timeout is zero. It is
// generous: its purpose is to turn a hung mount into a failure naming the
// test instead of a CI job that never ends.
const DefaultTimeout = 2 * time.Minute

// RunOptions adjust Run.
type RunOptions struct {
	// Match selects tests by name; nil runs them all.
	Match func(name string) bool
	// Log receives one progress line per test, plus the message of every
	// test that did not pass. Nil means silence.
	Log io.Writer
	// Timeout bounds each test; zero means DefaultTimeout.
	Timeout time.Duration
}

// Run runs the selected tests one after another against dir, each in a
// fresh subdirectory of dir that is removed afterwards, and returns their
// results in the order of Tests. A test that panics or exceeds the timeout
// fails; after a timeout its goroutine is abandoned (it may be stuck in a
// system call on a hung mount): its subdirectory stays until that goroutine
// finishes, if it ever does.
func Run(dir string, f Features, opts RunOptions) []Result {
	var results []Result
	for _, tc := range Tests() {
		if opts.Match != nil && !opts.Match(tc.Name) {
			continue
		}
		r := runTest(dir, f, tc, opts.Timeout)
		if opts.Log != nil {
			writeResult(opts.Log, r)
		}
		results = append(results, r)
	}
	if opts.Log != nil {
		for _, w := range unusedLimitations(f) {
			fmt.Fprintf(opts.Log, "warning: %s\n", w)
		}
	}
	return results
}

// Summary counts results. XFail counts as passed (the deviation is known
// and declared) and XPass as failed (the declaration is out of date).
func Summary(rs []Result) (passed, failed, skipped int) {
	for _, r := range rs {
		switch r.Status {
		case Pass, XFail:
			passed++
		case Skip:
			skipped++
		default:
			failed++
		}
	}
	return passed, failed, skipped
}

func writeResult(w io.Writer, r Result) {
	fmt.Fprintf(w, "--- %s %s (%s)\n", r.Status, r.Name, r.Duration.Round(time.Millisecond))
	if r.Status == Pass {
		return
	}
	for _, line := range strings.Split(r.Message, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
	if r.Status == Fail || r.Status == XPass {
		for _, line := range r.Logs {
			fmt.Fprintf(w, "    log: %s\n", line)
		}
	}
}

// unusedLimitations warns about limitations that match no test, which is
// almost always a misspelt name that would otherwise silently do nothing.
func unusedLimitations(f Features) []string {
	var warnings []string
	tests := Tests()
	for _, l := range f.Limitations {
		used := false
		for _, tc := range tests {
			if l.matches(tc.Name) {
				used = true
				break
			}
		}
		if !used {
			warnings = append(warnings, fmt.Sprintf("limitation %q matches no test", l.Test))
		}
	}
	return warnings
}

// runTest runs one test and classifies its outcome.
func runTest(root string, f Features, tc Test, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := time.Now()
	res := Result{Name: tc.Name}
	if reason := f.missing(tc.Needs); reason != "" {
		res.Status, res.Message = Skip, reason
		return res
	}
	rec := &recorder{env: env{features: f, root: root}}
	rec.exec(tc, timeout)
	res.Duration = time.Since(start)

	rec.mu.Lock()
	failures, logs, skip := rec.failures, rec.logs, rec.skip
	rec.mu.Unlock()
	res.Logs = logs
	switch {
	case len(failures) > 0:
		res.Status, res.Message = Fail, strings.Join(failures, "\n")
	case skip != "":
		res.Status, res.Message = Skip, skip
	default:
		res.Status = Pass
	}
	if l, ok := f.limitation(tc.Name); ok {
		switch res.Status {
		case Fail:
			res.Status = XFail
			res.Message = fmt.Sprintf("expected failure (%s):\n%s", l.Reason, res.Message)
		case Pass:
			res.Status = XPass
			res.Message = fmt.Sprintf("passed, but a limitation says it fails (%s); the limitation is out of date", l.Reason)
		}
	}
	return res
}

// env is what a test can learn about its target beyond its directory.
type env struct {
	features Features
	root     string // the directory given to Run
}

// envOf returns the environment of the running test. Test bodies run with
// another T (a *testing.T, say) see the zero env: no layers, no injector.
func envOf(t T) env {
	if e, ok := t.(interface{ conformanceEnv() env }); ok {
		return e.conformanceEnv()
	}
	return env{}
}

// recorder is the T given to test bodies by Run.
type recorder struct {
	env env

	mu       sync.Mutex // guards the fields below; Errorf may come from any goroutine
	failures []string
	logs     []string
	skip     string
	cleanups []func()
	temps    []string
}

var _ T = (*recorder)(nil)

func (r *recorder) conformanceEnv() env { return r.env }

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
	// Goexit runs the test body's deferred calls and ends its goroutine;
	// exec notices through the closed channel.
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skip = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) TempDir() string {
	d, err := os.MkdirTemp("", "conformance-")
	if err != nil {
		r.Fatalf("creating a scratch directory: %v", err)
	}
	r.mu.Lock()
	r.temps = append(r.temps, d)
	r.mu.Unlock()
	return d
}

func (r *recorder) Cleanup(fn func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, fn)
	r.mu.Unlock()
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, msg)
}

// exec runs the test body in a fresh subdirectory of the root, then its
// cleanups, each in its own goroutine so that Fatalf (Goexit) and panics
// stop only the function that raised them. It gives up after timeout.
func (r *recorder) exec(tc Test, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		dir, err := makeTestDir(r.env.root, tc.Name)
		if err != nil {
			r.fail(err.Error())
			return
		}
		r.call(func() { tc.Run(r, dir) })
		r.mu.Lock()
		cleanups := r.cleanups
		r.cleanups = nil
		r.mu.Unlock()
		for i := len(cleanups) - 1; i >= 0; i-- {
			r.call(cleanups[i])
		}
		if err := os.RemoveAll(dir); err != nil {
			r.fail(fmt.Sprintf("removing the test directory after the test: %v", err))
		}
		r.mu.Lock()
		temps := r.temps
		r.mu.Unlock()
		for _, d := range temps {
			_ = os.RemoveAll(d) // outside the target: not the target's fault
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		r.fail(fmt.Sprintf("%s timed out after %v (is the target hung?); its directory is left in place", tc.Name, timeout))
	}
}

// call runs fn in its own goroutine and waits for it to return, exit or
// panic; a panic becomes a failure with its stack. A fault while touching
// a mapped file (SIGBUS when the target disagrees with the kernel about
// the file size) would otherwise kill the whole process; it panics instead.
func (r *recorder) call(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		debug.SetPanicOnFault(true)
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if f, ok := p.(interface{ Addr() uintptr }); ok {
				r.fail(fmt.Sprintf("memory fault at %#x while touching a mapped file (SIGBUS: the kernel thinks the file is shorter than the mapping): %v", f.Addr(), p))
				return
			}
			r.fail(fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
		}()
		fn()
	}()
	<-done
}

// makeTestDir creates the per-test directory, named after the test so that
// a leftover one says where it came from.
func makeTestDir(root, name string) (string, error) {
	prefix := strings.NewReplacer("/", "_", "*", "_").Replace(name) + "."
	dir, err := os.MkdirTemp(root, prefix)
	if err != nil {
		return "", fmt.Errorf("creating the test directory in %s: %v", root, err)
	}
	// 0777 regardless of umask: tests run child processes as another uid.
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", fmt.Errorf("chmod 0777 of the test directory %s: %v", dir, err)
	}
	return dir, nil
}
