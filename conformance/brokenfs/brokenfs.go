// Package brokenfs holds deliberately broken filesystems: each wraps a
// correct sdk.FileSystem and adds exactly one defect of the kind real
// filesystems ship with (a dropped truncate, a reordered write, a swallowed
// fsync error, a short read, a stale size after append, a lost rename).
// They exist to prove that the conformance suite catches those defects and
// says which one it found; Defects lists them with the words the suite's
// failure message uses for each.
//
// Faults is the correct counterpart for error reporting: a wrapper that
// fails the next Sync or Flush of a named file on request, and that
// implements conformance.FaultInjector through Injector. The
// SwallowedFsyncError defect is meant to sit on top of it.
//
// Every wrapper passes the optional capabilities of the filesystem it wraps
// (symbolic and hard links, xattrs, mknod, syncfs, directory sync) through
// unchanged, so that a defect is the only difference a test can see.
package brokenfs

import (
	"context"
	"io"
	"sync"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

// Defect is one deliberately broken wrapper.
type Defect struct {
	// Name identifies the defect, for test names.
	Name string
	// Symptom is the phrase the conformance suite puts in the failure
	// message when it finds this defect.
	Symptom string
	// Wrap returns fsys with the defect added.
	Wrap func(fsys sdk.FileSystem) sdk.FileSystem
}

// Defects returns every defect in this package.
func Defects() []Defect {
	return []Defect{
		{"dropped-truncate", "(dropped truncate)", DroppedTruncate},
		{"reordered-write", "(reordered write)", ReorderedWrite},
		{"swallowed-fsync-error", "(swallowed fsync error)", SwallowedFsyncError},
		{"short-read", "(short read)", ShortRead},
		{"stale-append-size", "(stale size)", StaleAppendSize},
		{"lost-rename", "(lost rename)", LostRename},
	}
}

// wrapper forwards every FileSystem method and every optional capability
// to the wrapped filesystem; defects embed it and override one method.
// Accesser is deliberately not forwarded: implementing it would take the
// access(2) decision away from the SDK's mode-bit checks even when the
// wrapped filesystem has no opinion.
type wrapper struct {
	sdk.FileSystem
}

var (
	_ sdk.Symlinker = wrapper{}
	_ sdk.Linker    = wrapper{}
	_ sdk.Xattrer   = wrapper{}
	_ sdk.Mknoder   = wrapper{}
	_ sdk.Syncer    = wrapper{}
	_ sdk.DirSyncer = wrapper{}
)

func (w wrapper) Symlink(ctx context.Context, target, newname string) error {
	if s, ok := w.FileSystem.(sdk.Symlinker); ok {
		return s.Symlink(ctx, target, newname)
	}
	return sdk.ErrNotSupported
}

func (w wrapper) Readlink(ctx context.Context, name string) (string, error) {
	if s, ok := w.FileSystem.(sdk.Symlinker); ok {
		return s.Readlink(ctx, name)
	}
	return "", sdk.ErrNotSupported
}

func (w wrapper) Link(ctx context.Context, oldname, newname string) error {
	if l, ok := w.FileSystem.(sdk.Linker); ok {
		return l.Link(ctx, oldname, newname)
	}
	return sdk.ErrNotSupported
}

func (w wrapper) GetXattr(ctx context.Context, name, attr string) ([]byte, error) {
	if x, ok := w.FileSystem.(sdk.Xattrer); ok {
		return x.GetXattr(ctx, name, attr)
	}
	return nil, sdk.ErrNotSupported
}

func (w wrapper) SetXattr(ctx context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	if x, ok := w.FileSystem.(sdk.Xattrer); ok {
		return x.SetXattr(ctx, name, attr, value, flags)
	}
	return sdk.ErrNotSupported
}

func (w wrapper) ListXattr(ctx context.Context, name string) ([]string, error) {
	if x, ok := w.FileSystem.(sdk.Xattrer); ok {
		return x.ListXattr(ctx, name)
	}
	return nil, sdk.ErrNotSupported
}

func (w wrapper) RemoveXattr(ctx context.Context, name, attr string) error {
	if x, ok := w.FileSystem.(sdk.Xattrer); ok {
		return x.RemoveXattr(ctx, name, attr)
	}
	return sdk.ErrNotSupported
}

func (w wrapper) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	if m, ok := w.FileSystem.(sdk.Mknoder); ok {
		return m.Mknod(ctx, name, mode, dev)
	}
	return sdk.ErrNotSupported
}

func (w wrapper) SyncFS(ctx context.Context) error {
	if s, ok := w.FileSystem.(sdk.Syncer); ok {
		return s.SyncFS(ctx)
	}
	return nil
}

func (w wrapper) SyncDir(ctx context.Context, name string) error {
	if s, ok := w.FileSystem.(sdk.DirSyncer); ok {
		return s.SyncDir(ctx, name)
	}
	return nil
}

