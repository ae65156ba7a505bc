// Command fusekit-ovbench runs issue 5's overlay benchmark in one command:
// fusekit's overlay (examples/overlay, both libfuse builds, default options)
// against kernel overlayfs, fuse-overlayfs and unionfs-fuse, over the same
// lower tree.
//
//	fusekit-ovbench -fusekit-fuse2 BIN -fusekit-fuse3 BIN [flags]
//
// run.sh in this directory installs the Debian packages it needs, builds
// the binaries and runs it (make bench-overlay).
//
// The lower tree, built once under -dir and reused while its description
// matches the flags, holds a copy of the Go source tree (gosrc/), -small
// files of 16 KiB (small/), -big files of -big-size (big/) and one file of
// -large-size (large); file contents are pseudo-random and reproducible, so
// every row can check what it read or wrote.
//
// Every measurement mounts the target afresh, over a fresh empty upper and
// work directory, does the row's setup (untimed), syncs, drops the page,
// dentry and inode caches for the cold rows, times the row's work alone,
// checks the result through the mount (sizes, contents, modes, counts),
// and unmounts. Repetitions are interleaved: every target runs each row
// before the next row starts, and the order of the targets changes each
// repetition so that every target follows every other equally often
// (bench.Order). The table gives the median of the repetitions for every
// target and, for each fusekit build, its ratio to fuse-overlayfs and to
// unionfs-fuse, above 1 when fusekit is faster.
//
// It needs root (mount -t overlay, drop_caches), /dev/fuse, tar, find,
// grep, fuse-overlayfs and unionfs-fuse; -targets leaves targets out, or
// adds fusekit-fuse2-volatile: the libfuse2 build with -o volatile, which
// does not fsync its copy-ups, as neither FUSE peer does.
package main
