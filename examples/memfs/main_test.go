package main

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/fusekit/fusekit/examples/internal/clitest"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk/writeback"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunMountsServesAndUnmounts(t *testing.T) {
	dir := t.TempDir()
	stdoutR, stdoutW := io.Pipe()
	var stderr clitest.SyncBuffer
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
	require.True(t, clitest.Mounted(t, dir))

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
	assert.False(t, clitest.Mounted(t, dir), "the mount is gone")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "the contents went with the mount")
}

func TestRunReadOnly(t *testing.T) {
	dir := t.TempDir()
	stdoutR, stdoutW := io.Pipe()
	var stderr clitest.SyncBuffer
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
	assert.False(t, clitest.Mounted(t, dir))
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
		{"help lists -writeback", []string{"-h"}, exitOK, "-writeback-dirty"},
		{"help lists -latency", []string{"-h"}, exitOK, "-latency"},
		{"negative latency", []string{"-latency", "-1ms", t.TempDir()}, exitUsage, "-latency must not be negative"},
		{"dirty limit without write-back", []string{"-writeback-dirty", "64M", t.TempDir()}, exitUsage, "-writeback-dirty needs -writeback"},
		{"bad dirty limit", []string{"-writeback", "-writeback-dirty", "lots", t.TempDir()}, exitUsage, `size "lots"`},
		{"dirty limit below a chunk", []string{"-writeback", "-writeback-dirty", "1K", t.TempDir()}, exitUsage, "-writeback-dirty: writeback: invalid Options.MaxDirty = 1024"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr clitest.SyncBuffer
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
	assert.True(t, o.NoXattrs, "MemMapFs has none; with -writeback the kernel would ask before every write")
}

// useStore makes run serve store, for the rest of the test.
func useStore(t *testing.T, store afero.Fs) {
	t.Helper()
	t.Cleanup(func() { newStore = afero.NewMemMapFs })
	newStore = func() afero.Fs { return store }
}

// started is a run() in the background that has mounted.
type started struct {
	stdout, stderr *clitest.SyncBuffer
	stop           chan os.Signal
	code           chan int
}

func startRun(t *testing.T, args ...string) *started {
	t.Helper()
	r := &started{stdout: &clitest.SyncBuffer{}, stderr: &clitest.SyncBuffer{}, stop: make(chan os.Signal, 1), code: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		r.code <- run(args, io.MultiWriter(r.stdout, pw), r.stderr, r.stop)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	require.NoError(t, err, "run ended before mounting: %s", r.stderr.String())
	require.Contains(t, line, "mounted on")
	t.Cleanup(func() {
		select {
		case r.stop <- os.Interrupt:
			<-r.code
		default:
		}
	})
	return r
}

// finish stops the run and returns its exit code.
func (r *started) finish(t *testing.T) int {
	t.Helper()
	r.stop <- os.Interrupt
	select {
	case c := <-r.code:
		r.code <- c // for the cleanup
		return c
	case <-time.After(time.Minute):
		t.Fatal("run did not return after the stop signal")
		return -1
	}
}

func TestWriteBackOverSlowStore(t *testing.T) {
	mem := afero.NewMemMapFs()
	useStore(t, mem)
	dir := t.TempDir()
	r := startRun(t, "-writeback", "-writeback-dirty", "32M", "-latency", "1ms", "-attr-timeout", "0", dir)

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	f, err := os.Create(filepath.Join(dir, "big"))
	require.NoError(t, err)
	for off := 0; off < len(big); off += 4096 { // the dd bs=4k pattern
		_, err := f.Write(big[off : off+4096])
		require.NoError(t, err)
	}
	require.NoError(t, f.Close(), "close waits for the write-back and reports its errors")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "small"), []byte("small"), 0o600))
	got, err := os.ReadFile(filepath.Join(dir, "big"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, got), "read back through the mount")
	onStore, err := afero.ReadFile(mem, "/big")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, onStore), "close(2) returned once the data was in the store")

	require.Equal(t, exitOK, r.finish(t), "stderr: %s", r.stderr.String())
	assert.Contains(t, r.stdout.String(), "1ms latency per store call, write-back")
	assert.Contains(t, r.stdout.String(), fmt.Sprintf("write-back: %d bytes written back, 0 errors", len(big)+len("small")))
	assert.Empty(t, r.stderr.String())
	onStore, err = afero.ReadFile(mem, "/small")
	require.NoError(t, err)
	assert.Equal(t, "small", string(onStore))
	assert.False(t, clitest.Mounted(t, dir))
}

func TestWriteBackFailureFailsCloseAndExit(t *testing.T) {
	store := faultfs.New(afero.NewMemMapFs(), faultfs.Config{})
	store.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "full", Err: syscall.ENOSPC})
	useStore(t, store)
	dir := t.TempDir()
	r := startRun(t, "-writeback", dir)

	f, err := os.Create(filepath.Join(dir, "full"))
	require.NoError(t, err)
	_, err = f.Write([]byte("never stored"))
	require.NoError(t, err, "the write is acknowledged from memory")
	assert.ErrorIs(t, f.Close(), syscall.ENOSPC, "close(2) reports the store's error")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fine"), []byte("ok"), 0o644))

	assert.Equal(t, exitError, r.finish(t), "data that never reached the store fails the exit")
	assert.Contains(t, r.stderr.String(), "no space left on device")
	assert.Contains(t, r.stderr.String(), writeback.ErrDataLost.Error())
	assert.Contains(t, r.stdout.String(), "write-back: 2 bytes written back")
	assert.False(t, clitest.Mounted(t, dir))
}

func TestFilesystemLayers(t *testing.T) {
	mem := afero.NewMemMapFs()

	plain, wb, err := (&config{}).filesystem(mem)
	require.NoError(t, err)
	assert.Nil(t, wb)
	require.IsType(t, &aferofs.FS{}, plain)
	assert.Same(t, mem, plain.(*aferofs.FS).Afero(), "no latency layer unless asked")

	all, wb, err := (&config{latency: time.Millisecond, writeback: true, writebackDirty: 64 << 20}).filesystem(mem)
	require.NoError(t, err)
	require.NotNil(t, wb)
	t.Cleanup(func() { wb.Close(t.Context()) })
	assert.Same(t, wb, all)
	served := wb.Backend().(*aferofs.FS).Afero()
	require.IsType(t, &faultfs.Fs{}, served)
	assert.Equal(t, "faultfs(MemMapFS)", served.Name())
}
