package aferofs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aferoTargets are the afero.Fs values the afero-style behaviour tests run
// over. MemMapFs itself is no reference: it removes non-empty directories
// and cannot find "a.txt" after writing "/a.txt".
func aferoTargets(t *testing.T) map[string]afero.Fs {
	return map[string]afero.Fs{
		"ToAfero(New(MemMapFs))":     ToAfero(New(afero.NewMemMapFs())),
		"ToAfero(New(BasePathFs))":   ToAfero(New(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))),
		"ToAfero(New(ToAfero(...)))": ToAfero(New(ToAfero(New(afero.NewMemMapFs())))),
	}
}

func TestToAferoFiles(t *testing.T) {
	for name, afs := range aferoTargets(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, afero.WriteFile(afs, "/a.txt", []byte("hello"), 0o644))
			got, err := afero.ReadFile(afs, "a.txt")
			require.NoError(t, err)
			assert.Equal(t, "hello", string(got))

			f, err := afs.OpenFile("/a.txt", os.O_RDWR, 0)
			require.NoError(t, err)
			assert.Equal(t, "/a.txt", f.Name())
			pos, err := f.Seek(1, io.SeekStart)
			require.NoError(t, err)
			assert.EqualValues(t, 1, pos)
			buf := make([]byte, 3)
			n, err := f.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "ell", string(buf[:n]))
			_, err = f.WriteString("O!")
			require.NoError(t, err)
			pos, err = f.Seek(0, io.SeekCurrent)
			require.NoError(t, err)
			assert.EqualValues(t, 6, pos)
			n, err = f.Read(buf)
			assert.Equal(t, 0, n)
			assert.Equal(t, io.EOF, err)
			n, err = f.ReadAt(buf, 4)
			assert.Equal(t, io.EOF, err, "a short ReadAt says why")
			assert.Equal(t, "O!", string(buf[:n]))
			_, err = f.WriteAt([]byte("J"), 0)
			require.NoError(t, err)
			pos, err = f.Seek(-2, io.SeekEnd)
			require.NoError(t, err)
			assert.EqualValues(t, 4, pos)
			require.NoError(t, f.Truncate(3))
			fi, err := f.Stat()
			require.NoError(t, err)
			assert.EqualValues(t, 3, fi.Size())
			assert.Equal(t, "a.txt", fi.Name())
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())
			assert.Error(t, f.Close(), "second close")
			got, err = afero.ReadFile(afs, "/a.txt")
			require.NoError(t, err)
			assert.Equal(t, "Jel", string(got))

			// O_APPEND writes at the end, wherever the offset is.
			f, err = afs.OpenFile("/a.txt", os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write([]byte("12"))
			require.NoError(t, err)
			_, err = f.Seek(0, io.SeekStart)
			require.NoError(t, err)
			_, err = f.Write([]byte("3"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			got, err = afero.ReadFile(afs, "/a.txt")
			require.NoError(t, err)
			assert.Equal(t, "Jel123", string(got))

			_, err = afs.OpenFile("/a.txt", os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
			assert.True(t, os.IsExist(err), "%v", err)
			_, err = afs.Open("/missing")
			assert.True(t, os.IsNotExist(err), "%v", err)
			assert.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
}

func TestToAferoDirectories(t *testing.T) {
	for name, afs := range aferoTargets(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, afs.MkdirAll("/x/y/z", 0o755))
			require.NoError(t, afs.MkdirAll("/x/y/z", 0o755), "MkdirAll of an existing path")
			for _, n := range []string{"a", "b", "c", "d", "e"} {
				require.NoError(t, afero.WriteFile(afs, "/x/"+n, []byte(n), 0o600))
			}
			ok, err := afero.DirExists(afs, "/x/y/z")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Error(t, afs.Mkdir("/x/y", 0o755))

			d, err := afs.Open("/x")
			require.NoError(t, err)
			first, err := d.Readdir(2)
			require.NoError(t, err)
			assert.Len(t, first, 2)
			rest, err := d.Readdirnames(-1)
			require.NoError(t, err)
			assert.Len(t, rest, 4)
			_, err = d.Readdir(1)
			assert.Equal(t, io.EOF, err, "the cursor is at the end")
			require.NoError(t, d.Close())

			infos, err := afero.ReadDir(afs, "/x")
			require.NoError(t, err)
			var names []string
			for _, fi := range infos {
				names = append(names, fi.Name())
				if fi.Name() == "y" {
					assert.True(t, fi.IsDir())
				} else {
					assert.EqualValues(t, 1, fi.Size())
					assert.Equal(t, os.FileMode(0o600), fi.Mode())
				}
			}
			sort.Strings(names)
			assert.Equal(t, []string{"a", "b", "c", "d", "e", "y"}, names)

			{
				d, err = afs.Open("/x")
				require.NoError(t, err)
				rdf, ok := d.(fs.ReadDirFile)
				require.True(t, ok)
				ents, err := rdf.ReadDir(-1)
				require.NoError(t, err)
				assert.Len(t, ents, 6)
				for _, e := range ents {
					info, err := e.Info()
					require.NoError(t, err)
					assert.Equal(t, e.IsDir(), info.IsDir())
				}
				require.NoError(t, d.Close())
			}

			require.NoError(t, afs.Rename("/x/a", "/x/y/a"))
			_, err = afs.Stat("/x/a")
			assert.True(t, os.IsNotExist(err))
			assert.Error(t, afs.Remove("/x/y"), "not empty")
			require.NoError(t, afs.Remove("/x/b"))
			require.NoError(t, afs.RemoveAll("/x"))
			_, err = afs.Stat("/x")
			assert.True(t, os.IsNotExist(err))
			require.NoError(t, afs.RemoveAll("/x"), "RemoveAll of nothing")
		})
	}
}

