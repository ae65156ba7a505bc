//go:build linux

package aferofs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend is one afero.Fs the common tests run over.
type backend struct {
	name string
	make func(t *testing.T) *FS
	// owners: Chown is visible in Stat (disk as root, MemMapFs side table).
	owners bool
	// host: the Fs is the local disk and has symbolic links.
	host bool
}

func backends() []backend {
	root := os.Geteuid() == 0
	return []backend{
		{name: "MemMapFs", owners: true, make: func(t *testing.T) *FS { return New(afero.NewMemMapFs()) }},
		{name: "OsFs", owners: root, host: true, make: func(t *testing.T) *FS {
			f, err := NewWithOptions(afero.NewOsFs(), &Options{Root: t.TempDir()})
			require.NoError(t, err)
			return f
		}},
		{name: "BasePathFs(OsFs)", owners: root, host: true, make: func(t *testing.T) *FS {
			return New(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
		}},
		{name: "BasePathFs(MemMapFs)", owners: true, make: func(t *testing.T) *FS {
			m := afero.NewMemMapFs()
			require.NoError(t, m.MkdirAll("/base/dir", 0o755))
			return New(afero.NewBasePathFs(m, "/base/dir"))
		}},
		{name: "CopyOnWriteFs(OsFs,MemMapFs)", owners: true, make: func(t *testing.T) *FS {
			return New(afero.NewCopyOnWriteFs(afero.NewReadOnlyFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())), afero.NewMemMapFs()))
		}},
		{name: "ToAfero(New(MemMapFs))", owners: true, make: func(t *testing.T) *FS {
			return New(ToAfero(New(afero.NewMemMapFs())))
		}},
	}
}

func forEachBackend(t *testing.T, body func(t *testing.T, b backend, f *FS)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { body(t, b, b.make(t)) })
	}
}

var alice = sdk.Caller{Uid: 1234, Gid: 5678, Pid: 1}

func aliceCtx() context.Context { return sdk.WithCaller(context.Background(), alice) }

func errno(err error) syscall.Errno { return sdk.Errno(err) }

func createFile(t *testing.T, f *FS, name string, data []byte) {
	t.Helper()
	h, err := f.Open(aliceCtx(), name, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o644)
	require.NoError(t, err)
	_, err = h.WriteAt(context.Background(), data, 0)
	require.NoError(t, err)
	require.NoError(t, h.Close())
}

func readFile(t *testing.T, f *FS, name string) []byte {
	t.Helper()
	h, err := f.Open(context.Background(), name, syscall.O_RDONLY, 0)
	require.NoError(t, err)
	defer h.Close()
	a, err := f.Stat(context.Background(), name)
	require.NoError(t, err)
	buf := make([]byte, a.Size+10)
	n, err := h.ReadAt(context.Background(), buf, 0)
	require.ErrorIs(t, err, io.EOF)
	return buf[:n]
}

