package exerciser_test

import (
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/conformance/exerciser"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// sdkTarget is one of the SDK's own filesystems, mounted, with the
// exerciser features it supports.
type sdkTarget struct {
	name     string
	mount    func(t testing.TB) string
	features exerciser.Features
}

// linkOptions turns off the kernel's attribute cache for filesystems with
// hard links. libfuse's high-level API gives every path its own kernel
// inode, so after link(a, b) the kernel still holds a's old attributes and
// lstat(a) reports the old link count until the attribute timeout (one
// second by default in the libfuse2 build; libfuse3 never caches). The
// exerciser reports that, rightly; these tests are about the filesystems.
var linkOptions = &sdk.Options{AttrTimeout: -1}

// sdkTargets lists the filesystems the fuzz targets and TestSDKMounts run
// on. Each mount function mounts once and returns the mountpoint; the mount
// goes away in t.Cleanup.
func sdkTargets() []sdkTarget {
	return []sdkTarget{
		{
			name: "passthrough",
			mount: func(t testing.TB) string {
				fsys, err := passthrough.New(t.TempDir())
				require.NoError(t, err)
				return sdktest.Mount(t, fsys, linkOptions).Dir()
			},
			features: exerciser.Features{Mmap: true, ODirect: true, HardLinks: true, Symlinks: true},
		},
		{
			name: "memfs",
			mount: func(t testing.TB) string {
				return sdktest.Mount(t, sdktest.NewMemFS(), linkOptions).Dir()
			},
			features: exerciser.Features{Mmap: true, HardLinks: true, Symlinks: true},
		},
		{
			name: "aferofs-memmap",
			mount: func(t testing.TB) string {
				return sdktest.Mount(t, aferofs.New(afero.NewMemMapFs()), nil).Dir()
			},
			features: exerciser.Features{Mmap: true},
		},
	}
}

// TestSDKMounts runs a few thousand generated ops of both modes on each of
// the SDK's own filesystems; CI runs many more through fusekit-conform.
func TestSDKMounts(t *testing.T) {
	for _, st := range sdkTargets() {
		t.Run(st.name, func(t *testing.T) {
			dir := st.mount(t)
			cfg := exerciser.Config{Seed: 1, Ops: 3000, Features: st.features}
			_, err := exerciser.Run(dir, cfg)
			require.NoError(t, err)
			cfg.Ops = 1500
			_, err = exerciser.RunNamespace(dir, cfg)
			require.NoError(t, err)
		})
	}
}
