package passthrough

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// A tree of 42 directories with 200-byte names is 8,442 bytes deep: more
// than twice PATH_MAX, which ext4 and tmpfs hold, and which the kernel lets
// a program reach below a mountpoint one relative lookup at a time; libfuse
// then hands the filesystem the whole path.
const (
	longElemLen = 200
	longDepth   = 42
)

func longElems() []string {
	elems := make([]string, longDepth)
	for i := range elems {
		p := fmt.Sprintf("L%02d", i)
		elems[i] = p + strings.Repeat("x", longElemLen-len(p))
	}
	return elems
}

// openChain opens the directory root/elems[0]/.../elems[n-1] with one
// openat per element, since the path is too long for any single system
// call, creating each element first when mkdir is set. The descriptor is
// closed at cleanup.
func openChain(t *testing.T, root string, elems []string, mkdir bool) int {
	t.Helper()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	// Closed even when the walk fails half-way: an open descriptor would
	// hold up the unmount.
	t.Cleanup(func() { unix.Close(fd) })
	for i, e := range elems {
		if mkdir {
			require.NoError(t, unix.Mkdirat(fd, e, 0o755), "mkdir at depth %d", i)
		}
		next, err := unix.Openat(fd, e, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		require.NoError(t, err, "open at depth %d", i)
		unix.Close(fd)
		fd = next
	}
	return fd
}

func readAt(t *testing.T, dirfd int, name string) string {
	t.Helper()
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err, "open %s", name)
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	require.NoError(t, err)
	return string(buf[:n])
}

func writeAt(t *testing.T, dirfd int, name string, flags int, data string) {
	t.Helper()
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CLOEXEC|flags, 0o644)
	require.NoError(t, err, "open %s", name)
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(data))
	require.NoError(t, err)
	require.Equal(t, len(data), n)
}

func namesAt(t *testing.T, dirfd int) []string {
	t.Helper()
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	d := os.NewFile(uintptr(fd), "dir")
	defer d.Close()
	names, err := d.Readdirnames(-1)
	require.NoError(t, err)
	return names
}

