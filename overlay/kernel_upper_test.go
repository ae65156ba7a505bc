//go:build linux

package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// The upper an overlay writes must be readable by kernel overlayfs over the
// same lowers. This test changes metadata only through a mounted overlay
// (so that metacopy stubs are written: a renamed lower directory of 415
// files, chmod, chown, utimens, xattrs, hard links, renames within and
// across directories), unmounts it, mounts the same layers with
// `mount -t overlay ... metacopy=on`, and compares every object: type, mode,
// size, data, link target, owner, mtime. Copy-ups were staged in a work
// directory outside the upper, so the kernel shows nothing else.

// upperLowers are the lowers of the test, top first.
func upperLowers() []tree {
	big := tree{}
	for i := range 415 {
		big[fmt.Sprintf("big/f%03d", i)] = fmt.Sprintf("file %d of the big directory\n", i) + strings.Repeat("z", i)
	}
	big["big/sub/deeper/x"] = "deep in big"
	big["chm"] = "chmod me"
	big["own"] = "chown me"
	big["touched"] = "touch me"
	big["xat"] = "xattr me"
	big["link-src"] = "linked"
	big["dir/sub/x"] = "moved across"
	big["sym"] = "->chm"
	big["gone"] = "unlinked"
	big["filled"] = strings.Repeat("f", 5000)
	return []tree{big, {"big/from-lower2": "second lower", "deep/a/b/c": "renamed in place", "same": "lower2"}}
}

// fullView is snapshot plus owner, mtime and user xattrs of every object.
func fullView(t *testing.T, root string) map[string]string {
	t.Helper()
	out := snapshot(t, root, false)
	for rel := range out {
		p := filepath.Join(root, rel)
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(p, &st))
		out[rel] += fmt.Sprintf(" owner=%d:%d", st.Uid, st.Gid)
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A directory's mtime moves with every entry the overlay
			// adds to its upper copy, which the kernel would not add.
			out[rel] += fmt.Sprintf(" mtime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
		}
		v := make([]byte, 64)
		if n, err := unix.Lgetxattr(p, "user.test", v); err == nil {
			out[rel] += " user.test=" + string(v[:n])
		}
	}
	return out
}

func TestKernelReadsMetacopyUpper(t *testing.T) {
	var lowerDirs []string
	var lowers []sdk.FileSystem
	for _, tr := range upperLowers() {
		d := t.TempDir()
		makeTree(t, d, tr)
		lowerDirs = append(lowerDirs, d)
		lowers = append(lowers, pt(t, d))
	}
	upperDir := t.TempDir()
	o, err := New(Config{Upper: pt(t, upperDir), Lowers: lowers, Work: pt(t, t.TempDir())})
	require.NoError(t, err)
	require.Equal(t, MetacopyKernel, o.MetacopyMode(), "a root passthrough upper: kernel metacopy by default")
	srv := sdktest.Mount(t, o, &sdk.Options{AttrTimeout: -1, EntryTimeout: -1, NegativeTimeout: -1, AttrCacheTTL: -1})
	m := func(rel string) string { return filepath.Join(srv.Dir(), rel) }

	require.NoError(t, os.Rename(m("big"), m("renamed")), "a lower directory with 415 files and a subdirectory")
	require.NoError(t, os.Chmod(m("chm"), 0o600))
	require.NoError(t, os.Lchown(m("own"), 123, 456))
	when := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	require.NoError(t, os.Chtimes(m("touched"), when, when))
	require.NoError(t, unix.Lsetxattr(m("xat"), "user.test", []byte("value"), 0))
	require.NoError(t, os.Link(m("link-src"), m("dir/hl")))
	require.NoError(t, os.Mkdir(m("newdir"), 0o750))
	require.NoError(t, os.Rename(m("dir/sub/x"), m("newdir/x")), "a stub moved into a directory that has no lower")
	require.NoError(t, os.Rename(m("deep/a/b/c"), m("deep/a/b/c2")), "a stub renamed in its directory")
	require.NoError(t, os.Rename(m("renamed/f007"), m("same")), "a stub over a lower file of another layer")
	if sdk.Build == "fuse3" { // renameat2 flags reach the overlay only through libfuse3
		require.NoError(t, unix.Renameat2(unix.AT_FDCWD, m("renamed/f010"), unix.AT_FDCWD, m("own"), unix.RENAME_EXCHANGE), "two stubs swapped")
	}
	require.NoError(t, os.Remove(m("gone")))
	require.NoError(t, os.Chmod(m("filled"), 0o640))
	f, err := os.OpenFile(m("filled"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err, "a stub filled by a write")
	_, err = f.WriteString("+tail")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ours := fullView(t, srv.Dir())
	require.NoError(t, srv.Unmount(context.Background()))

	stubs := 0
	require.NoError(t, filepath.Walk(upperDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && isStub(p) {
			stubs++
		}
		return err
	}))
	require.Greater(t, stubs, 415, "the upper holds metacopy stubs, not data")

	kernel := t.TempDir()
	// Whatever is still mounted when the test ends (it unmounts as it goes).
	t.Cleanup(func() { _ = unix.Unmount(kernel, unix.MNT_DETACH) })
	base := fmt.Sprintf("lowerdir=%s,upperdir=%s", strings.Join(lowerDirs, ":"), upperDir)
	// index=on last: it records the lowers' identity in the upper.
	for _, extra := range []string{"metacopy=on,redirect_dir=on,index=off", "metacopy=on,redirect_dir=on,index=on"} {
		opts := base + ",workdir=" + t.TempDir() + "," + extra
		require.NoError(t, unix.Mount("overlay", kernel, "overlay", 0, opts), "mount -t overlay -o %s", opts)
		theirs := fullView(t, kernel)
		require.NoError(t, unix.Unmount(kernel, 0))
		requireSameView(t, theirs, ours, "kernel overlayfs ("+extra+") mounted over the upper this overlay wrote")
		require.Contains(t, theirs["renamed/f414"], "data=file 414 of the big directory")
	}

	// Without metacopy=on the kernel refuses stubs rather than show zeros.
	opts := base + ",workdir=" + t.TempDir()
	require.NoError(t, unix.Mount("overlay", kernel, "overlay", 0, opts), "mount -t overlay -o %s", opts)
	var st unix.Stat_t
	require.ErrorIs(t, unix.Lstat(filepath.Join(kernel, "chm"), &st), unix.EPERM)
	require.NoError(t, unix.Unmount(kernel, 0))
}
