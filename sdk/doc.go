// Package sdk mounts Go filesystems through FUSE.
//
// A filesystem implements the small FileSystem interface (Stat, Open,
// ReadDir, Mkdir, Unlink, Rmdir, Rename, Truncate, Chmod, Chown, SetTimes,
// StatFS) with Go errors, and opts into more (symlinks, hard links, xattrs,
// device nodes, access checks, durability) by implementing the one-method
// interfaces Symlinker, Linker, Xattrer, Mknoder, Accesser, Syncer and
// DirSyncer. Mount hands it to cgofuse and returns a Server once the mount
// answers; Server.Unmount drains and unmounts, and Server.Wait reports how
// the mount ended.
//
// # The model
//
// Between the kernel and the filesystem sits a bridge that owns what every
// filesystem would otherwise get wrong on its own:
//
//   - Handles. Each open(2) gets a File from the filesystem and a handle
//     number from the SDK; reads and writes find the File by that number,
//     never by path, so renames and unlinks of open files keep working
//     (libfuse renames a file unlinked while open to a ".fuse_hidden" name;
//     the SDK hides those from listings and removes leftovers of crashed
//     processes).
//   - Reads fill the buffer except at end of file (the kernel takes a short
//     read as end of file), writes report exact counts, O_APPEND writes are
//     placed at the real end of file under a per-file lock (the kernel's
//     offset can be stale), O_TRUNC is atomic with open.
//   - Errors are mapped to errno in exactly one place, Errno. A panic in a
//     callback is logged with its stack, answered with EIO, and counted.
//   - An attribute cache absorbs the libfuse3 build's Getattr storm; every
//     change made through the mount invalidates what it touches.
//   - Inode numbers from the filesystem reach stat(2) and readdir; a
//     filesystem without them gets stable synthetic ones.
//   - Objects are created with the mode and owner the caller asked for,
//     the kernel checks permissions (default_permissions) on mounts shared
//     with AllowOther unless the filesystem says it does, and
//     setuid/setgid bits are dropped on unprivileged writes, truncations
//     (open with O_TRUNC included) and on chown by the kernel's current
//     rules: setgid goes from a file that is not group-executable too when
//     the writer is not in its group. Uid 0 is taken to hold CAP_FSETID and
//     every other uid not to; the first unprivileged write through a file
//     handle decides for that handle.
//
// # Caching and the two libfuse lines
//
// cgofuse builds against libfuse2 by default and libfuse3 with the build
// tag fuse3; Build names the one in use. With libfuse2 the kernel caches
// attributes and names for AttrTimeout and EntryTimeout, writes are at most
// 128 KiB (big_writes), and renameat2 flags are refused with EINVAL. With
// libfuse3 the kernel caches nothing (cgofuse zeroes the timeouts), writes
// reach 1 MiB, renameat2 flags work and single-time utimensat works. The
// kernel's write-back cache cannot be enabled through cgofuse; the
// write-back layer in package sdk/writeback does that work in user space.
//
// # Lifecycle
//
// Mount checks the mountpoint itself (missing, not a directory, non-empty,
// already mounted, stale) so both libfuse lines behave alike, captures what
// libfuse prints if it still refuses, and waits until the mount is listed
// in /proc/self/mountinfo and its root answers. By default it mounts with
// auto_unmount, backed up by a watchdog process of its own (fusermount's
// watcher misses some kills), so a process killed outright leaves no stale
// mount; when one is left anyway (auto_unmount off), the next Mount
// reports it as ErrStaleMount and Options.ClearStale removes it. A program
// that looks at its mountpoint itself before Mount (stat, lstat,
// filepath.EvalSymlinks all fail on a dead mount) calls CheckStale or
// ClearStale first.
// Unmount first drains buffered data (Syncer), then unmounts; while files
// are open it retries until its context ends and then detaches the mount and
// aborts the connection. cgofuse itself unmounts on SIGINT and SIGTERM and
// the SDK drains buffered data in Destroy; Options.HandleSignals adds
// SIGHUP. Every Server is independent; several can run in one process.
//
// # Concurrency
//
// Callbacks arrive on libfuse's threads concurrently (up to MaxThreads with
// libfuse3). The SDK serialises only O_APPEND writes to one file; a
// FileSystem and its Files must be safe for concurrent use. Each of those
// threads holds on to a Go scheduler slot (a P) while it waits for its next
// request, so Mount raises GOMAXPROCS to the CPU count plus libfuse's
// threads unless Options.KeepGOMAXPROCS or the GOMAXPROCS variable says
// otherwise: with only as many Ps as CPUs, the thread that gets a request
// would often wait for the Go runtime to take a P back from an idle one.
//
// # Known limits
//
// libfuse's high-level API needs a path for every operation on an open
// file, so a file unlinked while open lives on under a hidden name in its
// directory until the last close, and rmdir of that directory fails with
// ENOTEMPTY meanwhile (a kernel filesystem would allow it). An open(2),
// even with O_CREAT, that races an unlink or a rename over the same name
// can fail where a kernel filesystem opens the file: when the name goes
// between the kernel's lookup and the OPEN request, libfuse2 answers the
// OPEN with ENOENT without calling the filesystem (16 workers churning 4
// names: 150 to 185 failures in 24,000 opens). libfuse3 answers ESTALE
// there, and so does the SDK when the filesystem no longer has the name,
// and the kernel then repeats the open once with fresh lookups: with
// libfuse3 only an open that loses the race twice fails, with ESTALE (3 to
// 5 in the same 24,000).
// With libfuse2 the kernel caches attributes per name for AttrTimeout, so
// after a write through one hard link another name can show the old size
// for that long (the SDK's own cache is invalidated for every link).
// cgofuse delivers no FUSE interrupts, so a request context is canceled only
// when a forced unmount tears the mount down. flock and POSIX locks are
// handled by the kernel locally. While xattrs are on, the kernel asks for
// "security.capability" before every write(2); the SDK caches the answer,
// but each question is still a round trip (Options.NoXattrs ends them, and
// so does a filesystem whose root answers ListXattr with ErrNotSupported).
package sdk
