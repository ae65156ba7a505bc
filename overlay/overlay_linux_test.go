//go:build linux

package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

var formats = []WhiteoutFormat{WhiteoutKernel, WhiteoutOCI}

func TestMergedView(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f,
				tree{"a.txt": "l1", "d/x": "x1", "only1": "o"},
				tree{"a.txt": "l2", "b.txt": "b", "d/y": "y2", "d/x": "x2", "e/": "", "link": "->a.txt"},
			)
			assert.ElementsMatch(t, []string{"a.txt", "d", "only1", "b.txt", "e", "link"}, names(t, o, "."))
			assert.ElementsMatch(t, []string{"x", "y"}, names(t, o, "d"))
			assert.Equal(t, "l1", readAll(t, o, "a.txt"))
			assert.Equal(t, "x1", readAll(t, o, "d/x"))
			target, err := o.Readlink(bg, "link")
			require.NoError(t, err)
			assert.Equal(t, "a.txt", target)
			assert.Equal(t, f, o.Format())
		})
	}
}

func TestReadsBothMarkerFormats(t *testing.T) {
	o := newTestOverlay(t, WhiteoutOCI,
		tree{".wh.b": "", "d/.wh..wh..opq": "", "d/new": "n", "e/.wh.gone": ""},
		tree{"b": "b", "c": "c", "d/old": "o", "e/gone": "g", "e/kept": "k", "k/": "", "kd/in": "i"},
	)
	// Kernel format in the top lower: a whiteout device and an opaque xattr.
	l1 := o.lowerDirs[0]
	require.NoError(t, unix.Mknod(filepath.Join(l1, "c"), unix.S_IFCHR, 0))
	require.NoError(t, os.Mkdir(filepath.Join(l1, "kd"), 0o755))
	require.NoError(t, unix.Setxattr(filepath.Join(l1, "kd"), "user.overlay.opaque", []byte("y"), 0))
	require.NoError(t, os.WriteFile(filepath.Join(l1, "kd", "mine"), nil, 0o644))

	assert.ElementsMatch(t, []string{"d", "e", "k", "kd"}, names(t, o, "."))
	assert.ElementsMatch(t, []string{"new"}, names(t, o, "d"))
	assert.ElementsMatch(t, []string{"kept"}, names(t, o, "e"))
	assert.ElementsMatch(t, []string{"mine"}, names(t, o, "kd"))
	for _, gone := range []string{"b", "c", "d/old", "e/gone", "kd/in", ".wh.b"} {
		_, err := o.Stat(bg, gone)
		assert.ErrorIs(t, err, syscall.ENOENT, gone)
	}
}

func TestCopyUpOnWrite(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f, tree{"d/e/file": "hello"})
			require.NoError(t, os.Chmod(filepath.Join(o.lowerDirs[0], "d/e"), 0o750))
			before, err := o.Stat(bg, "d/e/file")
			require.NoError(t, err)

			writeAt(t, o, "d/e/file", oWronly, "J", 0)

			assert.Equal(t, "Jello", readAll(t, o, "d/e/file"))
			data, err := os.ReadFile(filepath.Join(o.upperDir, "d/e/file"))
			require.NoError(t, err)
			assert.Equal(t, "Jello", string(data))
			data, err = os.ReadFile(filepath.Join(o.lowerDirs[0], "d/e/file"))
			require.NoError(t, err)
			assert.Equal(t, "hello", string(data), "the lower is never written")
			st, err := os.Stat(filepath.Join(o.upperDir, "d/e"))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o750), st.Mode().Perm(), "parent copied with its mode")

			after, err := o.Stat(bg, "d/e/file")
			require.NoError(t, err)
			assert.Equal(t, before.Ino, after.Ino, "st_ino survives copy-up")
			ents, err := o.ReadDir(bg, "d/e")
			require.NoError(t, err)
			require.Len(t, ents, 1)
			assert.Equal(t, after.Ino, ents[0].Ino, "readdir and stat agree")
		})
	}
}

func TestOpenTruncSkipsData(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"f": "old contents"})
	writeAt(t, o, "f", oWronly|oTrunc, "new", 0)
	assert.Equal(t, "new", readAll(t, o, "f"))
}

