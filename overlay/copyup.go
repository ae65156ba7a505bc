package overlay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

// Copy-up
//
// A lower object is copied into the upper before its first change. The
// copy is prepared under a fresh name in the work directory (data written,
// fsync'd, then owner, mode, xattrs and times set) and renamed into place, so
// a crash or ENOSPC leaves at most a temporary in the work directory, which
// New removes; the merged view and the lower never see a partial copy.
// Parent directories are copied first, with their metadata.
//
// With metacopy, a change that touches no data creates a stub instead: an
// upper regular file of the right size with no data blocks, marked in the
// kernel's format (trusted.overlay.metacopy, and trusted.overlay.redirect =
// "/" + origin path, so that the kernel finds the data wherever the stub is
// renamed or linked to) or in fusekit's (xattrMetacopy = origin path). Reads
// of a stub come from the lower; the first
// open for writing fills the stub in place and removes the marker only after
// the data is durable, so a crash during the fill still leaves a correct stub.

// copyHow says how much of a regular file a copy-up must bring up.
type copyHow int

const (
	// copyData copies the data: the caller is about to change it.
	copyData copyHow = iota
	// copyMeta needs only the metadata; the data is copied too when
	// metacopy is off.
	copyMeta
	// copyNoData is for a caller about to discard the data (O_TRUNC,
	// truncate to zero).
	copyNoData
)

// copyChunk is the unit of data copy and of hole detection.
const copyChunk = 1 << 20

var zeroChunk [copyChunk]byte

// copyBufs recycles copy buffers: a fresh 1 MiB buffer per copy-up cost
// more CPU (zeroing it, and the collector) than copying a small file.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, copyChunk)
	return &b
}}

// CopyUpError reports a failed copy-up. Err is the errno when there is one
// (ENOSPC, EIO, ...), so the message reads "copy-up of a/b failed: no space
// left on device".
type CopyUpError struct {
	Name string
	Err  error
}

func (e *CopyUpError) Error() string {
	return "overlay: copy-up of " + e.Name + " failed: " + e.Err.Error()
}

func (e *CopyUpError) Unwrap() error { return e.Err }

func copyUpFailed(name string, err error) error {
	var ce *CopyUpError
	if errors.As(err, &ce) {
		return err
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		err = en
	}
	return &CopyUpError{Name: name, Err: err}
}

// keyedMutex is a set of mutexes created on demand per key. Copy-up locks
// the name being copied so that two openers of one lower file cause exactly
// one copy: the second waits and then finds the file in the upper.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry // guarded by mu
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int // guarded by keyedMutex.mu
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// upToDate reports whether n needs no copy-up for how: it is in the upper,
// with its data unless only the metadata is wanted.
func (o *FS) upToDate(n *node, how copyHow) bool {
	return o.inUpper(n) && (n.origin == "" || how == copyMeta)
}

// copyUp makes name an upper object (for a stub, with data unless how is
// copyMeta) and returns its node; the node's attributes are complete except
// for a directory that was in the upper already. known, when not nil, is
// name as the caller resolved it just before. The caller must not hold
// nsMu: a full data copy runs without it, and only the rename into place
// takes it.
func (o *FS) copyUp(ctx context.Context, name string, how copyHow, known *node) (*node, error) {
	if known == nil {
		var err error
		if known, err = o.resolveDir(ctx, name); err != nil {
			return nil, err
		}
	}
	if o.upToDate(known, how) {
		// The common case: nothing to do, so neither the parents nor
		// the copy-up lock need to be visited.
		return known, nil
	}
	if name != "." {
		// Parents first; each level locks only itself, so locks are
		// always taken parent-before-child and cannot deadlock.
		if _, err := o.copyUp(ctx, parentName(name), copyMeta, nil); err != nil {
			return nil, err
		}
	}
	unlock := o.copyLocks.lock(name)
	defer unlock()
	for attempt := 0; ; attempt++ {
		n, err := o.resolve(ctx, name)
		if err != nil {
			return nil, err
		}
		if o.upToDate(n, how) {
			return n, nil
		}
		if o.inUpper(n) || !n.attr.IsRegular() || how != copyData && (how == copyNoData || o.metacopy) {
			// Cheap: no data to move (or a stub fill, which must not race
			// with renames and links of the stub).
			o.nsMu.Lock()
			n, err = o._copyUpResolved(ctx, name, how)
			o.nsMu.Unlock()
			return n, err
		}
		tmp, err := o.stage(ctx, n, how)
		if err != nil {
			return nil, err
		}
		o.nsMu.Lock()
		cur, err := o.resolve(ctx, name)
		if err == nil && !o.inUpper(cur) && cur.top == n.top && cur.attr.Ino == n.attr.Ino {
			if _, err = o._copyUpResolved(ctx, parentName(name), copyMeta); err == nil {
				cur, err = o._place(ctx, n, tmp, how)
			}
			o.nsMu.Unlock()
			return cur, err
		}
		o.nsMu.Unlock()
		o.discard(ctx, tmp)
		if err != nil {
			return nil, err
		}
		if attempt >= 3 {
			return nil, copyUpFailed(name, syscall.EAGAIN)
		}
		// The name changed under the copy (renamed, replaced): start over
		// from what it is now.
	}
}

