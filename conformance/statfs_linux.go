package conformance

import (
	"os"

	"golang.org/x/sys/unix"
)

func statfsTests() []Test {
	return []Test{{Name: "statfs/basic", Run: testStatfs}}
}

// testStatfs checks that statfs answers with self-consistent numbers, the
// same for a path and an open descriptor.
func testStatfs(t T, dir string) {
	var s unix.Statfs_t
	must(t, unix.Statfs(dir, &s), "statfs")
	if s.Bsize <= 0 {
		t.Errorf("statfs f_bsize is %d, want > 0", s.Bsize)
	}
	if s.Frsize <= 0 {
		t.Errorf("statfs f_frsize is %d, want > 0", s.Frsize)
	}
	if s.Bfree > s.Blocks {
		t.Errorf("statfs reports %d free blocks of %d", s.Bfree, s.Blocks)
	}
	if s.Bavail > s.Bfree {
		t.Errorf("statfs reports %d available blocks, more than the %d free", s.Bavail, s.Bfree)
	}
	if s.Ffree > s.Files {
		t.Errorf("statfs reports %d free inodes of %d", s.Ffree, s.Files)
	}
	if s.Namelen < 1 {
		t.Errorf("statfs f_namelen is %d, want > 0", s.Namelen)
	}
	createFile(t, join(dir, "f"), pattern(1000, 1), 0o644)
	f := openFile(t, join(dir, "f"), os.O_RDONLY, 0)
	var fs unix.Statfs_t
	must(t, unix.Fstatfs(fdOf(f), &fs), "fstatfs")
	if fs.Type != s.Type || fs.Bsize != s.Bsize || fs.Blocks != s.Blocks || fs.Files != s.Files {
		t.Errorf("fstatfs of a file (type %#x, bsize %d, blocks %d, files %d) disagrees with statfs of its directory (type %#x, bsize %d, blocks %d, files %d)",
			fs.Type, fs.Bsize, fs.Blocks, fs.Files, s.Type, s.Bsize, s.Blocks, s.Files)
	}
	closeFile(t, f)
}
