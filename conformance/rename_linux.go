package conformance

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func renameTests() []Test {
	return []Test{
		{Name: "rename/file", Run: testRenameFile},
		{Name: "rename/overwrite", Run: testRenameOverwrite},
		{Name: "rename/directory", Run: testRenameDir},
		{Name: "rename/open-file", Run: testRenameOpen},
		{Name: "rename/noreplace", Needs: []string{"renameflags"}, Run: testRenameNoReplace},
		{Name: "rename/exchange", Needs: []string{"renameflags"}, Run: testRenameExchange},
	}
}

// renamed checks the two ends of a successful rename and names a rename
// that reported success without happening. A lost rename stops the test:
// what follows depends on it, and operating on names the kernel and the
// filesystem disagree about can wedge a FUSE daemon (libfuse2 deadlocks on
// a rename of a name onto itself that the kernel should never have sent).
func renamed(t T, from, to string, want []byte) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(to, &st); err != nil {
		t.Fatalf("rename %s -> %s returned success but the new name does not exist: %v (lost rename)", base(from), base(to), err)
	}
	if err := unix.Lstat(from, &st); err == nil {
		t.Fatalf("rename %s -> %s returned success but the old name still exists (lost rename)", base(from), base(to))
	}
	if want != nil {
		checkContent(t, to, want, "renamed file")
	}
}

func base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func testRenameFile(t T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	data := pattern(5000, 1)
	createFile(t, a, data, 0o644)
	must(t, unix.Rename(a, b), "rename a -> b")
	renamed(t, a, b, data)
	if names := listNames(t, dir); len(names) != 1 || names[0] != "b" {
		t.Errorf("directory lists %q after renaming a to b, want [b] (lost rename)", names)
	}

	must(t, unix.Mkdir(join(dir, "sub"), 0o755), "mkdir")
	c := join(dir, "sub", "c")
	must(t, unix.Rename(b, c), "rename across directories")
	renamed(t, b, c, data)
	must(t, unix.Rename(c, c), "rename onto itself")
	checkContent(t, c, data, "file renamed onto itself")
	wantErrno(t, unix.Rename(join(dir, "missing"), join(dir, "x")), "rename of a missing name", unix.ENOENT)
}

// testRenameOverwrite replaces an existing file; a descriptor open on the
// replaced file keeps reading its old content.
func testRenameOverwrite(t T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	newData, oldData := pattern(3000, 1), pattern(7000, 2)
	createFile(t, a, newData, 0o644)
	createFile(t, b, oldData, 0o644)
	old := openFile(t, b, os.O_RDONLY, 0)
	must(t, unix.Rename(a, b), "rename a onto existing b")
	renamed(t, a, b, newData)
	checkFD(t, fdOf(old), oldData, "descriptor opened on b before b was replaced")
	closeFile(t, old)
	if names := listNames(t, dir); len(names) != 1 {
		t.Errorf("directory lists %q after a rename over an existing file, want just [b]", names)
	}
}

func testRenameDir(t T, dir string) {
	d1, d2 := join(dir, "d1"), join(dir, "d2")
	must(t, unix.Mkdir(d1, 0o755), "mkdir")
	must(t, unix.Mkdir(join(d1, "inner"), 0o755), "mkdir")
	data := pattern(100, 1)
	createFile(t, join(d1, "inner", "f"), data, 0o644)
	must(t, unix.Rename(d1, d2), "rename of a directory")
	renamed(t, d1, d2, nil)
	checkContent(t, join(d2, "inner", "f"), data, "file inside a renamed directory")

	empty := join(dir, "empty")
	must(t, unix.Mkdir(empty, 0o755), "mkdir")
	must(t, unix.Rename(d2, empty), "rename of a directory onto an empty directory")
	renamed(t, d2, empty, nil)
	checkContent(t, join(empty, "inner", "f"), data, "file inside a directory renamed over an empty one")

	full := join(dir, "full")
	must(t, unix.Mkdir(full, 0o755), "mkdir")
	createFile(t, join(full, "x"), nil, 0o644)
	wantErrno(t, unix.Rename(empty, full), "rename of a directory onto a non-empty directory", unix.ENOTEMPTY, unix.EEXIST)
	wantErrno(t, unix.Rename(empty, join(empty, "inner", "loop")), "rename of a directory into its own subdirectory", unix.EINVAL)
	wantErrno(t, unix.Rename(join(full, "x"), empty), "rename of a file onto a directory", unix.EISDIR)
	wantErrno(t, unix.Rename(empty, join(full, "x")), "rename of a directory onto a file", unix.ENOTDIR)
	checkContent(t, join(empty, "inner", "f"), data, "file after refused renames")
}

