package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MountFailed explains a failed sdk.Mount for a user of the command line.
// A stale FUSE mount at the mountpoint (its server died) gets the flag that
// clears it instead of the SDK's advice, which names Options fields.
func MountFailed(mountpoint string, err error) error {
	if Stale(mountpoint) {
		abs, _ := filepath.Abs(mountpoint)
		return fmt.Errorf("%s: a stale FUSE mount is in the way (transport endpoint is not connected: the server that mounted it died); rerun with -clear-stale (or -o clear_stale) to clear it, or run: fusermount3 -u -z %s", abs, abs)
	}
	return err
}

// Stale reports whether dir is a FUSE mount whose server is gone. statfs
// always reaches the server, where stat may be answered from the kernel's
// cache.
func Stale(dir string) bool {
	var sfs unix.Statfs_t
	err := unix.Statfs(dir, &sfs)
	return errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNABORTED)
}
