package overlay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseWhiteoutName(t *testing.T) {
	for _, tc := range []struct {
		elem   string
		kind   MarkerKind
		hidden string
	}{
		{"file", NotMarker, ""},
		{".whx", NotMarker, ""},
		{".wh", NotMarker, ""},
		{"a.wh.b", NotMarker, ""},
		{".wh.file", WhiteoutMarker, "file"},
		{".wh..hidden", WhiteoutMarker, ".hidden"},
		{".wh..wh..opq", OpaqueMarker, ""},
		{".wh..wh.plnk", OtherMarker, ""},
		{".wh..wh.aufs", OtherMarker, ""},
		{".wh.", OtherMarker, ""},
		{".wh..", OtherMarker, ""},
		{".wh...", OtherMarker, ""},
	} {
		kind, hidden := ParseWhiteoutName(tc.elem)
		assert.Equal(t, tc.kind, kind, tc.elem)
		assert.Equal(t, tc.hidden, hidden, tc.elem)
	}
	assert.Equal(t, ".wh.x", OCIWhiteoutName("x"))
}

func TestPrivateXattrs(t *testing.T) {
	for _, a := range []string{"trusted.overlay.opaque", "user.overlay.opaque", "trusted.overlay.origin", "user.fusekit.metacopy"} {
		assert.True(t, isPrivateXattr(a), a)
	}
	for _, a := range []string{"user.mime_type", "security.capability", "trusted.other", "user.overlayx"} {
		assert.False(t, isPrivateXattr(a), a)
	}
}

// FuzzWhiteoutName checks that the parser and the writer agree: every
// marker the overlay writes parses back to the name it hides, and no name a
// user may create parses as a marker.
func FuzzWhiteoutName(f *testing.F) {
	for _, s := range []string{"a", ".wh.a", ".wh..wh..opq", ".wh.", ".wh..wh.", "", ".", "..", "a/b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, elem string) {
		kind, hidden := ParseWhiteoutName(elem)
		switch kind {
		case NotMarker:
			if strings.HasPrefix(elem, ociWhiteoutPrefix) {
				t.Fatalf("%q starts with .wh. but is not a marker", elem)
			}
			if hidden != "" {
				t.Fatalf("%q: an ordinary name hides %q", elem, hidden)
			}
			// Its whiteout must hide exactly it.
			if elem != "" && elem != "." && elem != ".." && !strings.Contains(elem, "/") {
				k, h := ParseWhiteoutName(OCIWhiteoutName(elem))
				if k != WhiteoutMarker || h != elem {
					t.Fatalf("whiteout of %q parses as %v %q", elem, k, h)
				}
			}
		case WhiteoutMarker:
			if hidden == "" || OCIWhiteoutName(hidden) != elem {
				t.Fatalf("%q hides %q, which does not round-trip", elem, hidden)
			}
			if k, _ := ParseWhiteoutName(hidden); k == OpaqueMarker {
				t.Fatalf("%q hides the opaque marker", elem)
			}
		case OpaqueMarker:
			if elem != ociOpaqueName {
				t.Fatalf("%q parsed as the opaque marker", elem)
			}
		case OtherMarker:
			if !strings.HasPrefix(elem, ociWhiteoutPrefix) {
				t.Fatalf("%q is bookkeeping without the .wh. prefix", elem)
			}
		default:
			t.Fatalf("%q: unknown kind %v", elem, kind)
		}
	})
}

func TestRedirectOrigin(t *testing.T) {
	for _, c := range []struct{ p, v, want string }{
		{"a/b", "/x/y", "x/y"},
		{"a/b", "y", "a/y"},
		{"b", "y", "y"},
		{"a/b", "/x/../y", "y"},
		{"a/b", "//x", "."},
		{"a/b", "/", "."},
		{"a/b", "", "."},
		{"a/b", "x/y", "."},
		{"a/b", "..", "."},
		{"a/b", "/..", "."},
	} {
		if got := redirectOrigin(c.p, c.v); got != c.want {
			t.Errorf("redirectOrigin(%q, %q) = %q, want %q", c.p, c.v, got, c.want)
		}
	}
}

// FuzzRedirectOrigin: whatever a redirect xattr holds, the origin is a
// clean relative name that stays below the layer's root.
func FuzzRedirectOrigin(f *testing.F) {
	for _, v := range []string{"/a/b", "b", "/../../x", "//", "/a/./b/"} {
		f.Add("d/f", v)
	}
	// Names are any bytes but NUL and '/', so fs.ValidPath (UTF-8 only)
	// will not do.
	valid := func(p string) bool {
		if p == "." {
			return true
		}
		for _, e := range strings.Split(p, "/") {
			if e == "" || e == "." || e == ".." || strings.ContainsRune(e, 0) {
				return false
			}
		}
		return true
	}
	f.Fuzz(func(t *testing.T, p, v string) {
		if !valid(p) || p == "." || strings.ContainsRune(v, 0) {
			return
		}
		got := redirectOrigin(p, v)
		if !valid(got) {
			t.Fatalf("redirectOrigin(%q, %q) = %q, not a valid name below the root", p, v, got)
		}
	})
}
