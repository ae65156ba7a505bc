//go:build cgo

package sdk

import "syscall"

// Open flags as the Linux kernel sends them.
const (
	oAccMode = syscall.O_ACCMODE
	oWronly  = syscall.O_WRONLY
	oRdwr    = syscall.O_RDWR
	oCreat   = syscall.O_CREAT
	oExcl    = syscall.O_EXCL
	oTrunc   = syscall.O_TRUNC
	oAppend  = syscall.O_APPEND
	oDirect  = syscall.O_DIRECT
)
