package brokenfs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/conformance"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// injector maps the suite's absolute paths to names in a mounted Faults.
type injector struct {
	faults *Faults
	dir    string // mountpoint
}

func (i injector) name(path string) (string, error) {
	rel, err := filepath.Rel(i.dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s is not under the mount %s", path, i.dir)
	}
	return filepath.ToSlash(rel), nil
}

func (i injector) FailNextSync(path string) error {
	name, err := i.name(path)
	if err == nil {
		i.faults.FailNextSync(name)
	}
	return err
}

func (i injector) FailNextClose(path string) error {
	name, err := i.name(path)
	if err == nil {
		i.faults.FailNextFlush(name)
	}
	return err
}

var _ conformance.CloseFaultInjector = injector{}

// mountFS mounts wrap(Faults(passthrough of a fresh directory)) where other
// users can reach it, and returns the mountpoint and the features to claim.
func mountFS(t *testing.T, wrap func(sdk.FileSystem) sdk.FileSystem) (string, conformance.Features) {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.Chmod(root, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(root), 0o755))
	backend, err := passthrough.New(root)
	require.NoError(t, err)
	t.Cleanup(func() { _ = backend.Close() })
	faults := NewFaults(backend)
	var fsys sdk.FileSystem = faults
	if wrap != nil {
		fsys = wrap(faults)
	}
	srv := sdktest.Mount(t, fsys, &sdk.Options{AllowOther: true})
	require.NoError(t, os.Chmod(filepath.Dir(srv.Dir()), 0o755))
	f := passthroughFeatures()
	f.FaultInjector = injector{faults: faults, dir: srv.Dir()}
	return srv.Dir(), f
}

// passthroughFeatures is what the passthrough adapter mounted through the
// SDK claims, with the deviations measured in each libfuse build.
func passthroughFeatures() conformance.Features {
	f := conformance.AllFeatures()
	f.Limitations = []conformance.Limitation{
		{Test: "unlink/open-file-invisible", Reason: "libfuse renames a file unlinked while open to .fuse_hiddenNNNN; the SDK hides it from listings, but rmdir of its directory fails with ENOTEMPTY until it is closed"},
	}
	if sdk.Build == "fuse2" {
		f.RenameFlags = false // libfuse2 refuses renameat2 flags with EINVAL before the filesystem sees them
		f.Limitations = append(f.Limitations,
			conformance.Limitation{Test: "time/utimensat-omit", Reason: "libfuse2 silently drops a utimensat that sets only one time"},
			conformance.Limitation{Test: "time/utimensat-now", Reason: "libfuse2 silently drops a utimensat that sets only one time"},
			conformance.Limitation{Test: "link/hard", Reason: "libfuse2's high-level API gives each name of a hard-linked file its own kernel inode, so after a write through one name the kernel serves the other's cached size until AttrTimeout expires"})
	}
	return f
}

// defectGroups are the groups run against each broken filesystem: every
// group a listed defect can show in, without the slow many-entries test.
var defectGroups = []string{"io", "append", "odirect", "mmap", "rename", "unlink", "cto", "errors"}

func inDefectGroups(name string) bool {
	return slices.ContainsFunc(defectGroups, func(g string) bool { return strings.HasPrefix(name, g+"/") })
}

// TestPassthroughConforms runs the whole suite against the correct stack
// that the defects are added to: it must pass, or the defect tests below
// would prove nothing.
func TestPassthroughConforms(t *testing.T) {
	dir, f := mountFS(t, nil)
	conformance.RunT(t, dir, f)
}

// TestDefectsCaught mounts each broken filesystem and checks that the
// suite fails it with a message naming the defect, while the same tests
// pass on the same stack without the defect.
func TestDefectsCaught(t *testing.T) {
	opts := conformance.RunOptions{Match: inDefectGroups}
	t.Run("correct", func(t *testing.T) {
		dir, f := mountFS(t, nil)
		rs := conformance.Run(dir, f, opts)
		passed, failed, skipped := conformance.Summary(rs)
		t.Logf("without a defect: %d passed, %d failed, %d skipped", passed, failed, skipped)
		for _, r := range rs {
			if r.Status == conformance.Fail || r.Status == conformance.XPass {
				t.Errorf("%s %s: %s", r.Status, r.Name, r.Message)
			}
		}
		assert.Zero(t, failed)
	})
	for _, d := range Defects() {
		t.Run(d.Name, func(t *testing.T) {
			dir, f := mountFS(t, d.Wrap)
			var caught []string
			for _, r := range conformance.Run(dir, f, opts) {
				if r.Status == conformance.Fail && strings.Contains(r.Message, d.Symptom) {
					caught = append(caught, r.Name)
					if testing.Verbose() {
						t.Logf("%s: %s", r.Name, firstLine(r.Message, d.Symptom))
					}
				}
			}
			if len(caught) == 0 {
				t.Errorf("no test failed with %q", d.Symptom)
			}
			t.Logf("%s caught by %s", d.Name, strings.Join(caught, ", "))
		})
	}
}

// firstLine returns the first line of msg that contains want.
func firstLine(msg, want string) string {
	for line := range strings.Lines(msg) {
		if strings.Contains(line, want) {
			return strings.TrimSpace(line)
		}
	}
	return msg
}
