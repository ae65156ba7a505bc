//go:build !linux || cgo

package sdk

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/spf13/afero"
)

// Errors an implementation may return besides the io/fs and os sentinels.
var (
	// ErrNoAttr reports a missing extended attribute (ENODATA).
	ErrNoAttr error = syscall.ENODATA
	// ErrNotEmpty reports a directory that still has entries (ENOTEMPTY).
	ErrNotEmpty error = syscall.ENOTEMPTY
	// ErrNotSupported reports an operation the filesystem does not offer
	// (EOPNOTSUPP). Prefer it to ENOSYS, which the kernel takes as "never
	// ask this mount again".
	ErrNotSupported error = syscall.EOPNOTSUPP
	// ErrReadOnly reports a write to a read-only filesystem (EROFS).
	ErrReadOnly error = syscall.EROFS
)

// errnoer is implemented by errors that know their errno.
type errnoer interface {
	Errno() syscall.Errno
}

// Errno maps an error to the errno the kernel should see. It is the only
// place in the module that does so.
//
// The order matters: an explicit errno (a syscall.Errno anywhere in the
// chain, or an error with an Errno method) wins over the io/fs sentinels,
// because os.PathError{Err: ENOTDIR} also matches fs.ErrNotExist. Unknown
// errors become EIO, never ENOSYS: the kernel answers ENOSYS by switching the
// operation off for the whole mount, so ENOSYS from a backend is reported as
// EOPNOTSUPP instead.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return sanitize(en)
	}
	var e errnoer
	if errors.As(err, &e) {
		return sanitize(e.Errno())
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, fs.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, fs.ErrClosed), errors.Is(err, afero.ErrFileClosed):
		return syscall.EBADF
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, errors.ErrUnsupported),
		errors.Is(err, afero.ErrNoSymlink), errors.Is(err, afero.ErrNoReadlink):
		return syscall.EOPNOTSUPP
	case errors.Is(err, afero.ErrOutOfRange):
		return syscall.EINVAL
	case errors.Is(err, afero.ErrTooLarge):
		return syscall.EFBIG
	case errors.Is(err, io.ErrShortWrite):
		return syscall.EIO
	}
	return syscall.EIO
}

func sanitize(en syscall.Errno) syscall.Errno {
	switch en {
	case 0:
		// An error that claims success is still an error.
		return syscall.EIO
	case syscall.ENOSYS:
		return syscall.EOPNOTSUPP
	}
	return en
}

// Caller identifies the process that made the system call being served.
type Caller struct {
	Uid uint32
	Gid uint32
	Pid int
}

type callerKey struct{}

// WithCaller returns a context that carries c. The SDK does this for every
// request; tests and wrappers use it to act on behalf of a caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller carried by ctx, if any.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
