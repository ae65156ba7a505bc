package aferofs

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// vmRSS returns the resident set size of this process in bytes.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestMountHugeSizesOnMemMapFs is issue 14: truncate -s 16T on MemMapFs
// made the daemon (here: this process) ask for 16 TiB and die, a truncate to
// 2^63-1 panicked inside afero (EIO), and a write at 2 GiB grew the process
// by gigabytes. With the default limit each fails with EFBIG, costs nothing
// and leaves the other files alone.
func TestMountHugeSizesOnMemMapFs(t *testing.T) {
	dir := sdktest.Mount(t, New(afero.NewMemMapFs()), nil).Dir()
	keep := filepath.Join(dir, "keep")
	keepData := bytes.Repeat([]byte("keep me "), 1024)
	require.NoError(t, os.WriteFile(keep, keepData, 0o644))
	name := filepath.Join(dir, "big")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("head"))
	require.NoError(t, err)
	before := vmRSS(t)

	// require: without a limit the next call kills this process.
	require.ErrorIs(t, unix.Truncate(name, math.MaxInt64), unix.EFBIG, "truncate to 2^63-1")
	assert.ErrorIs(t, unix.Truncate(name, 16<<40), unix.EFBIG, "truncate -s 16T")
	assert.ErrorIs(t, unix.Ftruncate(int(f.Fd()), 16<<40), unix.EFBIG, "ftruncate to 16 TiB")
	assert.ErrorIs(t, unix.Ftruncate(int(f.Fd()), DefaultMemMaxFileSize+1), unix.EFBIG, "one byte past the limit")
	_, err = unix.Pwrite(int(f.Fd()), []byte("x"), 2<<30)
	assert.ErrorIs(t, err, unix.EFBIG, "pwrite at 2 GiB")
	_, err = unix.Pwrite(int(f.Fd()), []byte("x"), DefaultMemMaxFileSize)
	assert.ErrorIs(t, err, unix.EFBIG, "pwrite at the limit")

	grown := vmRSS(t) - before
	assert.Less(t, grown, int64(256<<20), "the process grew by %d bytes", grown)

	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.EqualValues(t, 4, fi.Size(), "the refused changes left the size alone")
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "head", string(got))
	got, err = os.ReadFile(keep)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(keepData, got), "the other file is intact")

	// The mount still works after the refusals.
	_, err = f.WriteAt([]byte("tail"), 1<<20)
	require.NoError(t, err)
	fi, err = f.Stat()
	require.NoError(t, err)
	assert.EqualValues(t, 1<<20+4, fi.Size())
}

// TestMountMaxFileSize: an explicit limit applies to every backend (here the
// local disk), a write across it writes what fits, and the disk's holes stay
// holes.
func TestMountMaxFileSize(t *testing.T) {
	const limit = 1 << 20
	root := t.TempDir()
	fsys, err := NewWithOptions(afero.NewOsFs(), &Options{Root: root, MaxFileSize: limit})
	require.NoError(t, err)
	dir := sdktest.Mount(t, fsys, nil).Dir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, nil, 0o644))
	assert.ErrorIs(t, unix.Truncate(name, limit+1), unix.EFBIG)
	require.NoError(t, unix.Truncate(name, limit), "the limit itself is allowed")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(name, &st))
	assert.EqualValues(t, limit, st.Size)
	// The SDK reports an unknown (zero) block count as the size; the disk
	// file shows that the hole cost nothing.
	require.NoError(t, unix.Stat(filepath.Join(root, "f"), &st))
	assert.Less(t, st.Blocks*512, int64(limit), "a hole on the disk costs no blocks")

	require.NoError(t, unix.Truncate(name, 0))
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	n, err := unix.Pwrite(int(f.Fd()), []byte("abcd"), limit-2)
	require.NoError(t, err, "the kernel reports the bytes that fit")
	assert.Equal(t, 2, n)
	_, err = unix.Pwrite(int(f.Fd()), []byte("cd"), limit)
	assert.ErrorIs(t, err, unix.EFBIG)
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	assert.EqualValues(t, limit, st.Size)
}

