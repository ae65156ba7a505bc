package conformance

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func permTests() []Test {
	return []Test{
		{Name: "perm/modes", Run: testModes},
		{Name: "perm/unprivileged", Needs: []string{"permissions"}, Run: testUnprivileged},
		{Name: "own/chown", Needs: []string{"ownership"}, Run: testChown},
		{Name: "own/creator", Needs: []string{"ownership", "permissions"}, Run: testCreatorOwns},
	}
}

// testModes checks that creation modes (minus the umask) and chmod modes,
// including the setuid, setgid and sticky bits, are stored as given.
func testModes(t T, dir string) {
	mask := umask()
	expect := func(path string, want uint32, after string) {
		t.Helper()
		if got := lstat(t, path).Mode & 0o7777; got != want {
			t.Errorf("mode after %s is %#o, want %#o", after, got, want)
		}
	}
	f := join(dir, "f")
	fd, err := unix.Open(f, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o640)
	must(t, err, "create with mode 0640")
	must(t, unix.Close(fd), "close")
	expect(f, 0o640&^mask, fmt.Sprintf("create with 0640 under umask %#o", mask))
	d := join(dir, "d")
	must(t, unix.Mkdir(d, 0o750), "mkdir with mode 0750")
	expect(d, 0o750&^mask, fmt.Sprintf("mkdir with 0750 under umask %#o", mask))

	for _, m := range []uint32{0, 0o644, 0o600, 0o755, 0o777, 0o4755, 0o2755, 0o6711} {
		must(t, unix.Chmod(f, m), "chmod %#o", m)
		expect(f, m, fmt.Sprintf("chmod %#o", m))
	}
	fh := openFile(t, f, os.O_RDONLY, 0)
	must(t, unix.Fchmod(fdOf(fh), 0o604), "fchmod 0604")
	expect(f, 0o604, "fchmod 0604")
	closeFile(t, fh)
	for _, m := range []uint32{0o1777, 0o700, 0o2775} {
		must(t, unix.Chmod(d, m), "chmod %#o of a directory", m)
		expect(d, m, fmt.Sprintf("chmod %#o of a directory", m))
	}
	if st := lstat(t, f); st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("chmod changed the file type: mode %#o", st.Mode)
	}
}

// permCase is one access attempted by an unprivileged child process.
type permCase struct {
	what   string // the access, as the failure message names it
	setup  func(t T, p string)
	script string // run with $1 = p
	allow  bool
}

// testUnprivileged runs shell children as uid 65534 against files and
// directories owned by root and checks that the mode bits decide.
func testUnprivileged(t T, dir string) {
	requireRoot(t)
	probe := join(dir, "probe")
	createFile(t, probe, []byte("hello"), 0o644)
	must(t, unix.Chmod(probe, 0o644), "chmod")
	if r := sh(nobody, `cat "$1"`, probe); !r.ok() || r.out != "hello" {
		t.Skipf("uid %d cannot read a 0644 file in the test directory (%s): the target is not reachable by other users "+
			"(a parent directory is not searchable, or a FUSE mount lacks allow_other), so permissions cannot be checked", nobody, r)
	}
	file := func(mode uint32) func(T, string) {
		return func(t T, p string) {
			createFile(t, p, []byte("secret"), 0o600)
			must(t, unix.Chmod(p, mode), "chmod %#o", mode)
		}
	}
	dirWith := func(mode uint32, child string) func(T, string) {
		return func(t T, p string) {
			must(t, unix.Mkdir(p, 0o700), "mkdir")
			if child != "" {
				createFile(t, join(p, child), []byte("secret"), 0o666)
				must(t, unix.Chmod(join(p, child), 0o666), "chmod")
			}
			must(t, unix.Chmod(p, mode), "chmod %#o", mode)
		}
	}
	cases := []permCase{
		{"read a 0600 file owned by root", file(0o600), `cat "$1"`, false},
		{"read a 0604 file owned by root", file(0o604), `cat "$1"`, true},
		{"write a 0644 file owned by root", file(0o644), `echo x >> "$1"`, false},
		{"write a 0666 file owned by root", file(0o666), `echo x >> "$1"`, true},
		{"truncate a 0644 file owned by root", file(0o644), `: > "$1"`, false},
		{"chmod a file owned by root", file(0o666), `chmod 777 "$1"`, false},
		{"execute a 0644 script", script(0o644), `"$1"`, false},
		{"execute a 0755 script", script(0o755), `"$1"`, true},
		{"create a file in a 0755 directory owned by root", dirWith(0o755, ""), `: > "$1/new"`, false},
		{"mkdir in a 0755 directory owned by root", dirWith(0o755, ""), `mkdir "$1/new"`, false},
		{"remove a 0666 file from a 0755 directory owned by root", dirWith(0o755, "f"), `rm -f "$1/f" && ! test -e "$1/f"`, false},
		{"create and remove a file in a 0777 directory", dirWith(0o777, ""), `: > "$1/mine" && rm "$1/mine"`, true},
		{"list a 0711 directory", dirWith(0o711, "f"), `ls "$1"`, false},
		{"read a known file in a 0711 directory", dirWith(0o711, "f"), `cat "$1/f"`, true},
		{"read a 0666 file in a 0700 directory", dirWith(0o700, "f"), `cat "$1/f"`, false},
		{"remove root's file from a sticky 01777 directory", dirWith(0o1777, "f"), `rm -f "$1/f" && ! test -e "$1/f"`, false},
		{"create and remove its own file in a sticky 01777 directory", dirWith(0o1777, ""), `: > "$1/mine" && rm "$1/mine"`, true},
	}
	for i, c := range cases {
		p := join(dir, fmt.Sprintf("case%02d", i))
		c.setup(t, p)
		r := sh(nobody, c.script, p)
		switch {
		case c.allow && !r.ok():
			t.Errorf("uid %d could not %s: %s", nobody, c.what, r)
		case !c.allow && r.ok():
			t.Errorf("uid %d could %s (permission not enforced)", nobody, c.what)
		case !c.allow && !strings.Contains(r.out, "denied") && !strings.Contains(r.out, "not permitted"):
			t.Logf("uid %d was refused to %s, with an unexpected message: %s", nobody, c.what, r)
		}
	}
}

