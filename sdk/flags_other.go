//go:build !linux

package sdk

import "github.com/winfsp/cgofuse/fuse"

// Open flags as cgofuse defines them on this platform. There is no O_DIRECT.
const (
	oAccMode = fuse.O_ACCMODE
	oWronly  = fuse.O_WRONLY
	oRdwr    = fuse.O_RDWR
	oCreat   = fuse.O_CREAT
	oExcl    = fuse.O_EXCL
	oTrunc   = fuse.O_TRUNC
	oAppend  = fuse.O_APPEND
	oDirect  = 0
)
