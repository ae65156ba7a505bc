package conformance

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func timeTests() []Test {
	return []Test{
		{Name: "time/utimensat-both", Run: testUtimesBoth},
		{Name: "time/utimensat-omit", Run: testUtimesOmit},
		{Name: "time/utimensat-now", Run: testUtimesNow},
		{Name: "time/updated-by-changes", Run: testTimesUpdated},
	}
}

var (
	// Fixed past times with nanoseconds that survive only at full
	// resolution; far enough back that "now" can never be mistaken for them.
	timeA = time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	timeM = time.Date(2002, 3, 4, 5, 6, 7, 987654321, time.UTC)
	timeB = time.Date(2003, 4, 5, 6, 7, 8, 500000001, time.UTC)
)

var (
	omit = unix.Timespec{Nsec: unix.UTIME_OMIT}
	now  = unix.Timespec{Nsec: unix.UTIME_NOW}
)

func ts(t time.Time) unix.Timespec { return unix.NsecToTimespec(t.UnixNano()) }

func setTimes(t T, path string, atime, mtime unix.Timespec, what string) {
	t.Helper()
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{atime, mtime}, unix.AT_SYMLINK_NOFOLLOW), "utimensat (%s)", what)
}

func statTimes(t T, path string) (atime, mtime, ctime time.Time) {
	t.Helper()
	st := lstat(t, path)
	return time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
}

// sameTime compares a stored time with the one set, allowing for the
// target's granularity (rounding or truncation).
func sameTime(f Features, got, want time.Time) bool {
	d := got.Sub(want).Abs()
	if f.TimeGranularity == 0 {
		return d == 0
	}
	return d < f.TimeGranularity
}

