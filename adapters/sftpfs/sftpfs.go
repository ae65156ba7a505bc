package sftpfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"github.com/spf13/afero"
)

// Fs is an afero.Fs over an SFTP connection, confined to one directory of
// the server. It is safe for concurrent use, as *sftp.Client is.
type Fs struct {
	c    *sftp.Client
	root string // absolute, clean server path; "/" for the whole server
}

var (
	_ afero.Fs         = (*Fs)(nil)
	_ afero.Lstater    = (*Fs)(nil)
	_ afero.Symlinker  = (*Fs)(nil)
	_ afero.LinkReader = (*Fs)(nil)
)

// New returns an Fs that serves the directory root of the server behind
// client. root must be an absolute, clean path of an existing directory;
// "/" serves the whole server. The Fs does not own client: closing it is
// the caller's business.
func New(client *sftp.Client, root string) (*Fs, error) {
	if client == nil {
		return nil, errors.New("sftpfs: the sftp client is nil")
	}
	if !strings.HasPrefix(root, "/") || path.Clean(root) != root || strings.IndexByte(root, 0) >= 0 {
		return nil, fmt.Errorf("sftpfs: root %q must be an absolute, clean server path", root)
	}
	fi, err := client.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("sftpfs: root %q: %w", root, errno(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("sftpfs: root %q is not a directory", root)
	}
	return &Fs{c: client, root: root}, nil
}

// Client returns the SFTP client the Fs uses.
func (f *Fs) Client() *sftp.Client { return f.c }

// Root returns the server directory the Fs serves.
func (f *Fs) Root() string { return f.root }

// Name implements afero.Fs.
func (f *Fs) Name() string { return "sftpfs" }

// serverPath maps an afero name to the server path beneath the root. Names
// are slash-separated and taken relative to the root whether or not they
// start with "/"; "", "." and "/" are the root itself. They are cleaned
// lexically before they are sent, so "a/../b" is "b" even if a is a
// symbolic link. A name whose ".." elements would climb above the root, or
// that holds a NUL byte, is refused.
func (f *Fs) serverPath(op, name string) (string, error) {
	rel, err := cleanName(name)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	if rel == "" {
		return f.root, nil
	}
	if f.root == "/" {
		return "/" + rel, nil
	}
	return f.root + "/" + rel, nil
}

// cleanName turns an afero name into a clean relative path ("" for the
// root), refusing escapes and NUL bytes.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", &invalidName{errNUL}
	}
	depth := 0
	for elem := range strings.SplitSeq(name, "/") {
		switch elem {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", &invalidName{errOutsideRoot}
			}
			depth--
		default:
			depth++
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// Create implements afero.Fs: it opens name read-write, creating it with
// mode 0666 or truncating it.
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open implements afero.Fs: it opens name for reading. Directories open
// too, for Readdir.
func (f *Fs) Open(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile implements afero.Fs. A file that OpenFile creates gets exactly
// the permission bits of perm (no umask is applied); see the package
// documentation for the moment in between. O_SYNC is ignored: SFTP has no
// such open flag, File.Sync flushes.
func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	p, err := f.serverPath("open", name)
	if err != nil {
		return nil, err
	}
	create := flag&os.O_CREATE != 0
	created := create && flag&os.O_EXCL != 0
	var sf *sftp.File
	if create && !created {
		// Only a file that this call creates gets perm. SFTP does not say
		// whether an open created the file, so ask for an exclusive
		// create first and fall back to a plain open if the name exists.
		sf, err = f.c.OpenFile(p, flag|os.O_EXCL)
		switch {
		case err == nil:
			created = true
		case !isFailure(err):
			return nil, pathError("open", name, err)
		}
	}
	if sf == nil {
		sf, err = f.c.OpenFile(p, flag)
		if err != nil {
			return nil, pathError("open", name, f.classifyOpen(p, flag, err))
		}
	}
	if created {
		if err := sf.Chmod(perm); err != nil {
			// Undo the create so that no file with the wrong mode is left;
			// the chmod error is the one worth reporting.
			sf.Close()
			f.c.Remove(p)
			return nil, pathError("chmod", name, err)
		}
	}
	return &File{fs: f, name: name, path: p, flag: flag, f: sf}, nil
}

// classifyOpen refines a FAILURE from opening p.
func (f *Fs) classifyOpen(p string, flag int, err error) error {
	if !isFailure(err) {
		return err
	}
	fi, lerr := f.c.Lstat(p)
	switch {
	case lerr != nil:
		return err
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return syscall.EEXIST
	case fi.IsDir():
		return syscall.EISDIR
	}
	return err
}

// Mkdir implements afero.Fs. The directory gets exactly the permission bits
// of perm.
func (f *Fs) Mkdir(name string, perm os.FileMode) error {
	p, err := f.serverPath("mkdir", name)
	if err != nil {
		return err
	}
	if err := f.c.Mkdir(p); err != nil {
		if isFailure(err) {
			if _, lerr := f.c.Lstat(p); lerr == nil {
				err = syscall.EEXIST
			}
		}
		return pathError("mkdir", name, err)
	}
	if err := f.c.Chmod(p, perm); err != nil {
		return pathError("chmod", name, err)
	}
	return nil
}

// MkdirAll implements afero.Fs like os.MkdirAll: it creates name and any
// missing parents with perm, and succeeds if name is already a directory.
func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	p, err := f.serverPath("mkdir", name)
	if err != nil {
		return err
	}
	rel, _ := cleanName(name) // serverPath accepted it
	if fi, err := f.c.Stat(p); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	}
	if parent := path.Dir(rel); parent != "." {
		if err := f.MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := f.Mkdir(rel, perm); err != nil {
		// Someone else may have made it meanwhile.
		if fi, serr := f.c.Stat(p); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return nil
}

// Remove implements afero.Fs: it removes a file, a symbolic link or an
// empty directory. The root cannot be removed (EBUSY).
func (f *Fs) Remove(name string) error {
	p, err := f.serverPath("remove", name)
	if err != nil {
		return err
	}
	if p == f.root {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EBUSY}
	}
	if err := f.c.Remove(p); err != nil {
		return pathError("remove", name, f.classifyRemove(p, err))
	}
	return nil
}

