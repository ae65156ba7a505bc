package conformance

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

func overlayTests() []Test {
	needs := []string{needOverlay}
	return []Test{
		{Name: "overlay/copy-up", Needs: needs, Run: testCopyUp},
		{Name: "overlay/whiteout", Needs: needs, Run: testWhiteout},
		{Name: "overlay/opaque", Needs: needs, Run: testOpaque},
		{Name: "overlay/layer-order", Needs: needs, Run: testLayerOrder},
	}
}

// fixture is a directory seeded directly in the lower layers and inspected
// in the upper layer. It sits beside the test directory rather than inside
// it: the test directory was created through the overlay, so it exists only
// in the upper layer, and an overlay need not notice lower directories that
// appear under a directory it has already looked up. A name it has never
// looked up it must resolve afresh.
type fixture struct {
	merged string   // the fixture as the target shows it
	upper  string   // the same path in the upper layer
	lowers []string // the same path in each lower layer, top-most first
	before []string // snapshot of the lowers before the test touched them
}

// newFixture seeds lower layer i with files[i] (path -> content; a path
// ending in "/" is a directory) and snapshots the lowers.
func newFixture(t T, dir string, files ...map[string]string) *fixture {
	t.Helper()
	e := envOf(t)
	layers := e.features.Overlay
	if layers == nil {
		t.Skipf("no overlay layers known: run overlay tests through Run or RunT with Features.Overlay set")
	}
	rel, err := filepath.Rel(e.root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("test directory %s is not under the target %s", dir, e.root)
	}
	name := rel + ".ovl"
	fx := &fixture{merged: join(e.root, name), upper: join(layers.Upper, name)}
	for _, l := range layers.Lowers {
		fx.lowers = append(fx.lowers, join(l, name))
	}
	t.Cleanup(func() {
		// Through the overlay first, so that it forgets the names, then
		// the layers, so that nothing is left behind in them.
		_ = os.RemoveAll(fx.merged)
		_ = os.RemoveAll(fx.upper)
		for _, l := range fx.lowers {
			_ = os.RemoveAll(l)
		}
	})
	for i, set := range files {
		if i >= len(fx.lowers) {
			t.Fatalf("fixture needs %d lower layers, the target has %d", len(files), len(fx.lowers))
		}
		must(t, os.MkdirAll(fx.lowers[i], 0o755), "creating the fixture in lower layer %d", i)
		for _, p := range slices.Sorted(mapKeys(set)) {
			full := join(fx.lowers[i], p)
			if strings.HasSuffix(p, "/") {
				must(t, os.MkdirAll(full, 0o755), "seeding lower directory %s", p)
				continue
			}
			must(t, os.MkdirAll(filepath.Dir(full), 0o755), "seeding lower directory for %s", p)
			must(t, os.WriteFile(full, []byte(set[p]), 0o644), "seeding lower file %s", p)
		}
	}
	for _, l := range fx.lowers {
		fx.before = append(fx.before, snapshot(t, l))
	}
	return fx
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// lowersUntouched checks that no lower layer changed since the fixture was
// seeded: an overlay writes only to its upper layer.
func (fx *fixture) lowersUntouched(t T) {
	t.Helper()
	for i, l := range fx.lowers {
		if after := snapshot(t, l); after != fx.before[i] {
			t.Errorf("lower layer %d was modified (an overlay must only write its upper layer):\nbefore:\n%s\nafter:\n%s", i, fx.before[i], after)
		}
	}
}

// snapshot describes a tree: every path with its type, permissions, size,
// mtime, a digest of its content and its xattrs. Access times are left out
// because reading a lower file may update them.
func snapshot(t T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return filepath.SkipAll
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s mode=%#o size=%d mtime=%d.%09d", rel, st.Mode, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " sha256=%x", sha256.Sum256(data))
		}
		for _, x := range xattrNames(p) {
			v := make([]byte, 4096)
			n, _ := unix.Lgetxattr(p, x, v)
			fmt.Fprintf(&b, " %s=%q", x, v[:max(n, 0)])
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", root, err)
	}
	return b.String()
}

