package passthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

var (
	_ sdk.File       = (*file)(nil)
	_ sdk.FileStater = (*file)(nil)
)

// passedOpenFlags are the open(2) flags that reach the backing open. The
// kernel may send others (FMODE_EXEC when a binary on the mount is run,
// for one) that openat2 rejects with EINVAL. O_APPEND is not among them:
// the SDK places every append itself at the size it determines under its
// per-file append lock, and Linux pwrite on an O_APPEND descriptor ignores
// the offset and writes at the end, which would break writes the SDK (or a
// write-back layer flushing out of order) places deliberately.
const passedOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC |
	unix.O_NONBLOCK | unix.O_SYNC | unix.O_DSYNC | unix.O_DIRECT | unix.O_NOATIME |
	unix.O_DIRECTORY | unix.O_LARGEFILE

// Open opens name with open(2) flags and, with O_CREAT, creates it with
// exactly perm, owned by the caller when the daemon is root.
//
// A final symbolic link is not followed (O_NOFOLLOW, ELOOP): the kernel
// resolves symbolic links on a FUSE mount itself and only opens what Stat
// described, so a link here means the tree changed behind the mount.
// O_APPEND is not passed to the backing open (see passedOpenFlags). A
// write-only open is made read-write when the daemon may read the file,
// because a write-back layer or the kernel's write-back cache reads through
// write-only handles; O_RDONLY is never upgraded.
func (f *FS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if flags&unix.O_ACCMODE == unix.O_ACCMODE {
		return nil, pathErr("open", name, fmt.Errorf("access mode O_ACCMODE: %w", unix.EINVAL))
	}
	if !sdk.ValidName(name) {
		return nil, pathErr("open", name, unix.EINVAL)
	}
	backing := flags&passedOpenFlags | unix.O_NOFOLLOW | unix.O_NOCTTY
	var fd int
	var err error
	if flags&unix.O_CREAT != 0 {
		fd, err = f.create(ctx, name, backing, perm)
	} else {
		var s dirRef
		if s, err = start(f.root(), name); err == nil {
			fd, err = openUpgraded(s.fd, s.base, backing, 0)
			s.close()
		}
	}
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return newFile(fd, name, flags&unix.O_DIRECT != 0), nil
}

// create opens name with O_CREAT. It first tries O_EXCL, so that it knows
// whether it created the file and must hand it to the caller; only when the
// caller did not ask for O_EXCL does an existing file get opened instead.
// The retry loop covers the file vanishing between the two attempts.
func (f *FS) create(ctx context.Context, name string, flags int, perm uint32) (int, error) {
	d, err := f.parent(name)
	if err != nil {
		return -1, err
	}
	defer d.close()
	for range maxRaceRetries {
		fd, err := openUpgraded(d.fd, d.base, flags|unix.O_EXCL, perm)
		if err == nil {
			if err := f.settle(ctx, d, fd, perm, sdk.TypeRegular); err != nil {
				unix.Close(fd)
				unix.Unlinkat(d.fd, d.base, 0)
				return -1, err
			}
			return fd, nil
		}
		if err != unix.EEXIST || flags&unix.O_EXCL != 0 {
			return -1, err
		}
		fd, err = openUpgraded(d.fd, d.base, flags&^unix.O_CREAT, 0)
		if err != unix.ENOENT {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// openUpgraded opens name beneath dirfd, turning O_WRONLY into O_RDWR when
// the daemon may read the file.
func openUpgraded(dirfd int, name string, flags int, perm uint32) (int, error) {
	if flags&unix.O_ACCMODE != unix.O_WRONLY {
		return openat2(dirfd, name, flags, perm)
	}
	fd, err := openat2(dirfd, name, flags&^unix.O_ACCMODE|unix.O_RDWR, perm)
	if err == unix.EACCES {
		fd, err = openat2(dirfd, name, flags, perm)
	}
	return fd, err
}

// file is an open backing file. The *os.File guards the descriptor's
// lifetime (a call racing Close fails with ErrClosed rather than acting on
// a reused descriptor number) and retries EINTR and short transfers.
type file struct {
	f *os.File
	// direct is set for O_DIRECT opens; memAlign is then the memory
	// alignment the backing filesystem needs for direct I/O.
	direct   bool
	memAlign uintptr
}

func newFile(fd int, name string, direct bool) *file {
	h := &file{f: os.NewFile(uintptr(fd), name), direct: direct}
	if direct {
		h.memAlign = pageSize
		var stx unix.Statx_t
		err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &stx)
		if err == nil && stx.Mask&unix.STATX_DIOALIGN != 0 && stx.Dio_mem_align > 0 {
			h.memAlign = uintptr(stx.Dio_mem_align)
		}
	}
	return h
}

// ReadAt fills p from off, stopping short only at the end of the file.
func (h *file) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, h.err("read", unix.EINVAL)
	}
	if !h.direct || aligned(p, h.memAlign) {
		n, err := h.f.ReadAt(p, off)
		return n, h.readErr(n, err)
	}
	b := getBounce(len(p), h.memAlign)
	n, err := h.f.ReadAt(b.buf[:len(p)], off)
	copy(p, b.buf[:n])
	putBounce(b)
	return n, h.readErr(n, err)
}

