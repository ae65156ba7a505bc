package writeback

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockJournal takes the journal directory's lock file for this process, so
// that two mounts never append to and release from one journal.
func lockJournal(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
}

// datasync makes a segment's appended records durable (Windows has no
// data-only flush; FlushFileBuffers is what Sync calls).
func datasync(f *os.File) error {
	return f.Sync()
}
