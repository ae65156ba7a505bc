package main

import (
	"bufio"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fusekit/fusekit/examples/internal/clitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mountMemfs runs memfs with args and a temporary mountpoint until the test
// ends, and returns the mountpoint.
func mountMemfs(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	stdoutR, stdoutW := io.Pipe()
	var stderr clitest.SyncBuffer
	stop := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run(append(args, dir), stdoutW, &stderr, stop)
		stdoutW.Close()
	}()
	lines := bufio.NewScanner(stdoutR)
	require.True(t, lines.Scan(), "run printed nothing; stderr: %s", stderr.String())
	go func() {
		for lines.Scan() {
		}
	}()
	t.Cleanup(func() {
		stop <- os.Interrupt
		assert.Equal(t, exitOK, <-code, "stderr: %s", stderr.String())
		assert.False(t, clitest.Mounted(t, dir))
	})
	return dir
}

// TestRunRefusesHugeFiles is issue 14: truncate -s 16T on memfs killed the
// daemon (here: this test process) with "fatal error: out of memory".
func TestRunRefusesHugeFiles(t *testing.T) {
	dir := mountMemfs(t)
	keep := filepath.Join(dir, "keep")
	require.NoError(t, os.WriteFile(keep, []byte("still here"), 0o644))
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, nil, 0o644))
	// require: without a limit the next call kills this process.
	require.ErrorIs(t, unix.Truncate(name, math.MaxInt64), unix.EFBIG)
	assert.ErrorIs(t, unix.Truncate(name, 16<<40), unix.EFBIG)
	got, err := os.ReadFile(keep)
	require.NoError(t, err)
	assert.Equal(t, "still here", string(got))
}

func TestRunMaxFileSizeFlag(t *testing.T) {
	// -latency hides MemMapFs's files from aferofs; the flag still applies.
	dir := mountMemfs(t, "-max-file-size", "1M", "-latency", "1us")
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, nil, 0o644))
	assert.ErrorIs(t, unix.Truncate(name, 1<<20+1), unix.EFBIG)
	require.NoError(t, unix.Truncate(name, 1<<20))
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.EqualValues(t, 1<<20, fi.Size())

	var stderr clitest.SyncBuffer
	assert.Equal(t, exitUsage, run([]string{"-max-file-size", "0", t.TempDir()}, io.Discard, &stderr, nil))
	assert.Contains(t, stderr.String(), `size "0"`)
}
