package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
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

	// ErrDataLost is wrapped by the *DataLostError that SyncFS and Close
	// return when data acknowledged to write(2) is not on the backend:
	// after SyncFS it is still buffered and retried until Close, after
	// Close it is gone. It is sdk.ErrDataLost, so sdk.Server.Unmount,
	// whose drain calls SyncFS, reports it too.
	ErrDataLost = sdk.ErrDataLost

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
// after the data. It is sticky on the file: each handle open when it
// happened returns it once, from its next write, fsync or close, unless
// the data reached the backend first; while the data is missing, SyncFS
// names the file in a DataLostError.
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

// DataLostError names the acknowledged data that did not reach the
// backend: the files, their bytes, and the error each last failed with.
// errors.Is(err, ErrDataLost) holds, and the files' errors are in its
// chain.
type DataLostError struct {
	// Bytes is the total of Files.
	Bytes int64
	Files []LostFile
	// Others are failures that cost no data but are not repaired: setting
	// the modification time after write-back.
	Others []error
	// Final is set by Close: the data is gone. From SyncFS it is still
	// buffered and tried again, until Close.
	Final bool
	// Journal is set by Close when Options.Journal holds the data: it is
	// not lost but kept there, and the next New on that journal writes it
	// back. errors.Is(err, ErrDataLost) is false then.
	Journal string
}

// LostFile is one file of a DataLostError.
type LostFile struct {
	Name  string // "" once the file was unlinked
	Bytes int64
	// Err is the file's last write-back error; nil when the data was not
	// tried (the drain's context ended first).
	Err error
}

// maxLostShown bounds the files a DataLostError's message names.
const maxLostShown = 8

func (e *DataLostError) Error() string {
	var b strings.Builder
	if e.Bytes > 0 {
		files := "files"
		if len(e.Files) == 1 {
			files = "file"
		}
		if e.Journal != "" {
			fmt.Fprintf(&b, "writeback: not written back: %d bytes acknowledged to write(2) in %d %s are kept in the journal %s, and the next mount with it writes them back", e.Bytes, len(e.Files), files, e.Journal)
		} else {
			fmt.Fprintf(&b, "writeback: data lost: %d bytes acknowledged to write(2) in %d %s never reached the backend", e.Bytes, len(e.Files), files)
		}
		if !e.Final {
			b.WriteString(" (still buffered: Close tries once more)")
		}
		b.WriteString(":")
		for i, f := range e.Files {
			if i == maxLostShown {
				fmt.Fprintf(&b, " and %d more files", len(e.Files)-i)
				break
			}
			name := strconv.Quote(f.Name)
			if f.Name == "" {
				name = "(an unlinked file)"
			}
			fmt.Fprintf(&b, " %s %d bytes", name, f.Bytes)
			if f.Err != nil {
				fmt.Fprintf(&b, " (%v)", f.Err)
			}
			if i < len(e.Files)-1 {
				b.WriteString(";")
			}
		}
	}
	for _, o := range e.Others {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(o.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrDataLost) true when data is missing.
func (e *DataLostError) Is(target error) bool {
	return target == ErrDataLost && e.Bytes > 0 && e.Journal == ""
}

// Unwrap returns the files' errors and the others.
func (e *DataLostError) Unwrap() []error {
	var errs []error
	for _, f := range e.Files {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	return append(errs, e.Others...)
}