func TestUnlinkAndRmdirLeaveWhiteouts(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f, tree{"a": "a", "d/x": "x", "e/": ""})
			writeAt(t, o, "new", oWronly|oCreat, "n", 0)

			require.NoError(t, o.Unlink(bg, "a"))
			require.NoError(t, o.Unlink(bg, "new"))
			assert.ErrorIs(t, o.Rmdir(bg, "d"), syscall.ENOTEMPTY)
			require.NoError(t, o.Unlink(bg, "d/x"))
			require.NoError(t, o.Rmdir(bg, "d"))
			require.NoError(t, o.Rmdir(bg, "e"))
			assert.Empty(t, names(t, o, "."))

			for _, name := range []string{"a", "d", "e"} {
				if f == WhiteoutKernel {
					assert.True(t, isHostKernelWhiteout(filepath.Join(o.upperDir, name)), name)
				} else {
					assert.True(t, hostExists(filepath.Join(o.upperDir, ".wh."+name)), name)
				}
			}
			assert.False(t, hostExists(filepath.Join(o.upperDir, "new")), "upper-only file leaves no whiteout")
			assert.False(t, hostExists(filepath.Join(o.upperDir, ".wh.new")))

			// Recreating over a whiteout: a directory comes back opaque.
			require.NoError(t, o.Mkdir(bg, "d", 0o755))
			assert.Empty(t, names(t, o, "d"))
			writeAt(t, o, "a", oWronly|oCreat|oExcl, "again", 0)
			assert.Equal(t, "again", readAll(t, o, "a"))
			assert.ElementsMatch(t, []string{"a", "d"}, names(t, o, "."))
		})
	}
}

func TestRenameDirectoryWithLowerContent(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f,
				tree{"src/a": "a", "src/sub/b": "b", "dst/": ""},
				tree{"src/c": "c", "dst/z": "z"},
			)
			require.NoError(t, o.Unlink(bg, "dst/z"))
			inoA, err := o.Stat(bg, "src/a")
			require.NoError(t, err)

			require.NoError(t, o.Rename(bg, "src", "dst", 0))

			_, err = o.Stat(bg, "src")
			assert.ErrorIs(t, err, syscall.ENOENT)
			assert.ElementsMatch(t, []string{"a", "c", "sub"}, names(t, o, "dst"))
			assert.Equal(t, "b", readAll(t, o, "dst/sub/b"))
			assert.Equal(t, "c", readAll(t, o, "dst/c"))
			after, err := o.Stat(bg, "dst/a")
			require.NoError(t, err)
			assert.Equal(t, inoA.Ino, after.Ino)

			// The renamed tree is opaque: the old lower dst content stays gone.
			_, err = o.Stat(bg, "dst/z")
			assert.ErrorIs(t, err, syscall.ENOENT)
		})
	}
}

func TestRenameFileOverLower(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"a": "A", "b": "B"})
	require.NoError(t, o.Rename(bg, "a", "b", 0))
	assert.Equal(t, "A", readAll(t, o, "b"))
	assert.Equal(t, []string{"b"}, names(t, o, "."))
	assert.ErrorIs(t, o.Rename(bg, "b", "c", sdk.RenameExchange), syscall.ENOENT)
	assert.ErrorIs(t, o.Rename(bg, "b", "c", sdk.RenameExchange|sdk.RenameNoReplace), syscall.EINVAL)
}

