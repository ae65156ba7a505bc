package passthrough

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// Linux names are bytes: anything but NUL and '/'. These names are not
// valid UTF-8 (Latin-1 "é", a lone 0xff, a stray continuation byte), which
// io/fs.ValidPath refuses and ext4 or tmpfs hold without complaint.
const (
	latin1File = "caf\xe9.txt"
	badDir     = "d\xff"
	badInner   = "inner\xfe"
	badSub     = "sub\x80"
)

// walkNames lists every path below root, relative to it, the way a tree
// walk (find, rm -r, du) sees them; a directory it cannot list fails the
// test instead of being skipped silently.
func walkNames(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel)
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(names)
	return names
}

// makeBadNames fills dir with a file, a directory, a file inside it and a
// subdirectory with a file, all with names that are not UTF-8.
func makeBadNames(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, latin1File), "latin-1")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, badDir, badSub), 0o755))
	writeFile(t, filepath.Join(dir, badDir, badInner), "inner")
	writeFile(t, filepath.Join(dir, badDir, badSub, "deep\xe9"), "deep")
}

func TestMountNamesNotUTF8(t *testing.T) {
	mnt, back := mountTree(t, nil)
	makeBadNames(t, back)

	// Made behind the mount: stat, open, read, list, walk.
	st := lstat(t, filepath.Join(mnt, latin1File))
	assert.EqualValues(t, len("latin-1"), st.Size)
	assert.Equal(t, uint32(unix.S_IFDIR), lstat(t, filepath.Join(mnt, badDir)).Mode&unix.S_IFMT)
	got, err := os.ReadFile(filepath.Join(mnt, badDir, badSub, "deep\xe9"))
	require.NoError(t, err)
	assert.Equal(t, "deep", string(got))
	ents, err := os.ReadDir(filepath.Join(mnt, badDir))
	require.NoError(t, err)
	var listed []string
	for _, e := range ents {
		listed = append(listed, e.Name())
	}
	assert.ElementsMatch(t, []string{badInner, badSub}, listed)
	assert.Equal(t, walkNames(t, back), walkNames(t, mnt))

	// Made through the mount: create, write, read, rename, mkdir, rmdir,
	// unlink, each checked on the backing directory.
	p := filepath.Join(mnt, badDir, "new\xe9")
	require.NoError(t, os.WriteFile(p, []byte("written"), 0o640))
	got, err = os.ReadFile(filepath.Join(back, badDir, "new\xe9"))
	require.NoError(t, err)
	assert.Equal(t, "written", string(got))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("W"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "Written", string(got))
	require.NoError(t, os.Truncate(p, 3))
	assert.EqualValues(t, 3, lstat(t, filepath.Join(back, badDir, "new\xe9")).Size)

	q := filepath.Join(mnt, "renamed\xff")
	require.NoError(t, os.Rename(p, q))
	assert.NoFileExists(t, filepath.Join(back, badDir, "new\xe9"))
	assert.FileExists(t, filepath.Join(back, "renamed\xff"))

	m := filepath.Join(mnt, "made\xfe")
	require.NoError(t, os.Mkdir(m, 0o750))
	require.NoError(t, os.Symlink(latin1File, filepath.Join(m, "link\xe9")))
	target, err := os.Readlink(filepath.Join(m, "link\xe9"))
	require.NoError(t, err)
	assert.Equal(t, latin1File, target)
	require.NoError(t, os.Rename(q, filepath.Join(m, "moved\x80")))
	assert.FileExists(t, filepath.Join(back, "made\xfe", "moved\x80"))

	require.NoError(t, os.Remove(filepath.Join(mnt, latin1File)))
	assert.NoFileExists(t, filepath.Join(back, latin1File))
	// rm -r of directories with such names: Rmdir of badSub after its
	// file, then the rest.
	require.NoError(t, os.RemoveAll(filepath.Join(mnt, badDir)))
	require.NoError(t, os.RemoveAll(m))
	assert.Empty(t, walkNames(t, back))
	assert.Empty(t, walkNames(t, mnt))
}

// The same names in a lower layer of an overlay of passthrough layers:
// looked up, read, walked, and removed (a whiteout with that name in the
// upper), and created and copied up in the merged view.
func TestMountOverlayNamesNotUTF8(t *testing.T) {
	lowerDir, upperDir := t.TempDir(), t.TempDir()
	makeBadNames(t, lowerDir)
	lower, err := New(lowerDir)
	require.NoError(t, err)
	t.Cleanup(func() { lower.Close() })
	upper, err := New(upperDir)
	require.NoError(t, err)
	t.Cleanup(func() { upper.Close() })
	o, err := overlay.New(overlay.Config{Upper: upper, Lowers: []sdk.FileSystem{lower}})
	require.NoError(t, err)
	mnt := sdktest.Mount(t, o, nil).Dir()

	assert.EqualValues(t, len("latin-1"), lstat(t, filepath.Join(mnt, latin1File)).Size)
	got, err := os.ReadFile(filepath.Join(mnt, badDir, badInner))
	require.NoError(t, err)
	assert.Equal(t, "inner", string(got))
	assert.Equal(t, walkNames(t, lowerDir), walkNames(t, mnt))

	// Copy-up of a file inside a directory with such a name.
	p := filepath.Join(mnt, badDir, badSub, "deep\xe9")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("+more")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err = os.ReadFile(filepath.Join(upperDir, badDir, badSub, "deep\xe9"))
	require.NoError(t, err)
	assert.Equal(t, "deep+more", string(got))

	require.NoError(t, os.WriteFile(filepath.Join(mnt, badDir, "new\xe9"), []byte("n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(mnt, latin1File)))
	_, err = os.Lstat(filepath.Join(mnt, latin1File))
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.FileExists(t, filepath.Join(lowerDir, latin1File), "the lower stays untouched")

	require.NoError(t, os.RemoveAll(filepath.Join(mnt, badDir)))
	assert.Empty(t, walkNames(t, mnt))
	assert.Len(t, walkNames(t, lowerDir), 5, "the lower stays untouched")
}