func TestCreateWriteReadAtOffsets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		h, err := f.Open(ctx, "f", syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR, 0o640)
		require.NoError(t, err)
		a, err := f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, sdk.TypeRegular|0o640, a.Mode, "created with exactly perm, no umask")
		if b.owners {
			assert.Equal(t, alice.Uid, a.Uid)
			assert.Equal(t, alice.Gid, a.Gid)
		}

		_, err = h.WriteAt(ctx, []byte("hello world"), 0)
		require.NoError(t, err)
		_, err = h.WriteAt(ctx, []byte("WORLD"), 6)
		require.NoError(t, err)
		// A write past the end leaves a hole of zeros.
		_, err = h.WriteAt(ctx, []byte("end"), 20)
		require.NoError(t, err)
		want := append([]byte("hello WORLD"), make([]byte, 9)...)
		want = append(want, "end"...)

		buf := make([]byte, 5)
		n, err := h.ReadAt(ctx, buf, 6)
		require.NoError(t, err)
		assert.Equal(t, "WORLD", string(buf[:n]))

		buf = make([]byte, 100)
		n, err = h.ReadAt(ctx, buf, 0)
		assert.ErrorIs(t, err, io.EOF)
		assert.Equal(t, want, buf[:n])

		n, err = h.ReadAt(ctx, buf, 23)
		assert.Equal(t, 0, n)
		assert.ErrorIs(t, err, io.EOF, "read at the end")
		n, err = h.ReadAt(ctx, buf, 1000)
		assert.Equal(t, 0, n)
		assert.ErrorIs(t, err, io.EOF, "read past the end")

		st, ok := h.(sdk.FileStater)
		require.True(t, ok)
		ha, err := st.Stat(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, len(want), ha.Size)
		require.NoError(t, h.Sync(ctx, true))
		require.NoError(t, h.Sync(ctx, false))
		require.NoError(t, h.Close())
		assert.Equal(t, syscall.EBADF, errno(h.Close()), "second close")

		_, err = f.Open(ctx, "f", syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR, 0o640)
		assert.Equal(t, syscall.EEXIST, errno(err))
		_, err = f.Open(ctx, "missing", syscall.O_RDONLY, 0)
		assert.Equal(t, syscall.ENOENT, errno(err))
		_, err = f.Open(ctx, "nodir/f", syscall.O_CREAT|syscall.O_RDWR, 0o644)
		assert.Equal(t, syscall.ENOENT, errno(err), "parent must exist")
		_, err = f.Open(ctx, "f/g", syscall.O_CREAT|syscall.O_RDWR, 0o644)
		assert.Equal(t, syscall.ENOTDIR, errno(err), "parent must be a directory")
		_, err = f.Open(ctx, ".", syscall.O_RDONLY, 0)
		assert.Equal(t, syscall.EISDIR, errno(err))
	})
}

func TestOpenFlags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		createFile(t, f, "f", []byte("0123456789"))

		// O_TRUNC empties the file as it opens.
		h, err := f.Open(ctx, "f", syscall.O_WRONLY|syscall.O_TRUNC, 0)
		require.NoError(t, err)
		a, err := f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.EqualValues(t, 0, a.Size)
		_, err = h.WriteAt(ctx, []byte("abc"), 0)
		require.NoError(t, err)
		// A write-only open can still be read by the SDK.
		buf := make([]byte, 3)
		_, err = h.ReadAt(ctx, buf, 0)
		require.NoError(t, err)
		assert.Equal(t, "abc", string(buf))
		require.NoError(t, h.Close())

		// O_APPEND and O_DIRECT are dropped: the SDK places appends.
		h, err = f.Open(ctx, "f", syscall.O_WRONLY|syscall.O_APPEND|syscall.O_DIRECT|syscall.O_SYNC, 0)
		require.NoError(t, err)
		_, err = h.WriteAt(ctx, []byte("Z"), 0)
		require.NoError(t, err)
		require.NoError(t, h.Close())
		assert.Equal(t, "Zbc", string(readFile(t, f, "f")))

		// O_CREAT on an existing file opens it.
		h, err = f.Open(ctx, "f", syscall.O_CREAT|syscall.O_RDONLY, 0o600)
		require.NoError(t, err)
		require.NoError(t, h.Close())
		a, err = f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, sdk.TypeRegular|0o644, a.Mode, "an existing file keeps its mode")
	})
}