// RENAME_EXCHANGE swaps two objects whatever layers they come from; a
// directory with lower content moves whole, and the lower directories of
// the two names do not start merging with what lands on them.
func TestRenameExchange(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto,
		tree{"a": "A", "d/x": "dx", "d/sub/y": "dy", "f": "F"},
		tree{"b": "B", "e/z": "ez", "d/w": "dw"})
	ino := func(name string) uint64 {
		a, err := o.Stat(bg, name)
		require.NoError(t, err)
		return a.Ino
	}
	inoA, inoB := ino("a"), ino("b")
	require.NoError(t, o.Rename(bg, "a", "b", sdk.RenameExchange), "two lower files")
	assert.Equal(t, "B", readAll(t, o, "a"))
	assert.Equal(t, "A", readAll(t, o, "b"))
	assert.Equal(t, inoA, ino("b"), "inode numbers travel with the objects")
	assert.Equal(t, inoB, ino("a"))

	require.NoError(t, o.Rename(bg, "d", "f", sdk.RenameExchange), "a merged directory and a lower file")
	assert.Equal(t, "F", readAll(t, o, "d"))
	assert.ElementsMatch(t, []string{"x", "sub", "w"}, names(t, o, "f"))
	assert.Equal(t, "dy", readAll(t, o, "f/sub/y"))
	assert.Equal(t, "dw", readAll(t, o, "f/w"))

	require.NoError(t, o.Mkdir(bg, "n", 0o755))
	require.NoError(t, o.Rename(bg, "n", "e", sdk.RenameExchange), "a new directory and a lower one")
	assert.Empty(t, names(t, o, "e"), "the new directory does not merge with lower e")
	assert.Equal(t, []string{"z"}, names(t, o, "n"))
	assert.Equal(t, "ez", readAll(t, o, "n/z"))

	assert.ErrorIs(t, o.Rename(bg, "f", "f/sub", sdk.RenameExchange), syscall.EINVAL)
	assert.ErrorIs(t, o.Rename(bg, "f/sub", "f", sdk.RenameExchange), syscall.EINVAL)
	require.NoError(t, o.Rename(bg, "a", "a", sdk.RenameExchange))
	assert.ElementsMatch(t, []string{"a", "b", "d", "e", "f", "n"}, names(t, o, "."))
}

func TestMetacopy(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"big": string(make([]byte, 1<<20)) + "tail"})
	require.Equal(t, MetacopyKernel, o.MetacopyMode(), "a root passthrough upper takes the kernel's format")
	require.NoError(t, o.Chmod(bg, "big", 0o600))

	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(o.upperDir, "big"), &st))
	assert.Equal(t, int64(0), st.Blocks, "a chmod copies no data")
	assert.Equal(t, int64(1<<20+4), st.Size)
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(o.upperDir, "big"), xattrTrustedMetacopy, buf)
	require.NoError(t, err, "the kernel's marker")
	assert.Zero(t, n)
	n, err = unix.Lgetxattr(filepath.Join(o.upperDir, "big"), xattrTrustedRedirect, buf)
	require.NoError(t, err)
	assert.Equal(t, "/big", string(buf[:n]))
	_, err = unix.Lgetxattr(filepath.Join(o.upperDir, "big"), xattrMetacopy, nil)
	assert.ErrorIs(t, err, unix.ENODATA, "no fusekit marker")
	a, err := o.Stat(bg, "big")
	require.NoError(t, err)
	assert.Equal(t, uint32(0o600), a.Mode&sdk.PermMask)
	assert.Equal(t, "tail", readAll(t, o, "big")[1<<20:])
	_, err = o.GetXattr(bg, "big", xattrMetacopy)
	assert.ErrorIs(t, err, syscall.ENODATA, "the marker is invisible")

	// Rename keeps it a stub; the first write brings the data.
	require.NoError(t, o.Rename(bg, "big", "moved", 0))
	fh, err := o.Open(bg, "moved", oWronly, 0)
	require.NoError(t, err)
	a2, err := o.Stat(bg, "moved")
	require.NoError(t, err)
	assert.True(t, a.Mtime.Equal(a2.Mtime), "filling the data keeps the file's mtime: %v vs %v", a.Mtime, a2.Mtime)
	_, err = fh.WriteAt(bg, []byte("X"), 0)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	got := readAll(t, o, "moved")
	assert.Equal(t, "X", got[:1])
	assert.Equal(t, "tail", got[1<<20:])
	for _, attr := range []string{xattrTrustedMetacopy, xattrTrustedRedirect} {
		_, err = unix.Getxattr(filepath.Join(o.upperDir, "moved"), attr, nil)
		assert.ErrorIs(t, err, unix.ENODATA, attr)
	}
}

