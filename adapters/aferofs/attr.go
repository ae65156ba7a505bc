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
				subdirs, counted := f.mem.fill(fd, &a)
				if a.IsDir() && !f.cow {
					if !counted {
						subdirs, counted = f.countSubdirs(fd)
					}
					if counted {
						a.Nlink = 2 + subdirs
					}
				}
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
	// subdirs is the number of subdirectories of a directory, valid when
	// counted. Both change only under FS.linkMu.
	subdirs uint32
	counted bool
}

// memTable maps MemMapFs nodes to their memMeta. Keys are weak pointers so
// that the table neither keeps a deleted file's data alive nor outlives it:
// a cleanup drops the entry when the node is collected.
type memTable struct {
	mu sync.Mutex // guards m
	m  map[weak.Pointer[mem.FileData]]*memMeta
}

// fill copies what the table knows of fd into a, and returns fd's
// subdirectory count if it has one.
func (t *memTable) fill(fd *mem.FileData, a *sdk.Attr) (subdirs uint32, counted bool) {
	t.mu.Lock()
	m, ok := t.m[weak.Make(fd)]
	var meta memMeta
	if ok {
		meta = *m
	}
	t.mu.Unlock()
	if !ok {
		return 0, false
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
	return meta.subdirs, meta.counted
}

// subdirCount returns fd's subdirectory count if it has one.
func (t *memTable) subdirCount(fd *mem.FileData) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.m[weak.Make(fd)]; ok && m.counted {
		return m.subdirs, true
	}
	return 0, false
}

// A directory's link count is 2 plus its subdirectories. MemMapFs reports
// none, and counting on every stat would list the directory each time:
// under libfuse3 (no attribute cache) every path lookup stats each
// directory on the way, so creating n subdirectories would cost O(n²).
// Instead the count is kept in the side table: a directory made by Mkdir
// starts at 0, Mkdir, Rmdir and Rename adjust the parent's count, and a
// directory the adapter has not seen made (it existed before, or was made
// behind the mount) is listed once, at its first stat. FS.linkMu makes that
// listing and every adjustment, together with the change it stands for, one
// step; MemMapFs serialises Mkdir, Remove and Rename under one lock of its
// own anyway. A change made behind the mount is not seen.

// countSubdirs lists a MemMapFs directory the table has no count for.
func (f *FS) countSubdirs(fd *mem.FileData) (uint32, bool) {
	f.linkMu.Lock()
	defer f.linkMu.Unlock()
	if n, ok := f.mem.subdirCount(fd); ok {
		return n, true
	}
	infos, err := mem.NewReadOnlyFileHandle(fd).Readdir(-1)
	if err != nil {
		return 0, false
	}
	var n uint32
	for _, fi := range infos {
		if fi.IsDir() {
			n++
		}
	}
	f.mem.update(fd, func(m *memMeta) { m.subdirs, m.counted = n, true })
	return n, true
}

// countsSubdirs reports whether directory link counts are kept: for
// MemMapFs nodes, but not under a CopyOnWriteFs, whose directories merge two
// layers that the count of one node does not see.
func (f *FS) countsSubdirs() bool {
	return f.hostRoot == "" && !f.cow
}

// lockLinks takes linkMu when link counts are kept, for a change to the set
// of subdirectories, and returns its unlock.
func (f *FS) lockLinks() func() {
	if !f.countsSubdirs() {
		return func() {}
	}
	f.linkMu.Lock()
	return f.linkMu.Unlock
}

// addSubdirs adds delta to the subdirectory count of dir, if it has one.
// linkMu is held.
func (f *FS) addSubdirs(dir string, delta int) {
	if delta == 0 || !f.countsSubdirs() {
		return
	}
	fi, err := f.lstat(f.apath(dir))
	if err != nil {
		return
	}
	if fd := memData(fi); fd != nil {
		f.mem.update(fd, func(m *memMeta) {
			if m.counted {
				m.subdirs = uint32(int(m.subdirs) + delta)
			}
		})
	}
}

// newDirCounted records that the directory name, just made, has no
// subdirectories. linkMu is held.
func (f *FS) newDirCounted(name string) {
	if !f.countsSubdirs() {
		return
	}
	fi, err := f.lstat(f.apath(name))
	if err != nil {
		return
	}
	if fd := memData(fi); fd != nil {
		f.mem.update(fd, func(m *memMeta) { m.subdirs, m.counted = 0, true })
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
