//go:build linux

package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// Differential tests of attributes the merged-view comparison of
// kernel_diff_test.go leaves out: directory times and link counts.

// attrLowers are the lower layers, top first: a lower-only tree (d) with a
// deep subdirectory, a directory merged from both lowers (m), and
// directories whose subdirectory counts differ per layer (data, base).
var attrLowers = []tree{
	{"d/f": "f", "d/deep/z": "z", "m/x": "x", "m/sub/a": "a", "p/q/r": "r", "data/a/": "", "base/one/": ""},
	{"m/y": "y", "m/sub/b": "b", "m/low/": "", "data/b/": "", "data/c/": "", "data/file": "f", "solo/s1/": "", "solo/s2/": ""},
}

// oldTime is the base of the lowers' times: far enough in the past that a
// time set by an operation of the test can never be mistaken for one.
var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// ageTree gives every object under root its own old mtime and atime,
// derived from its name, so that both sides' copies get the same ones.
func ageTree(t *testing.T, root string) {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	}))
	sort.Strings(paths)
	for i, p := range paths {
		ts := unix.NsecToTimespec(oldTime.Add(time.Duration(i) * time.Hour).UnixNano())
		require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// mountAttrPair mounts kernel overlayfs (with kopts added to its options)
// and this overlay over identical copies of attrLowers and returns the two
// merged directories.
func mountAttrPair(t *testing.T, kopts string) (kernel, ours string) {
	t.Helper()
	var lk, lo []string
	for _, tr := range attrLowers {
		k, o := t.TempDir(), t.TempDir()
		makeTree(t, k, tr)
		makeTree(t, o, tr)
		ageTree(t, k)
		ageTree(t, o)
		lk, lo = append(lk, k), append(lo, o)
	}
	kernel = t.TempDir()
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off,metacopy=off,xino=off,%s",
		strings.Join(lk, ":"), t.TempDir(), t.TempDir(), kopts)
	require.NoError(t, unix.Mount("overlay", kernel, "overlay", 0, opts), "mount -t overlay")
	t.Cleanup(func() { require.NoError(t, unix.Unmount(kernel, unix.MNT_DETACH)) })
	var layers []sdk.FileSystem
	for _, d := range lo {
		layers = append(layers, pt(t, d))
	}
	o, err := New(Config{Upper: pt(t, t.TempDir()), Lowers: layers})
	require.NoError(t, err)
	// Kernel caches off: the comparison is of what the overlay answers.
	srv := sdktest.Mount(t, o, &sdk.Options{AttrTimeout: -1, EntryTimeout: -1, NegativeTimeout: -1, AttrCacheTTL: -1})
	return kernel, srv.Dir()
}

// attrView describes every object under root by what describe says of it.
func attrView(t *testing.T, root string, describe func(rel string, st *unix.Stat_t) string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		out[rel] = describe(rel, &st)
		return nil
	}))
	return out
}

// describeTime says what an object's mtime is: one of the lowers' (exact),
// or "new" for a time set while the test ran. The root's mtime is the
// upper directory's, which the two sides created at different moments.
func describeTime(start time.Time) func(string, *unix.Stat_t) string {
	return func(rel string, st *unix.Stat_t) string {
		mt := time.Unix(st.Mtim.Unix())
		if rel == "." || !mt.Before(start) {
			return "new"
		}
		return mt.UTC().Format(time.RFC3339Nano)
	}
}

// TestKernelDiffRenamedTreeTimes renames lower directory trees and changes
// lower files under lower directories, and compares every object's mtime
// with the kernel's. The kernel runs with redirect_dir=on so that it
// renames the directories too: it copies up only the renamed directory,
// keeping its times, and the merged view keeps the lower times of
// everything under it. This overlay copies the whole tree up instead,
// which must keep the same times.
func TestKernelDiffRenamedTreeTimes(t *testing.T) {
	kernel, ours := mountAttrPair(t, "redirect_dir=on")
	start := time.Now().Add(-time.Second)
	j := filepath.Join
	ops := []struct {
		desc string
		run  func(root string) error
	}{
		{"rename lower tree d d2", func(r string) error { return unix.Rename(j(r, "d"), j(r, "d2")) }},
		{"rename merged tree m m2", func(r string) error { return unix.Rename(j(r, "m"), j(r, "m2")) }},
		{"chmod lower p/q/r", func(r string) error { return os.Chmod(j(r, "p/q/r"), 0o600) }},
		{"rename lower dir into a copied-up one", func(r string) error { return unix.Rename(j(r, "solo"), j(r, "p/q/solo")) }},
	}
	for _, op := range ops {
		require.NoError(t, op.run(kernel), "kernel: %s", op.desc)
		require.NoError(t, op.run(ours), "fusekit: %s", op.desc)
		requireSameView(t, attrView(t, kernel, describeTime(start)), attrView(t, ours, describeTime(start)), op.desc)
	}
}

// TestKernelDiffDirLinkCounts compares directory link counts with the
// kernel's: 1 for a merged directory (ovl_getattr does not count the
// merged subdirectories), the layer's own count for a directory from one
// layer (lower-only, upper-only, or opaque).
func TestKernelDiffDirLinkCounts(t *testing.T) {
	kernel, ours := mountAttrPair(t, "redirect_dir=off")
	j := filepath.Join
	ops := []struct {
		desc string
		run  func(root string) error
	}{
		{"nothing", func(string) error { return nil }},
		{"chmod lower data/file (copies data up)", func(r string) error { return os.Chmod(j(r, "data/file"), 0o600) }},
		{"mkdir data/new", func(r string) error { return os.Mkdir(j(r, "data/new"), 0o755) }},
		{"mkdir base/two", func(r string) error { return os.Mkdir(j(r, "base/two"), 0o755) }},
		{"mkdir n n/a n/b", func(r string) error {
			for _, d := range []string{"n", "n/a", "n/b"} {
				if err := os.Mkdir(j(r, d), 0o755); err != nil {
					return err
				}
			}
			return nil
		}},
		{"rm -r data; mkdir data data/x (opaque)", func(r string) error {
			if err := os.RemoveAll(j(r, "data")); err != nil {
				return err
			}
			if err := os.Mkdir(j(r, "data"), 0o755); err != nil {
				return err
			}
			return os.Mkdir(j(r, "data/x"), 0o755)
		}},
		{"rmdir solo/s1", func(r string) error { return unix.Rmdir(j(r, "solo/s1")) }},
	}
	describe := func(_ string, st *unix.Stat_t) string {
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "-"
		}
		return fmt.Sprintf("dir nlink=%d", st.Nlink)
	}
	for _, op := range ops {
		require.NoError(t, op.run(kernel), "kernel: %s", op.desc)
		require.NoError(t, op.run(ours), "fusekit: %s", op.desc)
		requireSameView(t, attrView(t, kernel, describe), attrView(t, ours, describe), op.desc)
	}
}
