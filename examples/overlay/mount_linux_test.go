package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"github.com/fusekit/fusekit/examples/internal/clitest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inProcess is the program running in the foreground in this process.
type inProcess struct {
	sig            chan os.Signal
	code           chan int
	stdout, stderr clitest.SyncBuffer
}

// startInProcess runs the program over lower and upper (with a workdir of
// its own) on mnt and returns once the mount is live.
func startInProcess(t *testing.T, lower, upper, mnt string) *inProcess {
	t.Helper()
	p := &inProcess{sig: make(chan os.Signal, 1), code: make(chan int, 1)}
	args := []string{"-f", "-o", "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + t.TempDir(), mnt}
	go func() { p.code <- run(args, &p.stdout, &p.stderr, p.sig) }()
	t.Cleanup(func() {
		if clitest.Mounted(t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	waitFor(t, "the mount", func() bool { return strings.Contains(p.stdout.String(), "mounted on") || len(p.code) > 0 })
	require.Empty(t, p.code, "run ended early: %s", p.stderr.String())
	return p
}

// stop sends SIGTERM and checks that the program unmounts and exits 0.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	p.sig <- syscall.SIGTERM
	select {
	case c := <-p.code:
		assert.Equal(t, 0, c, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
}

// TestDemoOnSampleData runs the README's demo in-process on the bundled
// sample: list the merged view, write a file, delete a lower file, look at
// the upper with its whiteout, unmount with a signal.
func TestDemoOnSampleData(t *testing.T) {
	lower := filepath.Join(clitest.PkgDir, "sample", "lower")
	before := hashTree(t, lower)
	upper, mnt := t.TempDir(), t.TempDir()
	p := startInProcess(t, lower, upper, mnt)

	ents, err := os.ReadDir(mnt)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"README.txt", "hello.txt", "notes", "config"}, names)

	require.NoError(t, os.WriteFile(filepath.Join(mnt, "notes/new.txt"), []byte("written through the mount\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(mnt, "hello.txt")))
	_, err = os.Stat(filepath.Join(mnt, "hello.txt"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	data, err := os.ReadFile(filepath.Join(upper, "notes/new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "written through the mount\n", string(data))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(upper, "hello.txt"), &st))
	assert.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "a root server writes a kernel whiteout")

	p.stop(t)
	assert.False(t, clitest.Mounted(t, mnt))
	assert.Contains(t, p.stdout.String(), "unmounted")
	assert.Equal(t, before, hashTree(t, lower), "the sample lower is never written")
}

func hashTree(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	require.NoError(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		io.WriteString(h, p+fi.Mode().String())
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(h, f)
			return err
		}
		return nil
	}))
	return string(h.Sum(nil))
}

// buildBinary compiles this example into a temporary directory, for the
// build the test runs under.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "overlay")
	args := []string{"build", "-o", bin}
	if sdk.Build == "fuse3" {
		args = append(args, "-tags", "fuse3")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = clitest.PkgDir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startServer runs the binary and waits until the mount is live.
func startServer(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "server output: %q", line)
	require.Contains(t, line, "mounted on")
	go io.Copy(io.Discard, stdout)
	return cmd
}

// TestCopyUpSurvivesKill kills the server in the middle of copying up a
// large file, remounts, and checks the upper holds no partial copy and the
// lower is untouched.
func TestCopyUpSurvivesKill(t *testing.T) {
	bin := buildBinary(t)
	lower, upper, mnt := t.TempDir(), t.TempDir(), t.TempDir()
	big := filepath.Join(lower, "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, no zeros: no holes
	for range 256 {
		_, err = f.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	lowerSum := hashTree(t, lower)
	t.Cleanup(func() {
		if clitest.Mounted(t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})

	args := []string{"-f", "-o", "lowerdir=" + lower + ",upperdir=" + upper, mnt}
	srv := startServer(t, bin, args...)

	// The opener blocks in copy-up; it fails once the server is gone.
	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(mnt, "big"), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.Write([]byte("tail"))
			f.Close()
		}
		opened <- err
	}()
	work := filepath.Join(upper, ".fusekit-work")
	waitFor(t, "the copy-up temporary", func() bool {
		ents, _ := os.ReadDir(work)
		return len(ents) > 0
	})
	require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
	srv.Wait()
	// auto_unmount normally clears the dead mount; make sure it is gone.
	waitFor(t, "the dead mount to go", func() bool {
		unix.Unmount(mnt, unix.MNT_DETACH)
		return !clitest.Mounted(t, mnt)
	})
	select {
	case err := <-opened:
		require.Error(t, err, "the copy-up cannot have completed: the server died during it")
	case <-time.After(20 * time.Second):
		t.Fatal("the opener is still blocked after the server died")
	}

	_, err = os.Lstat(filepath.Join(upper, "big"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no partial copy in the upper")
	assert.Equal(t, lowerSum, hashTree(t, lower), "the lower is untouched")

	srv = startServer(t, bin, args...)
	ents, err := os.ReadDir(work)
	require.NoError(t, err)
	assert.Empty(t, ents, "the remount cleared the work directory")
	sum := sha256.New()
	mf, err := os.Open(filepath.Join(mnt, "big"))
	require.NoError(t, err)
	_, err = io.Copy(sum, mf)
	mf.Close()
	require.NoError(t, err)
	want := sha256.New()
	for range 256 {
		want.Write(chunk)
	}
	assert.Equal(t, want.Sum(nil), sum.Sum(nil), "the merged view shows the whole lower file")

	require.NoError(t, srv.Process.Signal(syscall.SIGINT))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "clean exit on SIGINT")
	case <-ctx.Done():
		t.Fatal("the server did not exit on SIGINT")
	}
	assert.False(t, clitest.Mounted(t, mnt))
}

// TestLinkCountFreshAtOnce links files (a lower one, copied up by the link,
// and an upper one) and stats the first name at once: it must show both
// links, and a write through the second name must show in the first's
// size. With the kernel caching attributes, the libfuse2 build answered
// from the first name's cached attributes (link count 1), which made
// containers/storage store hard links made in a build step as copies.
func TestLinkCountFreshAtOnce(t *testing.T) {
	lower, upper, mnt := t.TempDir(), t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(lower, "low"), []byte("lower"), 0o644))
	p := startInProcess(t, lower, upper, mnt)

	j := func(n string) string { return filepath.Join(mnt, n) }
	require.NoError(t, os.WriteFile(j("up"), []byte("upper"), 0o644))
	for _, first := range []string{"low", "up"} {
		second := first + ".hard"
		var st unix.Stat_t
		require.NoError(t, unix.Stat(j(first), &st)) // the kernel has the attributes now
		require.EqualValues(t, 1, st.Nlink, first)
		require.NoError(t, os.Link(j(first), j(second)))
		require.NoError(t, unix.Stat(j(first), &st))
		assert.EqualValues(t, 2, st.Nlink, "stat %s right after ln %s %s", first, first, second)
		require.NoError(t, pwriteFile(j(second), " and more"))
		require.NoError(t, unix.Stat(j(first), &st))
		assert.EqualValues(t, 14, st.Size, "stat %s right after a write through %s", first, second)
	}

	p.stop(t)
}

// pwriteFile appends data to the existing file p.
func pwriteFile(p, data string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
