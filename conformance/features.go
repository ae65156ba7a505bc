package conformance

import (
	"fmt"
	"strings"
	"time"
)

// Features says what a target directory claims to support. Tests that need
// an unclaimed feature are skipped with a reason naming it; everything else
// runs. The zero value claims nothing beyond plain files and directories.
type Features struct {
	// HardLinks: link(2) works and both names share st_ino and st_nlink.
	HardLinks bool
	// Symlinks: symlink(2) and readlink(2) work.
	Symlinks bool
	// Xattrs: user.* extended attributes can be set, read, listed, removed.
	Xattrs bool
	// ODirect: open(2) accepts O_DIRECT and direct I/O is coherent with the
	// page cache.
	ODirect bool
	// Mmap: MAP_SHARED mappings are writable and msync writes them back.
	Mmap bool
	// RenameFlags: renameat2 honours RENAME_NOREPLACE and RENAME_EXCHANGE.
	RenameFlags bool
	// Permissions: mode bits are enforced for unprivileged users (checked by
	// running child processes as uid 65534, which needs root).
	Permissions bool
	// Ownership: chown(2) works and new files belong to their creator.
	Ownership bool
	// Sparse: writing far beyond the end (past 4 GiB) leaves an unallocated
	// hole that reads as zeros.
	Sparse bool

	// TimeGranularity is the resolution of stored timestamps; a time set
	// with utimensat may come back rounded or truncated to it. Zero means
	// nanoseconds.
	TimeGranularity time.Duration

	// Overlay, when not nil, says the target is an overlay and names its
	// layers, which the overlay tests inspect and seed directly.
	Overlay *OverlayLayers

	// FaultInjector, when not nil, lets the error-reporting tests make the
	// target's backend fail on purpose. Without it those tests are skipped.
	FaultInjector FaultInjector

	// Limitations are known deviations. A test they match still runs; its
	// failure is reported as an expected failure (XFail) with the reason,
	// and its success as XPass, which counts as a failure so that a fixed
	// limitation is noticed and removed.
	Limitations []Limitation
}

// OverlayLayers names the layer directories of an overlay target. They
// correspond to the directory given to Run: Upper/x and Lowers[i]/x are
// what the target shows as dir/x. Lowers are ordered top-most first.
type OverlayLayers struct {
	Upper  string
	Lowers []string
}

// Limitation declares that a test is known to fail on a target.
type Limitation struct {
	// Test is an exact test name ("time/utimensat-omit") or a group
	// pattern ending in "/*" ("overlay/*").
	Test string
	// Reason says why, in words that will be printed next to the result.
	Reason string
}

// matches reports whether the limitation applies to the named test.
func (l Limitation) matches(name string) bool {
	if prefix, ok := strings.CutSuffix(l.Test, "*"); ok && strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(name, prefix)
	}
	return l.Test == name
}

// FaultInjector is supplied by a test harness that controls the target's
// backend. Paths are absolute paths as the suite sees them under the
// directory given to Run; the harness maps them to its own names.
type FaultInjector interface {
	// FailNextSync makes the next Sync of the file at path fail with an
	// I/O error (as a lost write-back would). It returns an error if the
	// harness cannot arrange that, which fails the test.
	FailNextSync(path string) error
}

// CloseFaultInjector is a FaultInjector that can also make the write-back
// done when a file is closed fail (a FUSE flush). Tests of close(2) error
// reporting run only when the injector implements it.
type CloseFaultInjector interface {
	FaultInjector
	// FailNextClose makes the next close(2) of the file at path report an
	// I/O error.
	FailNextClose(path string) error
}

// feature binds a claimable feature's name to its field.
type feature struct {
	name  string
	field func(*Features) *bool
}

// features lists the boolean features in the order String prints them.
var features = []feature{
	{"hardlinks", func(f *Features) *bool { return &f.HardLinks }},
	{"symlinks", func(f *Features) *bool { return &f.Symlinks }},
	{"xattrs", func(f *Features) *bool { return &f.Xattrs }},
	{"odirect", func(f *Features) *bool { return &f.ODirect }},
	{"mmap", func(f *Features) *bool { return &f.Mmap }},
	{"renameflags", func(f *Features) *bool { return &f.RenameFlags }},
	{"permissions", func(f *Features) *bool { return &f.Permissions }},
	{"ownership", func(f *Features) *bool { return &f.Ownership }},
	{"sparse", func(f *Features) *bool { return &f.Sparse }},
}

// Names a Test may list in Needs besides the boolean features. They cannot
// be claimed in ParseFeatures' syntax because they need values supplied in
// code: layer directories and a fault injector.
const (
	needOverlay     = "overlay"
	needFaults      = "faults"
	needCloseFaults = "closefaults"
)

const granularityKey = "granularity="