// procName names name inside the directory open as dirfd for the system
// calls that take only a path (truncate(2)): the kernel follows the
// /proc magic link to the directory, then looks name up on the mount.
func procName(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

func TestMountPathsLongerThanPathMax(t *testing.T) {
	mnt, back := mountTree(t, nil)
	elems := longElems()
	deep := openChain(t, mnt, elems, true)
	require.Greater(t, len(strings.Join(elems, "/")), 2*unix.PathMax)

	// Create, write, read, stat.
	writeAt(t, deep, "file", unix.O_CREAT|unix.O_EXCL, "hello, deep world")
	assert.Equal(t, "hello, deep world", readAt(t, deep, "file"))
	var st unix.Stat_t
	require.NoError(t, unix.Fstatat(deep, "file", &st, unix.AT_SYMLINK_NOFOLLOW))
	assert.EqualValues(t, len("hello, deep world"), st.Size)
	assert.Equal(t, "hello, deep world", readAt(t, openChain(t, back, elems, false), "file"))

	// truncate(2) by name (Truncate without a handle) and ftruncate.
	require.NoError(t, unix.Truncate(procName(deep, "file"), 5))
	assert.Equal(t, "hello", readAt(t, deep, "file"))
	writeAt(t, deep, "file", unix.O_TRUNC, "rewritten")
	assert.Equal(t, "rewritten", readAt(t, deep, "file"))

	// Metadata, links, directories, listing.
	require.NoError(t, unix.Fchmodat(deep, "file", 0o600, 0))
	require.NoError(t, unix.Fstatat(deep, "file", &st, unix.AT_SYMLINK_NOFOLLOW))
	assert.EqualValues(t, 0o600, st.Mode&0o7777)
	require.NoError(t, unix.UtimesNanoAt(deep, "file", []unix.Timespec{{Sec: 1e9}, {Sec: 1e9}}, unix.AT_SYMLINK_NOFOLLOW))
	require.NoError(t, unix.Symlinkat("file", deep, "link"))
	buf := make([]byte, 64)
	n, err := unix.Readlinkat(deep, "link", buf)
	require.NoError(t, err)
	assert.Equal(t, "file", string(buf[:n]))
	require.NoError(t, unix.Linkat(deep, "file", deep, "hard", 0))
	require.NoError(t, unix.Mkdirat(deep, "sub", 0o755))
	assert.ElementsMatch(t, []string{"file", "link", "hard", "sub"}, namesAt(t, deep))

	// Rename within the deep directory, out of it to the top and back.
	require.NoError(t, unix.Renameat(deep, "hard", deep, "sub/moved"))
	top, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(top)
	require.NoError(t, unix.Renameat(deep, "sub/moved", top, "shallow"))
	assert.Equal(t, "rewritten", readAt(t, top, "shallow"))
	require.NoError(t, unix.Renameat(top, "shallow", deep, "back"))
	assert.Equal(t, "rewritten", readAt(t, deep, "back"))

	// Unlink and rmdir.
	require.NoError(t, unix.Unlinkat(deep, "back", 0))
	require.NoError(t, unix.Unlinkat(deep, "link", 0))
	require.NoError(t, unix.Unlinkat(deep, "sub", unix.AT_REMOVEDIR))
	assert.Equal(t, []string{"file"}, namesAt(t, deep))

	// rm -rf of the whole tree through the mount.
	out, err := exec.Command("rm", "-rf", filepath.Join(mnt, elems[0])).CombinedOutput()
	require.NoError(t, err, "rm -rf: %s", out)
	entries, err := os.ReadDir(back)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// A name of PATH_MAX bytes or more is resolved in pieces; an element that
// long cannot be.
func TestLongNamesAreResolvedInPieces(t *testing.T) {
	f, dir := newFS(t)
	elems := longElems()
	deep := openChain(t, dir, elems, true)
	writeAt(t, deep, "file", unix.O_CREAT, "x")
	name := strings.Join(elems, "/") + "/file"
	a, err := f.Stat(ctx, name)
	require.NoError(t, err)
	assert.EqualValues(t, 1, a.Size)
	require.NoError(t, f.Truncate(ctx, name, 3))
	ents, err := f.ReadDir(ctx, strings.Join(elems, "/"))
	require.NoError(t, err)
	require.Len(t, ents, 1)
	assert.Equal(t, "file", ents[0].Name)

	_, err = f.Stat(ctx, strings.Repeat("y", unix.PathMax)+"/file")
	requireErrno(t, unix.ENAMETOOLONG, err)
	_, err = f.Stat(ctx, strings.Join(elems, "/")+"/missing/file")
	requireErrno(t, unix.ENOENT, err)
}

// The overlay over passthrough layers: a deep lower file is read, copied up
// when written (the upper directories are made along the long path), and
// the tree is removed through the mount, leaving the lower as it was.
func TestMountOverlayPathsLongerThanPathMax(t *testing.T) {
	lowerDir, upperDir := t.TempDir(), t.TempDir()
	elems := longElems()
	writeAt(t, openChain(t, lowerDir, elems, true), "deep", unix.O_CREAT, "lower data")
	lower, err := New(lowerDir)
	require.NoError(t, err)
	t.Cleanup(func() { lower.Close() })
	upper, err := New(upperDir)
	require.NoError(t, err)
	t.Cleanup(func() { upper.Close() })
	o, err := overlay.New(overlay.Config{Upper: upper, Lowers: []sdk.FileSystem{lower}})
	require.NoError(t, err)
	mnt := sdktest.Mount(t, o, nil).Dir()

	deep := openChain(t, mnt, elems, false)
	assert.Equal(t, "lower data", readAt(t, deep, "deep"))
	writeAt(t, deep, "deep", unix.O_APPEND, "+upper")
	assert.Equal(t, "lower data+upper", readAt(t, deep, "deep"))
	assert.Equal(t, "lower data+upper", readAt(t, openChain(t, upperDir, elems, false), "deep"))
	writeAt(t, deep, "new", unix.O_CREAT|unix.O_EXCL, "new")
	assert.ElementsMatch(t, []string{"deep", "new"}, namesAt(t, deep))

	out, err := exec.Command("rm", "-rf", filepath.Join(mnt, elems[0])).CombinedOutput()
	require.NoError(t, err, "rm -rf: %s", out)
	entries, err := os.ReadDir(mnt)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Equal(t, "lower data", readAt(t, openChain(t, lowerDir, elems, false), "deep"))
}

// Confinement holds for names resolved in pieces. Symbolic links planted
// inside the first piece, at its end and at the start of the second lead
// out of the root and back in to where the walk would have gone, so only
// confinement makes them fail; links at the deep end lead out for good.
func TestLongNamesCannotLeadOutOfTheRoot(t *testing.T) {
	f, root, secret := escapeTree(t)
	before := lstat(t, secret)
	elems := longElems()
	deep := openChain(t, root, elems, true)
	writeAt(t, deep, "file", unix.O_CREAT, "x")
	long := strings.Join(elems, "/")
	_, err := f.Stat(ctx, long+"/file")
	require.NoError(t, err)
	// 20 elements of 201 bytes fit in one piece below PATH_MAX, 21 do not:
	// the first piece ends with elems[19].
	for _, i := range []int{5, 19, 20} {
		dir := openChain(t, root, elems[:i], false)
		require.NoError(t, unix.Renameat(dir, elems[i], dir, "real"))
		target := strings.Repeat("../", i+1) + filepath.Join(append([]string{"root"}, elems[:i]...)...) + "/real"
		require.NoError(t, unix.Symlinkat(target, dir, elems[i]))
		_, err := f.Stat(ctx, long+"/file")
		requireRefused(t, err, "stat through a link at depth "+strconv.Itoa(i))
		_, err = f.Open(ctx, long+"/file", unix.O_RDONLY, 0)
		requireRefused(t, err, "open through a link at depth "+strconv.Itoa(i))
		require.NoError(t, unix.Unlinkat(dir, elems[i], 0))
		require.NoError(t, unix.Renameat(dir, "real", dir, elems[i]))
	}
	require.NoError(t, unix.Symlinkat(strings.Repeat("../", longDepth+1)+"outside", deep, "up"))
	require.NoError(t, unix.Symlinkat(filepath.Dir(secret), deep, "abs"))
	for _, link := range []string{"up", "abs"} {
		_, err := f.Stat(ctx, long+"/"+link+"/secret")
		requireRefused(t, err, "stat through "+link)
		_, err = f.Open(ctx, long+"/"+link+"/secret", unix.O_RDONLY, 0)
		requireRefused(t, err, "open through "+link)
		requireRefused(t, f.Truncate(ctx, long+"/"+link+"/secret", 0), "truncate through "+link)
		requireRefused(t, f.Unlink(ctx, long+"/"+link+"/secret"), "unlink through "+link)
		_, err = f.ReadDir(ctx, long+"/"+link)
		requireRefused(t, err, "readdir through "+link)
	}
	untouched(t, secret, &before)
}
