package conformance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFeatures(t *testing.T) {
	all := AllFeatures()
	noXattrs := all
	noXattrs.Xattrs, noXattrs.ODirect = false, false
	for _, tc := range []struct {
		in   string
		want Features
	}{
		{"all", all},
		{"none", Features{}},
		{"all,-xattrs,-odirect", noXattrs},
		{" all , -xattrs ,-odirect ", noXattrs},
		{"hardlinks,symlinks", Features{HardLinks: true, Symlinks: true}},
		{"none,mmap,granularity=1s", Features{Mmap: true, TimeGranularity: time.Second}},
		{"all,none,sparse", Features{Sparse: true}},
		{"sparse,-sparse", Features{}},
		{"granularity=0s", Features{}},
	} {
		got, err := ParseFeatures(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestParseFeaturesErrors(t *testing.T) {
	for in, wantMsg := range map[string]string{
		"":                  "empty feature list",
		"  ":                "empty feature list",
		"all,xatrs":         `unknown feature "xatrs"`,
		"-bogus":            `unknown feature "bogus"`,
		"all,,mmap":         "element 2 is empty",
		"granularity=fast":  `bad granularity "fast"`,
		"granularity=-1s":   "granularity -1s is negative",
		"Hardlinks":         `unknown feature "Hardlinks"`,
		"overlay":           `unknown feature "overlay"`,
		"all,-granularity":  `unknown feature "granularity"`,
		"symlinks;hardlink": `unknown feature "symlinks;hardlink"`,
	} {
		_, err := ParseFeatures(in)
		require.Error(t, err, "%q", in)
		assert.Contains(t, err.Error(), wantMsg, "%q", in)
	}
}

func TestFeaturesString(t *testing.T) {
	all := AllFeatures()
	mostly := all
	mostly.ODirect = false
	for _, tc := range []struct {
		f    Features
		want string
	}{
		{all, "all"},
		{Features{}, "none"},
		{mostly, "all,-odirect"},
		{Features{Symlinks: true, HardLinks: true}, "hardlinks,symlinks"},
		{Features{TimeGranularity: 1500 * time.Millisecond}, "none,granularity=1.5s"},
		{Features{Xattrs: true, TimeGranularity: time.Nanosecond}, "xattrs,granularity=1ns"},
	} {
		assert.Equal(t, tc.want, tc.f.String())
		back, err := ParseFeatures(tc.f.String())
		require.NoError(t, err)
		assert.Equal(t, tc.f, back)
	}
}

// TestFeatureNamesCoverFields guards the features table against a new
// field that is forgotten in it.
func TestFeatureNamesCoverFields(t *testing.T) {
	f := AllFeatures()
	assert.True(t, f.HardLinks && f.Symlinks && f.Xattrs && f.ODirect && f.Mmap && f.RenameFlags && f.Permissions && f.Ownership && f.Sparse)
	assert.Len(t, FeatureNames(), 9)
}

func TestMissing(t *testing.T) {
	f := Features{Xattrs: true}
	assert.Empty(t, f.missing(nil))
	assert.Empty(t, f.missing([]string{"xattrs"}))
	assert.Equal(t, "target does not claim mmap, overlay (no layer directories given)", f.missing([]string{"xattrs", "mmap", "overlay"}))
	assert.Contains(t, f.missing([]string{"faults"}), "no fault injector")
	assert.Contains(t, f.missing([]string{"nonsense"}), "nonsense (unknown feature)")
	f.FaultInjector = syncOnly{}
	assert.Empty(t, f.missing([]string{"faults"}))
	assert.Contains(t, f.missing([]string{"closefaults"}), "no fault injector for close")
}

type syncOnly struct{}

func (syncOnly) FailNextSync(string) error { return nil }

func TestLimitationMatches(t *testing.T) {
	assert.True(t, Limitation{Test: "time/utimensat-omit"}.matches("time/utimensat-omit"))
	assert.False(t, Limitation{Test: "time/utimensat-omit"}.matches("time/utimensat-now"))
	assert.True(t, Limitation{Test: "overlay/*"}.matches("overlay/whiteout"))
	assert.False(t, Limitation{Test: "overlay/*"}.matches("overlayx/whiteout"))
	assert.False(t, Limitation{Test: "overlay/*"}.matches("overlay"))
	assert.False(t, Limitation{Test: "over*"}.matches("overlay/whiteout"), "only whole groups take a wildcard")
}

// FuzzParseFeatures checks that whatever ParseFeatures accepts, String
// reproduces: parse(s).String() parses back to the same value, and String
// is a fixed point.
func FuzzParseFeatures(f *testing.F) {
	for _, s := range []string{"all", "none", "all,-xattrs,-odirect", "hardlinks,symlinks", "granularity=1s", "mmap,granularity=1.000000001s", ",", "-all"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		feat, err := ParseFeatures(s)
		if err != nil {
			return
		}
		str := feat.String()
		back, err := ParseFeatures(str)
		require.NoError(t, err, "String() of %q gave %q", s, str)
		require.Equal(t, feat, back, "%q -> %q", s, str)
		require.Equal(t, str, back.String())
	})
}
