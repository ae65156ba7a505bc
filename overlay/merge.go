package overlay

import "github.com/fusekit/fusekit/sdk"

// listing is one layer's contribution to a merged directory, in priority
// order (top first).
type listing struct {
	layer   int
	entries []sdk.DirEntry
}

// mergedEntry is one visible name and the layer it comes from.
type mergedEntry struct {
	sdk.DirEntry
	layer int
}

// mergeListings computes the merged view of one directory from the
// listings of the layers whose directories merge there (already cut at the
// first opaque one). A name is decided by the highest layer that mentions
// it: an ordinary entry is shown, a whiteout hides it. Marker names are never
// shown. isWhiteout says whether a character-device entry is a kernel
// whiteout (it needs the device number, which a listing may lack); hide
// removes names that belong to the overlay itself, such as its work
// directory. The result keeps each layer's order, upper names first.
func mergeListings(ls []listing, isWhiteout func(layer int, e sdk.DirEntry) bool, hide func(layer int, name string) bool) []mergedEntry {
	var out []mergedEntry
	decided := make(map[string]bool)
	for _, l := range ls {
		// An OCI whiteout hides the name in the layers below, not an entry
		// of the same name beside it, so its effect starts after this layer.
		var hidden []string
		for _, e := range l.entries {
			kind, target := ParseWhiteoutName(e.Name)
			if kind == WhiteoutMarker {
				hidden = append(hidden, target)
				continue
			}
			if kind != NotMarker || e.Name == "" || e.Name == "." || e.Name == ".." {
				continue
			}
			if decided[e.Name] || (hide != nil && hide(l.layer, e.Name)) {
				continue
			}
			decided[e.Name] = true
			if e.Type == sdk.TypeChar && isWhiteout(l.layer, e) {
				continue
			}
			out = append(out, mergedEntry{DirEntry: e, layer: l.layer})
		}
		for _, h := range hidden {
			decided[h] = true
		}
	}
	return out
}
