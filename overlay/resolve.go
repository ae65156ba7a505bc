package overlay

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

// node is the result of resolving one name across the layers.
type node struct {
	name string
	// attr is the raw attributes from the top layer (Ino is the backend's).
	attr sdk.Attr
	// dirInfo says which layers hold the name: top is the index in
	// FS.layers of the highest one, below the layers under it that the
	// parent merges; dirs and upperClean are set for directories only.
	dirInfo
	// origin is the lower path holding the data of a metacopy stub in the
	// upper, or "" when the top holds its own data.
	origin string
}

func (n *node) isDir() bool { return n.attr.IsDir() }

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT)
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func baseName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func parentName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

func joinName(dir, elem string) string {
	if dir == "." {
		return elem
	}
	return dir + "/" + elem
}

// inUpper reports whether the node's top layer is the writable upper.
func (o *FS) inUpper(n *node) bool { return o.upper != nil && n.top == 0 }

// resolve looks name up across the layers, one element at a time, so a
// directory that is opaque or a whiteout at any level cuts the lower layers
// off for everything beneath it. Directories already resolved come from the
// cache (cache.go); the last element is always asked of its layer, so the
// attributes are current.
func (o *FS) resolve(ctx context.Context, name string) (*node, error) {
	return o.lookup(ctx, name, true)
}

// resolveDir is resolve for callers that need to know how a directory
// merges but not its attributes: a cached directory then costs no backend
// call, and the node's attr holds only the type.
func (o *FS) resolveDir(ctx context.Context, name string) (*node, error) {
	return o.lookup(ctx, name, false)
}

func (o *FS) lookup(ctx context.Context, name string, wantAttr bool) (*node, error) {
	if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
		return nil, pathErr("lookup", name, fs.ErrInvalid)
	}
	var elems []string
	if name != "." {
		if o.hidden != "" && (name == o.hidden || strings.HasPrefix(name, o.hidden+"/")) {
			return nil, pathErr("lookup", name, syscall.ENOENT)
		}
		elems = strings.Split(name, "/")
	}
	for attempt := 0; ; attempt++ {
		gen, info, depth := o.cache.walk(elems)
		if info == nil {
			ri := o.rootInfo(ctx)
			o.cache.storeRoot(gen, ri)
			info = &ri
		}
		n := &node{name: ".", dirInfo: *info}
		n.attr.Mode = sdk.TypeDir
		if depth > 0 {
			n.name = strings.Join(elems[:depth], "/")
		}
		if depth == len(elems) {
			if !wantAttr {
				return n, nil
			}
			a, err := o.layers[n.top].Stat(ctx, n.name)
			if err == nil && a.IsDir() {
				n.attr = a
				return n, nil
			}
			if attempt == 0 && name != "." {
				// The layer no longer agrees with the cache: it was
				// changed behind the overlay's back. Resolve afresh
				// rather than report a directory that is gone.
				o.cache.invalidate(name)
				continue
			}
			if err == nil {
				err = syscall.ENOTDIR
			}
			return nil, pathErr("stat", name, err)
		}
		for i := depth; i < len(elems); i++ {
			if !n.isDir() {
				return nil, pathErr("lookup", name, syscall.ENOTDIR)
			}
			if kind, _ := ParseWhiteoutName(elems[i]); kind != NotMarker {
				return nil, pathErr("lookup", name, syscall.ENOENT)
			}
			child, err := o.lookupChild(ctx, n, joinName(n.name, elems[i]), gen)
			if err != nil {
				return nil, err
			}
			if child.isDir() {
				if o.upper != nil && child.top == 0 && len(child.dirs) > 1 {
					child.upperClean = o.upperDirClean(ctx, child.name)
				}
				o.cache.store(gen, elems[:i+1], child.dirInfo)
			}
			n = child
		}
		return n, nil
	}
}