func TestTruncate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		createFile(t, f, "f", []byte("0123456789"))
		require.NoError(t, f.Truncate(ctx, "f", 4))
		assert.Equal(t, "0123", string(readFile(t, f, "f")))
		require.NoError(t, f.Truncate(ctx, "f", 8))
		assert.Equal(t, []byte("0123\x00\x00\x00\x00"), readFile(t, f, "f"))

		h, err := f.Open(ctx, "f", syscall.O_RDWR, 0)
		require.NoError(t, err)
		require.NoError(t, h.Truncate(ctx, 2))
		require.NoError(t, h.Truncate(ctx, 3))
		require.NoError(t, h.Close())
		assert.Equal(t, []byte("01\x00"), readFile(t, f, "f"))

		assert.Equal(t, syscall.EINVAL, errno(f.Truncate(ctx, "f", -1)))
		require.NoError(t, f.Mkdir(ctx, "d", 0o755))
		assert.Equal(t, syscall.EISDIR, errno(f.Truncate(ctx, "d", 0)))
		assert.Equal(t, syscall.ENOENT, errno(f.Truncate(ctx, "missing", 0)))
	})
}

func TestDirectories(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		require.NoError(t, f.Mkdir(ctx, "d", 0o750))
		a, err := f.Stat(ctx, "d")
		require.NoError(t, err)
		assert.Equal(t, sdk.TypeDir|0o750, a.Mode)
		if b.owners {
			assert.Equal(t, alice.Uid, a.Uid)
		}
		assert.Equal(t, syscall.EEXIST, errno(f.Mkdir(ctx, "d", 0o755)))
		assert.Equal(t, syscall.ENOENT, errno(f.Mkdir(ctx, "x/y", 0o755)), "no parent")

		const n = 50
		for i := range n {
			createFile(t, f, fmt.Sprintf("d/f%03d", i), []byte{byte(i)})
		}
		require.NoError(t, f.Mkdir(ctx, "d/sub", 0o700))
		ents, err := f.ReadDir(ctx, "d")
		require.NoError(t, err)
		require.Len(t, ents, n+1)
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name)
			require.NotNil(t, e.Attr)
			if e.Name == "sub" {
				assert.Equal(t, sdk.TypeDir, e.Type)
				assert.Equal(t, sdk.TypeDir|0o700, e.Attr.Mode)
			} else {
				assert.Equal(t, sdk.TypeRegular, e.Type)
				assert.EqualValues(t, 1, e.Attr.Size)
			}
		}
		sort.Strings(names)
		assert.Equal(t, "f000", names[0])
		assert.Equal(t, "sub", names[n])

		_, err = f.ReadDir(ctx, "d/f000")
		assert.Equal(t, syscall.ENOTDIR, errno(err))
		assert.Equal(t, syscall.ENOTEMPTY, errno(f.Rmdir(ctx, "d")))
		assert.Equal(t, syscall.ENOTDIR, errno(f.Rmdir(ctx, "d/f000")))
		assert.Equal(t, syscall.EISDIR, errno(f.Unlink(ctx, "d/sub")))
		assert.Equal(t, syscall.EBUSY, errno(f.Rmdir(ctx, ".")))
		for i := range n {
			require.NoError(t, f.Unlink(ctx, fmt.Sprintf("d/f%03d", i)))
		}
		require.NoError(t, f.Rmdir(ctx, "d/sub"))
		require.NoError(t, f.Rmdir(ctx, "d"))
		_, err = f.Stat(ctx, "d")
		assert.Equal(t, syscall.ENOENT, errno(err))
		assert.Equal(t, syscall.ENOENT, errno(f.Unlink(ctx, "d")))
	})
}

