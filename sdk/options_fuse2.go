//go:build !fuse3 && (!linux || cgo)

package sdk

import "strconv"

// Build names the libfuse line this binary was built for.
const Build = "fuse2"

// checkBuild applies what libfuse2 does with the build-specific fields:
// MaxThreads has no effect (libfuse2's pool has no cap), and MaxWrite is
// capped at libfuse2's largest write, 128 KiB.
func (r *resolved) checkBuild() error {
	if r.MaxWrite == 0 || r.MaxWrite > fuse2MaxWrite {
		r.MaxWrite = fuse2MaxWrite
	}
	return nil
}

// callbackThreads is how many libfuse threads call into Go at most while
// idle: libfuse2's pool has no cap, but keeps ten idle threads.
func (r *resolved) callbackThreads() int { return libfuse2Workers }

// libfuseOptions translates the options for libfuse 2.9. The kernel caches
// are honoured here, and so are big writes; use_ino makes the backend's inode
// numbers reach stat(2).
func (r *resolved) libfuseOptions(nonempty bool) []string {
	opts := r.commonOptions()
	opts = append(opts,
		"use_ino", "readdir_ino",
		secondsOption("attr_timeout", r.kattr),
		secondsOption("entry_timeout", r.kentry),
		secondsOption("negative_timeout", r.kneg),
	)
	if r.MaxWrite > 4096 {
		opts = append(opts, "big_writes", "max_write="+strconv.Itoa(r.MaxWrite))
	}
	if nonempty {
		// libfuse2 refuses a non-empty mountpoint unless told; the SDK has
		// already checked AllowNonEmpty itself.
		opts = append(opts, "nonempty")
	}
	return append(opts, r.RawOptions...)
}
