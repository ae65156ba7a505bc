package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/examples/internal/clitest"
)

// TestPodmanBuild builds the same image of several layers twice with
// podman, once with podman's kernel overlay driver and once with this
// example as the driver's mount_program, and requires the two containers'
// filesystems (podman create + podman export) to be equal file by file;
// then runs a container of each image and compares what it sees and does.
// The Containerfile (testdata/podman) changes lower files in every way a
// build does: deletes, rm -rf and mkdir again (opaque directories), renames
// of directories, chmod of large files, appends, hard links, symlinks.
//
// Everything is local: the base image is imported from a tarball holding
// busybox-static, each run has its own storage, configuration and
// temporary directories, no registry is consulted. It needs root, podman,
// busybox-static and runc (make deps installs them); without them it fails.
//
// `podman build --isolation chroot` is used because crun's cgroup setup
// fails in the sandboxes this suite runs in; `podman run` uses runc with
// no network and rlimits at or below the caller's, because these sandboxes
// withhold CAP_SYS_RESOURCE and crun refuses their hybrid cgroup layout.
//
// What is compared, and what is not and why: see compareExports (the
// export), runScript (the run) and checkDirLinks.
func TestPodmanBuild(t *testing.T) {
	podman, err := exec.LookPath("podman")
	require.NoError(t, err, "podman is needed (apt-get install podman, or make deps)")
	_, err = exec.LookPath("runc")
	require.NoError(t, err, "runc is needed for podman run (apt-get install runc, or make deps)")
	busybox := staticBusybox(t)
	bin := buildBinary(t)

	base := filepath.Join(t.TempDir(), "base.tar")
	writeBaseImage(t, base, busybox)

	start := time.Now()
	kernel := podmanImage(t, podman, base, "")
	t.Logf("kernel overlay driver: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	fuse := podmanImage(t, podman, base, bin)
	t.Logf("fusekit overlay as mount_program: %v", time.Since(start).Round(time.Millisecond))

	// The reference must hold what the Containerfile made: two equal but
	// wrong exports (say, both empty) are no pass.
	t.Run("reference", func(t *testing.T) { requireExpected(t, kernel.export) })
	t.Run("export", func(t *testing.T) {
		if diffs := compareExports(kernel.export, fuse.export); len(diffs) > 0 {
			t.Errorf("the exported filesystems differ (kernel driver, then fusekit) in %d entries:\n%s",
				len(diffs), strings.Join(diffs, "\n"))
		}
	})
	kernelRun, kernelDirs := splitDirLinks(kernel.run)
	fuseRun, fuseDirs := splitDirLinks(fuse.run)
	t.Run("run", func(t *testing.T) {
		if kernelRun != fuseRun {
			t.Errorf("podman run output differs:\n%s", lineDiff(kernelRun, fuseRun))
		}
	})
	t.Run("directory-link-counts", func(t *testing.T) {
		checkDirLinks(t, "kernel driver", kernelDirs)
		checkDirLinks(t, "fusekit", fuseDirs)
	})
}

// podmanTimeout bounds one podman command. A build takes seconds; the bound
// is there so that a mount_program that never returns (one that stays in
// the foreground) fails the test with a message instead of hanging it.
const podmanTimeout = 5 * time.Minute

// baseTime is the modification time of everything in the base image: a
// file the build leaves alone, and every copy-up, must keep it.
var baseTime = time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)

// builtImage is what podmanImage learned about one build.
type builtImage struct {
	export map[string]exportEntry
	run    string
}

// runScript is what `podman run` does in each image: list the tree with
// types, modes, sizes and contents, the link counts of files that are hard
// links in a layer, then write to lower files through the container's own
// overlay and read them back. Lines starting "dir " give each directory's
// link count and number of subdirectories, for checkDirLinks.
const runScript = `cd / && find base data | sort | xargs stat -c '%n %F %a %s' && ` +
	`find base data -type f | sort | xargs sha256sum && ` +
	`stat -c '%n %h' base/hard1 base/hard2 data/file.hard data/file/in data/pair data/pair.hard && ` +
	`for d in $(find base data -type d | sort); do ` +
	`echo "dir $d $(stat -c %h $d) $(find $d -mindepth 1 -maxdepth 1 -type d | wc -l)"; done && ` +
	`echo run >> base/append && chmod 0640 base/keep.txt && rm base/hard2 && mv data/moved data/moved2 && ` +
	`ln base/keep.txt base/keep.hard && cat base/append base/append.hard && ` +
	`stat -c '%n %a %s %h' base/keep.txt base/keep.hard base/big && ls data data/moved2 base`