// script returns a setup making p a shell script with the given mode.
func script(mode uint32) func(T, string) {
	return func(t T, p string) {
		createFile(t, p, []byte("#!/bin/sh\necho ran\n"), 0o600)
		must(t, unix.Chmod(p, mode), "chmod %#o", mode)
	}
}

func testChown(t T, dir string) {
	requireRoot(t)
	f := join(dir, "f")
	createFile(t, f, []byte("x"), 0o644)
	owner := func(path string, uid, gid uint32, after string) {
		t.Helper()
		if st := lstat(t, path); st.Uid != uid || st.Gid != gid {
			t.Errorf("owner after %s is %d:%d, want %d:%d", after, st.Uid, st.Gid, uid, gid)
		}
	}
	must(t, unix.Lchown(f, nobody, nobody), "chown %d:%d", nobody, nobody)
	owner(f, nobody, nobody, "chown 65534:65534")
	must(t, unix.Lchown(f, -1, 100), "chown -1:100")
	owner(f, nobody, 100, "chown -1:100 (uid must stay)")
	must(t, unix.Lchown(f, 1000, -1), "chown 1000:-1")
	owner(f, 1000, 100, "chown 1000:-1 (gid must stay)")
	fh := openFile(t, f, os.O_RDONLY, 0)
	must(t, unix.Fchown(fdOf(fh), 0, 0), "fchown 0:0")
	owner(f, 0, 0, "fchown 0:0")
	closeFile(t, fh)

	must(t, unix.Chmod(f, 0o4755), "chmod 04755")
	must(t, unix.Lchown(f, nobody, -1), "chown of a setuid file")
	if m := lstat(t, f).Mode & 0o7777; m&unix.S_ISUID != 0 {
		t.Errorf("chown left the setuid bit of an executable set (mode %#o): a changed owner must not inherit setuid", m)
	}
	if envOf(t).features.Symlinks {
		link := join(dir, "link")
		must(t, unix.Symlink("f", link), "symlink")
		must(t, unix.Lchown(link, 4321, 4321), "lchown of a symlink")
		owner(link, 4321, 4321, "lchown of a symlink")
		owner(f, nobody, 0, "lchown of a symlink to it (the target must not change)")
	}
}

// testCreatorOwns checks that files belong to the process that created
// them, and that a setgid directory passes on its group and its setgid bit.
func testCreatorOwns(t T, dir string) {
	requireRoot(t)
	if r := sh(nobody, `: > "$1/probe" && rm "$1/probe"`, dir); !r.ok() {
		t.Skipf("uid %d cannot create files in the test directory (%s): the target is not reachable by other users "+
			"(a parent directory is not searchable, or a FUSE mount lacks allow_other)", nobody, r)
	}
	if r := sh(nobody, `: > "$1/mine" && mkdir "$1/mydir"`, dir); !r.ok() {
		t.Fatalf("uid %d creating a file and a directory in a 0777 directory %s", nobody, r)
	}
	for _, name := range []string{"mine", "mydir"} {
		if st := lstat(t, join(dir, name)); st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s created by %d:%d is owned by %d:%d", name, nobody, nobody, st.Uid, st.Gid)
		}
	}
	sg := join(dir, "setgid")
	must(t, unix.Mkdir(sg, 0o777), "mkdir")
	must(t, unix.Lchown(sg, 0, 1234), "chown 0:1234")
	must(t, unix.Chmod(sg, 0o2777), "chmod 02777")
	if r := sh(nobody, `: > "$1/f" && mkdir "$1/d"`, sg); !r.ok() {
		t.Fatalf("uid %d creating in a 02777 directory %s", nobody, r)
	}
	if st := lstat(t, join(sg, "f")); st.Gid != 1234 || st.Uid != nobody {
		t.Errorf("file created by %d:%d in a setgid directory of group 1234 is owned by %d:%d, want %d:1234", nobody, nobody, st.Uid, st.Gid, nobody)
	}
	st := lstat(t, join(sg, "d"))
	if st.Gid != 1234 {
		t.Errorf("directory created in a setgid directory of group 1234 has group %d, want 1234", st.Gid)
	}
	if st.Mode&unix.S_ISGID == 0 {
		t.Errorf("directory created in a setgid directory has mode %#o, want the setgid bit inherited", st.Mode&0o7777)
	}
}
