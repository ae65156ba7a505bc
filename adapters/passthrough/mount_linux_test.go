package passthrough

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// These tests mount the passthrough and use the mountpoint with ordinary
// system calls, comparing what they see with the backing directory.

// mountTree mounts a passthrough of a fresh directory and returns the
// mountpoint and the backing directory.
func mountTree(t *testing.T, opts *sdk.Options) (mnt, back string) {
	t.Helper()
	f, back := newFS(t)
	srv := sdktest.Mount(t, f, opts)
	return srv.Dir(), back
}

func TestMountReadWriteAtOffsets(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "file")
	require.NoError(t, os.WriteFile(p, []byte("hello, world\n"), 0o644))
	got, err := os.ReadFile(filepath.Join(back, "file"))
	require.NoError(t, err)
	require.Equal(t, "hello, world\n", string(got))

	fd, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	defer fd.Close()
	_, err = fd.WriteAt([]byte("WORLD"), 7)
	require.NoError(t, err)
	_, err = fd.WriteAt([]byte("tail"), 100)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = fd.ReadAt(buf, 7)
	require.NoError(t, err)
	assert.Equal(t, "WORLD", string(buf))
	n, err := fd.ReadAt(make([]byte, 10), 98)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 6, n)
	require.NoError(t, fd.Sync())

	want := append([]byte("hello, WORLD\n"), make([]byte, 87)...)
	want = append(want, "tail"...)
	got, err = os.ReadFile(filepath.Join(back, "file"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestMountStatShowsRealInodesAndLinks(t *testing.T) {
	// The kernel (fuse2) and the SDK cache attributes per name, and libfuse's
	// high-level API gives every name its own kernel inode, so a change to
	// the link count made through one name shows on the others only when
	// the caches expire. With them off, every stat sees the backend.
	mnt, back := mountTree(t, &sdk.Options{AttrTimeout: -1, EntryTimeout: -1, AttrCacheTTL: -1})
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "a"), []byte("x"), 0o640))
	require.NoError(t, os.Link(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")))

	sa, sb := lstat(t, filepath.Join(mnt, "a")), lstat(t, filepath.Join(mnt, "b"))
	native := lstat(t, filepath.Join(back, "a"))
	assert.Equal(t, native.Ino, sa.Ino, "st_ino is the backing inode")
	assert.Equal(t, sa.Ino, sb.Ino, "hard links share st_ino")
	assert.EqualValues(t, 2, sa.Nlink)
	assert.EqualValues(t, 2, sb.Nlink)
	assert.Equal(t, native.Mode, sa.Mode)
	assert.Equal(t, native.Size, sa.Size)
	assert.Equal(t, native.Mtim, sa.Mtim)

	require.NoError(t, os.Remove(filepath.Join(mnt, "a")))
	assert.EqualValues(t, 1, lstat(t, filepath.Join(mnt, "b")).Nlink)
}

// Two processes append at once with ">>" (O_APPEND): no line may be lost or
// torn.
func TestMountAppendFromTwoProcesses(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "log")
	const lines = 300
	script := `i=0; while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do echo "$1 line $i" >> "$2"; i=$((i+1)); done`
	var cmds []*exec.Cmd
	for _, who := range []string{"A", "B"} {
		cmd := exec.Command("sh", "-c", script, "sh", who, p)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		require.NoError(t, cmd.Wait())
	}
	data, err := os.ReadFile(filepath.Join(back, "log"))
	require.NoError(t, err)
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		require.Regexp(t, `^[AB] line [0-9]+$`, sc.Text())
		require.False(t, seen[sc.Text()], "line %q twice", sc.Text())
		seen[sc.Text()] = true
	}
	assert.Len(t, seen, 2*lines)
}

func TestMountTruncateUpAndDown(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "f")
	require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o644))
	require.NoError(t, os.Truncate(p, 4))
	got, _ := os.ReadFile(filepath.Join(back, "f"))
	assert.Equal(t, "0123", string(got))
	require.NoError(t, os.Truncate(p, 6))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "0123\x00\x00", string(got))

	fd, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	defer fd.Close()
	require.NoError(t, fd.Truncate(1))
	fi, err := fd.Stat()
	require.NoError(t, err)
	assert.EqualValues(t, 1, fi.Size())
	require.NoError(t, fd.Truncate(1<<20))
	assert.EqualValues(t, 1<<20, lstat(t, filepath.Join(back, "f")).Size)

	// O_TRUNC at open.
	require.NoError(t, os.WriteFile(p, []byte("new"), 0o644))
	got, _ = os.ReadFile(filepath.Join(back, "f"))
	assert.Equal(t, "new", string(got))
}

