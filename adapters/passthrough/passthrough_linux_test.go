package passthrough

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// newFS returns a passthrough over a fresh temporary directory.
func newFS(t *testing.T) (*FS, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := New(dir)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	return f, dir
}

func lstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	return st
}

// requireErrno checks that err carries errno the way sdk.Errno sees it.
func requireErrno(t *testing.T, want syscall.Errno, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, sdk.Errno(err), "error: %v", err)
}

// withUmask runs the test under umask 022, the common daemon umask, which
// must not reach objects created through the filesystem.
func withUmask(t *testing.T, mask int) {
	old := unix.Umask(mask)
	t.Cleanup(func() { unix.Umask(old) })
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}

var ctx = context.Background()

func TestNewRejectsBadRoots(t *testing.T) {
	dir := t.TempDir()
	_, err := New(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "does not exist")

	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	_, err = New(file)
	require.ErrorIs(t, err, syscall.ENOTDIR)
	assert.Contains(t, err.Error(), "is not a directory")

	_, err = New("")
	require.Error(t, err)
}

func TestCloseMakesLaterCallsFail(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "x")
	f, err := New(dir)
	require.NoError(t, err)
	require.Equal(t, dir, f.Root())
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close is idempotent")
	_, err = f.Stat(ctx, "f")
	requireErrno(t, syscall.EBADF, err)
	_, err = f.Open(ctx, "f", os.O_RDONLY, 0)
	requireErrno(t, syscall.EBADF, err)
}

func assertAttrMatches(t *testing.T, st unix.Stat_t, a sdk.Attr) {
	t.Helper()
	assert.Equal(t, st.Ino, a.Ino, "ino")
	assert.Equal(t, st.Mode, a.Mode, "mode")
	assert.Equal(t, uint32(st.Nlink), a.Nlink, "nlink")
	assert.Equal(t, st.Uid, a.Uid, "uid")
	assert.Equal(t, st.Gid, a.Gid, "gid")
	assert.Equal(t, uint64(st.Rdev), a.Rdev, "rdev")
	assert.Equal(t, st.Size, a.Size, "size")
	assert.Equal(t, st.Blocks, a.Blocks, "blocks")
	assert.Equal(t, int64(st.Blksize), a.Blksize, "blksize")
	assert.Equal(t, time.Unix(st.Atim.Unix()), a.Atime, "atime")
	assert.Equal(t, time.Unix(st.Mtim.Unix()), a.Mtime, "mtime")
	assert.Equal(t, time.Unix(st.Ctim.Unix()), a.Ctime, "ctime")
}