// classifyRemove refines a FAILURE from removing p: a directory that still
// has entries is ENOTEMPTY.
func (f *Fs) classifyRemove(p string, err error) error {
	if !isFailure(err) {
		return err
	}
	if fi, lerr := f.c.Lstat(p); lerr == nil && fi.IsDir() && f.hasEntries(p) {
		return syscall.ENOTEMPTY
	}
	return err
}

// hasEntries reports whether the directory p has entries besides . and ..
func (f *Fs) hasEntries(p string) bool {
	entries, err := f.c.ReadDir(p)
	return err == nil && len(entries) > 0
}

// RemoveAll implements afero.Fs like os.RemoveAll: it removes name and
// everything below it, without following symbolic links, and succeeds if
// name does not exist. The root cannot be removed (EBUSY).
func (f *Fs) RemoveAll(name string) error {
	p, err := f.serverPath("removeall", name)
	if err != nil {
		return err
	}
	if p == f.root {
		return &fs.PathError{Op: "removeall", Path: name, Err: syscall.EBUSY}
	}
	return f.removeAll(name, p)
}

func (f *Fs) removeAll(name, p string) error {
	fi, err := f.c.Lstat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return pathError("removeall", name, err)
	}
	if fi.IsDir() {
		entries, err := f.c.ReadDir(p)
		if err != nil {
			return pathError("removeall", name, err)
		}
		for _, e := range entries {
			if err := f.removeAll(name+"/"+e.Name(), p+"/"+e.Name()); err != nil {
				return err
			}
		}
	}
	if err := f.c.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return pathError("removeall", name, f.classifyRemove(p, err))
	}
	return nil
}

// Rename implements afero.Fs with rename(2) semantics: an existing newname
// is replaced atomically (posix-rename@openssh.com). On a server without
// that extension the plain SFTP rename is used, which fails when newname
// exists. The root cannot be renamed or replaced (EBUSY).
func (f *Fs) Rename(oldname, newname string) error {
	op, err := f.serverPath("rename", oldname)
	if err != nil {
		return err
	}
	np, err := f.serverPath("rename", newname)
	if err != nil {
		return err
	}
	if op == f.root || np == f.root {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EBUSY}
	}
	err = f.c.PosixRename(op, np)
	if statusCode(err) == sftp.ErrSSHFxOpUnsupported {
		err = f.c.Rename(op, np)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno(f.classifyRename(op, np, err))}
	}
	return nil
}

// classifyRename refines a FAILURE from renaming op to np with the checks
// rename(2) makes. "No such file" is looked at too: OpenSSH reports the
// ENOTDIR of a directory renamed over a file that way.
func (f *Fs) classifyRename(op, np string, err error) error {
	if !isFailure(err) && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ofi, oerr := f.c.Lstat(op)
	if oerr != nil {
		return err
	}
	if ofi.IsDir() && strings.HasPrefix(np, op+"/") {
		return syscall.EINVAL
	}
	nfi, nerr := f.c.Lstat(np)
	switch {
	case nerr != nil:
		return err
	case nfi.IsDir() && !ofi.IsDir():
		return syscall.EISDIR
	case !nfi.IsDir() && ofi.IsDir():
		return syscall.ENOTDIR
	case nfi.IsDir() && f.hasEntries(np):
		return syscall.ENOTEMPTY
	}
	return err
}

// Stat implements afero.Fs; it follows a final symbolic link. The
// FileInfo's Sys is a *sftp.FileStat with the owner and times.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	p, err := f.serverPath("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.c.Stat(p)
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return fi, nil
}