// xattrNames lists the attributes of p, or nothing where unsupported.
func xattrNames(p string) []string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	names := strings.FieldsFunc(string(buf[:n]), func(r rune) bool { return r == 0 })
	slices.Sort(names)
	return names
}

// whiteout reports how the upper layer records that name in dir is
// deleted, or "" if it does not. Every on-disk convention in use is
// accepted: the kernel's 0/0 character device (also written by
// fuse-overlayfs), a ".wh.name" file (aufs style, used where mknod is not
// permitted), and an empty file carrying an overlay.whiteout xattr.
func whiteout(dir, name string) string {
	var st unix.Stat_t
	p := join(dir, name)
	if unix.Lstat(p, &st) == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return "a 0/0 character device"
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
			for _, x := range []string{"trusted.overlay.whiteout", "user.overlay.whiteout"} {
				if _, err := unix.Lgetxattr(p, x, nil); err == nil {
					return "an empty file with " + x
				}
			}
		}
	}
	if unix.Lstat(join(dir, ".wh."+name), &st) == nil {
		return "a .wh." + name + " file"
	}
	return ""
}

// opaque reports how the upper layer marks dir as hiding the lower
// directories of the same name, or "" if it does not.
func opaque(dir string) string {
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque"} {
		v := make([]byte, 16)
		if n, err := unix.Lgetxattr(dir, x, v); err == nil && string(v[:n]) == "y" {
			return x + "=y"
		}
	}
	var st unix.Stat_t
	if unix.Lstat(join(dir, ".wh..wh..opq"), &st) == nil {
		return "a .wh..wh..opq file"
	}
	return ""
}

// testCopyUp modifies files that exist only in a lower layer: the upper
// layer must get a complete copy with the change, the lower none.
func testCopyUp(t T, dir string) {
	fx := newFixture(t, dir, map[string]string{
		"file":      "lower data\n",
		"trunc":     "truncate me",
		"meta/keep": "k",
	})
	checkContent(t, join(fx.merged, "file"), []byte("lower data\n"), "lower file seen through the overlay")

	f := openFile(t, join(fx.merged, "file"), os.O_WRONLY|os.O_APPEND, 0)
	writeAll(t, f, []byte("upper data\n"))
	closeFile(t, f)
	want := []byte("lower data\nupper data\n")
	checkContent(t, join(fx.merged, "file"), want, "appended lower file seen through the overlay")
	if checkExists(t, join(fx.upper, "file"), "after appending to a lower file (no copy-up)") {
		checkContent(t, join(fx.upper, "file"), want, "upper layer's copy after copy-up (must hold the lower data and the append)")
	}

	must(t, unix.Truncate(join(fx.merged, "trunc"), 3), "truncate of a lower file")
	checkContent(t, join(fx.merged, "trunc"), []byte("tru"), "truncated lower file seen through the overlay")
	if checkExists(t, join(fx.upper, "trunc"), "after truncating a lower file (no copy-up)") {
		checkContent(t, join(fx.upper, "trunc"), []byte("tru"), "upper layer's copy of a truncated lower file")
	}

	must(t, unix.Chmod(join(fx.merged, "meta", "keep"), 0o600), "chmod of a lower file")
	if checkExists(t, join(fx.upper, "meta", "keep"), "after chmod of a lower file (no copy-up)") {
		if m := lstat(t, join(fx.upper, "meta", "keep")).Mode & 0o7777; m != 0o600 {
			t.Errorf("upper layer's copy after chmod 0600 has mode %#o", m)
		}
	}
	checkContent(t, join(fx.merged, "meta", "keep"), []byte("k"), "lower file after a metadata-only copy-up")
	fx.lowersUntouched(t)
}

func checkExists(t T, path, why string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Errorf("upper layer has no %s %s: %v", filepath.Base(path), why, err)
		return false
	}
	return true
}

