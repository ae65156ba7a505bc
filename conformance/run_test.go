package conformance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fake(name string, run func(t T, dir string)) Test {
	return Test{Name: name, Group: strings.Split(name, "/")[0], Run: run}
}

func TestRunTestOutcomes(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name    string
		body    func(t T, dir string)
		status  Status
		message string
	}{
		{"pass", func(T, string) {}, Pass, ""},
		{"errorf", func(t T, _ string) { t.Errorf("size is %d", 3); t.Errorf("second") }, Fail, "size is 3\nsecond"},
		{"fatalf", func(t T, _ string) { t.Fatalf("stop"); t.Errorf("not reached") }, Fail, "stop"},
		{"panic", func(T, string) { panic("boom") }, Fail, "panic: boom"},
		{"skip", func(t T, _ string) { t.Skipf("no %s", "root"); t.Errorf("not reached") }, Skip, "no root"},
		{"error-then-skip", func(t T, _ string) { t.Errorf("bad"); t.Skipf("later") }, Fail, "bad"},
		{"other-goroutine", func(t T, _ string) {
			done := make(chan struct{})
			go func() { defer close(done); t.Errorf("from a goroutine") }()
			<-done
		}, Fail, "from a goroutine"},
	} {
		r := runTest(root, Features{}, fake("fake/"+tc.name, tc.body), 0)
		assert.Equal(t, tc.status, r.Status, tc.name)
		assert.True(t, strings.HasPrefix(r.Message, tc.message), "%s: message %q", tc.name, r.Message)
		assert.Equal(t, "fake/"+tc.name, r.Name)
	}
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Empty(t, entries, "every test directory is removed")
}

func TestRunTestLimitations(t *testing.T) {
	root := t.TempDir()
	f := Features{Limitations: []Limitation{
		{Test: "lim/fails", Reason: "libfuse2 drops it"},
		{Test: "grp/*", Reason: "whole group"},
	}}
	fails := func(t T, _ string) { t.Errorf("mtime was not set") }
	passes := func(T, string) {}

	r := runTest(root, f, fake("lim/fails", fails), 0)
	assert.Equal(t, XFail, r.Status)
	assert.Equal(t, "expected failure (libfuse2 drops it):\nmtime was not set", r.Message)

	r = runTest(root, f, fake("grp/any", fails), 0)
	assert.Equal(t, XFail, r.Status)
	assert.Contains(t, r.Message, "whole group")

	r = runTest(root, f, fake("lim/fails", passes), 0)
	assert.Equal(t, XPass, r.Status)
	assert.Contains(t, r.Message, "libfuse2 drops it")
	assert.Contains(t, r.Message, "out of date")

	r = runTest(root, f, fake("lim/fails", func(t T, _ string) { t.Skipf("cannot") }), 0)
	assert.Equal(t, Skip, r.Status, "a skipped test says nothing about the limitation")

	r = runTest(root, f, fake("other/x", fails), 0)
	assert.Equal(t, Fail, r.Status, "a limitation of another test does not excuse this one")
}

func TestRunTestNeeds(t *testing.T) {
	ran := false
	tc := fake("x/needs", func(T, string) { ran = true })
	tc.Needs = []string{"xattrs", "mmap"}
	r := runTest(t.TempDir(), Features{Xattrs: true}, tc, 0)
	assert.Equal(t, Skip, r.Status)
	assert.Equal(t, "target does not claim mmap", r.Message)
	assert.False(t, ran)
}

func TestRunTestTimeout(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	tc := fake("x/hang", func(T, string) {
		defer close(finished)
		<-release
	})
	r := runTest(t.TempDir(), Features{}, tc, 20*time.Millisecond)
	assert.Equal(t, Fail, r.Status)
	assert.Contains(t, r.Message, "x/hang timed out after 20ms")
	close(release)
	<-finished
}

