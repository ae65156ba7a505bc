package sftpfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/pkg/sftp"
	"github.com/spf13/afero"
)

// File is an open file or directory of an Fs. ReadAt, WriteAt, Stat and
// Truncate are safe to call concurrently with each other (each is one or a
// few independent SFTP requests on the handle); Read, Write and Seek share
// the file offset, as on an *os.File.
type File struct {
	fs   *Fs
	name string // as given to OpenFile
	path string // on the server
	flag int    // the OpenFile flags
	f    *sftp.File

	// mu guards dir and listed: the directory listing that Readdir and
	// Readdirnames hand out in pieces.
	mu     sync.Mutex
	dir    []os.FileInfo
	listed bool
}

var _ afero.File = (*File)(nil)

// Name returns the name as given to OpenFile.
func (f *File) Name() string { return f.name }

// Close closes the handle on the server.
func (f *File) Close() error {
	if err := f.f.Close(); err != nil {
		return pathError("close", f.name, err)
	}
	return nil
}

func (f *File) readable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY }
func (f *File) writable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// Read reads from the file offset. Like pkg/sftp, and as io.Reader allows,
// it may return the last bytes of the file together with io.EOF.
func (f *File) Read(p []byte) (int, error) {
	if !f.readable() {
		// OpenSSH would report the server's EBADF as "no such file".
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EBADF}
	}
	n, err := f.f.Read(p)
	return n, f.ioError("read", err)
}

// ReadAt reads len(p) bytes at off. It fills p unless the file ends first,
// in which case it returns io.EOF with the bytes there were.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if !f.readable() {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EBADF}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	n := 0
	for n < len(p) {
		m, err := f.f.ReadAt(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, f.ioError("read", err)
		}
		if m == 0 {
			// pkg/sftp loops over short replies itself; a reply with no
			// data and no error would loop here for ever.
			return n, &fs.PathError{Op: "read", Path: f.name, Err: io.ErrNoProgress}
		}
	}
	return n, nil
}

// Write writes at the file offset (at the end of the file if it was
// opened with O_APPEND: the server appends, although Seek still reports
// the offset counted here).
func (f *File) Write(p []byte) (int, error) {
	if !f.writable() {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	n, err := f.f.Write(p)
	return n, f.ioError("write", err)
}

// errWriteAtInAppendMode is what os.File says too: the server would
// append, not write at the offset.
var errWriteAtInAppendMode = errors.New("invalid use of WriteAt on file opened with O_APPEND")

// WriteAt writes p at off, at any offset: writing past the end leaves a hole
// that reads as zeros.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if !f.writable() {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if f.flag&os.O_APPEND != 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: errWriteAtInAppendMode}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	n, err := f.f.WriteAt(p, off)
	return n, f.ioError("write", err)
}

// WriteString is Write of s.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// Seek sets the file offset. Seeking relative to the end asks the server
// for the size.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	n, err := f.f.Seek(offset, whence)
	if err != nil {
		return n, pathError("seek", f.name, err)
	}
	return n, nil
}

// Sync asks the server to flush the file to stable storage
// (fsync@openssh.com; EOPNOTSUPP without it).
func (f *File) Sync() error {
	if err := f.f.Sync(); err != nil {
		return pathError("sync", f.name, err)
	}
	return nil
}

// Truncate sets the size of the file; growing it adds zeros.
func (f *File) Truncate(size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	if err := f.f.Truncate(size); err != nil {
		return pathError("truncate", f.name, err)
	}
	return nil
}

// Stat returns the attributes of the open file (fstat on the handle, so it
// follows the file across renames). Sys is a *sftp.FileStat.
func (f *File) Stat() (os.FileInfo, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return nil, pathError("stat", f.name, err)
	}
	return fi, nil
}

// Readdir returns the directory's entries like os.File.Readdir: n > 0
// returns at most n and io.EOF at the end, n <= 0 returns all that are left.
// The directory is listed once, by the name it was opened with, at the
// first call.
func (f *File) Readdir(n int) ([]os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.listed {
		entries, err := f.fs.c.ReadDir(f.path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				// OpenSSH reports ENOTDIR as "no such file".
				if fi, serr := f.f.Stat(); serr == nil && !fi.IsDir() {
					err = syscall.ENOTDIR
				}
			}
			return nil, pathError("readdir", f.name, err)
		}
		f.dir, f.listed = entries, true
	}
	if n <= 0 || n > len(f.dir) {
		if n > 0 && len(f.dir) == 0 {
			return nil, io.EOF
		}
		n = len(f.dir)
	}
	out := f.dir[:n:n]
	f.dir = f.dir[n:]
	return out, nil
}

// Readdirnames is Readdir returning names only.
func (f *File) Readdirnames(n int) ([]string, error) {
	infos, err := f.Readdir(n)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}

// ioError keeps io.EOF as it is, for io.Reader callers, and refines the
// FAILURE that reading or writing a directory handle gets into EISDIR.
func (f *File) ioError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if isFailure(err) {
		if fi, serr := f.f.Stat(); serr == nil && fi.IsDir() {
			err = syscall.EISDIR
		}
	}
	return pathError(op, f.name, err)
}