// file forwards every File method and the optional file capabilities;
// defects embed it and override one method.
type file struct {
	sdk.File
	fsys sdk.FileSystem // for Stat when the wrapped file cannot answer
	name string         // as opened; stale after a rename, used for fallbacks and fault matching only
}

var (
	_ sdk.Flusher    = (*file)(nil)
	_ sdk.FileStater = (*file)(nil)
)

func (f *file) Flush(ctx context.Context) error {
	if fl, ok := f.File.(sdk.Flusher); ok {
		return fl.Flush(ctx)
	}
	return nil
}

func (f *file) Stat(ctx context.Context) (sdk.Attr, error) {
	if st, ok := f.File.(sdk.FileStater); ok {
		return st.Stat(ctx)
	}
	return f.fsys.Stat(ctx, f.name)
}

// DroppedTruncate returns fsys with truncation silently ignored: Truncate
// on a name or an open file and O_TRUNC at open succeed and change nothing.
func DroppedTruncate(fsys sdk.FileSystem) sdk.FileSystem { return droppedTruncate{wrapper{fsys}} }

type droppedTruncate struct{ wrapper }

func (droppedTruncate) Truncate(context.Context, string, int64) error { return nil }

func (d droppedTruncate) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := d.FileSystem.Open(ctx, name, flags&^oTrunc, perm)
	if err != nil {
		return nil, err
	}
	return &truncDroppingFile{file{f, d.FileSystem, name}}, nil
}

type truncDroppingFile struct{ file }

func (*truncDroppingFile) Truncate(context.Context, int64) error { return nil }

// LostRename returns fsys with Rename reporting success and doing nothing.
func LostRename(fsys sdk.FileSystem) sdk.FileSystem { return lostRename{wrapper{fsys}} }

type lostRename struct{ wrapper }

func (lostRename) Rename(context.Context, string, string, sdk.RenameFlags) error { return nil }

// ShortRead returns fsys with reads of more than one page returning only
// the first page and io.EOF, as a backend that stops at its own transfer
// size and calls that the end would. (A short count without io.EOF is not
// enough: the SDK asks again for the rest, as it should.) The kernel takes
// the short read for the end of the file.
func ShortRead(fsys sdk.FileSystem) sdk.FileSystem { return shortRead{wrapper{fsys}} }

type shortRead struct{ wrapper }

const page = 4096

// Open flags as the SDK passes them (Linux open(2) values).
const (
	oTrunc  = syscall.O_TRUNC
	oAppend = syscall.O_APPEND
)

func (s shortRead) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := s.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &shortReadFile{file{f, s.FileSystem, name}}, nil
}

type shortReadFile struct{ file }

func (f *shortReadFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if len(p) <= page {
		return f.File.ReadAt(ctx, p, off)
	}
	n, err := f.File.ReadAt(ctx, p[:page], off)
	if err == nil {
		err = io.EOF // the defect: more data follows
	}
	return n, err
}

// SwallowedFsyncError returns fsys with errors from Sync discarded, so
// fsync(2) reports success for data the backend failed to store.
func SwallowedFsyncError(fsys sdk.FileSystem) sdk.FileSystem { return swallowedFsync{wrapper{fsys}} }

type swallowedFsync struct{ wrapper }

func (s swallowedFsync) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := s.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &swallowingFile{file{f, s.FileSystem, name}}, nil
}

type swallowingFile struct{ file }

func (f *swallowingFile) Sync(ctx context.Context, datasync bool) error {
	_ = f.File.Sync(ctx, datasync) // the defect: the error goes nowhere
	return nil
}

// ReorderedWrite returns fsys with each write held back until the next one
// has been applied, so that two writes to the same bytes land in the wrong
// order. Held writes are applied before any read, truncate, sync, flush or
// close, so data is never lost, only reordered.
func ReorderedWrite(fsys sdk.FileSystem) sdk.FileSystem { return reorderedWrite{wrapper{fsys}} }

type reorderedWrite struct{ wrapper }

func (r reorderedWrite) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := r.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &reorderingFile{file: file{f, r.FileSystem, name}}, nil
}

type reorderingFile struct {
	file
	mu      sync.Mutex // guards held, and orders writes against their release
	held    []byte
	heldOff int64
}

func (f *reorderingFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		// The SDK may reuse p once WriteAt returns.
		f.held, f.heldOff = append([]byte(nil), p...), off
		return len(p), nil
	}
	n, err := f.File.WriteAt(ctx, p, off)
	if err != nil {
		return n, err
	}
	return n, f.releaseLocked(ctx)
}

// releaseLocked applies the held write; f.mu must be held.
func (f *reorderingFile) releaseLocked(ctx context.Context) error {
	if f.held == nil {
		return nil
	}
	held := f.held
	f.held = nil
	_, err := f.File.WriteAt(ctx, held, f.heldOff)
	return err
}

func (f *reorderingFile) release(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.releaseLocked(ctx)
}

func (f *reorderingFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.release(ctx); err != nil {
		return 0, err
	}
	return f.File.ReadAt(ctx, p, off)
}