func TestRename(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		createFile(t, f, "a", []byte("A"))
		createFile(t, f, "b", []byte("B"))
		require.NoError(t, f.Mkdir(ctx, "d", 0o755))
		require.NoError(t, f.Mkdir(ctx, "e", 0o755))
		createFile(t, f, "e/x", []byte("X"))

		// An open file keeps working after a rename.
		h, err := f.Open(ctx, "a", syscall.O_RDWR, 0)
		require.NoError(t, err)
		require.NoError(t, f.Rename(ctx, "a", "b", 0), "rename over an existing file")
		_, err = h.WriteAt(ctx, []byte("a2"), 0)
		require.NoError(t, err)
		require.NoError(t, h.Close())
		assert.Equal(t, "a2", string(readFile(t, f, "b")))
		_, err = f.Stat(ctx, "a")
		assert.Equal(t, syscall.ENOENT, errno(err))

		createFile(t, f, "c", []byte("C"))
		assert.Equal(t, syscall.EEXIST, errno(f.Rename(ctx, "c", "b", sdk.RenameNoReplace)))
		require.NoError(t, f.Rename(ctx, "c", "c2", sdk.RenameNoReplace))
		require.NoError(t, f.Rename(ctx, "c2", "b", sdk.RenameExchange))
		assert.Equal(t, "C", string(readFile(t, f, "b")))
		require.NoError(t, f.Rename(ctx, "c2", "b", sdk.RenameExchange), "and back")
		assert.Equal(t, syscall.EISDIR, errno(f.Rename(ctx, "b", "d", 0)))
		assert.Equal(t, syscall.ENOTDIR, errno(f.Rename(ctx, "d", "b", 0)))
		assert.Equal(t, syscall.ENOTEMPTY, errno(f.Rename(ctx, "d", "e", 0)))
		assert.Equal(t, syscall.EINVAL, errno(f.Rename(ctx, "e", "e/sub", 0)))
		assert.Equal(t, syscall.ENOENT, errno(f.Rename(ctx, "missing", "z", 0)))
		assert.Equal(t, syscall.ENOENT, errno(f.Rename(ctx, "b", "nodir/z", 0)))

		// A directory moves with its contents, also over an empty one.
		require.NoError(t, f.Rename(ctx, "e", "d", 0))
		assert.Equal(t, "X", string(readFile(t, f, "d/x")))
		require.NoError(t, f.Rename(ctx, "b", "b", 0))
		assert.Equal(t, "a2", string(readFile(t, f, "b")))
	})
}

func TestUnlinkOpenFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		createFile(t, f, "f", []byte("still here"))
		h, err := f.Open(ctx, "f", syscall.O_RDONLY, 0)
		require.NoError(t, err)
		require.NoError(t, f.Unlink(ctx, "f"))
		buf := make([]byte, 10)
		n, err := h.ReadAt(ctx, buf, 0)
		require.NoError(t, err)
		assert.Equal(t, "still here", string(buf[:n]))
		require.NoError(t, h.Close())
	})
}

