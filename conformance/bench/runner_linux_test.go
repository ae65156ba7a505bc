package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// daemonEnv makes the test binary act as a cmd: target (see testDaemon), so
// that the lifecycle tests need nothing built beforehand and always load
// the libfuse build the tests were built with.
const daemonEnv = "FUSEKIT_BENCH_TEST_DAEMON"

func TestMain(m *testing.M) {
	if mode := os.Getenv(daemonEnv); mode != "" {
		os.Exit(testDaemon(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// testDaemon is the body of a test cmd: target. Modes:
//
//	memfs     mount sdktest.MemFS on the argument, unmount on SIGTERM
//	stubborn  mount, then ignore SIGTERM (the tool must detach and kill)
//	fail      print an error and exit 3 without mounting
//	never     ignore SIGTERM and never mount
//	noauto    like memfs, without auto_unmount: a dead connection stays listed
func testDaemon(mode string, args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "test daemon: want MOUNTPOINT, got %q\n", args)
		return 2
	}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "test daemon: refusing to mount")
		return 3
	case "never":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		return 0
	case "memfs", "stubborn", "noauto":
		srv, err := sdk.Mount(sdktest.NewMemFS(), args[0], &sdk.Options{HandleSignals: mode != "stubborn", NoAutoUnmount: mode == "noauto"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "test daemon:", err)
			return 1
		}
		if mode == "stubborn" {
			// cgofuse itself unmounts on SIGTERM; Ignore takes the
			// signal away from its handler too.
			signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
			time.Sleep(time.Hour)
		}
		if err := srv.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "test daemon:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "test daemon: unknown mode %q\n", mode)
	return 2
}

func daemonTarget(t *testing.T, name, mode string) Target {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	tg, err := ParseTarget(fmt.Sprintf("%s=cmd:env %s=%s %s {mnt}", name, daemonEnv, mode, exe))
	require.NoError(t, err)
	return tg
}

// syncBuffer collects progress lines from the runner.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// smallTree is a tiny source tree for the tree workloads: directories,
// files and a symlink, so that tar x exercises more than create.
func smallTree(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "src")
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprintf("pkg%d", i), "sub")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for j := range 4 {
			body := strings.Repeat(fmt.Sprintf("package pkg%d // %d\n", i, j), 50)
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.go", j)), []byte(body), 0o644))
		}
	}
	require.NoError(t, os.Symlink("pkg0/sub/f0.go", filepath.Join(root, "link")))
	return root
}

func tinyConfig(t *testing.T) Config {
	return Config{Size: 64 << 10, Files: 40, RandOps: 30, TreeSource: smallTree(t), CacheDir: t.TempDir()}
}

// requireClean fails if anything the runner made is left: a FUSE mount
// under dir, or any entry in it.
func requireClean(t *testing.T, dir string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	entries, err := parseMountinfo(bytes.NewReader(mi))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Point, dir+"/"), "mount left behind: %s (%s)", e.Point, e.FSType)
	}
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "entries left in %s", dir)
}

func TestRunNativeDirs(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	var progress syncBuffer
	r := &Runner{
		Targets:   []Target{{Name: "a", Dir: a}, {Name: "b", Dir: b}},
		Workloads: Workloads(),
		Reps:      2,
		Config:    tinyConfig(t),
		Progress:  &progress,
	}
	rep, err := r.Run(context.Background())
	require.NoError(t, err)

	require.Len(t, rep.Raw, 2*len(all)*2)
	// Interleaved: rep, then workload, then target, starting one target
	// later each repetition.
	assert.Equal(t, Measurement{Target: "a", Workload: "w1m", Rep: 1}, withoutResult(rep.Raw[0]))
	assert.Equal(t, Measurement{Target: "b", Workload: "w1m", Rep: 1}, withoutResult(rep.Raw[1]))
	assert.Equal(t, Measurement{Target: "a", Workload: "w4k", Rep: 1}, withoutResult(rep.Raw[2]))
	assert.Equal(t, Measurement{Target: "b", Workload: "w1m", Rep: 2}, withoutResult(rep.Raw[2*len(all)]))
	assert.Equal(t, Measurement{Target: "a", Workload: "w1m", Rep: 2}, withoutResult(rep.Raw[2*len(all)+1]))

	tree, err := countTree(mustGlob(t, filepath.Join(r.Config.CacheDir, "tree-src-*.tar")))
	require.NoError(t, err)
	assert.EqualValues(t, 1+3*2+3*4+1, tree.entries, "root, 3×(pkg, sub), 12 files, a link")
	for _, m := range rep.Raw {
		res := m.Result
		assert.Positive(t, res.Elapsed, "%s/%s", m.Workload, m.Target)
		switch m.Workload {
		case "w1m", "w4k", "r1m", "r4k", "par2w":
			assert.EqualValues(t, r.Config.Size, res.Bytes, m.Workload)
		case "randr4k", "randw4k":
			assert.EqualValues(t, r.Config.RandOps, res.Ops, m.Workload)
		case "create", "stat", "unlink":
			assert.EqualValues(t, r.Config.Files, res.Ops, m.Workload)
		case "tar-x", "find", "grep-r", "rm-rf":
			assert.Equal(t, tree.entries, res.Ops, m.Workload)
		}
	}
	assert.EqualValues(t, 1, rep.Raw[0].Result.Ops, "w1m: 64 KiB is one write")
	assert.EqualValues(t, 16, rep.Raw[2].Result.Ops, "w4k: 64 KiB is 16 writes")
	for _, s := range rep.Summaries() {
		assert.Equal(t, 2, s.N)
		if s.Target == "a" {
			assert.Equal(t, 1.0, s.Ratio)
		}
	}
	assert.Contains(t, progress.String(), "rep 2/2  par2w    b")
	assert.Contains(t, rep.Settings, "size 64K, 40 files, 30 random ops, 2 reps interleaved, warm")
	requireClean(t, a)
	requireClean(t, b)
}

func withoutResult(m Measurement) Measurement {
	m.Result = Result{}
	return m
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.Len(t, m, 1, pattern)
	return m[0]
}
