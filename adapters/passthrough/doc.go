// Package passthrough mirrors a host directory with system-call fidelity.
//
// An FS holds one file descriptor: the root directory, opened O_PATH. Every
// name is resolved relative to it with openat2(2) and RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS, so no name, no symbolic link inside the tree and no
// concurrent rename can make an operation reach outside the root: the kernel
// refuses such a walk with EXDEV (or ELOOP for /proc magic links). System
// calls that take a directory descriptor and a name (fstatat, mkdirat,
// unlinkat, renameat2, linkat, symlinkat, mknodat, utimensat, fchownat,
// fchmodat2, readlinkat) get the parent directory resolved that way and act on
// the final component without following it. Names directly below the root
// need no extra open at all; deeper names cost one openat2 of the parent.
//
// Names may be longer than PATH_MAX, as the kernel allows below a
// mountpoint, though no single system call takes such a path: they are
// resolved in pieces shorter than PATH_MAX, each with openat2 beneath the
// directory the previous piece opened, which adds one openat2 per piece.
// Confinement holds piece by piece, and is stricter there: a symbolic link
// met inside a piece may not climb above the directory the piece starts at
// (EXDEV). The kernel resolves symbolic links on a FUSE mount itself, so
// this only matters when the tree changes behind the mount. Names need not
// be UTF-8: like Linux, the passthrough takes any bytes but NUL and '/'.
// Nothing is cached, so changes made to the directory behind the mount are
// seen at once.
//
// What the backend reports is passed on unchanged: real inode numbers and
// link counts, blocks, nanosecond times, device numbers, extended attributes,
// and raw errno values (wrapped in *fs.PathError), which sdk.Errno maps
// precisely.
//
// Objects created through an FS (files, directories, device nodes, FIFOs,
// symbolic links) get exactly the permission bits asked for: the daemon's
// umask does not apply. When the daemon runs as root and the context carries
// an sdk.Caller, they are owned by the caller, with the group inherited from
// a set-group-ID parent directory as Linux does natively; a daemon that is
// not root cannot give files away, so they belong to it.
//
// Files opened with O_DIRECT keep O_DIRECT on the backing descriptor. The
// backing filesystem still checks the alignment of offsets and lengths
// (EINVAL when they are wrong, as without FUSE), but buffers whose memory is
// not aligned, which is what the FUSE bridge hands over, go through aligned
// bounce buffers.
//
// The package needs Linux 5.6 (openat2) and a mounted /proc. On other
// systems it is empty.
package passthrough
