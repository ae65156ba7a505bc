package aferofs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
)

// sdkFile is an afero.File over an sdk.File, or over a directory of the
// sdk.FileSystem. It keeps the offset that afero's Read, Write and Seek use.
type sdkFile struct {
	s       *sdkFs
	name    string // as given to OpenFile, for Name
	sdkName string
	dir     bool
	f       sdk.File // nil for a directory
	flag    int

	// mu guards the fields below. ReadAt and WriteAt hold it shared: an
	// sdk.File takes concurrent positional I/O; everything that moves the
	// offset or closes the file holds it exclusively.
	mu     sync.RWMutex
	closed bool
	off    int64
	ents   []sdk.DirEntry // the directory listing, read at the first Readdir
	loaded bool
	pos    int // entries of ents already returned
}

var (
	_ afero.File     = (*sdkFile)(nil)
	_ fs.ReadDirFile = (*sdkFile)(nil)
)

func (f *sdkFile) Name() string { return f.name }

func (f *sdkFile) err(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return toAferoErr(op, f.name, err)
}

// usable checks that the file is open and of the right kind; mu is held.
func (f *sdkFile) usable(op string, wantWrite bool) error {
	switch {
	case f.closed:
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	case f.dir:
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EISDIR}
	case wantWrite && f.flag&(os.O_WRONLY|os.O_RDWR) == 0,
		!wantWrite && f.flag&os.O_WRONLY != 0:
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

// readAt follows io.ReaderAt: a short count always comes with an error.
func (f *sdkFile) readAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(f.s.ctx, p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, f.err("read", err)
}

func (f *sdkFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usable("read", false); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil // io.Reader: report the end on the next call
	}
	return n, err
}

func (f *sdkFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usable("read", false); err != nil {
		return 0, err
	}
	return f.readAt(p, off)
}

// size is the current length of the file; mu is held.
func (f *sdkFile) size() (int64, error) {
	if st, ok := f.f.(sdk.FileStater); ok {
		a, err := st.Stat(f.s.ctx)
		return a.Size, err
	}
	a, err := f.s.fsys.Stat(f.s.ctx, f.sdkName)
	return a.Size, err
}

func (f *sdkFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usable("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		end, err := f.size()
		if err != nil {
			return 0, f.err("write", err)
		}
		f.off = end
	}
	n, err := f.f.WriteAt(f.s.ctx, p, f.off)
	f.off += int64(n)
	return n, f.err("write", err)
}

func (f *sdkFile) WriteAt(p []byte, off int64) (int, error) {
	if f.flag&os.O_APPEND != 0 {
		// As os.File: positional writes contradict O_APPEND.
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: errors.New("invalid use of WriteAt on file opened with O_APPEND")}
	}
	if off < 0 {
		return 0, &os.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usable("write", true); err != nil {
		return 0, err
	}
	n, err := f.f.WriteAt(f.s.ctx, p, off)
	return n, f.err("write", err)
}

func (f *sdkFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *sdkFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: os.ErrClosed}
	}
	if f.dir {
		// Only a rewind makes sense for a directory.
		if offset != 0 || whence != io.SeekStart {
			return 0, &os.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
		}
		f.loaded, f.ents, f.pos = false, nil, 0
		return 0, nil
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		end, err := f.size()
		if err != nil {
			return 0, f.err("seek", err)
		}
		base = end
	default:
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
	}
	if base+offset < 0 {
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
	}
	f.off = base + offset
	return f.off, nil
}

func (f *sdkFile) Stat() (os.FileInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return nil, &os.PathError{Op: "stat", Path: f.name, Err: os.ErrClosed}
	}
	if st, ok := f.f.(sdk.FileStater); ok {
		a, err := st.Stat(f.s.ctx)
		if err != nil {
			return nil, f.err("stat", err)
		}
		return newFileInfo(path.Base(f.sdkName), a), nil
	}
	a, err := f.s.fsys.Stat(f.s.ctx, f.sdkName)
	if err != nil {
		return nil, f.err("stat", err)
	}
	return newFileInfo(path.Base(f.sdkName), a), nil
}

func (f *sdkFile) Sync() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: os.ErrClosed}
	}
	if f.dir {
		return nil
	}
	return f.err("sync", f.f.Sync(f.s.ctx, false))
}

func (f *sdkFile) Truncate(size int64) error {
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usable("truncate", true); err != nil {
		return err
	}
	return f.err("truncate", f.f.Truncate(f.s.ctx, size))
}

// Close flushes (an sdk.Flusher hears of every close) and releases the file.
func (f *sdkFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	if f.dir {
		return nil
	}
	var err error
	if fl, ok := f.f.(sdk.Flusher); ok {
		err = fl.Flush(f.s.ctx)
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	return f.err("close", err)
}

// nextEntries returns up to n entries (all if n <= 0) after the cursor and
// advances it; mu is held.
func (f *sdkFile) nextEntries(op string, n int) ([]sdk.DirEntry, error) {
	if f.closed {
		return nil, &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	if !f.dir {
		return nil, &os.PathError{Op: op, Path: f.name, Err: syscall.ENOTDIR}
	}
	if !f.loaded {
		ents, err := f.s.fsys.ReadDir(f.s.ctx, f.sdkName)
		if err != nil {
			return nil, f.err(op, err)
		}
		f.ents, f.loaded = ents, true
	}
	rest := f.ents[f.pos:]
	if n > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(n, len(rest))]
	}
	f.pos += len(rest)
	return rest, nil
}

// Readdir returns lstat information, as os.File.Readdir does. Entries that
// vanish between the listing and their Stat are left out.
func (f *sdkFile) Readdir(count int) ([]os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ents, err := f.nextEntries("readdir", count)
	if err != nil {
		return nil, err
	}
	out := make([]os.FileInfo, 0, len(ents))
	for _, e := range ents {
		if e.Attr != nil {
			out = append(out, newFileInfo(e.Name, *e.Attr))
			continue
		}
		a, err := f.s.fsys.Stat(f.s.ctx, path.Join(f.sdkName, e.Name))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return out, f.err("readdir", err)
		}
		out = append(out, newFileInfo(e.Name, a))
	}
	return out, nil
}

func (f *sdkFile) Readdirnames(n int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ents, err := f.nextEntries("readdirnames", n)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name
	}
	return names, nil
}

// ReadDir implements fs.ReadDirFile; entries stat lazily.
func (f *sdkFile) ReadDir(n int) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ents, err := f.nextEntries("readdir", n)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(ents))
	for i, e := range ents {
		d := &dirEntry{s: f.s, dir: f.sdkName, ent: e}
		if e.Attr != nil {
			d.info = newFileInfo(e.Name, *e.Attr)
		}
		out[i] = d
	}
	return out, nil
}