func TestRunTestEnvironment(t *testing.T) {
	root := t.TempDir()
	var order []string
	var testDir, scratch string
	f := Features{Symlinks: true}
	tc := fake("env/check", func(t T, dir string) {
		testDir = dir
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm() != 0o777 {
			t.Errorf("test directory %s: %v, mode %v", dir, err, st.Mode())
		}
		if filepath.Dir(dir) != root || !strings.HasPrefix(filepath.Base(dir), "env_check.") {
			t.Errorf("test directory %s is not a named child of %s", dir, root)
		}
		if e := envOf(t); e.root != root || !e.features.Symlinks {
			t.Errorf("envOf = %+v", e)
		}
		scratch = t.TempDir()
		if strings.HasPrefix(scratch, root) {
			t.Errorf("TempDir %s is inside the target", scratch)
		}
		t.Cleanup(func() { order = append(order, "first") })
		t.Cleanup(func() { order = append(order, "second"); t.Fatalf("cleanup fails") })
		t.Cleanup(func() { order = append(order, "third"); panic("cleanup panics") })
	})
	r := runTest(root, f, tc, 0)
	assert.Equal(t, Fail, r.Status)
	assert.Contains(t, r.Message, "cleanup fails")
	assert.Contains(t, r.Message, "panic: cleanup panics")
	assert.NotContains(t, r.Message, "test directory")
	assert.Equal(t, []string{"third", "second", "first"}, order, "cleanups run last-first, each despite the others failing")
	assert.NoDirExists(t, testDir)
	assert.NoDirExists(t, scratch)
}

func TestSummary(t *testing.T) {
	rs := []Result{{Status: Pass}, {Status: XFail}, {Status: Fail}, {Status: XPass}, {Status: Skip}, {Status: Pass}}
	p, f, s := Summary(rs)
	assert.Equal(t, [3]int{3, 2, 1}, [3]int{p, f, s})
	p, f, s = Summary(nil)
	assert.Equal(t, [3]int{0, 0, 0}, [3]int{p, f, s})
}

func TestStatusString(t *testing.T) {
	assert.Equal(t, []string{"PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "Status(9)"},
		[]string{Pass.String(), Fail.String(), Skip.String(), XFail.String(), XPass.String(), Status(9).String()})
}

func TestTestsWellFormed(t *testing.T) {
	tests := Tests()
	if len(tests) == 0 {
		t.Skip("no tests on this platform")
	}
	valid := append(FeatureNames(), needOverlay, needFaults, needCloseFaults)
	nameRE := regexp.MustCompile(`^[a-z0-9]+/[a-z0-9-]+$`)
	seen := map[string]bool{}
	for _, tc := range tests {
		assert.Regexp(t, nameRE, tc.Name)
		assert.False(t, seen[tc.Name], "duplicate test %s", tc.Name)
		seen[tc.Name] = true
		assert.Equal(t, strings.Split(tc.Name, "/")[0], tc.Group, tc.Name)
		assert.NotNil(t, tc.Run, tc.Name)
		for _, n := range tc.Needs {
			assert.Contains(t, valid, n, "%s needs an unknown feature", tc.Name)
		}
	}
	for _, name := range []string{"io/pread-pwrite-offsets", "rename/noreplace", "time/utimensat-omit", "errors/fsync-reports", "dir/many-entries"} {
		assert.True(t, seen[name], "missing %s", name)
	}
}

func TestRunMatchAndLog(t *testing.T) {
	if !slices.ContainsFunc(Tests(), func(tc Test) bool { return tc.Name == "statfs/basic" }) {
		t.Skip("no statfs test on this platform")
	}
	var log bytes.Buffer
	f := Features{Limitations: []Limitation{{Test: "nosuch/test", Reason: "typo"}}}
	rs := Run(t.TempDir(), f, RunOptions{Match: func(n string) bool { return n == "statfs/basic" }, Log: &log})
	require.Len(t, rs, 1)
	assert.Equal(t, Pass, rs[0].Status, rs[0].Message)
	assert.Regexp(t, `^--- PASS statfs/basic \(.*\)\n`, log.String())
	assert.Contains(t, log.String(), `warning: limitation "nosuch/test" matches no test`)
}

// *testing.T must be usable where the suite wants a T, so that test bodies
// can also be called directly from go test.
var _ T = (*testing.T)(nil)

// foreignT is a T that is not the package's recorder, as a caller running
// test bodies directly would supply.
type foreignT struct {
	testing.TB
	skipped string
}

func (f *foreignT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestBodiesWithForeignT runs bodies that need values only Run supplies
// with another T: they must skip with a reason, not crash.
func TestBodiesWithForeignT(t *testing.T) {
	for _, tc := range Tests() {
		if !slices.ContainsFunc(tc.Needs, func(n string) bool { return n == needOverlay || n == needFaults || n == needCloseFaults }) {
			continue
		}
		ft := &foreignT{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			tc.Run(ft, t.TempDir())
		}()
		<-done
		assert.NotEmpty(t, ft.skipped, "%s ran with a foreign T instead of skipping", tc.Name)
	}
}
