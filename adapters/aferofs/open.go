package aferofs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
)

// createRetries bounds how often Open goes back and forth when the file
// appears or disappears behind the mount between its check and its call.
const createRetries = 3

// Open implements sdk.FileSystem.
func (f *FS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	gen := f.exchangeGen.Load()
	h, err := f.open(ctx, name, flags, perm)
	if err != nil && (gen&1 != 0 || f.exchangeGen.Load() != gen) && isNotExist(err) {
		// An exchange may have moved the name away between the lookup
		// and the open: try again where no exchange runs.
		f.renameMu.RLock()
		defer f.renameMu.RUnlock()
		return f.open(ctx, name, flags, perm)
	}
	return h, err
}

func (f *FS) open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	write := flags&lxAccMode != 0
	creat := flags&lxCreat != 0
	excl := flags&lxExcl != 0
	if f.readOnly && (write || flags&lxTrunc != 0) {
		return nil, errReadOnly("open", name)
	}
	for range createRetries {
		a, exists, err := f.exists(name)
		if err != nil {
			return nil, err
		}
		if !exists {
			if !creat {
				return nil, pathErr("open", name, syscall.ENOENT)
			}
			if f.readOnly {
				return nil, errReadOnly("open", name)
			}
			h, err := f.create(ctx, name, flags, perm)
			if errors.Is(err, fs.ErrExist) && !excl {
				continue // created behind our back: open it instead
			}
			return h, err
		}
		if creat && excl {
			return nil, pathErr("open", name, syscall.EEXIST)
		}
		switch a.Type() {
		case sdk.TypeRegular:
		case sdk.TypeDir:
			return nil, pathErr("open", name, syscall.EISDIR)
		case sdk.TypeSymlink:
			// The kernel resolves links before it opens; only O_NOFOLLOW
			// gets here, and the host would follow the link outside the Fs.
			return nil, pathErr("open", name, syscall.ELOOP)
		default:
			// Device nodes and FIFOs are opened by the kernel, never here.
			return nil, pathErr("open", name, syscall.EINVAL)
		}
		h, err := f.openExisting(name, flags, a)
		if isNotExist(err) && creat {
			continue // removed behind our back: create it
		}
		return h, err
	}
	return nil, pathErr("open", name, syscall.EAGAIN)
}

// osFlags keeps the open flags afero understands. O_APPEND and O_DIRECT are
// dropped on purpose (see the package documentation); so is anything
// unknown, which zipfs and tarfs would refuse.
func osFlags(flags, access int) int {
	o := access
	if flags&lxTrunc != 0 && access != os.O_RDONLY {
		o |= os.O_TRUNC
	}
	if lxSync != 0 && access != os.O_RDONLY && flags&(lxSync|lxDsync) != 0 {
		o |= os.O_SYNC
	}
	return o
}

func (f *FS) openExisting(name string, flags int, before sdk.Attr) (sdk.File, error) {
	p := f.apath(name)
	var (
		af  afero.File
		err error
	)
	switch flags & lxAccMode {
	case lxWronly:
		// Ask for read access too, so the SDK can read through the handle.
		af, err = f.fs.OpenFile(p, osFlags(flags, os.O_RDWR), 0)
		if isPermission(err) {
			af, err = f.fs.OpenFile(p, osFlags(flags, os.O_WRONLY), 0)
		}
	case lxRdwr:
		af, err = f.fs.OpenFile(p, osFlags(flags, os.O_RDWR), 0)
	default:
		af, err = f.fs.OpenFile(p, osFlags(flags, os.O_RDONLY), 0)
	}
	if err != nil {
		return nil, err
	}
	if flags&lxAccMode != 0 {
		if err := f.repairCopyUp(name, before); err != nil {
			af.Close()
			return nil, err
		}
	}
	return f.newFile(name, af), nil
}

func isPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func (f *FS) create(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	mu := &f.createMu[nameHash(name)%uint32(len(f.createMu))]
	mu.Lock()
	defer mu.Unlock()
	pa, err := f.checkParent("open", name)
	if err != nil {
		return nil, err
	}
	want := perm & sdk.PermMask
	p := f.apath(name)
	// The creator may always use the access it asked for, whatever the
	// mode, so read-write is safe to ask for here. O_EXCL tells us that we
	// created the file and may set its mode and owner.
	af, err := f.fs.OpenFile(p, osFlags(flags, os.O_RDWR)|os.O_CREATE|os.O_EXCL, sdk.UnixToFileMode(want))
	if err != nil {
		return nil, err
	}
	if err := f.finishCreate(ctx, name, pa, want, false); err != nil {
		af.Close()
		_ = f.fs.Remove(p)
		return nil, err
	}
	if err := f.repairCopyUp(parentName(name), pa); err != nil {
		af.Close()
		_ = f.fs.Remove(p)
		return nil, err
	}
	f.dirChanged(name)
	return f.newFile(name, af), nil
}

// nameHash is FNV-1a, enough to spread names over the create locks.
func nameHash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return h
}
