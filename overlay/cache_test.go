package overlay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapshot returns the current generation, as a resolution starting now
// would get it from walk.
func (c *dirCache) snapshot() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func elems(name string) []string { return strings.Split(name, "/") }

// cached returns the info the cache holds for name, or nil.
func cached(c *dirCache, name string) *dirInfo {
	_, info, depth := c.walk(elems(name))
	if info == nil || depth != len(elems(name)) {
		return nil
	}
	return info
}

func filledCache(t *testing.T, names ...string) *dirCache {
	t.Helper()
	c := newDirCache()
	gen := c.snapshot()
	c.storeRoot(gen, dirInfo{dirs: []int{0, 1}})
	for _, n := range names {
		c.store(gen, elems(n), dirInfo{top: 1, dirs: []int{1}})
	}
	for _, n := range names {
		require.NotNil(t, cached(c, n), "%s was stored", n)
	}
	return c
}

func TestDirCacheWalk(t *testing.T) {
	c := newDirCache()
	_, info, depth := c.walk(elems("a/b"))
	assert.Nil(t, info, "nothing cached, not even the root")
	assert.Zero(t, depth)

	c = filledCache(t, "a", "a/b")
	_, info, depth = c.walk(elems("a/b/c/d"))
	require.NotNil(t, info)
	assert.Equal(t, 2, depth, "the walk stops at the deepest cached directory")
	_, info, depth = c.walk(nil)
	require.NotNil(t, info)
	assert.Equal(t, []int{0, 1}, info.dirs, "the root")
	assert.Zero(t, depth)
}

func TestDirCacheStoreNeedsParent(t *testing.T) {
	c := filledCache(t, "a")
	c.store(c.snapshot(), elems("x/y"), dirInfo{})
	assert.Nil(t, cached(c, "x/y"), "a directory whose parent is not cached is not stored")
	assert.Equal(t, 1, c.ndirs)
}

// TestDirCacheStaleStoreRejected: a resolution that began before an
// invalidation may have read a half-changed state; it must not be stored.
func TestDirCacheStaleStoreRejected(t *testing.T) {
	c := filledCache(t, "a")
	gen := c.snapshot()
	c.invalidate("elsewhere") // any invalidation, even of another name
	c.store(gen, elems("a/b"), dirInfo{})
	assert.Nil(t, cached(c, "a/b"))
	c.store(c.snapshot(), elems("a/b"), dirInfo{})
	assert.NotNil(t, cached(c, "a/b"))

	gen = c.snapshot()
	c.invalidate("a/b")
	c.storeRoot(gen, dirInfo{})
	c.storeMark(gen, 7, "origin")
	_, ok := c.mark(7)
	assert.False(t, ok, "a marker read before an invalidation is not stored")
}

func TestDirCacheInvalidateSubtree(t *testing.T) {
	c := filledCache(t, "a", "a/b", "a/b/c", "a/bb", "ab")
	c.invalidate("a/b")
	assert.Nil(t, cached(c, "a/b"))
	assert.Nil(t, cached(c, "a/b/c"), "everything under the name goes too")
	assert.NotNil(t, cached(c, "a"))
	assert.NotNil(t, cached(c, "a/bb"), "a sibling sharing a prefix stays")
	assert.NotNil(t, cached(c, "ab"))
	assert.Equal(t, 3, c.ndirs)

	c.invalidate("not/cached") // harmless
	assert.Equal(t, 3, c.ndirs)

	c.invalidate(".")
	_, info, _ := c.walk(elems("a"))
	assert.Nil(t, info, "invalidating the root forgets everything")
	assert.Zero(t, c.ndirs)
}

func TestDirCacheBounded(t *testing.T) {
	c := filledCache(t)
	gen := c.snapshot()
	for i := range maxCachedDirs {
		c.store(gen, []string{string(rune('a'+i%26)) + strings.Repeat("x", i/26)}, dirInfo{})
	}
	require.Equal(t, maxCachedDirs, c.ndirs)
	c.store(gen, elems("one-more"), dirInfo{})
	assert.Zero(t, c.ndirs, "a full cache is emptied")
	assert.Nil(t, cached(c, "a"))
	_, info, _ := c.walk(nil)
	assert.NotNil(t, info, "the root stays")
}

func TestDirCacheNoteOCIWhiteout(t *testing.T) {
	c := newDirCache()
	gen := c.snapshot()
	c.storeRoot(gen, dirInfo{dirs: []int{0, 1}, upperClean: true})
	c.store(gen, elems("d"), dirInfo{dirs: []int{0, 1}, upperClean: true})
	c.noteOCIWhiteout("d")
	assert.False(t, cached(c, "d").upperClean)
	c.noteOCIWhiteout(".")
	_, root, _ := c.walk(nil)
	assert.False(t, root.upperClean)
	assert.NotEqual(t, gen, c.snapshot(), "it counts as an invalidation")
}

func TestDirCacheMarks(t *testing.T) {
	c := newDirCache()
	c.storeMark(c.snapshot(), 5, "lower/path")
	origin, ok := c.mark(5)
	assert.True(t, ok)
	assert.Equal(t, "lower/path", origin)

	gen := c.snapshot()
	c.setMark(6, "")
	origin, ok = c.mark(6)
	assert.True(t, ok)
	assert.Empty(t, origin, "a file that holds its own data")
	assert.NotEqual(t, gen, c.snapshot(), "setMark makes racing readers drop what they read")

	c.forgetMark(5)
	_, ok = c.mark(5)
	assert.False(t, ok)
}
