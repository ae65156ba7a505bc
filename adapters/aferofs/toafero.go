package aferofs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
)

// maxSymlinkHops is how many links Stat follows before ELOOP, as Linux.
const maxSymlinkHops = 40

// sdkFs is an afero.Fs over an sdk.FileSystem.
type sdkFs struct {
	ctx  context.Context
	fsys sdk.FileSystem
}

var (
	_ afero.Fs        = (*sdkFs)(nil)
	_ afero.Lstater   = (*sdkFs)(nil)
	_ afero.Symlinker = (*sdkFs)(nil)
)

// ToAfero returns fsys as an afero.Fs. Calls use context.Background, so the
// filesystem sees no caller.
func ToAfero(fsys sdk.FileSystem) afero.Fs {
	return ToAferoContext(context.Background(), fsys)
}

// ToAferoContext is ToAfero with the context every call is made with, for
// example one that carries an sdk.Caller.
func ToAferoContext(ctx context.Context, fsys sdk.FileSystem) afero.Fs {
	return &sdkFs{ctx: ctx, fsys: fsys}
}

// sdkName turns an afero path into an SDK name. Paths are taken as relative
// to the root whether or not they start with a slash; ".." cannot climb out.
func sdkName(name string) string {
	n := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(name)), "/")
	if n == "" {
		return "."
	}
	return n
}

// toAferoErr puts the errno that sdk.Errno chooses into an *os.PathError, so
// that os.IsNotExist and errors.Is(err, fs.ErrExist) work as on a real Fs.
func toAferoErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: name, Err: sdk.Errno(err)}
}

func (s *sdkFs) Name() string { return "aferofs.ToAfero" }

// resolve follows a final symbolic link of name, as afero's Stat, Chmod,
// Chown and Chtimes do. Targets are read inside the filesystem: an absolute
// target starts at its root. Links in earlier components are the
// filesystem's business.
func (s *sdkFs) resolve(op, name string) (string, sdk.Attr, error) {
	n := sdkName(name)
	sl, _ := s.fsys.(sdk.Symlinker)
	for range maxSymlinkHops {
		a, err := s.fsys.Stat(s.ctx, n)
		if err != nil {
			return "", sdk.Attr{}, toAferoErr(op, name, err)
		}
		if a.Type() != sdk.TypeSymlink || sl == nil {
			return n, a, nil
		}
		target, err := sl.Readlink(s.ctx, n)
		if err != nil {
			return "", sdk.Attr{}, toAferoErr(op, name, err)
		}
		if !strings.HasPrefix(target, "/") {
			target = path.Join(path.Dir(n), target)
		}
		n = sdkName(target)
	}
	return "", sdk.Attr{}, &os.PathError{Op: op, Path: name, Err: syscall.ELOOP}
}

func (s *sdkFs) Create(name string) (afero.File, error) {
	return s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (s *sdkFs) Mkdir(name string, perm os.FileMode) error {
	return toAferoErr("mkdir", name, s.fsys.Mkdir(s.ctx, sdkName(name), sdk.FileModeToUnix(perm)&sdk.PermMask))
}

func (s *sdkFs) MkdirAll(p string, perm os.FileMode) error {
	n := sdkName(p)
	if n == "." {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(n, "/") {
		cur = path.Join(cur, part)
		_, a, err := s.resolve("mkdir", cur)
		if err == nil {
			if !a.IsDir() {
				return &os.PathError{Op: "mkdir", Path: p, Err: syscall.ENOTDIR}
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		err = s.fsys.Mkdir(s.ctx, cur, sdk.FileModeToUnix(perm)&sdk.PermMask)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return toAferoErr("mkdir", p, err)
		}
	}
	return nil
}

func (s *sdkFs) Open(name string) (afero.File, error) {
	return s.OpenFile(name, os.O_RDONLY, 0)
}

// linuxFlags translates os.O_* flags into the open(2) flags sdk.Open takes.
func linuxFlags(flag int) int {
	var o int
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_WRONLY:
		o = lxWronly
	case os.O_RDWR:
		o = lxRdwr
	}
	for _, m := range [...][2]int{
		{os.O_CREATE, lxCreat}, {os.O_EXCL, lxExcl}, {os.O_TRUNC, lxTrunc},
		{os.O_SYNC, lxSync}, {os.O_APPEND, lxAppend},
	} {
		if flag&m[0] != 0 {
			o |= m[1]
		}
	}
	return o
}

func (s *sdkFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	n, a, err := s.resolve("open", name)
	switch {
	case err == nil && a.IsDir():
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
		if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
		}
		return &sdkFile{s: s, name: name, sdkName: n, dir: true}, nil
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		n = sdkName(name)
	default:
		return nil, err
	}
	f, err := s.fsys.Open(s.ctx, n, linuxFlags(flag), sdk.FileModeToUnix(perm)&sdk.PermMask)
	if err != nil {
		return nil, toAferoErr("open", name, err)
	}
	return &sdkFile{s: s, name: name, sdkName: n, f: f, flag: flag}, nil
}

func (s *sdkFs) Remove(name string) error {
	n := sdkName(name)
	a, err := s.fsys.Stat(s.ctx, n)
	if err != nil {
		return toAferoErr("remove", name, err)
	}
	if a.IsDir() {
		return toAferoErr("remove", name, s.fsys.Rmdir(s.ctx, n))
	}
	return toAferoErr("remove", name, s.fsys.Unlink(s.ctx, n))
}

func (s *sdkFs) RemoveAll(p string) error {
	return s.removeAll(p, sdkName(p))
}

func (s *sdkFs) removeAll(orig, n string) error {
	a, err := s.fsys.Stat(s.ctx, n)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return toAferoErr("removeall", orig, err)
	}
	if !a.IsDir() {
		return toAferoErr("removeall", orig, s.fsys.Unlink(s.ctx, n))
	}
	ents, err := s.fsys.ReadDir(s.ctx, n)
	if err != nil {
		return toAferoErr("removeall", orig, err)
	}
	for _, e := range ents {
		if err := s.removeAll(orig, path.Join(n, e.Name)); err != nil {
			return err
		}
	}
	if n == "." {
		return nil // the root stays
	}
	return toAferoErr("removeall", orig, s.fsys.Rmdir(s.ctx, n))
}

