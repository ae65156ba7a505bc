package overlay

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fusekit/fusekit/sdk"
)

func ent(name string, typ uint32) sdk.DirEntry { return sdk.DirEntry{Name: name, Type: typ} }

func TestMergeListings(t *testing.T) {
	const (
		reg = sdk.TypeRegular
		dir = sdk.TypeDir
		chr = sdk.TypeChar
	)
	ls := []listing{
		{layer: 0, entries: []sdk.DirEntry{
			ent("upper-only", reg), ent("shared-dir", dir), ent("gone", chr), ent(".wh.oci-gone", reg),
			ent("file-over-dir", reg), ent(".wh..wh..opq", reg), ent("work", dir), ent("tty", chr),
		}},
		{layer: 1, entries: []sdk.DirEntry{
			ent("shared-dir", dir), ent("gone", reg), ent("oci-gone", reg), ent("file-over-dir", dir),
			ent("mid", reg), ent(".wh.low-gone", reg), ent("low-gone", reg),
		}},
		{layer: 2, entries: []sdk.DirEntry{ent("mid", dir), ent("low-gone", reg), ent("bottom", reg)}},
	}
	isWhiteout := func(layer int, e sdk.DirEntry) bool { return e.Name == "gone" }
	hide := func(layer int, name string) bool { return layer == 0 && name == "work" }

	got := map[string]int{}
	var order []string
	for _, m := range mergeListings(ls, isWhiteout, hide) {
		_, dup := got[m.Name]
		assert.False(t, dup, "%s listed twice", m.Name)
		got[m.Name] = m.layer
		order = append(order, m.Name)
	}
	assert.Equal(t, map[string]int{
		"upper-only":    0,
		"shared-dir":    0,
		"file-over-dir": 0,
		"tty":           0, // a real device is not a whiteout
		"mid":           1,
		"low-gone":      1, // the OCI whiteout beside it hides only the layers below
		"bottom":        2,
	}, got)
	assert.Equal(t, []string{"upper-only", "shared-dir", "file-over-dir", "tty", "mid", "low-gone", "bottom"}, order)
}

func TestMergeListingsEmpty(t *testing.T) {
	assert.Empty(t, mergeListings(nil, nil, nil))
	assert.Empty(t, mergeListings([]listing{{entries: []sdk.DirEntry{ent(".wh.x", sdk.TypeRegular)}}}, nil, nil))
}

func TestInodeTable(t *testing.T) {
	tab := newInodeTable()
	lower := identityOf(1, 42, "a")
	a := tab.get(lower)
	assert.Equal(t, a, tab.get(identityOf(1, 42, "hardlink")), "inode-keyed: hard links share a number")
	assert.NotEqual(t, a, tab.get(identityOf(2, 42, "a")), "another layer, another object")
	assert.NotEqual(t, uint64(rootIno), a)

	upper := identityOf(0, 7, "a")
	assert.Equal(t, a, tab.alias(lower, upper), "copy-up keeps the number")
	assert.Equal(t, a, tab.get(upper))
	tab.forget(upper)
	assert.NotEqual(t, a, tab.get(upper), "a reused backend number does not inherit the alias")

	p1, p2 := tab.get(identityOf(1, 0, "x")), tab.get(identityOf(1, 0, "y"))
	assert.NotEqual(t, p1, p2, "path-keyed when the layer reports no numbers")
}