func TestStatReportsWhatLstatReports(t *testing.T) {
	f, dir := newFS(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "d/e"), 0o755))
	writeFile(t, filepath.Join(dir, "d/e/file"), "hello")
	require.NoError(t, os.Link(filepath.Join(dir, "d/e/file"), filepath.Join(dir, "hard")))
	require.NoError(t, os.Symlink("d/e/file", filepath.Join(dir, "d/link")))
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	require.NoError(t, unix.Mknod(filepath.Join(dir, "d/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	for _, name := range []string{".", "d", "d/e", "d/e/file", "hard", "d/link", "fifo", "d/null"} {
		t.Run(name, func(t *testing.T) {
			a, err := f.Stat(ctx, name)
			require.NoError(t, err)
			assertAttrMatches(t, lstat(t, filepath.Join(dir, name)), a)
		})
	}
	a, err := f.Stat(ctx, "d/e/file")
	require.NoError(t, err)
	assert.EqualValues(t, 2, a.Nlink)
	a, err = f.Stat(ctx, "d/null")
	require.NoError(t, err)
	assert.Equal(t, uint64(unix.Mkdev(1, 3)), a.Rdev)

	_, err = f.Stat(ctx, "missing")
	requireErrno(t, syscall.ENOENT, err)
	_, err = f.Stat(ctx, "d/e/file/below")
	requireErrno(t, syscall.ENOTDIR, err)
}

func TestInvalidNamesAreRejected(t *testing.T) {
	f, _ := newFS(t)
	for _, name := range []string{"", "/etc/passwd", "../x", "a/../..", "a//b", "a/", "./a"} {
		_, err := f.Stat(ctx, name)
		requireErrno(t, syscall.EINVAL, err)
		_, err = f.Open(ctx, name, os.O_RDONLY, 0)
		requireErrno(t, syscall.EINVAL, err)
		_, err = f.ReadDir(ctx, name)
		requireErrno(t, syscall.EINVAL, err)
		requireErrno(t, syscall.EINVAL, f.Truncate(ctx, name, 0))
	}
}

func TestCreateWriteReadAtOffsets(t *testing.T) {
	f, dir := newFS(t)
	h, err := f.Open(ctx, "file", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	require.NoError(t, err)
	defer func() { require.NoError(t, h.Close()) }()

	n, err := h.WriteAt(ctx, []byte("hello"), 0)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	_, err = h.WriteAt(ctx, []byte("world"), 10)
	require.NoError(t, err)

	got, err := os.ReadFile(filepath.Join(dir, "file"))
	require.NoError(t, err)
	require.Equal(t, []byte("hello\x00\x00\x00\x00\x00world"), got)

	buf := make([]byte, 4)
	n, err = h.ReadAt(ctx, buf, 2)
	require.NoError(t, err)
	require.Equal(t, "llo\x00", string(buf[:n]))

	// At the end of the file: the bytes that exist, then EOF.
	buf = make([]byte, 10)
	n, err = h.ReadAt(ctx, buf, 12)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, "rld", string(buf[:n]))
	n, err = h.ReadAt(ctx, buf, 100)
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)

	_, err = h.ReadAt(ctx, buf, -1)
	requireErrno(t, syscall.EINVAL, err)
	_, err = h.WriteAt(ctx, buf, -1)
	requireErrno(t, syscall.EINVAL, err)
}

func TestReadAtFillsLargeBuffers(t *testing.T) {
	f, dir := newFS(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big"), data, 0o644))
	h, err := f.Open(ctx, "big", os.O_RDONLY, 0)
	require.NoError(t, err)
	defer h.Close()
	buf := make([]byte, len(data)-3)
	n, err := h.ReadAt(ctx, buf, 3)
	require.NoError(t, err)
	require.Equal(t, len(buf), n)
	require.True(t, bytes.Equal(data[3:], buf))
}

func TestCreatedObjectsGetExactModeAndCallerIdentity(t *testing.T) {
	withUmask(t, 0o022)
	f, dir := newFS(t)
	caller := sdk.WithCaller(ctx, sdk.Caller{Uid: 1234, Gid: 5678, Pid: 1})
	root := os.Geteuid() == 0
	wantUID, wantGID := uint32(1234), uint32(5678)
	if !root {
		// Only root can give files away; otherwise they are the daemon's.
		wantUID, wantGID = uint32(os.Geteuid()), uint32(os.Getegid())
	}

	h, err := f.Open(caller, "file", os.O_WRONLY|os.O_CREATE, 0o666)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, f.Mkdir(caller, "dir", 0o777))
	require.NoError(t, f.Mknod(caller, "fifo", sdk.TypeFIFO|0o666, 0))
	require.NoError(t, f.Mknod(caller, "plain", 0o606, 0))
	require.NoError(t, f.Symlink(caller, "file", "link"))
	h, err = f.Open(caller, "dir/setuid", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o4755)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, f.Mkdir(caller, "dir/sticky", 0o1770))

	for name, mode := range map[string]uint32{
		"file":       unix.S_IFREG | 0o666,
		"dir":        unix.S_IFDIR | 0o777,
		"fifo":       unix.S_IFIFO | 0o666,
		"plain":      unix.S_IFREG | 0o606,
		"link":       unix.S_IFLNK | 0o777,
		"dir/setuid": unix.S_IFREG | 0o4755,
		"dir/sticky": unix.S_IFDIR | 0o1770,
	} {
		st := lstat(t, filepath.Join(dir, name))
		assert.Equal(t, mode, st.Mode, "%s: mode %o", name, st.Mode)
		assert.Equal(t, wantUID, st.Uid, "%s: uid", name)
		assert.Equal(t, wantGID, st.Gid, "%s: gid", name)
	}

	// Without a caller in the context the daemon keeps the objects, still
	// with the exact mode.
	require.NoError(t, f.Mkdir(ctx, "mine", 0o775))
	st := lstat(t, filepath.Join(dir, "mine"))
	assert.Equal(t, uint32(unix.S_IFDIR|0o775), st.Mode)
	assert.Equal(t, uint32(os.Geteuid()), st.Uid)
}

func TestSetgidParentGivesItsGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test gives files away and needs root, which the project's test machines have")
	}
	withUmask(t, 0o022)
	f, dir := newFS(t)
	shared := filepath.Join(dir, "shared")
	require.NoError(t, os.Mkdir(shared, 0o755))
	require.NoError(t, os.Chown(shared, 0, 999))
	require.NoError(t, unix.Chmod(shared, 0o2775)) // os.Chmod drops 0o2000
	caller := sdk.WithCaller(ctx, sdk.Caller{Uid: 1234, Gid: 5678})

	h, err := f.Open(caller, "shared/file", os.O_RDWR|os.O_CREATE, 0o640)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, f.Mkdir(caller, "shared/sub", 0o750))

	st := lstat(t, filepath.Join(shared, "file"))
	assert.Equal(t, uint32(unix.S_IFREG|0o640), st.Mode)
	assert.Equal(t, [2]uint32{1234, 999}, [2]uint32{st.Uid, st.Gid})
	st = lstat(t, filepath.Join(shared, "sub"))
	assert.Equal(t, uint32(unix.S_IFDIR|unix.S_ISGID|0o750), st.Mode, "a subdirectory inherits set-group-ID")
	assert.Equal(t, [2]uint32{1234, 999}, [2]uint32{st.Uid, st.Gid})
}

func TestOpenCreateOnExistingFile(t *testing.T) {
	f, dir := newFS(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, "content")
	require.NoError(t, os.Chmod(path, 0o600))
	caller := sdk.WithCaller(ctx, sdk.Caller{Uid: 1234, Gid: 5678})

	h, err := f.Open(caller, "f", os.O_RDWR|os.O_CREATE, 0o666)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	st := lstat(t, path)
	assert.Equal(t, uint32(unix.S_IFREG|0o600), st.Mode, "an existing file keeps its mode")
	assert.Equal(t, uint32(os.Geteuid()), st.Uid, "and its owner")
	assert.EqualValues(t, 7, st.Size)

	_, err = f.Open(caller, "f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	requireErrno(t, syscall.EEXIST, err)

	h, err = f.Open(caller, "f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	assert.Zero(t, lstat(t, path).Size)
}

func TestOpenTruncates(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "content")
	h, err := f.Open(ctx, "f", os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	assert.Zero(t, lstat(t, filepath.Join(dir, "f")).Size)
}

func TestOpenAppendLeavesPlacementToTheCaller(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "0123456789")
	h, err := f.Open(ctx, "f", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer h.Close()
	// The SDK places appends; a backing O_APPEND would send this to the end.
	_, err = h.WriteAt(ctx, []byte("ab"), 2)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	require.NoError(t, err)
	assert.Equal(t, "01ab456789", string(got))
}

func TestWriteOnlyOpensCanReadButReadOnlyCannotWrite(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "data")
	w, err := f.Open(ctx, "f", os.O_WRONLY, 0)
	require.NoError(t, err)
	defer w.Close()
	buf := make([]byte, 4)
	n, err := w.ReadAt(ctx, buf, 0)
	require.NoError(t, err)
	assert.Equal(t, "data", string(buf[:n]))

	r, err := f.Open(ctx, "f", os.O_RDONLY, 0)
	require.NoError(t, err)
	defer r.Close()
	_, err = r.WriteAt(ctx, []byte("x"), 0)
	requireErrno(t, syscall.EBADF, err)

	_, err = f.Open(ctx, "f", unix.O_ACCMODE, 0)
	requireErrno(t, syscall.EINVAL, err)
}

func TestOpenIgnoresKernelOnlyFlags(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "data")
	const fmodeExec = 0x20 // what the kernel adds when a binary is run
	h, err := f.Open(ctx, "f", os.O_RDONLY|fmodeExec|unix.O_LARGEFILE, 0)
	require.NoError(t, err)
	require.NoError(t, h.Close())
}