// Without kernel markers the default is a full copy: a stub in fusekit's
// format would read as zeros to anything but this overlay.
func TestMetacopyModes(t *testing.T) {
	o := newTestOverlay(t, WhiteoutOCI, tree{"f": "data"})
	assert.Equal(t, MetacopyOff, o.MetacopyMode(), "OCI markers: no stubs by default")
	require.NoError(t, o.Chmod(bg, "f", 0o600))
	got, err := os.ReadFile(filepath.Join(o.upperDir, "f"))
	require.NoError(t, err)
	assert.Equal(t, "data", string(got), "the upper holds the data")

	o = newTestOverlayCfg(t, Config{Whiteouts: WhiteoutOCI, Metacopy: MetacopyFusekit}, tree{"f": "data"})
	assert.Equal(t, MetacopyFusekit, o.MetacopyMode())
	require.NoError(t, o.Chmod(bg, "f", 0o600))
	v := make([]byte, 16)
	n, err := unix.Lgetxattr(filepath.Join(o.upperDir, "f"), xattrMetacopy, v)
	require.NoError(t, err, "asked for: a fusekit stub")
	assert.Equal(t, "f", string(v[:n]))
	assert.Equal(t, "data", readAll(t, o, "f"))

	_, err = New(Config{Upper: o.upper, Lowers: o.layers[1:], Whiteouts: WhiteoutOCI, Metacopy: MetacopyKernel})
	assert.ErrorContains(t, err, "kernel metacopy needs")

	// Stubs of either format are read whatever the mode.
	for _, mode := range []MetacopyMode{MetacopyOff, MetacopyKernel, MetacopyFusekit} {
		o2, err := New(Config{Upper: o.upper, Lowers: o.layers[1:], Metacopy: mode})
		require.NoError(t, err, mode)
		assert.Equal(t, "data", readAll(t, o2, "f"), mode)
	}
}

// A server that is not root chmods a read-only lower file: the metacopy
// stub gets its marker xattr by path, which needs write permission on the
// stub unless the caller is root, so the stub must be staged writable.
// The overlay runs as uid and gid 65534 on one thread (setfsuid: the
// identity the kernel checks file access with), over layers that 65534
// owns.
func TestMetacopyOfReadOnlyFileAsNonRoot(t *testing.T) {
	o := newTestOverlayCfg(t, Config{Metacopy: MetacopyFusekit}, tree{"d/ro": "data"})
	require.True(t, o.Metacopy())
	const nobody = 65534
	for _, root := range append([]string{o.upperDir}, o.lowerDirs...) {
		require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, nobody, nobody)
		}))
	}
	require.NoError(t, os.Chmod(filepath.Join(o.lowerDirs[0], "d/ro"), 0o444))

	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so its
		// identity cannot pass to another one.
		runtime.LockOSThread()
		_ = unix.Setfsgid(nobody)
		_ = unix.Setfsuid(nobody)
		if uid, _ := unix.SetfsuidRetUid(-1); uid != nobody {
			done <- fmt.Errorf("setfsuid did not take: fsuid %d", uid)
			return
		}
		done <- o.Chmod(bg, "d/ro", 0o440)
	}()
	require.NoError(t, <-done, "chmod of a read-only lower file by a server that is not root")

	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(o.upperDir, "d/ro"), &st))
	assert.Equal(t, uint32(0o440), st.Mode&0o7777, "the final mode, not the staging one")
	assert.Equal(t, uint32(nobody), st.Uid)
	_, err := unix.Getxattr(filepath.Join(o.upperDir, "d/ro"), xattrMetacopy, nil)
	assert.NoError(t, err, "a metacopy stub")
	assert.Equal(t, "data", readAll(t, o, "d/ro"))
}

