//go:build linux

package aferofs

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/spf13/afero/tarfs"
	"github.com/spf13/afero/zipfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var archiveTime = time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)

func makeZip(t *testing.T) afero.Fs {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, mode os.FileMode, body string) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: archiveTime}
		h.SetMode(mode)
		fw, err := w.CreateHeader(h)
		require.NoError(t, err)
		_, err = fw.Write([]byte(body))
		require.NoError(t, err)
	}
	add("dir/", os.ModeDir|0o755, "")
	add("dir/hello.txt", 0o644, "hello from zip")
	add("big.bin", 0o600, string(bytes.Repeat([]byte("0123456789"), 10000)))
	require.NoError(t, w.Close())
	r, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	return zipfs.New(r)
}

func makeTar(t *testing.T) afero.Fs {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		h.ModTime = archiveTime
		h.Format = tar.FormatPAX
		require.NoError(t, w.WriteHeader(h))
		_, err := w.Write([]byte(body))
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 11, Gid: 12}, "")
	add(&tar.Header{Name: "dir/hello.txt", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 11, Gid: 12,
		AccessTime: archiveTime.Add(time.Hour)}, "hello from tar")
	add(&tar.Header{Name: "big.bin", Typeflag: tar.TypeReg, Mode: 0o600}, string(bytes.Repeat([]byte("0123456789"), 10000)))
	add(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "dir/hello.txt", Mode: 0o777}, "")
	require.NoError(t, w.Close())
	return tarfs.New(tar.NewReader(&buf))
}

func TestArchives(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) afero.Fs{"zipfs": makeZip, "tarfs": makeTar} {
		t.Run(name, func(t *testing.T) {
			f := New(mk(t))
			ctx := context.Background()
			ents, err := f.ReadDir(ctx, ".")
			require.NoError(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name)
			}
			sort.Strings(names)
			want := []string{"big.bin", "dir"}
			if name == "tarfs" {
				want = append(want, "link")
			}
			assert.Equal(t, want, names)

			a, err := f.Stat(ctx, "dir/hello.txt")
			require.NoError(t, err)
			assert.Equal(t, sdk.TypeRegular|0o644, a.Mode)
			assert.True(t, a.Mtime.Equal(archiveTime), "mtime %v", a.Mtime)
			d, err := f.Stat(ctx, "dir")
			require.NoError(t, err)
			assert.True(t, d.IsDir())

			body := "hello from " + name[:3]
			assert.Equal(t, body, string(readFile(t, f, "dir/hello.txt")))

			h, err := f.Open(ctx, "big.bin", syscall.O_RDONLY|syscall.O_NOATIME|syscall.O_LARGEFILE, 0)
			require.NoError(t, err)
			buf := make([]byte, 25)
			n, err := h.ReadAt(ctx, buf, 99990)
			assert.ErrorIs(t, err, io.EOF)
			assert.Equal(t, "0123456789", string(buf[:n]))
			n, err = h.ReadAt(ctx, buf, 12345)
			require.NoError(t, err)
			assert.Equal(t, "5678901234567890123456789", string(buf[:n]))
			// zipfs panics on this read by itself (afero v1.15.0).
			n, err = h.ReadAt(ctx, buf, 200000)
			assert.Equal(t, 0, n)
			assert.ErrorIs(t, err, io.EOF)
			require.NoError(t, h.Close())

			// Every change is refused as a read-only filesystem.
			_, err = f.Open(ctx, "dir/hello.txt", syscall.O_RDWR, 0)
			assert.Equal(t, syscall.EROFS, errno(err))
			_, err = f.Open(ctx, "new", syscall.O_CREAT|syscall.O_RDONLY, 0o644)
			assert.Equal(t, syscall.EROFS, errno(err))
			assert.Equal(t, syscall.EROFS, errno(f.Mkdir(ctx, "x", 0o755)))
			assert.Equal(t, syscall.EROFS, errno(f.Unlink(ctx, "big.bin")))
			assert.Equal(t, syscall.EROFS, errno(f.Chmod(ctx, "big.bin", 0o644)))
			assert.False(t, f.SupportsSymlinks())
			st, err := f.StatFS(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.BlocksAvail)
		})
	}
}

func TestTarOwnersAndLinks(t *testing.T) {
	f := New(makeTar(t))
	ctx := context.Background()
	a, err := f.Stat(ctx, "dir/hello.txt")
	require.NoError(t, err)
	assert.EqualValues(t, 11, a.Uid)
	assert.EqualValues(t, 12, a.Gid)
	assert.True(t, a.Atime.Equal(archiveTime.Add(time.Hour)), "atime %v", a.Atime)
	l, err := f.Stat(ctx, "link")
	require.NoError(t, err)
	assert.Equal(t, sdk.TypeSymlink, l.Type())
	assert.EqualValues(t, len("dir/hello.txt"), l.Size)
	target, err := f.Readlink(ctx, "link")
	require.NoError(t, err)
	assert.Equal(t, "dir/hello.txt", target)
}

