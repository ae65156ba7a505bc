package overlay

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
)

func aferoRead(t *testing.T, fsys sdk.FileSystem, name string) string {
	t.Helper()
	ctx := context.Background()
	f, err := fsys.Open(ctx, name, oRdonly, 0)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 1<<16)
	n, err := f.ReadAt(ctx, buf, 0)
	if err != io.EOF {
		require.NoError(t, err)
	}
	return string(buf[:n])
}

func aferoNames(t *testing.T, fsys sdk.FileSystem, dir string) []string {
	t.Helper()
	ents, err := fsys.ReadDir(context.Background(), dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

// TestAferoLayers runs the overlay over a read-only afero lower and a
// MemMapFs upper: no xattrs, no device nodes, so OCI markers and full
// copy-ups.
func TestAferoLayers(t *testing.T) {
	ctx := context.Background()
	lowerMem := afero.NewMemMapFs()
	for name, c := range map[string]struct {
		data string
		mode os.FileMode
	}{
		"etc/motd":         {"hello", 0o644},
		"etc/hosts":        {"localhost", 0o644},
		"etc/conf.d/a.cfg": {"a=1", 0o600},
		"bin/tool":         {"#!", 0o755},
	} {
		require.NoError(t, afero.WriteFile(lowerMem, "/"+name, []byte(c.data), c.mode))
		require.NoError(t, lowerMem.Chmod("/"+name, c.mode))
	}
	lower := aferofs.New(afero.NewReadOnlyFs(lowerMem))
	upperMem := afero.NewMemMapFs()
	upper := aferofs.New(upperMem)
	o, err := New(Config{Upper: upper, Lowers: []sdk.FileSystem{lower}})
	require.NoError(t, err)
	assert.Equal(t, WhiteoutOCI, o.Format())
	assert.False(t, o.Metacopy())

	before, err := o.Stat(ctx, "etc/motd")
	require.NoError(t, err)
	f, err := o.Open(ctx, "etc/motd", oWronly, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(ctx, []byte("J"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, "Jello", aferoRead(t, o, "etc/motd"))
	after, err := o.Stat(ctx, "etc/motd")
	require.NoError(t, err)
	assert.Equal(t, before.Ino, after.Ino)
	assert.Equal(t, uint32(0o644), after.Mode&sdk.PermMask)

	require.NoError(t, o.Unlink(ctx, "etc/hosts"))
	ok, err := afero.Exists(upperMem, "/etc/.wh.hosts")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.ElementsMatch(t, []string{"motd", "conf.d"}, aferoNames(t, o, "etc"))

	require.NoError(t, o.Rename(ctx, "etc", "config", 0))
	assert.ElementsMatch(t, []string{"bin", "config"}, aferoNames(t, o, "."))
	assert.Equal(t, "a=1", aferoRead(t, o, "config/conf.d/a.cfg"))
	_, err = o.Stat(ctx, "etc/motd")
	assert.ErrorIs(t, err, syscall.ENOENT)

	require.NoError(t, o.Chmod(ctx, "bin/tool", 0o700))
	a, err := o.Stat(ctx, "bin/tool")
	require.NoError(t, err)
	assert.Equal(t, uint32(0o700), a.Mode&sdk.PermMask)
	assert.Equal(t, "#!", aferoRead(t, o, "bin/tool"))
}

func TestConfigErrors(t *testing.T) {
	mem := aferofs.New(afero.NewMemMapFs())
	for reason, cfg := range map[string]Config{
		"Lowers: at least one": {Upper: mem},
		"Lowers[1]: is nil":    {Lowers: []sdk.FileSystem{mem, nil}},
		"WorkDir":              {Upper: mem, Lowers: []sdk.FileSystem{mem}, WorkDir: "a/b"},
		"read as a whiteout":   {Upper: mem, Lowers: []sdk.FileSystem{mem}, WorkDir: ".wh.work"},
		"Whiteouts: unknown":   {Upper: mem, Lowers: []sdk.FileSystem{mem}, Whiteouts: 9},
		"kernel format needs":  {Upper: mem, Lowers: []sdk.FileSystem{mem}, Whiteouts: WhiteoutKernel},
	} {
		_, err := New(cfg)
		require.Error(t, err, reason)
		assert.Contains(t, err.Error(), reason)
	}
}
