package sftpfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/sftpfs"
	"github.com/fusekit/fusekit/adapters/sftpfs/sshdtest"
	"github.com/fusekit/fusekit/sdk"
	"github.com/pkg/sftp"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// remote is an Fs over a real sshd, rooted at dir: the server runs on this
// machine, so dir is also where the test checks what happened.
type remote struct {
	fs  *sftpfs.Fs
	dir string
}

// serve starts a server for the test and returns a function that gives each
// subtest its own root directory on it.
func serve(t *testing.T) func(t *testing.T) remote {
	srv := sshdtest.Start(t)
	client, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	return func(t *testing.T) remote {
		dir := t.TempDir()
		fsys, err := sftpfs.New(client, dir)
		require.NoError(t, err)
		return remote{fs: fsys, dir: dir}
	}
}

func requireErrno(t *testing.T, want syscall.Errno, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	assert.Equal(t, want, sdk.Errno(err), append([]any{"%v", err}, msgAndArgs...)...)
}

func hostMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Mode()
}

func TestAferoOverRealServer(t *testing.T) {
	root := serve(t)

	t.Run("CreateWriteRead", func(t *testing.T) {
		r := root(t)
		f, err := r.fs.Create("/a.txt")
		require.NoError(t, err)
		assert.Equal(t, "/a.txt", f.Name())
		_, err = f.WriteString("hello, ")
		require.NoError(t, err)
		_, err = f.Write([]byte("world"))
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		require.NoError(t, f.Close())
		requireErrno(t, syscall.EBADF, f.Close(), "second close")

		got, err := os.ReadFile(filepath.Join(r.dir, "a.txt"))
		require.NoError(t, err)
		assert.Equal(t, "hello, world", string(got))

		got, err = afero.ReadFile(r.fs, "a.txt")
		require.NoError(t, err)
		assert.Equal(t, "hello, world", string(got))

		f, err = r.fs.Open("a.txt")
		require.NoError(t, err)
		defer f.Close()
		pos, err := f.Seek(-5, io.SeekEnd)
		require.NoError(t, err)
		assert.EqualValues(t, 7, pos)
		rest, err := io.ReadAll(f)
		require.NoError(t, err)
		assert.Equal(t, "world", string(rest))
		_, err = f.Read(make([]byte, 1))
		assert.Equal(t, io.EOF, err, "end of file is a bare io.EOF")
	})

	t.Run("ReadAtWriteAtOffsets", func(t *testing.T) {
		r := root(t)
		f, err := r.fs.OpenFile("f", os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.WriteAt([]byte("world"), 6)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte("hello "), 0)
		require.NoError(t, err)

		buf := make([]byte, 5)
		n, err := f.ReadAt(buf, 6)
		require.NoError(t, err)
		assert.Equal(t, "world", string(buf[:n]))

		// A read that crosses the end returns what there is and io.EOF.
		buf = make([]byte, 8)
		n, err = f.ReadAt(buf, 8)
		assert.Equal(t, io.EOF, err)
		assert.Equal(t, "rld", string(buf[:n]))
		n, err = f.ReadAt(buf, 100)
		assert.Equal(t, io.EOF, err)
		assert.Zero(t, n)

		// Writing past the end leaves a hole of zeros.
		_, err = f.WriteAt([]byte("!"), 20)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(r.dir, "f"))
		require.NoError(t, err)
		assert.Equal(t, "hello world\x00\x00\x00\x00\x00\x00\x00\x00\x00!", string(got))

		// A read far larger than one SFTP packet is split by pkg/sftp into
		// concurrent requests; ReadAt still fills the buffer exactly.
		big := bytes.Repeat([]byte("0123456789abcdef"), 300_000/16)
		_, err = f.WriteAt(big, 1000)
		require.NoError(t, err)
		buf = make([]byte, len(big))
		n, err = f.ReadAt(buf, 1000)
		require.NoError(t, err)
		require.Equal(t, len(big), n)
		assert.True(t, bytes.Equal(big, buf))

		_, err = f.ReadAt(buf, -1)
		requireErrno(t, syscall.EINVAL, err)
		_, err = f.WriteAt(buf, -1)
		requireErrno(t, syscall.EINVAL, err)
	})

	t.Run("Truncate", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "t", []byte("0123456789"), 0o644))
		f, err := r.fs.OpenFile("t", os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, f.Truncate(4))
		fi, err := f.Stat()
		require.NoError(t, err)
		assert.EqualValues(t, 4, fi.Size())
		require.NoError(t, f.Truncate(6))
		got, err := os.ReadFile(filepath.Join(r.dir, "t"))
		require.NoError(t, err)
		assert.Equal(t, "0123\x00\x00", string(got))
		requireErrno(t, syscall.EINVAL, f.Truncate(-1))

		// O_TRUNC empties an existing file.
		g, err := r.fs.OpenFile("t", os.O_WRONLY|os.O_TRUNC, 0)
		require.NoError(t, err)
		require.NoError(t, g.Close())
		fi, err = r.fs.Stat("t")
		require.NoError(t, err)
		assert.Zero(t, fi.Size())
	})

	t.Run("OpenFlagsAndPermissions", func(t *testing.T) {
		r := root(t)
		// The requested bits exactly, whatever the server's umask.
		for name, perm := range map[string]os.FileMode{"p600": 0o600, "p777": 0o777, "p640": 0o640} {
			f, err := r.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE, perm)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			assert.Equal(t, perm, hostMode(t, filepath.Join(r.dir, name)), name)
		}
		// An existing file keeps its mode: perm is for files OpenFile creates.
		f, err := r.fs.OpenFile("p600", os.O_RDWR|os.O_CREATE, 0o777)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		assert.Equal(t, os.FileMode(0o600), hostMode(t, filepath.Join(r.dir, "p600")))

		_, err = r.fs.OpenFile("p600", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		requireErrno(t, syscall.EEXIST, err)
		assert.ErrorIs(t, err, fs.ErrExist)

		_, err = r.fs.Open("missing")
		requireErrno(t, syscall.ENOENT, err)
		assert.True(t, os.IsNotExist(err))
		_, err = r.fs.OpenFile("missing/child", os.O_RDWR|os.O_CREATE, 0o644)
		requireErrno(t, syscall.ENOENT, err)

		require.NoError(t, os.Mkdir(filepath.Join(r.dir, "d"), 0o755))
		_, err = r.fs.OpenFile("d", os.O_RDWR, 0)
		requireErrno(t, syscall.EISDIR, err)
		_, err = r.fs.OpenFile("d", os.O_WRONLY|os.O_CREATE, 0o644)
		requireErrno(t, syscall.EISDIR, err)

		// The access mode is enforced here: OpenSSH would say "no such file".
		ro, err := r.fs.Open("p600")
		require.NoError(t, err)
		defer ro.Close()
		_, err = ro.Write([]byte("x"))
		requireErrno(t, syscall.EBADF, err)
		_, err = ro.WriteAt([]byte("x"), 0)
		requireErrno(t, syscall.EBADF, err)
		wo, err := r.fs.OpenFile("p600", os.O_WRONLY, 0)
		require.NoError(t, err)
		defer wo.Close()
		_, err = wo.Read(make([]byte, 1))
		requireErrno(t, syscall.EBADF, err)

		// Reading a directory handle is EISDIR.
		d, err := r.fs.Open("d")
		require.NoError(t, err)
		defer d.Close()
		_, err = d.Read(make([]byte, 1))
		requireErrno(t, syscall.EISDIR, err)
	})

	t.Run("Append", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "log", []byte("one\n"), 0o644))
		f, err := r.fs.OpenFile("log", os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.WriteString("two\n")
		require.NoError(t, err)
		_, err = f.WriteAt([]byte("x"), 0)
		assert.ErrorContains(t, err, "O_APPEND")
		got, err := os.ReadFile(filepath.Join(r.dir, "log"))
		require.NoError(t, err)
		assert.Equal(t, "one\ntwo\n", string(got))
	})

	t.Run("Rename", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "src", []byte("new"), 0o644))
		require.NoError(t, afero.WriteFile(r.fs, "dst", []byte("old"), 0o644))
		// Over an existing file, as rename(2) does.
		require.NoError(t, r.fs.Rename("src", "dst"))
		got, err := os.ReadFile(filepath.Join(r.dir, "dst"))
		require.NoError(t, err)
		assert.Equal(t, "new", string(got))
		assert.NoFileExists(t, filepath.Join(r.dir, "src"))

		requireErrno(t, syscall.ENOENT, r.fs.Rename("src", "x"))

		require.NoError(t, r.fs.MkdirAll("full/sub", 0o755))
		require.NoError(t, r.fs.Mkdir("empty", 0o755))
		requireErrno(t, syscall.EISDIR, r.fs.Rename("dst", "empty"))
		requireErrno(t, syscall.ENOTDIR, r.fs.Rename("empty", "dst"))
		requireErrno(t, syscall.ENOTEMPTY, r.fs.Rename("empty", "full"))
		requireErrno(t, syscall.EINVAL, r.fs.Rename("full", "full/sub/inside"))
		requireErrno(t, syscall.EBUSY, r.fs.Rename("/", "elsewhere"))
		// A directory replaces an empty one.
		require.NoError(t, r.fs.Rename("full", "empty"))
		assert.DirExists(t, filepath.Join(r.dir, "empty/sub"))

		var le *os.LinkError
		err = r.fs.Rename("nope", "x")
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "nope", le.Old)
	})

	t.Run("RemoveAndRemoveAll", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "file", nil, 0o644))
		require.NoError(t, r.fs.MkdirAll("tree/a/b", 0o755))
		require.NoError(t, afero.WriteFile(r.fs, "tree/a/b/leaf", []byte("x"), 0o644))
		require.NoError(t, r.fs.SymlinkIfPossible("/", "tree/link-to-root"))
		require.NoError(t, r.fs.Mkdir("empty", 0o755))

		require.NoError(t, r.fs.Remove("file"))
		requireErrno(t, syscall.ENOENT, r.fs.Remove("file"))
		require.NoError(t, r.fs.Remove("empty"))
		requireErrno(t, syscall.ENOTEMPTY, r.fs.Remove("tree"))
		requireErrno(t, syscall.EBUSY, r.fs.Remove(""))
		requireErrno(t, syscall.EBUSY, r.fs.RemoveAll("/"))

		// RemoveAll does not follow the link to "/".
		require.NoError(t, r.fs.RemoveAll("tree"))
		assert.NoDirExists(t, filepath.Join(r.dir, "tree"))
		assert.DirExists(t, "/usr")
		require.NoError(t, r.fs.RemoveAll("tree"), "a missing name is not an error")
	})

	t.Run("MkdirAndMkdirAll", func(t *testing.T) {
		r := root(t)
		require.NoError(t, r.fs.Mkdir("d", 0o750))
		assert.Equal(t, os.ModeDir|0o750, hostMode(t, filepath.Join(r.dir, "d")))
		err := r.fs.Mkdir("d", 0o750)
		requireErrno(t, syscall.EEXIST, err)
		assert.ErrorIs(t, err, fs.ErrExist)
		requireErrno(t, syscall.ENOENT, r.fs.Mkdir("no/such/parent", 0o755))

		require.NoError(t, r.fs.MkdirAll("x/y/z", 0o700))
		assert.Equal(t, os.ModeDir|0o700, hostMode(t, filepath.Join(r.dir, "x/y")))
		assert.Equal(t, os.ModeDir|0o700, hostMode(t, filepath.Join(r.dir, "x/y/z")))
		require.NoError(t, r.fs.MkdirAll("x/y/z", 0o700), "existing directory")
		require.NoError(t, afero.WriteFile(r.fs, "x/file", nil, 0o644))
		requireErrno(t, syscall.ENOTDIR, r.fs.MkdirAll("x/file", 0o755))
	})

	t.Run("Readdir", func(t *testing.T) {
		r := root(t)
		require.NoError(t, r.fs.Mkdir("dir", 0o755))
		for _, name := range []string{"c", "a", "b", "e", "d"} {
			require.NoError(t, afero.WriteFile(r.fs, "dir/"+name, []byte(name), 0o644))
		}
		require.NoError(t, r.fs.Mkdir("dir/sub", 0o755))

		d, err := r.fs.Open("dir")
		require.NoError(t, err)
		defer d.Close()
		var names []string
		for {
			page, err := d.Readdirnames(4)
			names = append(names, page...)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			assert.LessOrEqual(t, len(page), 4)
		}
		assert.ElementsMatch(t, []string{"a", "b", "c", "d", "e", "sub"}, names)
		rest, err := d.Readdir(-1)
		require.NoError(t, err, "n <= 0 at the end is not io.EOF")
		assert.Empty(t, rest)

		infos, err := afero.ReadDir(r.fs, "dir")
		require.NoError(t, err)
		require.Len(t, infos, 6)
		assert.Equal(t, "a", infos[0].Name())
		assert.EqualValues(t, 1, infos[0].Size())
		assert.True(t, infos[5].IsDir())

		f, err := r.fs.Open("dir/a")
		require.NoError(t, err)
		defer f.Close()
		_, err = f.Readdir(-1)
		requireErrno(t, syscall.ENOTDIR, err)

		var walked []string
		require.NoError(t, afero.Walk(r.fs, "/", func(p string, _ os.FileInfo, err error) error {
			walked = append(walked, p)
			return err
		}))
		assert.Equal(t, []string{"/", "/dir", "/dir/a", "/dir/b", "/dir/c", "/dir/d", "/dir/e", "/dir/sub"}, walked)
	})

	t.Run("ChmodChownChtimes", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "f", nil, 0o644))
		host := filepath.Join(r.dir, "f")

		require.NoError(t, r.fs.Chmod("f", 0o4751|os.ModeSetuid))
		assert.Equal(t, os.ModeSetuid|0o751, hostMode(t, host))

		mtime := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
		atime := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
		require.NoError(t, r.fs.Chtimes("f", atime, mtime))
		fi, err := r.fs.Stat("f")
		require.NoError(t, err)
		assert.True(t, fi.ModTime().Equal(mtime.Truncate(time.Second)), "%v", fi.ModTime())
		st := fi.Sys().(*sftp.FileStat)
		assert.EqualValues(t, atime.Unix(), st.Atime)

		// A zero time keeps that time.
		later := mtime.Add(time.Hour)
		require.NoError(t, r.fs.Chtimes("f", time.Time{}, later))
		fi, err = r.fs.Stat("f")
		require.NoError(t, err)
		assert.EqualValues(t, atime.Unix(), fi.Sys().(*sftp.FileStat).Atime)
		assert.EqualValues(t, later.Unix(), fi.ModTime().Unix())

		err = r.fs.Chtimes("f", atime, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
		requireErrno(t, syscall.EINVAL, err)
		assert.ErrorContains(t, err, "1970 to 2106")

		require.NoError(t, r.fs.Chown("f", 1234, -1))
		var hst syscall.Stat_t
		require.NoError(t, syscall.Stat(host, &hst))
		assert.EqualValues(t, 1234, hst.Uid)
		assert.EqualValues(t, os.Getgid(), hst.Gid, "-1 keeps the group")
		require.NoError(t, r.fs.Chown("f", -1, 4321))
		require.NoError(t, syscall.Stat(host, &hst))
		assert.EqualValues(t, 1234, hst.Uid)
		assert.EqualValues(t, 4321, hst.Gid)
		requireErrno(t, syscall.EINVAL, r.fs.Chown("f", -2, 0))

		requireErrno(t, syscall.ENOENT, r.fs.Chmod("missing", 0o644))
	})

	t.Run("Symlinks", func(t *testing.T) {
		r := root(t)
		require.NoError(t, afero.WriteFile(r.fs, "target", []byte("data"), 0o644))
		require.NoError(t, r.fs.SymlinkIfPossible("target", "rel"))
		require.NoError(t, r.fs.SymlinkIfPossible("/etc/hostname", "abs"))
		require.NoError(t, r.fs.SymlinkIfPossible("dangling/../x", "dangling"))

		for link, want := range map[string]string{"rel": "target", "abs": "/etc/hostname", "dangling": "dangling/../x"} {
			got, err := r.fs.ReadlinkIfPossible(link)
			require.NoError(t, err)
			assert.Equal(t, want, got, "targets are stored verbatim")
			host, err := os.Readlink(filepath.Join(r.dir, link))
			require.NoError(t, err)
			assert.Equal(t, want, host)
		}

		fi, lstatCalled, err := r.fs.LstatIfPossible("rel")
		require.NoError(t, err)
		assert.True(t, lstatCalled)
		assert.Equal(t, os.ModeSymlink, fi.Mode().Type())
		fi, err = r.fs.Stat("rel")
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "Stat follows the link")
		assert.EqualValues(t, 4, fi.Size())
		got, err := afero.ReadFile(r.fs, "rel")
		require.NoError(t, err)
		assert.Equal(t, "data", string(got))

		requireErrno(t, syscall.EEXIST, r.fs.SymlinkIfPossible("x", "rel"))
		_, err = r.fs.ReadlinkIfPossible("target")
		requireErrno(t, syscall.EINVAL, err)
		_, err = r.fs.ReadlinkIfPossible("missing")
		requireErrno(t, syscall.ENOENT, err)
		_, _, err = r.fs.LstatIfPossible("missing")
		requireErrno(t, syscall.ENOENT, err)
	})

	t.Run("ConfinedToRoot", func(t *testing.T) {
		r := root(t)
		require.NoError(t, os.WriteFile(filepath.Join(r.dir, "inside"), []byte("in"), 0o644))
		sub := filepath.Join(r.dir, "sub")
		require.NoError(t, os.Mkdir(sub, 0o755))
		fsys, err := sftpfs.New(r.fs.Client(), sub)
		require.NoError(t, err)
		assert.Equal(t, sub, fsys.Root())

		require.NoError(t, afero.WriteFile(fsys, "/f", []byte("x"), 0o644))
		assert.FileExists(t, filepath.Join(sub, "f"), "/ is the root, not the server's /")
		for _, name := range []string{"../inside", "/../inside", "a/../../inside"} {
			_, err := fsys.Open(name)
			requireErrno(t, syscall.EINVAL, err, name)
			assert.ErrorIs(t, err, fs.ErrInvalid)
		}
		requireErrno(t, syscall.EINVAL, fsys.Rename("f", "../stolen"))
		requireErrno(t, syscall.EINVAL, fsys.SymlinkIfPossible("t", "../l"))
		requireErrno(t, syscall.EINVAL, fsys.Mkdir("x\x00y", 0o755))
		assert.NoFileExists(t, filepath.Join(r.dir, "stolen"))

		_, err = sftpfs.New(r.fs.Client(), filepath.Join(r.dir, "inside"))
		assert.ErrorContains(t, err, "is not a directory")
		_, err = sftpfs.New(r.fs.Client(), filepath.Join(r.dir, "missing"))
		assert.Equal(t, syscall.ENOENT, sdk.Errno(err))
	})

	t.Run("ConcurrentReadAtAndWriteAt", func(t *testing.T) {
		r := root(t)
		const chunk, chunks = 40 << 10, 12
		content := make([]byte, chunk*chunks)
		for i := range content {
			content[i] = byte(i * 7 / 3)
		}
		f, err := r.fs.OpenFile("big", os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		defer f.Close()

		// Writers fill disjoint chunks at once, out of order.
		var wg sync.WaitGroup
		errs := make(chan error, 2*chunks)
		for i := chunks - 1; i >= 0; i-- {
			wg.Go(func() {
				off := int64(i * chunk)
				if _, err := f.WriteAt(content[off:off+chunk], off); err != nil {
					errs <- fmt.Errorf("write chunk %d: %w", i, err)
				}
			})
		}
		wg.Wait()

		// Readers read overlapping ranges of the same handle at once.
		for i := range 2 * chunks {
			wg.Go(func() {
				off := int64(i * chunk / 2)
				buf := make([]byte, chunk+100)
				n, err := f.ReadAt(buf, off)
				want := content[off:min(off+int64(len(buf)), int64(len(content)))]
				if err != nil && !(errors.Is(err, io.EOF) && n == len(want)) {
					errs <- fmt.Errorf("read at %d: n=%d: %w", off, n, err)
					return
				}
				if !bytes.Equal(want, buf[:n]) {
					errs <- fmt.Errorf("read at %d returned other bytes", off)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got, err := os.ReadFile(filepath.Join(r.dir, "big"))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(content, got))
	})
}

func TestDial(t *testing.T) {
	srv := sshdtest.Start(t)
	dir := t.TempDir()

	fsys, closer, err := sftpfs.Dial(srv.Addr, srv.User, srv.Signer, srv.HostKey, sftpfs.WithRoot(dir),
		sftpfs.WithTimeout(30*time.Second), sftpfs.WithClientOptions(sftp.UseConcurrentWrites(true)))
	require.NoError(t, err)
	require.NoError(t, afero.WriteFile(fsys, "hello", []byte("hi"), 0o600))
	got, err := os.ReadFile(filepath.Join(dir, "hello"))
	require.NoError(t, err)
	assert.Equal(t, "hi", string(got))

	require.NoError(t, closer.Close())
	require.NoError(t, closer.Close(), "Close is idempotent")
	_, err = fsys.Stat("hello")
	assert.Error(t, err, "the session is gone")

	// Whole server by default.
	fsys, closer, err = sftpfs.Dial(srv.Addr, srv.User, srv.Signer, srv.HostKey)
	require.NoError(t, err)
	assert.Equal(t, "/", fsys.Root())
	fi, err := fsys.Stat(filepath.Join(dir, "hello"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, fi.Size())
	require.NoError(t, closer.Close())

	// The host key is pinned.
	_, _, err = sftpfs.Dial(srv.Addr, srv.User, srv.Signer, srv.Signer.PublicKey())
	assert.ErrorContains(t, err, "host key mismatch")

	_, _, err = sftpfs.Dial(srv.Addr, srv.User, nil, srv.HostKey)
	assert.ErrorContains(t, err, "signer is nil")
	_, _, err = sftpfs.Dial(srv.Addr, srv.User, srv.Signer, nil)
	assert.ErrorContains(t, err, "hostKey is nil")
	_, _, err = sftpfs.Dial(srv.Addr, srv.User, srv.Signer, srv.HostKey, sftpfs.WithRoot(filepath.Join(dir, "missing")))
	assert.ErrorContains(t, err, "missing")
}
