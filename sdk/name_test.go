package sdk

import (
	"path"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, name := range []string{
		".", "a", "a/b", "a/b/c", "...", "a/.b", "..a/b..", " ", "a b/c",
		"caf\xe9.txt", "d\xff/f", "\xff\xfe", "\x80/\xc3", "\x01\x7f",
		strings.Repeat("x/", 3000) + "x", // longer than PATH_MAX
	} {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false, want true", name)
		}
	}
	for _, name := range []string{
		"", "/", "/a", "a/", "a//b", "./a", "a/.", "a/./b", "..", "../a",
		"a/..", "a/../b", "a\x00b", "\x00", "a/\x00", "d\xff/", "/caf\xe9",
	} {
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true, want false", name)
		}
	}
}

// validNameSpec is the definition ValidName implements, written the plain
// way.
func validNameSpec(name string) bool {
	if name == "." {
		return true
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == "" || elem == "." || elem == ".." || strings.Contains(elem, "\x00") {
			return false
		}
	}
	return true
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{".", "a/b", "caf\xe9", "a//b", "../x", "a/\x00", "/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := ValidName(name)
		if want := validNameSpec(name); got != want {
			t.Fatalf("ValidName(%q) = %v, spec says %v", name, got, want)
		}
		if got && path.Clean(name) != name {
			t.Fatalf("ValidName(%q) accepts a name path.Clean changes to %q", name, path.Clean(name))
		}
	})
}
