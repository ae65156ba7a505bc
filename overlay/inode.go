package overlay

import "sync"

// identity names one object in one layer. Layers that report inode numbers
// are keyed by them, so hard links share an identity and a rename inside a
// layer keeps it; layers that report none are keyed by path.
type identity struct {
	layer int
	ino   uint64
	path  string // only when ino == 0
}

func identityOf(layer int, ino uint64, path string) identity {
	if ino != 0 {
		return identity{layer: layer, ino: ino}
	}
	return identity{layer: layer, path: path}
}

// inodeTable hands out the overlay's inode numbers. An object keeps the
// number it was first given for the life of the mount, including across
// copy-up: the upper copy's identity is made an alias of the lower one.
type inodeTable struct {
	mu   sync.Mutex
	next uint64              // guarded by mu; the next number to hand out
	m    map[identity]uint64 // guarded by mu
}

// rootIno is the number of the merged root directory.
const rootIno = 1

func newInodeTable() *inodeTable {
	return &inodeTable{next: rootIno + 1, m: make(map[identity]uint64)}
}

// get returns the number for id, allocating one on first sight.
func (t *inodeTable) get(id identity) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ino, ok := t.m[id]; ok {
		return ino
	}
	ino := t.next
	t.next++
	t.m[id] = ino
	return ino
}

// alias makes to report the same number as from (allocating it if from was
// never seen), so a file copied up keeps the number stat already reported.
func (t *inodeTable) alias(from, to identity) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	ino, ok := t.m[from]
	if !ok {
		ino = t.next
		t.next++
		t.m[from] = ino
	}
	t.m[to] = ino
	return ino
}

// forget drops id, for an upper object that was deleted: its backend number
// may be reused by an unrelated file, which must not inherit an alias.
func (t *inodeTable) forget(id identity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}
