package sftpfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/pkg/sftp"
)

// SFTP version 3, which OpenSSH speaks, has eight status codes. OpenSSH
// folds errno values into them: ENOENT, ENOTDIR, ELOOP and EBADF become
// NO_SUCH_FILE; EPERM and EACCES become PERMISSION_DENIED; EINVAL and
// ENAMETOOLONG become BAD_MESSAGE; everything else (EEXIST, ENOTEMPTY,
// EISDIR, ENOSPC, EROFS, ...) becomes FAILURE. The status message is a fixed
// text per code, so the errno is lost on the wire.
//
// errno undoes the folding where the code alone is enough. For FAILURE the
// operations that can tell more (Mkdir, OpenFile, Remove, Rename, Symlink)
// look at the names involved after the fact: see the classify* helpers.

// errno returns the error an operation should report for an sftp error:
// a syscall.Errno where the status code says which, else the error itself
// (sdk.Errno maps what is left to EIO).
func errno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// pkg/sftp wraps some errors in its own PathError; ours replaces it.
		err = pe.Err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES
	}
	switch statusCode(err) {
	case sftp.ErrSSHFxBadMessage:
		return syscall.EINVAL
	case sftp.ErrSSHFxOpUnsupported:
		return syscall.EOPNOTSUPP
	}
	return err
}

// statusCode returns the SFTP status code of err, or ErrSSHFxOk when err
// is not an SFTP status. A lost connection reports its own code.
func statusCode(err error) error {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return se.FxCode()
	}
	for _, code := range []error{sftp.ErrSSHFxConnectionLost, sftp.ErrSSHFxNoConnection} {
		if errors.Is(err, code) {
			return code
		}
	}
	return sftp.ErrSSHFxOk
}

// isFailure reports whether err is the catch-all FAILURE status.
func isFailure(err error) bool {
	return statusCode(err) == sftp.ErrSSHFxFailure
}

// pathError wraps err for the afero name the caller used.
func pathError(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: errno(err)}
}

// errOutsideRoot reports a name whose ".." elements climb above the root.
// It wraps fs.ErrInvalid, so sdk.Errno maps it to EINVAL.
var errOutsideRoot = errors.New("the name climbs above the sftpfs root")

// errNUL reports a name with a NUL byte, which an SFTP server would cut
// short at the NUL and so act on another file.
var errNUL = errors.New("the name contains a NUL byte")

// invalidName is the error type of names refused before they are sent.
type invalidName struct{ reason error }

func (e *invalidName) Error() string        { return e.reason.Error() }
func (e *invalidName) Unwrap() []error      { return []error{e.reason, fs.ErrInvalid} }
func (e *invalidName) Errno() syscall.Errno { return syscall.EINVAL }
