// Package aferofs joins afero and the fusekit SDK in both directions.
//
// New turns any afero.Fs (OsFs, BasePathFs, MemMapFs, ReadOnlyFs,
// CopyOnWriteFs, zipfs, tarfs, or a third-party one such as an sftp Fs) into
// an sdk.FileSystem that can be mounted. ToAfero does the reverse: any
// sdk.FileSystem becomes an afero.Fs, for tests and for code (such as an
// overlay) that speaks afero.
//
// # The afero → SDK model
//
// An SDK name ("." or "a/b") becomes the afero path Options.Root + "/" + name
// (Root is "/" by default). afero backends disagree about POSIX details, so
// the adapter checks what rename(2), unlink(2), rmdir(2), mkdir(2) and
// open(2) promise before it calls the Fs: the parent of a new name must be an
// existing directory (MemMapFs would silently create it), unlink refuses
// directories and rmdir refuses non-empty ones (MemMapFs removes either),
// rename checks the file-over-directory rules. These checks and the call that
// follows are two steps: a change made behind the mount between them (by
// another process using the same afero.Fs) can slip through. A rename with
// RenameNoReplace holds a per-FS lock that excludes every other rename
// through this FS, so its existence check is atomic against those only.
//
// RenameExchange (renameat2's RENAME_EXCHANGE, which reaches a filesystem
// only in the libfuse3 build) swaps two existing names of any types. On the
// local disk it is renameat2 itself, atomic for everyone. On any other Fs it
// is three renames through a temporary name (".fusekit-exchange-N") in the
// first name's directory, under the same lock, and the steps made are undone
// if one fails. It is atomic only for callers through this FS: other renames
// wait for it and a lookup that misses either name meanwhile waits and looks
// again, but a directory listing made during it may show the temporary
// name, and anyone using the afero.Fs behind the mount sees every step.
//
// A name component longer than NAME_MAX (255 bytes, or the local disk's lower
// limit: what StatFS reports) fails with ENAMETOOLONG in every operation,
// lookups included, as on tmpfs; MemMapFs itself would store it.
//
// New files and directories get exactly the requested permission bits: the
// adapter creates with O_EXCL to learn whether it created the file and then
// chmods away the process umask that OsFs applies.
//
// # Attributes and ownership
//
// Attributes come from os.FileInfo, read with Lstater.LstatIfPossible where
// the Fs has it. Where FileInfo.Sys() knows more, the adapter uses it:
//   - *syscall.Stat_t (OsFs on Linux): inode, link count, owner, device,
//     blocks and all three times, exactly as the disk has them;
//   - *tar.Header (tarfs): owner, access and change times, symlink target;
//   - *sdk.Attr (a FileInfo made by ToAfero): everything;
//   - MemMapFs: afero stores an owner but never reports it, and keeps no
//     access or change time. The adapter keeps them in a side table keyed by
//     a weak pointer to the file's data, so they follow renames and vanish
//     with the file;
//   - anything else: Options.Attr may fill in what Sys() carries.
//
// A MemMapFs directory's link count is 2 plus its subdirectories, as on a
// kernel filesystem. The adapter keeps the count in the same side table,
// adjusted by its own Mkdir, Rmdir and Rename, and lists a directory only
// once, at the first stat of one it did not create (10,000 mkdirs through a
// mount took 1.62 s before and 1.64 s after). A change made behind the mount
// is not counted, and under a CopyOnWriteFs, whose directories merge two
// layers, directories report 2.
//
// What nothing reports defaults to: owner Options.Uid/Gid (the process's
// effective ids unless set: the mount's owner), Nlink 1 (2 for directories),
// Ino 0 (the SDK synthesises inode numbers), and the modification time for
// access and change time.
//
// A file created through the mount belongs to the caller (sdk.Caller in the
// context): on a disk-backed Fs by chown(2) when the daemon is root, on
// MemMapFs in the side table. Other Fs types keep whatever owner they assign.
// A new entry in a set-group-ID directory takes the directory's group, as
// Linux does.
//
// # Symbolic links
//
// *FS always implements sdk.Symlinker. Symlink needs an Fs that implements
// afero.Linker; otherwise (MemMapFs, zipfs) it fails with an error wrapping
// sdk.ErrNotSupported, so `ln -s` on the mount says "Operation not
// supported". SupportsSymlinks reports the truth for callers that ask.
// afero's BasePathFs rewrites a symlink's target into a host path; when the Fs
// is the local disk (see below) the adapter creates the link directly so the
// target is stored exactly as given. Readlink uses afero.LinkReader, or the
// tar header for tarfs.
//
// Chmod, Chown and SetTimes never follow a final symlink. On the local disk
// Chown and SetTimes act on the link itself (lchown, utimensat with
// AT_SYMLINK_NOFOLLOW); on any other Fs they fail on a symlink with
// ErrNotSupported rather than change its target.
//
// # The local disk
//
// When opening the root yields an *os.File (OsFs, or BasePathFs over OsFs),
// the adapter knows the host directory behind the mount. It then answers
// StatFS from statfs(2) on that directory and uses the host path for the
// symlink operations above. A ReadOnlyFs hidden inside a BasePathFs is not
// visible to this test: wrap ReadOnlyFs outermost (the adapter then refuses
// every change with EROFS) or set Options.ReadOnly. Without a host
// directory StatFS reports Options.Capacity bytes and Options.Files inodes,
// all free.
//
// # Read-only filesystems
//
// For ReadOnlyFs, zipfs and tarfs at the top, and with Options.ReadOnly, every
// change fails with EROFS ("Read-only file system") before it reaches the Fs.
// A read-only Fs hidden under another wrapper answers with its own error,
// which for ReadOnlyFs is EPERM ("Operation not permitted").
//
// # Open files
//
// O_APPEND is dropped (the SDK places appends itself) and so is O_DIRECT
// (afero has no direct I/O). A write-only open asks the Fs for read-write
// access first, so that the SDK can read through a write-only handle, and
// falls back to write-only when the Fs refuses.
//
// # File sizes
//
// A write or truncate that would make a file larger than Options.MaxFileSize
// fails with EFBIG ("File too large"); a write that crosses the limit writes
// what fits first, so write(2) returns a short count and the next write
// EFBIG. By default only files that afero's MemMapFs holds are limited, to
// DefaultMemMaxFileSize (1 GiB): MemMapFs keeps a file as one []byte, so a
// hole costs its full size in memory, and without a limit one
// `truncate -s 16T` made the process ask for 16 TiB and die with every file
// in it. Files on the local disk keep the disk's own limit and sparse holes.
// A negative size is EINVAL, as is a write whose end overflows an int64.
//
// afero files are not all safe for concurrent use: MemMapFs implements ReadAt
// and WriteAt by moving the handle's one shared offset, zipfs fills a buffer
// without a lock. Every open file is therefore wrapped in a sync.Mutex that
// serialises its ReadAt, WriteAt, Truncate, Sync, Stat and Close; only
// *os.File, whose pread/pwrite are safe, reads and writes without it. ReadAt
// loops until the buffer is full or the file ends, because the kernel takes a
// short read as end of file. Files whose ReadAt or WriteAt report
// errors.ErrUnsupported (or ENOSYS/EOPNOTSUPP) are served with Seek and
// Read/Write under the same lock.
//
// # The SDK → afero model
//
// ToAfero(fsys) maps afero paths ("/a/b", "a/b", "") to SDK names, calls
// fsys with context.Background (or the context given to ToAferoContext), and
// turns errors into *os.PathError values whose Err is the syscall.Errno that
// sdk.Errno chooses, so os.IsNotExist and errors.Is(err, fs.ErrExist) work.
// Stat, Chmod, Chown and Chtimes follow a final symbolic link as afero
// expects; LstatIfPossible does not. Its files keep their own offset under a
// mutex and list directories with fsys.ReadDir.
package aferofs
