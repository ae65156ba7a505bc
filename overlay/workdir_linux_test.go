//go:build linux

package overlay

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// hostNames lists every path under root, relative to it.
func hostNames(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, p); rel != "." {
			out = append(out, rel)
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// With a work directory, every way the overlay stages something (a data
// copy-up, a metacopy stub, a directory copied up, a whiteout replacing an
// upper file, a file, directory, symbolic link, device and hard link made
// where a whiteout was) leaves in the upper only the layer's own content,
// and the work directory empty; through a real mount in both kernel
// marker formats.
func TestWorkDirOutsideUpper(t *testing.T) {
	for _, format := range []WhiteoutFormat{WhiteoutKernel, WhiteoutOCI} {
		t.Run(format.String(), func(t *testing.T) {
			lower, upper, work := t.TempDir(), t.TempDir(), t.TempDir()
			makeTree(t, lower, tree{"data": "lower data", "meta": "m", "d/x": "x", "f1": "1", "f2": "2", "f3": "3", "f4": "4", "f5": "5", "keep": "k"})
			require.NoError(t, os.WriteFile(filepath.Join(work, "not ours"), []byte("kept"), 0o600))
			o, err := New(Config{Upper: pt(t, upper), Lowers: []sdk.FileSystem{pt(t, lower)}, Work: pt(t, work), Whiteouts: format, Metacopy: MetacopyFusekit})
			require.NoError(t, err)
			srv := sdktest.Mount(t, o, nil)
			m := func(rel string) string { return filepath.Join(srv.Dir(), rel) }

			require.NoError(t, pwrite(m("data"), os.O_WRONLY|os.O_APPEND, "+", 0), "data copy-up")
			require.NoError(t, os.Chmod(m("meta"), 0o600), "metacopy stub")
			require.NoError(t, os.Chmod(m("d"), 0o700), "directory copy-up")
			require.NoError(t, os.Remove(m("data")), "whiteout over an upper file")
			for _, n := range []string{"f1", "f2", "f3", "f4", "f5"} {
				require.NoError(t, os.Remove(m(n)))
			}
			require.NoError(t, os.WriteFile(m("f1"), []byte("new"), 0o644), "file over a whiteout")
			require.NoError(t, os.Mkdir(m("f2"), 0o755), "directory over a whiteout")
			require.NoError(t, os.Symlink("keep", m("f3")), "symlink over a whiteout")
			require.NoError(t, unix.Mkfifo(m("f4"), 0o644), "fifo over a whiteout")
			require.NoError(t, os.Link(m("keep"), m("f5")), "hard link over a whiteout")

			got, err := os.ReadFile(m("f5"))
			require.NoError(t, err)
			assert.Equal(t, "k", string(got))
			ents, err := os.ReadDir(srv.Dir())
			require.NoError(t, err)
			var merged []string
			for _, e := range ents {
				merged = append(merged, e.Name())
			}
			assert.ElementsMatch(t, []string{"d", "meta", "f1", "f2", "f3", "f4", "f5", "keep"}, merged)

			want := []string{"d", "f1", "f2", "f3", "f4", "f5", "keep", "meta"}
			if format == WhiteoutKernel {
				want = append(want, "data")
			} else {
				want = append(want, ".wh.data", "f2/.wh..wh..opq")
			}
			sort.Strings(want)
			assert.Equal(t, want, hostNames(t, upper), "the upper holds the layer and nothing else")
			assert.Equal(t, []string{"not ours", "work"}, hostNames(t, work), "staging leaves nothing behind")
		})
	}
}

// New empties the overlay's own directory in the work directory (a crash
// can leave staged copies there) and touches nothing else in it.
func TestWorkDirLeftoversRemoved(t *testing.T) {
	lower, upper, work := t.TempDir(), t.TempDir(), t.TempDir()
	makeTree(t, work, tree{"work/#1": "partial copy", "work/#2/x": "staged dir", "other/file": "kept"})
	_, err := New(Config{Upper: pt(t, upper), Lowers: []sdk.FileSystem{pt(t, lower)}, Work: pt(t, work)})
	require.NoError(t, err)
	assert.Equal(t, []string{"other", "other/file", "work"}, hostNames(t, work))
	assert.Empty(t, hostNames(t, upper))
}

func TestWorkDirErrors(t *testing.T) {
	lowerDir, upperDir := t.TempDir(), t.TempDir()
	lower, upper := pt(t, lowerDir), pt(t, upperDir)
	require.NoError(t, os.Mkdir(filepath.Join(upperDir, "in"), 0o755))
	outer := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(outer, "up"), 0o755))

	tmpfs := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", tmpfs, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(tmpfs, 0)) })
	bind := t.TempDir()
	require.NoError(t, unix.Mount(filepath.Dir(upperDir), bind, "", unix.MS_BIND, ""))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(bind, 0)) })
	sibling := t.TempDir() // a sibling of upperDir, seen through the bind mount

	mem := aferofs.New(afero.NewMemMapFs())
	for _, c := range []struct {
		desc  string
		cfg   Config
		wants []string
	}{
		{"other filesystem", Config{Upper: upper, Work: pt(t, tmpfs)}, []string{"Config.Work", upperDir, tmpfs, "different filesystems"}},
		{"bind mount", Config{Upper: upper, Work: pt(t, filepath.Join(bind, filepath.Base(sibling)))}, []string{upperDir, bind, "different mounts"}},
		{"inside the upper", Config{Upper: upper, Work: pt(t, filepath.Join(upperDir, "in"))}, []string{filepath.Join(upperDir, "in"), "is inside " + upperDir}},
		{"upper inside", Config{Upper: pt(t, filepath.Join(outer, "up")), Work: pt(t, outer)}, []string{filepath.Join(outer, "up") + " is inside " + outer}},
		{"same", Config{Upper: upper, Work: pt(t, upperDir)}, []string{"same directory"}},
		{"not a CrossFS", Config{Upper: upper, Work: mem}, []string{"Config.Work", "overlay.CrossFS", "aferofs"}},
		{"no upper", Config{Work: pt(t, t.TempDir())}, []string{"needs an upper"}},
		{"both", Config{Upper: upper, Work: pt(t, t.TempDir()), WorkDir: "w"}, []string{"Config.WorkDir", "only when Work is nil"}},
	} {
		c.cfg.Lowers = []sdk.FileSystem{lower}
		_, err := New(c.cfg)
		require.Error(t, err, c.desc)
		for _, w := range c.wants {
			assert.Contains(t, err.Error(), w, c.desc)
		}
	}
	assert.Equal(t, []string{"in"}, hostNames(t, upperDir), "no failed New left anything in the upper")
}