// _copyUpResolved is copyUp with nsMu held, for namespace operations and
// for copies that move no bulk data.
func (o *FS) _copyUpResolved(ctx context.Context, name string, how copyHow) (*node, error) {
	n, err := o.resolveDir(ctx, name)
	if err != nil {
		return nil, err
	}
	if o.inUpper(n) {
		if n.origin != "" && how != copyMeta {
			if err := o._completeMetacopy(ctx, n, how); err != nil {
				return nil, err
			}
			n.origin = ""
		}
		return n, nil
	}
	if _, err := o._copyUpResolved(ctx, parentName(name), copyMeta); err != nil {
		return nil, err
	}
	if n.isDir() {
		// resolveDir may have answered from the cache, without the
		// attributes the copy needs.
		if n, err = o.resolve(ctx, name); err != nil {
			return nil, err
		}
	}
	tmp, err := o.stage(ctx, n, how)
	if err != nil {
		return nil, err
	}
	return o._place(ctx, n, tmp, how)
}

// _place renames a staged copy of n into place and gives it n's inode
// number. nsMu must be held.
func (o *FS) _place(ctx context.Context, n *node, tmp string, how copyHow) (*node, error) {
	// A copy-up changes no directory in the merged view, but the rename
	// into place moves the upper parent's mtime: put its times back
	// afterwards, as the kernel's copy-up does (ovl_set_timestamps on the
	// parent). Without this, every copy-up of a tree (a directory rename)
	// leaves each copied directory with the current time instead of the
	// lower's, and a chmod of a lower file touches its directory.
	pa, perr := o.upper.Stat(ctx, parentName(n.name))
	if err := o.moveIn(ctx, tmp, n.name, 0); err != nil {
		o.discard(ctx, tmp)
		return nil, copyUpFailed(n.name, err)
	}
	if perr == nil {
		// Best effort, as the kernel's: the copy is in place, and failing
		// the copy-up now would report as failed what has happened.
		_ = o.upper.SetTimes(ctx, parentName(n.name), pa.Atime, pa.Mtime)
	}
	var up *node
	if n.isDir() {
		// The directory now merges from the upper down.
		o.cache.invalidate(n.name)
		var err error
		if up, err = o.resolve(ctx, n.name); err != nil {
			return nil, copyUpFailed(n.name, err)
		}
	} else {
		a, err := o.upper.Stat(ctx, n.name)
		if err != nil {
			return nil, copyUpFailed(n.name, err)
		}
		parent, err := o.resolveDir(ctx, parentName(n.name))
		if err != nil {
			return nil, copyUpFailed(n.name, err)
		}
		if len(parent.dirs) == 0 || parent.dirs[0] != 0 {
			// Cannot happen: the parent was copied up first.
			return nil, copyUpFailed(n.name, syscall.EIO)
		}
		// The parent merges from the upper: its other layers are what
		// lies below the copy.
		up = &node{name: n.name, attr: a, dirInfo: dirInfo{top: 0, below: parent.dirs[1:]}}
		if a.IsRegular() && o.upperX != nil {
			if how == copyMeta {
				up.origin = n.name
			}
			if a.Ino != 0 {
				// We wrote the marker, and nsMu keeps it as it is.
				o.cache.setMark(a.Ino, up.origin)
			}
		}
	}
	o.inodes.alias(identityOf(n.top, n.attr.Ino, n.name), identityOf(0, up.attr.Ino, n.name))
	return up, nil
}

// discard removes a staged copy; errors are ignored because New empties the
// work directory anyway.
func (o *FS) discard(ctx context.Context, tmp string) {
	if a, err := o.work.Stat(ctx, tmp); err == nil && a.IsDir() {
		_ = removeAll(ctx, o.work, tmp, true)
		return
	}
	_ = o.work.Unlink(ctx, tmp)
}