func TestOpenDoesNotFollowAFinalSymlink(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "data")
	require.NoError(t, os.Symlink("f", filepath.Join(dir, "link")))
	_, err := f.Open(ctx, "link", os.O_RDONLY, 0)
	requireErrno(t, syscall.ELOOP, err)
	_, err = f.Open(ctx, "link", os.O_RDWR|os.O_CREATE, 0o644)
	requireErrno(t, syscall.ELOOP, err)
}

func TestTruncateByNameAndByHandle(t *testing.T) {
	f, dir := newFS(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, "0123456789")

	require.NoError(t, f.Truncate(ctx, "f", 4))
	got, _ := os.ReadFile(path)
	assert.Equal(t, "0123", string(got))
	require.NoError(t, f.Truncate(ctx, "f", 8))
	got, _ = os.ReadFile(path)
	assert.Equal(t, "0123\x00\x00\x00\x00", string(got))

	h, err := f.Open(ctx, "f", os.O_RDWR, 0)
	require.NoError(t, err)
	defer h.Close()
	require.NoError(t, h.Truncate(ctx, 2))
	assert.EqualValues(t, 2, lstat(t, path).Size)
	require.NoError(t, h.Truncate(ctx, 1<<20))
	assert.EqualValues(t, 1<<20, lstat(t, path).Size)

	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	requireErrno(t, syscall.EISDIR, f.Truncate(ctx, "d", 0))
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	requireErrno(t, syscall.EINVAL, f.Truncate(ctx, "fifo", 0))
	requireErrno(t, syscall.ENOENT, f.Truncate(ctx, "missing", 0))
	requireErrno(t, syscall.EINVAL, f.Truncate(ctx, "f", -1))
}

func TestRename(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "a"), "A")
	writeFile(t, filepath.Join(dir, "b"), "B")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))

	requireErrno(t, syscall.EEXIST, f.Rename(ctx, "a", "b", sdk.RenameNoReplace))
	require.NoError(t, f.Rename(ctx, "a", "b", sdk.RenameExchange))
	got, _ := os.ReadFile(filepath.Join(dir, "a"))
	assert.Equal(t, "B", string(got))

	require.NoError(t, f.Rename(ctx, "a", "d/b", 0))
	require.NoError(t, f.Rename(ctx, "b", "d/b", 0), "replaces the existing file")
	got, _ = os.ReadFile(filepath.Join(dir, "d/b"))
	assert.Equal(t, "A", string(got))
	_, err := os.Lstat(filepath.Join(dir, "b"))
	require.ErrorIs(t, err, os.ErrNotExist)

	requireErrno(t, syscall.EINVAL, f.Rename(ctx, "d/b", "c", 1<<7))
	requireErrno(t, syscall.ENOENT, f.Rename(ctx, "missing", "c", 0))
	requireErrno(t, syscall.ENOENT, f.Rename(ctx, "d/b", "nodir/c", 0))
}

func TestRenamedAndUnlinkedOpenFilesKeepWorking(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "old")
	h, err := f.Open(ctx, "f", os.O_RDWR, 0)
	require.NoError(t, err)
	defer h.Close()

	require.NoError(t, f.Rename(ctx, "f", "g", 0))
	_, err = h.WriteAt(ctx, []byte("new"), 0)
	require.NoError(t, err)
	got, _ := os.ReadFile(filepath.Join(dir, "g"))
	assert.Equal(t, "new", string(got))

	require.NoError(t, f.Unlink(ctx, "g"))
	buf := make([]byte, 3)
	_, err = h.ReadAt(ctx, buf, 0)
	require.NoError(t, err)
	assert.Equal(t, "new", string(buf))
	a, err := h.(sdk.FileStater).Stat(ctx)
	require.NoError(t, err)
	assert.Zero(t, a.Nlink)
	assert.EqualValues(t, 3, a.Size)
}