func TestReservedNames(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"f": ""})
	_, err := o.Open(bg, ".wh.x", oCreat|oWronly, 0o644)
	assert.ErrorIs(t, err, syscall.EINVAL)
	assert.ErrorContains(t, err, "whiteout")
	assert.ErrorIs(t, o.Mkdir(bg, "d/.wh..wh..opq", 0o755), syscall.EINVAL)
	assert.ErrorIs(t, o.Mkdir(bg, ".wh..wh..opq", 0o755), syscall.EINVAL)
	assert.ErrorIs(t, o.Mknod(bg, "dev", sdk.TypeChar, 0), syscall.EPERM, "kernel overlayfs's answer")
	assert.ErrorIs(t, o.Rename(bg, "f", ".wh.f", 0), syscall.EINVAL)
	assert.ErrorIs(t, o.Mkdir(bg, DefaultWorkDir, 0o755), syscall.EINVAL)
	assert.ErrorIs(t, o.SetXattr(bg, "f", "trusted.overlay.opaque", []byte("y"), 0), syscall.EINVAL)
	assert.NotContains(t, names(t, o, "."), DefaultWorkDir)
	_, err = o.Stat(bg, DefaultWorkDir)
	assert.ErrorIs(t, err, syscall.ENOENT)
}

func TestReadOnlyOverlay(t *testing.T) {
	d := t.TempDir()
	makeTree(t, d, tree{"f": "x"})
	o, err := New(Config{Lowers: []sdk.FileSystem{pt(t, d)}})
	require.NoError(t, err)
	assert.Equal(t, "x", readAll(t, o, "f"))
	_, err = o.Open(bg, "f", oWronly, 0)
	assert.ErrorIs(t, err, syscall.EROFS)
	_, err = o.Open(bg, "new", oWronly|oCreat, 0o644)
	assert.ErrorIs(t, err, syscall.EROFS)
	f, err := o.Open(bg, "f", oRdonly|oCreat, 0o644)
	require.NoError(t, err, "O_CREAT of an existing file opens it, as on any read-only filesystem")
	require.NoError(t, f.Close())
	assert.ErrorIs(t, o.Unlink(bg, "f"), syscall.EROFS)
	assert.ErrorIs(t, o.Mkdir(bg, "n", 0o755), syscall.EROFS)
}

func TestHardLinkToLowerCopiesUpOnce(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"f": "data"})
	require.NoError(t, o.Link(bg, "f", "g"))
	a, err := o.Stat(bg, "f")
	require.NoError(t, err)
	b, err := o.Stat(bg, "g")
	require.NoError(t, err)
	assert.Equal(t, a.Ino, b.Ino)
	assert.Equal(t, uint32(2), b.Nlink)
	writeAt(t, o, "g", oWronly|oAppend, "!", 4)
	assert.Equal(t, "data!", readAll(t, o, "f"))
}

// countingFS counts the files the overlay stages in its work directory.
type countingFS struct {
	sdk.FileSystem
	mu     sync.Mutex
	staged int
}

func (c *countingFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if flags&oExcl != 0 && filepath.Dir(name) == DefaultWorkDir {
		c.mu.Lock()
		c.staged++
		c.mu.Unlock()
	}
	return c.FileSystem.Open(ctx, name, flags, perm)
}

func TestConcurrentOpenersCopyUpOnce(t *testing.T) {
	lower := t.TempDir()
	makeTree(t, lower, tree{"f": string(make([]byte, 4<<20))})
	up := &countingFS{FileSystem: pt(t, t.TempDir())}
	o, err := New(Config{Upper: up, Lowers: []sdk.FileSystem{pt(t, lower)}, DisableMetacopy: true})
	require.NoError(t, err)
	up.staged = 0

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			f, err := o.Open(bg, "f", oRdwr, 0)
			if err == nil {
				_, err = f.WriteAt(bg, []byte{byte('a' + i)}, int64(i))
				f.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, up.staged)
	assert.Equal(t, "abcdefgh", readAll(t, o, "f")[:8])
}

// syncCountingFS counts the syncs that reach the upper: fsync of any file
// opened on it, and syncfs.
type syncCountingFS struct {
	sdk.FileSystem
	syncs atomic.Int32
}

type syncCountingFile struct {
	sdk.File
	fs *syncCountingFS
}

func (c *syncCountingFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := c.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &syncCountingFile{File: f, fs: c}, nil
}

func (c *syncCountingFS) SyncFS(ctx context.Context) error {
	c.syncs.Add(1)
	return nil
}

func (f *syncCountingFile) Sync(ctx context.Context, datasync bool) error {
	f.fs.syncs.Add(1)
	return f.File.Sync(ctx, datasync)
}