// stage prepares a copy of the lower object n in the work directory and
// returns its name there.
func (o *FS) stage(ctx context.Context, n *node, how copyHow) (tmp string, err error) {
	tmp = o.tempName()
	defer func() {
		if err != nil {
			o.discard(ctx, tmp)
			err = copyUpFailed(n.name, err)
		}
	}()
	a := n.attr
	// cur is what the staged object already has, when known, so that
	// copyMetadata can skip what is already right.
	var cur *sdk.Attr
	switch a.Type() {
	case sdk.TypeDir:
		if err = o.work.Mkdir(ctx, tmp, 0o700); err != nil {
			return tmp, err
		}
	case sdk.TypeSymlink:
		src, ok1 := o.layers[n.top].(sdk.Symlinker)
		dst, ok2 := o.work.(sdk.Symlinker)
		if !ok1 || !ok2 {
			return tmp, sdk.ErrNotSupported
		}
		target, err := src.Readlink(ctx, n.name)
		if err != nil {
			return tmp, err
		}
		if err = dst.Symlink(ctx, target, tmp); err != nil {
			return tmp, err
		}
	case sdk.TypeRegular:
		if cur, err = o.stageFile(ctx, n, tmp, how); err != nil {
			return tmp, err
		}
	default:
		mk, ok := o.work.(sdk.Mknoder)
		if !ok {
			return tmp, sdk.ErrNotSupported
		}
		if err = mk.Mknod(ctx, tmp, a.Mode, a.Rdev); err != nil {
			return tmp, err
		}
	}
	return tmp, o.copyMetadata(ctx, n, tmp, cur)
}