func TestFileStatAndSync(t *testing.T) {
	f, dir := newFS(t)
	h, err := f.Open(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer h.Close()
	_, err = h.WriteAt(ctx, []byte("data"), 0)
	require.NoError(t, err)
	require.NoError(t, h.Sync(ctx, false))
	require.NoError(t, h.Sync(ctx, true))
	a, err := h.(sdk.FileStater).Stat(ctx)
	require.NoError(t, err)
	assertAttrMatches(t, lstat(t, filepath.Join(dir, "f")), a)
}

func TestFileCallsAfterCloseFail(t *testing.T) {
	f, _ := newFS(t)
	h, err := f.Open(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	_, err = h.ReadAt(ctx, make([]byte, 1), 0)
	require.ErrorIs(t, err, os.ErrClosed)
	_, err = h.(sdk.FileStater).Stat(ctx)
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, h.Sync(ctx, true), os.ErrClosed)
}

func TestHardLinks(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "a"), "x")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	require.NoError(t, f.Link(ctx, "a", "d/b"))
	a, err := f.Stat(ctx, "a")
	require.NoError(t, err)
	b, err := f.Stat(ctx, "d/b")
	require.NoError(t, err)
	assert.Equal(t, a.Ino, b.Ino)
	assert.EqualValues(t, 2, b.Nlink)
	requireErrno(t, syscall.EEXIST, f.Link(ctx, "a", "d/b"))
	requireErrno(t, syscall.EPERM, f.Link(ctx, "d", "e"))

	// A symbolic link is linked itself, not its target.
	require.NoError(t, os.Symlink("a", filepath.Join(dir, "s")))
	require.NoError(t, f.Link(ctx, "s", "s2"))
	assert.Equal(t, uint32(unix.S_IFLNK), lstat(t, filepath.Join(dir, "s2")).Mode&unix.S_IFMT)
}

func TestSymlinkAndReadlink(t *testing.T) {
	f, dir := newFS(t)
	long := strings.Repeat("x/", 600) + "end" // longer than the first buffer
	for _, target := range []string{"a", "/etc/passwd", "../../outside", long} {
		name := "l" + string(rune('0'+len(target)%10))
		require.NoError(t, f.Symlink(ctx, target, name))
		got, err := f.Readlink(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, target, got)
		native, err := os.Readlink(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, target, native)
		require.NoError(t, f.Unlink(ctx, name))
	}
	writeFile(t, filepath.Join(dir, "f"), "")
	_, err := f.Readlink(ctx, "f")
	requireErrno(t, syscall.EINVAL, err)
	requireErrno(t, syscall.EEXIST, f.Symlink(ctx, "x", "f"))
}

