//go:build linux

package overlay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/fusekit/fusekit/sdk/writeback"
)

// The differential test runs the same operations, through real system
// calls, on a kernel overlayfs mount and on this overlay mounted with FUSE,
// over identical lower trees, and compares the merged views after every
// step and the upper directories at the end.
//
// Deliberate divergence: the kernel (redirect_dir=off) refuses to rename a
// directory that has lower content with EXDEV; this overlay renames it. When
// that happens the kernel side is brought level the way mv(1) does it (copy,
// then remove), the merged views are still compared, and the upper
// directories are not (they legitimately differ in markers).

// diffLowers are the two lower layers, top first.
var diffLowers = []tree{
	{"a": "lower1 a", "b/a": "lower1 b/a", "b/c/": "", "c": "->a", "d/b": "lower1 d/b", "big": strings.Repeat("x", 70000)},
	{"a": "lower2 a", "b/b": "lower2 b/b", "b/d": "lower2 b/d", "c/": "", "d/a": "lower2 d/a", "d/d/a": "deep"},
}

type diffSides struct {
	kernel, ours           string // merged mountpoints
	kernelUpper, oursUpper string
	srv                    *sdk.Server
}

// diffVariant is how this overlay is set up for one run.
type diffVariant struct {
	format WhiteoutFormat
	// writeback puts the SDK's write-back layer between the overlay and
	// its upper.
	writeback bool
}

func mountBoth(t *testing.T, v diffVariant) *diffSides {
	t.Helper()
	var lk, lo []string
	for _, tr := range diffLowers {
		k, o := t.TempDir(), t.TempDir()
		makeTree(t, k, tr)
		makeTree(t, o, tr)
		lk, lo = append(lk, k), append(lo, o)
	}
	s := &diffSides{kernel: t.TempDir(), kernelUpper: t.TempDir(), oursUpper: t.TempDir()}
	work := t.TempDir()
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,index=off,metacopy=off,xino=off",
		strings.Join(lk, ":"), s.kernelUpper, work)
	require.NoError(t, unix.Mount("overlay", s.kernel, "overlay", 0, opts), "mount -t overlay")
	t.Cleanup(func() { require.NoError(t, unix.Unmount(s.kernel, unix.MNT_DETACH)) })

	var layers []sdk.FileSystem
	for _, d := range lo {
		layers = append(layers, pt(t, d))
	}
	var upper sdk.FileSystem = pt(t, s.oursUpper)
	if v.writeback {
		wb, err := writeback.New(upper, writeback.Options{})
		require.NoError(t, err)
		// Registered before the mount, so it runs after the unmount.
		t.Cleanup(func() { require.NoError(t, wb.Close(context.Background())) })
		upper = wb
	}
	o, err := New(Config{Upper: upper, Lowers: layers, Whiteouts: v.format})
	require.NoError(t, err)
	if v.format == WhiteoutAuto {
		require.Equal(t, WhiteoutKernel, o.Format(), "a root passthrough upper takes kernel markers")
	}
	// Kernel caches off: libfuse's high-level API gives each path of a hard
	// link its own kernel inode, so a write through one name leaves the
	// other's cached size stale for attr_timeout. That is a FUSE property,
	// not an overlay one, and this test is about the overlay.
	s.srv = sdktest.Mount(t, o, &sdk.Options{AttrTimeout: -1, EntryTimeout: -1, NegativeTimeout: -1, AttrCacheTTL: -1})
	s.ours = s.srv.Dir()
	return s
}

// diffOp is one step, applied to a root directory.
type diffOp struct {
	desc string
	run  func(root string) error
	// from and to name the operands of a rename, for the EXDEV fallback.
	from, to string
}

func errnoOf(err error) syscall.Errno {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	if err != nil {
		return syscall.EIO
	}
	return 0
}

