package passthrough

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// direntBufSize is the getdents64 buffer: large enough that a directory of
// ten thousand entries takes a handful of system calls.
const direntBufSize = 64 << 10

var direntBufs = sync.Pool{New: func() any {
	b := make([]byte, direntBufSize)
	return &b
}}

// ReadDir lists the directory name with the inode number and type
// getdents64 reports. Attr is left nil for most entries (a full stat per
// entry would cost a system call each); device nodes get theirs, because a
// union filesystem over this one must tell a whiteout (a character device
// 0/0) from a real device for every one it lists, and the directory is open
// here already. Entries whose type the backing filesystem does not report
// (DT_UNKNOWN) are stat'ed for it.
func (f *FS) ReadDir(_ context.Context, name string) ([]sdk.DirEntry, error) {
	if !sdk.ValidName(name) {
		return nil, pathErr("readdir", name, unix.EINVAL)
	}
	s, err := start(f.root(), name)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	fd, err := openat2(s.fd, s.base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	s.close()
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	defer unix.Close(fd)
	bufp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bufp)
	var entries []sdk.DirEntry
	for {
		n, err := unix.Getdents(fd, *bufp)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("readdir", name, err)
		}
		if n == 0 {
			break
		}
		if entries, err = parseDirents((*bufp)[:n], entries); err != nil {
			return nil, pathErr("readdir", name, err)
		}
	}
	for i := range entries {
		e := &entries[i]
		device := e.Type == sdk.TypeChar || e.Type == sdk.TypeBlock
		if e.Type != 0 && !device {
			continue
		}
		var st unix.Stat_t
		switch err := unix.Fstatat(fd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err {
		case nil:
			e.Type = st.Mode & sdk.TypeMask
			if device {
				a := attrFromStat(&st)
				e.Attr = &a
			}
		case unix.ENOENT:
			// Removed since it was listed; a listing is not a snapshot, and
			// the entry stays with an unknown type.
		default:
			return nil, pathErr("readdir", name, err)
		}
	}
	return entries, nil
}

// Layout of struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
// d_type u8, then the NUL-terminated name, padded to 8 bytes.
const (
	direntReclenOff = 16
	direntTypeOff   = 18
	direntNameOff   = 19
)

// parseDirents appends the entries of a getdents64 buffer to out, leaving
// out "." and "..", and entries with inode 0 (deleted, on some
// filesystems). A record that does not fit the buffer, lacks its NUL or has
// an empty name or one containing a slash is reported as EIO rather than
// passed on.
func parseDirents(buf []byte, out []sdk.DirEntry) ([]sdk.DirEntry, error) {
	for len(buf) > 0 {
		if len(buf) < direntNameOff {
			return out, fmt.Errorf("getdents64: %d trailing bytes: %w", len(buf), unix.EIO)
		}
		reclen := int(binary.NativeEndian.Uint16(buf[direntReclenOff:]))
		if reclen <= direntNameOff || reclen > len(buf) {
			return out, fmt.Errorf("getdents64: record length %d with %d bytes left: %w", reclen, len(buf), unix.EIO)
		}
		rec := buf[:reclen]
		buf = buf[reclen:]
		name := rec[direntNameOff:]
		end := bytes.IndexByte(name, 0)
		if end <= 0 {
			return out, fmt.Errorf("getdents64: record without a name: %w", unix.EIO)
		}
		name = name[:end]
		if bytes.IndexByte(name, '/') >= 0 {
			return out, fmt.Errorf("getdents64: name %q contains a slash: %w", name, unix.EIO)
		}
		ino := binary.NativeEndian.Uint64(rec)
		if ino == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		out = append(out, sdk.DirEntry{Name: string(name), Ino: ino, Type: dtToType(rec[direntTypeOff])})
	}
	return out, nil
}

// dtToType maps a d_type to the file type bits of a mode; 0 is unknown.
func dtToType(dt byte) uint32 {
	switch dt {
	case unix.DT_REG:
		return sdk.TypeRegular
	case unix.DT_DIR:
		return sdk.TypeDir
	case unix.DT_LNK:
		return sdk.TypeSymlink
	case unix.DT_FIFO:
		return sdk.TypeFIFO
	case unix.DT_SOCK:
		return sdk.TypeSocket
	case unix.DT_CHR:
		return sdk.TypeChar
	case unix.DT_BLK:
		return sdk.TypeBlock
	}
	return 0
}
