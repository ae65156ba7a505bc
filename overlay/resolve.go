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
	// top is the index in FS.layers of the highest layer holding the name.
	top int
	// dirs lists, for a directory, the layers whose directories of this
	// name merge, top first, cut after the first opaque one.
	dirs []int
	// below lists the layers under top that the parent directory merges;
	// they decide whether removing the name needs a whiteout.
	below []int
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
// off for everything beneath it.
func (o *FS) resolve(ctx context.Context, name string) (*node, error) {
	if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
		return nil, pathErr("lookup", name, fs.ErrInvalid)
	}
	n, err := o.root(ctx)
	if err != nil || name == "." {
		return n, err
	}
	if o.upper != nil && (name == o.workDir || strings.HasPrefix(name, o.workDir+"/")) {
		return nil, pathErr("lookup", name, syscall.ENOENT)
	}
	cur := "."
	for _, elem := range strings.Split(name, "/") {
		if !n.isDir() {
			return nil, pathErr("lookup", name, syscall.ENOTDIR)
		}
		if kind, _ := ParseWhiteoutName(elem); kind != NotMarker {
			return nil, pathErr("lookup", name, syscall.ENOENT)
		}
		cur = joinName(cur, elem)
		if n, err = o.lookupChild(ctx, n, cur); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (o *FS) root(ctx context.Context) (*node, error) {
	a, err := o.layers[0].Stat(ctx, ".")
	if err != nil {
		return nil, pathErr("stat", ".", err)
	}
	dirs := make([]int, len(o.layers))
	for i := range dirs {
		dirs[i] = i
	}
	return &node{name: ".", attr: a, top: 0, dirs: dirs}, nil
}

// lookupChild resolves the child p of the merged directory parent.
func (o *FS) lookupChild(ctx context.Context, parent *node, p string) (*node, error) {
	var child *node
	for k, li := range parent.dirs {
		more := k < len(parent.dirs)-1
		a, err := o.layers[li].Stat(ctx, p)
		if err != nil {
			if !notExist(err) && !errors.Is(err, syscall.ENOTDIR) {
				return nil, pathErr("lookup", p, err)
			}
			if more && o.hasOCIWhiteout(ctx, li, p) {
				break
			}
			continue
		}
		if isKernelWhiteout(&a) {
			break
		}
		if child == nil {
			child = &node{name: p, attr: a, top: li, below: parent.dirs[k+1:]}
			if !a.IsDir() {
				if a.IsRegular() && o.inUpper(child) && o.metacopy {
					child.origin = o.metacopyOrigin(ctx, p)
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

func (o *FS) metacopyOrigin(ctx context.Context, p string) string {
	v, err := o.upperX.GetXattr(ctx, p, xattrMetacopy)
	if err != nil || len(v) == 0 {
		return ""
	}
	return string(v)
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
	return a
}
