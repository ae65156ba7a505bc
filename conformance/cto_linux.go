package conformance

import (
	"os"

	"golang.org/x/sys/unix"
)

func ctoTests() []Test {
	return []Test{
		{Name: "cto/close-to-open", Run: testCloseToOpen},
		{Name: "cto/other-process", Run: testCTOProcess},
	}
}

// testCloseToOpen checks that an open after a close sees everything
// written before the close, including from a descriptor that was already
// open while the writes happened.
func testCloseToOpen(t T, dir string) {
	path := join(dir, "f")
	createFile(t, path, pattern(1000, 1), 0o644)
	early := openFile(t, path, os.O_RDONLY, 0)
	buf := make([]byte, 1000)
	if n, err := preadFull(fdOf(early), buf, 0); err != nil || n != 1000 {
		t.Fatalf("first read returned %d, %v", n, err)
	}
	w := openFile(t, path, os.O_WRONLY, 0)
	want := pattern(200000, 2)
	pwriteAll(t, w, want, 0)
	closeFile(t, w)
	checkContent(t, path, want, "file opened after the writer closed")
	checkFD(t, fdOf(early), want, "descriptor opened before the writes, read after the writer closed")
	closeFile(t, early)
	if st := lstat(t, path); st.Size != int64(len(want)) {
		t.Errorf("stat size after the writer closed is %d, want %d (stale size)", st.Size, len(want))
	}
}

// testCTOProcess hands data between processes through close and open.
func testCTOProcess(t T, dir string) {
	path := join(dir, "f")
	want := pattern(100000, 3)
	createFile(t, path, want, 0o644)
	if r := sh(-1, `cat "$1"`, path); !r.ok() {
		t.Errorf("another process reading the file: cat %s", r)
	} else {
		sameBytes(t, []byte(r.out), want, "file read by another process after the writer closed it")
	}
	if r := sh(-1, `dd if=/dev/zero bs=1000 count=7 2>/dev/null | tr '\0' 'z' > "$1"`, path); !r.ok() {
		t.Fatalf("another process rewriting the file: %s", r)
	}
	checkContent(t, path, fill(7000, 'z'), "file rewritten by another process, opened after it exited")
}

func errorTests() []Test {
	return []Test{
		{Name: "errors/errno", Run: testErrnos},
		{Name: "errors/fsync-close-success", Run: testSyncOK},
		{Name: "errors/fsync-reports", Needs: []string{needFaults}, Run: testFsyncReports},
		{Name: "errors/close-reports", Needs: []string{needCloseFaults}, Run: testCloseReports},
	}
}

// testErrnos checks the errno of common refusals: programs branch on them.
func testErrnos(t T, dir string) {
	f, d := join(dir, "f"), join(dir, "d")
	createFile(t, f, []byte("x"), 0o644)
	must(t, unix.Mkdir(d, 0o755), "mkdir")
	createFile(t, join(d, "child"), nil, 0o644)
	_, err := unix.Open(join(dir, "missing"), unix.O_RDONLY, 0)
	wantErrno(t, err, "open of a missing file", unix.ENOENT)
	_, err = unix.Open(f, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
	wantErrno(t, err, "open O_CREAT|O_EXCL of an existing file", unix.EEXIST)
	_, err = unix.Open(d, unix.O_WRONLY, 0)
	wantErrno(t, err, "open of a directory for writing", unix.EISDIR)
	_, err = unix.Open(join(f, "below"), unix.O_RDONLY, 0)
	wantErrno(t, err, "open of a path through a regular file", unix.ENOTDIR)
	_, err = unix.Open(f, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	wantErrno(t, err, "open O_DIRECTORY of a regular file", unix.ENOTDIR)
	wantErrno(t, unix.Mkdir(f, 0o755), "mkdir over an existing file", unix.EEXIST)
	wantErrno(t, unix.Rmdir(d), "rmdir of a non-empty directory", unix.ENOTEMPTY, unix.EEXIST)
	wantErrno(t, unix.Rmdir(f), "rmdir of a regular file", unix.ENOTDIR)
	wantErrno(t, unix.Rmdir(join(dir, "missing")), "rmdir of a missing directory", unix.ENOENT)
	wantErrno(t, unix.Unlink(d), "unlink of a directory", unix.EISDIR)
	wantErrno(t, unix.Unlink(join(dir, "missing")), "unlink of a missing file", unix.ENOENT)
	wantErrno(t, unix.Truncate(d, 0), "truncate of a directory", unix.EISDIR)
	wantErrno(t, unix.Truncate(f, -1), "truncate to a negative size", unix.EINVAL)
	r := openFile(t, f, os.O_RDONLY, 0)
	_, err = unix.Write(fdOf(r), []byte("x"))
	wantErrno(t, err, "write to a read-only descriptor", unix.EBADF)
	closeFile(t, r)
}

// testSyncOK checks that fsync, fdatasync, syncfs and close succeed on
// healthy files and directories: an error here would be a false alarm
// that teaches applications to ignore these calls.
func testSyncOK(t T, dir string) {
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	pwriteAll(t, f, pattern(100000, 1), 0)
	must(t, unix.Fsync(fdOf(f)), "fsync after a write")
	pwriteAll(t, f, pattern(100, 2), 50)
	must(t, unix.Fdatasync(fdOf(f)), "fdatasync after a write")
	must(t, unix.Syncfs(fdOf(f)), "syncfs")
	must(t, f.Close(), "close after fsync")
	r := openFile(t, path, os.O_RDONLY, 0)
	must(t, unix.Fsync(fdOf(r)), "fsync of a read-only descriptor")
	must(t, r.Close(), "close of a read-only descriptor")
	d := openFile(t, dir, os.O_RDONLY, 0)
	must(t, unix.Fsync(fdOf(d)), "fsync of a directory")
	must(t, d.Close(), "close of a directory")
}

// testFsyncReports has the harness fail the backend's next sync of a file
// and checks that fsync passes the error on.
func testFsyncReports(t T, dir string) {
	inj := envOf(t).features.FaultInjector
	if inj == nil {
		t.Skipf("no fault injector known: run through Run or RunT with Features.FaultInjector set")
	}
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	pwriteAll(t, f, pattern(10000, 1), 0)
	must(t, inj.FailNextSync(path), "injecting a sync fault")
	err := unix.Fsync(fdOf(f))
	switch {
	case err == nil:
		t.Errorf("fsync returned nil after an injected write-back error (swallowed fsync error)")
	case err != unix.EIO:
		t.Logf("fsync after an injected write-back error returned %v (EIO is usual)", err)
	}
	if err := unix.Fsync(fdOf(f)); err != nil {
		t.Logf("a second fsync after the injected error returned %v", err)
	}
	_ = f.Close()
}

// testCloseReports has the harness fail the write-back done at close and
// checks that close(2) passes the error on.
func testCloseReports(t T, dir string) {
	inj, ok := envOf(t).features.FaultInjector.(CloseFaultInjector)
	if !ok {
		t.Skipf("no close fault injector known: run through Run or RunT with Features.FaultInjector set")
	}
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	pwriteAll(t, f, pattern(10000, 1), 0)
	must(t, inj.FailNextClose(path), "injecting a close fault")
	if err := f.Close(); err == nil {
		t.Errorf("close returned nil after an injected write-back error (swallowed close error)")
	}
}
