//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/examples/internal/clitest"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests run the passthrough binary as a child process with
// -writeback -journal over a backend with 1 ms latency, kill it with
// SIGKILL in the middle of writing, start it again on the same journal and
// check that every write(2) that returned before the kill is in SOURCE.

// daemon builds the passthrough binary for the build (libfuse2 or
// libfuse3) the test itself was built for.
func daemon(t *testing.T) string {
	t.Helper()
	return clitest.Build(t, ".", "passthrough")
}

// child is a running passthrough daemon.
type child struct {
	cmd    *exec.Cmd
	mnt    string
	stderr clitest.SyncBuffer // written by exec's copying goroutine
	done   chan struct{}
}

// startDaemon starts the binary on src and mnt with the journal and waits
// until it has mounted (so the replay is over).
func startDaemon(t *testing.T, src, mnt, journal string, extra ...string) *child {
	t.Helper()
	args := append([]string{"-writeback", "-journal", journal, "-latency", "1ms", "-attr-timeout", "0"}, extra...)
	c := &child{mnt: mnt, done: make(chan struct{})}
	c.cmd = exec.Command(daemon(t), append(args, src, mnt)...)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.kill(t) })
	line, err := bufio.NewReader(out).ReadString('\n')
	go io.Copy(io.Discard, out)
	if err != nil {
		<-c.done
		t.Fatalf("the daemon ended before mounting: %v: %s", err, c.stderr.String())
	}
	require.Contains(t, line, "mounted on")
	return c
}

// kill sends SIGKILL and detaches the dead mount. It is idempotent.
func (c *child) kill(t *testing.T) {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	// The dead daemon's mount answers ENOTCONN until it is detached.
	if err := unix.Unmount(c.mnt, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		t.Errorf("detaching %s: %v", c.mnt, err)
	}
}

// stop ends the daemon with SIGTERM, which drains and unmounts.
func (c *child) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the daemon did not stop: %s", c.stderr.String())
	}
	require.True(t, c.cmd.ProcessState.Success(), "exit: %v: %s", c.cmd.ProcessState, c.stderr.String())
}

// block returns the content of 4 KiB block i of a writer's file: its seed
// and index, repeated, so that a block in the wrong place or from the
// wrong file is seen.
func block(seed, i uint64) []byte {
	b := make([]byte, 4096)
	for o := 0; o < len(b); o += 16 {
		binary.LittleEndian.PutUint64(b[o:], seed)
		binary.LittleEndian.PutUint64(b[o+8:], i)
	}
	return b
}

// writer writes 4 KiB blocks to name until it fails or max blocks are
// written; done counts the writes that returned success.
func writer(name string, seed uint64, max int, done *atomic.Int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := range max {
		if _, err := f.Write(block(seed, uint64(i))); err != nil {
			return err
		}
		done.Add(1)
	}
	return nil
}

// checkBlocks checks that the first n blocks of path are the writer's.
func checkBlocks(t *testing.T, path string, seed uint64, n int64) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range n {
		_, err := io.ReadFull(f, buf)
		require.NoError(t, err, "%s: block %d of %d acknowledged blocks", path, i, n)
		if !bytes.Equal(buf, block(seed, uint64(i))) {
			t.Fatalf("%s: block %d of %d acknowledged blocks differs", path, i, n)
		}
	}
}

// journalSize is the bytes in the journal's segments.
func journalSize(t *testing.T, dir string) int64 {
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	require.NoError(t, err)
	var n int64
	for _, p := range m {
		st, err := os.Stat(p)
		require.NoError(t, err)
		n += st.Size()
	}
	return n
}

// killWhileWriting starts writers on the mount, kills the daemon once
// they have written killAt blocks in all, and returns what each had
// acknowledged.
func killWhileWriting(t *testing.T, c *child, names []string, seeds []uint64, max int, killAt int64) []int64 {
	t.Helper()
	counts := make([]atomic.Int64, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() { _ = writer(filepath.Join(c.mnt, names[i]), seeds[i], max, &counts[i]) })
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var total int64
		for i := range counts {
			total += counts[i].Load()
		}
		if total >= killAt {
			break
		}
		require.True(t, time.Now().Before(deadline), "writers stalled at %d blocks: %s", total, c.stderr.String())
		time.Sleep(time.Millisecond)
	}
	c.kill(t)
	wg.Wait()
	out := make([]int64, len(names))
	for i := range counts {
		out[i] = counts[i].Load()
	}
	return out
}

// TestJournalSIGKILLDuringDD kills the daemon in the middle of a 200 MiB
// dd bs=4k and checks every acknowledged block after the restart.
func TestJournalSIGKILLDuringDD(t *testing.T) {
	src, mnt, jdir := t.TempDir(), t.TempDir(), t.TempDir()
	c := startDaemon(t, src, mnt, jdir)
	const blocks = 200 << 20 >> 12
	killAt := int64(blocks/4 + rand.IntN(blocks/2))
	n := killWhileWriting(t, c, []string{"dd"}, []uint64{1}, blocks, killAt)[0]
	t.Logf("killed after %d acknowledged blocks (%d MiB); journal %d MiB", n, n>>8, journalSize(t, jdir)>>20)
	require.GreaterOrEqual(t, n, killAt)

	c = startDaemon(t, src, mnt, jdir)
	checkBlocks(t, filepath.Join(src, "dd"), 1, n)
	require.Zero(t, journalSize(t, jdir), "replayed journal given back")
	c.stop(t)
}

