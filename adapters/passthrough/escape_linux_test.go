package passthrough

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// escapeTree builds <tmp>/root (the filesystem) next to <tmp>/outside, which
// holds a file "secret" that no operation may read or change, and returns
// the filesystem, the root and the secret's path.
func escapeTree(t *testing.T) (*FS, string, string) {
	t.Helper()
	top := t.TempDir()
	root := filepath.Join(top, "root")
	outside := filepath.Join(top, "outside")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	secret := filepath.Join(outside, "secret")
	writeFile(t, secret, "SECRET")
	require.NoError(t, unix.Setxattr(secret, "user.s", []byte("s"), 0))
	f, err := New(root)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, root, secret
}

// untouched checks that the secret file and its directory are as
// escapeTree left them. Reading the secret to check it may move its atime,
// so *before is refreshed afterwards.
func untouched(t *testing.T, secret string, before *unix.Stat_t) {
	t.Helper()
	after := lstat(t, secret)
	assert.Equal(t, *before, after, "the file outside the root changed (even its atime counts: nothing may read it)")
	data, err := os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "SECRET", string(data))
	*before = lstat(t, secret)
	names, err := os.ReadDir(filepath.Dir(secret))
	require.NoError(t, err)
	assert.Len(t, names, 1, "something was created outside the root")
}

// requireRefused checks that an escape attempt failed with one of the
// errors openat2 gives for it.
func requireRefused(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err, what)
	switch sdk.Errno(err) {
	case syscall.EXDEV, syscall.ELOOP, syscall.ENOENT, syscall.ENOTDIR, syscall.EAGAIN,
		syscall.EOPNOTSUPP, syscall.EINVAL, syscall.EPERM, syscall.EACCES:
	default:
		t.Fatalf("%s: unexpected error %v", what, err)
	}
}

func TestSymlinksCannotLeadOutOfTheRoot(t *testing.T) {
	f, root, secret := escapeTree(t)
	outside := filepath.Dir(secret)
	require.NoError(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
	links := map[string]string{
		"abs":     outside,                           // absolute, outside
		"absin":   filepath.Join(root, "sub"),        // absolute, even into the tree
		"up":      "..",                              // relative, out
		"deepup":  "sub/../../outside",               // relative, out through the tree
		"sub/up2": "../..",                           // from a subdirectory
		"etc":     "/etc",                            // the classic
		"chain":   "sub/up2",                         // a link to a link that escapes
		"procfd":  "/proc/self/fd/3",                 // a magic link, absolute
		"sub/rel": "../../" + filepath.Base(outside), // relative to the outside dir
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(root, name)))
	}
	before := lstat(t, secret)
	caller := sdk.WithCaller(ctx, sdk.Caller{Uid: 1234, Gid: 5678})

	for _, dir := range []string{"abs", "absin", "up", "deepup", "sub/up2", "etc", "chain", "procfd", "sub/rel"} {
		t.Run(dir, func(t *testing.T) {
			in := dir + "/secret"
			if dir == "up" || dir == "sub/up2" || dir == "chain" {
				in = dir + "/outside/secret"
			}
			_, err := f.Stat(ctx, in)
			requireRefused(t, err, "stat")
			_, err = f.Open(ctx, in, os.O_RDONLY, 0)
			requireRefused(t, err, "open")
			_, err = f.Open(caller, dir+"/new", os.O_RDWR|os.O_CREATE, 0o666)
			requireRefused(t, err, "create")
			_, err = f.ReadDir(ctx, dir)
			requireRefused(t, err, "readdir of the link")
			_, err = f.ReadDir(ctx, dir+"/.")
			requireRefused(t, err, "readdir through the link") // "." is not a valid name element
			requireRefused(t, f.Mkdir(caller, dir+"/newdir", 0o777), "mkdir")
			requireRefused(t, f.Mknod(caller, dir+"/fifo", sdk.TypeFIFO|0o666, 0), "mknod")
			requireRefused(t, f.Symlink(caller, "x", dir+"/newlink"), "symlink")
			requireRefused(t, f.Truncate(ctx, in, 0), "truncate")
			requireRefused(t, f.Chmod(ctx, in, 0o777), "chmod")
			requireRefused(t, f.Chown(ctx, in, 1, 1), "chown")
			requireRefused(t, f.SetTimes(ctx, in, time.Unix(1, 0), time.Unix(1, 0)), "utimensat")
			requireRefused(t, f.Unlink(ctx, in), "unlink")
			requireRefused(t, f.Rename(ctx, in, "stolen", 0), "rename out")
			requireRefused(t, f.Rename(ctx, "sub", dir+"/planted", 0), "rename in")
			requireRefused(t, f.Link(ctx, in, "stolen"), "link out")
			_, err = f.GetXattr(ctx, in, "user.s")
			requireRefused(t, err, "getxattr")
			requireRefused(t, f.SetXattr(ctx, in, "user.s", []byte("x"), 0), "setxattr")
			requireRefused(t, f.RemoveXattr(ctx, in, "user.s"), "removexattr")
			_, err = f.Readlink(ctx, in)
			requireRefused(t, err, "readlink")
			untouched(t, secret, &before)
		})
	}
	_, err := os.Lstat(filepath.Join(root, "stolen"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A final symbolic link is acted on itself, never followed out.
func TestFinalSymlinkToOutsideIsNotFollowed(t *testing.T) {
	f, root, secret := escapeTree(t)
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "link")))
	before := lstat(t, secret)

	_, err := f.Open(ctx, "link", os.O_RDWR, 0)
	requireErrno(t, syscall.ELOOP, err)
	_, err = f.Open(ctx, "link", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
	requireErrno(t, syscall.ELOOP, err)
	requireErrno(t, syscall.EINVAL, f.Truncate(ctx, "link", 0))
	requireErrno(t, syscall.EOPNOTSUPP, f.Chmod(ctx, "link", 0o777))
	require.NoError(t, f.Chown(ctx, "link", os.Geteuid(), os.Getegid()))
	require.NoError(t, f.SetTimes(ctx, "link", time.Unix(1, 0), time.Unix(1, 0)))
	requireErrno(t, syscall.EPERM, f.SetXattr(ctx, "link", "user.s", []byte("x"), 0))
	_, err = f.GetXattr(ctx, "link", "user.s")
	requireErrno(t, syscall.ENODATA, err)
	_, err = f.ReadDir(ctx, "link")
	require.Error(t, err)
	a, err := f.Stat(ctx, "link")
	require.NoError(t, err)
	assert.Equal(t, sdk.TypeSymlink, a.Type())
	require.NoError(t, f.Link(ctx, "link", "hard"))
	require.NoError(t, f.Unlink(ctx, "link"))
	untouched(t, secret, &before)
}

