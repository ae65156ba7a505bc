//go:build linux

package sdktest

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// StaleMount leaves a stale FUSE mount on dir, which must be an existing
// directory, and returns dir: a mount whose server is gone, so that every
// stat of dir fails with ENOTCONN ("transport endpoint is not connected"),
// as after a server was killed while auto_unmount was off or its helper
// failed. It mounts /dev/fuse itself and closes the device at once, which
// makes the kernel abort the connection exactly as a killed server's exit
// does. It needs root (mount(2)); without it the test fails. Whatever
// is still mounted on dir is detached at cleanup. Calling it again on the
// same dir stacks another dead mount.
func StaleMount(t testing.TB, dir string) string {
	t.Helper()
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("sdktest: cannot open /dev/fuse for a stale mount: %v", err)
	}
	data := fmt.Sprintf("fd=%d,rootmode=40000,user_id=%d,group_id=%d", fd, os.Getuid(), os.Getgid())
	err = unix.Mount("sdktest-stale", dir, "fuse.sdktest-stale", unix.MS_NOSUID|unix.MS_NODEV, data)
	unix.Close(fd)
	if err != nil {
		t.Fatalf("sdktest: cannot make a stale FUSE mount on %s (root is needed): %v", dir, err)
	}
	t.Cleanup(func() {
		for unix.Unmount(dir, unix.MNT_DETACH) == nil {
		}
	})
	// Closing the device aborts the connection before close returns; the
	// loop only guards against a kernel that does it later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sfs unix.Statfs_t
		err := unix.Statfs(dir, &sfs)
		if errors.Is(err, unix.ENOTCONN) {
			return dir
		}
		if time.Now().After(deadline) {
			t.Fatalf("sdktest: the mount on %s did not become stale: statfs said %v", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