// splitDirLinks takes the "dir PATH NLINK SUBDIRS" lines out of a run's
// output.
func splitDirLinks(out string) (rest string, dirs []string) {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "dir ") {
			dirs = append(dirs, strings.TrimPrefix(l, "dir "))
		} else {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n"), dirs
}

// lineDiff shows two outputs' differing lines side by side when they have
// as many lines, and both outputs whole otherwise.
func lineDiff(kernel, fuse string) string {
	k, f := strings.Split(kernel, "\n"), strings.Split(fuse, "\n")
	if len(k) != len(f) {
		return "kernel driver:\n" + kernel + "\nfusekit:\n" + fuse
	}
	var b strings.Builder
	for i := range k {
		if k[i] != f[i] {
			fmt.Fprintf(&b, "  line %d:\n    kernel:  %s\n    fusekit: %s\n", i+1, k[i], f[i])
		}
	}
	return b.String()
}

// checkDirLinks requires every directory's link count to be 1, which
// kernel overlayfs reports for merged directories and which tells tools
// that the count says nothing, or 2 plus its subdirectories: find(1)'s leaf
// optimisation (see -noleaf) takes any other count as the number of
// subdirectories left to find.
func checkDirLinks(t *testing.T, who string, dirs []string) {
	t.Helper()
	require.NotEmpty(t, dirs, "%s: no directory lines in the run's output", who)
	for _, d := range dirs {
		var name string
		var nlink, subdirs int
		_, err := fmt.Sscanf(d, "%s %d %d", &name, &nlink, &subdirs)
		require.NoError(t, err, "%s: directory line %q", who, d)
		if nlink != 1 && nlink != 2+subdirs {
			t.Errorf("%s: directory %s has link count %d with %d subdirectories (want 1 or %d)", who, name, nlink, subdirs, 2+subdirs)
		}
	}
}

// podmanImage builds the test image in fresh podman storage, with the
// kernel overlay driver when mountProgram is empty, exports a container of
// it and runs one. It checks that podman left no mount and no process.
func podmanImage(t *testing.T, podman, baseTar, mountProgram string) builtImage {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"root", "tmp", "libpod", "ctx"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o700))
	}
	// podman refuses a runroot longer than 50 bytes, which a TempDir below
	// make test's own TMPDIR is; /run is where runroots live anyway.
	runroot, err := os.MkdirTemp("/run", "fusekit-podman-")
	require.NoError(t, err)
	t.Cleanup(func() {
		cleanupPodman(t, runroot, mountProgram)
		os.RemoveAll(runroot)
	})
	// Configuration files of the test's own: nothing from the host's
	// /etc/containers (a registry, another mount_program, a runtime)
	// changes the run. The storage flags below say the same as
	// storage.conf, which podman wants complete. File locks (under
	// --tmpdir) instead of the shared memory segment every rootful podman
	// on the machine uses by default.
	storageConf := fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
		runroot, filepath.Join(dir, "root"))
	containersConf := "[engine]\nlock_type = \"file\"\n"
	for f, content := range map[string]string{"containers.conf": containersConf, "registries.conf": "", "storage.conf": storageConf} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600))
	}
	cf, err := os.ReadFile(filepath.Join(clitest.PkgDir, "testdata", "podman", "Containerfile"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ctx", "Containerfile"), cf, 0o600))
	t.Cleanup(func() { cleanupPodman(t, dir, mountProgram) })

	env := append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
	)
	global := []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", runroot,
		"--tmpdir", filepath.Join(dir, "libpod"),
		"--storage-driver", "overlay",
		"--events-backend", "none",
		"--cgroup-manager", "cgroupfs",
	}
	if mountProgram != "" {
		global = append(global, "--storage-opt", "overlay.mount_program="+mountProgram)
	}
	pm := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), podmanTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, podman, append(append([]string{}, global...), args...)...)
		cmd.Env = env
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("podman %s did not finish in %v (a mount_program that does not return once mounted?)\nstderr:\n%s",
				args[0], podmanTimeout, stderr.String())
		}
		require.NoError(t, err, "podman %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.String()
	}

	pm("import", baseTar, "localhost/fusekit-base:latest")
	pm("build", "--isolation", "chroot", "--pull=never", "-t", "localhost/fusekit-test:latest", filepath.Join(dir, "ctx"))
	layers := strings.TrimSpace(pm("image", "inspect", "--format", "{{len .RootFS.Layers}}", "localhost/fusekit-test:latest"))
	require.Equal(t, "8", layers, "the base layer and one per RUN")

	id := strings.TrimSpace(pm("create", "--pull=never", "localhost/fusekit-test:latest", "/bin/true"))
	export := filepath.Join(dir, "export.tar")
	pm("export", "-o", export, id)
	pm("rm", id)
	out := pm("run", "--rm", "--pull=never", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"localhost/fusekit-test:latest", "/bin/sh", "-c", runScript)

	f, err := os.Open(export)
	require.NoError(t, err)
	defer f.Close()
	entries, err := readExport(f)
	require.NoError(t, err, "reading podman's export")

	// podman unmounts every layer when it is done; with a mount_program the
	// FUSE server must then exit on its own.
	waitFor(t, "podman's mounts and mount programs to go away", func() bool {
		return len(clitest.MountsUnder(t, dir)) == 0 && len(processesOf(dir, mountProgram)) == 0
	})
	return builtImage{export: entries, run: out}
}