// TestVolatileSkipsCopyUpSyncs: by default a copy-up is fsync'd before it is
// renamed into place; with Volatile it is not, and the data is the same.
// Either way fsync and syncfs through the overlay reach the upper (a
// write-back upper drains its buffered data on them).
func TestVolatileSkipsCopyUpSyncs(t *testing.T) {
	for _, volatile := range []bool{false, true} {
		t.Run(fmt.Sprintf("volatile=%v", volatile), func(t *testing.T) {
			lower := t.TempDir()
			makeTree(t, lower, tree{"d/f": "lower data", "g": "gg"})
			up := &syncCountingFS{FileSystem: pt(t, t.TempDir())}
			o, err := New(Config{Upper: up, Lowers: []sdk.FileSystem{pt(t, lower)}, Volatile: volatile})
			require.NoError(t, err)

			writeAt(t, o, "d/f", oWronly|oAppend, "!", 10)
			afterFirst := up.syncs.Load()
			f, err := o.Open(bg, "g", oRdwr, 0)
			require.NoError(t, err)
			afterCopyUps := up.syncs.Load()
			require.NoError(t, f.Sync(bg, false))
			require.NoError(t, f.Sync(bg, true))
			require.NoError(t, f.Close())
			require.NoError(t, o.SyncFS(bg))

			if volatile {
				assert.Zero(t, afterCopyUps, "copy-up syncs that reached the upper")
			} else {
				assert.Positive(t, afterFirst, "the copy-up of d/f was not fsync'd")
				assert.Greater(t, afterCopyUps, afterFirst, "the copy-up of g was not fsync'd")
			}
			assert.Equal(t, int32(3), up.syncs.Load()-afterCopyUps, "fsync, fdatasync and syncfs through the overlay reach the upper")
			assert.Equal(t, "lower data!", readAll(t, o, "d/f"))
			assert.Equal(t, "gg", readAll(t, o, "g"))
		})
	}
}

func TestENOSPCDuringCopyUp(t *testing.T) {
	upper := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", upper, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(upper, unix.MNT_DETACH) })
	lower := t.TempDir()
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i%251 + 1)
	}
	makeTree(t, lower, tree{"dir/big": string(big)})
	o, err := New(Config{Upper: pt(t, upper), Lowers: []sdk.FileSystem{pt(t, lower)}})
	require.NoError(t, err)

	_, err = o.Open(bg, "dir/big", oWronly|oAppend, 0)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, "overlay: copy-up of dir/big failed: no space left on device", err.Error())

	assert.False(t, hostExists(filepath.Join(upper, "dir/big")), "no partial copy in the upper")
	left, err := os.ReadDir(filepath.Join(upper, DefaultWorkDir))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary left behind")
	assert.Equal(t, string(big), readAll(t, o, "dir/big"), "the merged view still shows the lower")
	a, err := o.Stat(bg, "dir/big")
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), a.Size)
}

// TestENOSPCThroughMount fills a 1 MiB tmpfs upper with the copy-up of a
// 4 MiB lower file through FUSE: open(2) fails with ENOSPC and nothing
// partial shows.
func TestENOSPCThroughMount(t *testing.T) {
	upper := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", upper, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(upper, unix.MNT_DETACH)) })
	lower := t.TempDir()
	makeTree(t, lower, tree{"big": strings.Repeat("data", 1<<20)})
	o, err := New(Config{Upper: pt(t, upper), Lowers: []sdk.FileSystem{pt(t, lower)}})
	require.NoError(t, err)
	mnt := sdktest.Mount(t, o, nil).Dir()

	_, err = os.OpenFile(filepath.Join(mnt, "big"), os.O_WRONLY|os.O_APPEND, 0)
	require.ErrorIs(t, err, syscall.ENOSPC)
	data, err := os.ReadFile(filepath.Join(mnt, "big"))
	require.NoError(t, err)
	assert.Equal(t, 4<<20, len(data))
	ents, err := os.ReadDir(upper)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the work directory")
	left, err := os.ReadDir(filepath.Join(upper, DefaultWorkDir))
	require.NoError(t, err)
	assert.Empty(t, left)
}
