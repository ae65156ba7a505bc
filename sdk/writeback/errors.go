package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

var (
	// ErrTemporary marks a backend error as worth retrying: a backend
	// returns an error wrapping it (or any error with a Temporary() bool
	// method that returns true), and write-back retries the chunk with
	// backoff before giving up.
	ErrTemporary = errors.New("writeback: temporary backend failure")

	// ErrClosed is returned by every operation after Close.
	ErrClosed = fmt.Errorf("writeback: filesystem closed: %w", fs.ErrClosed)

	// ErrDataLost is wrapped by the error Close returns when buffered data
	// could not be written back before its context ended or the backend
	// kept failing.
	ErrDataLost = errors.New("writeback: buffered data never reached the backend")

	errNotWritable = fmt.Errorf("writeback: file not open for writing: %w", syscall.EBADF)
	errNotReadable = fmt.Errorf("writeback: file opened write-only and the backend refused read access: %w", syscall.EBADF)
	errNoName      = fmt.Errorf("writeback: file was unlinked and the backend file cannot do this: %w", fs.ErrNotExist)
)

// IsTemporary reports whether err is one write-back retries: it wraps
// ErrTemporary, or something in its chain has a Temporary() bool method
// that returns true.
func IsTemporary(err error) bool {
	if errors.Is(err, ErrTemporary) {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// WriteBackError is a failed write-back: the backend refused a chunk (after
// the retries a temporary error gets), or setting the modification time
// after the data. It is sticky on the file and is returned once to each
// open handle by its next write, fsync or close, and once by SyncFS.
type WriteBackError struct {
	// Name is the file's name when the write-back failed; empty once the
	// file was unlinked.
	Name string
	// Off and Len locate the chunk; Len is zero when setting the
	// modification time failed.
	Off int64
	Len int
	// Err is the backend's error.
	Err error
}

func (e *WriteBackError) Error() string {
	if e.Len == 0 {
		return fmt.Sprintf("writeback: setting the mtime of %q after write-back: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("writeback: writing %d bytes at offset %d of %q: %v", e.Len, e.Off, e.Name, e.Err)
}

func (e *WriteBackError) Unwrap() error { return e.Err }

// Errno is the errno the application sees. A temporary error that outlived
// its retries becomes EIO: passing on EAGAIN or ETIMEDOUT from close(2)
// would invite a retry of something that cannot be retried.
func (e *WriteBackError) Errno() syscall.Errno {
	if IsTemporary(e.Err) {
		return syscall.EIO
	}
	return sdk.Errno(e.Err)
}

// As lets sdk.Errno (which looks for a syscall.Errno first) see Errno's
// answer rather than an errno buried in the cause.
func (e *WriteBackError) As(target any) bool {
	if p, ok := target.(*syscall.Errno); ok {
		*p = e.Errno()
		return true
	}
	return false
}
