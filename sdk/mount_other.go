//go:build !linux

package sdk

import (
	"context"
	"os"
	"time"

	"github.com/winfsp/cgofuse/fuse"
)

// On platforms other than Linux the SDK builds (so that programs embedding
// it can be cross-compiled) but makes no promises beyond what cgofuse does:
// the mountpoint checks, readiness through mountinfo, stderr capture and the
// graceful unmount are Linux features.

func checkMountpoint(dir string, r *resolved) (bool, error) {
	return false, nil
}

// CheckStale and ClearStale find nothing to do outside Linux.
func CheckStale(dir string) error { return nil }
func ClearStale(dir string) error { return nil }

// The watchdog that backs up auto_unmount is a Linux feature.
type watchdog struct{}

func startWatchdog(dir string, dev uint64) (*watchdog, error) { return nil, nil }
func (*watchdog) stop()                                       {}

func checkHelpers(r *resolved) error { return nil }

func closeOnExecAll() {}

type stderrCapture struct{}

func captureStderr() *stderrCapture   { return &stderrCapture{} }
func (c *stderrCapture) stop() string { return "" }

func waitLive(dir, subtype string, deadline <-chan time.Time) (uint64, error) {
	for {
		if _, err := os.Stat(dir); err == nil {
			return 0, nil
		}
		select {
		case <-deadline:
			_, err := os.Stat(dir)
			return 0, err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func unmountDir(ctx context.Context, dir string, host *fuse.FileSystemHost) (bool, error) {
	host.Unmount()
	return false, nil
}

func abortConnection(dev uint64) (bool, error) { return false, nil }
