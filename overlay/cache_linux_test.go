//go:build linux

package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// The cache's invalidation rules are checked against an oracle: after each
// change, the merged view of the overlay that made it (and whose cache has
// seen every name beforehand) must equal the view of a fresh overlay over
// the same layers, which has nothing cached.

// view lists every visible name under dir with its type, mode and content.
func view(t *testing.T, fsys sdk.FileSystem, dir string) []string {
	t.Helper()
	var out []string
	ents, err := fsys.ReadDir(bg, dir)
	require.NoError(t, err, "readdir %s", dir)
	for _, e := range ents {
		p := joinName(dir, e.Name)
		a, err := fsys.Stat(bg, p)
		require.NoError(t, err, "stat %s", p)
		line := fmt.Sprintf("%s %o", p, a.Mode)
		switch {
		case a.IsDir():
			out = append(out, line)
			out = append(out, view(t, fsys, p)...)
			continue
		case a.IsRegular():
			line += " " + readAll(t, fsys, p)
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// fresh is an overlay over the same layers as o with an empty cache.
func (o *testOverlay) fresh(t *testing.T) *FS {
	t.Helper()
	var ls []sdk.FileSystem
	for _, d := range o.lowerDirs {
		ls = append(ls, pt(t, d))
	}
	f, err := New(Config{Upper: pt(t, o.upperDir), Lowers: ls, Whiteouts: o.Format()})
	require.NoError(t, err)
	return f
}

// requireFresh checks that o shows what a fresh overlay shows, and that
// every name in want resolves (with content, when it has one after "=")
// and every name in gone does not.
func (o *testOverlay) requireFresh(t *testing.T, want []string, gone ...string) {
	t.Helper()
	require.Equal(t, view(t, o.fresh(t), "."), view(t, o, "."), "cached view differs from a fresh overlay's")
	for _, w := range want {
		name, content, hasContent := strings.Cut(w, "=")
		_, err := o.Stat(bg, name)
		require.NoError(t, err, "%s must resolve", name)
		if hasContent {
			assert.Equal(t, content, readAll(t, o, name), name)
		}
	}
	for _, g := range gone {
		_, err := o.Stat(bg, g)
		require.ErrorIs(t, err, syscall.ENOENT, "%s must be gone", g)
	}
}

// warm resolves every name so that the cache holds every directory.
func (o *testOverlay) warm(t *testing.T) { view(t, o, ".") }

func TestCacheRenameMergedDirectory(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f,
				tree{"d/a": "a", "d/sub/x": "x", "e/z": "z", "moved/": ""},
			)
			writeAt(t, o, "d/b", oWronly|oCreat, "b", 0)
			o.warm(t)
			require.NoError(t, o.Rename(bg, "d", "moved", 0))
			o.requireFresh(t, []string{"moved/a=a", "moved/b=b", "moved/sub/x=x"}, "d", "d/a", "d/sub")

			// The old name is free again and must not merge with the lower
			// directory it used to show.
			require.NoError(t, o.Mkdir(bg, "d", 0o755))
			assert.Empty(t, names(t, o, "d"))
			o.requireFresh(t, nil, "d/a", "d/sub")

			// And back, over an existing empty directory.
			require.NoError(t, o.Rmdir(bg, "d"))
			require.NoError(t, o.Rename(bg, "moved/sub", "e/sub", 0))
			o.requireFresh(t, []string{"e/sub/x=x", "e/z=z"}, "moved/sub")
		})
	}
}

func TestCacheRmdirThenMkdirIsOpaque(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f, tree{"p/d/a": "a", "p/d/deep/b": "b"})
			o.warm(t)
			require.NoError(t, o.Unlink(bg, "p/d/deep/b"))
			require.NoError(t, o.Rmdir(bg, "p/d/deep"))
			require.NoError(t, o.Unlink(bg, "p/d/a"))
			require.NoError(t, o.Rmdir(bg, "p/d"))
			o.requireFresh(t, []string{"p"}, "p/d", "p/d/a", "p/d/deep/b")

			require.NoError(t, o.Mkdir(bg, "p/d", 0o755))
			assert.Empty(t, names(t, o, "p/d"), "the new directory is opaque")
			o.requireFresh(t, []string{"p/d"}, "p/d/a", "p/d/deep")
			require.NoError(t, o.Mkdir(bg, "p/d/deep", 0o700))
			assert.Empty(t, names(t, o, "p/d/deep"))
			o.requireFresh(t, []string{"p/d/deep"}, "p/d/deep/b")
		})
	}
}

// TestCacheWhiteoutCreation deletes lower names in a merged directory the
// cache knows to hold no OCI whiteout; in the OCI format the new marker must
// be noticed, or the lower file would show again.
func TestCacheWhiteoutCreation(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			o := newTestOverlay(t, f, tree{"d/f": "f", "d/g": "g", "d/sub/x": "x"})
			writeAt(t, o, "d/new", oWronly|oCreat, "n", 0) // d is now merged
			o.warm(t)
			require.NoError(t, o.Unlink(bg, "d/f"))
			o.requireFresh(t, []string{"d/g=g", "d/new=n"}, "d/f")
			require.NoError(t, o.Unlink(bg, "d/sub/x"))
			require.NoError(t, o.Rmdir(bg, "d/sub"))
			o.requireFresh(t, []string{"d/g=g"}, "d/sub", "d/sub/x")

			// A file may take a whited-out name, and a directory one.
			writeAt(t, o, "d/f", oWronly|oCreat|oExcl, "again", 0)
			require.NoError(t, o.Mkdir(bg, "d/sub", 0o755))
			o.requireFresh(t, []string{"d/f=again", "d/sub"}, "d/sub/x")
		})
	}
}

