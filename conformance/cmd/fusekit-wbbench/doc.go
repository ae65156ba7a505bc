// Command fusekit-wbbench measures what sdk/writeback buys: it copies a large
// file into FUSE mounts with cp and with dd bs=4k, write-back on and off, over
// a backend that adds a fixed latency to every call and over SFTP on
// loopback, and compares with rclone mount --vfs-cache-mode writes on the
// same SFTP server.
//
//	fusekit-wbbench [flags]                 run the comparison, print a table
//	fusekit-wbbench serve [flags] MOUNTPOINT  mount an SFTP directory (used by the above)
//
// Every configuration runs its filesystem server as a separate process,
// one per measured row, so that the row's peak RSS is the server's own
// (VmHWM from /proc/PID/status, read once the data is on the backend):
//
//   - latency/write-through and latency/write-back run examples/memfs
//     -latency D [-writeback]: afero's MemMapFs behind adapters/faultfs.
//   - sftp/write-through and sftp/write-back run "fusekit-wbbench serve":
//     aferofs over adapters/sftpfs, connected to a private sshd
//     (sftpfs/sshdtest) serving a local directory.
//   - rclone/vfs-writes runs "rclone mount" of the same directory through
//     the same sshd, with --vfs-cache-mode writes.
//
// A row times the whole cp or dd command, close(2) included. fusekit's
// close waits for write-back, so for the sftp rows the data is on the
// server when the command ends; rclone's close returns once the data is in
// its local cache and uploads afterwards, so the table also shows the time
// until the whole file is on the server (polled there) and that is the
// time to compare. Files copied over SFTP are compared with the source
// once on the server.
//
// A write-through copy with dd bs=4k over a 1 ms backend makes one backend
// call per 4 KiB, about 65 s for 256 MiB, so the write-through latency rows
// use a smaller file (-wt-latency-size, 64M by default); throughput is
// what is compared.
//
// The command builds examples/memfs with "go build" unless -memfs-bin is
// given, so run it from inside the fusekit module. The libfuse build of
// memfs follows the build of this binary (-tags fuse3). It needs cp, dd,
// fusermount3, /usr/sbin/sshd (openssh-server) and rclone; run.sh installs
// what is missing and runs the full comparison.
package main