// rootInfo is how the root merges: every layer, never cut.
func (o *FS) rootInfo(ctx context.Context) dirInfo {
	dirs := make([]int, len(o.layers))
	for i := range dirs {
		dirs[i] = i
	}
	info := dirInfo{top: 0, dirs: dirs}
	if o.upper != nil && len(dirs) > 1 {
		info.upperClean = o.upperDirClean(ctx, ".")
	}
	return info
}

// upperDirClean reports whether the upper directory dir holds no OCI
// whiteout, by listing it; any doubt (an error) counts as "has some".
func (o *FS) upperDirClean(ctx context.Context, dir string) bool {
	ents, err := o.upper.ReadDir(ctx, dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if kind, _ := ParseWhiteoutName(e.Name); kind == WhiteoutMarker {
			return false
		}
	}
	return true
}

// lookupChild resolves the child p of the merged directory parent. gen is
// the cache generation the resolution started at.
func (o *FS) lookupChild(ctx context.Context, parent *node, p string, gen uint64) (*node, error) {
	var child *node
	for k, li := range parent.dirs {
		more := k < len(parent.dirs)-1
		a, err := o.layers[li].Stat(ctx, p)
		if err != nil {
			if !notExist(err) && !errors.Is(err, syscall.ENOTDIR) {
				return nil, pathErr("lookup", p, err)
			}
			if more && !(li == 0 && parent.upperClean) && o.hasOCIWhiteout(ctx, li, p) {
				break
			}
			continue
		}
		if isKernelWhiteout(&a) {
			break
		}
		if child == nil {
			child = &node{name: p, attr: a, dirInfo: dirInfo{top: li, below: parent.dirs[k+1:]}}
			if !a.IsDir() {
				if a.IsRegular() && o.inUpper(child) && o.upperX != nil {
					child.origin = o.metacopyOrigin(ctx, p, &a, gen)
				}
				break
			}
			child.dirs = []int{li}
		} else {
			if !a.IsDir() {
				break
			}
			child.dirs = append(child.dirs, li)
		}
		if more && o.isOpaque(ctx, li, p) {
			break
		}
	}
	if child == nil {
		return nil, pathErr("lookup", p, syscall.ENOENT)
	}
	return child, nil
}

func (o *FS) hasOCIWhiteout(ctx context.Context, layer int, p string) bool {
	_, err := o.layers[layer].Stat(ctx, joinName(parentName(p), OCIWhiteoutName(baseName(p))))
	return err == nil
}

// isOpaque reads both opaque formats. Errors (no xattr support, EPERM on
// trusted.* for a non-root server) count as "not opaque".
func (o *FS) isOpaque(ctx context.Context, layer int, dir string) bool {
	if x, ok := o.layers[layer].(sdk.Xattrer); ok {
		for _, attr := range []string{xattrTrustedOpaque, xattrUserOpaque} {
			if v, err := x.GetXattr(ctx, dir, attr); err == nil && string(v) == "y" {
				return true
			}
		}
	}
	_, err := o.layers[layer].Stat(ctx, joinName(dir, ociOpaqueName))
	return err == nil
}

// metacopyOrigin reads the metacopy marker of the upper regular file p,
// whose attributes are a, from the cache when it holds the marker of this
// inode.
func (o *FS) metacopyOrigin(ctx context.Context, p string, a *sdk.Attr, gen uint64) string {
	if a.Ino != 0 {
		if origin, ok := o.cache.mark(a.Ino); ok {
			return origin
		}
	}
	origin, _, err := o.readMark(ctx, p)
	if en := sdk.Errno(err); en == syscall.EOPNOTSUPP || en == syscall.ENOSYS {
		// A file without xattrs cannot be a stub: remember that, so an
		// upper on a filesystem without them pays once per file.
		origin, err = "", nil
	}
	if a.Ino != 0 && err == nil {
		o.cache.storeMark(gen, a.Ino, origin)
	}
	return origin
}

