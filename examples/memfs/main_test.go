package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of run and the
// reads of the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

func TestRunMountsServesAndUnmounts(t *testing.T) {
	dir := t.TempDir()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	stop := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"-fsname", "memfs-test", "-attr-timeout", "0", dir}, stdoutW, &stderr, stop)
		stdoutW.Close()
	}()
	t.Cleanup(func() {
		// If an assertion failed before the stop below, still unmount.
		select {
		case stop <- os.Interrupt:
		default:
		}
	})

	lines := bufio.NewScanner(stdoutR)
	require.True(t, lines.Scan(), "run printed nothing; stderr: %s", stderr.String())
	require.Contains(t, lines.Text(), "mounted on "+dir)
	go func() {
		for lines.Scan() { // drain the rest
		}
	}()
	require.True(t, isMounted(t, dir))

	name := filepath.Join(dir, "hello.txt")
	require.NoError(t, os.WriteFile(name, []byte("hello, memfs"), 0o640))
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "hello, memfs", string(got))
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.Contains(t, string(data), "memfs-test")

	stop <- os.Interrupt
	select {
	case c := <-code:
		assert.Equal(t, exitOK, c, "stderr: %s", stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("run did not return after the stop signal")
	}
	assert.False(t, isMounted(t, dir), "the mount is gone")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "the contents went with the mount")
}

func TestRunReadOnly(t *testing.T) {
	dir := t.TempDir()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	stop := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"-ro", dir}, stdoutW, &stderr, stop)
		stdoutW.Close()
	}()
	lines := bufio.NewScanner(stdoutR)
	require.True(t, lines.Scan(), "stderr: %s", stderr.String())
	go func() {
		for lines.Scan() {
		}
	}()
	err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	assert.ErrorContains(t, err, "read-only file system")
	stop <- os.Interrupt
	assert.Equal(t, exitOK, <-code, "stderr: %s", stderr.String())
	assert.False(t, isMounted(t, dir))
}

func TestUsageAndBadArguments(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, exitOK, "Example:"},
		{"help lists the flags", []string{"-h"}, exitOK, "-attr-timeout"},
		{"no mountpoint", nil, exitUsage, "missing MOUNTPOINT"},
		{"two mountpoints", []string{"a", "b"}, exitUsage, "expected one MOUNTPOINT"},
		{"missing mountpoint", []string{"/nonexistent/memfs"}, exitUsage, "/nonexistent/memfs does not exist"},
		{"file as mountpoint", []string{file}, exitUsage, "is not a directory"},
		{"unknown flag", []string{"-bogus", "x"}, exitUsage, "flag provided but not defined: -bogus"},
		{"bad duration", []string{"-attr-timeout", "soon", "x"}, exitUsage, "invalid value"},
		{"bad unmount timeout", []string{"-unmount-timeout", "0s", t.TempDir()}, exitUsage, "-unmount-timeout must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			got := run(c.args, &stdout, &stderr, make(chan os.Signal))
			assert.Equal(t, c.code, got)
			assert.Contains(t, stdout.String()+stderr.String(), c.want)
		})
	}
}

func TestParseArgsOptions(t *testing.T) {
	dir := t.TempDir()
	c, err := parseArgs([]string{"-ro", "-allow-other", "-attr-timeout", "3s", "-entry-timeout", "0", "-debug", "-fsname", "x", dir}, io.Discard)
	require.NoError(t, err)
	o := c.options(io.Discard)
	assert.True(t, o.ReadOnly)
	assert.True(t, o.AllowOther)
	assert.Equal(t, 3*time.Second, o.AttrTimeout)
	assert.Negative(t, o.EntryTimeout, "0 on the command line turns the cache off")
	assert.Equal(t, "x", o.FSName)
	assert.NotNil(t, o.Logger)
}