func checkTime(t T, which string, got, want time.Time, after string) {
	t.Helper()
	if !sameTime(envOf(t).features, got, want) {
		t.Errorf("%s after %s is %v, want %v", which, after, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
	}
}

// timeTargets makes a file and a directory to set times on.
func timeTargets(t T, dir string) []string {
	f := join(dir, "f")
	createFile(t, f, []byte("x"), 0o644)
	d := join(dir, "d")
	must(t, unix.Mkdir(d, 0o755), "mkdir")
	return []string{f, d}
}

func testUtimesBoth(t T, dir string) {
	for _, p := range timeTargets(t, dir) {
		setTimes(t, p, ts(timeA), ts(timeM), "both times")
		a, m, _ := statTimes(t, p)
		checkTime(t, "atime of "+base(p), a, timeA, "setting both times")
		checkTime(t, "mtime of "+base(p), m, timeM, "setting both times")
		setTimes(t, p, ts(timeB), ts(timeB), "both times again")
		a, m, _ = statTimes(t, p)
		checkTime(t, "atime of "+base(p), a, timeB, "setting both times again")
		checkTime(t, "mtime of "+base(p), m, timeB, "setting both times again")
	}
}

// testUtimesOmit sets one time and leaves the other with UTIME_OMIT, the
// call libfuse2 drops silently (touch -m, touch -a).
func testUtimesOmit(t T, dir string) {
	for _, p := range timeTargets(t, dir) {
		setTimes(t, p, ts(timeA), ts(timeA), "both times")
		setTimes(t, p, omit, ts(timeM), "mtime only")
		a, m, _ := statTimes(t, p)
		if !sameTime(envOf(t).features, m, timeM) {
			t.Errorf("utimensat of mtime alone (atime UTIME_OMIT) on %s was dropped: mtime is %v, want %v",
				base(p), m.UTC().Format(time.RFC3339Nano), timeM.Format(time.RFC3339Nano))
		}
		checkTime(t, "atime of "+base(p), a, timeA, "setting mtime alone (UTIME_OMIT must keep atime)")
		setTimes(t, p, ts(timeB), omit, "atime only")
		a, m, _ = statTimes(t, p)
		if !sameTime(envOf(t).features, a, timeB) {
			t.Errorf("utimensat of atime alone (mtime UTIME_OMIT) on %s was dropped: atime is %v, want %v",
				base(p), a.UTC().Format(time.RFC3339Nano), timeB.Format(time.RFC3339Nano))
		}
		checkTime(t, "mtime of "+base(p), m, timeM, "setting atime alone (UTIME_OMIT must keep mtime)")
	}
}

// testUtimesNow sets times to UTIME_NOW, both and one at a time.
func testUtimesNow(t T, dir string) {
	f := envOf(t).features
	// The kernel's timestamps come from a coarse clock that may lag the
	// wall clock by a tick, and the target may round to its granularity.
	slack := time.Second + f.TimeGranularity
	recent := func(which string, got, before, after time.Time, what string) {
		t.Helper()
		if got.Before(before.Add(-slack)) || got.After(after.Add(slack)) {
			t.Errorf("%s after %s is %v, want the current time (%v)", which, what,
				got.UTC().Format(time.RFC3339Nano), before.UTC().Format(time.RFC3339Nano))
		}
	}
	for _, p := range timeTargets(t, dir) {
		setTimes(t, p, ts(timeA), ts(timeA), "both times")
		before := time.Now()
		setTimes(t, p, now, now, "both UTIME_NOW")
		after := time.Now()
		a, m, _ := statTimes(t, p)
		recent("atime of "+base(p), a, before, after, "UTIME_NOW for both")
		recent("mtime of "+base(p), m, before, after, "UTIME_NOW for both")

		setTimes(t, p, ts(timeA), ts(timeA), "both times")
		before = time.Now()
		setTimes(t, p, omit, now, "mtime UTIME_NOW, atime UTIME_OMIT")
		after = time.Now()
		a, m, _ = statTimes(t, p)
		recent("mtime of "+base(p), m, before, after, "UTIME_NOW for mtime alone")
		checkTime(t, "atime of "+base(p), a, timeA, "UTIME_NOW for mtime alone (UTIME_OMIT must keep atime)")
	}
}

// testTimesUpdated checks that changes move mtime and ctime forward:
// write, truncate and chmod on the file, and rename on the file (ctime)
// and its directory (mtime and ctime).
func testTimesUpdated(t T, dir string) {
	feat := envOf(t).features
	path := join(dir, "f")
	createFile(t, path, []byte("0123456789"), 0o644)
	f := openFile(t, path, os.O_RDWR, 0)

	// Each step sets mtime into the past, which also stamps ctime with the
	// current time, waits long enough for the clock to move on at the
	// target's granularity, then changes the file.
	step := func(what string, change func(), mtimeMoves bool) {
		t.Helper()
		setTimes(t, path, ts(timeA), ts(timeA), "reset before "+what)
		_, _, ctime0 := statTimes(t, path)
		settle(feat)
		change()
		_, m, c := statTimes(t, path)
		if mtimeMoves && !m.After(timeA) {
			t.Errorf("%s did not update mtime: still %v", what, m.UTC().Format(time.RFC3339Nano))
		}
		if !mtimeMoves && !sameTime(feat, m, timeA) {
			t.Errorf("%s changed mtime to %v; only ctime should change", what, m.UTC().Format(time.RFC3339Nano))
		}
		if !c.After(ctime0) {
			t.Errorf("%s did not update ctime: %v, not after %v", what, c.UTC().Format(time.RFC3339Nano), ctime0.UTC().Format(time.RFC3339Nano))
		}
	}
	step("write", func() { pwriteAll(t, f, []byte("new"), 2) }, true)
	step("ftruncate", func() { must(t, unix.Ftruncate(fdOf(f), 5), "ftruncate") }, true)
	step("truncate by path", func() { must(t, unix.Truncate(path, 3), "truncate") }, true)
	step("chmod", func() { must(t, unix.Chmod(path, 0o600), "chmod") }, false)
	closeFile(t, f)

	newPath := join(dir, "g")
	setTimes(t, dir, ts(timeA), ts(timeA), "reset the directory")
	_, _, dirCtime0 := statTimes(t, dir)
	step("rename", func() { must(t, unix.Rename(path, newPath), "rename"); path = newPath }, false)
	_, m, c := statTimes(t, dir)
	if !m.After(timeA) {
		t.Errorf("rename in a directory did not update the directory's mtime: still %v", m.UTC().Format(time.RFC3339Nano))
	}
	if !c.After(dirCtime0) {
		t.Errorf("rename in a directory did not update the directory's ctime")
	}
	setTimes(t, dir, ts(timeA), ts(timeA), "reset the directory")
	settle(feat)
	createFile(t, join(dir, "h"), nil, 0o644)
	if _, m, _ := statTimes(t, dir); !m.After(timeA) {
		t.Errorf("creating a file did not update the directory's mtime: still %v", m.UTC().Format(time.RFC3339Nano))
	}
}