// TestSizeLimits checks the limits without FUSE, where the errors can be seen
// exactly as the adapter returns them.
func TestSizeLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("default", func(t *testing.T) {
		f := New(afero.NewMemMapFs())
		createFile(t, f, "f", []byte("x"))
		assert.Equal(t, syscall.EFBIG, errno(f.Truncate(ctx, "f", math.MaxInt64)))
		assert.Equal(t, syscall.EINVAL, errno(f.Truncate(ctx, "f", -1)))
		h, err := f.Open(ctx, "f", syscall.O_RDWR, 0)
		require.NoError(t, err)
		defer h.Close()
		_, err = h.WriteAt(ctx, []byte("xy"), math.MaxInt64-1)
		assert.Equal(t, syscall.EINVAL, errno(err), "offset + length overflows")
		_, err = h.WriteAt(ctx, []byte("x"), -1)
		assert.Equal(t, syscall.EINVAL, errno(err))
		_, err = h.WriteAt(ctx, []byte("x"), DefaultMemMaxFileSize)
		assert.Equal(t, syscall.EFBIG, errno(err))
		assert.Equal(t, syscall.EFBIG, errno(h.Truncate(ctx, DefaultMemMaxFileSize+1)))
	})
	t.Run("unlimited", func(t *testing.T) {
		f, err := NewWithOptions(afero.NewMemMapFs(), &Options{MaxFileSize: -1})
		require.NoError(t, err)
		createFile(t, f, "f", []byte("x"))
		// afero panics making a slice this long; that is EFBIG, not EIO.
		assert.Equal(t, syscall.EFBIG, errno(f.Truncate(ctx, "f", math.MaxInt64)))
		h, err := f.Open(ctx, "f", syscall.O_RDWR, 0)
		require.NoError(t, err)
		defer h.Close()
		assert.Equal(t, syscall.EFBIG, errno(h.Truncate(ctx, math.MaxInt64)))
		_, err = h.WriteAt(ctx, []byte("x"), math.MaxInt64-1)
		assert.Equal(t, syscall.EFBIG, errno(err))
	})
	t.Run("explicit", func(t *testing.T) {
		for _, b := range backends() {
			t.Run(b.name, func(t *testing.T) {
				f := b.make(t)
				f.maxSize = 100
				createFile(t, f, "f", []byte("x"))
				assert.Equal(t, syscall.EFBIG, errno(f.Truncate(ctx, "f", 101)))
				require.NoError(t, f.Truncate(ctx, "f", 100))
				h, err := f.Open(ctx, "f", syscall.O_RDWR, 0)
				require.NoError(t, err)
				defer h.Close()
				assert.Equal(t, syscall.EFBIG, errno(h.Truncate(ctx, 101)))
				n, err := h.WriteAt(ctx, []byte("abcd"), 98)
				assert.Equal(t, syscall.EFBIG, errno(err))
				assert.Equal(t, 2, n, "what fits is written")
				a, err := f.Stat(ctx, "f")
				require.NoError(t, err)
				assert.EqualValues(t, 100, a.Size)
			})
		}
	})
}

// TestNameMax: a component longer than the 255 bytes StatFS reports is
// ENAMETOOLONG everywhere, as on tmpfs; MemMapFs itself would create it.
func TestNameMax(t *testing.T) {
	ok, long := strings.Repeat("n", 255), strings.Repeat("n", 256)
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		createFile(t, f, ok, []byte("x"))
		_, err := f.Stat(ctx, ok)
		require.NoError(t, err, "255 bytes is allowed")
		require.NoError(t, f.Mkdir(ctx, "d", 0o755))
		tooLong := func(what string, err error) {
			t.Helper()
			assert.Equal(t, syscall.ENAMETOOLONG, errno(err), what)
		}
		_, err = f.Stat(ctx, long)
		tooLong("stat", err)
		_, err = f.Stat(ctx, long+"/x")
		tooLong("stat below a long component", err)
		_, err = f.Stat(ctx, "d/"+long)
		tooLong("stat in a directory", err)
		_, err = f.Open(ctx, long, syscall.O_CREAT|syscall.O_RDWR, 0o644)
		tooLong("create", err)
		_, err = f.Open(ctx, "d/"+long, syscall.O_RDONLY, 0)
		tooLong("open", err)
		tooLong("mkdir", f.Mkdir(ctx, "d/"+long, 0o755))
		tooLong("rename target", f.Rename(ctx, ok, "d/"+long, 0))
		tooLong("rename source", f.Rename(ctx, long, "d/x", 0))
		tooLong("symlink", f.Symlink(ctx, "target", long))
		tooLong("unlink", f.Unlink(ctx, long))
		tooLong("rmdir", f.Rmdir(ctx, long))
		_, err = f.ReadDir(ctx, long)
		tooLong("readdir", err)
		tooLong("chmod", f.Chmod(ctx, long, 0o644))
		ents, err := f.ReadDir(ctx, ".")
		require.NoError(t, err)
		for _, e := range ents {
			assert.LessOrEqual(t, len(e.Name), 255, "nothing too long was created")
		}
	})
}

