package passthrough

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

var (
	_ sdk.FileSystem = (*FS)(nil)
	_ sdk.Symlinker  = (*FS)(nil)
	_ sdk.Linker     = (*FS)(nil)
	_ sdk.Xattrer    = (*FS)(nil)
	_ sdk.Mknoder    = (*FS)(nil)
	_ sdk.Syncer     = (*FS)(nil)
)

// resolveFlags confine every openat2 walk to the root: no absolute paths, no
// ".." above the starting directory, no symbolic link leading out, no /proc
// magic link jumping anywhere.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// maxRaceRetries bounds the retries of an operation that lost a race with a
// concurrent change: openat2's EAGAIN, a file created or removed between the
// two attempts of an O_CREAT open, an xattr growing between its size probe
// and its read.
const maxRaceRetries = 8

// FS is a passthrough filesystem over one host directory. It is safe for
// concurrent use. Close it after the mount that serves it has gone.
type FS struct {
	path string
	// rootfd is the O_PATH descriptor of the root, or -1 once Close has run,
	// which makes every later operation fail with EBADF instead of acting on
	// whatever reuses the descriptor number.
	rootfd atomic.Int32
	// euid and egid are the daemon's identity, which created objects get
	// from the kernel and which Open, Mkdir, Mknod and Symlink then hand over
	// to the caller.
	euid, egid int
}

// New opens root, which must be an existing directory, and returns a
// filesystem that mirrors it.
func New(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("passthrough: the root path is empty")
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		switch err {
		case unix.ENOENT:
			return nil, fmt.Errorf("passthrough: root %s does not exist: %w", root, err)
		case unix.ENOTDIR:
			return nil, fmt.Errorf("passthrough: root %s is not a directory: %w", root, err)
		}
		return nil, fmt.Errorf("passthrough: root %s: %w", root, err)
	}
	// Extended attributes, truncate and the chmod fallback reach objects
	// through /proc/self/fd; check now that it leads back to the root rather
	// than failing on the first such call.
	var viaProc, direct unix.Stat_t
	if err := unix.Stat(procPath(fd, "."), &viaProc); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("passthrough: /proc/self/fd is not usable (is /proc mounted?): %w", err)
	}
	if err := unix.Fstat(fd, &direct); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("passthrough: root %s: %w", root, err)
	}
	if viaProc.Dev != direct.Dev || viaProc.Ino != direct.Ino {
		unix.Close(fd)
		return nil, errors.New("passthrough: /proc/self/fd does not show this process's descriptors (is /proc mounted for this PID namespace?)")
	}
	f := &FS{path: root, euid: unix.Geteuid(), egid: unix.Getegid()}
	f.rootfd.Store(int32(fd))
	return f, nil
}

// Root returns the host directory the filesystem mirrors, as given to New.
func (f *FS) Root() string { return f.path }

// Close releases the root descriptor. Operations after Close fail with
// EBADF. Files already open stay usable until they are closed themselves.
func (f *FS) Close() error {
	fd := f.rootfd.Swap(-1)
	if fd < 0 {
		return nil
	}
	return unix.Close(int(fd))
}

func (f *FS) root() int { return int(f.rootfd.Load()) }

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// procPath names the object base inside the directory open as dirfd. The
// magic link /proc/self/fd/N is followed as an inner component, landing on
// the directory that was resolved beneath the root; base itself is then an
// ordinary last component, which the l* system calls do not follow.
func procPath(dirfd int, base string) string {
	return procFd(dirfd) + "/" + base
}

// procFd names the object open as the O_PATH descriptor fd, for the system
// calls that only take a path and follow it: the magic link leads to that
// object, which was resolved beneath the root.
func procFd(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// openat2 opens name beneath dirfd. EINTR and EAGAIN (a rename raced the
// walk and the kernel could not prove it stayed beneath) are retried a few
// times.
func openat2(dirfd int, name string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	if flags&unix.O_CREAT != 0 {
		// openat2 rejects a mode without O_CREAT.
		how.Mode = uint64(mode & 0o7777)
	}
	var err error
	for range maxRaceRetries {
		var fd int
		fd, err = unix.Openat2(dirfd, name, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			return fd, err
		}
	}
	return -1, err
}

// dirRef is a directory open as fd and a name beneath it: for parent, the
// directory holding a name and the name's last component (the root itself
// is dirRef{root, "."}); for start, the directory a name's resolution
// begins at and the rest of the name.
type dirRef struct {
	fd   int
	base string
	own  bool // fd was opened for this reference and must be closed
}

func (d dirRef) close() {
	if d.own {
		unix.Close(d.fd)
	}
}

// parent resolves the directory that holds name. Names directly below the
// root cost nothing; deeper ones one openat2 (more only for a directory
// path of PATH_MAX bytes or more, see start).
func (f *FS) parent(name string) (dirRef, error) {
	if !sdk.ValidName(name) {
		return dirRef{}, unix.EINVAL
	}
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return dirRef{fd: f.root(), base: name}, nil
	}
	s, err := start(f.root(), name[:i])
	if err != nil {
		return dirRef{}, err
	}
	fd, err := openat2(s.fd, s.base, unix.O_PATH|unix.O_DIRECTORY, 0)
	s.close()
	if err != nil {
		return dirRef{}, err
	}
	return dirRef{fd: fd, base: name[i+1:], own: true}, nil
}