func pwrite(p string, flags int, data string, off int64) error {
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return err
	}
	if flags&os.O_APPEND != 0 {
		_, err = f.Write([]byte(data))
	} else {
		_, err = f.WriteAt([]byte(data), off)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var diffNames = []string{"a", "b", "c", "d"}

// randPath picks an existing object most of the time (so that operations
// mostly succeed and reach deep), and otherwise a name that may not exist.
func randPath(r *rand.Rand, existing []string) string {
	if len(existing) > 0 && r.IntN(10) < 7 {
		return existing[r.IntN(len(existing))]
	}
	p := diffNames[r.IntN(len(diffNames))]
	for r.IntN(3) == 0 && strings.Count(p, "/") < 2 {
		p += "/" + diffNames[r.IntN(len(diffNames))]
	}
	return p
}

func randOp(r *rand.Rand, dirRenames bool, existing []string) diffOp {
	p, q := randPath(r, existing), randPath(r, nil)
	if r.IntN(3) == 0 {
		q = randPath(r, existing)
	}
	data := strings.Repeat(string(rune('k'+r.IntN(10))), 1+r.IntN(300))
	off := int64(r.IntN(100))
	mode := []os.FileMode{0o600, 0o644, 0o755, 0o700, 0o640}[r.IntN(5)]
	j := func(root, n string) string { return filepath.Join(root, n) }
	switch r.IntN(12) {
	case 0:
		return diffOp{desc: "create " + p, run: func(root string) error { return os.WriteFile(j(root, p), []byte(data), 0o644) }}
	case 1:
		return diffOp{desc: fmt.Sprintf("write %s@%d", p, off), run: func(root string) error { return pwrite(j(root, p), os.O_WRONLY, data, off) }}
	case 2:
		return diffOp{desc: "append " + p, run: func(root string) error { return pwrite(j(root, p), os.O_WRONLY|os.O_APPEND, data, 0) }}
	case 3:
		return diffOp{desc: fmt.Sprintf("truncate %s %d", p, off), run: func(root string) error { return os.Truncate(j(root, p), off) }}
	case 4:
		return diffOp{desc: fmt.Sprintf("chmod %s %o", p, mode), run: func(root string) error { return os.Chmod(j(root, p), mode) }}
	case 5:
		return diffOp{desc: "mkdir " + p, run: func(root string) error { return os.Mkdir(j(root, p), 0o755) }}
	case 6, 7:
		return diffOp{"rename " + p + " " + q, func(root string) error {
			if !dirRenames {
				if st, err := os.Lstat(j(root, p)); err == nil && st.IsDir() {
					return nil
				}
			}
			return unix.Rename(j(root, p), j(root, q))
		}, p, q}
	case 8:
		return diffOp{desc: "unlink " + p, run: func(root string) error { return unix.Unlink(j(root, p)) }}
	case 9:
		return diffOp{desc: "rmdir " + p, run: func(root string) error { return unix.Rmdir(j(root, p)) }}
	case 10:
		return diffOp{desc: "symlink " + q + " " + p, run: func(root string) error { return os.Symlink(q, j(root, p)) }}
	default:
		return diffOp{desc: "link " + p + " " + q, run: func(root string) error { return os.Link(j(root, p), j(root, q)) }}
	}
}

// snapshot describes every object under root: type, mode, size, content or
// target. For an upper directory, markers are normalised (a kernel whiteout
// and an OCI ".wh." file read the same), the work directory is skipped, and
// the data of a metacopy stub (which lives in the lower) is not compared.
func snapshot(t *testing.T, root string, upper bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if upper && rel == DefaultWorkDir {
			return filepath.SkipDir
		}
		name := filepath.Base(rel)
		if upper && strings.HasPrefix(name, ociWhiteoutPrefix) {
			if kind, hidden := ParseWhiteoutName(name); kind == WhiteoutMarker {
				out[filepath.Join(filepath.Dir(rel), hidden)] = "whiteout"
			} else if kind == OpaqueMarker {
				out[filepath.Dir(rel)+"#opaque"] = "y"
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("%s %o", fi.Mode().Type(), fi.Mode().Perm())
		switch {
		case upper && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
			desc = "whiteout"
		case fi.Mode().IsRegular():
			desc += fmt.Sprintf(" size=%d", fi.Size())
			if !upper || !isStub(p) {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += " data=" + string(data)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.IsDir() && upper:
			if v, err := unix.Lgetxattr(p, xattrTrustedOpaque, make([]byte, 8)); err == nil && v == 1 {
				out[rel+"#opaque"] = "y"
			}
		}
		out[rel] = desc
		return nil
	})
	require.NoError(t, err)
	return out
}

// isStub reports whether the host file p is a metacopy stub of either
// format.
func isStub(p string) bool {
	_, err1 := unix.Lgetxattr(p, xattrMetacopy, nil)
	_, err2 := unix.Lgetxattr(p, xattrTrustedMetacopy, nil)
	return err1 == nil || err2 == nil
}

func requireSameView(t *testing.T, want, got map[string]string, step string) {
	t.Helper()
	if fmt.Sprint(want) == fmt.Sprint(got) {
		return
	}
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, fmt.Sprintf("  %s: kernel %q, fusekit %q", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, fmt.Sprintf("  %s: kernel absent, fusekit %q", k, v))
		}
	}
	sort.Strings(diff)
	t.Fatalf("views differ after %s:\n%s", step, strings.Join(diff, "\n"))
}

