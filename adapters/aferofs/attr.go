package aferofs

import (
	"archive/tar"
	"os"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero/mem"
)

// attr converts an os.FileInfo into SDK attributes. See "Attributes and
// ownership" in the package documentation for where each field comes from.
func (f *FS) attr(fi os.FileInfo) sdk.Attr {
	if a, ok := fi.Sys().(*sdk.Attr); ok && a != nil {
		// A FileInfo made by ToAfero: the SDK's own attributes, unchanged.
		return *a
	}
	mt := fi.ModTime()
	a := sdk.Attr{
		Mode:  sdk.FileModeToUnix(fi.Mode()),
		Nlink: 1,
		Uid:   f.uid,
		Gid:   f.gid,
		Size:  fi.Size(),
		Atime: mt,
		Mtime: mt,
		Ctime: mt,
	}
	if a.IsDir() {
		a.Nlink = 2
	}
	switch sys := fi.Sys().(type) {
	case *tar.Header:
		a.Uid, a.Gid = uint32(sys.Uid), uint32(sys.Gid)
		if !sys.AccessTime.IsZero() {
			a.Atime = sys.AccessTime
		}
		if !sys.ChangeTime.IsZero() {
			a.Ctime = sys.ChangeTime
		}
		if sys.Typeflag == tar.TypeSymlink {
			a.Size = int64(len(sys.Linkname))
		}
		if sys.Typeflag == tar.TypeChar || sys.Typeflag == tar.TypeBlock {
			a.Rdev = mkdev(uint32(sys.Devmajor), uint32(sys.Devminor))
		}
	default:
		if !statT(fi, &a) {
			if fd := memData(fi); fd != nil {
				f.mem.fill(fd, &a)
			}
		}
	}
	if f.attrHook != nil {
		f.attrHook(fi, &a)
	}
	return a
}

// mkdev encodes a device number as Linux's makedev does.
func mkdev(major, minor uint32) uint64 {
	return uint64(minor&0xff) | uint64(major&0xfff)<<8 |
		uint64(minor&^0xff)<<12 | uint64(major&^0xfff)<<32
}

// sysLinkTarget returns a symlink target carried by FileInfo.Sys().
func sysLinkTarget(fi os.FileInfo) (string, bool) {
	if h, ok := fi.Sys().(*tar.Header); ok && h.Typeflag == tar.TypeSymlink {
		return h.Linkname, true
	}
	return "", false
}

// memData returns the MemMapFs node behind fi, or nil.
func memData(fi os.FileInfo) *mem.FileData {
	if mfi, ok := fi.(*mem.FileInfo); ok {
		return mfi.FileData
	}
	return nil
}

// memMeta is what the adapter knows about a MemMapFs node that afero does
// not report.
type memMeta struct {
	uid, gid uint32
	owned    bool      // uid and gid were set; otherwise report the FS default
	atime    time.Time // zero: report the modification time
	ctime    time.Time // last metadata change; ctime is reported as max(ctime, mtime)
}

// memTable maps MemMapFs nodes to their memMeta. Keys are weak pointers so
// that the table neither keeps a deleted file's data alive nor outlives it:
// a cleanup drops the entry when the node is collected.
type memTable struct {
	mu sync.Mutex // guards m
	m  map[weak.Pointer[mem.FileData]]*memMeta
}

func (t *memTable) fill(fd *mem.FileData, a *sdk.Attr) {
	t.mu.Lock()
	m, ok := t.m[weak.Make(fd)]
	var meta memMeta
	if ok {
		meta = *m
	}
	t.mu.Unlock()
	if !ok {
		return
	}
	if meta.owned {
		a.Uid, a.Gid = meta.uid, meta.gid
	}
	if !meta.atime.IsZero() {
		a.Atime = meta.atime
	}
	if meta.ctime.After(a.Ctime) {
		a.Ctime = meta.ctime
	}
}

func (t *memTable) update(fd *mem.FileData, change func(*memMeta)) {
	key := weak.Make(fd)
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.m[key]
	if !ok {
		if t.m == nil {
			t.m = make(map[weak.Pointer[mem.FileData]]*memMeta)
		}
		m = &memMeta{}
		t.m[key] = m
		runtime.AddCleanup(fd, t.forget, key)
	}
	change(m)
}

func (t *memTable) forget(key weak.Pointer[mem.FileData]) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// len reports the number of entries, for tests.
func (t *memTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// owner is a file's numeric owner.
type owner struct{ uid, gid uint32 }
