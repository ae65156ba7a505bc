//go:build !linux

package aferofs

import (
	"errors"
	"os"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/winfsp/cgofuse/fuse"
)

// Open flags as cgofuse defines them on this platform; it has no O_SYNC.
const (
	lxAccMode = fuse.O_ACCMODE
	lxWronly  = fuse.O_WRONLY
	lxRdwr    = fuse.O_RDWR
	lxCreat   = fuse.O_CREAT
	lxExcl    = fuse.O_EXCL
	lxTrunc   = fuse.O_TRUNC
	lxAppend  = fuse.O_APPEND
	lxSync    = 0
	lxDsync   = 0
)

func statT(os.FileInfo, *sdk.Attr) bool { return false }

func diskOwner(os.FileInfo) (owner, bool) { return owner{}, false }

func lchown(hostPath string, uid, gid int) error { return os.Lchown(hostPath, uid, gid) }

func lutimes(hostPath string, _, _ time.Time) error {
	return &os.PathError{Op: "lutimes", Path: hostPath, Err: sdk.ErrNotSupported}
}

func hostStatFS(string) (sdk.StatFS, error) { return sdk.StatFS{}, errors.ErrUnsupported }

func fdatasync(f *os.File) error { return f.Sync() }

func hostExchange(string, string) error { return errors.ErrUnsupported }
