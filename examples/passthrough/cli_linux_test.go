package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/examples/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// scratch makes SOURCE (with a file) and an empty MOUNTPOINT in dir.
func scratch(t *testing.T, dir string) (src, mnt string) {
	src, mnt = filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(src, 0o755))
	require.NoError(t, os.Mkdir(mnt, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644))
	return src, mnt
}

// TestBadInputsFailClearly runs the built binary on every bad input, in the
// foreground and with -daemon: exit status, a message naming the problem,
// no panic, no mount or process left.
func TestBadInputsFailClearly(t *testing.T) {
	bin := clitest.Build(t, clitest.PkgDir, "passthrough")
	clitest.RunBadCases(t, bin, "-daemon", []clitest.BadCase{
		{Name: "missing mountpoint", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, _ := scratch(t, dir)
			m := filepath.Join(dir, "nope")
			return []string{src, m}, []string{m, "does not exist"}
		}},
		{Name: "mountpoint is a file", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, _ := scratch(t, dir)
			f := filepath.Join(src, "a")
			return []string{dir, f}, []string{f, "not a directory"}
		}},
		{Name: "non-empty mountpoint", Code: 1, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, mnt := scratch(t, dir)
			require.NoError(t, os.WriteFile(filepath.Join(mnt, "x"), nil, 0o644))
			return []string{src, mnt}, []string{mnt, "not empty"}
		}},
		{Name: "busy mountpoint", Code: 1, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, mnt := scratch(t, dir)
			require.NoError(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, ""))
			return []string{src, mnt}, []string{mnt, "already mounted", "tmpfs"}
		}},
		{Name: "stale mountpoint", Code: 1, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, mnt := scratch(t, dir)
			clitest.StaleMount(t, mnt)
			return []string{src, mnt}, []string{mnt, "stale", "-clear-stale", "fusermount3 -u -z " + mnt}
		}},
		{Name: "missing source", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			_, mnt := scratch(t, dir)
			s := filepath.Join(dir, "nosrc")
			return []string{s, mnt}, []string{"SOURCE " + s, "does not exist"}
		}},
		{Name: "source is a file", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, mnt := scratch(t, dir)
			f := filepath.Join(src, "a")
			return []string{f, mnt}, []string{"SOURCE " + f, "not a directory"}
		}},
		{Name: "mountpoint inside source", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, _ := scratch(t, dir)
			m := filepath.Join(src, "m")
			require.NoError(t, os.Mkdir(m, 0o755))
			return []string{src, m}, []string{"MOUNTPOINT " + m, "inside SOURCE " + src}
		}},
		{Name: "unknown flag", Code: 2, Setup: func(t *testing.T, dir string) ([]string, []string) {
			src, mnt := scratch(t, dir)
			return []string{"-frobnicate", src, mnt}, []string{"-frobnicate"}
		}},
	})
}

// TestDaemonAndClearStale mounts over a stale mount with -daemon
// -clear-stale: the command returns once the mount answers, and the daemon
// exits 0 when unmounted.
func TestDaemonAndClearStale(t *testing.T) {
	bin := clitest.Build(t, clitest.PkgDir, "passthrough")
	clitest.BecomeSubreaper(t)
	dir := t.TempDir()
	src, mnt := scratch(t, dir)
	clitest.StaleMount(t, mnt)
	logFile := filepath.Join(dir, "log")
	res := clitest.Run(t, "", bin, "-daemon", "-clear-stale", "-log", logFile, src, mnt)
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	data, err := os.ReadFile(filepath.Join(mnt, "a"))
	require.NoError(t, err, "the mount is live when the command returns")
	assert.Equal(t, "a", string(data))
	pids := clitest.Processes(t, bin)
	require.Len(t, pids, 1)
	require.NoError(t, unix.Unmount(mnt, 0))
	assert.Equal(t, 0, clitest.WaitDaemon(t, pids[0]))
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(log), "mounted on "+mnt)
	assert.Empty(t, clitest.MountsUnder(t, dir))
}
