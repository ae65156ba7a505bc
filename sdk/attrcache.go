//go:build !linux || cgo

package sdk

import (
	"sync"
	"time"
)

// attrCache remembers what Stat answered, including "does not exist", so that
// the Getattr storm of the libfuse3 build (one per read(2), several per
// `ls -l` entry) and repeated lookups of missing names do not reach the
// filesystem each time. Every change made through the mount invalidates the
// names it touches before it returns, so the TTL only bounds how late a
// change made behind the mount is seen.
type attrCache struct {
	ttl   time.Duration // 0 disables the cache
	epoch time.Time     // monotonic origin for expiry times

	mu      sync.Mutex
	entries map[string]attrEntry // guarded by mu
	caps    map[string]capEntry  // guarded by mu
}

// capEntry caches the security.capability xattr of a name. The kernel asks
// for it before every write(2); writes do not change xattrs, so this cache
// survives them and is dropped only by xattr and namespace changes.
type capEntry struct {
	value   []byte
	err     error
	expires time.Duration
}

type attrEntry struct {
	attr    Attr
	err     error // non-nil for a cached negative answer (ENOENT only)
	expires time.Duration
}

// maxAttrEntries bounds memory: past it, expired entries are swept and, if
// that is not enough, the cache starts over.
const maxAttrEntries = 1 << 16

func newAttrCache(ttl time.Duration) *attrCache {
	return &attrCache{ttl: ttl, epoch: time.Now(), entries: make(map[string]attrEntry), caps: make(map[string]capEntry)}
}

func (c *attrCache) now() time.Duration { return time.Since(c.epoch) }

func (c *attrCache) get(name string) (Attr, error, bool) {
	if c.ttl == 0 {
		return Attr{}, nil, false
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if !ok || now >= e.expires {
		return Attr{}, nil, false
	}
	return e.attr, e.err, true
}

func (c *attrCache) put(name string, a Attr, err error) {
	if c.ttl == 0 {
		return
	}
	e := attrEntry{attr: a, err: err, expires: c.now() + c.ttl}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxAttrEntries {
		now := c.now()
		for k, v := range c.entries {
			if now >= v.expires {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxAttrEntries {
			c.entries = make(map[string]attrEntry)
		}
	}
	c.entries[name] = e
}

// invalidate forgets everything cached about name (attributes and
// capability xattr) and its parent directory's attributes, which change
// with it. A name with hard links takes its other names along.
func (c *attrCache) invalidate(name string) {
	if c.ttl == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.caps, name)
	c.dropLocked(name)
	delete(c.entries, parentOf(name))
}

// invalidateData forgets the attributes of name after its data changed
// (write, truncate); its xattrs stay cached.
func (c *attrCache) invalidateData(name string) {
	if c.ttl == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(name)
}

// dropLocked deletes name's entry and, when the entry says the file has
// other hard links, the entries of every name with the same inode: they all
// show the same size and times. Caller holds mu.
func (c *attrCache) dropLocked(name string) {
	e, ok := c.entries[name]
	if !ok {
		return
	}
	delete(c.entries, name)
	if e.err == nil && e.attr.Nlink > 1 && !e.attr.IsDir() && e.attr.Ino != 0 {
		for k, v := range c.entries {
			if v.err == nil && v.attr.Ino == e.attr.Ino {
				delete(c.entries, k)
			}
		}
	}
}

func (c *attrCache) getCap(name string) ([]byte, error, bool) {
	if c.ttl == 0 {
		return nil, nil, false
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.caps[name]
	c.mu.Unlock()
	if !ok || now >= e.expires {
		return nil, nil, false
	}
	return e.value, e.err, true
}

func (c *attrCache) putCap(name string, value []byte, err error) {
	if c.ttl == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.caps) >= maxAttrEntries {
		c.caps = make(map[string]capEntry)
	}
	c.caps[name] = capEntry{value: value, err: err, expires: c.now() + c.ttl}
}

// invalidateTree forgets name, its parent and everything below name; used
// for directory renames and exchanges.
func (c *attrCache) invalidateTree(name string) {
	if c.ttl == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, parentOf(name))
	for k := range c.entries {
		if _, ok := under(k, name); ok {
			delete(c.entries, k)
		}
	}
	for k := range c.caps {
		if _, ok := under(k, name); ok {
			delete(c.caps, k)
		}
	}
}

func parentOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[:i]
		}
	}
	return "."
}

// inodeTable synthesises inode numbers for filesystems that have none
// (Attr.Ino == 0), stable for the life of the mount and carried along by
// renames.
type inodeTable struct {
	mu   sync.Mutex
	next uint64            // guarded by mu
	inos map[string]uint64 // guarded by mu
}

func newInodeTable() *inodeTable {
	// Root is 1, as in every FUSE filesystem; the rest start high so that a
	// mix with real inode numbers is unlikely to collide.
	return &inodeTable{next: 1 << 32, inos: map[string]uint64{".": 1}}
}

func (t *inodeTable) get(name string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ino, ok := t.inos[name]; ok {
		return ino
	}
	t.next++
	t.inos[name] = t.next
	return t.next
}

func (t *inodeTable) forget(name string) {
	t.mu.Lock()
	delete(t.inos, name)
	t.mu.Unlock()
}

// rename carries inode numbers along; tree is set when a directory moved and
// everything below it moves too.
func (t *inodeTable) rename(oldname, newname string, exchange, tree bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !tree {
		a, okA := t.inos[oldname]
		b, okB := t.inos[newname]
		delete(t.inos, oldname)
		delete(t.inos, newname)
		if okA {
			t.inos[newname] = a
		}
		if okB && exchange {
			t.inos[oldname] = b
		}
		return
	}
	type move struct {
		name string
		ino  uint64
	}
	var moves []move
	for name, ino := range t.inos {
		if rel, ok := under(name, oldname); ok {
			delete(t.inos, name)
			moves = append(moves, move{join(newname, rel), ino})
		} else if rel, ok := under(name, newname); ok {
			delete(t.inos, name)
			if exchange {
				moves = append(moves, move{join(oldname, rel), ino})
			}
		}
	}
	for _, m := range moves {
		t.inos[m.name] = m.ino
	}
}