func TestMknodDevicesAndFIFOs(t *testing.T) {
	withUmask(t, 0o022)
	f, dir := newFS(t)
	require.NoError(t, f.Mknod(ctx, "fifo", sdk.TypeFIFO|0o620, 0))
	st := lstat(t, filepath.Join(dir, "fifo"))
	assert.Equal(t, uint32(unix.S_IFIFO|0o620), st.Mode)

	dev := unix.Mkdev(1, 5)
	require.NoError(t, f.Mknod(ctx, "zero", sdk.TypeChar|0o666, dev))
	st = lstat(t, filepath.Join(dir, "zero"))
	assert.Equal(t, uint32(unix.S_IFCHR|0o666), st.Mode)
	assert.Equal(t, dev, uint64(st.Rdev))
	a, err := f.Stat(ctx, "zero")
	require.NoError(t, err)
	assert.Equal(t, dev, a.Rdev)

	requireErrno(t, syscall.EEXIST, f.Mknod(ctx, "fifo", sdk.TypeFIFO|0o600, 0))

	// ReadDir gives device nodes their attributes, so that a union over
	// this layer can tell a whiteout (0/0) from a device without a Stat.
	require.NoError(t, f.Mknod(ctx, "whiteout", sdk.TypeChar, 0))
	entries, err := f.ReadDir(ctx, ".")
	require.NoError(t, err)
	require.Len(t, entries, 3)
	devices := map[string]uint64{"zero": dev, "whiteout": 0}
	for _, e := range entries {
		rdev, isDev := devices[e.Name]
		if !isDev {
			assert.Nil(t, e.Attr, e.Name)
			continue
		}
		require.NotNil(t, e.Attr, e.Name)
		assert.Equal(t, sdk.TypeChar, e.Attr.Mode&sdk.TypeMask, e.Name)
		assert.Equal(t, rdev, e.Attr.Rdev, e.Name)
		assert.Equal(t, lstat(t, filepath.Join(dir, e.Name)).Ino, e.Attr.Ino, e.Name)
	}
}

