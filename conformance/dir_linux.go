package conformance

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

func dirTests() []Test {
	return []Test{
		{Name: "dir/mkdir-rmdir", Run: testMkdirRmdir},
		{Name: "dir/readdir-types", Run: testReaddirTypes},
		{Name: "dir/readdir-while-changing", Run: testReaddirChanging},
		{Name: "dir/many-entries", Run: testManyEntries},
	}
}

func testMkdirRmdir(t T, dir string) {
	d := join(dir, "d")
	must(t, unix.Mkdir(d, 0o755), "mkdir")
	if st := lstat(t, d); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("mkdir made mode %#o, not a directory", st.Mode)
	}
	wantErrno(t, unix.Mkdir(d, 0o755), "mkdir of an existing directory", unix.EEXIST)
	must(t, unix.Mkdir(join(d, "child"), 0o755), "mkdir of a child")
	createFile(t, join(d, "child", "file"), []byte("x"), 0o644)
	if st := lstat(t, join(d, "child", "file")); st.Size != 1 {
		t.Errorf("file in a nested directory has size %d, want 1", st.Size)
	}
	wantErrno(t, unix.Rmdir(d), "rmdir of a non-empty directory", unix.ENOTEMPTY, unix.EEXIST)
	must(t, unix.Unlink(join(d, "child", "file")), "unlink")
	must(t, unix.Rmdir(join(d, "child")), "rmdir of the emptied child")
	must(t, unix.Rmdir(d), "rmdir")
	absent(t, d, "after rmdir")
	if names := listNames(t, dir); len(names) != 0 {
		t.Errorf("directory lists %q after everything in it was removed", names)
	}
}

// testReaddirTypes checks that a listing names each entry once with the
// right type, and nothing else ("." and ".." are filtered by os.ReadDir).
func testReaddirTypes(t T, dir string) {
	want := map[string]fs.FileMode{}
	for i := range 30 {
		name := fmt.Sprintf("file-%02d", i)
		createFile(t, join(dir, name), nil, 0o644)
		want[name] = 0
	}
	for i := range 5 {
		name := fmt.Sprintf("dir-%d", i)
		must(t, unix.Mkdir(join(dir, name), 0o755), "mkdir")
		want[name] = fs.ModeDir
	}
	if err := unix.Symlink("file-00", join(dir, "link")); err == nil {
		want["link"] = fs.ModeSymlink
	}
	entries, err := os.ReadDir(dir)
	must(t, err, "readdir")
	seen := map[string]bool{}
	for _, e := range entries {
		typ, ok := want[e.Name()]
		switch {
		case seen[e.Name()]:
			t.Errorf("readdir returned %q twice", e.Name())
		case !ok:
			t.Errorf("readdir returned %q, which was never created", e.Name())
		case e.Type() != typ:
			t.Errorf("readdir reports %q as type %v, want %v", e.Name(), e.Type(), typ)
		}
		seen[e.Name()] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("readdir is missing %q", name)
		}
	}
}

// testReaddirChanging adds and removes entries while a directory is being
// read. POSIX leaves it open whether those appear; every other entry must
// appear exactly once.
func testReaddirChanging(t T, dir string) {
	const n = 300
	for i := range n {
		createFile(t, join(dir, fmt.Sprintf("f%03d", i)), nil, 0o644)
	}
	d, err := os.Open(dir)
	must(t, err, "opendir")
	t.Cleanup(func() { _ = d.Close() })
	count := map[string]int{}
	first, err := d.ReadDir(50)
	must(t, err, "reading the first 50 entries")
	for _, e := range first {
		count[e.Name()]++
	}
	removed, added := map[string]bool{}, map[string]bool{}
	for i := 0; i < n; i += 3 {
		name := fmt.Sprintf("f%03d", i)
		must(t, unix.Unlink(join(dir, name)), "unlink during readdir")
		removed[name] = true
	}
	for i := range 100 {
		name := fmt.Sprintf("new%03d", i)
		createFile(t, join(dir, name), nil, 0o644)
		added[name] = true
	}
	for {
		batch, err := d.ReadDir(37)
		for _, e := range batch {
			count[e.Name()]++
		}
		if err == io.EOF {
			break
		}
		must(t, err, "continuing readdir")
	}
	must(t, d.Close(), "closedir")
	for name, c := range count {
		if c > 1 {
			t.Errorf("readdir returned %q %d times while the directory changed", name, c)
		}
		if !removed[name] && !added[name] && !isStable(name, n) {
			t.Errorf("readdir returned %q, which never existed", name)
		}
	}
	for i := range n {
		name := fmt.Sprintf("f%03d", i)
		if !removed[name] && count[name] == 0 {
			t.Errorf("readdir skipped %q, which existed throughout", name)
		}
	}
	var want []string
	for i := range n {
		if name := fmt.Sprintf("f%03d", i); !removed[name] {
			want = append(want, name)
		}
	}
	for name := range added {
		want = append(want, name)
	}
	got := listNames(t, dir)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("a fresh listing after the changes has %d entries, want %d", len(got), len(want))
	}
}

func isStable(name string, n int) bool {
	var i int
	_, err := fmt.Sscanf(name, "f%03d", &i)
	return err == nil && i >= 0 && i < n
}

// testManyEntries creates, lists and removes a 10,000-entry directory.
func testManyEntries(t T, dir string) {
	const n = 10000
	big := join(dir, "big")
	must(t, unix.Mkdir(big, 0o755), "mkdir")
	for i := range n {
		fd, err := unix.Open(join(big, fmt.Sprintf("entry-%05d", i)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatalf("creating entry %d of %d: %v", i, n, err)
		}
		must(t, unix.Close(fd), "close of entry %d", i)
	}
	names := listNames(t, big)
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if seen[name] {
			t.Errorf("listing of %d entries returned %q twice", n, name)
		}
		seen[name] = true
	}
	if len(seen) != n {
		t.Errorf("listing returned %d distinct entries, want %d", len(seen), n)
	}
	if st := lstat(t, join(big, "entry-09999")); st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("last entry has mode %#o, want a regular file", st.Mode)
	}
	for i := range n {
		if err := unix.Unlink(join(big, fmt.Sprintf("entry-%05d", i))); err != nil {
			t.Fatalf("removing entry %d of %d: %v", i, n, err)
		}
	}
	if names := listNames(t, big); len(names) != 0 {
		t.Errorf("after removing all %d entries the directory still lists %d (first %q)", n, len(names), names[0])
	}
	must(t, unix.Rmdir(big), "rmdir of the emptied directory")
}
