//go:build !linux || cgo

package sdk

import (
	"io/fs"
	"time"
)

// File type bits of Attr.Mode, as in Linux st_mode. They are defined here so
// that the package means the same thing on every GOOS.
const (
	TypeMask    uint32 = 0o170000
	TypeSocket  uint32 = 0o140000
	TypeSymlink uint32 = 0o120000
	TypeRegular uint32 = 0o100000
	TypeBlock   uint32 = 0o060000
	TypeDir     uint32 = 0o040000
	TypeChar    uint32 = 0o020000
	TypeFIFO    uint32 = 0o010000

	// PermMask covers the permission bits including setuid, setgid and sticky.
	PermMask uint32 = 0o7777
	// ModeSetuid, ModeSetgid and ModeSticky are the special permission bits.
	ModeSetuid uint32 = 0o4000
	ModeSetgid uint32 = 0o2000
	ModeSticky uint32 = 0o1000
)

// Attr is what stat(2) reports about a file.
type Attr struct {
	// Ino is the backend's inode number. Zero means the backend has none; the
	// SDK then synthesises one that is stable for the life of the mount.
	Ino uint64
	// Mode is st_mode: the file type (TypeMask bits) and PermMask bits.
	Mode  uint32
	Nlink uint32
	Uid   uint32
	Gid   uint32
	// Rdev is the device number of a character or block device.
	Rdev uint64
	// Size is the length in bytes (for a symlink, the length of its target).
	Size int64
	// Blocks is the number of 512-byte blocks allocated; zero means unknown
	// and the SDK derives it from Size.
	Blocks int64
	// Blksize is the preferred I/O size; zero means the SDK's default.
	Blksize int64
	Atime   time.Time
	Mtime   time.Time
	Ctime   time.Time
}

// Type returns the file type bits of the mode.
func (a *Attr) Type() uint32 { return a.Mode & TypeMask }

// IsDir reports whether the attributes describe a directory.
func (a *Attr) IsDir() bool { return a.Mode&TypeMask == TypeDir }

// IsRegular reports whether the attributes describe a regular file.
func (a *Attr) IsRegular() bool { return a.Mode&TypeMask == TypeRegular }

// FileMode converts the Linux mode to an io/fs FileMode.
func (a *Attr) FileMode() fs.FileMode { return UnixToFileMode(a.Mode) }

// UnixToFileMode converts a Linux st_mode to an io/fs FileMode.
func UnixToFileMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	switch m & TypeMask {
	case TypeDir:
		fm |= fs.ModeDir
	case TypeSymlink:
		fm |= fs.ModeSymlink
	case TypeChar:
		fm |= fs.ModeDevice | fs.ModeCharDevice
	case TypeBlock:
		fm |= fs.ModeDevice
	case TypeFIFO:
		fm |= fs.ModeNamedPipe
	case TypeSocket:
		fm |= fs.ModeSocket
	}
	if m&ModeSetuid != 0 {
		fm |= fs.ModeSetuid
	}
	if m&ModeSetgid != 0 {
		fm |= fs.ModeSetgid
	}
	if m&ModeSticky != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// FileModeToUnix converts an io/fs FileMode to a Linux st_mode.
func FileModeToUnix(fm fs.FileMode) uint32 {
	m := uint32(fm.Perm())
	switch {
	case fm&fs.ModeDir != 0:
		m |= TypeDir
	case fm&fs.ModeSymlink != 0:
		m |= TypeSymlink
	case fm&fs.ModeCharDevice != 0:
		m |= TypeChar
	case fm&fs.ModeDevice != 0:
		m |= TypeBlock
	case fm&fs.ModeNamedPipe != 0:
		m |= TypeFIFO
	case fm&fs.ModeSocket != 0:
		m |= TypeSocket
	default:
		m |= TypeRegular
	}
	if fm&fs.ModeSetuid != 0 {
		m |= ModeSetuid
	}
	if fm&fs.ModeSetgid != 0 {
		m |= ModeSetgid
	}
	if fm&fs.ModeSticky != 0 {
		m |= ModeSticky
	}
	return m
}

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name string
	// Type is the file type (TypeMask bits of the mode).
	Type uint32
	// Ino is the entry's inode number, or zero if unknown.
	Ino uint64
	// Attr, when not nil, holds the entry's full attributes; the SDK then
	// seeds its attribute cache and answers the kernel without a Stat.
	Attr *Attr
}

// StatFS is what statfs(2) reports about a filesystem.
type StatFS struct {
	BlockSize   uint64 // preferred block size (f_bsize)
	FragSize    uint64 // fundamental block size, the unit of the counts (f_frsize)
	Blocks      uint64
	BlocksFree  uint64
	BlocksAvail uint64 // free blocks for unprivileged users
	Files       uint64
	FilesFree   uint64
	NameMax     uint64
}