func TestChmodChownTimes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		createFile(t, f, "f", []byte("x"))
		require.NoError(t, f.Chmod(ctx, "f", 0o4751))
		a, err := f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, sdk.TypeRegular|0o4751, a.Mode)
		require.NoError(t, f.Chmod(ctx, "f", 0o600))

		if b.owners {
			before, err := f.Stat(ctx, "f")
			require.NoError(t, err)
			require.NoError(t, f.Chown(ctx, "f", 42, -1))
			a, err = f.Stat(ctx, "f")
			require.NoError(t, err)
			assert.EqualValues(t, 42, a.Uid)
			assert.Equal(t, before.Gid, a.Gid, "-1 keeps the group")
			require.NoError(t, f.Chown(ctx, "f", -1, 43))
			a, err = f.Stat(ctx, "f")
			require.NoError(t, err)
			assert.EqualValues(t, 42, a.Uid)
			assert.EqualValues(t, 43, a.Gid)
			require.NoError(t, f.Rename(ctx, "f", "g", 0))
			a, err = f.Stat(ctx, "g")
			require.NoError(t, err)
			assert.EqualValues(t, 42, a.Uid, "the owner follows a rename")
			require.NoError(t, f.Rename(ctx, "g", "f", 0))
		}

		at := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
		mt := time.Date(2002, 3, 4, 5, 6, 7, 8000, time.UTC)
		require.NoError(t, f.SetTimes(ctx, "f", at, mt))
		a, err = f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.True(t, a.Atime.Equal(at), "atime %v", a.Atime)
		assert.True(t, a.Mtime.Equal(mt), "mtime %v", a.Mtime)
		assert.False(t, a.Ctime.Before(a.Mtime), "ctime %v is not before mtime", a.Ctime)

		mt2 := mt.Add(time.Hour)
		require.NoError(t, f.SetTimes(ctx, "f", time.Time{}, mt2))
		a, err = f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.True(t, a.Atime.Equal(at), "atime kept: %v", a.Atime)
		assert.True(t, a.Mtime.Equal(mt2), "mtime %v", a.Mtime)

		at2 := at.Add(time.Hour)
		require.NoError(t, f.SetTimes(ctx, "f", at2, time.Time{}))
		a, err = f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.True(t, a.Atime.Equal(at2), "atime %v", a.Atime)
		assert.True(t, a.Mtime.Equal(mt2), "mtime kept: %v", a.Mtime)

		// A time set through an open writable handle survives its close
		// (touch -d, cp -p).
		h, err := f.Open(ctx, "f", syscall.O_WRONLY, 0)
		require.NoError(t, err)
		require.NoError(t, f.SetTimes(ctx, "f", at, mt))
		require.NoError(t, h.Close())
		a, err = f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.True(t, a.Mtime.Equal(mt), "mtime after close: %v", a.Mtime)

		assert.Equal(t, syscall.ENOENT, errno(f.Chmod(ctx, "missing", 0o644)))
		assert.Equal(t, syscall.ENOENT, errno(f.Chown(ctx, "missing", 1, 1)))
		assert.Equal(t, syscall.ENOENT, errno(f.SetTimes(ctx, "missing", at, mt)))
	})
}

func TestStatFS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		st, err := f.StatFS(context.Background())
		require.NoError(t, err)
		assert.NotZero(t, st.Blocks)
		assert.NotZero(t, st.BlockSize)
		assert.NotZero(t, st.BlocksAvail)
		assert.NotZero(t, st.NameMax)
		if !b.host {
			assert.EqualValues(t, defaultCapacity/statfsBlockSize, st.Blocks)
		}
	})
	f, err := NewWithOptions(afero.NewMemMapFs(), &Options{Capacity: 1 << 20, Files: 7})
	require.NoError(t, err)
	st, err := f.StatFS(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sdk.StatFS{BlockSize: 4096, FragSize: 4096, Blocks: 256, BlocksFree: 256, BlocksAvail: 256, Files: 7, FilesFree: 7, NameMax: 255}, st)
}

func TestStatFSHost(t *testing.T) {
	dir := t.TempDir()
	var want syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &want))
	st, err := New(afero.NewBasePathFs(afero.NewOsFs(), dir)).StatFS(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(want.Blocks), st.Blocks)
	assert.Equal(t, uint64(want.Namelen), st.NameMax)
}

