package exerciser

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"golang.org/x/sys/unix"
)

// NativeFile returns a factory of files in dir, operated on with plain
// system calls: each target is a new file with a unique name, removed by
// Close. dir may be a FUSE mount; that is the point.
func NativeFile(dir string) FileFactory {
	return func() (FileTarget, error) {
		f, err := os.CreateTemp(dir, "fsx-*")
		if err != nil {
			return nil, err
		}
		path := f.Name()
		if err := f.Close(); err != nil {
			return nil, errors.Join(err, os.Remove(path))
		}
		t := &nativeFile{path: path, fd: -1, dfd: -1, page: int64(os.Getpagesize())}
		if err := t.open(); err != nil {
			return nil, errors.Join(err, os.Remove(path))
		}
		return t, nil
	}
}

// nativeFile is a FileTarget on a real file. The buffered descriptor is
// always open; the O_DIRECT one is opened on first use, so that targets
// without O_DIRECT support work when ODirect ops are off.
type nativeFile struct {
	path    string
	fd, dfd int
	page    int64
	// abuf is an anonymous mapping, hence page-aligned, that O_DIRECT
	// transfers go through.
	abuf []byte
}

func (f *nativeFile) open() error {
	fd, err := retryFD(func() (int, error) { return unix.Open(f.path, unix.O_RDWR|unix.O_CLOEXEC, 0) })
	if err != nil {
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	f.fd = fd
	return nil
}

func (f *nativeFile) ReadAt(p []byte, off int64) (int, error) {
	return retryN(func() (int, error) { return unix.Pread(f.fd, p, off) })
}

func (f *nativeFile) WriteAt(p []byte, off int64) (int, error) {
	return retryN(func() (int, error) { return unix.Pwrite(f.fd, p, off) })
}

func (f *nativeFile) Truncate(size int64) error {
	return retry(func() error { return unix.Ftruncate(f.fd, size) })
}

func (f *nativeFile) Size() (int64, error) {
	var st unix.Stat_t
	err := retry(func() error { return unix.Fstat(f.fd, &st) })
	return st.Size, err
}

func (f *nativeFile) Sync() error {
	return retry(func() error { return unix.Fsync(f.fd) })
}

func (f *nativeFile) Reopen() error {
	if err := f.closeFDs(); err != nil {
		return err
	}
	return f.open()
}

func (f *nativeFile) closeFDs() error {
	var errs []error
	for _, fd := range []*int{&f.fd, &f.dfd} {
		if *fd >= 0 {
			// close(2) must not be retried on EINTR: the descriptor is
			// gone either way.
			if err := unix.Close(*fd); err != nil {
				errs = append(errs, fmt.Errorf("close: %w", err))
			}
			*fd = -1
		}
	}
	return errors.Join(errs...)
}

func (f *nativeFile) MapRead(p []byte, off int64) error {
	return f.mapped(off, len(p), unix.PROT_READ, func(m []byte) { copy(p, m) })
}

func (f *nativeFile) MapWrite(p []byte, off int64) error {
	return f.mapped(off, len(p), unix.PROT_READ|unix.PROT_WRITE, func(m []byte) { copy(m, p) })
}

// mapped maps [off, off+n) shared, runs fn on it, msyncs a writable
// mapping, and unmaps.
//
// The pages are faulted in by madvise(MADV_POPULATE_READ/WRITE) before fn
// touches them. When the FUSE server runs in this same process (tests, the
// fuzz targets), a page fault taken by Go code can deadlock: the faulting
// goroutine cannot be preempted while the kernel waits for the server, and
// the server's goroutines wait for the garbage collector, which waits for
// the faulting goroutine. Inside madvise the goroutine is in a system call,
// which the collector does not wait for. (Kernels before 5.14 lack the
// advice; then the pages are simply touched.) A fault that still happens
// (SIGBUS when the file is shorter than the mapping) is returned as an
// error instead of killing the process.
func (f *nativeFile) mapped(off int64, n, prot int, fn func([]byte)) (err error) {
	start := off &^ (f.page - 1)
	m, err := unix.Mmap(f.fd, start, int(off-start)+n, prot, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer func() {
		if uerr := unix.Munmap(m); uerr != nil && err == nil {
			err = fmt.Errorf("munmap: %w", uerr)
		}
	}()
	advice, what := unix.MADV_POPULATE_READ, "MADV_POPULATE_READ"
	if prot&unix.PROT_WRITE != 0 {
		advice, what = unix.MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE"
	}
	if err := retry(func() error { return unix.Madvise(m, advice) }); err != nil && err != unix.EINVAL {
		return fmt.Errorf("madvise %s: %w", what, err)
	}
	func() {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if _, fault := r.(interface{ Addr() uintptr }); !fault {
					panic(r)
				}
				err = fmt.Errorf("memory fault touching the mapping (SIGBUS: is the file shorter than fstat says?): %v", r)
			}
		}()
		fn(m[off-start:])
	}()
	if err != nil || prot&unix.PROT_WRITE == 0 {
		return err
	}
	if err := retry(func() error { return unix.Msync(m, unix.MS_SYNC) }); err != nil {
		return fmt.Errorf("msync: %w", err)
	}
	return nil
}

