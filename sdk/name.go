package sdk

import "strings"

// ValidName reports whether name has the form FileSystem methods receive:
// "." for the root, otherwise elements separated by single slashes, with
// no leading or trailing slash, no empty, "." or ".." element and no NUL
// byte. Any other byte may appear: a Linux name is a string of bytes, not
// text, so unlike io/fs.ValidPath, ValidName accepts names that are not
// valid UTF-8 (a file "caf\xe9" made by a Latin-1 program is as real as any
// other). Length is not limited either: the backing system calls say
// ENAMETOOLONG for an element they cannot hold, and a whole name may be
// longer than PATH_MAX.
//
// The SDK passes on the names libfuse builds from the kernel's lookups,
// which always have this form; filesystems that resolve names themselves
// call ValidName to refuse anything else, as the passthrough adapter does.
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	if strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		i := strings.IndexByte(name, '/')
		elem := name
		if i >= 0 {
			elem = name[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}
