// Package bench compares filesystems by running the same workloads in
// several directories in one run: native storage first, then FUSE mounts,
// which the package can start itself from a command line (a cmd: target)
// and always stops again.
//
// The model is a matrix. Each workload (sequential and random I/O, file
// metadata, a source tree's tar x, find, grep -r and rm -rf, parallel
// writers) does its setup untimed in a fresh directory, times only the part
// it measures, and reports a Result (bytes, operations, elapsed time). A
// Runner runs the matrix interleaved, every target in turn for each
// workload of each repetition, starting one target later each repetition,
// so that drift on a noisy machine and what one target's run leaves behind
// for the next spread over all targets. A Report keeps every raw Result and derives the median per
// workload and target and its ratio to the first target, oriented so that a
// ratio above 1 always means faster than the reference (target/reference
// for throughput and rates, reference/target for times).
//
// Cold workloads sync and drop the page, dentry and inode caches (root)
// before their timed part, so they measure the filesystem rather than the
// cache; every workload syncs first, so that setup's dirty data is not
// written back inside the timed part.
//
// A cmd: target runs in its own process group with {src} and {mnt} replaced
// by fresh directories. It counts as ready once /proc/self/mountinfo lists a
// FUSE mount on {mnt} and answers statfs; the libfuse build it
// loaded is read from /proc/PID/maps, since cgofuse binaries dlopen libfuse.
// It is stopped with SIGTERM, then, after a timeout, by a lazy unmount and
// SIGKILL; it is also told to exit (PR_SET_PDEATHSIG) if the tool itself is
// killed. Before every workload the runner checks that the mount is still
// listed, its process alive and its connection answering, and quotes the
// daemon's last output when not.
//
// The command fusekit-bench (conformance/cmd/fusekit-bench) is the front
// end; run-bench.sh in this directory builds the SDK's and cgofuse's
// passthrough examples in both libfuse builds and compares them.
package bench
