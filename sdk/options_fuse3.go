//go:build fuse3 && (!linux || cgo)

package sdk

import "strconv"

// Build names the libfuse line this binary was built for.
const Build = "fuse3"

// checkBuild applies what libfuse3 does with the build-specific fields:
// MaxWrite has no effect (cgofuse's libfuse3 always negotiates 1 MiB, and
// libfuse3 rejects max_write), and MaxThreads caps the thread pool.
func (r *resolved) checkBuild() error {
	r.MaxWrite = 0
	if r.MaxThreads == 0 {
		r.MaxThreads = defaultMaxThreads
	}
	return nil
}

// callbackThreads is how many libfuse threads call into Go at most.
func (r *resolved) callbackThreads() int { return r.MaxThreads }

// libfuseOptions translates the options for libfuse 3. cgofuse wipes the
// fuse_config that libfuse parsed (timeouts, uid=, gid=, umask=, kernel_cache
// all become zero), so those are not passed: the SDK does them itself.
// Inode numbers are requested through host.SetUseIno instead of use_ino.
func (r *resolved) libfuseOptions(nonempty bool) []string {
	_ = nonempty // libfuse3 mounts over non-empty directories without asking.
	opts := r.commonOptions()
	// Idle threads are kept up to the cap (no churn); passing the value also
	// keeps libfuse 3.14 from complaining about its own default.
	opts = append(opts, "max_threads="+strconv.Itoa(r.MaxThreads), "max_idle_threads="+strconv.Itoa(r.MaxThreads))
	return append(opts, r.RawOptions...)
}
