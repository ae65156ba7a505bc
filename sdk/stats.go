//go:build !linux || cgo

package sdk

import (
	"sync/atomic"
	"syscall"
	"time"
)

// Op names a FUSE operation in Stats.
type Op int

// The operations the SDK counts.
const (
	OpGetattr Op = iota
	OpReaddir
	OpOpen
	OpCreate
	OpRead
	OpWrite
	OpFlush
	OpRelease
	OpFsync
	OpTruncate
	OpMkdir
	OpMknod
	OpUnlink
	OpRmdir
	OpRename
	OpLink
	OpSymlink
	OpReadlink
	OpChmod
	OpChown
	OpUtimens
	OpStatfs
	OpAccess
	OpGetxattr
	OpSetxattr
	OpListxattr
	OpRemovexattr
	OpOpendir
	OpReleasedir
	OpFsyncdir
	numOps
)

var opNames = [numOps]string{
	"getattr", "readdir", "open", "create", "read", "write", "flush", "release",
	"fsync", "truncate", "mkdir", "mknod", "unlink", "rmdir", "rename", "link",
	"symlink", "readlink", "chmod", "chown", "utimens", "statfs", "access",
	"getxattr", "setxattr", "listxattr", "removexattr", "opendir", "releasedir",
	"fsyncdir",
}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "op?"
}

// OpStats are the counters of one operation.
type OpStats struct {
	Count        uint64
	Errors       uint64
	TotalLatency time.Duration
	MaxLatency   time.Duration
}

// Stats is a snapshot of a mount's counters.
type Stats struct {
	Ops          map[Op]OpStats           // operations that were called at least once
	BytesRead    uint64                   // bytes returned by Read
	BytesWritten uint64                   // bytes accepted by Write
	Errors       map[syscall.Errno]uint64 // errors returned to the kernel, by errno
	Panics       uint64                   // callbacks that panicked (answered EIO)
	OpenFiles    int                      // file handles open now
}

// counters are updated lock-free on every callback.
type counters struct {
	ops          [numOps]opCounters
	errnos       [256]atomic.Uint64
	bytesRead    atomic.Uint64
	bytesWritten atomic.Uint64
	panics       atomic.Uint64
}

type opCounters struct {
	count, errors, nanos, maxNanos atomic.Uint64
}

func (c *counters) record(op Op, d time.Duration, errno syscall.Errno) {
	oc := &c.ops[op]
	oc.count.Add(1)
	ns := uint64(d)
	oc.nanos.Add(ns)
	for {
		m := oc.maxNanos.Load()
		if ns <= m || oc.maxNanos.CompareAndSwap(m, ns) {
			break
		}
	}
	if errno != 0 {
		oc.errors.Add(1)
		if int(errno) < len(c.errnos) {
			c.errnos[errno].Add(1)
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{Ops: map[Op]OpStats{}, Errors: map[syscall.Errno]uint64{}}
	for i := range c.ops {
		oc := &c.ops[i]
		if n := oc.count.Load(); n > 0 {
			s.Ops[Op(i)] = OpStats{
				Count:        n,
				Errors:       oc.errors.Load(),
				TotalLatency: time.Duration(oc.nanos.Load()),
				MaxLatency:   time.Duration(oc.maxNanos.Load()),
			}
		}
	}
	for i := range c.errnos {
		if n := c.errnos[i].Load(); n > 0 {
			s.Errors[syscall.Errno(i)] = n
		}
	}
	s.BytesRead = c.bytesRead.Load()
	s.BytesWritten = c.bytesWritten.Load()
	s.Panics = c.panics.Load()
	return s
}
