package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fusekit/fusekit/sdk"
)

// MountFailed explains a failed sdk.Mount for a user of the command line.
// A stale FUSE mount at the mountpoint (its server died) gets the flag that
// clears it instead of the SDK's advice, which names Options fields.
func MountFailed(mountpoint string, err error) error {
	if errors.Is(err, sdk.ErrStaleMount) || Stale(mountpoint) {
		abs, _ := filepath.Abs(mountpoint)
		return fmt.Errorf("%s: a stale FUSE mount is in the way (transport endpoint is not connected: the server that mounted it died); rerun with -clear-stale (or -o clear_stale) to clear it, or run: fusermount3 -u -z %s", abs, abs)
	}
	return err
}

// Stale reports whether dir is a FUSE mount whose server is gone, as the
// SDK's own check before mounting sees it.
func Stale(dir string) bool {
	return errors.Is(sdk.CheckStale(dir), sdk.ErrStaleMount)
}