func TestMountNameMax(t *testing.T) {
	ok, long := strings.Repeat("n", 255), strings.Repeat("n", 256)
	forEachMount(t, func(t *testing.T, b mountBackend, dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ok), []byte("x"), 0o644))
		var st unix.Statfs_t
		require.NoError(t, unix.Statfs(dir, &st))
		require.EqualValues(t, 255, st.Namelen)
		p := filepath.Join(dir, long)
		assert.ErrorIs(t, os.WriteFile(p, []byte("x"), 0o644), unix.ENAMETOOLONG, "create")
		_, err := os.Lstat(p)
		assert.ErrorIs(t, err, unix.ENAMETOOLONG, "lookup")
		assert.ErrorIs(t, os.Mkdir(p, 0o755), unix.ENAMETOOLONG, "mkdir")
		assert.ErrorIs(t, os.Rename(filepath.Join(dir, ok), p), unix.ENAMETOOLONG, "rename target")
		assert.ErrorIs(t, os.Symlink("target", p), unix.ENAMETOOLONG, "symlink")
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, ents, 1)
		assert.Equal(t, ok, ents[0].Name())
	})
}

// TestDirLinkCount: a directory's link count is 2 plus its subdirectories,
// as on a kernel filesystem; MemMapFs reports none.
func TestDirLinkCount(t *testing.T) {
	nlink := func(t *testing.T, f *FS, name string) uint32 {
		t.Helper()
		a, err := f.Stat(context.Background(), name)
		require.NoError(t, err)
		return a.Nlink
	}
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		if strings.HasPrefix(b.name, "CopyOnWriteFs") {
			// Not kept (documented): a directory merges two layers.
			require.NoError(t, f.Mkdir(ctx, "a", 0o755))
			require.NoError(t, f.Mkdir(ctx, "a/b", 0o755))
			assert.EqualValues(t, 2, nlink(t, f, "a"))
			return
		}
		root := nlink(t, f, ".")
		require.NoError(t, f.Mkdir(ctx, "a", 0o755))
		assert.EqualValues(t, root+1, nlink(t, f, "."))
		assert.EqualValues(t, 2, nlink(t, f, "a"))
		require.NoError(t, f.Mkdir(ctx, "a/b", 0o755))
		require.NoError(t, f.Mkdir(ctx, "a/c", 0o755))
		createFile(t, f, "a/file", nil)
		assert.EqualValues(t, 4, nlink(t, f, "a"), "mkdir a/b a/c")
		require.NoError(t, f.Rmdir(ctx, "a/c"))
		assert.EqualValues(t, 3, nlink(t, f, "a"), "rmdir a/c")
		require.NoError(t, f.Rename(ctx, "a/b", "b", 0))
		assert.EqualValues(t, 2, nlink(t, f, "a"), "a/b moved out")
		assert.EqualValues(t, root+2, nlink(t, f, "."), "and in")
		require.NoError(t, f.Mkdir(ctx, "a/e", 0o755))
		require.NoError(t, f.Rename(ctx, "b", "a/e", 0), "over an empty directory")
		assert.EqualValues(t, 3, nlink(t, f, "a"))
		assert.EqualValues(t, root+1, nlink(t, f, "."))
		require.NoError(t, f.Rename(ctx, "a/file", "file", 0))
		assert.EqualValues(t, 3, nlink(t, f, "a"), "files do not count")
		ents, err := f.ReadDir(ctx, ".")
		require.NoError(t, err)
		for _, e := range ents {
			if e.Name == "a" {
				assert.EqualValues(t, 3, e.Attr.Nlink, "ReadDir says the same")
			}
		}
	})
	t.Run("existing tree", func(t *testing.T) {
		m := afero.NewMemMapFs()
		require.NoError(t, m.MkdirAll("/t/x/y", 0o755))
		require.NoError(t, m.MkdirAll("/t/z", 0o755))
		require.NoError(t, afero.WriteFile(m, "/t/f", nil, 0o644))
		f := New(m)
		assert.EqualValues(t, 4, nlink(t, f, "t"), "counted once, at the first stat")
		assert.EqualValues(t, 3, nlink(t, f, "t/x"))
		require.NoError(t, f.Mkdir(context.Background(), "t/w", 0o755))
		assert.EqualValues(t, 5, nlink(t, f, "t"))
	})
}

