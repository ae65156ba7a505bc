//go:build !linux || cgo

package sdk

import (
	"os"
	"runtime"
)

// libfuse2Workers is how many idle threads libfuse 2.9's multi-threaded
// loop keeps: it starts one whenever none is free and lets one exit only
// while more than ten are idle.
const libfuse2Workers = 10

// raiseProcs makes sure every libfuse thread that calls into Go can keep a
// P (a scheduler slot, GOMAXPROCS of them) of its own, and returns the
// value before and after.
//
// A C thread returning from a cgo callback keeps its P, marked as in a
// system call, while it blocks in read(2) on /dev/fuse for the next request
// (golang/go#57103). The kernel hands requests to libfuse's idle threads
// in turn, so with GOMAXPROCS at the CPU count, the thread that gets the
// next request usually finds every P parked on other idle threads and
// sleeps until sysmon takes one back (a tick of 20 µs or more) and two
// more thread wake-ups. On 2 CPUs, covering the pool made the SDK's unlink
// rows 8–9 % faster (libfuse2 and libfuse3), and in another run unlink 24 %
// and stat 22 % faster (fusekit-bench, docs/performance.md §0); cgofuse's
// bare example, whose callbacks make fewer system calls, gained 3 and 9 %.
// No data row got slower.
//
// GOMAXPROCS is process-wide, so this is the one place where a mount
// changes its process: it only ever raises the value, and never when the
// GOMAXPROCS environment variable or Options.KeepGOMAXPROCS says the
// program decides.
func raiseProcs(threads int) (before, after int) {
	before = runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		return before, before
	}
	want := runtime.NumCPU() + threads
	if before >= want {
		return before, before
	}
	runtime.GOMAXPROCS(want)
	return before, want
}
