package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The helpers below call the system directly (unix.Pread rather than
// os.File.ReadAt) because the os package retries short reads and writes,
// which would hide exactly the defects the suite is looking for.

// platformGroups lists every group of the suite in running order.
func platformGroups() [][]Test {
	return [][]Test{
		ioTests(), appendTests(), directIOTests(), mmapTests(),
		dirTests(), renameTests(), unlinkTests(), linkTests(),
		permTests(), timeTests(), xattrTests(), ctoTests(),
		errorTests(), concurrencyTests(), statfsTests(), overlayTests(),
	}
}

// nobody is the unprivileged identity child processes run as.
const nobody = 65534

// pattern returns n deterministic bytes that differ with seed and with the
// offset, so that data landing at the wrong place or from the wrong write
// is recognisable.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131+i>>8+int(seed)*29) | 1 // never zero: zero means "hole"
	}
	return b
}

// fill returns n copies of c.
func fill(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }

// openFile opens path with open(2) flags. The *os.File owns the
// descriptor, so a close by the test and the close in Cleanup cannot hit a
// descriptor number that has been reused meanwhile; raw system calls use
// fdOf.
func openFile(t T, path string, flags int, perm uint32) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flags, os.FileMode(perm&0o777))
	if err != nil {
		t.Fatalf("open %s (flags %#x): %v", path, flags, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func fdOf(f *os.File) int { return int(f.Fd()) }

func closeFile(t T, f *os.File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Errorf("close of %s failed: %v", f.Name(), err)
	}
}

// pwriteAll writes p at off with one pwrite and insists on a full count.
func pwriteAll(t T, f *os.File, p []byte, off int64) {
	t.Helper()
	n, err := unix.Pwrite(fdOf(f), p, off)
	if err != nil {
		t.Fatalf("pwrite of %d bytes at offset %d of %s: %v", len(p), off, f.Name(), err)
	}
	if n != len(p) {
		t.Fatalf("pwrite of %d bytes at offset %d of %s wrote %d (short write)", len(p), off, f.Name(), n)
	}
}

// writeAll writes p at the file offset with one write(2).
func writeAll(t T, f *os.File, p []byte) {
	t.Helper()
	n, err := unix.Write(fdOf(f), p)
	if err != nil {
		t.Fatalf("write of %d bytes to %s: %v", len(p), f.Name(), err)
	}
	if n != len(p) {
		t.Fatalf("write of %d bytes to %s wrote %d (short write)", len(p), f.Name(), n)
	}
}

// preadFull reads len(p) bytes at off with one pread, retrying only on
// EINTR, and reports a short count as what it is: a regular file returns
// every byte up to its end.
func preadFull(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// createFile makes path with content and returns nothing: the file is
// closed, so its data has gone through close-to-open.
func createFile(t T, path string, content []byte, perm uint32) {
	t.Helper()
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, perm)
	if len(content) > 0 {
		pwriteAll(t, f, content, 0)
	}
	closeFile(t, f)
}

// checkContent opens path afresh and compares it with want, reading in
// chunks with single preads so that a short read, a wrong size and wrong
// bytes each get their own message.
func checkContent(t T, path string, want []byte, what string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Errorf("%s: open %s for reading: %v", what, path, err)
		return false
	}
	defer unix.Close(fd)
	return checkFD(t, fd, want, what)
}

// checkFD compares the content of an open file with want; see checkContent.
func checkFD(t T, fd int, want []byte, what string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Errorf("%s: fstat: %v", what, err)
		return false
	}
	if st.Size != int64(len(want)) {
		t.Errorf("%s: size is %d, want %d%s", what, st.Size, len(want), sizeHint(st.Size, int64(len(want))))
		return false
	}
	const chunk = 64 << 10
	got := make([]byte, 0, len(want))
	buf := make([]byte, chunk)
	for off := 0; off < len(want); off += chunk {
		n := min(chunk, len(want)-off)
		m, err := preadFull(fd, buf[:n], int64(off))
		if err != nil {
			t.Errorf("%s: read of %d bytes at offset %d: %v", what, n, off, err)
			return false
		}
		if m != n {
			t.Errorf("%s: read at offset %d returned %d bytes, want %d (short read)", what, off, m, n)
			return false
		}
		got = append(got, buf[:n]...)
	}
	if m, err := preadFull(fd, buf[:1], int64(len(want))); err != nil || m != 0 {
		t.Errorf("%s: read at the end of the file (offset %d) returned %d bytes, %v; want 0 bytes (end of file)", what, len(want), m, err)
		return false
	}
	return sameBytes(t, got, want, what)
}

