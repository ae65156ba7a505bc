//go:build linux

package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// shared mounts with allow_other and makes the mountpoint reachable by an
// unprivileged uid (t.TempDir's parent directories are private).
func shared(t *testing.T) *sdk.Server {
	t.Helper()
	srv := sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{AllowOther: true})
	require.NoError(t, os.Chmod(filepath.Dir(srv.Dir()), 0o755))
	require.NoError(t, os.Chmod(srv.Dir(), 0o777))
	return srv
}

func asUser(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4321, Gid: 8765}}
	return cmd
}

func mountMem(t *testing.T) string {
	t.Helper()
	return sdktest.Mount(t, sdktest.NewMemFS(), nil).Dir()
}

func TestReadWriteAtOffsets(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "f")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_RDWR|unix.O_EXCL, 0o600)
	require.NoError(t, err)
	defer unix.Close(fd)
	n, err := unix.Pwrite(fd, []byte("world"), 6)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	_, err = unix.Pwrite(fd, []byte("hello "), 0)
	require.NoError(t, err)
	buf := make([]byte, 5)
	n, err = unix.Pread(fd, buf, 6)
	require.NoError(t, err)
	assert.Equal(t, "world", string(buf[:n]))
	// A 1 MiB read of an 11-byte file returns 11 bytes, not a short read
	// in the middle.
	big := make([]byte, 1<<20)
	n, err = unix.Pread(fd, big, 0)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(big[:n]))
	// A large write and read-back crosses many FUSE requests.
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	_, err = unix.Pwrite(fd, data, 4096)
	require.NoError(t, err)
	got := make([]byte, len(data))
	n, err = unix.Pread(fd, got, 4096)
	require.NoError(t, err)
	require.Equal(t, len(data), n)
	assert.True(t, bytes.Equal(data, got))
}

func TestCreatedFilesBelongToCallerWithRequestedMode(t *testing.T) {
	srv := shared(t)
	// An unprivileged caller with umask 027 creates a file with mode 0666:
	// the file must be 0640 and theirs.
	cmd := asUser(exec.Command("sh", "-c", "umask 027; : > f; mkdir d"))
	cmd.Dir = srv.Dir()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(srv.Dir(), "f"), &st))
	assert.EqualValues(t, 4321, st.Uid)
	assert.EqualValues(t, 8765, st.Gid)
	assert.EqualValues(t, 0o640, st.Mode&0o7777)
	require.NoError(t, unix.Stat(filepath.Join(srv.Dir(), "d"), &st))
	assert.EqualValues(t, 0o750, st.Mode&0o7777)
	assert.EqualValues(t, 4321, st.Uid)
}

func TestPermissionsEnforcedWithAllowOther(t *testing.T) {
	srv := shared(t)
	require.NoError(t, os.WriteFile(filepath.Join(srv.Dir(), "secret"), []byte("x"), 0o600))
	cmd := asUser(exec.Command("cat", filepath.Join(srv.Dir(), "secret")))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "Permission denied")
}

func TestSetuidClearedOnUnprivilegedWrite(t *testing.T) {
	srv := shared(t)
	p := filepath.Join(srv.Dir(), "prog")
	require.NoError(t, os.WriteFile(p, []byte("#!"), 0o777))
	// unix.Chmod, not os.Chmod: os.FileMode keeps setuid and setgid in
	// bits of its own and drops them from an octal 06777.
	require.NoError(t, unix.Chmod(p, 0o6777))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(p, &st))
	require.EqualValues(t, 0o6777, st.Mode&0o7777, "chmod")
	cmd := asUser(exec.Command("sh", "-c", "echo more >> "+p))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, unix.Stat(p, &st))
	assert.Zero(t, st.Mode&(unix.S_ISUID|unix.S_ISGID), "mode %#o", st.Mode)

	require.NoError(t, unix.Chmod(p, 0o6755))
	require.NoError(t, unix.Stat(p, &st))
	require.EqualValues(t, 0o6755, st.Mode&0o7777, "chmod")
	require.NoError(t, os.Chown(p, 1, 1))
	require.NoError(t, unix.Stat(p, &st))
	assert.Zero(t, st.Mode&(unix.S_ISUID|unix.S_ISGID), "chown must clear setuid/setgid, mode %#o", st.Mode)
}