// cleanupPodman removes whatever a failed run left: mounts under dir,
// processes of the test's own mount program, and processes (conmon, the
// runtime) whose command line names dir. Nothing outside dir is touched.
func cleanupPodman(t *testing.T, dir, mountProgram string) {
	mounts := clitest.MountsUnder(t, dir)
	// Deepest first, so that a mount under another comes off before it.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("unmounting %s: %v", m, err)
		}
	}
	for _, pid := range processesOf(dir, mountProgram) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processesOf lists the processes running the binary mountProgram (built
// by this test, so its path is the test's own) or with dir in their
// command line.
func processesOf(dir, mountProgram string) []int {
	procs, _ := os.ReadDir("/proc")
	var out []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if mountProgram != "" {
			if exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe")); err == nil && exe == mountProgram {
				out = append(out, pid)
				continue
			}
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline")); err == nil && bytes.Contains(cmdline, []byte(dir)) {
			out = append(out, pid)
		}
	}
	return out
}

// staticBusybox returns busybox-static's binary, checked to be static: the
// base image holds nothing else, no libc for a dynamic one to load.
func staticBusybox(t *testing.T) string {
	t.Helper()
	const path = "/bin/busybox"
	f, err := elf.Open(path)
	require.NoError(t, err, "busybox-static is needed (apt-get install busybox-static, or make deps)")
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type,
			"%s is dynamically linked; the base image needs busybox-static (apt-get install busybox-static)", path)
	}
	return path
}

// applets are the busybox commands the Containerfile and runScript use.
var applets = []string{"sh", "cat", "chmod", "echo", "find", "head", "ln", "ls", "mkdir", "mv",
	"rm", "sha256sum", "sort", "stat", "true", "truncate", "wc", "xargs", "yes"}

// writeBaseImage writes the tarball the base image is imported from:
// busybox and its applets, and /base, the lower files the Containerfile
// changes, all dated baseTime.
func writeBaseImage(t *testing.T, path, busybox string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(hdr *tar.Header, data []byte) {
		hdr.ModTime = baseTime
		hdr.Format = tar.FormatPAX
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(data))
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	dir := func(name string, mode int64) {
		add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
	}
	file := func(name string, mode int64, data string) {
		add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, []byte(data))
	}
	link := func(typ byte, name, target string) {
		add(&tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}, nil)
	}

	bb, err := os.ReadFile(busybox)
	require.NoError(t, err)
	dir("bin", 0o755)
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bb)
	for _, a := range applets {
		link(tar.TypeSymlink, "bin/"+a, "busybox")
	}
	dir("etc", 0o755)
	dir("tmp", 0o1777)

	dir("base", 0o755)
	file("base/keep.txt", 0o644, "untouched\n")
	file("base/suid", 0o4755, "setuid bit, never changed\n")
	file("base/gone.txt", 0o644, "deleted by layer 2\n")
	dir("base/empty", 0o755)
	dir("base/tree", 0o750)
	file("base/tree/a", 0o644, "a\n")
	dir("base/tree/sub", 0o755)
	file("base/tree/sub/b", 0o600, "b\n")
	dir("base/mvdir", 0o755)
	file("base/mvdir/x", 0o644, "x\n")
	dir("base/mvdir/deep", 0o711)
	file("base/mvdir/deep/z", 0o644, "z\n")
	file("base/rename.txt", 0o644, "renamed by layer 4\n")
	// 8 MiB that is neither zeros (no holes) nor one repeated block.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "base/big", Mode: 0o644}, big)
	file("base/append", 0o644, "first line\n")
	file("base/hard1", 0o644, "hard-linked in the base\n")
	link(tar.TypeLink, "base/hard2", "base/hard1")
	link(tar.TypeSymlink, "base/sym", "tree/a")
	file("base/truncate.txt", 0o644, "emptied by layer 7\n")
	file("base/sparse", 0o644, "grown to 5000 bytes by layer 7\n")
	require.NoError(t, tw.Close())
}