func TestSymlinks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		createFile(t, f, "target", []byte("T"))
		err := f.Symlink(ctx, "../not/interpreted", "link")
		if !b.host {
			assert.Equal(t, syscall.EOPNOTSUPP, errno(err))
			return
		}
		assert.True(t, f.SupportsSymlinks())
		require.NoError(t, err)
		got, err := f.Readlink(ctx, "link")
		require.NoError(t, err)
		assert.Equal(t, "../not/interpreted", got, "the target is stored as given")
		a, err := f.Stat(ctx, "link")
		require.NoError(t, err)
		assert.Equal(t, sdk.TypeSymlink, a.Type())
		assert.EqualValues(t, len("../not/interpreted"), a.Size)
		assert.Equal(t, syscall.EEXIST, errno(f.Symlink(ctx, "x", "link")))
		_, err = f.Readlink(ctx, "target")
		assert.Equal(t, syscall.EINVAL, errno(err))
		_, err = f.Open(ctx, "link", syscall.O_RDONLY, 0)
		assert.Equal(t, syscall.ELOOP, errno(err))
		assert.Equal(t, syscall.EOPNOTSUPP, errno(f.Chmod(ctx, "link", 0o600)))

		// Times and owner change on the link, not on what it points to.
		mt := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC)
		require.NoError(t, f.Symlink(ctx, "target", "l2"))
		before, err := f.Stat(ctx, "target")
		require.NoError(t, err)
		require.NoError(t, f.SetTimes(ctx, "l2", mt, mt))
		a, err = f.Stat(ctx, "l2")
		require.NoError(t, err)
		assert.True(t, a.Mtime.Equal(mt))
		after, err := f.Stat(ctx, "target")
		require.NoError(t, err)
		assert.Equal(t, before.Mtime, after.Mtime)
		if b.owners {
			assert.Equal(t, alice.Uid, a.Uid, "a new link belongs to its creator")
			require.NoError(t, f.Chown(ctx, "l2", 77, 78))
			a, err = f.Stat(ctx, "l2")
			require.NoError(t, err)
			assert.EqualValues(t, 77, a.Uid)
			after, err = f.Stat(ctx, "target")
			require.NoError(t, err)
			assert.Equal(t, before.Uid, after.Uid)
		}
		require.NoError(t, f.Unlink(ctx, "link"))
	})
}

func TestConcurrentPositionalIO(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := context.Background()
		h, err := f.Open(ctx, "f", syscall.O_CREAT|syscall.O_RDWR, 0o644)
		require.NoError(t, err)
		defer h.Close()
		const workers, block = 8, 512
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := bytes.Repeat([]byte{byte('a' + w)}, block)
				for round := range 10 {
					off := int64(w*block + round*workers*block)
					if _, err := h.WriteAt(ctx, data, off); err != nil {
						t.Error(err)
						return
					}
					got := make([]byte, block)
					if _, err := h.ReadAt(ctx, got, off); err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(got, data) {
						t.Errorf("worker %d round %d read back %q", w, round, got[:8])
						return
					}
				}
			}()
		}
		wg.Wait()
		a, err := f.Stat(ctx, "f")
		require.NoError(t, err)
		assert.EqualValues(t, workers*block*10, a.Size)
	})
}

func TestUmaskIgnored(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	f := New(afero.NewBasePathFs(afero.NewOsFs(), dir))
	ctx := context.Background()
	h, err := f.Open(ctx, "f", syscall.O_CREAT|syscall.O_WRONLY, 0o666)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, f.Mkdir(ctx, "d", 0o775))
	fi, err := os.Stat(filepath.Join(dir, "f"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o666), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "d"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o775), fi.Mode().Perm())
}

func TestSetgidDirectory(t *testing.T) {
	f := New(afero.NewMemMapFs())
	ctx := context.Background()
	require.NoError(t, f.Mkdir(ctx, "g", 0o755))
	require.NoError(t, f.Chown(ctx, "g", 10, 20))
	require.NoError(t, f.Chmod(ctx, "g", 0o2775))
	require.NoError(t, f.Mkdir(aliceCtx(), "g/sub", 0o755))
	a, err := f.Stat(ctx, "g/sub")
	require.NoError(t, err)
	assert.Equal(t, sdk.TypeDir|0o2755, a.Mode, "a subdirectory inherits set-group-ID")
	assert.Equal(t, alice.Uid, a.Uid)
	assert.EqualValues(t, 20, a.Gid, "and the directory's group")
	createFile(t, f, "g/file", nil)
	a, err = f.Stat(ctx, "g/file")
	require.NoError(t, err)
	assert.EqualValues(t, 20, a.Gid)
	assert.Equal(t, sdk.TypeRegular|0o644, a.Mode)
}