// mvLikeRename is what mv(1) does when rename(2) says EXDEV: copy the tree,
// then remove the source.
func mvLikeRename(from, to string) error {
	if st, err := os.Lstat(to); err == nil && st.IsDir() {
		if err := unix.Rmdir(to); err != nil {
			return err
		}
	}
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		return os.Lchown(filepath.Join(to, rel), 0, 0) // CopyFS keeps no owner; both sides are root's
	})
	if err != nil {
		return err
	}
	// CopyFS does not keep modes exactly, and follows nothing: fix modes.
	err = filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		return os.Chmod(filepath.Join(to, rel), fi.Mode().Perm())
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(from); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// runDiff runs steps operations; next chooses each from the names that
// exist in the merged view before it.
func runDiff(t *testing.T, v diffVariant, steps int, next func(i int, existing []string) diffOp) (uppersComparable bool) {
	s := mountBoth(t, v)
	uppersComparable = true
	succeeded, exdev := 0, 0
	view := snapshot(t, s.kernel, false)
	requireSameView(t, view, snapshot(t, s.ours, false), "mount")
	for i := range steps {
		existing := make([]string, 0, len(view))
		for k := range view {
			existing = append(existing, k)
		}
		sort.Strings(existing)
		op := next(i, existing)
		step := fmt.Sprintf("step %d: %s", i, op.desc)
		kerr, oerr := errnoOf(op.run(s.kernel)), errnoOf(op.run(s.ours))
		if testing.Verbose() {
			t.Logf("%s: kernel %v, fusekit %v", step, kerr, oerr)
		}
		if kerr == syscall.EXDEV && op.from != "" {
			// What mv(1) does next, and what it reports, is what a user of
			// the kernel overlay gets; this overlay must match that.
			kerr = errnoOf(mvLikeRename(filepath.Join(s.kernel, op.from), filepath.Join(s.kernel, op.to)))
			require.Equal(t, kerr, oerr, "%s: errno kernel+mv %v, fusekit %v", step, kerr, oerr)
			uppersComparable = false
			exdev++
		} else {
			require.Equal(t, kerr, oerr, "%s: errno kernel %v, fusekit %v", step, kerr, oerr)
		}
		if oerr == 0 {
			succeeded++
		}
		view = snapshot(t, s.kernel, false)
		requireSameView(t, view, snapshot(t, s.ours, false), step)
	}
	t.Logf("%d of %d steps succeeded on both sides; %d directory renames the kernel refused with EXDEV", succeeded, steps, exdev)
	if uppersComparable {
		// Whatever a write-back upper still buffers goes down first.
		require.NoError(t, s.srv.Sync(context.Background()))
		want, got := snapshot(t, s.kernelUpper, true), snapshot(t, s.oursUpper, true)
		// Deliberate: a chmod, link or rename of a lower file leaves a
		// metacopy stub here where the kernel (metacopy=off) copies data.
		for k, v := range got {
			if i := strings.Index(want[k], " data="); i >= 0 && !strings.Contains(v, " data=") && want[k][:i] == v {
				want[k] = v
			}
		}
		requireSameView(t, want, got, "the end (upper directories)")
	}
	return uppersComparable
}