// exportEntry is one file of an exported container, as compared.
type exportEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	size     int64
	sum      [sha256.Size]byte
	link     string // symlink or hard link target
	dev      [2]int64
	xattrs   string // sorted SCHILY.xattr records
	mtime    time.Time
}

func (e exportEntry) String() string {
	s := fmt.Sprintf("type %q mode %o owner %d:%d size %d sha256 %x", e.typ, e.mode, e.uid, e.gid, e.size, e.sum[:6])
	if e.link != "" {
		s += " -> " + e.link
	}
	if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
		s += fmt.Sprintf(" dev %d,%d", e.dev[0], e.dev[1])
	}
	if e.xattrs != "" {
		s += " xattrs " + e.xattrs
	}
	return s + " mtime " + e.mtime.UTC().Format(time.RFC3339Nano)
}

// readExport reads a `podman export` stream into its entries by path.
func readExport(r io.Reader) (map[string]exportEntry, error) {
	out := map[string]exportEntry{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			return nil, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		var xattrs []string
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xattrs = append(xattrs, fmt.Sprintf("%s=%q", strings.TrimPrefix(k, "SCHILY.xattr."), v))
			}
		}
		sort.Strings(xattrs)
		e := exportEntry{
			typ: hdr.Typeflag, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, size: hdr.Size,
			dev:    [2]int64{hdr.Devmajor, hdr.Devminor},
			xattrs: strings.Join(xattrs, " "), mtime: hdr.ModTime,
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			e.link = hdr.Linkname // compared as written
		case tar.TypeLink:
			e.link = cleanName(hdr.Linkname)
		}
		copy(e.sum[:], h.Sum(nil))
		name := cleanName(hdr.Name)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s appears twice in the export", name)
		}
		out[name] = e
	}
}

// cleanName makes "./a/b/" and "a/b" one name.
func cleanName(n string) string {
	n = strings.TrimSuffix(strings.TrimPrefix(n, "./"), "/")
	if n == "" || n == "." {
		return "/"
	}
	return n
}

// flattenedLinks are the Containerfile's hard links to files of an earlier
// layer. With a mount_program, containers/storage finds what a layer
// changed by comparing the mounted layer with its parent on mode, owner,
// size and modification time (its "naive diff"; the kernel driver reads
// the upper directory instead). A file that only gained a link compares
// equal, so it is left out of the layer and the new name is stored as a
// copy of it. fuse-overlayfs gives the same export. Only at these paths is
// a regular file with the target's content accepted for the kernel's link.
var flattenedLinks = map[string]bool{"base/append.hard": true, "data/log.hard": true}

