package conformance

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func linkTests() []Test {
	return []Test{
		{Name: "link/hard", Needs: []string{"hardlinks"}, Run: testHardLink},
		{Name: "link/symlink", Needs: []string{"symlinks"}, Run: testSymlink},
	}
}

// testHardLink checks that two names of one file share the inode number,
// the link count and the data.
func testHardLink(t T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	createFile(t, a, []byte("shared"), 0o644)
	must(t, unix.Link(a, b), "link a b")
	sa, sb := lstat(t, a), lstat(t, b)
	if sa.Ino != sb.Ino {
		t.Errorf("hard links have different st_ino: %d and %d", sa.Ino, sb.Ino)
	}
	if sa.Nlink != 2 || sb.Nlink != 2 {
		t.Errorf("nlink after link is %d and %d, want 2 and 2", sa.Nlink, sb.Nlink)
	}
	f := openFile(t, b, os.O_WRONLY|os.O_APPEND, 0)
	writeAll(t, f, []byte("+more"))
	closeFile(t, f)
	// The first name was stat-ed just before the write: a cache that does
	// not know both names are one file now serves its old size.
	if st := lstat(t, a); st.Size != 11 {
		t.Errorf("size of the first name after writing through the second is %d, want 11 (stale size)", st.Size)
	}
	checkContent(t, a, []byte("shared+more"), "first name after writing through the second")
	must(t, unix.Unlink(a), "unlink of the first name")
	if st := lstat(t, b); st.Nlink != 1 {
		t.Errorf("nlink after removing one of two links is %d, want 1", st.Nlink)
	}
	checkContent(t, b, []byte("shared+more"), "remaining link after the other was removed")
	wantErrno(t, unix.Link(b, b), "link onto an existing name", unix.EEXIST)
	must(t, unix.Mkdir(join(dir, "d"), 0o755), "mkdir")
	wantErrno(t, unix.Link(join(dir, "d"), join(dir, "d2")), "link of a directory", unix.EPERM)
}

func testSymlink(t T, dir string) {
	target := join(dir, "target")
	createFile(t, target, []byte("through the link"), 0o644)
	link := join(dir, "link")
	must(t, unix.Symlink("target", link), "symlink")
	buf := make([]byte, 4096)
	n, err := unix.Readlink(link, buf)
	must(t, err, "readlink")
	if string(buf[:n]) != "target" {
		t.Errorf("readlink returned %q, want %q", buf[:n], "target")
	}
	st := lstat(t, link)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("lstat of a symlink reports mode %#o, want a symlink", st.Mode)
	}
	if st.Size != int64(len("target")) {
		t.Errorf("lstat size of a symlink is %d, want the target's length %d", st.Size, len("target"))
	}
	var fst unix.Stat_t
	must(t, unix.Stat(link, &fst), "stat through a symlink")
	if fst.Mode&unix.S_IFMT != unix.S_IFREG || fst.Size != 16 {
		t.Errorf("stat through a symlink reports mode %#o size %d, want the target's regular file of 16 bytes", fst.Mode, fst.Size)
	}
	checkContent(t, link, []byte("through the link"), "file read through a symlink")

	dangling := join(dir, "dangling")
	must(t, unix.Symlink("no-such-file", dangling), "symlink to a missing target")
	lstat(t, dangling)
	wantErrno(t, unix.Stat(dangling, &fst), "stat through a dangling symlink", unix.ENOENT)

	must(t, unix.Mkdir(join(dir, "d"), 0o755), "mkdir")
	createFile(t, join(dir, "d", "inside"), []byte("in"), 0o644)
	must(t, unix.Symlink("d", join(dir, "dlink")), "symlink to a directory")
	checkContent(t, join(dir, "dlink", "inside"), []byte("in"), "file reached through a directory symlink")

	long := strings.Repeat("long/", 200) + "end"
	must(t, unix.Symlink(long, join(dir, "long")), "symlink with a 1003-byte target")
	n, err = unix.Readlink(join(dir, "long"), buf)
	must(t, err, "readlink of a long symlink")
	if string(buf[:n]) != long {
		t.Errorf("readlink of a %d-byte target returned %d bytes", len(long), n)
	}
	wantErrno(t, unix.Symlink("x", link), "symlink onto an existing name", unix.EEXIST)
	must(t, unix.Unlink(link), "unlink of a symlink")
	checkContent(t, target, []byte("through the link"), "target after its symlink was removed")
}
