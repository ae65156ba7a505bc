package passthrough

import (
	"context"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// Two passthrough filesystems over directories of one host mount can move
// and link objects between them with single system calls, which is what a
// union filesystem needs to prepare a copy-up in a work directory and put
// it in place atomically (the overlay package's Config.Work; kernel
// overlayfs's workdir). These methods are that capability.

// RenameTo renames oldname in f to newname in dst, which must be a
// passthrough FS on the same host mount (CheckSeparate), with one
// renameat2(2): atomic, as a rename within one tree is. flags are those of
// Rename. Another dst is EXDEV.
func (f *FS) RenameTo(_ context.Context, oldname string, dst sdk.FileSystem, newname string, flags sdk.RenameFlags) error {
	if flags&^(sdk.RenameNoReplace|sdk.RenameExchange) != 0 {
		return pathErr("rename", oldname, fmt.Errorf("unknown rename flags %#x: %w", uint32(flags), unix.EINVAL))
	}
	err := f.across(dst, oldname, newname, func(od, nd dirRef) error {
		return unix.Renameat2(od.fd, od.base, nd.fd, nd.base, uint(flags))
	})
	if err != nil {
		return pathErr("rename", oldname+" -> "+newname, err)
	}
	return nil
}

// LinkTo creates newname in dst, which must be a passthrough FS on the same
// host mount, as another name for oldname in f (not followed if it is a
// symbolic link), with one linkat(2). Another dst is EXDEV.
func (f *FS) LinkTo(_ context.Context, oldname string, dst sdk.FileSystem, newname string) error {
	err := f.across(dst, oldname, newname, func(od, nd dirRef) error {
		return unix.Linkat(od.fd, od.base, nd.fd, nd.base, 0)
	})
	if err != nil {
		return pathErr("link", oldname+" -> "+newname, err)
	}
	return nil
}

func (f *FS) across(dst sdk.FileSystem, oldname, newname string, op func(od, nd dirRef) error) error {
	d, ok := dst.(*FS)
	if !ok {
		return fmt.Errorf("the other filesystem is a %T, not a passthrough.FS: %w", dst, unix.EXDEV)
	}
	od, err := f.parent(oldname)
	if err != nil {
		return err
	}
	defer od.close()
	nd, err := d.parent(newname)
	if err != nil {
		return err
	}
	defer nd.close()
	return op(od, nd)
}

// CheckSeparate reports whether RenameTo and LinkTo work between f and
// other, and keep their trees apart: other must be a passthrough FS on the
// same host mount as f (the same st_dev and mount ID; a rename between
// mounts, bind mounts of one filesystem included, is EXDEV), and neither
// root may be the other or lie inside it, which kernel overlayfs requires
// of its upperdir and workdir too. The error names both directories.
func (f *FS) CheckSeparate(other sdk.FileSystem) error {
	o, ok := other.(*FS)
	if !ok {
		return fmt.Errorf("passthrough: %s and a %T cannot exchange objects: only two passthrough filesystems can", f.path, other)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(f.root(), &a); err != nil {
		return pathErr("fstat", f.path, err)
	}
	if err := unix.Fstat(o.root(), &b); err != nil {
		return pathErr("fstat", o.path, err)
	}
	if a.Dev != b.Dev {
		return fmt.Errorf("passthrough: %s and %s are on different filesystems (st_dev %d:%d and %d:%d)",
			f.path, o.path, unix.Major(a.Dev), unix.Minor(a.Dev), unix.Major(b.Dev), unix.Minor(b.Dev))
	}
	ma, err := mountID(f.root())
	if err != nil {
		return pathErr("statx", f.path, err)
	}
	mb, err := mountID(o.root())
	if err != nil {
		return pathErr("statx", o.path, err)
	}
	if ma != mb {
		return fmt.Errorf("passthrough: %s and %s are on different mounts of one filesystem (a rename between them is EXDEV)", f.path, o.path)
	}
	if a.Ino == b.Ino {
		return fmt.Errorf("passthrough: %s and %s are the same directory", f.path, o.path)
	}
	for _, c := range []struct {
		inner, outer *FS
		outerSt      *unix.Stat_t
	}{{f, o, &b}, {o, f, &a}} {
		inside, err := within(c.inner.root(), c.outerSt)
		if err != nil {
			return pathErr("open ..", c.inner.path, err)
		}
		if inside {
			return fmt.Errorf("passthrough: %s is inside %s; they must be separate trees", c.inner.path, c.outer.path)
		}
	}
	return nil
}

func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, fs.ErrInvalid // Linux < 5.8; cannot happen where openat2 exists and this is built
	}
	return stx.Mnt_id, nil
}

// within reports whether the directory open as fd lies below the
// directory whose attributes are outer, by walking ".." up to the host's
// root.
func within(fd int, outer *unix.Stat_t) (bool, error) {
	cur, err := unix.Openat(fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer func() { unix.Close(cur) }()
	var st unix.Stat_t
	if err := unix.Fstat(cur, &st); err != nil {
		return false, err
	}
	for {
		up, err := unix.Openat(cur, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, err
		}
		var ust unix.Stat_t
		if err := unix.Fstat(up, &ust); err != nil {
			unix.Close(up)
			return false, err
		}
		unix.Close(cur)
		cur = up
		if ust.Dev == st.Dev && ust.Ino == st.Ino {
			return false, nil // the root: ".." is itself
		}
		if ust.Dev == outer.Dev && ust.Ino == outer.Ino {
			return true, nil
		}
		st = ust
	}
}
