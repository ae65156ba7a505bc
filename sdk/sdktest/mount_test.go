//go:build linux

package sdktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

func TestMountMemFS(t *testing.T) {
	srv := sdktest.Mount(t, sdktest.NewMemFS(), nil)
	p := filepath.Join(srv.Dir(), "hello.txt")
	require.NoError(t, os.WriteFile(p, []byte("hello, world\n"), 0o644))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "hello, world\n", string(got))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.EqualValues(t, 13, fi.Size())
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}