// LstatIfPossible implements afero.Lstater; it never follows a final
// symbolic link, and always reports true.
func (f *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	p, err := f.serverPath("lstat", name)
	if err != nil {
		return nil, true, err
	}
	fi, err := f.c.Lstat(p)
	if err != nil {
		return nil, true, pathError("lstat", name, err)
	}
	return fi, true, nil
}

// SymlinkIfPossible implements afero.Linker: it creates newname as a
// symbolic link whose target is oldname, stored exactly as given. The
// server resolves the target, so an absolute target names a server path,
// not a path beneath the root.
func (f *Fs) SymlinkIfPossible(oldname, newname string) error {
	np, err := f.serverPath("symlink", newname)
	if err != nil {
		return err
	}
	if strings.IndexByte(oldname, 0) >= 0 {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: &invalidName{errNUL}}
	}
	if err := f.c.Symlink(oldname, np); err != nil {
		if isFailure(err) {
			if _, lerr := f.c.Lstat(np); lerr == nil {
				err = syscall.EEXIST
			}
		}
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: errno(err)}
	}
	return nil
}

// ReadlinkIfPossible implements afero.LinkReader: it returns the target of
// the symbolic link name as stored.
func (f *Fs) ReadlinkIfPossible(name string) (string, error) {
	p, err := f.serverPath("readlink", name)
	if err != nil {
		return "", err
	}
	target, err := f.c.ReadLink(p)
	if err != nil {
		if isFailure(err) {
			// readlink(2) of something that is not a link is EINVAL.
			if fi, lerr := f.c.Lstat(p); lerr == nil && fi.Mode()&os.ModeSymlink == 0 {
				err = syscall.EINVAL
			}
		}
		return "", pathError("readlink", name, err)
	}
	return target, nil
}

// Chmod implements afero.Fs; it follows a final symbolic link. The
// permission bits and the setuid, setgid and sticky bits of mode are set.
func (f *Fs) Chmod(name string, mode os.FileMode) error {
	p, err := f.serverPath("chmod", name)
	if err != nil {
		return err
	}
	if err := f.c.Chmod(p, mode); err != nil {
		return pathError("chmod", name, err)
	}
	return nil
}

// Chown implements afero.Fs; it follows a final symbolic link. As with
// os.Chown, -1 leaves that id unchanged (SFTP sets both, so the other is
// read first).
func (f *Fs) Chown(name string, uid, gid int) error {
	p, err := f.serverPath("chown", name)
	if err != nil {
		return err
	}
	if uid < -1 || gid < -1 || int64(uid) > maxUint32 || int64(gid) > maxUint32 {
		return &fs.PathError{Op: "chown", Path: name, Err: syscall.EINVAL}
	}
	if uid == -1 || gid == -1 {
		fi, err := f.c.Stat(p)
		if err != nil {
			return pathError("chown", name, err)
		}
		st, ok := fi.Sys().(*sftp.FileStat)
		if !ok {
			return &fs.PathError{Op: "chown", Path: name, Err: errors.New("the server did not report the owner")}
		}
		if uid == -1 {
			uid = int(st.UID)
		}
		if gid == -1 {
			gid = int(st.GID)
		}
	}
	if err := f.c.Chown(p, uid, gid); err != nil {
		return pathError("chown", name, err)
	}
	return nil
}

const maxUint32 = 1<<32 - 1

// Chtimes implements afero.Fs; it follows a final symbolic link. SFTP
// version 3 carries whole seconds from 1970 to 2106 and always sets both
// times: sub-second parts are dropped, a zero time.Time keeps that time as
// it is (as os.Chtimes does), and times outside the range are EINVAL.
func (f *Fs) Chtimes(name string, atime, mtime time.Time) error {
	p, err := f.serverPath("chtimes", name)
	if err != nil {
		return err
	}
	for _, t := range []time.Time{atime, mtime} {
		if !t.IsZero() && (t.Unix() < 0 || t.Unix() > maxUint32) {
			return &fs.PathError{Op: "chtimes", Path: name,
				Err: fmt.Errorf("time %v is outside what SFTP can store (1970 to 2106): %w", t, syscall.EINVAL)}
		}
	}
	if atime.IsZero() || mtime.IsZero() {
		fi, err := f.c.Stat(p)
		if err != nil {
			return pathError("chtimes", name, err)
		}
		st, ok := fi.Sys().(*sftp.FileStat)
		if !ok {
			return &fs.PathError{Op: "chtimes", Path: name, Err: errors.New("the server did not report the times")}
		}
		if atime.IsZero() {
			atime = time.Unix(int64(st.Atime), 0)
		}
		if mtime.IsZero() {
			mtime = time.Unix(int64(st.Mtime), 0)
		}
	}
	if err := f.c.Chtimes(p, atime, mtime); err != nil {
		return pathError("chtimes", name, err)
	}
	return nil
}