// readMark reads the metacopy marker of the upper regular file p, in
// either format: the lower path of its data, or "" when p holds its own
// data. kernel tells the formats apart. Files without a marker, the common
// case, cost one listxattr.
func (o *FS) readMark(ctx context.Context, p string) (origin string, kernel bool, err error) {
	names, err := o.upperX.ListXattr(ctx, p)
	if err != nil {
		return "", false, err
	}
	var fusekit bool
	for _, n := range names {
		switch n {
		case xattrTrustedMetacopy:
			kernel = true
		case xattrMetacopy:
			fusekit = true
		}
	}
	switch {
	case kernel:
		v, err := o.upperX.GetXattr(ctx, p, xattrTrustedRedirect)
		switch {
		case errors.Is(err, sdk.ErrNoAttr):
			return p, true, nil
		case err != nil:
			return "", true, err
		}
		return redirectOrigin(p, string(v)), true, nil
	case fusekit:
		v, err := o.upperX.GetXattr(ctx, p, xattrMetacopy)
		if errors.Is(err, sdk.ErrNoAttr) {
			return "", false, nil // removed since the listing
		}
		return string(v), false, err
	}
	return "", false, nil
}

// redirectOrigin is the lower path that the kernel redirect v of the upper
// file p names: v itself when absolute, else v in p's directory. A value
// the kernel would reject names nothing (".", which is no regular file).
func redirectOrigin(p, v string) string {
	if strings.HasPrefix(v, "/") {
		c := path.Clean(v)
		if strings.Contains(v, "//") || c == "/" {
			return "."
		}
		return c[1:]
	}
	if v == "" || v == "." || v == ".." || strings.Contains(v, "/") {
		return "."
	}
	return joinName(parentName(p), v)
}

// lowerPositive reports whether some layer below n's top still shows
// something at n's name, so that removing n from the upper needs a whiteout.
func (o *FS) lowerPositive(ctx context.Context, n *node) bool {
	if len(n.dirs) > 1 {
		return true
	}
	for k, li := range n.below {
		a, err := o.layers[li].Stat(ctx, n.name)
		if err == nil {
			return !isKernelWhiteout(&a)
		}
		if k < len(n.below)-1 && o.hasOCIWhiteout(ctx, li, n.name) {
			return false
		}
	}
	return false
}

// dataSource returns the layer and path holding the data of n: n itself,
// or for a metacopy stub the first lower regular file at its origin.
func (o *FS) dataSource(ctx context.Context, n *node) (int, string, error) {
	if n.origin == "" {
		return n.top, n.name, nil
	}
	for li := 1; li < len(o.layers); li++ {
		if a, err := o.layers[li].Stat(ctx, n.origin); err == nil && a.IsRegular() {
			return li, n.origin, nil
		}
	}
	return 0, "", pathErr("open", n.name, &MetacopyError{Name: n.name, Origin: n.origin})
}

// MetacopyError reports a metacopy stub whose lower data has disappeared,
// for example because the lower layers changed between mounts.
type MetacopyError struct {
	Name, Origin string
}

func (e *MetacopyError) Error() string {
	return "overlay: data of " + e.Name + " should be at " + e.Origin + " in a lower layer, which has no such regular file"
}

// Errno reports EIO: the file exists but its data cannot be read.
func (e *MetacopyError) Errno() syscall.Errno { return syscall.EIO }

// ino returns the overlay inode number of n.
func (o *FS) ino(n *node) uint64 {
	if n.name == "." {
		return rootIno
	}
	return o.inodes.get(identityOf(n.top, n.attr.Ino, n.name))
}

// visibleAttr is what stat reports for n.
func (o *FS) visibleAttr(n *node) sdk.Attr {
	a := n.attr
	a.Ino = o.ino(n)
	if len(n.dirs) > 1 {
		// As kernel overlayfs reports a merged directory (ovl_getattr):
		// its subdirectory count would need a merged listing, and 1 is
		// what find(1) and other tools read as "unknown". A directory
		// from one layer keeps that layer's count.
		a.Nlink = 1
	}
	return a
}
