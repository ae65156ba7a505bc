package aferofs

import (
	"os"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"golang.org/x/sys/unix"
)

// Open flags as the Linux kernel sends them.
const (
	lxAccMode = syscall.O_ACCMODE
	lxWronly  = syscall.O_WRONLY
	lxRdwr    = syscall.O_RDWR
	lxCreat   = syscall.O_CREAT
	lxExcl    = syscall.O_EXCL
	lxTrunc   = syscall.O_TRUNC
	lxAppend  = syscall.O_APPEND
	lxSync    = syscall.O_SYNC
	lxDsync   = syscall.O_DSYNC
)

// statT fills a from a host stat structure, when fi has one.
func statT(fi os.FileInfo, a *sdk.Attr) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st == nil {
		return false
	}
	a.Ino = st.Ino
	a.Nlink = uint32(st.Nlink)
	a.Uid, a.Gid = st.Uid, st.Gid
	a.Rdev = st.Rdev
	a.Blocks = st.Blocks
	a.Blksize = int64(st.Blksize)
	a.Atime = time.Unix(st.Atim.Unix())
	a.Mtime = time.Unix(st.Mtim.Unix())
	a.Ctime = time.Unix(st.Ctim.Unix())
	return true
}

// diskOwner returns the owner recorded by the host, when fi comes from it.
func diskOwner(fi os.FileInfo) (owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st == nil {
		return owner{}, false
	}
	return owner{st.Uid, st.Gid}, true
}

func lchown(hostPath string, uid, gid int) error {
	return os.Lchown(hostPath, uid, gid)
}

func lutimes(hostPath string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, hostPath, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lutimes", Path: hostPath, Err: err}
	}
	return nil
}

func hostStatFS(dir string) (sdk.StatFS, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return sdk.StatFS{}, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	frag := uint64(st.Frsize)
	if frag == 0 {
		frag = uint64(st.Bsize)
	}
	return sdk.StatFS{
		BlockSize:   uint64(st.Bsize),
		FragSize:    frag,
		Blocks:      st.Blocks,
		BlocksFree:  st.Bfree,
		BlocksAvail: st.Bavail,
		Files:       st.Files,
		FilesFree:   st.Ffree,
		NameMax:     uint64(st.Namelen),
	}, nil
}

// fdatasync flushes the data of a host file without its metadata.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// hostExchange swaps two host paths atomically.
func hostExchange(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "renameat2", Old: a, New: b, Err: err}
	}
	return nil
}
