package exerciser

import (
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// nsNode is a node of the namespace oracle. Hard links share one *nsNode,
// so nlink is the number of directory entries pointing at it.
type nsNode struct {
	typ      EntryType
	nlink    int
	data     string             // file content or symlink target
	children map[string]*nsNode // directories only
}

// nsOracle models a directory tree with Linux rename/link/unlink semantics,
// including the order in which the kernel checks for errors, so it can
// predict the errno of every namespace op. It does not follow symlinks: it
// relies on every symlink dangling (see checkTarget), so a symlink in the
// middle of a path behaves like a missing name.
type nsOracle struct {
	root *nsNode
}

func newNSOracle() *nsOracle {
	return &nsOracle{root: &nsNode{typ: TypeDir, children: map[string]*nsNode{}}}
}

// parent resolves every component of name but the last and returns the
// directory that holds it, or the errno path resolution fails with.
func (o *nsOracle) parent(name string) (*nsNode, string, syscall.Errno) {
	dir := o.root
	comps := strings.Split(name, "/")
	for _, c := range comps[:len(comps)-1] {
		n := dir.children[c]
		switch {
		case n == nil || n.typ == TypeSymlink:
			return nil, "", syscall.ENOENT
		case n.typ != TypeDir:
			return nil, "", syscall.ENOTDIR
		}
		dir = n
	}
	return dir, comps[len(comps)-1], 0
}

// lookup returns the node at name, or nil with the errno of lstat(2).
func (o *nsOracle) lookup(name string) (*nsNode, syscall.Errno) {
	dir, base, e := o.parent(name)
	if e != 0 {
		return nil, e
	}
	if n := dir.children[base]; n != nil {
		return n, 0
	}
	return nil, syscall.ENOENT
}

// apply performs op on the model if it succeeds and returns its errno (0 on
// success). Equivalent errnos are normalised by sameErrno.
func (o *nsOracle) apply(op Op) syscall.Errno {
	switch op.Kind {
	case OpCreate, OpMkdir, OpSymlink:
		name := op.Path
		if op.Kind == OpSymlink {
			name = op.Path2
		}
		dir, base, e := o.parent(name)
		if e != 0 {
			return e
		}
		if dir.children[base] != nil {
			return syscall.EEXIST
		}
		var n *nsNode
		switch op.Kind {
		case OpCreate:
			n = &nsNode{typ: TypeRegular, nlink: 1, data: createContent(op.Data)}
		case OpMkdir:
			n = &nsNode{typ: TypeDir, children: map[string]*nsNode{}}
		default:
			n = &nsNode{typ: TypeSymlink, nlink: 1, data: op.Path}
		}
		dir.children[base] = n
		return 0
	case OpUnlink, OpRmdir:
		dir, base, e := o.parent(op.Path)
		if e != 0 {
			return e
		}
		n := dir.children[base]
		switch {
		case n == nil:
			return syscall.ENOENT
		case op.Kind == OpUnlink && n.typ == TypeDir:
			return syscall.EISDIR
		case op.Kind == OpRmdir && n.typ != TypeDir:
			return syscall.ENOTDIR
		case op.Kind == OpRmdir && len(n.children) > 0:
			return syscall.ENOTEMPTY
		}
		n.nlink--
		delete(dir.children, base)
		return 0
	case OpLink:
		// linkat(2) resolves the old name, then creates the new one, and
		// only then (vfs_link) refuses a directory.
		n, e := o.lookup(op.Path)
		if e != 0 {
			return e
		}
		dir, base, e := o.parent(op.Path2)
		if e != 0 {
			return e
		}
		if dir.children[base] != nil {
			return syscall.EEXIST
		}
		if n.typ == TypeDir {
			return syscall.EPERM
		}
		n.nlink++
		dir.children[base] = n
		return 0
	case OpRename:
		return o.rename(op.Path, op.Path2)
	case OpVerify:
		return 0
	}
	return syscall.EINVAL
}

// rename follows do_renameat2 and vfs_rename: resolve both parents, look up
// the source, then the lock_rename "trap" checks (a directory may not move
// below itself: EINVAL; the target may not be an ancestor of the source:
// ENOTEMPTY), then a no-op when both names are the same inode, then the
// type checks, then emptiness.
func (o *nsOracle) rename(oldname, newname string) syscall.Errno {
	odir, obase, e := o.parent(oldname)
	if e != 0 {
		return e
	}
	ndir, nbase, e := o.parent(newname)
	if e != 0 {
		return e
	}
	src := odir.children[obase]
	if src == nil {
		return syscall.ENOENT
	}
	if trap := renameTrap(parentPath(oldname), parentPath(newname)); trap != "" {
		if trap == oldname {
			return syscall.EINVAL
		}
		if trap == newname {
			return syscall.ENOTEMPTY
		}
	}
	dst := ndir.children[nbase]
	if dst == src {
		return 0
	}
	if dst != nil {
		switch {
		case src.typ == TypeDir && dst.typ != TypeDir:
			return syscall.ENOTDIR
		case src.typ != TypeDir && dst.typ == TypeDir:
			return syscall.EISDIR
		case dst.typ == TypeDir && len(dst.children) > 0:
			return syscall.ENOTEMPTY
		}
		dst.nlink--
	}
	delete(odir.children, obase)
	ndir.children[nbase] = src
	return 0
}

// renameTrap returns the dentry lock_rename would return for the parent
// directories p1 (source) and p2 (target): when one is a strict ancestor of
// the other, its child on the way to the other; else "".
func renameTrap(p1, p2 string) string {
	if p1 == p2 {
		return ""
	}
	if t := childToward(p2, p1); t != "" {
		return t
	}
	return childToward(p1, p2)
}

// childToward returns the child of ancestor that is on the path to (or is)
// descendant, or "" if ancestor is not a strict ancestor of descendant.
func childToward(ancestor, descendant string) string {
	if ancestor == "." {
		first, _, _ := strings.Cut(descendant, "/")
		if descendant == "." {
			return ""
		}
		return first
	}
	rest, ok := strings.CutPrefix(descendant, ancestor+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return ancestor + "/" + first
}

func parentPath(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

// paths returns every name in the tree, parents before children, sorted
// within a directory so that generation is deterministic.
func (o *nsOracle) paths() []string {
	var out []string
	var walk func(prefix string, d *nsNode)
	walk = func(prefix string, d *nsNode) {
		for _, name := range sortedKeys(d.children) {
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			out = append(out, p)
			if c := d.children[name]; c.typ == TypeDir {
				walk(p, c)
			}
		}
	}
	walk("", o.root)
	return out
}

func sortedKeys(m map[string]*nsNode) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// createContent is what create writes, so that a file read back names the
// create that made it even after renames.
func createContent(data uint64) string {
	return "created by data=" + strconv.FormatUint(data, 10) + "\n"
}