func (f *reorderingFile) Truncate(ctx context.Context, size int64) error {
	if err := f.release(ctx); err != nil {
		return err
	}
	return f.File.Truncate(ctx, size)
}

func (f *reorderingFile) Sync(ctx context.Context, datasync bool) error {
	if err := f.release(ctx); err != nil {
		return err
	}
	return f.File.Sync(ctx, datasync)
}

func (f *reorderingFile) Flush(ctx context.Context) error {
	if err := f.release(ctx); err != nil {
		return err
	}
	return f.file.Flush(ctx)
}

func (f *reorderingFile) Stat(ctx context.Context) (sdk.Attr, error) {
	if err := f.release(ctx); err != nil {
		return sdk.Attr{}, err
	}
	return f.file.Stat(ctx)
}

func (f *reorderingFile) Close() error {
	err := f.release(context.Background())
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

// StaleAppendSize returns fsys reporting, while a file is open with
// O_APPEND, the size it had when that open happened: appends land, but
// stat does not see them until the last appending descriptor closes.
func StaleAppendSize(fsys sdk.FileSystem) sdk.FileSystem {
	return &staleAppend{wrapper: wrapper{fsys}, sizes: map[string]*staleEntry{}}
}

type staleAppend struct {
	wrapper
	mu    sync.Mutex             // guards sizes
	sizes map[string]*staleEntry // by name, while open for appending
}

type staleEntry struct {
	size  int64
	opens int
}

func (s *staleAppend) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	f, err := s.FileSystem.Open(ctx, name, flags, perm)
	if err != nil || flags&oAppend == 0 {
		return f, err
	}
	a, err := s.FileSystem.Stat(ctx, name)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.mu.Lock()
	e := s.sizes[name]
	if e == nil {
		e = &staleEntry{size: a.Size}
		s.sizes[name] = e
	}
	e.opens++
	s.mu.Unlock()
	return &staleAppendFile{file: file{f, s.FileSystem, name}, fs: s}, nil
}

// stale replaces a's size with the remembered one if name is open for
// appending.
func (s *staleAppend) stale(name string, a sdk.Attr) sdk.Attr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sizes[name]; e != nil {
		a.Size = e.size
	}
	return a
}

func (s *staleAppend) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	a, err := s.FileSystem.Stat(ctx, name)
	if err != nil {
		return a, err
	}
	return s.stale(name, a), nil
}

type staleAppendFile struct {
	file
	fs   *staleAppend
	once sync.Once
}

func (f *staleAppendFile) Stat(ctx context.Context) (sdk.Attr, error) {
	a, err := f.file.Stat(ctx)
	if err != nil {
		return a, err
	}
	return f.fs.stale(f.name, a), nil
}

func (f *staleAppendFile) Close() error {
	f.once.Do(func() {
		f.fs.mu.Lock()
		defer f.fs.mu.Unlock()
		if e := f.fs.sizes[f.name]; e != nil {
			if e.opens--; e.opens == 0 {
				delete(f.fs.sizes, f.name)
			}
		}
	})
	return f.File.Close()
}

// Faults wraps a filesystem so that the next Sync or Flush of a named
// file fails with sdk.Errno-mapped EIO, as a backend that lost a
// write-back would. It is correct: every error reaches the SDK.
type Faults struct {
	wrapper
	mu        sync.Mutex      // guards the sets below
	syncFail  map[string]bool // names whose next Sync fails
	flushFail map[string]bool // names whose next Flush fails
}

// NewFaults wraps fsys.
func NewFaults(fsys sdk.FileSystem) *Faults {
	return &Faults{wrapper: wrapper{fsys}, syncFail: map[string]bool{}, flushFail: map[string]bool{}}
}

// FailNextSync makes the next Sync of a file opened as name fail.
func (f *Faults) FailNextSync(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncFail[name] = true
}

// FailNextFlush makes the next Flush (close(2)) of a file opened as name
// fail.
func (f *Faults) FailNextFlush(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushFail[name] = true
}

// take reports and clears a pending failure.
func (f *Faults) take(set map[string]bool, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if set[name] {
		delete(set, name)
		return true
	}
	return false
}

func (f *Faults) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	h, err := f.FileSystem.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{file: file{h, f.FileSystem, name}, faults: f}, nil
}

type faultyFile struct {
	file
	faults *Faults
}

// ErrInjected is the error of an injected failure; sdk.Errno maps it to EIO.
var ErrInjected error = injectedError{}

type injectedError struct{}

func (injectedError) Error() string { return "brokenfs: injected write-back failure" }

func (f *faultyFile) Sync(ctx context.Context, datasync bool) error {
	if err := f.File.Sync(ctx, datasync); err != nil {
		return err
	}
	if f.faults.take(f.faults.syncFail, f.name) {
		return ErrInjected
	}
	return nil
}

func (f *faultyFile) Flush(ctx context.Context) error {
	if err := f.file.Flush(ctx); err != nil {
		return err
	}
	if f.faults.take(f.faults.flushFail, f.name) {
		return ErrInjected
	}
	return nil
}
