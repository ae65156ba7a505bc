//go:build linux

package sdktest

import (
	"context"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// MemFS is a complete in-memory sdk.FileSystem: inodes with real inode
// numbers and link counts, hard links, symlinks, device nodes, xattrs, and
// ownership taken from the caller. It is the reference the SDK's own tests
// mount; it keeps everything under one mutex, so it favours being obviously
// right over being fast.
type MemFS struct {
	mu      sync.Mutex
	nextIno uint64   // guarded by mu
	root    *memNode // guarded by mu (and everything reachable from it)
}

type memNode struct {
	attr     sdk.Attr
	data     []byte
	target   string
	children map[string]*memNode
	xattrs   map[string][]byte
}

var (
	_ sdk.FileSystem = (*MemFS)(nil)
	_ sdk.Symlinker  = (*MemFS)(nil)
	_ sdk.Linker     = (*MemFS)(nil)
	_ sdk.Xattrer    = (*MemFS)(nil)
	_ sdk.Mknoder    = (*MemFS)(nil)
	_ sdk.FileStater = (*memFile)(nil)
)

// NewMemFS returns an empty filesystem whose root directory has mode 0755
// and belongs to root.
func NewMemFS() *MemFS {
	m := &MemFS{nextIno: 1}
	m.root = m.newNode(context.Background(), sdk.TypeDir|0o755)
	m.root.attr.Nlink = 2
	return m
}

func (m *MemFS) newNode(ctx context.Context, mode uint32) *memNode {
	m.nextIno++
	now := time.Now()
	n := &memNode{attr: sdk.Attr{Ino: m.nextIno, Mode: mode, Nlink: 1, Atime: now, Mtime: now, Ctime: now}}
	if c, ok := sdk.CallerFromContext(ctx); ok {
		n.attr.Uid, n.attr.Gid = c.Uid, c.Gid
	}
	if mode&sdk.TypeMask == sdk.TypeDir {
		n.children = map[string]*memNode{}
		n.attr.Nlink = 2
	}
	return n
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// lookup walks name; it does not follow symlinks (the kernel resolves them
// before asking).
func (m *MemFS) lookup(name string) (*memNode, error) {
	n := m.root
	if name == "." {
		return n, nil
	}
	for _, part := range strings.Split(name, "/") {
		if n.children == nil {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[part]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = c
	}
	return n, nil
}

func (m *MemFS) parent(name string) (*memNode, string, error) {
	dir, base := ".", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	p, err := m.lookup(dir)
	if err != nil {
		return nil, "", err
	}
	if p.children == nil {
		return nil, "", syscall.ENOTDIR
	}
	return p, base, nil
}

func touch(a *sdk.Attr, mtime bool) {
	now := time.Now()
	a.Ctime = now
	if mtime {
		a.Mtime = now
	}
}

// Stat implements sdk.FileSystem.
func (m *MemFS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return sdk.Attr{}, pathErr("stat", name, err)
	}
	return n.stat(), nil
}

func (n *memNode) stat() sdk.Attr {
	a := n.attr
	switch a.Mode & sdk.TypeMask {
	case sdk.TypeRegular:
		a.Size = int64(len(n.data))
	case sdk.TypeSymlink:
		a.Size = int64(len(n.target))
	case sdk.TypeDir:
		a.Size = 4096
	}
	return a
}

// Open implements sdk.FileSystem.
func (m *MemFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	switch {
	case err == nil && flags&syscall.O_CREAT != 0 && flags&syscall.O_EXCL != 0:
		return nil, pathErr("open", name, syscall.EEXIST)
	case err == syscall.ENOENT && flags&syscall.O_CREAT != 0:
		p, base, perr := m.parent(name)
		if perr != nil {
			return nil, pathErr("open", name, perr)
		}
		n = m.newNode(ctx, sdk.TypeRegular|perm&sdk.PermMask)
		p.children[base] = n
		touch(&p.attr, true)
	case err != nil:
		return nil, pathErr("open", name, err)
	}
	switch n.attr.Mode & sdk.TypeMask {
	case sdk.TypeDir:
		if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
			return nil, pathErr("open", name, syscall.EISDIR)
		}
	case sdk.TypeRegular:
	default:
		return nil, pathErr("open", name, syscall.ENXIO)
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY && len(n.data) > 0 {
		n.data = n.data[:0]
		touch(&n.attr, true)
	}
	return &memFile{m: m, n: n}, nil
}

// ReadDir implements sdk.FileSystem.
func (m *MemFS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	if n.children == nil {
		return nil, pathErr("readdir", name, syscall.ENOTDIR)
	}
	out := make([]sdk.DirEntry, 0, len(n.children))
	for base, c := range n.children {
		a := c.stat()
		out = append(out, sdk.DirEntry{Name: base, Type: a.Mode & sdk.TypeMask, Ino: a.Ino, Attr: &a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Mkdir implements sdk.FileSystem.
func (m *MemFS) Mkdir(ctx context.Context, name string, perm uint32) error {
	return m.create(ctx, "mkdir", name, sdk.TypeDir|perm&sdk.PermMask, nil)
}

func (m *MemFS) create(ctx context.Context, op, name string, mode uint32, init func(*memNode)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, base, err := m.parent(name)
	if err != nil {
		return pathErr(op, name, err)
	}
	if _, ok := p.children[base]; ok {
		return pathErr(op, name, syscall.EEXIST)
	}
	n := m.newNode(ctx, mode)
	if init != nil {
		init(n)
	}
	p.children[base] = n
	if n.children != nil {
		p.attr.Nlink++
	}
	touch(&p.attr, true)
	return nil
}

// Unlink implements sdk.FileSystem.
func (m *MemFS) Unlink(ctx context.Context, name string) error {
	return m.remove("unlink", name, false)
}

// Rmdir implements sdk.FileSystem.
func (m *MemFS) Rmdir(ctx context.Context, name string) error {
	return m.remove("rmdir", name, true)
}

func (m *MemFS) remove(op, name string, dir bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if name == "." {
		return pathErr(op, name, syscall.EBUSY)
	}
	p, base, err := m.parent(name)
	if err != nil {
		return pathErr(op, name, err)
	}
	n, ok := p.children[base]
	if !ok {
		return pathErr(op, name, syscall.ENOENT)
	}
	isDir := n.children != nil
	switch {
	case dir && !isDir:
		return pathErr(op, name, syscall.ENOTDIR)
	case !dir && isDir:
		return pathErr(op, name, syscall.EISDIR)
	case dir && len(n.children) > 0:
		return pathErr(op, name, syscall.ENOTEMPTY)
	}
	delete(p.children, base)
	if isDir {
		p.attr.Nlink--
	}
	n.attr.Nlink--
	touch(&n.attr, false)
	touch(&p.attr, true)
	return nil
}

// Rename implements sdk.FileSystem, with RenameNoReplace and
// RenameExchange; RenameWhiteout is EINVAL.
func (m *MemFS) Rename(ctx context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	if flags&^(sdk.RenameNoReplace|sdk.RenameExchange) != 0 {
		return pathErr("rename", oldname, syscall.EINVAL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if oldname == "." || newname == "." {
		return pathErr("rename", oldname, syscall.EBUSY)
	}
	op, obase, err := m.parent(oldname)
	if err != nil {
		return pathErr("rename", oldname, err)
	}
	n, ok := op.children[obase]
	if !ok {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	np, nbase, err := m.parent(newname)
	if err != nil {
		return pathErr("rename", newname, err)
	}
	if n.children != nil && (newname == oldname || strings.HasPrefix(newname, oldname+"/")) {
		if newname == oldname {
			return nil
		}
		return pathErr("rename", newname, syscall.EINVAL)
	}
	old, exists := np.children[nbase]
	switch {
	case flags&sdk.RenameExchange != 0:
		if !exists {
			return pathErr("rename", newname, syscall.ENOENT)
		}
		op.children[obase], np.children[nbase] = old, n
		touch(&n.attr, false)
		touch(&old.attr, false)
		touch(&op.attr, true)
		touch(&np.attr, true)
		return nil
	case exists && flags&sdk.RenameNoReplace != 0:
		return pathErr("rename", newname, syscall.EEXIST)
	case exists && old == n:
		return nil
	case exists && n.children != nil && old.children == nil:
		return pathErr("rename", newname, syscall.ENOTDIR)
	case exists && n.children == nil && old.children != nil:
		return pathErr("rename", newname, syscall.EISDIR)
	case exists && old.children != nil && len(old.children) > 0:
		return pathErr("rename", newname, syscall.ENOTEMPTY)
	}
	if exists {
		old.attr.Nlink--
		if old.children != nil {
			np.attr.Nlink--
		}
	}
	delete(op.children, obase)
	np.children[nbase] = n
	if n.children != nil {
		op.attr.Nlink--
		np.attr.Nlink++
	}
	touch(&n.attr, false)
	touch(&op.attr, true)
	touch(&np.attr, true)
	return nil
}

func (m *MemFS) modify(op, name string, f func(n *memNode) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return pathErr(op, name, err)
	}
	if err := f(n); err != nil {
		return pathErr(op, name, err)
	}
	return nil
}

// Truncate implements sdk.FileSystem.
func (m *MemFS) Truncate(ctx context.Context, name string, size int64) error {
	return m.modify("truncate", name, func(n *memNode) error { return n.truncate(size) })
}

func (n *memNode) truncate(size int64) error {
	switch {
	case n.children != nil:
		return syscall.EISDIR
	case n.attr.Mode&sdk.TypeMask != sdk.TypeRegular:
		return syscall.EINVAL
	case size < 0:
		return syscall.EINVAL
	}
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
	}
	touch(&n.attr, true)
	return nil
}

// Chmod implements sdk.FileSystem.
func (m *MemFS) Chmod(ctx context.Context, name string, mode uint32) error {
	return m.modify("chmod", name, func(n *memNode) error {
		n.attr.Mode = n.attr.Mode&sdk.TypeMask | mode&sdk.PermMask
		touch(&n.attr, false)
		return nil
	})
}

// Chown implements sdk.FileSystem.
func (m *MemFS) Chown(ctx context.Context, name string, uid, gid int) error {
	return m.modify("chown", name, func(n *memNode) error {
		if uid >= 0 {
			n.attr.Uid = uint32(uid)
		}
		if gid >= 0 {
			n.attr.Gid = uint32(gid)
		}
		touch(&n.attr, false)
		return nil
	})
}

// SetTimes implements sdk.FileSystem.
func (m *MemFS) SetTimes(ctx context.Context, name string, atime, mtime time.Time) error {
	return m.modify("utimens", name, func(n *memNode) error {
		if !atime.IsZero() {
			n.attr.Atime = atime
		}
		if !mtime.IsZero() {
			n.attr.Mtime = mtime
		}
		n.attr.Ctime = time.Now()
		return nil
	})
}

// StatFS implements sdk.FileSystem: a nominal 1 TiB with 4 KiB blocks.
func (m *MemFS) StatFS(ctx context.Context) (sdk.StatFS, error) {
	const blocks = 1 << 28
	return sdk.StatFS{BlockSize: 4096, FragSize: 4096, Blocks: blocks, BlocksFree: blocks, BlocksAvail: blocks,
		Files: 1 << 30, FilesFree: 1 << 30, NameMax: 255}, nil
}

// Symlink implements sdk.Symlinker.
func (m *MemFS) Symlink(ctx context.Context, target, newname string) error {
	return m.create(ctx, "symlink", newname, sdk.TypeSymlink|0o777, func(n *memNode) { n.target = target })
}

// Readlink implements sdk.Symlinker.
func (m *MemFS) Readlink(ctx context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	if n.attr.Mode&sdk.TypeMask != sdk.TypeSymlink {
		return "", pathErr("readlink", name, syscall.EINVAL)
	}
	return n.target, nil
}

// Link implements sdk.Linker.
func (m *MemFS) Link(ctx context.Context, oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(oldname)
	if err != nil {
		return pathErr("link", oldname, err)
	}
	if n.children != nil {
		return pathErr("link", oldname, syscall.EPERM)
	}
	p, base, err := m.parent(newname)
	if err != nil {
		return pathErr("link", newname, err)
	}
	if _, ok := p.children[base]; ok {
		return pathErr("link", newname, syscall.EEXIST)
	}
	p.children[base] = n
	n.attr.Nlink++
	touch(&n.attr, false)
	touch(&p.attr, true)
	return nil
}

// Mknod implements sdk.Mknoder.
func (m *MemFS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	if mode&sdk.TypeMask == 0 {
		mode |= sdk.TypeRegular
	}
	return m.create(ctx, "mknod", name, mode, func(n *memNode) { n.attr.Rdev = dev })
}

// GetXattr implements sdk.Xattrer.
func (m *MemFS) GetXattr(ctx context.Context, name, attr string) ([]byte, error) {
	var v []byte
	err := m.modify("getxattr", name, func(n *memNode) error {
		val, ok := n.xattrs[attr]
		if !ok {
			return syscall.ENODATA
		}
		v = append([]byte(nil), val...)
		return nil
	})
	return v, err
}

// SetXattr implements sdk.Xattrer.
func (m *MemFS) SetXattr(ctx context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	return m.modify("setxattr", name, func(n *memNode) error {
		_, exists := n.xattrs[attr]
		switch {
		case flags&sdk.XattrCreate != 0 && exists:
			return syscall.EEXIST
		case flags&sdk.XattrReplace != 0 && !exists:
			return syscall.ENODATA
		}
		if n.xattrs == nil {
			n.xattrs = map[string][]byte{}
		}
		n.xattrs[attr] = append([]byte(nil), value...)
		touch(&n.attr, false)
		return nil
	})
}

// ListXattr implements sdk.Xattrer.
func (m *MemFS) ListXattr(ctx context.Context, name string) ([]string, error) {
	var out []string
	err := m.modify("listxattr", name, func(n *memNode) error {
		for k := range n.xattrs {
			out = append(out, k)
		}
		sort.Strings(out)
		return nil
	})
	return out, err
}

// RemoveXattr implements sdk.Xattrer.
func (m *MemFS) RemoveXattr(ctx context.Context, name, attr string) error {
	return m.modify("removexattr", name, func(n *memNode) error {
		if _, ok := n.xattrs[attr]; !ok {
			return syscall.ENODATA
		}
		delete(n.xattrs, attr)
		touch(&n.attr, false)
		return nil
	})
}

// memFile is an open MemFS file. It holds the inode, not the name, so it
// keeps working after rename and unlink.
type memFile struct {
	m *MemFS
	n *memNode
}

func (f *memFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		if end > int64(cap(f.n.data)) {
			grown := make([]byte, end, max(end, 2*int64(cap(f.n.data))))
			copy(grown, f.n.data)
			f.n.data = grown
		} else {
			old := int64(len(f.n.data))
			f.n.data = f.n.data[:end]
			if off > old {
				clear(f.n.data[old:off]) // a hole reads as zeros
			}
		}
	}
	copy(f.n.data[off:], p)
	touch(&f.n.attr, true)
	return len(p), nil
}

func (f *memFile) Truncate(ctx context.Context, size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.n.truncate(size)
}

func (f *memFile) Sync(ctx context.Context, datasync bool) error { return nil }

func (f *memFile) Close() error { return nil }

func (f *memFile) Stat(ctx context.Context) (sdk.Attr, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return f.n.stat(), nil
}