// compareExports lists every difference between two exports, by path.
// Compared: type (a hard link is its own type: it says two paths are one
// file; see flattenedLinks), mode with its setuid/setgid/sticky bits, owner, size, content,
// symlink and hard link targets, device numbers, xattrs. Modification
// times are compared only where the kernel reference kept the base image's
// baseTime: the two builds run at different moments, so a time the build
// set differs between them by construction, but a file or directory the
// build left alone, or only copied up, must keep its time.
func compareExports(kernel, fuse map[string]exportEntry) []string {
	var names []string
	for n := range kernel {
		names = append(names, n)
	}
	for n := range fuse {
		if _, ok := kernel[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var diffs []string
	for _, n := range names {
		k, inK := kernel[n]
		f, inF := fuse[n]
		switch {
		case !inF:
			diffs = append(diffs, fmt.Sprintf("  %s: missing with fusekit (kernel: %v)", n, k))
		case !inK:
			diffs = append(diffs, fmt.Sprintf("  %s: only with fusekit (%v)", n, f))
		case flattenedLinks[n] && k.typ == tar.TypeLink && f.typ == tar.TypeReg:
			// The one accepted difference: the file itself in place of
			// a hard link to it.
			target := kernel[k.link]
			target.mtime, f.mtime = time.Time{}, time.Time{}
			if f != target {
				diffs = append(diffs, fmt.Sprintf("  %s: a copy of %s with fusekit, but not an equal one:\n    kernel:  %v\n    fusekit: %v", n, k.link, target, f))
			}
		default:
			kt, ft := k, f
			if !k.mtime.Equal(baseTime) {
				kt.mtime, ft.mtime = time.Time{}, time.Time{}
			}
			if kt != ft {
				diffs = append(diffs, fmt.Sprintf("  %s:\n    kernel:  %v\n    fusekit: %v", n, k, f))
			}
		}
	}
	return diffs
}

// requireExpected checks a few results of the Containerfile in an export,
// so that two equal exports are also right ones.
func requireExpected(t *testing.T, ex map[string]exportEntry) {
	t.Helper()
	mustNot := []string{"base/gone.txt", "base/empty", "base/mvdir", "base/tree/a", "data/gone", "data/mv", "data/tmp", "data/sym", "base/rename.txt"}
	for _, n := range mustNot {
		_, ok := ex[n]
		require.False(t, ok, "%s should have been removed by the build", n)
	}
	want := map[string]func(e exportEntry) bool{
		"base/big":          func(e exportEntry) bool { return e.mode == 0o600 && e.size == 8<<20 && e.mtime.Equal(baseTime) },
		"base/tree":         func(e exportEntry) bool { return e.typ == tar.TypeReg && e.size == int64(len("now-a-file\n")) },
		"base/moved/deep/z": func(e exportEntry) bool { return e.typ == tar.TypeReg && e.size == 2 },
		"base/moved/x2":     func(e exportEntry) bool { return e.typ == tar.TypeReg },
		"base/append":       func(e exportEntry) bool { return e.size == int64(len("first line\ntail\n")) },
		"base/sym":          func(e exportEntry) bool { return e.typ == tar.TypeSymlink && e.link == "moved/y" },
		"base/truncate.txt": func(e exportEntry) bool { return e.size == 0 },
		"base/sparse":       func(e exportEntry) bool { return e.size == 5000 },
		"data/file/in":      func(e exportEntry) bool { return e.typ == tar.TypeReg },
		"data/dir/a":        func(e exportEntry) bool { return e.size == int64(len("again\n")) },
		"data/big":          func(e exportEntry) bool { return e.mode == 0o755 && e.size == 3000000+100000 },
		"data/append.sym":   func(e exportEntry) bool { return e.link == "../base/append" },
		"base/suid":         func(e exportEntry) bool { return e.mode == 0o4755 },
		"base/append.hard":  func(e exportEntry) bool { return e.typ == tar.TypeLink && e.link == "base/append" },
		"data/log.hard":     func(e exportEntry) bool { return e.typ == tar.TypeLink && e.link == "data/log" },
		"data/pair.hard":    func(e exportEntry) bool { return e.typ == tar.TypeLink && e.link == "data/pair" },
		"base/tree/new/f":   nil,
		"data/moved/y":      func(e exportEntry) bool { return e.typ == tar.TypeReg },
		"base/hard1":        func(e exportEntry) bool { return e.size == int64(len("hard-linked in the base\nagain\n")) },
		"base/hard2":        func(e exportEntry) bool { return e.size == int64(len("hard-linked in the base\n")) },
		"data/abs.sym":      func(e exportEntry) bool { return e.link == "/data/moved/y" },
		"data/file.hard":    func(e exportEntry) bool { return e.typ == tar.TypeReg && e.size == 2 },
		"base/moved":        func(e exportEntry) bool { return e.typ == tar.TypeDir && e.mode == 0o700 },
		"base/moved/deep":   func(e exportEntry) bool { return e.mode == 0o711 },
		"data/dir":          func(e exportEntry) bool { return e.typ == tar.TypeDir },
		"base/keep.txt":     func(e exportEntry) bool { return e.mtime.Equal(baseTime) },
		"data/log":          func(e exportEntry) bool { return e.size == int64(len("log\nmore\n")) },
		"base/renamed.txt":  func(e exportEntry) bool { return e.size == int64(len("renamed by layer 4\n")) },
		"bin/busybox":       func(e exportEntry) bool { return e.mode == 0o755 },
		"data/moved":        func(e exportEntry) bool { return e.typ == tar.TypeDir },
		"base/tree/sub/b":   nil,
		"base/tree/new":     nil,
		"data/dir/sub/b":    nil,
		"data/file":         func(e exportEntry) bool { return e.typ == tar.TypeDir },
		"base/mvdir/deep/z": nil,
	}
	for n, ok := range want {
		e, present := ex[n]
		if ok == nil {
			require.False(t, present, "%s should not be in the image", n)
			continue
		}
		require.True(t, present, "%s is missing from the image", n)
		e.mode &= 0o7777 // podman's tar writer adds the type bits
		require.True(t, ok(e), "%s is not what the Containerfile made: %v", n, e)
	}
}
