package writeback

import "syscall"

// Open flags as the Linux kernel sends them.
const (
	oAccMode = syscall.O_ACCMODE
	oRdonly  = syscall.O_RDONLY
	oWronly  = syscall.O_WRONLY
	oRdwr    = syscall.O_RDWR
	oTrunc   = syscall.O_TRUNC
	oAppend  = syscall.O_APPEND
	oDirect  = syscall.O_DIRECT
	oSync    = syscall.O_SYNC
	oDsync   = syscall.O_DSYNC
)
