//go:build !linux || cgo

package sdk

import (
	"strings"
	"sync"
	"sync/atomic"
)

// node is the SDK's record of one open file, shared by every handle opened
// on the same path. It is keyed by the path the file had when it was opened
// and re-keyed by every rename through the mount, so handles keep working
// after renames and after libfuse's unlink-while-open renames to
// .fuse_hidden names.
type node struct {
	// appendMu serialises O_APPEND writes on this file: the offset is the
	// size read under the lock, and the write happens before it is released.
	appendMu sync.Mutex

	// name and refs are guarded by nodeTable.mu.
	name string
	refs int
}

// handle is one FUSE file handle (one open file description).
type handle struct {
	file   File
	node   *node
	flags  int
	append bool
	// killPriv is set while the first write by an unprivileged caller still
	// has to clear setuid/setgid bits, as the kernel does: when the file had
	// them at open, or when root opened it and nobody has looked yet.
	killPriv atomic.Bool
}

// nodeTable maps paths to open nodes.
type nodeTable struct {
	mu    sync.Mutex
	nodes map[string]*node // guarded by mu
}

func (t *nodeTable) acquire(name string) *node {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nodes == nil {
		t.nodes = make(map[string]*node)
	}
	n := t.nodes[name]
	if n == nil {
		n = &node{name: name}
		t.nodes[name] = n
	}
	n.refs++
	return n
}

func (t *nodeTable) release(n *node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n.refs--
	if n.refs == 0 && t.nodes[n.name] == n {
		delete(t.nodes, n.name)
	}
}

// isOpen reports whether some handle is open on name.
func (t *nodeTable) isOpen(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.nodes[name]
	return ok
}

// rename re-keys the node at oldname and, when tree is set (a directory
// moved), every node below it. With exchange the nodes at the two names swap
// places.
func (t *nodeTable) rename(oldname, newname string, exchange, tree bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.nodes) == 0 {
		return
	}
	if !tree {
		a, b := t.nodes[oldname], t.nodes[newname]
		delete(t.nodes, oldname)
		delete(t.nodes, newname)
		if a != nil {
			a.name = newname
			t.nodes[newname] = a
		}
		if b != nil && exchange {
			b.name = oldname
			t.nodes[oldname] = b
		}
		return
	}
	var moved, swapped []*node
	for name, n := range t.nodes {
		if rel, ok := under(name, oldname); ok {
			delete(t.nodes, name)
			n.name = join(newname, rel)
			moved = append(moved, n)
		} else if rel, ok := under(name, newname); ok {
			delete(t.nodes, name)
			if exchange {
				n.name = join(oldname, rel)
				swapped = append(swapped, n)
			}
			// Without exchange a node at newname was replaced: the file it
			// names is gone from the namespace but stays open under no name.
		}
	}
	for _, n := range append(moved, swapped...) {
		t.nodes[n.name] = n
	}
}

// under reports whether name is base or below it, and the rest of the path.
func under(name, base string) (string, bool) {
	if name == base {
		return "", true
	}
	if base == "." {
		return name, true
	}
	if strings.HasPrefix(name, base) && len(name) > len(base) && name[len(base)] == '/' {
		return name[len(base)+1:], true
	}
	return "", false
}

func join(dir, rel string) string {
	switch {
	case rel == "":
		return dir
	case dir == ".":
		return rel
	}
	return dir + "/" + rel
}

// handleTable hands out FUSE file handles. A handle number encodes a slot
// and that slot's generation, so a stale fh from the kernel (which should
// never happen) finds nothing instead of another file.
type handleTable struct {
	mu    sync.RWMutex
	slots []handleSlot // guarded by mu
	free  []uint32     // guarded by mu
	open  int          // guarded by mu
}

type handleSlot struct {
	h   *handle
	gen uint32
}

func (t *handleTable) add(h *handle) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.slots = append(t.slots, handleSlot{})
		i = uint32(len(t.slots) - 1)
	}
	s := &t.slots[i]
	s.gen++
	s.h = h
	t.open++
	return uint64(s.gen)<<32 | uint64(i)
}

func (t *handleTable) get(fh uint64) *handle {
	i, gen := uint32(fh), uint32(fh>>32)
	t.mu.RLock()
	defer t.mu.RUnlock()
	if int(i) >= len(t.slots) || t.slots[i].gen != gen {
		return nil
	}
	return t.slots[i].h
}

func (t *handleTable) remove(fh uint64) *handle {
	i, gen := uint32(fh), uint32(fh>>32)
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(i) >= len(t.slots) || t.slots[i].gen != gen || t.slots[i].h == nil {
		return nil
	}
	h := t.slots[i].h
	t.slots[i].h = nil
	t.free = append(t.free, i)
	t.open--
	return h
}

func (t *handleTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.open
}
