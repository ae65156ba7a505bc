// Command fusekit-wbbench measures what sdk/writeback buys: it copies a large
// file into FUSE mounts with cp and with dd bs=4k, write-back on and off, over
// backends that add a fixed latency to every call and over SFTP on loopback,
// and compares with rclone mount --vfs-cache-mode writes on the same SFTP
// server.
//
//	fusekit-wbbench [flags]                 run the comparison, print a table
//	fusekit-wbbench serve [flags] MOUNTPOINT  mount a local or SFTP directory (used by the above)
//
// Every configuration runs its filesystem server as a separate process,
// one per measurement, so that the peak RSS is the server's own (VmHWM
// from /proc/PID/status, read once the data is on the backend):
//
//   - latency/write-through and latency/write-back run examples/memfs
//     -latency D [-writeback]: afero's MemMapFs behind adapters/faultfs.
//   - latency-disk/write-through and latency-disk/write-back run
//     "fusekit-wbbench serve -local DIR -latency D": the same faultfs
//     latency in front of afero's OsFs on a directory of the work
//     directory. MemMapFs grows a file by reallocating and copying it,
//     which for a 256 MiB file costs more than the latency; this store's
//     cost is the kernel's page cache, so these rows show what the latency
//     alone does.
//   - sftp/write-through and sftp/write-back run "fusekit-wbbench serve":
//     aferofs over adapters/sftpfs, connected to a private sshd
//     (sftpfs/sshdtest) serving a local directory.
//   - latency/write-back+journal, latency-disk/write-back+journal and
//     sftp/write-back+journal are the write-back rows with -journal DIR
//     (writeback.Options.Journal, in the work directory): every write is
//     appended to a local journal before it is acknowledged. The summary
//     gives their cost against the memory-only rows (the goal is at most
//     20 %) and their speed-up over write-through.
//   - rclone/vfs-writes runs "rclone mount" of the same directory through
//     the same sshd, with --vfs-cache-mode writes.
//
// A measurement times the whole cp or dd command, close(2) included.
// fusekit's close waits for write-back, so the data is in the backend when
// the command ends; rclone's close returns once the data is in its local
// cache and uploads afterwards, so the table also shows the time until the
// whole file is on the server (polled there) and that is the time to
// compare. Files copied to a directory are compared with the source there.
//
// Every row runs -reps times (3 by default); each repetition runs all rows,
// starting one row later than the previous, and the table shows the median
// time, the throughput range and the highest peak RSS. -csv keeps every
// measurement.
//
// A write-through copy with dd bs=4k over a 1 ms backend makes one backend
// call per 4 KiB, about 65 s for 256 MiB, so the write-through dd rows of
// the latency backends copy a smaller file (-wt-latency-size, 64M by
// default); throughput is what is compared. cp rows copy -size everywhere.
//
// The command builds examples/memfs with "go build" unless -memfs-bin is
// given, so run it from inside the fusekit module. The libfuse build of
// memfs follows the build of this binary (-tags fuse3). It needs cp, dd,
// fusermount3, /usr/sbin/sshd (openssh-server) and rclone; run.sh installs
// what is missing and runs the full comparison.
package main
