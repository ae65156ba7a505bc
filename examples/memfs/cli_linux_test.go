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

// TestBadInputsFailClearly runs the built binary on every bad input, in the
// foreground and with -daemon: exit status, a message naming the problem,
// no panic, no mount or process left.
func TestBadInputsFailClearly(t *testing.T) {
	bin := clitest.Build(t, clitest.PkgDir, "memfs")
	clitest.RunBadCases(t, bin, "-daemon", []clitest.BadCase{
		{Name: "missing mountpoint", Code: exitUsage, Setup: func(t *testing.T, dir string) ([]string, []string) {
			m := filepath.Join(dir, "nope")
			return []string{m}, []string{m, "does not exist"}
		}},
		{Name: "mountpoint is a file", Code: exitUsage, Setup: func(t *testing.T, dir string) ([]string, []string) {
			f := filepath.Join(dir, "f")
			require.NoError(t, os.WriteFile(f, nil, 0o644))
			return []string{f}, []string{f, "not a directory"}
		}},
		{Name: "non-empty mountpoint", Code: exitError, Setup: func(t *testing.T, dir string) ([]string, []string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
			return []string{dir}, []string{dir, "not empty"}
		}},
		{Name: "busy mountpoint", Code: exitError, Setup: func(t *testing.T, dir string) ([]string, []string) {
			require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, ""))
			return []string{dir}, []string{dir, "already mounted", "tmpfs"}
		}},
		{Name: "stale mountpoint", Code: exitError, Setup: func(t *testing.T, dir string) ([]string, []string) {
			clitest.StaleMount(t, dir)
			return []string{dir}, []string{dir, "stale", "-clear-stale", "fusermount3 -u -z " + dir}
		}},
		{Name: "unknown flag", Code: exitUsage, Setup: func(t *testing.T, dir string) ([]string, []string) {
			return []string{"-frobnicate", dir}, []string{"-frobnicate"}
		}},
		{Name: "no mountpoint", Code: exitUsage, Setup: func(t *testing.T, dir string) ([]string, []string) {
			return nil, []string{"missing MOUNTPOINT"}
		}},
	})
}

// TestDaemonAndClearStale mounts over a stale mount with -daemon
// -clear-stale: the command returns once the mount answers, the daemon logs
// to the named file and exits 0 when unmounted.
func TestDaemonAndClearStale(t *testing.T) {
	bin := clitest.Build(t, clitest.PkgDir, "memfs")
	clitest.BecomeSubreaper(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	clitest.StaleMount(t, mnt)
	logFile := filepath.Join(dir, "log")
	res := clitest.Run(t, "", bin, "-daemon", "-clear-stale", "-log", logFile, mnt)
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644), "the mount is live when the command returns")
	pids := clitest.Processes(t, bin)
	require.Len(t, pids, 1)
	require.NoError(t, unix.Unmount(mnt, 0))
	assert.Equal(t, 0, clitest.WaitDaemon(t, pids[0]))
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(log), "mounted on "+mnt)
	assert.Empty(t, clitest.MountsUnder(t, dir))
}
