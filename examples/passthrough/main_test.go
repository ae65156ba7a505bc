//go:build linux

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer that FUSE threads may write to while the
// test reads it.
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

func mounted(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// program runs run() in the background until the test sends on the
// returned channel, and waits for the "mounted" line.
type program struct {
	stop   chan os.Signal
	exit   chan int
	stderr *syncBuffer
}

func start(t *testing.T, args ...string) *program {
	t.Helper()
	pr, pw := io.Pipe()
	p := &program{stop: make(chan os.Signal, 2), exit: make(chan int, 1), stderr: &syncBuffer{}}
	go func() {
		code := run(args, pw, p.stderr, p.stop)
		pw.Close()
		p.exit <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	require.NoError(t, err, "the program ended before mounting: %s", p.stderr.String())
	require.Contains(t, line, "mounted on")
	t.Cleanup(func() {
		select {
		case <-p.exit:
			return
		default:
		}
		p.stop <- syscall.SIGTERM
		<-p.exit
	})
	return p
}

func (p *program) terminate(t *testing.T) int {
	t.Helper()
	p.stop <- syscall.SIGTERM
	code := <-p.exit
	p.exit <- code // for the cleanup
	return code
}

func TestMirrorsAndUnmountsOnSignal(t *testing.T) {
	src, mnt := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644))
	p := start(t, "-debug", "-attr-timeout", "0", src, mnt)
	require.True(t, mounted(t, mnt))

	got, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(got))
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("via mount"), 0o600))
	got, err = os.ReadFile(filepath.Join(src, "new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "via mount", string(got))

	require.Equal(t, 0, p.terminate(t), p.stderr.String())
	assert.False(t, mounted(t, mnt), "the mount is gone after the signal")
	assert.Contains(t, p.stderr.String(), "op=open", "-debug logs operations")
	assert.Contains(t, p.stderr.String(), "unmounting")
}

func TestReadOnlyAndFSName(t *testing.T) {
	src, mnt := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644))
	p := start(t, "-ro", "-fsname", "mirror-of-src", src, mnt)

	err := os.WriteFile(filepath.Join(mnt, "f"), []byte("y"), 0o644)
	require.ErrorIs(t, err, syscall.EROFS)
	info, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.Contains(t, string(info), mnt+" ")
	assert.Contains(t, string(info), "fuse.passthrough mirror-of-src ro")
	require.Equal(t, 0, p.terminate(t), p.stderr.String())
}

func TestUnmountFromOutsideEndsTheProgram(t *testing.T) {
	src, mnt := t.TempDir(), t.TempDir()
	p := start(t, src, mnt)
	require.NoError(t, syscall.Unmount(mnt, 0))
	select {
	case code := <-p.exit:
		p.exit <- code
		assert.Equal(t, 0, code, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the program did not notice the unmount")
	}
}

func TestHelpAndBadCommandLines(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, &out, &errOut, nil))
	for _, want := range []string{"Usage: passthrough [flags] SOURCE MOUNTPOINT", "Example:", "-allow-other", "-attr-timeout", "-entry-timeout", "-debug", "-fsname", "-ro"} {
		assert.Contains(t, out.String(), want)
	}
	assert.Empty(t, errOut.String())

	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "inner"), 0o755))
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "want SOURCE and MOUNTPOINT, got 0 arguments"},
		{[]string{dir}, "got 1 arguments"},
		{[]string{"-nope", dir, dir}, "flag provided but not defined: -nope (see -h)"},
		{[]string{filepath.Join(dir, "missing"), dir}, "SOURCE " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{file, dir}, "SOURCE " + file + " is not a directory"},
		{[]string{dir, file}, "MOUNTPOINT " + file + " is not a directory"},
		{[]string{dir, filepath.Join(dir, "inner")}, "is inside SOURCE"},
		{[]string{"-attr-timeout", "-1s", dir, t.TempDir()}, "must not be negative"},
		{[]string{"-fsname", "a,b", dir, t.TempDir()}, "FSName"},
	} {
		out.Reset()
		errOut.Reset()
		code := run(c.args, &out, &errOut, nil)
		assert.NotZero(t, code, "%v", c.args)
		assert.Contains(t, errOut.String(), c.want, "%v", c.args)
	}
}

func TestKernelTimeout(t *testing.T) {
	assert.Equal(t, time.Duration(-1), kernelTimeout(0), "0 on the command line turns the cache off")
	assert.Equal(t, 5*time.Second, kernelTimeout(5*time.Second))
}