// direct returns the O_DIRECT descriptor and an aligned buffer of n bytes.
func (f *nativeFile) direct(n int) ([]byte, error) {
	if f.dfd < 0 {
		fd, err := retryFD(func() (int, error) {
			return unix.Open(f.path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return nil, fmt.Errorf("open O_DIRECT: %w", err)
		}
		f.dfd = fd
	}
	if len(f.abuf) < n {
		if f.abuf != nil {
			if err := unix.Munmap(f.abuf); err != nil {
				return nil, fmt.Errorf("munmap: %w", err)
			}
			f.abuf = nil
		}
		b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return nil, fmt.Errorf("mmap of the O_DIRECT buffer: %w", err)
		}
		f.abuf = b
	}
	return f.abuf[:n], nil
}

func (f *nativeFile) DirectReadAt(p []byte, off int64) (int, error) {
	buf, err := f.direct(len(p))
	if err != nil {
		return 0, err
	}
	n, err := retryN(func() (int, error) { return unix.Pread(f.dfd, buf, off) })
	copy(p, buf[:max(n, 0)])
	return n, err
}

func (f *nativeFile) DirectWriteAt(p []byte, off int64) (int, error) {
	buf, err := f.direct(len(p))
	if err != nil {
		return 0, err
	}
	copy(buf, p)
	return retryN(func() (int, error) { return unix.Pwrite(f.dfd, buf, off) })
}

func (f *nativeFile) Close() error {
	errs := []error{f.closeFDs()}
	if f.abuf != nil {
		errs = append(errs, unix.Munmap(f.abuf))
		f.abuf = nil
	}
	errs = append(errs, os.Remove(f.path))
	return errors.Join(errs...)
}

// The retry helpers restart a system call interrupted by a signal, as the
// os package does: Go's runtime sends SIGURG to preempt goroutines, and a
// FUSE request can be interrupted by it.
func retry(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

func retryN(call func() (int, error)) (int, error) {
	for {
		if n, err := call(); err != unix.EINTR {
			return n, err
		}
	}
}

func retryFD(call func() (int, error)) (int, error) { return retryN(call) }

// NativeNamespace returns a factory of fresh directories below dir,
// operated on with plain system calls (rename(2) itself, not os.Rename,
// which refuses to replace a directory). Close removes the tree.
func NativeNamespace(dir string) NamespaceFactory {
	return func() (NamespaceTarget, error) {
		root, err := os.MkdirTemp(dir, "ns-*")
		if err != nil {
			return nil, err
		}
		return nativeTree{root: root}, nil
	}
}

type nativeTree struct{ root string }

func (t nativeTree) path(name string) string { return filepath.Join(t.root, filepath.FromSlash(name)) }

func (t nativeTree) Create(name string, data []byte) error {
	fd, err := retryFD(func() (int, error) {
		return unix.Open(t.path(name), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	})
	if err != nil {
		return err
	}
	n, err := retryN(func() (int, error) { return unix.Write(fd, data) })
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write of %s: %d of %d bytes", name, n, len(data))
	}
	return errors.Join(err, unix.Close(fd))
}

func (t nativeTree) Mkdir(name string) error {
	return retry(func() error { return unix.Mkdir(t.path(name), 0o755) })
}

func (t nativeTree) Rename(oldname, newname string) error {
	return retry(func() error { return unix.Rename(t.path(oldname), t.path(newname)) })
}

func (t nativeTree) Unlink(name string) error {
	return retry(func() error { return unix.Unlink(t.path(name)) })
}

func (t nativeTree) Rmdir(name string) error {
	return retry(func() error { return unix.Rmdir(t.path(name)) })
}

func (t nativeTree) Link(oldname, newname string) error {
	return retry(func() error { return unix.Link(t.path(oldname), t.path(newname)) })
}

func (t nativeTree) Symlink(target, newname string) error {
	return retry(func() error { return unix.Symlink(target, t.path(newname)) })
}

func (t nativeTree) Lstat(name string) (Entry, error) {
	var st unix.Stat_t
	if err := retry(func() error { return unix.Lstat(t.path(name), &st) }); err != nil {
		return Entry{}, err
	}
	e := Entry{Type: TypeOther, Nlink: int(st.Nlink), Size: st.Size}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		e.Type = TypeRegular
	case syscall.S_IFDIR:
		e.Type = TypeDir
	case syscall.S_IFLNK:
		e.Type = TypeSymlink
	}
	return e, nil
}

func (t nativeTree) Readlink(name string) (string, error) { return os.Readlink(t.path(name)) }

func (t nativeTree) ReadFile(name string) ([]byte, error) { return os.ReadFile(t.path(name)) }

func (t nativeTree) ReadDir(name string) ([]string, error) {
	d, err := os.Open(t.path(name))
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	return names, errors.Join(err, d.Close())
}

func (t nativeTree) Close() error { return os.RemoveAll(t.root) }
