//go:build linux

package sdk_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// passthroughMount mounts a passthrough of a fresh tmpfs, which takes the
// disk out of the timing of concurrency tests, and returns the backing
// directory and the server.
func passthroughMount(t *testing.T, opts *sdk.Options) (string, *sdk.Server) {
	t.Helper()
	backing := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", backing, "tmpfs", 0, "mode=0755,size=64m"), "a tmpfs to back the mount")
	t.Cleanup(func() { _ = unix.Unmount(backing, unix.MNT_DETACH) })
	pfs, err := passthrough.New(backing)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pfs.Close() }) // after the unmount, registered below
	return backing, sdktest.Mount(t, pfs, opts)
}

// An open for a name the kernel still holds but the filesystem no longer
// has is the race between open(2) and unlink(2) made deterministic: the
// name goes behind the mount while the kernel (libfuse2: entry cache) or
// the SDK (libfuse3: attribute cache) still says it exists. On Linux's own
// filesystems open(O_CREAT) then creates the file; the SDK answers the
// stale open with ESTALE, on which the VFS repeats the open with fresh
// lookups. Before, the application got ENOENT from open(O_CREAT).
func TestOpenOfVanishedNameIsRetried(t *testing.T) {
	backing, srv := passthroughMount(t, &sdk.Options{
		EntryTimeout: time.Hour, AttrTimeout: time.Hour, AttrCacheTTL: time.Hour,
	})
	for _, name := range []string{"creat", "plain"} {
		require.NoError(t, os.WriteFile(filepath.Join(srv.Dir(), name), []byte("old"), 0o644))
		_, err := os.Stat(filepath.Join(srv.Dir(), name))
		require.NoError(t, err)
		require.NoError(t, os.Remove(filepath.Join(backing, name)))
	}

	fd, err := unix.Open(filepath.Join(srv.Dir(), "creat"), unix.O_CREAT|unix.O_WRONLY, 0o644)
	require.NoError(t, err, "open(O_CREAT) of a name that went away must create it")
	_, err = unix.Write(fd, []byte("new"))
	require.NoError(t, err)
	require.NoError(t, unix.Close(fd))
	got, err := os.ReadFile(filepath.Join(backing, "creat"))
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))

	_, err = unix.Open(filepath.Join(srv.Dir(), "plain"), unix.O_RDONLY, 0)
	assert.ErrorIs(t, err, unix.ENOENT, "without O_CREAT the name is reported missing, not stale")
}

// churn runs workers that create, write, rename and unlink a few names in
// one directory, ops each, and returns how often open(O_CREAT) failed, by
// errno. Only open(O_CREAT) is judged: a rename or unlink of a name another
// worker just removed fails with ENOENT on any filesystem, but an
// open(O_CREAT) in an existing directory does not.
func churn(dir string, workers, ops, names int) map[unix.Errno]int {
	var mu sync.Mutex
	failed := map[unix.Errno]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			name := func() string { return filepath.Join(dir, fmt.Sprintf("n%d", rng.Intn(names))) }
			buf := make([]byte, 512)
			for range ops {
				switch r := rng.Intn(10); {
				case r < 5:
					fd, err := unix.Open(name(), unix.O_CREAT|unix.O_WRONLY, 0o644)
					if err != nil {
						mu.Lock()
						failed[err.(unix.Errno)]++
						mu.Unlock()
						continue
					}
					_, _ = unix.Write(fd, buf)
					_ = unix.Close(fd)
				case r < 7:
					_ = unix.Rename(name(), name())
				default:
					_ = unix.Unlink(name())
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// TestCreateUnderChurn is 16 workers creating, writing, renaming and
// unlinking 4 names in one directory (2,000 operations each, half of them
// open(O_CREAT); 3 to 7 s here).
// An open that comes for a name libfuse still lists but that is gone (the
// hidden name of a file unlinked while open, removed when its last other
// handle closed) must be answered ESTALE, which the kernel retries: with
// libfuse3 the application then sees no ENOENT at all.
//
// Two residues are libfuse's and out of the SDK's reach, and are logged,
// not failed: libfuse2 fails an OPEN with ENOENT itself, without calling
// the filesystem, when an unlink or a rename over the name dropped the
// node's name between the kernel's lookup and the OPEN (libfuse3 says
// ESTALE there, which the kernel retries); and the kernel retries only
// once, so an open that loses that race twice in a row gets ESTALE.
// Measured with 3,000 operations per worker (24,000 opens), 5 runs per
// build: libfuse2 150 to 185 ENOENT (281 before the SDK answered ESTALE),
// libfuse3 no ENOENT (103 before) and 3 to 5 ESTALE (3 before).
func TestCreateUnderChurn(t *testing.T) {
	_, srv := passthroughMount(t, nil)
	d := filepath.Join(srv.Dir(), "d")
	require.NoError(t, os.Mkdir(d, 0o755))
	failed := churn(d, 16, 2000, 4)
	st := srv.Stats()
	t.Logf("open(O_CREAT) failures seen by the application: %v; opens the SDK answered with an error: %d, with ESTALE: %d",
		failed, st.Ops[sdk.OpOpen].Errors, st.Errors[unix.ESTALE])
	assert.Equal(t, st.Ops[sdk.OpOpen].Errors, st.Errors[unix.ESTALE],
		"every open the SDK failed was for a vanished name and must be answered ESTALE, never ENOENT")
	assert.Zero(t, st.Ops[sdk.OpCreate].Errors, "creates in an existing directory")
	if sdk.Build == "fuse3" {
		assert.Zero(t, failed[unix.ENOENT], "open(O_CREAT) failed with ENOENT")
	}
}