// The kernel clears setuid/setgid on a write by whoever writes, not by
// whoever opened: a descriptor root opened and handed to an unprivileged
// process clears them on that process's first write, and root's own writes
// through it leave them.
func TestSetuidClearedOnUnprivilegedWriteThroughRootsDescriptor(t *testing.T) {
	srv := shared(t)
	p := filepath.Join(srv.Dir(), "prog2")
	require.NoError(t, os.WriteFile(p, []byte("#!"), 0o777))
	require.NoError(t, unix.Chmod(p, 0o6777))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(p, &st))
	require.EqualValues(t, 0o6777, st.Mode&0o7777, "chmod")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("root\n")
	require.NoError(t, err)
	require.NoError(t, unix.Stat(p, &st))
	assert.EqualValues(t, 0o6777, st.Mode&0o7777, "root's write must keep the bits")

	cmd := asUser(exec.Command("sh", "-c", "echo more >&3"))
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, unix.Stat(p, &st))
	assert.Zero(t, st.Mode&(unix.S_ISUID|unix.S_ISGID), "mode %#o", st.Mode)
}

func TestTruncateUpAndDown(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "t")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("x"), 8192), 0o644))
	require.NoError(t, os.Truncate(p, 100))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.EqualValues(t, 100, fi.Size())
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(10000))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Len(t, got, 10000)
	assert.Equal(t, bytes.Repeat([]byte("x"), 100), got[:100])
	assert.Equal(t, make([]byte, 9900), got[100:], "growing must read back zeros")
	// O_TRUNC at open is atomic with the open.
	f2, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	require.NoError(t, f2.Close())
	fi, err = os.Stat(p)
	require.NoError(t, err)
	assert.Zero(t, fi.Size())
}

