package main

import (
	"context"
	"time"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
)

// slowFS delays every call to a passthrough.FS, to stand in for a remote
// backend (-latency). It wraps the passthrough filesystem itself rather than
// serving SOURCE through aferofs over a slowed-down afero.OsFs, so that
// everything else stays as without -latency: openat2 confinement to SOURCE,
// ownership of created files, xattrs, mknod and hard links. The price is
// that it must forward every capability passthrough.FS has; the test
// compares the two.
//
// The delay is a plain sleep that a canceled request does not cut short,
// as a round trip already on the wire would not be.
type slowFS struct {
	fs    *passthrough.FS
	delay func() // sleeps; tests count instead
}

var (
	_ sdk.FileSystem = (*slowFS)(nil)
	_ sdk.Symlinker  = (*slowFS)(nil)
	_ sdk.Linker     = (*slowFS)(nil)
	_ sdk.Xattrer    = (*slowFS)(nil)
	_ sdk.Mknoder    = (*slowFS)(nil)
	_ sdk.Syncer     = (*slowFS)(nil)
)

func newSlowFS(fs *passthrough.FS, latency time.Duration) *slowFS {
	return &slowFS{fs: fs, delay: func() { time.Sleep(latency) }}
}

func (s *slowFS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	s.delay()
	return s.fs.Stat(ctx, name)
}

func (s *slowFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	s.delay()
	f, err := s.fs.Open(ctx, name, flags, perm)
	if err != nil {
		return nil, err
	}
	return &slowFile{f: f, delay: s.delay}, nil
}

func (s *slowFS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	s.delay()
	return s.fs.ReadDir(ctx, name)
}

func (s *slowFS) Mkdir(ctx context.Context, name string, perm uint32) error {
	s.delay()
	return s.fs.Mkdir(ctx, name, perm)
}

func (s *slowFS) Unlink(ctx context.Context, name string) error {
	s.delay()
	return s.fs.Unlink(ctx, name)
}

func (s *slowFS) Rmdir(ctx context.Context, name string) error {
	s.delay()
	return s.fs.Rmdir(ctx, name)
}

func (s *slowFS) Rename(ctx context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	s.delay()
	return s.fs.Rename(ctx, oldname, newname, flags)
}

func (s *slowFS) Truncate(ctx context.Context, name string, size int64) error {
	s.delay()
	return s.fs.Truncate(ctx, name, size)
}

func (s *slowFS) Chmod(ctx context.Context, name string, mode uint32) error {
	s.delay()
	return s.fs.Chmod(ctx, name, mode)
}

func (s *slowFS) Chown(ctx context.Context, name string, uid, gid int) error {
	s.delay()
	return s.fs.Chown(ctx, name, uid, gid)
}

func (s *slowFS) SetTimes(ctx context.Context, name string, atime, mtime time.Time) error {
	s.delay()
	return s.fs.SetTimes(ctx, name, atime, mtime)
}

func (s *slowFS) StatFS(ctx context.Context) (sdk.StatFS, error) {
	s.delay()
	return s.fs.StatFS(ctx)
}

func (s *slowFS) Symlink(ctx context.Context, target, newname string) error {
	s.delay()
	return s.fs.Symlink(ctx, target, newname)
}

func (s *slowFS) Readlink(ctx context.Context, name string) (string, error) {
	s.delay()
	return s.fs.Readlink(ctx, name)
}

func (s *slowFS) Link(ctx context.Context, oldname, newname string) error {
	s.delay()
	return s.fs.Link(ctx, oldname, newname)
}

func (s *slowFS) GetXattr(ctx context.Context, name, attr string) ([]byte, error) {
	s.delay()
	return s.fs.GetXattr(ctx, name, attr)
}

func (s *slowFS) SetXattr(ctx context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	s.delay()
	return s.fs.SetXattr(ctx, name, attr, value, flags)
}

func (s *slowFS) ListXattr(ctx context.Context, name string) ([]string, error) {
	s.delay()
	return s.fs.ListXattr(ctx, name)
}

func (s *slowFS) RemoveXattr(ctx context.Context, name, attr string) error {
	s.delay()
	return s.fs.RemoveXattr(ctx, name, attr)
}

func (s *slowFS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	s.delay()
	return s.fs.Mknod(ctx, name, mode, dev)
}

func (s *slowFS) SyncFS(ctx context.Context) error {
	s.delay()
	return s.fs.SyncFS(ctx)
}

// slowFile delays every call to an open passthrough file. passthrough's
// files have fstat (sdk.FileStater) and no Flush.
type slowFile struct {
	f     sdk.File
	delay func()
}

var _ sdk.FileStater = (*slowFile)(nil)

func (s *slowFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	s.delay()
	return s.f.ReadAt(ctx, p, off)
}

func (s *slowFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	s.delay()
	return s.f.WriteAt(ctx, p, off)
}

func (s *slowFile) Truncate(ctx context.Context, size int64) error {
	s.delay()
	return s.f.Truncate(ctx, size)
}

func (s *slowFile) Sync(ctx context.Context, datasync bool) error {
	s.delay()
	return s.f.Sync(ctx, datasync)
}

func (s *slowFile) Stat(ctx context.Context) (sdk.Attr, error) {
	s.delay()
	return s.f.(sdk.FileStater).Stat(ctx)
}

func (s *slowFile) Close() error {
	s.delay()
	return s.f.Close()
}
