package passthrough

import (
	"bytes"
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// Extended attributes are read and written with the l* system calls on
// procPath(parent, base): the parent directory was resolved beneath the
// root, and the last component is not followed, so this works the same for
// regular files, directories, symbolic links, FIFOs and device nodes without
// opening any of them (opening a FIFO blocks; an O_PATH descriptor refuses
// the f* calls).

// GetXattr returns the value of attribute attr of name; a missing attribute
// is ENODATA (sdk.ErrNoAttr).
func (f *FS) GetXattr(_ context.Context, name, attr string) ([]byte, error) {
	d, err := f.parent(name)
	if err != nil {
		return nil, pathErr("getxattr", name, err)
	}
	defer d.close()
	path := procPath(d.fd, d.base)
	// Most values are small: one call with a modest buffer, and only when
	// it is too small a size probe and a second read.
	buf := make([]byte, 256)
	for range maxRaceRetries {
		n, err := unix.Lgetxattr(path, attr, buf)
		if err == nil {
			return buf[:n], nil
		}
		if err != unix.ERANGE {
			return nil, pathErr("getxattr", name, err)
		}
		if n, err = unix.Lgetxattr(path, attr, nil); err != nil {
			return nil, pathErr("getxattr", name, err)
		}
		buf = make([]byte, n)
	}
	return nil, pathErr("getxattr", name, unix.ERANGE) // kept growing under us
}

// SetXattr sets attribute attr of name; sdk.XattrCreate and
// sdk.XattrReplace are XATTR_CREATE and XATTR_REPLACE.
func (f *FS) SetXattr(_ context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	if flags&^(sdk.XattrCreate|sdk.XattrReplace) != 0 {
		return pathErr("setxattr", name, fmt.Errorf("unknown xattr flags %#x: %w", int(flags), unix.EINVAL))
	}
	d, err := f.parent(name)
	if err != nil {
		return pathErr("setxattr", name, err)
	}
	err = unix.Lsetxattr(procPath(d.fd, d.base), attr, value, int(flags))
	d.close()
	if err != nil {
		return pathErr("setxattr", name, err)
	}
	return nil
}

// ListXattr returns the names of the extended attributes of name that the
// daemon may see.
func (f *FS) ListXattr(_ context.Context, name string) ([]string, error) {
	d, err := f.parent(name)
	if err != nil {
		return nil, pathErr("listxattr", name, err)
	}
	defer d.close()
	path := procPath(d.fd, d.base)
	buf := make([]byte, 256)
	for range maxRaceRetries {
		n, err := unix.Llistxattr(path, buf)
		if err == nil {
			return splitXattrNames(buf[:n]), nil
		}
		if err != unix.ERANGE {
			return nil, pathErr("listxattr", name, err)
		}
		if n, err = unix.Llistxattr(path, nil); err != nil {
			return nil, pathErr("listxattr", name, err)
		}
		buf = make([]byte, n)
	}
	return nil, pathErr("listxattr", name, unix.ERANGE)
}

// splitXattrNames splits listxattr's NUL-terminated names.
func splitXattrNames(b []byte) []string {
	names := make([]string, 0, bytes.Count(b, []byte{0}))
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i > 0 {
			names = append(names, string(b[:i]))
		}
		b = b[min(i+1, len(b)):]
	}
	return names
}

// RemoveXattr removes attribute attr of name.
func (f *FS) RemoveXattr(_ context.Context, name, attr string) error {
	d, err := f.parent(name)
	if err != nil {
		return pathErr("removexattr", name, err)
	}
	err = unix.Lremovexattr(procPath(d.fd, d.base), attr)
	d.close()
	if err != nil {
		return pathErr("removexattr", name, err)
	}
	return nil
}