func TestReadOnlyFs(t *testing.T) {
	m := afero.NewMemMapFs()
	require.NoError(t, afero.WriteFile(m, "/f", []byte("data"), 0o644))
	f := New(afero.NewReadOnlyFs(m))
	ctx := context.Background()
	assert.Equal(t, "data", string(readFile(t, f, "f")))
	_, err := f.Open(ctx, "f", syscall.O_WRONLY, 0)
	assert.Equal(t, syscall.EROFS, errno(err))
	_, err = f.Open(ctx, "f", syscall.O_RDONLY|syscall.O_TRUNC, 0)
	assert.Equal(t, syscall.EROFS, errno(err))
	_, err = f.Open(ctx, "f", syscall.O_RDONLY|syscall.O_CREAT|syscall.O_EXCL, 0o644)
	assert.Equal(t, syscall.EEXIST, errno(err))
	h, err := f.Open(ctx, "f", syscall.O_RDONLY|syscall.O_CREAT, 0o644)
	require.NoError(t, err, "O_CREAT of an existing file needs no write")
	require.NoError(t, h.Close())
	for name, err := range map[string]error{
		"mkdir":    f.Mkdir(ctx, "d", 0o755),
		"unlink":   f.Unlink(ctx, "f"),
		"rmdir":    f.Rmdir(ctx, "d"),
		"rename":   f.Rename(ctx, "f", "g", 0),
		"truncate": f.Truncate(ctx, "f", 0),
		"chmod":    f.Chmod(ctx, "f", 0o600),
		"chown":    f.Chown(ctx, "f", 1, 1),
		"utimens":  f.SetTimes(ctx, "f", time.Now(), time.Now()),
		"symlink":  f.Symlink(ctx, "f", "l"),
	} {
		assert.Equal(t, syscall.EROFS, errno(err), name)
	}

	// Under another wrapper the ReadOnlyFs answers itself: EPERM.
	hidden := New(afero.NewBasePathFs(afero.NewReadOnlyFs(m), "/"))
	assert.Equal(t, syscall.EPERM, errno(hidden.Chmod(ctx, "f", 0o600)))
}

func TestCopyOnWriteKeepsMode(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/f", []byte("base"), 0o640))
	require.NoError(t, os.Chmod(dir+"/f", 0o640))
	require.NoError(t, os.Mkdir(dir+"/d", 0o750))
	require.NoError(t, os.Chmod(dir+"/d", 0o750))
	layer := afero.NewMemMapFs()
	f := New(afero.NewCopyOnWriteFs(afero.NewReadOnlyFs(afero.NewBasePathFs(afero.NewOsFs(), dir)), layer))
	ctx := context.Background()
	before, err := f.Stat(ctx, "f")
	require.NoError(t, err)

	h, err := f.Open(ctx, "f", syscall.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = h.WriteAt(ctx, []byte("B"), 0)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	assert.Equal(t, "Base", string(readFile(t, f, "f")))
	got, err := os.ReadFile(dir + "/f")
	require.NoError(t, err)
	assert.Equal(t, "base", string(got), "the base is untouched")

	after, err := f.Stat(ctx, "f")
	require.NoError(t, err)
	assert.Equal(t, before.Mode, after.Mode, "copy-up keeps the mode")
	assert.Equal(t, before.Uid, after.Uid, "and the owner")

	createFile(t, f, "d/new", []byte("n"))
	d, err := f.Stat(ctx, "d")
	require.NoError(t, err)
	assert.Equal(t, sdk.TypeDir|0o750, d.Mode, "a directory copied up for a new file keeps its mode")
}

// noPositional hides ReadAt and WriteAt the way some afero backends do.
type noPositional struct{ afero.File }

func (noPositional) ReadAt([]byte, int64) (int, error)  { return 0, errors.ErrUnsupported }
func (noPositional) WriteAt([]byte, int64) (int, error) { return 0, syscall.ENOSYS }

type noPositionalFs struct{ afero.Fs }

func (n noPositionalFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := n.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noPositional{f}, nil
}

func TestSeekFallback(t *testing.T) {
	f := New(noPositionalFs{afero.NewMemMapFs()})
	ctx := context.Background()
	h, err := f.Open(ctx, "f", syscall.O_CREAT|syscall.O_RDWR, 0o644)
	require.NoError(t, err)
	_, err = h.WriteAt(ctx, []byte("0123456789"), 0)
	require.NoError(t, err)
	_, err = h.WriteAt(ctx, []byte("ab"), 4)
	require.NoError(t, err)
	buf := make([]byte, 6)
	n, err := h.ReadAt(ctx, buf, 2)
	require.NoError(t, err)
	assert.Equal(t, "23ab67", string(buf[:n]))
	n, err = h.ReadAt(ctx, buf, 8)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "89", string(buf[:n]))
	require.NoError(t, h.Close())
}

func TestMemTableForgetsDeletedFiles(t *testing.T) {
	f := New(afero.NewMemMapFs())
	ctx := aliceCtx()
	createFile(t, f, "f", []byte("x"))
	require.NoError(t, f.Chown(ctx, "f", 3, 4))
	// The root directory has an entry too (its ctime changed).
	require.Equal(t, 2, f.mem.len())
	require.NoError(t, f.Unlink(ctx, "f"))
	// The entry goes when the collector frees the file's data. Cleanups run
	// on their own goroutine after a cycle; a few cycles are plenty.
	for i := 0; i < 100 && f.mem.len() > 1; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	assert.Equal(t, 1, f.mem.len())
}

func TestSupportsSymlinks(t *testing.T) {
	assert.False(t, New(afero.NewMemMapFs()).SupportsSymlinks())
	assert.False(t, New(afero.NewBasePathFs(afero.NewMemMapFs(), "/")).SupportsSymlinks())
	assert.False(t, New(ToAfero(New(afero.NewMemMapFs()))).SupportsSymlinks())
	assert.True(t, New(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())).SupportsSymlinks())
	assert.True(t, New(ToAfero(New(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())))).SupportsSymlinks())
}
