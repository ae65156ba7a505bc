//go:build !linux

package writeback

import "os"

// Open flags as this platform's os package defines them. There is no
// O_DIRECT or O_DSYNC to honour.
const (
	oAccMode = os.O_RDONLY | os.O_WRONLY | os.O_RDWR
	oRdonly  = os.O_RDONLY
	oWronly  = os.O_WRONLY
	oRdwr    = os.O_RDWR
	oTrunc   = os.O_TRUNC
	oAppend  = os.O_APPEND
	oDirect  = 0
	oSync    = os.O_SYNC
	oDsync   = 0
)
