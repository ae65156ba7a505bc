package overlay

import (
	"strings"
	"sync"
)

// The resolution cache
//
// Resolving a name walks it one element at a time across the layers, and
// deciding how one directory merges costs a Stat per layer plus, per layer
// that is not the last, two getxattr calls and a Stat for the opaque
// markers. Without a cache every operation paid that for every ancestor of
// its name, which made a name five levels deep cost some thirty backend
// calls before the operation itself started.
//
// dirCache remembers, per merged directory the overlay has resolved, how it
// merges (dirInfo): which layers hold it, which of them merge, where that is
// cut by an opaque directory, and what the parent merges below it. It keeps
// no attributes (they change with every write) and no negative entries (a
// name it has not resolved is resolved afresh, in every layer the parent
// merges). It also remembers the metacopy marker of upper regular files,
// keyed by upper inode number, so that a stat of an upper file costs one
// Stat and no getxattr; every name of an inode shares the entry, so a stub
// filled through one name is full through all of them.
//
// What is cached changes only through the overlay's own namespace
// operations, and each of them invalidates what it touched (the directory
// and everything under it) once it is done. A resolution that overlaps an
// invalidation must not store what it read, since it may have read a state
// half changed: every invalidation bumps gen, and a resolution stores its
// results only if gen is still what it was when the resolution began.
//
// The cache is bounded (maxCachedDirs directories, maxCachedMarks markers);
// when full it is emptied and refills as names are resolved again.

// dirInfo is how one merged directory is put together.
type dirInfo struct {
	// top is the highest layer holding the directory.
	top int
	// dirs lists the layers whose directories merge here, top first, cut
	// after the first opaque one.
	dirs []int
	// below lists the layers under top that the parent merges; removing
	// the directory needs a whiteout when one of them still shows it.
	below []int
	// upperClean is true when dirs[0] is the upper and the upper directory
	// holds no OCI whiteout (".wh.NAME"), so that a name missing from the
	// upper directory needs no probe for one before the lower layers are
	// asked. False means "unknown or has some".
	upperClean bool
}

// dentry is one cached directory in the tree that mirrors the merged
// namespace. kids holds only cached subdirectories.
type dentry struct {
	info dirInfo
	kids map[string]*dentry
}

const (
	maxCachedDirs  = 1 << 16
	maxCachedMarks = 1 << 17
)

type dirCache struct {
	mu sync.RWMutex
	// gen counts invalidations; guarded by mu.
	gen uint64
	// root is the merged root directory, filled on first use; guarded by
	// mu, as is everything reachable from it.
	root *dentry
	// ndirs counts the cached directories below root; guarded by mu.
	ndirs int
	// marks maps an upper inode number to its metacopy marker ("" for a
	// file that holds its own data); guarded by mu.
	marks map[uint64]string
}

func newDirCache() *dirCache {
	return &dirCache{marks: make(map[uint64]string)}
}

// walk follows elems through the cached directories. It returns the
// generation, the info of the deepest cached directory on the path (nil
// when not even the root is cached) and how many elements it covers.
func (c *dirCache) walk(elems []string) (gen uint64, info *dirInfo, depth int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d := c.root
	if d == nil {
		return c.gen, nil, 0
	}
	for _, e := range elems {
		k := d.kids[e]
		if k == nil {
			break
		}
		d = k
		depth++
	}
	info = new(dirInfo)
	*info = d.info
	return c.gen, info, depth
}

// storeRoot caches the root's info if nothing was invalidated since gen.
func (c *dirCache) storeRoot(gen uint64, info dirInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.root != nil {
		return
	}
	c.root = &dentry{info: info}
}

// store caches the directory elems (its parent must be cached) if nothing
// was invalidated since gen.
func (c *dirCache) store(gen uint64, elems []string, info dirInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.root == nil {
		return
	}
	d := c.root
	for _, e := range elems[:len(elems)-1] {
		if d = d.kids[e]; d == nil {
			return
		}
	}
	last := elems[len(elems)-1]
	if d.kids[last] != nil {
		return
	}
	if c.ndirs >= maxCachedDirs {
		// Emptying everything is crude but keeps the bound without an
		// LRU list on every lookup; busy directories come back at once.
		c.root.kids = nil
		c.ndirs = 0
		c.gen++
		return
	}
	if d.kids == nil {
		d.kids = make(map[string]*dentry)
	}
	d.kids[last] = &dentry{info: info}
	c.ndirs++
}

// invalidate forgets the directory name and everything cached under it
// ("." forgets every directory). The caller has just changed how name
// merges, or what it is.
func (c *dirCache) invalidate(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if c.root == nil {
		return
	}
	if name == "." {
		c.root = nil
		c.ndirs = 0
		return
	}
	d := c.root
	elems := strings.Split(name, "/")
	for _, e := range elems[:len(elems)-1] {
		if d = d.kids[e]; d == nil {
			return
		}
	}
	last := elems[len(elems)-1]
	if k := d.kids[last]; k != nil {
		c.ndirs -= k.count()
		delete(d.kids, last)
	}
}

// count is the number of directories in the subtree rooted at d, d
// included.
func (d *dentry) count() int {
	n := 1
	for _, k := range d.kids {
		n += k.count()
	}
	return n
}

// noteOCIWhiteout records that the upper directory dir now holds a
// ".wh.NAME" marker, so lookups in it probe for such markers again.
func (c *dirCache) noteOCIWhiteout(dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	d := c.root
	if d == nil {
		return
	}
	if dir != "." {
		for _, e := range strings.Split(dir, "/") {
			if d = d.kids[e]; d == nil {
				return
			}
		}
	}
	d.info.upperClean = false
}

// mark returns the cached marker of the upper inode ino.
func (c *dirCache) mark(ino uint64) (origin string, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	origin, ok = c.marks[ino]
	return origin, ok
}

// storeMark caches the marker of ino if nothing was invalidated since gen.
func (c *dirCache) storeMark(gen uint64, ino uint64, origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c._putMark(ino, origin)
}

// setMark caches the marker of ino unconditionally: for the caller that
// holds nsMu and has just written the marker itself (or created the file
// without one), so nothing else can change it meanwhile.
func (c *dirCache) setMark(ino uint64, origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c._putMark(ino, origin)
}

func (c *dirCache) _putMark(ino uint64, origin string) {
	if len(c.marks) >= maxCachedMarks {
		c.marks = make(map[uint64]string)
	}
	c.marks[ino] = origin
}

// forgetMark drops the marker of ino: the overlay changed it, or removed a
// name of the inode, whose number may then be reused by a new file.
func (c *dirCache) forgetMark(ino uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.marks, ino)
}
