//go:build unix

package writeback

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockJournal takes the journal directory's lock file for this process, so
// that two mounts never append to and release from one journal.
func lockJournal(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// datasync makes a segment's appended records durable; the segment's size
// is part of that, its times are not.
func datasync(f *os.File) error {
	return unix.Fdatasync(int(f.Fd()))
}