func fixed(desc string, fn func(root string) error) diffOp { return diffOp{desc: desc, run: fn} }

func renameOp(desc, from, to string) diffOp {
	return diffOp{desc, func(root string) error { return unix.Rename(filepath.Join(root, from), filepath.Join(root, to)) }, from, to}
}

func TestKernelDiffScripted(t *testing.T) {
	j := filepath.Join
	ops := []diffOp{
		fixed("append a", func(r string) error { return pwrite(j(r, "a"), os.O_WRONLY|os.O_APPEND, "+more", 0) }),
		fixed("unlink b/a", func(r string) error { return unix.Unlink(j(r, "b/a")) }),
		fixed("rmdir b (not empty)", func(r string) error { return unix.Rmdir(j(r, "b")) }),
		fixed("chmod big", func(r string) error { return os.Chmod(j(r, "big"), 0o600) }),
		fixed("truncate big", func(r string) error { return os.Truncate(j(r, "big"), 10) }),
		fixed("mkdir n", func(r string) error { return os.Mkdir(j(r, "n"), 0o750) }),
		fixed("create n/f", func(r string) error { return os.WriteFile(j(r, "n/f"), []byte("new"), 0o644) }),
		fixed("rename n/f a", func(r string) error { return unix.Rename(j(r, "n/f"), j(r, "a")) }),
		fixed("rename n m", func(r string) error { return unix.Rename(j(r, "n"), j(r, "m")) }),
		fixed("symlink", func(r string) error { return os.Symlink("b/d", j(r, "m/s")) }),
		fixed("link lower file", func(r string) error { return os.Link(j(r, "d/b"), j(r, "m/hl")) }),
		fixed("write through link", func(r string) error { return pwrite(j(r, "m/hl"), os.O_WRONLY, "L", 0) }),
		fixed("unlink c (symlink)", func(r string) error { return unix.Unlink(j(r, "c")) }),
		fixed("mkdir c over whiteout", func(r string) error { return os.Mkdir(j(r, "c"), 0o700) }),
		fixed("unlink d/d/a", func(r string) error { return unix.Unlink(j(r, "d/d/a")) }),
		fixed("rmdir d/d", func(r string) error { return unix.Rmdir(j(r, "d/d")) }),
		fixed("mkdir d/d again", func(r string) error { return os.Mkdir(j(r, "d/d"), 0o755) }),
		fixed("rename file over lower file", func(r string) error { return unix.Rename(j(r, "b/b"), j(r, "d/a")) }),
		fixed("rename file over dir", func(r string) error { return unix.Rename(j(r, "a"), j(r, "b")) }),
		fixed("rename dir over file", func(r string) error { return unix.Rename(j(r, "m"), j(r, "a")) }),
		fixed("rename into itself", func(r string) error { return unix.Rename(j(r, "m"), j(r, "m/x")) }),
		fixed("link dir", func(r string) error { return os.Link(j(r, "m"), j(r, "m2")) }),
		fixed("rmdir file", func(r string) error { return unix.Rmdir(j(r, "a")) }),
		fixed("unlink dir", func(r string) error { return unix.Unlink(j(r, "m")) }),
		fixed("mknod a whiteout", func(r string) error { return unix.Mknod(j(r, "wh"), unix.S_IFCHR|0o644, 0) }),
		fixed("exclusive create of existing", func(r string) error {
			f, err := os.OpenFile(j(r, "d/b"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err == nil {
				f.Close()
			}
			return err
		}),
	}
	comparable := runDiff(t, diffVariant{}, len(ops), func(i int, _ []string) diffOp { return ops[i] })
	require.True(t, comparable, "the scripted sequence renames no directory with lower content")
}

func TestKernelDiffRandom(t *testing.T) {
	// Eight seeds of 50 steps: four also rename directories, two (3, 7)
	// write OCI markers (normalised before the upper directories are
	// compared), and two (5, 6) have the write-back layer on the upper.
	for seed := uint64(1); seed <= 8; seed++ {
		dirRenames := seed%2 == 0
		v := diffVariant{format: WhiteoutAuto, writeback: seed == 5 || seed == 6}
		if seed%4 == 3 {
			v.format = WhiteoutOCI
		}
		t.Run(fmt.Sprintf("seed%d-%v-writeback=%v-dirrenames=%v", seed, v.format, v.writeback, dirRenames), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x0f5))
			runDiff(t, v, 50, func(_ int, existing []string) diffOp { return randOp(r, dirRenames, existing) })
		})
	}
}