func TestToAferoMetadata(t *testing.T) {
	for name, afs := range aferoTargets(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, afero.WriteFile(afs, "/f", []byte("x"), 0o644))
			require.NoError(t, afs.Chmod("/f", 0o600))
			mt := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NoError(t, afs.Chtimes("/f", mt, mt))
			fi, err := afs.Stat("/f")
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode())
			assert.True(t, fi.ModTime().Equal(mt))
			require.NoError(t, afs.Chown("/f", 5, 6))
			{
				a, ok := fi.Sys().(*sdk.Attr)
				require.True(t, ok, "Sys is the SDK's Attr")
				assert.Equal(t, sdk.TypeRegular|0o600, a.Mode)
				fi, err = afs.Stat("/f")
				require.NoError(t, err)
				assert.EqualValues(t, 5, fi.Sys().(*sdk.Attr).Uid)
			}
			lfi, lstatted, err := afs.(afero.Lstater).LstatIfPossible("/f")
			require.NoError(t, err)
			assert.Equal(t, fi.Mode(), lfi.Mode())
			assert.True(t, lstatted)
		})
	}
}

func TestToAferoSymlinks(t *testing.T) {
	dir := t.TempDir()
	afs := ToAfero(New(afero.NewBasePathFs(afero.NewOsFs(), dir)))
	require.NoError(t, afs.MkdirAll("/d", 0o755))
	require.NoError(t, afero.WriteFile(afs, "/d/target", []byte("T"), 0o644))
	sl := afs.(afero.Symlinker)
	require.NoError(t, sl.SymlinkIfPossible("target", "/d/rel"))
	require.NoError(t, sl.SymlinkIfPossible("/d/rel", "/abs"))
	require.NoError(t, sl.SymlinkIfPossible("loop2", "/loop1"))
	require.NoError(t, sl.SymlinkIfPossible("loop1", "/loop2"))

	got, err := sl.ReadlinkIfPossible("/abs")
	require.NoError(t, err)
	assert.Equal(t, "/d/rel", got)
	// Stat follows links; absolute targets start at the filesystem's root.
	fi, err := afs.Stat("/abs")
	require.NoError(t, err)
	assert.False(t, fi.Mode()&os.ModeSymlink != 0)
	assert.EqualValues(t, 1, fi.Size())
	data, err := afero.ReadFile(afs, "/abs")
	require.NoError(t, err)
	assert.Equal(t, "T", string(data))
	lfi, ok, err := sl.LstatIfPossible("/abs")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, lfi.Mode()&os.ModeSymlink != 0)
	_, err = afs.Stat("/loop1")
	assert.True(t, errors.Is(err, syscall.ELOOP), "%v", err)
	require.NoError(t, afs.Chmod("/d/rel", 0o600), "chmod follows the link")
	fi, err = afs.Stat("/d/target")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode())

	mem := ToAfero(New(afero.NewMemMapFs())).(afero.Symlinker)
	err = mem.SymlinkIfPossible("a", "/b")
	assert.True(t, errors.Is(err, syscall.EOPNOTSUPP), "%v", err)
}

func TestToAferoPaths(t *testing.T) {
	for in, want := range map[string]string{
		"": ".", "/": ".", ".": ".", "/a/b/": "a/b", "a//b": "a/b", "/../../a": "a", "a/./b/..": "a",
	} {
		assert.Equal(t, want, sdkName(in), in)
	}
}
