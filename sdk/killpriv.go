//go:build !linux || cgo

package sdk

import (
	"bytes"
	"os"
	"strconv"
)

// The kernel drops setuid and setgid from a regular file when a caller
// without CAP_FSETID writes or truncates it (file_remove_privs and
// do_truncate, which ask setattr_should_drop_suidgid), and chown drops them
// for every caller. A FUSE server must do part of that itself: the kernel's
// FUSE client still applies the rule of Linux before 6.2 (setgid only when
// group-executable), does nothing for direct-I/O writes, and drops the mode
// change of an open(O_TRUNC) that the server truncates in open. The SDK
// therefore applies the current rule on every path.

// privBits are the bits the kernel considers: setuid and setgid.
const privBits = ModeSetuid | ModeSetgid

// dropOnWrite returns the bits a write or truncate by c removes from a file
// with attributes a: setuid always, setgid when the file is
// group-executable or c is not in the file's group. Root is taken to hold
// CAP_FSETID and removes nothing; a caller with another uid is taken not
// to hold it, which drops rather than keeps the bits when in doubt.
func dropOnWrite(c Caller, a *Attr) uint32 {
	if c.Uid == 0 || !a.IsRegular() || a.Mode&privBits == 0 {
		return 0
	}
	return a.Mode&ModeSetuid | dropSetgid(c, a)
}

// dropOnChown returns the bits chown(2) by c removes from a file that had
// attributes a before the change: setuid whoever the caller is, setgid as
// for a write, except that root removes it too from a group-executable
// file.
func dropOnChown(c Caller, a *Attr) uint32 {
	if !a.IsRegular() || a.Mode&privBits == 0 {
		return 0
	}
	return a.Mode&ModeSetuid | dropSetgid(c, a)
}

// dropSetgid is setattr_should_drop_sgid: setgid goes from a
// group-executable file, and from any other when the caller is neither
// root nor in the file's group.
func dropSetgid(c Caller, a *Attr) uint32 {
	if a.Mode&ModeSetgid == 0 {
		return 0
	}
	if a.Mode&0o010 != 0 || c.Uid != 0 && !inGroup(c, a.Gid) {
		return ModeSetgid
	}
	return 0
}

// inGroup reports whether c is in group gid as the kernel's in_group_p
// sees it: its fsgid, which the request carries, or one of its
// supplementary groups, which only /proc/<pid>/status tells. The pid of a
// FUSE request is the calling thread, which waits in its system call while
// the request is served, so the file describes the caller. When it cannot
// be read the answer is false and the setgid bit goes.
func inGroup(c Caller, gid uint32) bool {
	if c.Gid == gid {
		return true
	}
	if c.Pid <= 0 {
		return false
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/status")
	if err != nil {
		return false
	}
	return statusHasGroup(status, gid)
}

// statusHasGroup reports whether the "Groups:" line of a /proc/<pid>/status
// text lists gid.
func statusHasGroup(status []byte, gid uint32) bool {
	const key = "\nGroups:"
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return false
	}
	line := status[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	for _, f := range bytes.Fields(line) {
		if g, err := strconv.ParseUint(string(f), 10, 32); err == nil && uint32(g) == gid {
			return true
		}
	}
	return false
}