// With /proc bind-mounted inside the tree, its magic links (/proc/self/root,
// /proc/self/cwd, /proc/self/fd/N) are refused even though the walk would
// otherwise stay on mounts below the root.
func TestMagicLinksAreRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("bind-mounting /proc needs root, which the project's test machines have")
	}
	f, root, secret := escapeTree(t)
	proc := filepath.Join(root, "proc")
	require.NoError(t, os.Mkdir(proc, 0o755))
	require.NoError(t, unix.Mount("/proc", proc, "", unix.MS_BIND, ""))
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(proc, unix.MNT_DETACH)) })
	before := lstat(t, secret)

	for _, name := range []string{"proc/self/root/etc/passwd", "proc/self/cwd", "proc/1/root", "proc/self/exe"} {
		_, err := f.Open(ctx, name, os.O_RDONLY, 0)
		requireRefused(t, err, name)
		_, err = f.Stat(ctx, name+"/x")
		requireRefused(t, err, name)
	}
	// The root descriptor of this very FS, reached through the bind mount.
	fdName := "proc/self/fd/" + strconv.Itoa(f.root()) + "/x"
	_, err := f.Open(ctx, fdName, os.O_RDWR|os.O_CREATE, 0o644)
	requireRefused(t, err, fdName)
	untouched(t, secret, &before)
}

// While one goroutine keeps moving a directory out of the root and back, a
// walk through a symbolic link that climbs out of it with ".." must land
// inside the root or fail; it must never reach the look-alike outside.
func TestConcurrentRenameCannotEscape(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	// A deep climb makes the window between entering b and climbing out of
	// it wide enough for the mover to hit.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "a/b/c/d/e/f"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tdir"), 0o755))
	writeFile(t, filepath.Join(root, "tdir/file"), "inside")
	// Outside: out/p/q is where b goes, so that b/c/d/e/f/ and six ".."
	// is out/p, and out/p/tdir/file is the look-alike.
	require.NoError(t, os.MkdirAll(filepath.Join(top, "out/p/q"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(top, "out/p/tdir"), 0o755))
	secret := filepath.Join(top, "out/p/tdir/file")
	writeFile(t, secret, "SECRET")
	require.NoError(t, os.Symlink("a/b/c/d/e/f/../../../../../../tdir", filepath.Join(root, "link")))
	f, err := New(root)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })

	inPlace, away := filepath.Join(root, "a/b"), filepath.Join(top, "out/p/q/b")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := os.Rename(inPlace, away); err != nil {
				panic(err)
			}
			if err := os.Rename(away, inPlace); err != nil {
				panic(err)
			}
		}
	}()
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	// Run at least 3000 rounds, and on until some walks got through, so
	// that the test did test the successful path too.
	var inside, refused int
	for i := 0; i < 3000 || inside < 10 && i < 100000; i++ {
		h, err := f.Open(ctx, "link/file", os.O_RDONLY, 0)
		if err != nil {
			requireRefused(t, err, "open during the race")
			refused++
		} else {
			buf := make([]byte, 16)
			n, _ := h.ReadAt(ctx, buf, 0)
			require.NoError(t, h.Close())
			require.Equal(t, "inside", string(buf[:n]), "the walk escaped the root")
			inside++
		}
		if err := f.Mkdir(ctx, "link/new", 0o755); err == nil {
			require.NoError(t, os.Remove(filepath.Join(root, "tdir/new")), "mkdir landed elsewhere")
		} else {
			requireRefused(t, err, "mkdir during the race")
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d opens landed inside, %d were refused", inside, refused)
	assert.NotZero(t, inside, "the walk never succeeded; the race test tested nothing")
	entries, err := os.ReadDir(filepath.Dir(secret))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "mkdir created something outside")
}