func TestCacheCopyUpOfParents(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto,
		tree{"a/b/c/f": "f1", "a/b/c/g": "g1"},
		tree{"a/b/c/h": "h2", "a/b/y/": ""},
	)
	o.warm(t) // a, a/b, a/b/c cached as lower directories
	writeAt(t, o, "a/b/c/new", oWronly|oCreat, "new", 0)
	assert.True(t, hostExists(filepath.Join(o.upperDir, "a/b/c/new")))
	o.requireFresh(t, []string{"a/b/c/f=f1", "a/b/c/h=h2", "a/b/c/new=new", "a/b/y"})

	// The parents merge from the upper now: a lower name removed needs a
	// whiteout, which the fresh overlay must see too.
	require.NoError(t, o.Unlink(bg, "a/b/c/h"))
	require.NoError(t, o.Unlink(bg, "a/b/c/f"))
	writeAt(t, o, "a/b/c/g", oWronly, "+", 2)
	o.requireFresh(t, []string{"a/b/c/g=g1+"}, "a/b/c/h", "a/b/c/f")
}

// TestCacheChangeThroughOtherName changes a file through one hard link and
// reads it through the other: a metacopy stub filled through one name is
// full through both, and the overlay mounted through FUSE agrees.
func TestCacheChangeThroughOtherName(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"d/f": "lower data"})
	require.True(t, o.Metacopy())
	mnt := sdktest.Mount(t, o.FS, nil).Dir()

	require.NoError(t, os.Chmod(filepath.Join(mnt, "d/f"), 0o600)) // a stub
	require.NoError(t, os.Link(filepath.Join(mnt, "d/f"), filepath.Join(mnt, "d/g")))
	for _, n := range []string{"d/f", "d/g"} {
		data, err := os.ReadFile(filepath.Join(mnt, n))
		require.NoError(t, err)
		require.Equal(t, "lower data", string(data), "%s through a stub", n)
	}
	fh, err := os.OpenFile(filepath.Join(mnt, "d/g"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = fh.WriteString(" + more")
	require.NoError(t, err)
	require.NoError(t, fh.Close())

	for _, n := range []string{"d/f", "d/g"} {
		data, err := os.ReadFile(filepath.Join(mnt, n))
		require.NoError(t, err)
		assert.Equal(t, "lower data + more", string(data), n)
		assert.Equal(t, "lower data + more", readAll(t, o, n), "%s through the overlay's API", n)
	}
	o.requireFresh(t, []string{"d/f=lower data + more", "d/g=lower data + more"})

	// Removing one name leaves the other with its data.
	require.NoError(t, os.Remove(filepath.Join(mnt, "d/f")))
	o.requireFresh(t, []string{"d/g=lower data + more"}, "d/f")
}

// TestCacheConcurrentRenames resolves names under directories that another
// goroutine keeps renaming: whatever the readers cache while the tree moves,
// the view afterwards must be a fresh overlay's.
func TestCacheConcurrentRenames(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"a/b/c/f": "f", "a/b/c/g": "g", "other/": ""})
	writeAt(t, o, "a/b/u", oWronly|oCreat, "u", 0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				for _, n := range []string{"a/b/c/f", "x/b/c/g", "a/b/u", "x/b", "other/b/c"} {
					_, _ = o.Stat(bg, n)
				}
			}
		})
	}
	names := []string{"a", "x"}
	for i := range 60 {
		from, to := names[i%2], names[(i+1)%2]
		require.NoError(t, o.Rename(bg, from, to, 0))
		if i%3 == 0 {
			require.NoError(t, o.Rename(bg, to+"/b", "other/b", 0))
			require.NoError(t, o.Rename(bg, "other/b", to+"/b", 0))
		}
	}
	stop.Store(true)
	wg.Wait()
	o.requireFresh(t, []string{"a/b/c/f=f", "a/b/c/g=g", "a/b/u=u"}, "x", "other/b")
}

// TestCacheNewLowerNamesAreSeen documents what the cache does not hide:
// names are always asked of every layer a cached directory merges, so a
// file added to a lower layer after the mount shows up (the conformance
// suite's fixtures rely on it).
func TestCacheNewLowerNamesAreSeen(t *testing.T) {
	o := newTestOverlay(t, WhiteoutAuto, tree{"d/a": "a"})
	o.warm(t)
	require.NoError(t, os.WriteFile(filepath.Join(o.lowerDirs[0], "d", "late"), []byte("late"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(o.lowerDirs[0], "new", "dir"), 0o755))
	assert.Equal(t, "late", readAll(t, o, "d/late"))
	_, err := o.Stat(bg, "new/dir")
	assert.NoError(t, err)
}