func TestMountDirLinkCount(t *testing.T) {
	forEachMount(t, func(t *testing.T, b mountBackend, dir string) {
		a := filepath.Join(dir, "a")
		require.NoError(t, os.Mkdir(a, 0o755))
		require.NoError(t, os.Mkdir(filepath.Join(a, "b"), 0o755))
		require.NoError(t, os.Mkdir(filepath.Join(a, "c"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(a, "f"), nil, 0o644))
		var st unix.Stat_t
		require.NoError(t, unix.Stat(a, &st))
		assert.EqualValues(t, 4, st.Nlink, "mkdir a; mkdir a/b a/c")
		require.NoError(t, unix.Rmdir(filepath.Join(a, "c")))
		require.NoError(t, unix.Stat(a, &st))
		assert.EqualValues(t, 3, st.Nlink, "rmdir a/c")
	})
}

// TestMountRenameExchange: renameat2(RENAME_EXCHANGE) reaches the
// filesystem only with libfuse3; libfuse2 refuses it itself.
func TestMountRenameExchange(t *testing.T) {
	forEachMount(t, func(t *testing.T, b mountBackend, dir string) {
		a, bb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		require.NoError(t, os.WriteFile(a, []byte("A"), 0o644))
		require.NoError(t, os.WriteFile(bb, []byte("B"), 0o644))
		err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, bb, unix.RENAME_EXCHANGE)
		if sdk.Build != "fuse3" {
			assert.ErrorIs(t, err, unix.EINVAL, "libfuse2 refuses renameat2 flags itself")
			return
		}
		require.NoError(t, err)
		got, err := os.ReadFile(a)
		require.NoError(t, err)
		assert.Equal(t, "B", string(got))
		got, err = os.ReadFile(bb)
		require.NoError(t, err)
		assert.Equal(t, "A", string(got))

		// A directory and a file, in different directories.
		d, e := filepath.Join(dir, "d"), filepath.Join(dir, "e")
		require.NoError(t, os.MkdirAll(filepath.Join(d, "sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "sub", "inner"), []byte("I"), 0o644))
		require.NoError(t, os.Mkdir(e, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(e, "file"), []byte("F"), 0o644))
		require.NoError(t, unix.Renameat2(unix.AT_FDCWD, filepath.Join(d, "sub"), unix.AT_FDCWD, filepath.Join(e, "file"), unix.RENAME_EXCHANGE))
		got, err = os.ReadFile(filepath.Join(d, "sub"))
		require.NoError(t, err)
		assert.Equal(t, "F", string(got))
		got, err = os.ReadFile(filepath.Join(e, "file", "inner"))
		require.NoError(t, err)
		assert.Equal(t, "I", string(got))
		var st unix.Stat_t
		require.NoError(t, unix.Stat(d, &st))
		assert.EqualValues(t, 2, st.Nlink)
		require.NoError(t, unix.Stat(e, &st))
		assert.EqualValues(t, 3, st.Nlink)
		ents, err := os.ReadDir(d)
		require.NoError(t, err)
		assert.Len(t, ents, 1, "no temporary name is left")

		err = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, filepath.Join(dir, "missing"), unix.RENAME_EXCHANGE)
		assert.ErrorIs(t, err, unix.ENOENT)
	})
}
