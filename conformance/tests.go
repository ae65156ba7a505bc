package conformance

import "strings"

// Tests returns the suite, grouped and in the order Run runs it. The list
// is built afresh on each call, so callers may modify it.
func Tests() []Test {
	var all []Test
	for _, g := range platformGroups() {
		for _, tc := range g {
			tc.Group, _, _ = strings.Cut(tc.Name, "/")
			all = append(all, tc)
		}
	}
	return all
}