// testWhiteout deletes lower files and directories through the overlay:
// they must vanish from the merged view and be recorded as whiteouts in
// the upper layer, and a new file may take a whited-out name.
func testWhiteout(t T, dir string) {
	fx := newFixture(t, dir, map[string]string{
		"gone":            "lower",
		"gonedir/child":   "lower child",
		"kept":            "kept",
		"gonedir/nested/": "",
	})
	must(t, unix.Unlink(join(fx.merged, "gone")), "unlink of a lower file")
	must(t, os.RemoveAll(join(fx.merged, "gonedir")), "removing a lower directory tree")
	absent(t, join(fx.merged, "gone"), "in the overlay after unlink of a lower file (whiteout missing)")
	absent(t, join(fx.merged, "gonedir"), "in the overlay after removing a lower directory (whiteout missing)")
	if names := listNames(t, fx.merged); !slices.Equal(names, []string{"kept"}) {
		t.Errorf("overlay directory lists %q after the lower entries were deleted, want [kept]", names)
	}
	for _, name := range []string{"gone", "gonedir"} {
		if how := whiteout(fx.upper, name); how == "" {
			t.Errorf("upper layer has no whiteout for the deleted lower %s (no 0/0 character device, .wh. file or whiteout xattr)", name)
		} else {
			t.Logf("whiteout for %s: %s", name, how)
		}
	}
	createFile(t, join(fx.merged, "gone"), []byte("reborn"), 0o644)
	checkContent(t, join(fx.merged, "gone"), []byte("reborn"), "new file created over a whiteout")
	checkContent(t, join(fx.upper, "gone"), []byte("reborn"), "upper layer's file created over a whiteout")
	fx.lowersUntouched(t)
}

// testOpaque replaces a lower directory with a new one of the same name:
// the new one must not show the old entries, so the upper layer must mark
// it opaque.
func testOpaque(t T, dir string) {
	fx := newFixture(t, dir, map[string]string{"d/a": "a", "d/b": "b", "d/sub/c": "c"})
	d := join(fx.merged, "d")
	if names := listNames(t, d); !slices.Equal(names, []string{"a", "b", "sub"}) {
		t.Fatalf("lower directory seen through the overlay lists %q, want [a b sub]", names)
	}
	must(t, os.RemoveAll(d), "removing a lower directory")
	must(t, unix.Mkdir(d, 0o755), "mkdir over the removed lower directory")
	createFile(t, join(d, "new"), []byte("n"), 0o644)
	if names := listNames(t, d); !slices.Equal(names, []string{"new"}) {
		t.Errorf("re-created directory lists %q, want [new]: entries of the removed lower directory show through (not opaque)", names)
	}
	absent(t, join(d, "a"), "in the re-created directory (lower entry shows through)")
	if how := opaque(join(fx.upper, "d")); how == "" {
		t.Errorf("upper layer's re-created directory has no opaque marker (no overlay.opaque xattr or .wh..wh..opq file)")
	} else {
		t.Logf("opaque marker: %s", how)
	}
	fx.lowersUntouched(t)
}

// testLayerOrder checks that an upper lower layer hides a deeper one.
func testLayerOrder(t T, dir string) {
	if ovl := envOf(t).features.Overlay; ovl == nil || len(ovl.Lowers) < 2 {
		n := 0
		if ovl != nil {
			n = len(ovl.Lowers)
		}
		t.Skipf("the target has %d lower layer; layer order needs two", n)
	}
	fx := newFixture(t, dir,
		map[string]string{"f": "top", "only-top": "t"},
		map[string]string{"f": "bottom", "only-bottom": "b"})
	checkContent(t, join(fx.merged, "f"), []byte("top"), "file present in two lower layers (the top-most must win)")
	checkContent(t, join(fx.merged, "only-bottom"), []byte("b"), "file present only in the deeper lower layer")
	if names := listNames(t, fx.merged); !slices.Equal(names, []string{"f", "only-bottom", "only-top"}) {
		t.Errorf("directory merged from two lower layers lists %q, want [f only-bottom only-top]", names)
	}
	must(t, unix.Unlink(join(fx.merged, "f")), "unlink of a file present in two lower layers")
	absent(t, join(fx.merged, "f"), "after unlink: the deeper layer's copy shows through")
	fx.lowersUntouched(t)
}
