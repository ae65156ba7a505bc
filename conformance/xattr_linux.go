package conformance

import (
	"bytes"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

func xattrTests() []Test {
	return []Test{{Name: "xattr/user", Needs: []string{"xattrs"}, Run: testXattrs}}
}

func listXattrs(t T, path string) []string {
	t.Helper()
	n, err := unix.Llistxattr(path, nil)
	must(t, err, "listxattr size probe of %s", base(path))
	buf := make([]byte, n+256) // room for a concurrent addition
	n, err = unix.Llistxattr(path, buf)
	must(t, err, "listxattr of %s", base(path))
	return strings.FieldsFunc(string(buf[:n]), func(r rune) bool { return r == 0 })
}

// getXattr reads attr the way getfattr does: probe the size, then read.
func getXattr(t T, path, attr string) ([]byte, error) {
	t.Helper()
	n, err := unix.Lgetxattr(path, attr, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	m, err := unix.Lgetxattr(path, attr, buf)
	if err != nil {
		return nil, err
	}
	if m != n {
		t.Errorf("getxattr %s of %s: size probe said %d bytes, read returned %d", attr, base(path), n, m)
	}
	return buf[:m], nil
}

func testXattrs(t T, dir string) {
	f := join(dir, "f")
	createFile(t, f, []byte("x"), 0o644)
	d := join(dir, "d")
	must(t, unix.Mkdir(d, 0o755), "mkdir")
	for _, p := range []string{f, d} {
		xattrsOn(t, p)
	}
	// Attributes belong to the inode: they survive a rename.
	must(t, unix.Lsetxattr(f, "user.kept", []byte("v"), 0), "setxattr")
	must(t, unix.Rename(f, join(dir, "g")), "rename")
	if v, err := getXattr(t, join(dir, "g"), "user.kept"); err != nil || string(v) != "v" {
		t.Errorf("xattr after rename is %q, %v; want %q", v, err, "v")
	}
	fh := openFile(t, join(dir, "g"), os.O_RDONLY, 0)
	must(t, unix.Fsetxattr(fdOf(fh), "user.viafd", []byte("fd"), 0), "fsetxattr")
	buf := make([]byte, 16)
	if n, err := unix.Fgetxattr(fdOf(fh), "user.viafd", buf); err != nil || string(buf[:n]) != "fd" {
		t.Errorf("fgetxattr returned %q, %v; want %q", buf[:n], err, "fd")
	}
	closeFile(t, fh)
}

func xattrsOn(t T, p string) {
	const name = "user.conformance"
	what := base(p)
	must(t, unix.Lsetxattr(p, name, []byte("value1"), 0), "setxattr %s on %s", name, what)
	if v, err := getXattr(t, p, name); err != nil || string(v) != "value1" {
		t.Errorf("getxattr %s on %s returned %q, %v; want %q", name, what, v, err, "value1")
	}
	if _, err := unix.Lgetxattr(p, name, make([]byte, 2)); err != unix.ERANGE {
		t.Errorf("getxattr of a 6-byte value into 2 bytes on %s returned %v, want ERANGE", what, err)
	}
	if names := listXattrs(t, p); !slices.Contains(names, name) {
		t.Errorf("listxattr of %s returned %q, missing %s", what, names, name)
	}
	wantErrno(t, unix.Lsetxattr(p, name, []byte("x"), unix.XATTR_CREATE), "setxattr XATTR_CREATE of an existing attribute on "+what, unix.EEXIST)
	wantErrno(t, unix.Lsetxattr(p, "user.missing", []byte("x"), unix.XATTR_REPLACE), "setxattr XATTR_REPLACE of a missing attribute on "+what, unix.ENODATA)
	for _, v := range [][]byte{[]byte("a much longer replacement value"), []byte("s"), {0, 1, 0, 255}, bytes.Repeat([]byte("big"), 1300)} {
		must(t, unix.Lsetxattr(p, name, v, unix.XATTR_REPLACE), "setxattr XATTR_REPLACE with %d bytes on %s", len(v), what)
		if got, err := getXattr(t, p, name); err != nil || !bytes.Equal(got, v) {
			t.Errorf("getxattr after replacing with %d bytes on %s returned %d bytes %q, %v", len(v), what, len(got), trim(got), err)
		}
	}
	must(t, unix.Lsetxattr(p, "user.empty", nil, 0), "setxattr of an empty value on %s", what)
	if got, err := getXattr(t, p, "user.empty"); err != nil || len(got) != 0 {
		t.Errorf("getxattr of an empty value on %s returned %q, %v", what, got, err)
	}
	must(t, unix.Lremovexattr(p, name), "removexattr on %s", what)
	if _, err := unix.Lgetxattr(p, name, nil); err != unix.ENODATA {
		t.Errorf("getxattr of a removed attribute on %s returned %v, want ENODATA", what, err)
	}
	if names := listXattrs(t, p); slices.Contains(names, name) {
		t.Errorf("listxattr of %s still lists the removed %s", what, name)
	}
	wantErrno(t, unix.Lremovexattr(p, name), "removexattr of a missing attribute on "+what, unix.ENODATA)
	must(t, unix.Lremovexattr(p, "user.empty"), "removexattr on %s", what)
}

func trim(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
