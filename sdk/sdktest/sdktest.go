// Package sdktest mounts filesystems for tests, the way net/http/httptest
// starts servers: on a fresh temporary directory, failing the test when the
// mount cannot be made, and always unmounting in t.Cleanup, even when the
// test fails or panics, so that no mount outlives the test binary.
package sdktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// UnmountTimeout bounds how long the cleanup waits for open files before it
// detaches the mount by force. A test's own files are closed by then; what
// it waits for is the rest of the machine: processes a test started that
// are still exiting (and hold files or a working directory on the mount),
// and the libfuse loop winding down. On a quiet machine that takes
// milliseconds; with both CPUs of a 2-CPU machine saturated by other work,
// unmounts in the race-enabled suite went past 10 s (issue 14), so the
// bound is far beyond that: it only ends a test whose mount can never be
// unmounted.
const UnmountTimeout = 60 * time.Second

// Mount mounts fsys on a new temporary directory and returns the running
// server; srv.Dir() is the mountpoint. opts may be nil. A mount that cannot
// be made fails the test at once (it is never skipped). At cleanup the
// mount is unmounted and the drain errors, if any, fail the test.
func Mount(t testing.TB, fsys sdk.FileSystem, opts *sdk.Options) *sdk.Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := sdk.Mount(fsys, dir, opts)
	if err != nil {
		t.Fatalf("sdktest: mount failed: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), UnmountTimeout)
		defer cancel()
		start := time.Now()
		if err := srv.Unmount(ctx); err != nil && !errors.Is(err, sdk.ErrNotMounted) {
			t.Errorf("sdktest: unmount of %s: %v", srv.Dir(), err)
		}
		if d := time.Since(start); d > time.Second {
			// Worth knowing when a deadline is to be chosen.
			t.Logf("sdktest: unmount of %s took %v", srv.Dir(), d.Round(time.Millisecond))
		}
	})
	return srv
}
