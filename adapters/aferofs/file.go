package aferofs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
)

// file is an open afero file made safe for the SDK's concurrent calls.
type file struct {
	fsys *FS
	name string // for error messages only: the file may be renamed

	// host is the *os.File inside af, or nil. pread and pwrite on a host
	// file are safe concurrently, so its ReadAt and WriteAt skip mu.
	host *os.File
	// memf is af when it is a MemMapFs handle, whose Close needs help.
	memf *mem.File
	// limit is the largest size a write may give the file (FS.sizeLimit).
	limit int64

	// mu serialises every call on af (but ReadAt and WriteAt of a host
	// file): afero files share one offset between ReadAt, WriteAt and
	// Seek, and several keep unlocked state.
	mu     sync.Mutex
	af     afero.File
	closed bool // guarded by mu

	// noReadAt and noWriteAt are set once af has said it does not offer
	// positional I/O; from then on Seek and Read/Write under mu serve.
	noReadAt  atomic.Bool
	noWriteAt atomic.Bool
}

var _ sdk.FileStater = (*file)(nil)

func (f *FS) newFile(name string, af afero.File) *file {
	h := &file{fsys: f, name: name, af: af}
	switch inner := unwrapFile(af).(type) {
	case *os.File:
		h.host = inner
	case *mem.File:
		h.memf = inner
	}
	h.limit = f.sizeLimit(af)
	return h
}

// sizeLimit is the largest size af may reach: see Options.MaxFileSize.
func (f *FS) sizeLimit(af afero.File) int64 {
	switch {
	case f.maxSize > 0:
		return f.maxSize
	case f.maxSize < 0:
		return math.MaxInt64
	}
	if _, ok := unwrapFile(af).(*mem.File); ok {
		return DefaultMemMaxFileSize
	}
	return math.MaxInt64
}

// truncateFile sets the size of af within its limit. MemMapFs allocates the
// whole new size at once; a size the Go runtime cannot allocate panics
// inside afero, which is reported as EFBIG rather than a failure of the
// adapter (EIO).
func (f *FS) truncateFile(af afero.File, name string, size int64) (err error) {
	if size < 0 {
		return pathErr("truncate", name, syscall.EINVAL)
	}
	if size > f.sizeLimit(af) {
		return pathErr("truncate", name, syscall.EFBIG)
	}
	if _, ok := unwrapFile(af).(*mem.File); ok {
		defer recoverTooLarge("truncate", name, &err)
	}
	return af.Truncate(size)
}

// recoverTooLarge turns a panic of MemMapFs while it grows a file (the
// runtime's "makeslice: len out of range") into EFBIG.
func recoverTooLarge(op, name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("aferofs: %s %s: MemMapFs cannot hold the size asked for (%v): %w", op, name, r, syscall.EFBIG)
	}
}

// lockIO takes mu unless af is a host file and returns the unlock function.
func (h *file) lockIO() func() {
	if h.host != nil {
		return func() {}
	}
	h.mu.Lock()
	return h.mu.Unlock
}

// ReadAt implements sdk.File. It fills p unless the file ends first.
func (h *file) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("read", h.name, syscall.EINVAL)
	}
	defer h.lockIO()()
	n := 0
	for n < len(p) {
		m, err := h.readAt(p[n:], off+int64(n))
		n += m
		switch {
		case errors.Is(err, io.EOF):
			return n, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF) && h.beyondEnd(off+int64(n)):
			// MemMapFs reports a read that starts past the end this way.
			return n, io.EOF
		case err != nil:
			return n, err
		case m == 0:
			// No progress and no error: nothing more to read.
			return n, io.EOF
		}
	}
	return n, nil
}

// beyondEnd reports whether off is at or past the end of the file.
func (h *file) beyondEnd(off int64) bool {
	fi, err := h.af.Stat()
	return err == nil && off >= fi.Size()
}