// TestJournalRepeatedKillsTwoWriters kills the daemon 20 times while two
// writers write different files: after every restart every acknowledged
// block is in SOURCE, and the journal does not grow.
func TestJournalRepeatedKillsTwoWriters(t *testing.T) {
	src, mnt, jdir := t.TempDir(), t.TempDir(), t.TempDir()
	kills := 20
	if testing.Short() {
		kills = 3
	}
	c := startDaemon(t, src, mnt, jdir)
	for k := range kills {
		names := []string{fmt.Sprintf("a%d", k), fmt.Sprintf("b%d", k)}
		seeds := []uint64{uint64(2*k + 10), uint64(2*k + 11)}
		killAt := int64(256 + rand.IntN(4096)) // 1 to 17 MiB
		n := killWhileWriting(t, c, names, seeds, 8192, killAt)
		c = startDaemon(t, src, mnt, jdir)
		for i := range names {
			checkBlocks(t, filepath.Join(src, names[i]), seeds[i], n[i])
		}
		require.Zero(t, journalSize(t, jdir), "kill %d: the journal grew", k)
	}
	c.stop(t)
}

// TestJournalSIGKILLDuringSQLite commits rows one transaction at a time
// with SQLite in WAL mode, synchronous=NORMAL (commits write the WAL
// without fsync), kills the daemon in the middle, and checks after the
// restart that the database is intact and holds every row whose commit
// returned.
func TestJournalSIGKILLDuringSQLite(t *testing.T) {
	sqlite, err := exec.LookPath("sqlite3")
	require.NoError(t, err, "the sqlite3 command (Debian package sqlite3; make deps installs it)")
	src, mnt, jdir := t.TempDir(), t.TempDir(), t.TempDir()
	c := startDaemon(t, src, mnt, jdir)
	db := filepath.Join(mnt, "test.db")

	cmd := exec.Command(sqlite, "-batch", db)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr clitest.SyncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// .bail: the first failed statement (after the kill) ends sqlite3, so
	// nothing after it is printed and taken for a commit.
	_, err = io.WriteString(stdin, ".bail on\nPRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\nCREATE TABLE t(i INTEGER PRIMARY KEY, v TEXT NOT NULL);\n")
	require.NoError(t, err)
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "sqlite3: %s", stderr.String())
	require.Equal(t, "wal", lines.Text())

	// Each row is its own transaction; the SELECT after it prints the row
	// number once the commit has returned and the row is there.
	killAt := 3000 + rand.IntN(3000)
	var committed atomic.Int64
	errc := make(chan error, 1)
	go func() {
		for i := 1; ; i++ {
			if _, err := fmt.Fprintf(stdin, "INSERT INTO t VALUES(%d, printf('%%.*c', 200 + %d %% 300, 'r'));\nSELECT i FROM t WHERE i = %d;\n", i, i, i); err != nil {
				errc <- err
				return
			}
			if !lines.Scan() {
				errc <- fmt.Errorf("sqlite3 output ended: %v", lines.Err())
				return
			}
			if lines.Text() != fmt.Sprint(i) {
				errc <- fmt.Errorf("sqlite3 said %q after row %d", lines.Text(), i)
				return
			}
			committed.Store(int64(i))
		}
	}()
	deadline := time.Now().Add(5 * time.Minute)
	for committed.Load() < int64(killAt) {
		select {
		case err := <-errc:
			t.Fatalf("before the kill: %v: %s", err, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "commits stalled at %d", committed.Load())
		time.Sleep(time.Millisecond)
	}
	c.kill(t)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	n := committed.Load()
	t.Logf("killed after %d committed rows", n)

	c = startDaemon(t, src, mnt, jdir)
	out, err := exec.Command(sqlite, "-batch", db, "PRAGMA integrity_check;", fmt.Sprintf("SELECT count(*) FROM t WHERE i <= %d;", n)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, fmt.Sprintf("ok\n%d\n", n), string(out), "integrity_check, then the committed rows present; daemon: %s", c.stderr.String())
	c.stop(t)
}

// TestJournalConflictAfterSIGKILL changes a file in SOURCE between the
// kill and the restart: the change is kept, the journaled data is set
// aside under the journal's conflicts directory and reported.
func TestJournalConflictAfterSIGKILL(t *testing.T) {
	src, mnt, jdir := t.TempDir(), t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("before"), 0o644))
	// Nothing is written back by age while the test runs.
	c := startDaemon(t, src, mnt, jdir)
	f, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("JOURNALED"), 0)
	require.NoError(t, err)
	c.kill(t)
	f.Close()
	got, err := os.ReadFile(filepath.Join(src, "f"))
	require.NoError(t, err)
	require.Equal(t, "before", string(got), "not written back before the kill (MaxAge is 5 s)")

	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("changed elsewhere"), 0o644))
	c = startDaemon(t, src, mnt, jdir)
	got, err = os.ReadFile(filepath.Join(src, "f"))
	require.NoError(t, err)
	require.Equal(t, "changed elsewhere", string(got))
	aside, err := filepath.Glob(filepath.Join(jdir, "conflicts", "f.*.conflict"))
	require.NoError(t, err)
	require.Len(t, aside, 1)
	data, err := os.ReadFile(aside[0])
	require.NoError(t, err)
	require.Equal(t, "JOURNALED", string(data))
	c.stop(t)
	require.Contains(t, c.stderr.String(), "1 set aside")
	require.Contains(t, c.stderr.String(), `"f" changed behind the journal`)
}