func TestOwnerDefaults(t *testing.T) {
	m := afero.NewMemMapFs()
	require.NoError(t, afero.WriteFile(m, "/f", []byte("x"), 0o644))
	f, err := NewWithOptions(m, &Options{Uid: new(uint32(7)), Gid: new(uint32(8))})
	require.NoError(t, err)
	a, err := f.Stat(context.Background(), "f")
	require.NoError(t, err)
	assert.EqualValues(t, 7, a.Uid)
	assert.EqualValues(t, 8, a.Gid)
	assert.EqualValues(t, 1, a.Nlink)
	assert.Zero(t, a.Ino, "the SDK synthesises inode numbers")
	assert.Equal(t, a.Mtime, a.Atime)
	d, err := f.Stat(context.Background(), ".")
	require.NoError(t, err)
	assert.EqualValues(t, 2, d.Nlink)

	// Without a caller in the context nothing is recorded.
	h, err := f.Open(context.Background(), "g", syscall.O_CREAT|syscall.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	a, err = f.Stat(context.Background(), "g")
	require.NoError(t, err)
	assert.EqualValues(t, 7, a.Uid)
}

func TestOptionsValidation(t *testing.T) {
	for _, root := range []string{"rel", "/a/../b", "/a/", "//a"} {
		_, err := NewWithOptions(afero.NewMemMapFs(), &Options{Root: root})
		require.Error(t, err, root)
		assert.Contains(t, err.Error(), "Options.Root")
	}
	_, err := NewWithOptions(nil, nil)
	require.Error(t, err)
	f, err := NewWithOptions(afero.NewMemMapFs(), &Options{Root: "/sub"})
	require.NoError(t, err)
	assert.Equal(t, syscall.ENOENT, errno(f.Mkdir(context.Background(), "x", 0o755)), "the root must exist")
	require.NoError(t, f.Afero().MkdirAll("/sub", 0o755))
	require.NoError(t, f.Mkdir(context.Background(), "x", 0o755))
	ok, err := afero.DirExists(f.Afero(), "/sub/x")
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestAttrHook(t *testing.T) {
	m := afero.NewMemMapFs()
	require.NoError(t, afero.WriteFile(m, "/f", []byte("x"), 0o644))
	f, err := NewWithOptions(m, &Options{Attr: func(fi os.FileInfo, a *sdk.Attr) {
		if fi.Name() == "f" {
			a.Uid, a.Ino = 99, 1234
		}
	}})
	require.NoError(t, err)
	a, err := f.Stat(context.Background(), "f")
	require.NoError(t, err)
	assert.EqualValues(t, 99, a.Uid)
	assert.EqualValues(t, 1234, a.Ino)
}

// racyCreateFs checks for existence and creates in two steps with a pause
// between them, as MemMapFs does (without the pause): an exclusive create
// racing another one would then both succeed.
type racyCreateFs struct{ afero.Fs }

func (r racyCreateFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
		if _, err := r.Fs.Stat(name); err == nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
		}
		time.Sleep(2 * time.Millisecond)
		return r.Fs.OpenFile(name, flag&^os.O_EXCL|os.O_TRUNC, perm)
	}
	return r.Fs.OpenFile(name, flag, perm)
}

// Concurrent O_CREAT opens of one name must all end up on the same file.
func TestConcurrentCreateSameName(t *testing.T) {
	for round := 0; round < 20; round++ {
		mem := afero.NewMemMapFs()
		fsys := New(racyCreateFs{mem})
		ctx := context.Background()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				f, err := fsys.Open(ctx, "f", syscall.O_CREAT|syscall.O_RDWR, 0o644)
				if !assert.NoError(t, err) {
					return
				}
				_, err = f.WriteAt(ctx, []byte{byte('a' + i)}, int64(i))
				assert.NoError(t, err)
				assert.NoError(t, f.Close())
			}(i)
		}
		close(start)
		wg.Wait()
		data, err := afero.ReadFile(mem, "/f")
		require.NoError(t, err)
		require.Equal(t, "abcd", string(data), "round %d: a writer's data went to a discarded file", round)
	}
}