// testRenameOpen renames a file that is open; the descriptor follows it.
func testRenameOpen(t T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	createFile(t, a, []byte("before|"), 0o644)
	f := openFile(t, a, os.O_RDWR, 0)
	must(t, unix.Rename(a, b), "rename of an open file")
	renamed(t, a, b, nil)
	pwriteAll(t, f, []byte("after"), 7)
	if st := fstat(t, f); st.Size != 12 {
		t.Errorf("fstat of the renamed open file reports size %d, want 12", st.Size)
	}
	checkFD(t, fdOf(f), []byte("before|after"), "reading the renamed file through its old descriptor")
	closeFile(t, f)
	checkContent(t, b, []byte("before|after"), "renamed file written through a descriptor opened before the rename")
	absent(t, a, "after the rename and a write through the old descriptor")
}

func testRenameNoReplace(t T, dir string) {
	a, b, c := join(dir, "a"), join(dir, "b"), join(dir, "c")
	createFile(t, a, []byte("aaa"), 0o644)
	createFile(t, b, []byte("bbbbb"), 0o644)
	wantErrno(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE),
		"renameat2(RENAME_NOREPLACE) onto an existing file", unix.EEXIST)
	checkContent(t, a, []byte("aaa"), "source after a refused RENAME_NOREPLACE")
	checkContent(t, b, []byte("bbbbb"), "target after a refused RENAME_NOREPLACE (it was replaced)")
	must(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, c, unix.RENAME_NOREPLACE), "renameat2(RENAME_NOREPLACE) to a free name")
	renamed(t, a, c, []byte("aaa"))
}

func testRenameExchange(t T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	createFile(t, a, []byte("aaa"), 0o644)
	createFile(t, b, []byte("bbbbb"), 0o644)
	must(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE), "renameat2(RENAME_EXCHANGE)")
	checkContent(t, a, []byte("bbbbb"), "a after exchanging a and b")
	checkContent(t, b, []byte("aaa"), "b after exchanging a and b")

	d := join(dir, "d")
	must(t, unix.Mkdir(d, 0o755), "mkdir")
	createFile(t, join(d, "inside"), []byte("in"), 0o644)
	must(t, unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, d, unix.RENAME_EXCHANGE), "renameat2(RENAME_EXCHANGE) of a file and a directory")
	checkContent(t, d, []byte("bbbbb"), "file exchanged into a directory's name")
	checkContent(t, join(a, "inside"), []byte("in"), "file inside a directory exchanged into a file's name")
	wantErrno(t, unix.Renameat2(unix.AT_FDCWD, b, unix.AT_FDCWD, join(dir, "missing"), unix.RENAME_EXCHANGE),
		"renameat2(RENAME_EXCHANGE) with a missing target", unix.ENOENT)
}

func unlinkTests() []Test {
	return []Test{
		{Name: "unlink/open-file", Run: testUnlinkOpen},
		{Name: "unlink/open-file-invisible", Run: testUnlinkOpenInvisible},
	}
}

// testUnlinkOpen removes a file that is open; the descriptor keeps working
// and the name is free for a new, independent file.
func testUnlinkOpen(t T, dir string) {
	path := join(dir, "f")
	createFile(t, path, []byte("before|"), 0o644)
	f := openFile(t, path, os.O_RDWR, 0)
	must(t, unix.Unlink(path), "unlink of an open file")
	absent(t, path, "after unlink")
	pwriteAll(t, f, []byte("after"), 7)
	checkFD(t, fdOf(f), []byte("before|after"), "unlinked file read through its descriptor")

	createFile(t, path, []byte("new"), 0o644)
	checkFD(t, fdOf(f), []byte("before|after"), "unlinked file after a new file took its name")
	closeFile(t, f)
	checkContent(t, path, []byte("new"), "new file with the unlinked file's name, after the old descriptor closed")
}

// testUnlinkOpenInvisible checks that an unlinked open file leaves no trace
// in its directory. Filesystems built on libfuse's high-level API rename it
// to .fuse_hiddenNNNN instead, which shows in listings and keeps the
// directory from being removed; such targets declare a Limitation.
func testUnlinkOpenInvisible(t T, dir string) {
	sub := join(dir, "sub")
	must(t, unix.Mkdir(sub, 0o755), "mkdir")
	path := join(sub, "f")
	createFile(t, path, []byte("data"), 0o644)
	f := openFile(t, path, os.O_RDWR, 0)
	must(t, unix.Unlink(path), "unlink of an open file")
	if names := listNames(t, sub); len(names) != 0 {
		t.Errorf("directory lists %q after its only file was unlinked while open", names)
	}
	if st := fstat(t, f); st.Nlink != 0 {
		t.Errorf("fstat of an unlinked open file reports nlink %d, want 0", st.Nlink)
	}
	if err := unix.Rmdir(sub); err != nil {
		t.Errorf("rmdir of a directory whose only file was unlinked while open: %v", err)
	}
	closeFile(t, f)
}
