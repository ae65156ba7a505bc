// Package conformance is a POSIX behaviour suite that runs against any
// directory: a FUSE mount, an overlay, or a native directory.
//
// # The model
//
// Tests returns named tests ("io/truncate-open", "rename/noreplace"), each a
// function of a T and a directory. Run gives every test a fresh, empty,
// world-writable subdirectory of the target, runs it in its own goroutine
// with a recorder standing in for *testing.T, recovers panics (and memory
// faults in mapped files), bounds it with a timeout so that a hung mount
// fails a test instead of hanging CI, and removes the subdirectory
// afterwards. RunT does the same under "go test", one subtest per test.
//
// A target says what it claims in a Features value: hard links, symlinks,
// xattrs, O_DIRECT, mmap, renameat2 flags, permission enforcement,
// ownership, sparse files, timestamp granularity, overlay layers. A test
// needing an unclaimed feature is skipped with a reason naming it. A target
// may also declare Limitations, known deviations with a reason: the tests
// they name still run, and a failure is reported as XFAIL with the reason
// (never hidden) while a pass is reported as XPASS and counts as a failure,
// so that a limitation that no longer holds gets removed.
//
// # What the messages say
//
// A failure message names the defect in plain words, with the defect in
// parentheses where it has a common name: "read at offset 0 returned 4096
// bytes, want 65536 (short read)", "truncate to 0 was ignored: size still
// 8192 (dropped truncate)", "fsync returned nil after an injected
// write-back error (swallowed fsync error)". Package brokenfs holds one
// deliberately broken filesystem per such defect, and its tests check that
// the suite names each one.
//
// # Calibration
//
// The suite judges nobody before it passes on the kernel: its own tests run
// it against a native directory with every feature claimed and against the
// kernel's overlayfs with two lower layers. A test that fails there is a
// bug in the suite.
//
// # Requirements and side effects
//
// The tests use Linux system calls (renameat2, utimensat, O_DIRECT, xattrs,
// statfs); on other systems Tests is empty. The permission and ownership
// tests need root: they run /bin/sh children as uid 65534 (nobody), so the
// target and its parent directories must be searchable by others and a
// FUSE mount must allow other users; otherwise those tests are skipped with
// that reason. Child processes use only sh and coreutils. The sparse test
// writes at 5 GiB (a few KiB of data); the many-entries test creates 10,000
// files. The overlay tests seed and remove fixtures directly in the layer
// directories, beside the per-test subdirectory.
package conformance