func TestMountRenames(t *testing.T) {
	mnt, back := mountTree(t, nil)
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	require.NoError(t, os.WriteFile(a, []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("B"), 0o644))
	require.NoError(t, os.Rename(a, b), "rename over an existing file")
	got, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, "A", string(got))
	_, err = os.Lstat(a)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Rename an open file, then write through the open descriptor.
	fd, err := os.OpenFile(b, os.O_RDWR, 0)
	require.NoError(t, err)
	defer fd.Close()
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	c := filepath.Join(mnt, "d", "c")
	require.NoError(t, os.Rename(b, c))
	_, err = fd.WriteAt([]byte("written after rename"), 0)
	require.NoError(t, err)
	require.NoError(t, fd.Close())
	got, err = os.ReadFile(filepath.Join(back, "d", "c"))
	require.NoError(t, err)
	assert.Equal(t, "written after rename", string(got))
}

func TestMountUnlinkedOpenFileStaysReadable(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "f")
	require.NoError(t, os.WriteFile(p, []byte("still here"), 0o644))
	fd, err := os.Open(p)
	require.NoError(t, err)
	defer fd.Close()
	require.NoError(t, os.Remove(p))
	_, err = os.Lstat(p)
	require.ErrorIs(t, err, os.ErrNotExist)
	buf := make([]byte, 10)
	_, err = fd.ReadAt(buf, 0)
	require.NoError(t, err)
	assert.Equal(t, "still here", string(buf))
	require.NoError(t, fd.Close())

	// libfuse keeps the file under a hidden name until the release that
	// follows the last close, which the kernel sends without waiting; the
	// mount never lists it.
	entries, err := os.ReadDir(mnt)
	require.NoError(t, err)
	assert.Empty(t, entries)
	_, err = os.Lstat(filepath.Join(back, "f"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestMountSymlinks(t *testing.T) {
	mnt, back := mountTree(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "target"), []byte("T"), 0o644))
	link := filepath.Join(mnt, "link")
	require.NoError(t, os.Symlink("target", link))
	got, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, "target", got)
	got, err = os.Readlink(filepath.Join(back, "link"))
	require.NoError(t, err)
	assert.Equal(t, "target", got)
	data, err := os.ReadFile(link)
	require.NoError(t, err)
	assert.Equal(t, "T", string(data))
	st := lstat(t, link)
	assert.Equal(t, uint32(unix.S_IFLNK), st.Mode&unix.S_IFMT)
	assert.EqualValues(t, len("target"), st.Size)
}

func TestMountTenThousandEntries(t *testing.T) {
	mnt, back := mountTree(t, nil)
	dir := filepath.Join(mnt, "big")
	require.NoError(t, os.Mkdir(dir, 0o755))
	const n = 10000
	for i := range n {
		fd, err := os.OpenFile(filepath.Join(dir, "f"+strconv.Itoa(i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		require.NoError(t, fd.Close())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, n)
	names := make([]string, 0, n)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	require.Equal(t, n, len(slices.Compact(names)))

	// getdents through the mount reports the backing inode numbers.
	raw, err := os.Open(dir)
	require.NoError(t, err)
	defer raw.Close()
	buf := make([]byte, 1<<16)
	nb, err := unix.Getdents(int(raw.Fd()), buf)
	require.NoError(t, err)
	got, err := parseDirents(buf[:nb], nil)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	for _, e := range got[:min(len(got), 50)] {
		assert.Equal(t, lstat(t, filepath.Join(back, "big", e.Name)).Ino, e.Ino, e.Name)
	}

	requireErrno(t, syscall.ENOTEMPTY, os.Remove(dir))
	for _, name := range names {
		require.NoError(t, os.Remove(filepath.Join(dir, name)))
	}
	require.NoError(t, os.Remove(dir))
	_, err = os.Lstat(filepath.Join(back, "big"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestMountChmodChown(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, unix.Chmod(p, 0o4750))
	assert.Equal(t, uint32(unix.S_IFREG|0o4750), lstat(t, filepath.Join(back, "f")).Mode)
	require.NoError(t, os.Chown(p, 1234, 5678))
	st := lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, [2]uint32{1234, 5678}, [2]uint32{st.Uid, st.Gid})
	require.NoError(t, os.Chown(p, -1, 42))
	st = lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, [2]uint32{1234, 42}, [2]uint32{st.Uid, st.Gid})

	require.NoError(t, os.Symlink("f", filepath.Join(mnt, "l")))
	require.NoError(t, os.Lchown(filepath.Join(mnt, "l"), 77, 88))
	st = lstat(t, filepath.Join(back, "l"))
	assert.Equal(t, [2]uint32{77, 88}, [2]uint32{st.Uid, st.Gid})
	st = lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, [2]uint32{1234, 42}, [2]uint32{st.Uid, st.Gid}, "lchown did not follow")
}

// A process with another identity creates files through the mount: they are
// its own, with the mode its umask leaves, not the daemon's.
func TestMountCreatedFilesBelongToTheCaller(t *testing.T) {
	withUmask(t, 0o022)
	mnt, back := mountTree(t, &sdk.Options{AllowOther: true})
	require.NoError(t, os.Chmod(mnt, 0o777))
	// t.TempDir's own directory is private; let the caller reach the mount.
	require.NoError(t, os.Chmod(filepath.Dir(mnt), 0o755))
	cmd := exec.Command("sh", "-c", `umask 007 && echo x > file && mkdir dir && mkfifo fifo && ln -s file link`)
	cmd.Dir = mnt
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1234, Gid: 5678}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for name, mode := range map[string]uint32{
		"file": unix.S_IFREG | 0o660,
		"dir":  unix.S_IFDIR | 0o770,
		"fifo": unix.S_IFIFO | 0o660,
		"link": unix.S_IFLNK | 0o777,
	} {
		st := lstat(t, filepath.Join(back, name))
		assert.Equal(t, mode, st.Mode, "%s: mode %o", name, st.Mode)
		assert.Equal(t, [2]uint32{1234, 5678}, [2]uint32{st.Uid, st.Gid}, name)
	}
}

func TestMountUtimensat(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	at := unix.NsecToTimespec(time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC).UnixNano())
	mt := unix.NsecToTimespec(time.Date(2009, 8, 7, 6, 5, 4, 987654321, time.UTC).UnixNano())
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{at, mt}, 0))
	st := lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, at, st.Atim)
	assert.Equal(t, mt, st.Mtim)

	// One time only (touch -a / touch -m). libfuse 2.9 drops such a call
	// before it reaches any filesystem and reports success; libfuse3 passes
	// it on with UTIME_OMIT for the other time.
	if sdk.Build == "fuse2" {
		other := unix.NsecToTimespec(time.Date(2011, 1, 1, 0, 0, 0, 5, time.UTC).UnixNano())
		require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{other, {Nsec: unix.UTIME_OMIT}}, 0))
		st = lstat(t, filepath.Join(back, "f"))
		assert.Equal(t, at, st.Atim, "libfuse2 dropped the call")
		assert.Equal(t, mt, st.Mtim)
		return
	}
	at2 := unix.NsecToTimespec(time.Date(2011, 1, 1, 0, 0, 0, 5, time.UTC).UnixNano())
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{at2, {Nsec: unix.UTIME_OMIT}}, 0))
	st = lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, at2, st.Atim, "atime set alone")
	assert.Equal(t, mt, st.Mtim, "mtime omitted")
	mt2 := unix.NsecToTimespec(time.Date(2012, 1, 1, 0, 0, 0, 7, time.UTC).UnixNano())
	require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{{Nsec: unix.UTIME_OMIT}, mt2}, 0))
	st = lstat(t, filepath.Join(back, "f"))
	assert.Equal(t, at2, st.Atim, "atime omitted")
	assert.Equal(t, mt2, st.Mtim, "mtime set alone")
}