func (s *sdkFs) Rename(oldname, newname string) error {
	if err := s.fsys.Rename(s.ctx, sdkName(oldname), sdkName(newname), 0); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: sdk.Errno(err)}
	}
	return nil
}

func (s *sdkFs) Stat(name string) (os.FileInfo, error) {
	n, a, err := s.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	return newFileInfo(path.Base(n), a), nil
}

func (s *sdkFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	n := sdkName(name)
	a, err := s.fsys.Stat(s.ctx, n)
	if err != nil {
		return nil, true, toAferoErr("lstat", name, err)
	}
	return newFileInfo(path.Base(n), a), true, nil
}

func (s *sdkFs) Chmod(name string, mode os.FileMode) error {
	n, _, err := s.resolve("chmod", name)
	if err != nil {
		return err
	}
	return toAferoErr("chmod", name, s.fsys.Chmod(s.ctx, n, sdk.FileModeToUnix(mode)&sdk.PermMask))
}

func (s *sdkFs) Chown(name string, uid, gid int) error {
	n, _, err := s.resolve("chown", name)
	if err != nil {
		return err
	}
	return toAferoErr("chown", name, s.fsys.Chown(s.ctx, n, uid, gid))
}

// Chtimes sets both times; a zero time.Time leaves that one unchanged, as
// os.Chtimes does.
func (s *sdkFs) Chtimes(name string, atime, mtime time.Time) error {
	n, _, err := s.resolve("chtimes", name)
	if err != nil {
		return err
	}
	return toAferoErr("chtimes", name, s.fsys.SetTimes(s.ctx, n, atime, mtime))
}

func (s *sdkFs) SymlinkIfPossible(oldname, newname string) error {
	sl, ok := s.fsys.(sdk.Symlinker)
	if !ok {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: afero.ErrNoSymlink}
	}
	if err := sl.Symlink(s.ctx, oldname, sdkName(newname)); err != nil {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: sdk.Errno(err)}
	}
	return nil
}

func (s *sdkFs) ReadlinkIfPossible(name string) (string, error) {
	sl, ok := s.fsys.(sdk.Symlinker)
	if !ok {
		return "", &os.PathError{Op: "readlink", Path: name, Err: afero.ErrNoReadlink}
	}
	t, err := sl.Readlink(s.ctx, sdkName(name))
	if err != nil {
		return "", toAferoErr("readlink", name, err)
	}
	return t, nil
}

// fileInfo is an os.FileInfo over SDK attributes. Sys returns the *sdk.Attr,
// which New recognises, so a round trip loses nothing.
type fileInfo struct {
	name string
	attr sdk.Attr
}

func newFileInfo(name string, a sdk.Attr) *fileInfo {
	if name == "." {
		name = "/"
	}
	return &fileInfo{name: name, attr: a}
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.attr.Size }
func (fi *fileInfo) Mode() os.FileMode  { return sdk.UnixToFileMode(fi.attr.Mode) }
func (fi *fileInfo) ModTime() time.Time { return fi.attr.Mtime }
func (fi *fileInfo) IsDir() bool        { return fi.attr.IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.attr }

// dirEntry is an fs.DirEntry that stats lazily.
type dirEntry struct {
	s    *sdkFs
	dir  string
	ent  sdk.DirEntry
	info *fileInfo
}

func (d *dirEntry) Name() string      { return d.ent.Name }
func (d *dirEntry) IsDir() bool       { return d.ent.Type == sdk.TypeDir }
func (d *dirEntry) Type() fs.FileMode { return sdk.UnixToFileMode(d.ent.Type).Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) {
	if d.info != nil {
		return d.info, nil
	}
	n := path.Join(d.dir, d.ent.Name)
	a, err := d.s.fsys.Stat(d.s.ctx, n)
	if err != nil {
		return nil, toAferoErr("lstat", n, err)
	}
	return newFileInfo(d.ent.Name, a), nil
}
