package overlay

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

// Open implements sdk.FileSystem. Reading a lower file opens it in its layer;
// any opening for writing (or with O_TRUNC) copies it up first, without its
// data when O_TRUNC is going to discard it.
func (o *FS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	write := flags&oAccmode != oRdonly || flags&oTrunc != 0
	if write {
		if err := o.writable("open", name); err != nil {
			return nil, err
		}
	}
	n, err := o.resolve(ctx, name)
	switch {
	case err != nil && notExist(err) && flags&oCreat != 0:
		if err := o.writable("open", name); err != nil {
			return nil, err
		}
		return o.create(ctx, name, flags, perm)
	case err != nil:
		return nil, err
	case flags&(oCreat|oExcl) == oCreat|oExcl:
		return nil, pathErr("open", name, fs.ErrExist)
	case n.isDir() && write:
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	flags &^= oCreat | oExcl
	if write {
		how := copyData
		if flags&oTrunc != 0 {
			how = copyNoData
		}
		if n, err = o.copyUp(ctx, name, how, n); err != nil {
			return nil, err
		}
	}
	layer, p := n.top, n.name
	if n.origin != "" {
		if layer, p, err = o.dataSource(ctx, n); err != nil {
			return nil, err
		}
	}
	f, err := o.layers[layer].Open(ctx, p, flags, 0)
	if err != nil {
		return nil, err
	}
	// A merged directory's handle would report its top layer's link
	// count; visibleAttr's is the merged one.
	return wrapFile(f, o.ino(n), n.origin == "" && len(n.dirs) <= 1), nil
}

// create makes a new regular file for Open with O_CREAT.
func (o *FS) create(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if err := o.checkCreatable(name); err != nil {
		return nil, err
	}
	if _, err := o.copyUp(ctx, parentName(name), copyMeta, nil); err != nil {
		return nil, err
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	if n, err := o.resolve(ctx, name); err == nil {
		// Created meanwhile by another caller: open it as O_CREAT would.
		if flags&oExcl != 0 {
			return nil, pathErr("open", name, fs.ErrExist)
		}
		if !o.inUpper(n) {
			return nil, pathErr("open", name, syscall.EAGAIN)
		}
		f, err := o.upper.Open(ctx, name, flags&^(oCreat|oExcl), 0)
		if err != nil {
			return nil, err
		}
		return wrapFile(f, o.ino(n), true), nil
	} else if !notExist(err) {
		return nil, err
	}
	var f sdk.File
	err := o._createAt(ctx, name, false, func(fsys sdk.FileSystem, p string, staged bool) error {
		var err error
		f, err = fsys.Open(ctx, p, flags|oCreat|oExcl, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	var a sdk.Attr
	if st, ok := f.(sdk.FileStater); ok {
		a, err = st.Stat(ctx)
	} else {
		var n *node
		if n, err = o.resolve(ctx, name); err == nil {
			a = n.attr
		}
	}
	if err != nil {
		f.Close() //nolint:errcheck // already failing
		return nil, err
	}
	if a.Ino != 0 && o.upperX != nil {
		o.cache.setMark(a.Ino, "") // new, so no stub
	}
	return wrapFile(f, o.ino(&node{name: name, attr: a}), true), nil
}

// _createAt creates a new object at name, which the merged view shows as
// absent and whose parent is already in the upper. make creates it at the
// path it is given in fsys (the upper, or the work filesystem), failing
// with ErrExist if something is there. A kernel whiteout in the way is
// replaced atomically (the object is made in the work directory and renamed
// over it); a directory that replaces a whiteout is made opaque, so the
// deleted lower directory stays deleted. nsMu must be held.
func (o *FS) _createAt(ctx context.Context, name string, isDir bool, make makeFunc) error {
	if isDir {
		defer o.cache.invalidate(name)
	}
	// Most names are free in the upper: try there first, and look for a
	// whiteout only when something is in the way.
	err := make(o.upper, name, false)
	if errors.Is(err, fs.ErrExist) {
		if a, serr := o.upper.Stat(ctx, name); serr == nil && isKernelWhiteout(&a) {
			return o._replaceKernelWhiteout(ctx, name, isDir, make)
		}
	}
	if err != nil {
		return err
	}
	// The object exists now, so a failure to resolve its parent must not
	// be reported as a failed create: then look for the whiteout anyway.
	parent, err := o.resolveDir(ctx, parentName(name))
	if err == nil && (len(parent.dirs) == 1 || parent.upperClean) {
		// No layer below the upper directory, so an OCI whiteout there
		// would hide nothing; or it is known to hold none.
		return nil
	}
	wh := joinName(parentName(name), OCIWhiteoutName(baseName(name)))
	if _, err := o.upper.Stat(ctx, wh); err != nil {
		return nil
	}
	if isDir {
		if err := o.markOpaque(ctx, name); err != nil {
			return err
		}
	}
	return o.upper.Unlink(ctx, wh)
}

// _replaceKernelWhiteout is _createAt where the upper holds a kernel
// whiteout at name. nsMu must be held.
func (o *FS) _replaceKernelWhiteout(ctx context.Context, name string, isDir bool, make makeFunc) error {
	tmp := o.tempName()
	if err := make(o.work, tmp, true); err != nil {
		return err
	}
	if !isDir {
		if err := o.moveIn(ctx, tmp, name, 0); err != nil {
			o.discard(ctx, tmp)
			return err
		}
		return nil
	}
	if err := o.markOpaqueIn(ctx, o.work, o.workX, tmp); err != nil {
		o.discard(ctx, tmp)
		return err
	}
	// A directory cannot be renamed over the whiteout; exchange them when
	// the upper can, else remove the whiteout first.
	if err := o.moveIn(ctx, tmp, name, sdk.RenameExchange); err == nil {
		return o.work.Unlink(ctx, tmp)
	}
	if err := o.upper.Unlink(ctx, name); err != nil {
		o.discard(ctx, tmp)
		return err
	}
	if err := o.moveIn(ctx, tmp, name, 0); err != nil {
		o.discard(ctx, tmp)
		return err
	}
	return nil
}

// markOpaque makes the upper directory dir hide lower directories.
func (o *FS) markOpaque(ctx context.Context, dir string) error {
	defer o.cache.invalidate(dir)
	return o.markOpaqueIn(ctx, o.upper, o.upperX, dir)
}

// markOpaqueIn marks the directory dir of fsys (the upper, or the work
// filesystem, whose Xattrer is x) opaque.
func (o *FS) markOpaqueIn(ctx context.Context, fsys sdk.FileSystem, x sdk.Xattrer, dir string) error {
	if o.format == WhiteoutKernel {
		return x.SetXattr(ctx, dir, xattrTrustedOpaque, []byte("y"), 0)
	}
	f, err := fsys.Open(ctx, joinName(dir, ociOpaqueName), oCreat|oWronly, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// _whiteout hides the lower object at name, replacing whatever the upper
// holds there (a non-directory, when upperHas, or nothing). nsMu must be
// held.
func (o *FS) _whiteout(ctx context.Context, name string, upperHas bool) error {
	if o.format == WhiteoutKernel {
		mk := o.upper.(sdk.Mknoder)
		if !upperHas {
			// Nothing to replace: make the whiteout in place.
			err := mk.Mknod(ctx, name, sdk.TypeChar, 0)
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		tmp := o.tempName()
		if err := o.work.(sdk.Mknoder).Mknod(ctx, tmp, sdk.TypeChar, 0); err != nil {
			return err
		}
		// Renaming the whiteout over the old object replaces it in one step.
		if err := o.moveIn(ctx, tmp, name, 0); err != nil {
			_ = o.work.Unlink(ctx, tmp)
			return err
		}
		return nil
	}
	if upperHas {
		if err := o.upper.Unlink(ctx, name); err != nil {
			return err
		}
	}
	f, err := o.upper.Open(ctx, joinName(parentName(name), OCIWhiteoutName(baseName(name))), oCreat|oWronly|oTrunc, 0o600)
	if err != nil {
		return err
	}
	o.cache.noteOCIWhiteout(parentName(name))
	return f.Close()
}

// Mkdir implements sdk.FileSystem.
func (o *FS) Mkdir(ctx context.Context, name string, perm uint32) error {
	return o.makeNode(ctx, "mkdir", name, true, func(fsys sdk.FileSystem, p string, staged bool) error {
		return fsys.Mkdir(ctx, p, perm)
	})
}

// Symlink implements sdk.Symlinker.
func (o *FS) Symlink(ctx context.Context, target, newname string) error {
	if _, ok := o.upper.(sdk.Symlinker); o.upper != nil && !ok {
		return pathErr("symlink", newname, sdk.ErrNotSupported)
	}
	return o.makeNode(ctx, "symlink", newname, false, func(fsys sdk.FileSystem, p string, staged bool) error {
		s, ok := fsys.(sdk.Symlinker)
		if !ok {
			return sdk.ErrNotSupported
		}
		return s.Symlink(ctx, target, p)
	})
}

// Mknod implements sdk.Mknoder. A character device 0/0 is refused with
// EPERM, as kernel overlayfs does: it is a whiteout, and would read back as a
// deletion.
func (o *FS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	if mode&sdk.TypeMask == sdk.TypeChar && dev == 0 {
		return pathErr("mknod", name, &ReservedNameError{Name: name, Reason: "a character device 0/0 is a whiteout in this overlay", Err: syscall.EPERM})
	}
	if _, ok := o.upper.(sdk.Mknoder); o.upper != nil && !ok {
		return pathErr("mknod", name, sdk.ErrNotSupported)
	}
	return o.makeNode(ctx, "mknod", name, false, func(fsys sdk.FileSystem, p string, staged bool) error {
		mk, ok := fsys.(sdk.Mknoder)
		if !ok {
			return sdk.ErrNotSupported
		}
		return mk.Mknod(ctx, p, mode, dev)
	})
}

// Link implements sdk.Linker. A lower file is copied up once (metadata only
// with metacopy) and linked in the upper, so both names share one inode.
func (o *FS) Link(ctx context.Context, oldname, newname string) error {
	l, ok := o.upper.(sdk.Linker)
	if o.upper != nil && !ok {
		return pathErr("link", newname, sdk.ErrNotSupported)
	}
	if err := o.writable("link", newname); err != nil {
		return err
	}
	n, err := o.resolve(ctx, oldname)
	if err != nil {
		return err
	}
	if n.isDir() {
		return pathErr("link", oldname, syscall.EPERM)
	}
	if _, err := o.copyUp(ctx, oldname, copyMeta, nil); err != nil {
		return err
	}
	return o.makeNode(ctx, "link", newname, false, func(fsys sdk.FileSystem, p string, staged bool) error {
		if staged {
			return o.linkOut(ctx, oldname, p)
		}
		return l.Link(ctx, oldname, p)
	})
}

// makeFunc creates an object at p in fsys: the upper, or the work
// filesystem when staged.
type makeFunc func(fsys sdk.FileSystem, p string, staged bool) error

// makeNode creates name through make, after the checks every creation shares.
func (o *FS) makeNode(ctx context.Context, op, name string, isDir bool, make makeFunc) error {
	if err := o.writable(op, name); err != nil {
		return err
	}
	if err := o.checkCreatable(name); err != nil {
		return pathErr(op, name, err)
	}
	if name == "." {
		return pathErr(op, name, fs.ErrExist)
	}
	if _, err := o.copyUp(ctx, parentName(name), copyMeta, nil); err != nil {
		return err
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	if _, err := o.resolve(ctx, name); err == nil {
		return pathErr(op, name, fs.ErrExist)
	} else if !notExist(err) {
		return err
	}
	// The parent may have been removed between the copy-up and the lock.
	if _, err := o._copyUpResolved(ctx, parentName(name), copyMeta); err != nil {
		return err
	}
	return o._createAt(ctx, name, isDir, make)
}

// Unlink implements sdk.FileSystem.
func (o *FS) Unlink(ctx context.Context, name string) error {
	if err := o.writable("unlink", name); err != nil {
		return err
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	n, err := o.resolve(ctx, name)
	if err != nil {
		return err
	}
	if n.isDir() {
		return pathErr("unlink", name, syscall.EISDIR)
	}
	return o._remove(ctx, n)
}

// _remove deletes the non-directory or empty directory n from the merged
// view. nsMu must be held.
func (o *FS) _remove(ctx context.Context, n *node) error {
	if _, err := o._copyUpResolved(ctx, parentName(n.name), copyMeta); err != nil {
		return err
	}
	if n.isDir() {
		defer o.cache.invalidate(n.name)
	}
	if !o.inUpper(n) {
		return o._whiteout(ctx, n.name, false)
	}
	positive := o.lowerPositive(ctx, n)
	if n.attr.Nlink <= 1 || n.isDir() {
		o.inodes.forget(identityOf(0, n.attr.Ino, n.name))
	}
	if n.attr.IsRegular() {
		o.cache.forgetMark(n.attr.Ino)
	}
	if n.isDir() {
		// The merged view is empty, so the upper directory holds only
		// markers; clear them so it can be removed.
		if err := removeAll(ctx, o.upper, n.name, false); err != nil {
			return err
		}
		if err := o.upper.Rmdir(ctx, n.name); err != nil {
			return err
		}
		if positive {
			return o._whiteout(ctx, n.name, false)
		}
		return nil
	}
	if positive {
		return o._whiteout(ctx, n.name, true)
	}
	return o.upper.Unlink(ctx, n.name)
}

// Rmdir implements sdk.FileSystem: the merged directory must be empty.
func (o *FS) Rmdir(ctx context.Context, name string) error {
	if err := o.writable("rmdir", name); err != nil {
		return err
	}
	if name == "." {
		return pathErr("rmdir", name, syscall.EBUSY)
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	n, err := o.resolve(ctx, name)
	if err != nil {
		return err
	}
	if !n.isDir() {
		return pathErr("rmdir", name, syscall.ENOTDIR)
	}
	if err := o.checkEmpty(ctx, n, "rmdir"); err != nil {
		return err
	}
	return o._remove(ctx, n)
}

func (o *FS) checkEmpty(ctx context.Context, n *node, op string) error {
	ents, err := o.readMerged(ctx, n)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return pathErr(op, n.name, sdk.ErrNotEmpty)
	}
	return nil
}

// Rename implements sdk.FileSystem. Objects in the upper rename natively;
// a lower file is copied up first (metadata only with metacopy); a directory
// with lower content is copied up as a whole tree, made opaque, and renamed,
// instead of failing with EXDEV as kernel overlayfs does by default. A
// whiteout is left at the old name when something below still shows there.
// RenameExchange swaps the two objects in the upper (see exchange).
func (o *FS) Rename(ctx context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	if err := o.writable("rename", newname); err != nil {
		return err
	}
	if flags&^(sdk.RenameNoReplace|sdk.RenameExchange) != 0 || flags == sdk.RenameNoReplace|sdk.RenameExchange {
		return pathErr("rename", oldname, syscall.EINVAL)
	}
	if flags&sdk.RenameExchange != 0 {
		return o.exchange(ctx, oldname, newname)
	}
	if err := o.checkCreatable(newname); err != nil {
		return pathErr("rename", newname, err)
	}
	if oldname == "." || newname == "." {
		return pathErr("rename", oldname, syscall.EBUSY)
	}
	if oldname == newname {
		_, err := o.resolve(ctx, oldname)
		return err
	}
	if isWithin(newname, oldname) {
		return pathErr("rename", newname, syscall.EINVAL)
	}
	// Bring the source up before taking nsMu for the namespace change: a
	// file's copy is cheap (metacopy) or done outside the lock.
	src, err := o.resolve(ctx, oldname)
	if err != nil {
		return err
	}
	if !src.isDir() {
		if _, err := o.copyUp(ctx, oldname, copyMeta, nil); err != nil {
			return err
		}
	}
	if _, err := o.copyUp(ctx, parentName(newname), copyMeta, nil); err != nil {
		return err
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	if src, err = o.resolve(ctx, oldname); err != nil {
		return err
	}
	if src.isDir() {
		// Both names change how they merge (and everything under them).
		defer o.cache.invalidate(newname)
		defer o.cache.invalidate(oldname)
	}
	dst, err := o.resolve(ctx, newname)
	switch {
	case err == nil && flags&sdk.RenameNoReplace != 0:
		return pathErr("rename", newname, fs.ErrExist)
	case err == nil && src.isDir() && !dst.isDir():
		return pathErr("rename", newname, syscall.ENOTDIR)
	case err == nil && !src.isDir() && dst.isDir():
		return pathErr("rename", newname, syscall.EISDIR)
	case err == nil && dst.isDir():
		if err := o.checkEmpty(ctx, dst, "rename"); err != nil {
			return err
		}
	case err != nil && !notExist(err):
		return err
	}
	if err == nil && o.inUpper(dst) && o.inUpper(src) && dst.attr.Ino == src.attr.Ino && !src.isDir() {
		// Two names of one upper inode: rename(2) does nothing.
		return nil
	}
	srcPositive := o.lowerPositive(ctx, src) || !o.inUpper(src)
	if src.isDir() {
		if src.dirs[len(src.dirs)-1] != 0 || !o.inUpper(src) {
			if err := o._copyUpTree(ctx, src); err != nil {
				return err
			}
		}
	} else if _, err := o._copyUpResolved(ctx, oldname, copyMeta); err != nil {
		return err
	}
	if _, err := o._copyUpResolved(ctx, parentName(newname), copyMeta); err != nil {
		return err
	}
	if err := o._renameUpper(ctx, src, dst, newname); err != nil {
		return err
	}
	if srcPositive {
		return o._whiteout(ctx, oldname, false)
	}
	return nil
}

// exchange swaps oldname and newname (renameat2 RENAME_EXCHANGE), as kernel
// overlayfs does: both must exist; both are copied up (a directory with
// lower content as a whole tree, as for Rename), and swapped in the upper
// with one atomic exchange. Both names still exist afterwards, so no
// whiteout is needed; a directory that lands where a lower directory would
// merge with it is made opaque first.
func (o *FS) exchange(ctx context.Context, oldname, newname string) error {
	if oldname == "." || newname == "." {
		return pathErr("rename", oldname, syscall.EBUSY)
	}
	if isWithin(newname, oldname) || isWithin(oldname, newname) {
		if oldname == newname {
			_, err := o.resolve(ctx, oldname)
			return err
		}
		return pathErr("rename", newname, syscall.EINVAL)
	}
	if err := o.checkCreatable(newname); err != nil {
		return pathErr("rename", newname, err)
	}
	if err := o.checkCreatable(oldname); err != nil {
		return pathErr("rename", oldname, err)
	}
	// Files come up before nsMu is taken, as in Rename.
	for _, name := range []string{oldname, newname} {
		n, err := o.resolve(ctx, name)
		if err != nil {
			return err
		}
		if !n.isDir() {
			if _, err := o.copyUp(ctx, name, copyMeta, nil); err != nil {
				return err
			}
		} else if _, err := o.copyUp(ctx, parentName(name), copyMeta, nil); err != nil {
			return err
		}
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	var nodes [2]*node
	for i, name := range []string{oldname, newname} {
		n, err := o.resolve(ctx, name)
		if err != nil {
			return err
		}
		if n.isDir() {
			defer o.cache.invalidate(name)
			if n.dirs[len(n.dirs)-1] != 0 || !o.inUpper(n) {
				if err := o._copyUpTree(ctx, n); err != nil {
					return err
				}
			}
		} else if _, err := o._copyUpResolved(ctx, name, copyMeta); err != nil {
			return err
		}
		if n, err = o.resolve(ctx, name); err != nil {
			return err
		}
		nodes[i] = n
	}
	for i, n := range nodes {
		to := nodes[1-i].name
		if !n.isDir() || o.isOpaque(ctx, 0, n.name) {
			continue
		}
		if parent, err := o.resolveDir(ctx, parentName(to)); err == nil && len(parent.dirs) > 1 {
			if err := o.markOpaque(ctx, n.name); err != nil {
				return err
			}
		}
	}
	return o.upper.Rename(ctx, oldname, newname, sdk.RenameExchange)
}

// whiteoutAt reports which marker hides name in the upper, if any.
func (o *FS) whiteoutAt(ctx context.Context, name string) (kernel, oci bool) {
	if a, err := o.upper.Stat(ctx, name); err == nil && isKernelWhiteout(&a) {
		kernel = true
	}
	if _, err := o.upper.Stat(ctx, joinName(parentName(name), OCIWhiteoutName(baseName(name)))); err == nil {
		oci = true
	}
	return kernel, oci
}

// _renameUpper moves the upper object src to newname, where the merged view
// shows dst (nil if absent). nsMu must be held.
func (o *FS) _renameUpper(ctx context.Context, src, dst *node, newname string) error {
	if src.isDir() && !o.isOpaque(ctx, 0, src.name) {
		// As the kernel does: a directory moved into a merged directory is
		// made opaque, so it never starts merging with a lower directory of
		// its new name.
		if parent, err := o.resolveDir(ctx, parentName(newname)); err == nil && len(parent.dirs) > 1 {
			if err := o.markOpaque(ctx, src.name); err != nil {
				return err
			}
		}
	}
	if dst == nil {
		kernelWO, ociWO := o.whiteoutAt(ctx, newname)
		if src.isDir() && (kernelWO || ociWO) && !o.isOpaque(ctx, 0, src.name) {
			// Lower content at newname was deleted; keep it deleted.
			if err := o.markOpaque(ctx, src.name); err != nil {
				return err
			}
		}
		if kernelWO && src.isDir() {
			if err := o.upper.Unlink(ctx, newname); err != nil {
				return err
			}
		}
		if err := o.upper.Rename(ctx, src.name, newname, 0); err != nil {
			return err
		}
		if ociWO {
			return o.upper.Unlink(ctx, joinName(parentName(newname), OCIWhiteoutName(baseName(newname))))
		}
		return nil
	}
	if src.isDir() {
		if !o.inUpper(dst) || o.lowerPositive(ctx, dst) {
			if !o.isOpaque(ctx, 0, src.name) {
				if err := o.markOpaque(ctx, src.name); err != nil {
					return err
				}
			}
		}
		if o.inUpper(dst) {
			// Only markers are left in it; rename(2) wants it empty.
			if err := removeAll(ctx, o.upper, dst.name, false); err != nil {
				return err
			}
		}
	}
	if !o.inUpper(dst) {
		// The target is lower only: the rename makes the upper shadow it.
		return o.upper.Rename(ctx, src.name, newname, 0)
	}
	if dst.attr.Nlink <= 1 || dst.isDir() {
		o.inodes.forget(identityOf(0, dst.attr.Ino, dst.name))
	}
	if dst.attr.IsRegular() {
		o.cache.forgetMark(dst.attr.Ino)
	}
	return o.upper.Rename(ctx, src.name, newname, 0)
}

// _copyUpTree copies the merged directory n and everything under it into
// the upper (files as metacopy stubs when possible) and marks every copied
// directory opaque, so the tree no longer depends on lower paths and can be
// renamed. nsMu must be held.
func (o *FS) _copyUpTree(ctx context.Context, n *node) error {
	if _, err := o._copyUpResolved(ctx, n.name, copyMeta); err != nil {
		return err
	}
	ents, err := o.readMerged(ctx, n)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := joinName(n.name, e.Name)
		child, err := o.resolve(ctx, p)
		if err != nil {
			return err
		}
		if child.isDir() {
			err = o._copyUpTree(ctx, child)
		} else {
			_, err = o._copyUpResolved(ctx, p, copyMeta)
		}
		if err != nil {
			return err
		}
	}
	if o.isOpaque(ctx, 0, n.name) {
		return nil
	}
	return o.markOpaque(ctx, n.name)
}

// isWithin reports whether name is dir or below it.
func isWithin(name, dir string) bool {
	return name == dir || len(name) > len(dir) && name[len(dir)] == '/' && name[:len(dir)] == dir
}