func TestAppendFromTwoProcesses(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "log")
	const lines = 300
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "$1 line $i" >> %s; i=$((i+1)); done`, lines, p)
	a := exec.Command("sh", "-c", script, "sh", "A")
	b := exec.Command("sh", "-c", script, "sh", "B")
	require.NoError(t, a.Start())
	require.NoError(t, b.Start())
	require.NoError(t, a.Wait())
	require.NoError(t, b.Wait())
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, got, 2*lines, "appends were lost or overwritten")
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	assert.Len(t, seen, 2*lines, "every appended line must appear exactly once")
}

func TestRenameOverExistingAndOpenFile(t *testing.T) {
	dir := mountMem(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("B"), 0o644))
	require.NoError(t, os.Rename(a, b))
	got, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, "A", string(got))
	_, err = os.Stat(a)
	assert.ErrorIs(t, err, os.ErrNotExist)

	f, err := os.OpenFile(b, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	c := filepath.Join(dir, "c")
	require.NoError(t, os.Rename(b, c))
	_, err = f.WriteAt([]byte("XYZ"), 1)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	got, err = os.ReadFile(c)
	require.NoError(t, err)
	assert.Equal(t, "AXYZ", string(got), "a write after rename must land in the renamed file")
}

func TestRenameFlags(t *testing.T) {
	dir := mountMem(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("B"), 0o644))
	// The VFS itself refuses NOREPLACE over an existing name.
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE)
	assert.ErrorIs(t, err, unix.EEXIST)
	if sdk.Build == "fuse2" {
		// libfuse2 refuses renameat2 flags that reach it (protocol 7.19).
		err = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, filepath.Join(dir, "c"), unix.RENAME_NOREPLACE)
		assert.ErrorIs(t, err, unix.EINVAL)
		err = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		assert.ErrorIs(t, err, unix.EINVAL)
		return
	}
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, filepath.Join(dir, "c"), unix.RENAME_NOREPLACE))
	require.NoError(t, os.Rename(filepath.Join(dir, "c"), a))
	require.NoError(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE))
	ga, _ := os.ReadFile(a)
	gb, _ := os.ReadFile(b)
	assert.Equal(t, "B", string(ga))
	assert.Equal(t, "A", string(gb))
}

func TestUnlinkOpenFileThenRead(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "gone")
	require.NoError(t, os.WriteFile(p, []byte("still here"), 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, os.Remove(p))
	_, err = os.Stat(p)
	assert.ErrorIs(t, err, os.ErrNotExist)
	got := make([]byte, 64)
	n, err := f.ReadAt(got, 0)
	require.True(t, err == nil || n > 0, "read after unlink: %v", err)
	assert.Equal(t, "still here", string(got[:n]))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.False(t, strings.HasPrefix(e.Name(), ".fuse_hidden"), "listing shows %s", e.Name())
	}
}

func TestHardLinksAndSymlinks(t *testing.T) {
	dir := mountMem(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("data"), 0o644))
	require.NoError(t, os.Link(a, b))
	var sa, sb unix.Stat_t
	require.NoError(t, unix.Stat(a, &sa))
	require.NoError(t, unix.Stat(b, &sb))
	assert.Equal(t, sa.Ino, sb.Ino, "hard links share st_ino")
	assert.EqualValues(t, 2, sb.Nlink)

	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, sa.Ino, info.Sys().(*syscall.Stat_t).Ino, "readdir and stat agree on %s", e.Name())
	}

	l := filepath.Join(dir, "l")
	require.NoError(t, os.Symlink("a", l))
	target, err := os.Readlink(l)
	require.NoError(t, err)
	assert.Equal(t, "a", target)
	got, err := os.ReadFile(l)
	require.NoError(t, err)
	assert.Equal(t, "data", string(got))
	fi, err := os.Lstat(l)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode().Type())
}

func TestManyEntries(t *testing.T) {
	dir := mountMem(t)
	d := filepath.Join(dir, "big")
	require.NoError(t, os.Mkdir(d, 0o755))
	const n = 10000
	for i := 0; i < n; i++ {
		fd, err := unix.Open(filepath.Join(d, fmt.Sprintf("e%05d", i)), unix.O_CREAT|unix.O_WRONLY, 0o644)
		require.NoError(t, err)
		unix.Close(fd)
	}
	names, err := readNames(d)
	require.NoError(t, err)
	require.Len(t, names, n)
	assert.Equal(t, "e00000", names[0])
	assert.Equal(t, fmt.Sprintf("e%05d", n-1), names[n-1])
	for _, name := range names {
		require.NoError(t, unix.Unlink(filepath.Join(d, name)))
	}
	require.NoError(t, os.Remove(d))
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func TestChmodChownUtimens(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.Chown(p, 1000, 2000))
	require.NoError(t, os.Lchown(p, -1, 3000))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(p, &st))
	assert.EqualValues(t, 0o600, st.Mode&0o7777)
	assert.EqualValues(t, 1000, st.Uid)
	assert.EqualValues(t, 3000, st.Gid)

	at := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	mt := time.Date(2002, 3, 4, 5, 6, 7, 987654321, time.UTC)
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}, 0))
	require.NoError(t, unix.Stat(p, &st))
	assert.Equal(t, at.UnixNano(), st.Atim.Nano())
	assert.Equal(t, mt.UnixNano(), st.Mtim.Nano())

	// One time only, the other omitted.
	mt2 := time.Date(2010, 1, 1, 0, 0, 0, 5, time.UTC)
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mt2.UnixNano())}, 0))
	require.NoError(t, unix.Stat(p, &st))
	if sdk.Build == "fuse2" {
		// libfuse2 drops single-time utimensat without calling the
		// filesystem (a known limitation of that line).
		assert.Equal(t, mt.UnixNano(), st.Mtim.Nano())
	} else {
		assert.Equal(t, mt2.UnixNano(), st.Mtim.Nano())
		assert.Equal(t, at.UnixNano(), st.Atim.Nano(), "UTIME_OMIT must leave atime alone")
	}
}

func TestXattrsAndStatfs(t *testing.T) {
	dir := mountMem(t)
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, unix.Setxattr(p, "user.color", []byte("blue"), 0))
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, "user.color", buf)
	require.NoError(t, err)
	assert.Equal(t, "blue", string(buf[:n]))
	n, err = unix.Listxattr(p, buf)
	require.NoError(t, err)
	assert.Equal(t, "user.color\x00", string(buf[:n]))
	err = unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE)
	assert.ErrorIs(t, err, unix.EEXIST)
	require.NoError(t, unix.Removexattr(p, "user.color"))
	_, err = unix.Getxattr(p, "user.color", buf)
	assert.ErrorIs(t, err, unix.ENODATA)

	var sfs unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &sfs))
	assert.EqualValues(t, 4096, sfs.Bsize)
	assert.NotZero(t, sfs.Blocks)
	assert.EqualValues(t, 255, sfs.Namelen)
}

// faultFS fails or panics on demand, to check how errors reach callers.
type faultFS struct {
	*sdktest.MemFS
	statErr error
	panicOn string
}

func (f *faultFS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	if name == f.panicOn {
		panic("injected panic")
	}
	if name == "fault" {
		return sdk.Attr{}, f.statErr
	}
	return f.MemFS.Stat(ctx, name)
}

func TestErrorsAndPanicsReachTheCaller(t *testing.T) {
	fsys := &faultFS{MemFS: sdktest.NewMemFS(), statErr: fmt.Errorf("quota: %w", syscall.EDQUOT), panicOn: "boom"}
	srv := sdktest.Mount(t, fsys, nil)
	_, err := os.Stat(filepath.Join(srv.Dir(), "fault"))
	assert.ErrorIs(t, err, syscall.EDQUOT)
	_, err = os.Stat(filepath.Join(srv.Dir(), "boom"))
	assert.ErrorIs(t, err, syscall.EIO, "a panic must become EIO")
	// The mount survives the panic.
	require.NoError(t, os.WriteFile(filepath.Join(srv.Dir(), "after"), []byte("ok"), 0o644))

	st := srv.Stats()
	assert.GreaterOrEqual(t, st.Panics, uint64(1))
	assert.GreaterOrEqual(t, st.Errors[syscall.EDQUOT], uint64(1))
	assert.GreaterOrEqual(t, st.Ops[sdk.OpGetattr].Count, uint64(2))
	assert.GreaterOrEqual(t, st.BytesWritten, uint64(2))
}

// errFS hands out files whose Flush and Sync fail, to check that close(2)
// and fsync(2) report backend errors.
type errFS struct{ *sdktest.MemFS }

type errFile struct{ sdk.File }

func (errFS) wrap(f sdk.File, err error) (sdk.File, error) {
	if err != nil {
		return nil, err
	}
	return errFile{f}, nil
}

func (e errFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	return e.wrap(e.MemFS.Open(ctx, name, flags, perm))
}

var errBackend = errors.New("backend write failed")

func (errFile) Flush(ctx context.Context) error {
	return fmt.Errorf("%w: %w", errBackend, syscall.ENOSPC)
}
func (errFile) Sync(ctx context.Context, datasync bool) error { return syscall.EIO }

func TestCloseAndFsyncReportErrors(t *testing.T) {
	srv := sdktest.Mount(t, errFS{sdktest.NewMemFS()}, nil)
	f, err := os.Create(filepath.Join(srv.Dir(), "f"))
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.NoError(t, err)
	assert.ErrorIs(t, f.Sync(), syscall.EIO)
	assert.ErrorIs(t, f.Close(), syscall.ENOSPC, "close(2) must return the Flush error")
}

func TestLeftoverHiddenFilesAreRemoved(t *testing.T) {
	fsys := sdktest.NewMemFS()
	ctx := context.Background()
	// What a crashed server leaves behind: a file libfuse had renamed when
	// it was unlinked while open.
	f, err := fsys.Open(ctx, ".fuse_hidden0000002a00000001", unix.O_CREAT|unix.O_WRONLY, 0o644)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	srv := sdktest.Mount(t, fsys, nil)
	names, err := readNames(srv.Dir())
	require.NoError(t, err)
	assert.Empty(t, names, "hidden leftovers must not be listed")
	_, err = fsys.Stat(ctx, ".fuse_hidden0000002a00000001")
	assert.ErrorIs(t, err, os.ErrNotExist, "and must be removed")
}

func TestHardLinkSizeSeenThroughOtherName(t *testing.T) {
	dir := sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{AttrTimeout: -1, EntryTimeout: -1}).Dir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("hello"), 0o644))
	require.NoError(t, os.Link(a, b))
	_, err := os.Stat(b) // cache b's attributes
	require.NoError(t, err)
	f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte(" world"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	fi, err := os.Stat(b)
	require.NoError(t, err)
	assert.EqualValues(t, 11, fi.Size(), "the SDK cache must not show a stale size through the other link")
}

// TestRmdirAfterUnlinkingOpenFile pins a limit of libfuse's high-level API:
// a file unlinked while open lives on under a hidden name in its directory
// (libfuse needs a path for every operation on it), so rmdir of that
// directory fails with ENOTEMPTY until the file is closed. Letting rmdir
// succeed would orphan the open file: libfuse could no longer build a path
// for it and its reads and writes would fail.
func TestRmdirAfterUnlinkingOpenFile(t *testing.T) {
	dir := mountMem(t)
	d := filepath.Join(dir, "d")
	require.NoError(t, os.Mkdir(d, 0o755))
	p := filepath.Join(d, "f")
	require.NoError(t, os.WriteFile(p, []byte("payload"), 0o644))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, os.Remove(p))
	assert.ErrorIs(t, os.Remove(d), syscall.ENOTEMPTY)
	_, err = f.WriteAt([]byte("P"), 0)
	require.NoError(t, err, "the open file keeps working")
	require.NoError(t, f.Close())
	require.Eventually(t, func() bool { return os.Remove(d) == nil }, 5*time.Second, 10*time.Millisecond,
		"after the last close the directory can be removed")
}

func TestNoXattrsHidesThem(t *testing.T) {
	dir := sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{NoXattrs: true}).Dir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	assert.ErrorIs(t, unix.Setxattr(p, "user.a", []byte("x"), 0), unix.EOPNOTSUPP)
	_, err := unix.Getxattr(p, "user.a", make([]byte, 8))
	assert.ErrorIs(t, err, unix.EOPNOTSUPP)
}

// withoutXattrs has the Xattrer methods, as a wrapper does, over a
// filesystem that has none.
type withoutXattrs struct{ sdk.FileSystem }

func (withoutXattrs) GetXattr(context.Context, string, string) ([]byte, error) {
	return nil, sdk.ErrNotSupported
}
func (withoutXattrs) SetXattr(context.Context, string, string, []byte, sdk.XattrFlags) error {
	return sdk.ErrNotSupported
}
func (withoutXattrs) ListXattr(context.Context, string) ([]string, error) {
	return nil, sdk.ErrNotSupported
}
func (withoutXattrs) RemoveXattr(context.Context, string, string) error { return sdk.ErrNotSupported }

// A filesystem whose root cannot list xattrs has none: the kernel is told
// so once and stops asking for security.capability before every write.
func TestXattrerWithoutXattrsEndsTheKernelsQuestions(t *testing.T) {
	srv := sdktest.Mount(t, withoutXattrs{sdktest.NewMemFS()}, nil)
	p := filepath.Join(srv.Dir(), "f")
	f, err := os.Create(p)
	require.NoError(t, err)
	for range 20 {
		_, err := f.Write([]byte("x"))
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	assert.LessOrEqual(t, srv.Stats().Ops[sdk.OpGetxattr].Count, uint64(1), "GETXATTR requests")
	_, err = unix.Getxattr(p, "user.a", make([]byte, 8))
	assert.ErrorIs(t, err, unix.EOPNOTSUPP)
}