// AllFeatures returns the features of a native ext4 directory used by root:
// every boolean feature, nanosecond timestamps, no overlay, no limitations.
func AllFeatures() Features {
	var f Features
	for _, ft := range features {
		*ft.field(&f) = true
	}
	return f
}

// ParseFeatures parses a comma-separated feature list. Elements apply left
// to right: "all" claims every boolean feature, "none" clears them, a name
// ("xattrs") claims one, "-name" withdraws it, and "granularity=1s" sets
// TimeGranularity (a time.ParseDuration value). So "all,-xattrs,-odirect"
// is everything but two, and "hardlinks,symlinks" is just those. Spaces
// around elements are ignored; an unknown or empty element is an error
// naming it. Overlay, FaultInjector and Limitations have no text form.
func ParseFeatures(s string) (Features, error) {
	var f Features
	if strings.TrimSpace(s) == "" {
		return f, fmt.Errorf("conformance: empty feature list (use %q to claim nothing)", "none")
	}
	for i, elem := range strings.Split(s, ",") {
		elem = strings.TrimSpace(elem)
		switch {
		case elem == "":
			return Features{}, fmt.Errorf("conformance: feature list %q: element %d is empty", s, i+1)
		case elem == "all":
			f.setAll(true)
		case elem == "none":
			f.setAll(false)
		case strings.HasPrefix(elem, granularityKey):
			v := strings.TrimPrefix(elem, granularityKey)
			d, err := time.ParseDuration(v)
			if err != nil {
				return Features{}, fmt.Errorf("conformance: feature list %q: bad granularity %q: %v", s, v, err)
			}
			if d < 0 {
				return Features{}, fmt.Errorf("conformance: feature list %q: granularity %v is negative", s, d)
			}
			f.TimeGranularity = d
		default:
			name, withdraw := strings.CutPrefix(elem, "-")
			p := f.field(name)
			if p == nil {
				return Features{}, fmt.Errorf("conformance: feature list %q: unknown feature %q (known: all, none, %s, %sDURATION)",
					s, name, strings.Join(FeatureNames(), ", "), granularityKey)
			}
			*p = !withdraw
		}
	}
	return f, nil
}

// FeatureNames returns the names of the boolean features, as ParseFeatures
// and Test.Needs spell them.
func FeatureNames() []string {
	names := make([]string, len(features))
	for i, ft := range features {
		names[i] = ft.name
	}
	return names
}

// String returns the shortest-reading form ParseFeatures accepts: "all" or
// "none" adjusted by the fewest elements, then the granularity if any.
// Overlay, FaultInjector and Limitations are not part of it.
func (f Features) String() string {
	var on, off []string
	for _, ft := range features {
		if *ft.field(&f) {
			on = append(on, ft.name)
		} else {
			off = append(off, ft.name)
		}
	}
	var elems []string
	switch {
	case len(on) == 0:
		elems = []string{"none"}
	case len(off) < len(on):
		elems = []string{"all"}
		for _, name := range off {
			elems = append(elems, "-"+name)
		}
	default:
		elems = on
	}
	if f.TimeGranularity != 0 {
		elems = append(elems, granularityKey+f.TimeGranularity.String())
	}
	return strings.Join(elems, ",")
}

func (f *Features) setAll(v bool) {
	for _, ft := range features {
		*ft.field(f) = v
	}
}

// field returns the boolean feature called name, or nil.
func (f *Features) field(name string) *bool {
	for _, ft := range features {
		if ft.name == name {
			return ft.field(f)
		}
	}
	return nil
}

// missing returns why f cannot run a test needing needs, or "" if it can.
func (f *Features) missing(needs []string) string {
	var absent []string
	for _, n := range needs {
		switch n {
		case needOverlay:
			if f.Overlay == nil {
				absent = append(absent, "overlay (no layer directories given)")
			}
		case needFaults:
			if f.FaultInjector == nil {
				absent = append(absent, "faults (no fault injector given)")
			}
		case needCloseFaults:
			if _, ok := f.FaultInjector.(CloseFaultInjector); !ok {
				absent = append(absent, "closefaults (no fault injector for close given)")
			}
		default:
			p := f.field(n)
			if p == nil {
				// A misspelt Needs entry in this package; never claimable.
				absent = append(absent, fmt.Sprintf("%s (unknown feature)", n))
			} else if !*p {
				absent = append(absent, n)
			}
		}
	}
	if len(absent) == 0 {
		return ""
	}
	return "target does not claim " + strings.Join(absent, ", ")
}

// limitation returns the first limitation matching the named test.
func (f *Features) limitation(name string) (Limitation, bool) {
	for _, l := range f.Limitations {
		if l.matches(name) {
			return l, true
		}
	}
	return Limitation{}, false
}
