package main

import (
	"context"
	"syscall"

	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
)

// overflowID is what an id without a mapping shows as, as in the kernel's
// user namespaces (/proc/sys/kernel/overflowuid).
const overflowID = 65534

// idMap translates ids between the layers (the container's ids, as stored
// on disk) and the ids the mount reports (the host's), the way
// fuse-overlayfs's uidmapping= and gidmapping= do: each range maps stored
// ids From..From+Len-1 to reported ids To..To+Len-1. An empty idMap is the
// identity.
type idMap []idRange

// toHost maps a stored id to the id the mount reports.
func (m idMap) toHost(id uint32) uint32 {
	if len(m) == 0 {
		return id
	}
	for _, r := range m {
		if id >= r.From && id-r.From < r.Len {
			return r.To + (id - r.From)
		}
	}
	return overflowID
}

// toStored maps a reported id (a caller's, or a chown target) to the id
// stored in the layers; ok is false when no range covers it.
func (m idMap) toStored(id uint32) (uint32, bool) {
	if len(m) == 0 {
		return id, true
	}
	for _, r := range m {
		if id >= r.To && id-r.To < r.Len {
			return r.From + (id - r.To), true
		}
	}
	return overflowID, false
}

// idMapFS is the overlay seen through uidmapping= and gidmapping=. It
// embeds the overlay, so every capability the overlay has is kept; only
// the calls that report or set ownership are translated: attributes of
// Stat, ReadDir and open files, Chown, and the caller who owns what Open,
// Mkdir, Symlink and Mknod create. POSIX ACLs stored in xattrs are not
// translated.
type idMapFS struct {
	*overlay.FS
	uids, gids idMap
}

func (f *idMapFS) attr(a *sdk.Attr) {
	a.Uid = f.uids.toHost(a.Uid)
	a.Gid = f.gids.toHost(a.Gid)
}

// caller makes the request's caller a stored id, so that what it creates
// is owned by the container's id on disk.
func (f *idMapFS) caller(ctx context.Context) context.Context {
	c, ok := sdk.CallerFromContext(ctx)
	if !ok {
		return ctx
	}
	c.Uid, _ = f.uids.toStored(c.Uid)
	c.Gid, _ = f.gids.toStored(c.Gid)
	return sdk.WithCaller(ctx, c)
}

func (f *idMapFS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	a, err := f.FS.Stat(ctx, name)
	f.attr(&a)
	return a, err
}

func (f *idMapFS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	ents, err := f.FS.ReadDir(ctx, name)
	for i := range ents {
		if ents[i].Attr != nil {
			a := *ents[i].Attr
			f.attr(&a)
			ents[i].Attr = &a
		}
	}
	return ents, err
}

func (f *idMapFS) Chown(ctx context.Context, name string, uid, gid int) error {
	var ok bool
	if uid != -1 {
		var u uint32
		if u, ok = f.uids.toStored(uint32(uid)); !ok {
			return syscall.EINVAL // as chown(2) for an id outside the user namespace
		}
		uid = int(u)
	}
	if gid != -1 {
		var g uint32
		if g, ok = f.gids.toStored(uint32(gid)); !ok {
			return syscall.EINVAL
		}
		gid = int(g)
	}
	return f.FS.Chown(ctx, name, uid, gid)
}

func (f *idMapFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	file, err := f.FS.Open(f.caller(ctx), name, flags, perm)
	if err != nil {
		return nil, err
	}
	base := idFile{File: file}
	if st, ok := file.(sdk.FileStater); ok {
		return &idStatFile{idFile: base, st: st, fs: f}, nil
	}
	return &base, nil
}

func (f *idMapFS) Mkdir(ctx context.Context, name string, perm uint32) error {
	return f.FS.Mkdir(f.caller(ctx), name, perm)
}

func (f *idMapFS) Symlink(ctx context.Context, target, newname string) error {
	return f.FS.Symlink(f.caller(ctx), target, newname)
}

func (f *idMapFS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	return f.FS.Mknod(f.caller(ctx), name, mode, dev)
}

// idFile is an open file of idMapFS; it keeps the overlay file's Flush.
type idFile struct{ sdk.File }

func (f *idFile) Flush(ctx context.Context) error {
	if fl, ok := f.File.(sdk.Flusher); ok {
		return fl.Flush(ctx)
	}
	return nil
}

// idStatFile answers fstat with translated ids.
type idStatFile struct {
	idFile
	st sdk.FileStater
	fs *idMapFS
}

func (f *idStatFile) Stat(ctx context.Context) (sdk.Attr, error) {
	a, err := f.st.Stat(ctx)
	f.fs.attr(&a)
	return a, err
}

var (
	_ sdk.Flusher    = (*idFile)(nil)
	_ sdk.FileStater = (*idStatFile)(nil)
	_ sdk.Symlinker  = (*idMapFS)(nil)
	_ sdk.Linker     = (*idMapFS)(nil)
	_ sdk.Xattrer    = (*idMapFS)(nil)
	_ sdk.Mknoder    = (*idMapFS)(nil)
	_ sdk.Syncer     = (*idMapFS)(nil)
)