func TestMkdirReadDirRmdir(t *testing.T) {
	f, dir := newFS(t)
	require.NoError(t, f.Mkdir(ctx, "d", 0o755))
	require.NoError(t, f.Mkdir(ctx, "d/sub", 0o755))
	writeFile(t, filepath.Join(dir, "d/file"), "x")
	require.NoError(t, os.Symlink("file", filepath.Join(dir, "d/link")))
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "d/fifo"), 0o600))

	entries, err := f.ReadDir(ctx, "d")
	require.NoError(t, err)
	slices.SortFunc(entries, func(a, b sdk.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	want := map[string]uint32{"fifo": sdk.TypeFIFO, "file": sdk.TypeRegular, "link": sdk.TypeSymlink, "sub": sdk.TypeDir}
	require.Len(t, entries, len(want))
	for _, e := range entries {
		assert.Equal(t, want[e.Name], e.Type, e.Name)
		assert.Equal(t, lstat(t, filepath.Join(dir, "d", e.Name)).Ino, e.Ino, e.Name)
		assert.Nil(t, e.Attr)
	}

	requireErrno(t, syscall.ENOTEMPTY, f.Rmdir(ctx, "d"))
	requireErrno(t, syscall.ENOTDIR, f.Rmdir(ctx, "d/file"))
	requireErrno(t, syscall.EISDIR, f.Unlink(ctx, "d/sub"))
	require.NoError(t, f.Rmdir(ctx, "d/sub"))
	requireErrno(t, syscall.EEXIST, f.Mkdir(ctx, "d", 0o755))
	_, err = f.ReadDir(ctx, "d/file")
	requireErrno(t, syscall.ENOTDIR, err)
	_, err = f.ReadDir(ctx, "d/link")
	require.Error(t, err, "a symbolic link is not listed as a directory")

	root, err := f.ReadDir(ctx, ".")
	require.NoError(t, err)
	require.Len(t, root, 1)
	assert.Equal(t, "d", root[0].Name)
}

func TestReadDirTenThousandEntries(t *testing.T) {
	f, dir := newFS(t)
	require.NoError(t, f.Mkdir(ctx, "big", 0o755))
	const n = 10000
	for i := range n {
		name := filepath.Join(dir, "big", "entry-with-a-longish-name-"+strconv.Itoa(i))
		require.NoError(t, os.WriteFile(name, nil, 0o644))
	}
	entries, err := f.ReadDir(ctx, "big")
	require.NoError(t, err)
	require.Len(t, entries, n)
	seen := make(map[string]bool, n)
	for _, e := range entries {
		require.False(t, seen[e.Name], "duplicate %s", e.Name)
		seen[e.Name] = true
		require.Equal(t, sdk.TypeRegular, e.Type)
		require.NotZero(t, e.Ino)
	}
	for i := range n {
		require.NoError(t, f.Unlink(ctx, "big/entry-with-a-longish-name-"+strconv.Itoa(i)))
	}
	require.NoError(t, f.Rmdir(ctx, "big"))
}

func TestChmodChown(t *testing.T) {
	f, dir := newFS(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, "x")
	require.NoError(t, f.Chmod(ctx, "f", 0o4711))
	assert.Equal(t, uint32(unix.S_IFREG|0o4711), lstat(t, path).Mode)
	require.NoError(t, f.Chmod(ctx, ".", 0o751))
	assert.Equal(t, uint32(unix.S_IFDIR|0o751), lstat(t, dir).Mode)
	require.NoError(t, f.Chmod(ctx, ".", 0o755))

	if os.Geteuid() == 0 {
		require.NoError(t, f.Chown(ctx, "f", 1234, 5678))
		st := lstat(t, path)
		assert.Equal(t, [2]uint32{1234, 5678}, [2]uint32{st.Uid, st.Gid})
		require.NoError(t, f.Chown(ctx, "f", -1, 42))
		st = lstat(t, path)
		assert.Equal(t, [2]uint32{1234, 42}, [2]uint32{st.Uid, st.Gid})
		require.NoError(t, f.Chown(ctx, "f", 7, -1))
		st = lstat(t, path)
		assert.Equal(t, [2]uint32{7, 42}, [2]uint32{st.Uid, st.Gid})
	}
	require.NoError(t, f.Chown(ctx, "f", -1, -1))
	requireErrno(t, syscall.EINVAL, f.Chown(ctx, "f", -2, 0))
	requireErrno(t, syscall.ENOENT, f.Chmod(ctx, "missing", 0o644))
}

func TestSetTimes(t *testing.T) {
	f, dir := newFS(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, "x")
	at := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	mt := time.Date(2009, 8, 7, 6, 5, 4, 987654321, time.UTC)

	require.NoError(t, f.SetTimes(ctx, "f", at, mt))
	st := lstat(t, path)
	assert.True(t, at.Equal(time.Unix(st.Atim.Unix())))
	assert.True(t, mt.Equal(time.Unix(st.Mtim.Unix())))

	at2 := at.Add(time.Hour + 1)
	require.NoError(t, f.SetTimes(ctx, "f", at2, time.Time{}))
	st = lstat(t, path)
	assert.True(t, at2.Equal(time.Unix(st.Atim.Unix())), "atime set")
	assert.True(t, mt.Equal(time.Unix(st.Mtim.Unix())), "mtime omitted")

	mt2 := mt.Add(-time.Hour - 1)
	require.NoError(t, f.SetTimes(ctx, "f", time.Time{}, mt2))
	st = lstat(t, path)
	assert.True(t, at2.Equal(time.Unix(st.Atim.Unix())), "atime omitted")
	assert.True(t, mt2.Equal(time.Unix(st.Mtim.Unix())), "mtime set")

	// A symbolic link gets the times itself.
	require.NoError(t, os.Symlink("f", filepath.Join(dir, "link")))
	require.NoError(t, f.SetTimes(ctx, "link", at, at))
	assert.True(t, at.Equal(time.Unix(ptr(lstat(t, filepath.Join(dir, "link")).Mtim).Unix())))
	assert.True(t, mt2.Equal(time.Unix(ptr(lstat(t, path).Mtim).Unix())))
}

func TestXattrs(t *testing.T) {
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "f"), "x")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	big := bytes.Repeat([]byte("v"), 3000) // larger than the first buffer

	for _, name := range []string{"f", "d", "."} {
		t.Run(name, func(t *testing.T) {
			_, err := f.GetXattr(ctx, name, "user.missing")
			requireErrno(t, syscall.ENODATA, err)
			require.NoError(t, f.SetXattr(ctx, name, "user.small", []byte("1"), 0))
			require.NoError(t, f.SetXattr(ctx, name, "user.big", big, sdk.XattrCreate))
			requireErrno(t, syscall.EEXIST, f.SetXattr(ctx, name, "user.big", big, sdk.XattrCreate))
			requireErrno(t, syscall.ENODATA, f.SetXattr(ctx, name, "user.nope", nil, sdk.XattrReplace))
			require.NoError(t, f.SetXattr(ctx, name, "user.small", []byte("22"), sdk.XattrReplace))
			require.NoError(t, f.SetXattr(ctx, name, "user.empty", nil, 0))

			v, err := f.GetXattr(ctx, name, "user.small")
			require.NoError(t, err)
			assert.Equal(t, "22", string(v))
			v, err = f.GetXattr(ctx, name, "user.big")
			require.NoError(t, err)
			assert.Equal(t, big, v)
			v, err = f.GetXattr(ctx, name, "user.empty")
			require.NoError(t, err)
			assert.Empty(t, v)

			native := make([]byte, 10)
			n, err := unix.Lgetxattr(filepath.Join(dir, name), "user.small", native)
			require.NoError(t, err)
			assert.Equal(t, "22", string(native[:n]))

			names, err := f.ListXattr(ctx, name)
			require.NoError(t, err)
			assert.Subset(t, names, []string{"user.small", "user.big", "user.empty"})

			require.NoError(t, f.RemoveXattr(ctx, name, "user.big"))
			requireErrno(t, syscall.ENODATA, f.RemoveXattr(ctx, name, "user.big"))
			names, err = f.ListXattr(ctx, name)
			require.NoError(t, err)
			assert.NotContains(t, names, "user.big")
		})
	}
	requireErrno(t, syscall.EINVAL, f.SetXattr(ctx, "f", "user.x", nil, 1<<4))
	_, err := f.GetXattr(ctx, "missing", "user.x")
	requireErrno(t, syscall.ENOENT, err)
}

