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
// detaches the mount by force.
const UnmountTimeout = 10 * time.Second

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
		if err := srv.Unmount(ctx); err != nil && !errors.Is(err, sdk.ErrNotMounted) {
			t.Errorf("sdktest: unmount of %s: %v", srv.Dir(), err)
		}
	})
	return srv
}