// start returns where the resolution of name, a valid name, begins: the
// root and name itself for every name shorter than PATH_MAX, at no cost.
// No system call takes a path of PATH_MAX bytes or more (ENAMETOOLONG),
// yet the kernel builds such paths below a mountpoint, one lookup at a
// time, and libfuse hands them over whole; for those, start opens the
// directories down the name in pieces shorter than PATH_MAX, each
// resolved with openat2 beneath the directory the previous piece opened,
// until the rest fits in one call.
func start(root int, name string) (d dirRef, err error) {
	d = dirRef{fd: root, base: name}
	if len(name) >= unix.PathMax {
		err = descend(&d)
	}
	return d, err
}

// descend is start's slow path, kept out of it so that start stays small
// enough to inline. On error d is closed and zero.
func descend(d *dirRef) error {
	for len(d.base) >= unix.PathMax {
		i := strings.LastIndexByte(d.base[:unix.PathMax], '/')
		if i <= 0 {
			// An element of PATH_MAX bytes: no system call can take it.
			d.close()
			*d = dirRef{}
			return unix.ENAMETOOLONG
		}
		fd, err := openat2(d.fd, d.base[:i], unix.O_PATH|unix.O_DIRECTORY, 0)
		d.close()
		if err != nil {
			*d = dirRef{}
			return err
		}
		*d = dirRef{fd: fd, base: d.base[i+1:], own: true}
	}
	return nil
}