func TestMountXattrs(t *testing.T) {
	mnt, back := mountTree(t, nil)
	p := filepath.Join(mnt, "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, unix.Setxattr(p, "user.color", []byte("blue"), 0))
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(back, "f"), "user.color", buf)
	require.NoError(t, err)
	assert.Equal(t, "blue", string(buf[:n]))
	n, err = unix.Getxattr(p, "user.color", buf)
	require.NoError(t, err)
	assert.Equal(t, "blue", string(buf[:n]))
	n, err = unix.Getxattr(p, "user.color", nil)
	require.NoError(t, err)
	assert.Equal(t, 4, n, "size probe")

	n, err = unix.Listxattr(p, buf)
	require.NoError(t, err)
	assert.Contains(t, splitXattrNames(buf[:n]), "user.color")
	requireErrno(t, syscall.EEXIST, unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE))
	require.NoError(t, unix.Removexattr(p, "user.color"))
	_, err = unix.Getxattr(p, "user.color", buf)
	requireErrno(t, syscall.ENODATA, err)
}

func TestMountStatfs(t *testing.T) {
	mnt, back := mountTree(t, nil)
	var viaMount, native unix.Statfs_t
	require.NoError(t, unix.Statfs(mnt, &viaMount))
	require.NoError(t, unix.Statfs(back, &native))
	assert.Equal(t, native.Blocks, viaMount.Blocks)
	assert.Equal(t, native.Bsize, viaMount.Bsize)
	assert.Equal(t, native.Files, viaMount.Files)
	assert.Equal(t, native.Namelen, viaMount.Namelen)
	assert.NotZero(t, viaMount.Bavail)
}

func TestMountMkdirReaddirRmdir(t *testing.T) {
	mnt, back := mountTree(t, nil)
	require.NoError(t, os.MkdirAll(filepath.Join(mnt, "a/b/c"), 0o750))
	assert.Equal(t, uint32(unix.S_IFDIR|0o750), lstat(t, filepath.Join(back, "a/b/c")).Mode)
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "a/file"), nil, 0o644))
	require.NoError(t, unix.Mkfifo(filepath.Join(mnt, "a/fifo"), 0o600))
	entries, err := os.ReadDir(filepath.Join(mnt, "a"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name()+":"+e.Type().String())
	}
	assert.ElementsMatch(t, []string{"b:d---------", "fifo:p---------", "file:----------"}, names)
	requireErrno(t, syscall.ENOTEMPTY, os.Remove(filepath.Join(mnt, "a/b")))
	require.NoError(t, os.RemoveAll(filepath.Join(mnt, "a")))
	entries, err = os.ReadDir(back)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
