//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/fusekit/fusekit/examples/internal/clitest"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// program runs run() in the background until the test sends on the
// returned channel, and waits for the "mounted" line.
type program struct {
	stop           chan os.Signal
	exit           chan int
	stdout, stderr *clitest.SyncBuffer
}

func start(t *testing.T, args ...string) *program {
	t.Helper()
	pr, pw := io.Pipe()
	p := &program{stop: make(chan os.Signal, 2), exit: make(chan int, 1), stdout: &clitest.SyncBuffer{}, stderr: &clitest.SyncBuffer{}}
	go func() {
		code := run(args, io.MultiWriter(p.stdout, pw), p.stderr, p.stop)
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
	require.True(t, clitest.Mounted(t, mnt))

	got, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(got))
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "new.txt"), []byte("via mount"), 0o600))
	got, err = os.ReadFile(filepath.Join(src, "new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "via mount", string(got))

	require.Equal(t, 0, p.terminate(t), p.stderr.String())
	assert.False(t, clitest.Mounted(t, mnt), "the mount is gone after the signal")
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
	for _, want := range []string{"Usage: passthrough [flags] SOURCE MOUNTPOINT", "Example:", "-allow-other", "-attr-timeout", "-entry-timeout", "-debug", "-fsname", "-ro", "-latency", "-writeback", "-writeback-dirty"} {
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
		{[]string{"-latency", "-1ms", dir, t.TempDir()}, "-latency must not be negative"},
		{[]string{"-writeback-dirty", "1G", dir, t.TempDir()}, "-writeback-dirty needs -writeback"},
		{[]string{"-writeback", "-writeback-dirty", "1.5G", dir, t.TempDir()}, `size "1.5G"`},
		{[]string{"-writeback", "-writeback-dirty", "1K", dir, t.TempDir()}, "-writeback-dirty: writeback: invalid Options.MaxDirty = 1024"},
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

func TestWriteBackWithLatencyReachesSource(t *testing.T) {
	src, mnt := t.TempDir(), t.TempDir()
	p := start(t, "-writeback", "-latency", "1ms", "-attr-timeout", "0", src, mnt)
	assert.Contains(t, p.stdout.String(), "(1ms latency per call, write-back)")

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	f, err := os.Create(filepath.Join(mnt, "big"))
	require.NoError(t, err)
	for off := 0; off < len(big); off += 4096 { // the dd bs=4k pattern
		_, err := f.Write(big[off : off+4096])
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	got, err := os.ReadFile(filepath.Join(src, "big"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, got), "close(2) returned once the data was in SOURCE")

	// Left open at the stop: the unmount writes it back.
	g, err := os.Create(filepath.Join(mnt, "open"))
	require.NoError(t, err)
	_, err = g.Write([]byte("written before the stop"))
	require.NoError(t, err)
	require.NoError(t, g.Close())

	require.Equal(t, 0, p.terminate(t), p.stderr.String())
	assert.False(t, clitest.Mounted(t, mnt))
	got, err = os.ReadFile(filepath.Join(src, "open"))
	require.NoError(t, err)
	assert.Equal(t, "written before the stop", string(got))
	assert.Contains(t, p.stdout.String(), fmt.Sprintf("write-back: %d bytes written back, 0 errors", len(big)+len("written before the stop")))
}

func TestLayers(t *testing.T) {
	pt, err := passthrough.New(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { pt.Close() })

	fsys, wb, err := (&config{}).layers(pt)
	require.NoError(t, err)
	assert.Nil(t, wb)
	assert.Same(t, pt, fsys, "nothing in front unless asked")

	fsys, wb, err = (&config{latency: time.Millisecond, writeback: true}).layers(pt)
	require.NoError(t, err)
	require.NotNil(t, wb)
	t.Cleanup(func() { wb.Close(t.Context()) })
	assert.Same(t, wb, fsys)
	slow, ok := wb.Backend().(*slowFS)
	require.True(t, ok, "write-back sits on the latency wrapper, got %T", wb.Backend())
	assert.Same(t, pt, slow.fs)
}

// capabilities lists the optional sdk interfaces a value implements.
func capabilities(v any) []string {
	var out []string
	for _, c := range []struct {
		name string
		typ  reflect.Type
	}{
		{"Symlinker", reflect.TypeFor[sdk.Symlinker]()},
		{"Linker", reflect.TypeFor[sdk.Linker]()},
		{"Xattrer", reflect.TypeFor[sdk.Xattrer]()},
		{"Mknoder", reflect.TypeFor[sdk.Mknoder]()},
		{"Accesser", reflect.TypeFor[sdk.Accesser]()},
		{"Syncer", reflect.TypeFor[sdk.Syncer]()},
		{"DirSyncer", reflect.TypeFor[sdk.DirSyncer]()},
		{"Flusher", reflect.TypeFor[sdk.Flusher]()},
		{"FileStater", reflect.TypeFor[sdk.FileStater]()},
	} {
		if reflect.TypeOf(v).Implements(c.typ) {
			out = append(out, c.name)
		}
	}
	return out
}

// The latency wrapper must not hide what passthrough can do: a capability
// added there and not forwarded here would silently change what -latency
// measures.
func TestSlowFSHasPassthroughsCapabilities(t *testing.T) {
	src := t.TempDir()
	pt, err := passthrough.New(src)
	require.NoError(t, err)
	t.Cleanup(func() { pt.Close() })
	slow := newSlowFS(pt, 0)
	assert.Equal(t, capabilities(pt), capabilities(slow))

	ctx := t.Context()
	f, err := pt.Open(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	sf, err := slow.Open(ctx, "g", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { sf.Close() })
	assert.Equal(t, capabilities(f), capabilities(sf))
}

func TestSlowFSDelaysEveryCall(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644))
	pt, err := passthrough.New(src)
	require.NoError(t, err)
	t.Cleanup(func() { pt.Close() })
	var delays int
	slow := &slowFS{fs: pt, delay: func() { delays++ }}
	ctx := t.Context()
	var file sdk.File

	calls := []struct {
		name string
		call func() error
	}{
		{"Stat", func() error { _, err := slow.Stat(ctx, "f"); return err }},
		{"Open", func() (err error) { file, err = slow.Open(ctx, "f", os.O_RDWR, 0); return err }},
		{"File.ReadAt", func() error { _, err := file.ReadAt(ctx, make([]byte, 4), 0); return err }},
		{"File.WriteAt", func() error { _, err := file.WriteAt(ctx, []byte("DATA"), 0); return err }},
		{"File.Truncate", func() error { return file.Truncate(ctx, 4) }},
		{"File.Sync", func() error { return file.Sync(ctx, false) }},
		{"File.Stat", func() error { _, err := file.(sdk.FileStater).Stat(ctx); return err }},
		{"File.Close", func() error { return file.Close() }},
		{"ReadDir", func() error { _, err := slow.ReadDir(ctx, "."); return err }},
		{"Mkdir", func() error { return slow.Mkdir(ctx, "d", 0o755) }},
		{"Rename", func() error { return slow.Rename(ctx, "d", "e", 0) }},
		{"Rmdir", func() error { return slow.Rmdir(ctx, "e") }},
		{"Truncate", func() error { return slow.Truncate(ctx, "f", 2) }},
		{"Chmod", func() error { return slow.Chmod(ctx, "f", 0o600) }},
		{"Chown", func() error { return slow.Chown(ctx, "f", os.Getuid(), os.Getgid()) }},
		{"SetTimes", func() error { return slow.SetTimes(ctx, "f", time.Now(), time.Now()) }},
		{"StatFS", func() error { _, err := slow.StatFS(ctx); return err }},
		{"Symlink", func() error { return slow.Symlink(ctx, "f", "l") }},
		{"Readlink", func() error { _, err := slow.Readlink(ctx, "l"); return err }},
		{"Link", func() error { return slow.Link(ctx, "f", "h") }},
		{"SetXattr", func() error { return slow.SetXattr(ctx, "f", "user.k", []byte("v"), 0) }},
		{"GetXattr", func() error { _, err := slow.GetXattr(ctx, "f", "user.k"); return err }},
		{"ListXattr", func() error { _, err := slow.ListXattr(ctx, "f"); return err }},
		{"RemoveXattr", func() error { return slow.RemoveXattr(ctx, "f", "user.k") }},
		{"Mknod", func() error { return slow.Mknod(ctx, "fifo", syscall.S_IFIFO|0o644, 0) }},
		{"Unlink", func() error { return slow.Unlink(ctx, "h") }},
		{"SyncFS", func() error { return slow.SyncFS(ctx) }},
	}
	for _, c := range calls {
		before := delays
		err := c.call()
		// xattrs may be unsupported by the temp dir's filesystem; the
		// delay is what is checked, and the rest must work.
		if !strings.Contains(c.name, "Xattr") {
			require.NoError(t, err, c.name)
		}
		assert.Equal(t, before+1, delays, "%s sleeps exactly once", c.name)
	}
}
