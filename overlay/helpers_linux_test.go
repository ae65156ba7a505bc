//go:build linux

package overlay

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
)

var bg = context.Background()

// tree describes host files to create: a name ending in "/" is a
// directory, "->target" a symlink, otherwise the content of a file.
type tree map[string]string

func makeTree(t testing.TB, root string, tr tree) {
	t.Helper()
	for name, content := range tr {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case name[len(name)-1] == '/':
			require.NoError(t, os.MkdirAll(p, 0o755))
		case len(content) > 2 && content[:2] == "->":
			require.NoError(t, os.Symlink(content[2:], p))
		default:
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		}
	}
}

func pt(t testing.TB, dir string) *passthrough.FS {
	t.Helper()
	f, err := passthrough.New(dir)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// testOverlay is an overlay over passthrough layers in temp directories.
type testOverlay struct {
	*FS
	upperDir  string
	lowerDirs []string
}

func newTestOverlay(t testing.TB, format WhiteoutFormat, lowers ...tree) *testOverlay {
	t.Helper()
	return newTestOverlayCfg(t, Config{Whiteouts: format}, lowers...)
}

// newTestOverlayCfg is newTestOverlay with cfg's settings; its Upper and
// Lowers are filled in.
func newTestOverlayCfg(t testing.TB, cfg Config, lowers ...tree) *testOverlay {
	t.Helper()
	to := &testOverlay{upperDir: t.TempDir()}
	var ls []sdk.FileSystem
	for _, tr := range lowers {
		d := t.TempDir()
		makeTree(t, d, tr)
		to.lowerDirs = append(to.lowerDirs, d)
		ls = append(ls, pt(t, d))
	}
	cfg.Upper, cfg.Lowers = pt(t, to.upperDir), ls
	o, err := New(cfg)
	require.NoError(t, err)
	to.FS = o
	return to
}

func readAll(t testing.TB, fsys sdk.FileSystem, name string) string {
	t.Helper()
	f, err := fsys.Open(bg, name, oRdonly, 0)
	require.NoError(t, err)
	defer f.Close()
	var out []byte
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := f.ReadAt(bg, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF || n == 0 {
			break
		}
		require.NoError(t, err)
	}
	return string(out)
}

func writeAt(t testing.TB, fsys sdk.FileSystem, name string, flags int, data string, off int64) {
	t.Helper()
	f, err := fsys.Open(bg, name, flags, 0o644)
	require.NoError(t, err)
	_, err = f.WriteAt(bg, []byte(data), off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func names(t testing.TB, fsys sdk.FileSystem, dir string) []string {
	t.Helper()
	ents, err := fsys.ReadDir(bg, dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

func hostExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func isHostKernelWhiteout(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}