// Stat returns the attributes of name without following a final symbolic
// link.
func (f *FS) Stat(_ context.Context, name string) (sdk.Attr, error) {
	d, err := f.parent(name)
	if err != nil {
		return sdk.Attr{}, pathErr("stat", name, err)
	}
	var st unix.Stat_t
	err = unix.Fstatat(d.fd, d.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	d.close()
	if err != nil {
		return sdk.Attr{}, pathErr("stat", name, err)
	}
	return attrFromStat(&st), nil
}

func attrFromStat(st *unix.Stat_t) sdk.Attr {
	return sdk.Attr{
		Ino:     st.Ino,
		Mode:    st.Mode,
		Nlink:   uint32(st.Nlink),
		Uid:     st.Uid,
		Gid:     st.Gid,
		Rdev:    uint64(st.Rdev),
		Size:    st.Size,
		Blocks:  st.Blocks,
		Blksize: int64(st.Blksize),
		Atime:   time.Unix(st.Atim.Unix()),
		Mtime:   time.Unix(st.Mtim.Unix()),
		Ctime:   time.Unix(st.Ctim.Unix()),
	}
}

// Mkdir creates name with exactly perm, owned by the caller when the daemon
// is root. A directory created inside a set-group-ID directory keeps the
// set-group-ID bit it inherits, as on Linux without FUSE.
func (f *FS) Mkdir(ctx context.Context, name string, perm uint32) error {
	d, err := f.parent(name)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	defer d.close()
	if err := unix.Mkdirat(d.fd, d.base, perm&0o7777); err != nil {
		return pathErr("mkdir", name, err)
	}
	if err := f.settle(ctx, d, -1, perm, sdk.TypeDir); err != nil {
		unix.Unlinkat(d.fd, d.base, unix.AT_REMOVEDIR)
		return pathErr("mkdir", name, err)
	}
	return nil
}

// Mknod creates a device node, FIFO, socket or empty regular file, with
// exactly the permission bits of mode, owned by the caller when the daemon
// is root.
func (f *FS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	d, err := f.parent(name)
	if err != nil {
		return pathErr("mknod", name, err)
	}
	defer d.close()
	if err := unix.Mknodat(d.fd, d.base, mode, int(dev)); err != nil {
		return pathErr("mknod", name, err)
	}
	if err := f.settle(ctx, d, -1, mode, mode&sdk.TypeMask); err != nil {
		unix.Unlinkat(d.fd, d.base, 0)
		return pathErr("mknod", name, err)
	}
	return nil
}

// Symlink creates newname as a symbolic link to target, owned by the caller
// when the daemon is root. target is stored verbatim.
func (f *FS) Symlink(ctx context.Context, target, newname string) error {
	d, err := f.parent(newname)
	if err != nil {
		return pathErr("symlink", newname, err)
	}
	defer d.close()
	if err := unix.Symlinkat(target, d.fd, d.base); err != nil {
		return pathErr("symlink", newname, err)
	}
	if err := f.settle(ctx, d, -1, 0, sdk.TypeSymlink); err != nil {
		unix.Unlinkat(d.fd, d.base, 0)
		return pathErr("symlink", newname, err)
	}
	return nil
}

// settle gives an object the daemon has just created (as d, or as the open
// descriptor fd when fd >= 0) the permission bits and owner the caller would
// have got natively: exactly perm, whatever the daemon's umask, and the
// caller's uid and gid, unless the parent is set-group-ID, in which case the
// group it inherited stays and a directory keeps the inherited set-group-ID
// bit. Ownership changes come first because chown clears set-user-ID and
// set-group-ID bits.
func (f *FS) settle(ctx context.Context, d dirRef, fd int, perm, typ uint32) error {
	caller, known := sdk.CallerFromContext(ctx)
	chown := known && f.euid == 0
	var setgidParent bool
	if chown || typ == sdk.TypeDir {
		var pst unix.Stat_t
		if err := unix.Fstat(d.fd, &pst); err != nil {
			return err
		}
		setgidParent = pst.Mode&unix.S_ISGID != 0
	}
	if chown {
		uid, gid := int(caller.Uid), int(caller.Gid)
		if uid == f.euid {
			uid = -1
		}
		if setgidParent || gid == f.egid {
			gid = -1
		}
		if uid != -1 || gid != -1 {
			var err error
			if fd >= 0 {
				err = unix.Fchown(fd, uid, gid)
			} else {
				err = unix.Fchownat(d.fd, d.base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
			}
			if err != nil {
				return err
			}
		}
	}
	if typ == sdk.TypeSymlink {
		return nil // Linux has no permission bits on symbolic links.
	}
	mode := perm & sdk.PermMask
	if typ == sdk.TypeDir && setgidParent {
		mode |= sdk.ModeSetgid
	}
	if fd >= 0 {
		return unix.Fchmod(fd, mode)
	}
	return chmodNoFollow(d, mode)
}

// chmodNoFollow sets the mode of d.base without following it if it is a
// symbolic link. fchmodat2 (Linux 6.6) does that in one call; before it,
// the object is pinned with an O_PATH descriptor and changed through
// /proc/self/fd, after checking that it is not a symbolic link.
func chmodNoFollow(d dirRef, mode uint32) error {
	err := unix.Fchmodat(d.fd, d.base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP {
		return err
	}
	// EOPNOTSUPP is what fchmodat2 says for a symbolic link and what x/sys
	// says when fchmodat2 does not exist; tell the two apart.
	fd, err := openat2(d.fd, d.base, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return unix.Chmod(procFd(fd), mode)
}

// Unlink removes a non-directory.
func (f *FS) Unlink(_ context.Context, name string) error {
	return f.unlink("unlink", name, 0)
}

// Rmdir removes an empty directory.
func (f *FS) Rmdir(_ context.Context, name string) error {
	return f.unlink("rmdir", name, unix.AT_REMOVEDIR)
}

func (f *FS) unlink(op, name string, flags int) error {
	d, err := f.parent(name)
	if err == nil {
		err = unix.Unlinkat(d.fd, d.base, flags)
		d.close()
	}
	if err != nil {
		return pathErr(op, name, err)
	}
	return nil
}

// Rename renames oldname to newname with renameat2(2), passing
// sdk.RenameNoReplace, sdk.RenameExchange and sdk.RenameWhiteout on as
// RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT (which needs
// CAP_MKNOD in the daemon, and a backing filesystem that supports it:
// ext4, xfs, btrfs, tmpfs do). Through a mount, only the libfuse3 build
// delivers any flag: libfuse2 refuses them all with EINVAL before the
// filesystem is asked.
func (f *FS) Rename(_ context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	if flags&^(sdk.RenameNoReplace|sdk.RenameExchange|sdk.RenameWhiteout) != 0 {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fmt.Errorf("unknown rename flags %#x: %w", uint32(flags), unix.EINVAL)}
	}
	err := f.twoNames(oldname, newname, func(od, nd dirRef) error {
		return unix.Renameat2(od.fd, od.base, nd.fd, nd.base, uint(flags))
	})
	if err != nil {
		return &fs.PathError{Op: "rename", Path: oldname + " -> " + newname, Err: err}
	}
	return nil
}

// Link creates newname as another name for oldname, which is not followed
// if it is a symbolic link.
func (f *FS) Link(_ context.Context, oldname, newname string) error {
	err := f.twoNames(oldname, newname, func(od, nd dirRef) error {
		return unix.Linkat(od.fd, od.base, nd.fd, nd.base, 0)
	})
	if err != nil {
		return &fs.PathError{Op: "link", Path: oldname + " -> " + newname, Err: err}
	}
	return nil
}

func (f *FS) twoNames(oldname, newname string, op func(od, nd dirRef) error) error {
	od, err := f.parent(oldname)
	if err != nil {
		return err
	}
	defer od.close()
	nd, err := f.parent(newname)
	if err != nil {
		return err
	}
	defer nd.close()
	return op(od, nd)
}

// Readlink returns the target of the symbolic link name.
func (f *FS) Readlink(_ context.Context, name string) (string, error) {
	d, err := f.parent(name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	defer d.close()
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(d.fd, d.base, buf)
		if err != nil {
			return "", pathErr("readlink", name, err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// Truncate sets the size of the regular file name. The file is pinned with
// an O_PATH descriptor and truncated through /proc/self/fd, which needs no
// read or write open (and so has no side effect on FIFOs or devices, which
// get EINVAL as from truncate(2)).
func (f *FS) Truncate(_ context.Context, name string, size int64) error {
	if !sdk.ValidName(name) {
		return pathErr("truncate", name, unix.EINVAL)
	}
	s, err := start(f.root(), name)
	if err != nil {
		return pathErr("truncate", name, err)
	}
	fd, err := openat2(s.fd, s.base, unix.O_PATH|unix.O_NOFOLLOW, 0)
	s.close()
	if err != nil {
		return pathErr("truncate", name, err)
	}
	err = unix.Truncate(procFd(fd), size)
	unix.Close(fd)
	if err != nil {
		return pathErr("truncate", name, err)
	}
	return nil
}

// Chmod sets the permission bits of name. A symbolic link is not followed;
// Linux cannot change its mode and the result is EOPNOTSUPP.
func (f *FS) Chmod(_ context.Context, name string, mode uint32) error {
	d, err := f.parent(name)
	if err != nil {
		return pathErr("chmod", name, err)
	}
	err = chmodNoFollow(d, mode&sdk.PermMask)
	d.close()
	if err != nil {
		return pathErr("chmod", name, err)
	}
	return nil
}

// Chown sets the owner and group of name without following a symbolic
// link; -1 leaves an id unchanged.
func (f *FS) Chown(_ context.Context, name string, uid, gid int) error {
	if uid < -1 || gid < -1 {
		return pathErr("chown", name, fmt.Errorf("uid %d, gid %d: %w", uid, gid, unix.EINVAL))
	}
	d, err := f.parent(name)
	if err != nil {
		return pathErr("chown", name, err)
	}
	err = unix.Fchownat(d.fd, d.base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	d.close()
	if err != nil {
		return pathErr("chown", name, err)
	}
	return nil
}

// SetTimes sets the access and modification times of name with nanosecond
// precision, without following a symbolic link. A zero time is left alone
// (UTIME_OMIT).
func (f *FS) SetTimes(_ context.Context, name string, atime, mtime time.Time) error {
	d, err := f.parent(name)
	if err != nil {
		return pathErr("utimensat", name, err)
	}
	ts := [2]unix.Timespec{timespec(atime), timespec(mtime)}
	err = unix.UtimesNanoAt(d.fd, d.base, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	d.close()
	if err != nil {
		return pathErr("utimensat", name, err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// StatFS reports the capacity of the filesystem holding the root.
func (f *FS) StatFS(context.Context) (sdk.StatFS, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(f.root(), &st); err != nil {
		return sdk.StatFS{}, pathErr("statfs", ".", err)
	}
	return sdk.StatFS{
		BlockSize:   uint64(st.Bsize),
		FragSize:    uint64(st.Frsize),
		Blocks:      st.Blocks,
		BlocksFree:  st.Bfree,
		BlocksAvail: st.Bavail,
		Files:       st.Files,
		FilesFree:   st.Ffree,
		NameMax:     uint64(st.Namelen),
	}, nil
}

// SyncFS commits the whole backing filesystem to disk (syncfs(2)).
func (f *FS) SyncFS(context.Context) error {
	// syncfs refuses O_PATH descriptors, so the root is opened for reading
	// for the occasion; SyncFS is rare.
	fd, err := openat2(f.root(), ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return pathErr("syncfs", ".", err)
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return pathErr("syncfs", ".", err)
	}
	return nil
}