func (h *file) readAt(p []byte, off int64) (n int, err error) {
	if h.noReadAt.Load() {
		return h.seekRead(p, off)
	}
	defer func() {
		if r := recover(); r != nil {
			// zipfs.File.ReadAt (afero v1.15.0) slices past its buffer when
			// off is beyond the end of the file.
			n, err = 0, h.recovered("ReadAt", r, off)
		}
	}()
	n, err = h.af.ReadAt(p, off)
	if n == 0 && isUnsupported(err) {
		h.noReadAt.Store(true)
		return h.seekRead(p, off)
	}
	return n, err
}

func (h *file) recovered(op string, r any, off int64) error {
	if h.beyondEnd(off) {
		return io.EOF
	}
	return fmt.Errorf("aferofs: %s: %T.%s panicked: %v: %w", h.name, h.af, op, r, syscall.EIO)
}

func (h *file) seekRead(p []byte, off int64) (int, error) {
	if _, err := h.af.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return h.af.Read(p)
}

func isUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EOPNOTSUPP)
}

// WriteAt implements sdk.File. A write that would take the file past its
// size limit writes what fits and reports EFBIG, as write(2) does at
// RLIMIT_FSIZE.
func (h *file) WriteAt(ctx context.Context, p []byte, off int64) (n int, err error) {
	end := off + int64(len(p))
	if off < 0 || end < off {
		// A negative or overflowing offset: rw_verify_area's EINVAL.
		return 0, pathErr("write", h.name, syscall.EINVAL)
	}
	var tooLarge error
	if end > h.limit {
		if off >= h.limit {
			return 0, pathErr("write", h.name, syscall.EFBIG)
		}
		p = p[:h.limit-off]
		end = h.limit
		tooLarge = pathErr("write", h.name, syscall.EFBIG)
	}
	defer h.lockIO()()
	if h.memf != nil {
		defer recoverTooLarge("write", h.name, &err)
		if err := h.growMem(off, end); err != nil {
			return 0, err
		}
	}
	for n < len(p) {
		m, err := h.writeAt(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
	}
	return n, tooLarge
}

// growMem extends a MemMapFs file to end before a write that starts at off,
// past its end. MemMapFs would build the hole and the data in two temporary
// slices and append both: a write at 256 MiB past the end peaked at 850 MB,
// where growing first and then writing in place peaked at 530 MB. h.mu is
// held.
func (h *file) growMem(off, end int64) error {
	fd := h.memf.Data()
	if off <= mem.GetFileInfo(fd).Size() {
		return nil
	}
	return h.af.Truncate(end)
}

func (h *file) writeAt(p []byte, off int64) (int, error) {
	if !h.noWriteAt.Load() {
		n, err := h.af.WriteAt(p, off)
		if n > 0 || !isUnsupported(err) {
			return n, err
		}
		h.noWriteAt.Store(true)
	}
	if _, err := h.af.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return h.af.Write(p)
}

// Truncate implements sdk.File.
func (h *file) Truncate(ctx context.Context, size int64) error {
	if size < 0 {
		return pathErr("truncate", h.name, syscall.EINVAL)
	}
	if size > h.limit {
		return pathErr("truncate", h.name, syscall.EFBIG)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fsys.truncateFile(h.af, h.name, size)
}

// Sync implements sdk.File. afero has no fdatasync; host files get a real one.
func (h *file) Sync(ctx context.Context, datasync bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if datasync && h.host != nil {
		return fdatasync(h.host)
	}
	return h.af.Sync()
}

// Stat implements sdk.FileStater from the handle, so a renamed or unlinked
// file still answers.
func (h *file) Stat(ctx context.Context) (sdk.Attr, error) {
	h.mu.Lock()
	fi, err := h.af.Stat()
	h.mu.Unlock()
	if err != nil {
		return sdk.Attr{}, err
	}
	return h.fsys.attr(fi), nil
}

// Close implements sdk.File.
func (h *file) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return pathErr("close", h.name, os.ErrClosed)
	}
	h.closed = true
	if h.memf == nil {
		return h.af.Close()
	}
	// MemMapFs stamps the time of Close as the modification time of every
	// writable handle. Writes have already stamped their own time, and a
	// time set with SetTimes (touch -d, cp -p) must survive the close.
	fd := h.memf.Data()
	mtime := mem.GetFileInfo(fd).ModTime()
	err := h.af.Close()
	mem.SetModTime(fd, mtime)
	return err
}