// stageFile writes the staged copy of the regular file n and returns its
// attributes from the open handle (nil when the upper cannot say).
func (o *FS) stageFile(ctx context.Context, n *node, tmp string, how copyHow) (*sdk.Attr, error) {
	// Created with the final permission bits: the creating open may
	// write whatever they say, and a chmod is saved unless the owner must
	// change too (chown clears set-user-ID and set-group-ID).
	perm := n.attr.Mode & sdk.PermMask
	if how == copyMeta && o.metacopy {
		// The marker is set by path below, which needs write permission
		// unless the server is root; copyMetadata sets the final mode.
		perm |= 0o600
	}
	dst, err := o.work.Open(ctx, tmp, oCreat|oExcl|oWronly, perm)
	if err != nil {
		return nil, err
	}
	switch {
	case how == copyNoData:
	case how == copyMeta && o.metacopy:
		err = dst.Truncate(ctx, n.attr.Size)
	default:
		err = o.copyData(ctx, n.top, n.name, dst, 0)
	}
	if err == nil && !o.volatile && (how == copyData || how == copyMeta && !o.metacopy) {
		// Only data needs the fsync: a stub is metadata, which the rename
		// into place orders after itself on journaling filesystems, as
		// the kernel's metacopy relies on too.
		err = dst.Sync(ctx, false)
	}
	var cur *sdk.Attr
	if st, ok := dst.(sdk.FileStater); ok && err == nil {
		if a, serr := st.Stat(ctx); serr == nil {
			cur = &a
		}
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && how == copyMeta && o.metacopy {
		if o.mcKernel {
			// The redirect is absolute and names the lower file, so it
			// stays right when the stub is renamed, linked or moved with
			// its directory, as the kernel's own ovl_set_redirect does
			// for those.
			err = o.workX.SetXattr(ctx, tmp, xattrTrustedRedirect, []byte("/"+n.name), 0)
			if err == nil {
				err = o.workX.SetXattr(ctx, tmp, xattrTrustedMetacopy, nil, 0)
			}
		} else {
			err = o.workX.SetXattr(ctx, tmp, xattrMetacopy, []byte(n.name), 0)
		}
	}
	return cur, err
}

// copyData copies a lower file into dst, whose size is dstSize, leaving
// holes where the source reads as whole chunks of zeros, and sets dst's
// size to what was read.
func (o *FS) copyData(ctx context.Context, layer int, name string, dst sdk.File, dstSize int64) error {
	src, err := o.layers[layer].Open(ctx, name, oRdonly, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	var off int64
	end := dstSize // dst's size as the writes leave it
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.ReadAt(ctx, buf, off)
		if n > 0 && !bytes.Equal(buf[:n], zeroChunk[:n]) {
			if _, err := dst.WriteAt(ctx, buf[:n], off); err != nil {
				return err
			}
			end = max(end, off+int64(n))
		}
		off += int64(n)
		if rerr == io.EOF || (rerr == nil && n < len(buf)) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if end == off {
		return nil
	}
	return dst.Truncate(ctx, off)
}

// copyMetadata gives tmp the owner, mode, xattrs and times of n; cur, when
// not nil, is what tmp has now. Owner and xattrs are best effort where the
// upper cannot record them (a non-root server, an upper without xattrs);
// mode and times are not.
func (o *FS) copyMetadata(ctx context.Context, n *node, tmp string, cur *sdk.Attr) error {
	a := n.attr
	chowned := false
	if cur == nil || cur.Uid != a.Uid || cur.Gid != a.Gid {
		if err := o.work.Chown(ctx, tmp, int(a.Uid), int(a.Gid)); err != nil && !bestEffort(err) {
			return err
		}
		chowned = true
	}
	if a.Type() != sdk.TypeSymlink && (chowned || cur.Mode&sdk.PermMask != a.Mode&sdk.PermMask) {
		if err := o.work.Chmod(ctx, tmp, a.Mode&sdk.PermMask); err != nil {
			return err
		}
	}
	if err := o.copyXattrs(ctx, n, tmp); err != nil {
		return err
	}
	return o.work.SetTimes(ctx, tmp, a.Atime, a.Mtime)
}

func (o *FS) copyXattrs(ctx context.Context, n *node, tmp string) error {
	src, ok := o.layers[n.top].(sdk.Xattrer)
	if !ok {
		return nil
	}
	names, err := src.ListXattr(ctx, n.name)
	if err != nil {
		if bestEffort(err) {
			return nil
		}
		return err
	}
	for _, attr := range names {
		if isPrivateXattr(attr) {
			continue
		}
		v, err := src.GetXattr(ctx, n.name, attr)
		if err != nil {
			if bestEffort(err) || notExist(err) || errors.Is(err, sdk.ErrNoAttr) {
				continue
			}
			return err
		}
		if o.workX == nil {
			return nil
		}
		if err := o.workX.SetXattr(ctx, tmp, attr, v, 0); err != nil && !bestEffort(err) {
			return err
		}
	}
	return nil
}

// bestEffort reports errors that mean "the upper cannot record this", as
// opposed to a failure of the copy.
func bestEffort(err error) bool {
	switch sdk.Errno(err) {
	case syscall.EPERM, syscall.EOPNOTSUPP, syscall.ENOSYS, syscall.EACCES:
		return true
	}
	return false
}

// _completeMetacopy turns the stub n into a full upper file: its data is
// written in place (keeping the inode, so hard links of the stub follow),
// made durable, and only then is the marker removed. nsMu must be held.
func (o *FS) _completeMetacopy(ctx context.Context, n *node, how copyHow) error {
	// The marker came from the cache; read it again before writing over
	// the file, so that no cached state can ever make the overlay replace
	// data it holds in the upper with data from below.
	origin, kernel, err := o.readMark(ctx, n.name)
	switch {
	case err != nil:
		return copyUpFailed(n.name, err)
	case origin == "":
		o.cache.forgetMark(n.attr.Ino)
		return nil // it holds its own data already
	}
	n.origin = origin
	if how == copyNoData {
		if err := o.upper.Truncate(ctx, n.name, 0); err != nil {
			return copyUpFailed(n.name, err)
		}
		return o.clearMetacopy(ctx, n, kernel)
	}
	layer, src, err := o.dataSource(ctx, n)
	if err != nil {
		return err
	}
	dst, err := o.upper.Open(ctx, n.name, oWronly, 0)
	if err != nil {
		return copyUpFailed(n.name, err)
	}
	err = o.copyData(ctx, layer, src, dst, n.attr.Size)
	if err == nil && !o.volatile {
		err = dst.Sync(ctx, false)
	}
	if err != nil {
		// Give the space back; the stub stays a stub.
		_ = dst.Truncate(ctx, 0)
		_ = dst.Truncate(ctx, n.attr.Size)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return copyUpFailed(n.name, err)
	}
	return o.clearMetacopy(ctx, n, kernel)
}

// clearMetacopy drops the marker of the stub n, whose data is now in
// place; kernel is the marker's format.
func (o *FS) clearMetacopy(ctx context.Context, n *node, kernel bool) error {
	// Writing the data moved mtime; the file's times are the stub's.
	if err := o.upper.SetTimes(ctx, n.name, n.attr.Atime, n.attr.Mtime); err != nil {
		return copyUpFailed(n.name, err)
	}
	attr := xattrMetacopy
	if kernel {
		attr = xattrTrustedMetacopy
	}
	if err := o.upperX.RemoveXattr(ctx, n.name, attr); err != nil {
		return copyUpFailed(n.name, err)
	}
	if kernel {
		// Without the metacopy marker the kernel ignores a redirect on a
		// regular file, and so does readMark: dropping it is tidiness,
		// and a failure changes nothing.
		_ = o.upperX.RemoveXattr(ctx, n.name, xattrTrustedRedirect)
	}
	o.cache.forgetMark(n.attr.Ino)
	return nil
}
