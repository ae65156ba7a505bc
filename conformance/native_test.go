//go:build linux

package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// reachableTempDir returns a fresh directory that other users can reach,
// so that the unprivileged-uid tests run instead of skipping: t.TempDir
// makes its parent 0700.
func reachableTempDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// TestNative calibrates the suite against the kernel: a native directory
// (ext4 on the machines this runs on) with every feature claimed must pass
// every test, or the suite, not the target, is wrong.
func TestNative(t *testing.T) {
	RunT(t, reachableTempDir(t), AllFeatures())
}

// TestKernelOverlay calibrates the overlay checks against the kernel's
// overlayfs, with two lower layers, and runs the rest of the suite through
// it as a second well-known target.
func TestKernelOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("mounting overlayfs needs root")
	}
	base := reachableTempDir(t)
	dirs := map[string]string{}
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		dirs[d] = filepath.Join(base, d)
		require.NoError(t, os.Mkdir(dirs[d], 0o755))
	}
	opts := "lowerdir=" + dirs["lower1"] + ":" + dirs["lower2"] + ",upperdir=" + dirs["upper"] + ",workdir=" + dirs["work"]
	require.NoError(t, unix.Mount("overlay", dirs["merged"], "overlay", 0, opts), "mount -t overlay -o %s", opts)
	t.Cleanup(func() { require.NoError(t, unix.Unmount(dirs["merged"], 0)) })

	f := AllFeatures()
	f.Overlay = &OverlayLayers{Upper: dirs["upper"], Lowers: []string{dirs["lower1"], dirs["lower2"]}}
	RunT(t, dirs["merged"], f)
}