// TestKernelDiffDirectoryRenames renames merged and lower directories, the
// deliberate divergence: the kernel says EXDEV (brought level the way mv(1)
// does it), this overlay renames; the merged views must agree throughout.
func TestKernelDiffDirectoryRenames(t *testing.T) {
	j := filepath.Join
	ops := []diffOp{
		renameOp("rename merged dir", "b", "z"),
		renameOp("rename lower dir into a moved one", "d/d", "z/dd"),
		fixed("append in moved tree", func(r string) error { return pwrite(j(r, "z/dd/a"), os.O_WRONLY|os.O_APPEND, "+", 0) }),
		fixed("mkdir b again", func(r string) error { return os.Mkdir(j(r, "b"), 0o755) }),
		renameOp("rename over an empty dir", "z", "b"),
		renameOp("rename over a non-empty dir", "d", "b"),
		renameOp("rename a lower dir to the top", "b/c", "e"),
		fixed("rmdir renamed", func(r string) error { return unix.Rmdir(j(r, "e")) }),
	}
	require.False(t, runDiff(t, diffVariant{}, len(ops), func(i int, _ []string) diffOp { return ops[i] }),
		"the kernel refused at least one rename with EXDEV")
}

func exchangeOp(from, to string) diffOp {
	return fixed("exchange "+from+" "+to, func(r string) error {
		return unix.Renameat2(unix.AT_FDCWD, filepath.Join(r, from), unix.AT_FDCWD, filepath.Join(r, to), unix.RENAME_EXCHANGE)
	})
}

// TestKernelDiffRenameExchange swaps lower files, upper files and new
// directories with RENAME_EXCHANGE on both sides. renameat2 flags reach a
// FUSE filesystem only through libfuse3; libfuse2 refuses them itself.
func TestKernelDiffRenameExchange(t *testing.T) {
	j := filepath.Join
	if sdk.Build == "fuse2" {
		s := mountBoth(t, diffVariant{})
		err := unix.Renameat2(unix.AT_FDCWD, j(s.ours, "a"), unix.AT_FDCWD, j(s.ours, "big"), unix.RENAME_EXCHANGE)
		require.ErrorIs(t, err, unix.EINVAL, "libfuse2 refuses renameat2 flags")
		require.NoError(t, unix.Renameat2(unix.AT_FDCWD, j(s.kernel, "a"), unix.AT_FDCWD, j(s.kernel, "big"), unix.RENAME_EXCHANGE))
		return
	}
	ops := []diffOp{
		exchangeOp("a", "big"),
		exchangeOp("b/a", "d/b"),
		fixed("append a", func(r string) error { return pwrite(j(r, "a"), os.O_WRONLY|os.O_APPEND, "+", 0) }),
		fixed("create n", func(r string) error { return os.WriteFile(j(r, "n"), []byte("new"), 0o644) }),
		exchangeOp("n", "a"),
		fixed("mkdir m", func(r string) error { return os.Mkdir(j(r, "m"), 0o700) }),
		fixed("create m/f", func(r string) error { return os.WriteFile(j(r, "m/f"), []byte("mf"), 0o600) }),
		exchangeOp("m", "n"),
		fixed("mkdir m2", func(r string) error { return os.Mkdir(j(r, "m2"), 0o755) }),
		exchangeOp("m2", "n"),
		exchangeOp("c", "d/a"),
		exchangeOp("a", "absent"),
		exchangeOp("a", "a"),
		fixed("chmod d/b", func(r string) error { return os.Chmod(j(r, "d/b"), 0o600) }),
	}
	require.True(t, runDiff(t, diffVariant{}, len(ops), func(i int, _ []string) diffOp { return ops[i] }))
}