func sizeHint(got, want int64) string {
	switch {
	case got > want:
		return " (data past the end, or a truncate was lost)"
	case got < want:
		return " (data missing, or a stale size)"
	}
	return ""
}

// sameBytes reports the first difference between got and want.
func sameBytes(t T, got, want []byte, what string) bool {
	t.Helper()
	if bytes.Equal(got, want) {
		return true
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d bytes, want %d%s", what, len(got), len(want), sizeHint(int64(len(got)), int64(len(want))))
		return false
	}
	i := firstDiff(got, want)
	j := min(i+16, len(got))
	t.Errorf("%s: bytes at offset %d differ: got %q, want %q", what, i, got[i:j], want[i:j])
	return false
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func lstat(t T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return st
}

func fstat(t T, f *os.File) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fdOf(f), &st); err != nil {
		t.Fatalf("fstat of %s: %v", f.Name(), err)
	}
	return st
}

// absent checks that path does not exist.
func absent(t T, path, why string) bool {
	t.Helper()
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	if err == nil {
		t.Errorf("%s still exists %s", path, why)
		return false
	}
	if err != unix.ENOENT {
		t.Errorf("lstat %s: %v, want ENOENT %s", path, err, why)
		return false
	}
	return true
}

// wantErrno checks that err is one of the wanted errnos.
func wantErrno(t T, err error, op string, want ...unix.Errno) bool {
	t.Helper()
	for _, w := range want {
		if errors.Is(err, w) {
			return true
		}
	}
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = unix.ErrnoName(w)
	}
	if err == nil {
		t.Errorf("%s succeeded, want %s", op, strings.Join(names, " or "))
	} else {
		t.Errorf("%s failed with %v, want %s", op, err, strings.Join(names, " or "))
	}
	return false
}

func must(t T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// listNames returns the names in dir, failing the test on error.
func listNames(t T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading directory %s: %v", dir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// requireRoot skips a test that needs root's privileges to set up.
func requireRoot(t T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root (to run children as uid %d and change owners); running as uid %d", nobody, os.Geteuid())
	}
}

// childResult is what a shell child reported.
type childResult struct {
	out string
	err error
}

func (c childResult) ok() bool { return c.err == nil }

func (c childResult) String() string {
	if c.err == nil {
		return "succeeded"
	}
	return fmt.Sprintf("failed (%v: %s)", c.err, strings.TrimSpace(c.out))
}

// sh runs script with /bin/sh in a child process, as uid:gid when uid is
// not negative (with no supplementary groups), with positional arguments.
// Only standard tools are used: the suite must not depend on the test
// binary being re-executable or on any interpreter but sh.
func sh(uid int, script string, args ...string) childResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}},
		}
	}
	out, err := cmd.CombinedOutput()
	return childResult{out: string(out), err: err}
}

// umask returns the process umask without changing it (reading it with
// umask(2) would briefly change it for every thread).
func umask() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				var m uint32
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%o", &m); err == nil {
					return m
				}
			}
		}
	}
	return 0o022
}

// alignedBuf returns page-aligned memory for O_DIRECT, which refuses
// buffers that are not aligned to the logical block size.
func alignedBuf(t T, n int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("allocating %d aligned bytes: %v", n, err)
	}
	t.Cleanup(func() { _ = unix.Munmap(b) })
	return b
}

// join is filepath.Join under a shorter name for the many paths below.
func join(elem ...string) string { return filepath.Join(elem...) }

// settle sleeps long enough for a timestamp taken now to differ from one
// taken before, at the target's granularity and the kernel's coarse clock.
func settle(f Features) {
	d := 20 * time.Millisecond
	if f.TimeGranularity > 0 {
		d += f.TimeGranularity
	}
	time.Sleep(d)
}
