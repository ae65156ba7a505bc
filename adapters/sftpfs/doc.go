// Package sftpfs is an afero.Fs over SFTP, the project's network backend.
//
// afero's own sftpfs has had no published version since afero v1.12, so the
// project keeps this one, written over github.com/pkg/sftp and tested
// against a real OpenSSH server (package sshdtest starts one on loopback).
// aferofs.New(fs) mounts it.
//
// # The model
//
// New(client, root) serves one directory of the server. SFTP paths are
// absolute server paths; an Fs takes afero names ("/a/b", "a/b", "" or "/"
// for the root itself), cleans them lexically and joins them to root, so
// every request stays beneath root. A name whose ".." elements would climb
// above root is refused with an error wrapping fs.ErrInvalid (EINVAL), as
// is a name holding a NUL byte, which the server would cut short and so act
// on another file. The confinement is lexical: symbolic links stored on the
// server are followed by the server and may lead anywhere the SSH user may
// go. Symbolic link targets are stored and returned exactly as given, and
// the server resolves them against its own namespace, not against root.
// The root itself cannot be removed or renamed (EBUSY).
//
// Every method is one or a few SFTP requests; nothing is cached, so
// changes made on the server by others are seen at once. A request waits
// for the server for as long as it takes: afero has no context, and a
// server that hangs holds the caller. Dial bounds only the connection.
//
// # Errors
//
// Errors are *fs.PathError (*os.LinkError for Rename and
// SymlinkIfPossible) whose Err is a syscall.Errno where the server's answer
// says which, so os.IsNotExist, errors.Is(err, fs.ErrExist) and sdk.Errno
// work. SFTP version 3 has only eight status codes and OpenSSH folds most
// errnos into "failure"; after a failure the operations below look at the
// names involved to give the errno that rename(2), mkdir(2) and friends
// would have given:
//   - Mkdir, SymlinkIfPossible and OpenFile with O_EXCL: EEXIST if the name
//     exists;
//   - OpenFile, and reads and writes, on a directory: EISDIR;
//   - Remove of a directory with entries: ENOTEMPTY;
//   - Rename: EISDIR, ENOTDIR, ENOTEMPTY, or EINVAL for a directory moved
//     into itself;
//   - ReadlinkIfPossible of something that is not a link: EINVAL.
//
// That look happens after the failed request, so a change made between the
// two by someone else can give the wrong errno (never a wrong result).
// OpenSSH reports ENOTDIR in a path as ENOENT, and ENOSPC, EROFS, EDQUOT and
// the like as plain failures, which sdk.Errno turns into EIO.
//
// # Modes, owners and times
//
// SFTP opens and mkdirs with the server's default mode (0666 or 0777 less
// the umask of the SFTP server process), so an Fs sets the requested
// permission bits with a second request, on the open handle for files: for
// that moment a new entry has the default mode. The local umask does not
// apply. Only a file that OpenFile creates gets perm: without O_EXCL the
// Fs first tries an exclusive create and opens the existing file if that
// fails, which costs a second round trip when the file exists (and leaves
// the default mode on a file that someone removes between the two).
//
// Stat, Chmod, Chown and Chtimes follow a final symbolic link; use
// LstatIfPossible for the link itself. FileInfo.Sys() is a *sftp.FileStat
// carrying the owner's ids and the access time. SFTP version 3 stores times
// in whole seconds between 1970 and 2106; Chtimes drops the fraction and
// refuses times outside that range with EINVAL.
//
// # Files
//
// ReadAt fills its buffer or returns io.EOF; WriteAt writes at any offset,
// leaving a hole past the end. Both are safe to call concurrently on one
// File, which aferofs and the write-back engine rely on. Read, Write and Seek
// share the file offset. Reads and writes are refused with EBADF when the
// open flags do not allow them (the server would report "no such file"),
// and WriteAt with O_APPEND is refused as os.File does. Sync uses the
// fsync@openssh.com extension. Rename uses posix-rename@openssh.com so that
// it replaces an existing target atomically, as rename(2) does.
//
// A directory opened with Open is listed by Readdir once, at the first
// call, by the name it was opened with. OpenSSH lets a directory be opened
// like a file; servers that refuse that cannot Open directories.
//
// # Connections
//
// New takes an *sftp.Client the caller owns. Dial makes one: it connects
// over SSH with a client key and a pinned host key (there is no option to
// skip host key checking) and returns the Fs with an io.Closer that ends
// the session and the connection.
package sftpfs