// readErr makes the end of a direct read look like any other end of file.
// os.File.ReadAt continues a short read at the offset where it stopped;
// with O_DIRECT that offset is the unaligned end of the file, and some
// filesystems answer it with EINVAL instead of 0. A direct read only comes
// back short at the end of the file, so that EINVAL means EOF.
func (h *file) readErr(n int, err error) error {
	if h.direct && n > 0 && errors.Is(err, unix.EINVAL) {
		return io.EOF
	}
	return err
}

// WriteAt writes all of p at off.
func (h *file) WriteAt(_ context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, h.err("write", unix.EINVAL)
	}
	if !h.direct || aligned(p, h.memAlign) {
		return h.f.WriteAt(p, off)
	}
	b := getBounce(len(p), h.memAlign)
	copy(b.buf, p)
	n, err := h.f.WriteAt(b.buf[:len(p)], off)
	putBounce(b)
	return n, err
}

// Truncate sets the size of the file (ftruncate).
func (h *file) Truncate(_ context.Context, size int64) error {
	return h.f.Truncate(size)
}

// Sync is fsync, or fdatasync when datasync is set.
func (h *file) Sync(_ context.Context, datasync bool) error {
	if !datasync {
		return h.f.Sync()
	}
	return h.control("fdatasync", func(fd int) error { return unix.Fdatasync(fd) })
}

// Stat returns the attributes of the open file (fstat), which stay right
// after the file is renamed or unlinked.
func (h *file) Stat(context.Context) (sdk.Attr, error) {
	var st unix.Stat_t
	if err := h.control("fstat", func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		return sdk.Attr{}, err
	}
	return attrFromStat(&st), nil
}

// Close closes the backing descriptor.
func (h *file) Close() error { return h.f.Close() }

// control runs fn on the descriptor while the *os.File keeps it open.
func (h *file) control(op string, fn func(fd int) error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		// Control fails only when the file is closed (and then with an
		// internal error value that matches nothing).
		return h.err(op, fs.ErrClosed)
	}
	if opErr != nil {
		return h.err(op, opErr)
	}
	return nil
}

func (h *file) err(op string, err error) error {
	return &fs.PathError{Op: op, Path: h.f.Name(), Err: err}
}

func aligned(p []byte, align uintptr) bool {
	return len(p) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(p)))%align == 0
}

// Bounce buffers for direct I/O on unaligned memory come from pools of
// page-aligned buffers, one pool per power-of-two size from one page to
// maxPooledBounce (the largest FUSE transfer); larger ones are allocated.
const (
	pageSize        = 4096
	maxBounceClass  = 8
	maxPooledBounce = pageSize << maxBounceClass
)

var bouncePools [maxBounceClass + 1]sync.Pool

type bounce struct {
	buf   []byte
	class int // index in bouncePools, or -1 when not pooled
}

// getBounce returns a buffer of at least n bytes whose first byte is
// aligned to align.
func getBounce(n int, align uintptr) *bounce {
	if align > pageSize || n > maxPooledBounce {
		return &bounce{buf: alignedBuf(n, align), class: -1}
	}
	class := 0
	for pageSize<<class < n {
		class++
	}
	if b, ok := bouncePools[class].Get().(*bounce); ok {
		return b
	}
	return &bounce{buf: alignedBuf(pageSize<<class, pageSize), class: class}
}

func putBounce(b *bounce) {
	if b.class >= 0 {
		bouncePools[b.class].Put(b)
	}
}

// alignedBuf allocates n bytes starting at a multiple of align (a power of
// two).
func alignedBuf(n int, align uintptr) []byte {
	raw := make([]byte, n+int(align))
	skip := (align - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%align) % align
	return raw[skip : int(skip)+n : int(skip)+n]
}