func TestXattrsOnSymlinksAndFIFOsDoNotFollowOrBlock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("trusted.* attributes need root, which the project's test machines have")
	}
	f, dir := newFS(t)
	writeFile(t, filepath.Join(dir, "target"), "x")
	require.NoError(t, os.Symlink("target", filepath.Join(dir, "link")))
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))

	require.NoError(t, f.SetXattr(ctx, "link", "trusted.t", []byte("on-link"), 0))
	v, err := f.GetXattr(ctx, "link", "trusted.t")
	require.NoError(t, err)
	assert.Equal(t, "on-link", string(v))
	_, err = f.GetXattr(ctx, "target", "trusted.t")
	requireErrno(t, syscall.ENODATA, err)
	// user.* is not allowed on symbolic links, as natively.
	requireErrno(t, syscall.EPERM, f.SetXattr(ctx, "link", "user.t", []byte("x"), 0))

	require.NoError(t, f.SetXattr(ctx, "fifo", "trusted.f", []byte("ok"), 0))
	names, err := f.ListXattr(ctx, "fifo")
	require.NoError(t, err)
	assert.Contains(t, names, "trusted.f")
}

func TestSplitXattrNames(t *testing.T) {
	assert.Equal(t, []string{}, splitXattrNames(nil))
	assert.Equal(t, []string{"a", "bc"}, splitXattrNames([]byte("a\x00bc\x00")))
	assert.Equal(t, []string{"a", "bc"}, splitXattrNames([]byte("a\x00\x00bc")))
}

func TestStatFSAndSyncFS(t *testing.T) {
	f, dir := newFS(t)
	got, err := f.StatFS(ctx)
	require.NoError(t, err)
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	assert.Equal(t, uint64(st.Bsize), got.BlockSize)
	assert.Equal(t, uint64(st.Frsize), got.FragSize)
	assert.Equal(t, st.Blocks, got.Blocks)
	assert.Equal(t, st.Files, got.Files)
	assert.Equal(t, uint64(st.Namelen), got.NameMax)
	// Free counts move with every other process on the machine.
	assert.NotZero(t, got.BlocksFree)
	assert.LessOrEqual(t, got.BlocksAvail, got.Blocks)
	require.NoError(t, f.SyncFS(ctx))
}

func ptr[T any](v T) *T { return &v }
