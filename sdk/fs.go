//go:build !linux || cgo

package sdk

import (
	"context"
	"time"
)

// FileSystem is the core interface every mountable filesystem implements.
//
// Names are slash-separated paths relative to the root of the filesystem, in
// the form io/fs uses: the root is ".", everything else is "a/b/c" with no
// leading or trailing slash and no "." or ".." elements. The SDK cleans every
// name before it reaches an implementation. Unlike io/fs names, they are
// bytes rather than UTF-8 text, and may be longer than PATH_MAX: ValidName
// says which names are well formed.
//
// Every method receives the context of the FUSE request. CallerFromContext
// gives the uid, gid and pid of the process that made the system call. The
// context is not canceled when the calling process is interrupted (cgofuse
// does not deliver FUSE interrupts); it is canceled only when the mount is
// torn down by force, so long operations may watch it.
//
// Errors are Go errors. The SDK turns them into errno values in exactly one
// place (Errno): io/fs, os and afero sentinels, syscall.Errno, and any error
// with an Errno() syscall.Errno method are understood; anything else is EIO.
//
// Optional capabilities (symlinks, hard links, xattrs, mknod, access checks,
// backend sync) are separate interfaces discovered by type assertion:
// Symlinker, Linker, Xattrer, Mknoder, Accesser.
type FileSystem interface {
	// Stat returns the attributes of name without following a final
	// symbolic link (lstat semantics).
	Stat(ctx context.Context, name string) (Attr, error)

	// Open opens name with Linux open(2) flags (O_RDONLY, O_WRONLY, O_RDWR,
	// O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECT, ...). With O_CREAT a
	// missing file is created with exactly perm (the caller's umask has
	// already been applied; an implementation must not apply its own
	// process umask) and, where the filesystem records ownership, owned by
	// the caller from the context. O_TRUNC must be atomic with the open.
	Open(ctx context.Context, name string, flags int, perm uint32) (File, error)

	// ReadDir lists a directory. The order is the implementation's; "." and
	// ".." must not be included.
	ReadDir(ctx context.Context, name string) ([]DirEntry, error)

	// Mkdir creates a directory with exactly perm, owned by the caller.
	Mkdir(ctx context.Context, name string, perm uint32) error

	// Unlink removes a non-directory.
	Unlink(ctx context.Context, name string) error

	// Rmdir removes an empty directory.
	Rmdir(ctx context.Context, name string) error

	// Rename renames oldname to newname with rename(2) semantics: an existing
	// newname is replaced atomically unless flags say otherwise. With
	// RenameNoReplace an existing newname is ErrExist; with RenameExchange
	// both must exist and are swapped. An implementation that cannot honour
	// a flag returns an error wrapping syscall.EINVAL.
	Rename(ctx context.Context, oldname, newname string, flags RenameFlags) error

	// Truncate sets the size of a regular file.
	Truncate(ctx context.Context, name string, size int64) error

	// Chmod sets the permission bits (07777) of name.
	Chmod(ctx context.Context, name string, mode uint32) error

	// Chown sets the owner and group of name without following a final
	// symbolic link. A value of -1 leaves that id unchanged.
	Chown(ctx context.Context, name string, uid, gid int) error

	// SetTimes sets the access and modification times of name without
	// following a final symbolic link. A zero time.Time leaves that time
	// unchanged (UTIME_OMIT); the SDK has already turned UTIME_NOW into the
	// current time.
	SetTimes(ctx context.Context, name string, atime, mtime time.Time) error

	// StatFS reports filesystem-wide capacity.
	StatFS(ctx context.Context) (StatFS, error)
}

// File is an open regular file. The SDK serialises nothing on a File: ReadAt
// and WriteAt may be called concurrently from several FUSE threads, so an
// implementation must be safe for concurrent use.
type File interface {
	// ReadAt reads len(p) bytes at off into p, which is borrowed from the
	// FUSE request and must not be kept after the call. It must fill p unless the end of the
	// file is reached first (the kernel takes a short read as end of file);
	// at the end it returns the bytes read and io.EOF or nil.
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)

	// WriteAt writes p at off and returns the number of bytes written; a
	// short count must come with an error. p is borrowed from the FUSE
	// request (it may be C memory): copy what must outlive the call.
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)

	// Truncate sets the size of the open file.
	Truncate(ctx context.Context, size int64) error

	// Sync makes the file's data durable on the backend (fsync). With
	// datasync only the data and the metadata needed to read it back must be
	// durable (fdatasync).
	Sync(ctx context.Context, datasync bool) error

	// Close releases the file. It is called once, after the last close(2)
	// of every descriptor sharing the open file description.
	Close() error
}

// Flusher is implemented by files that want to hear of every close(2) of a
// descriptor (FUSE FLUSH). An error from Flush is returned by that close(2),
// so this is where an application learns that its data did not make it.
// Flush may be called several times on one File and must be cheap when there
// is nothing to do.
type Flusher interface {
	Flush(ctx context.Context) error
}

// FileStater is implemented by files that can report their attributes from
// the open handle (fstat); the SDK prefers it to FileSystem.Stat when it has
// a handle, because the path may have been renamed or unlinked meanwhile.
type FileStater interface {
	Stat(ctx context.Context) (Attr, error)
}

// RenameFlags modify Rename, as renameat2(2) flags.
type RenameFlags uint32

const (
	// RenameNoReplace fails with ErrExist when newname exists.
	RenameNoReplace RenameFlags = 1 << 0
	// RenameExchange atomically swaps oldname and newname.
	RenameExchange RenameFlags = 1 << 1
	// RenameWhiteout leaves a whiteout (a character device 0/0, the marker
	// of a deleted name in a union filesystem) at oldname, atomically with
	// the rename. The kernel lets only callers with CAP_MKNOD ask for it and
	// refuses it with RenameExchange before a filesystem sees it; libfuse2
	// refuses every flag (EINVAL), so only the libfuse3 build passes it on.
	RenameWhiteout RenameFlags = 1 << 2
)

// Symlinker is implemented by filesystems with symbolic links.
type Symlinker interface {
	// Symlink creates newname as a symbolic link to target, owned by the
	// caller. target is stored as given and never interpreted.
	Symlink(ctx context.Context, target, newname string) error
	// Readlink returns the target of the symbolic link name.
	Readlink(ctx context.Context, name string) (string, error)
}

// Linker is implemented by filesystems with hard links.
type Linker interface {
	// Link creates newname as another name for the existing non-directory
	// oldname.
	Link(ctx context.Context, oldname, newname string) error
}

// XattrFlags modify SetXattr, as setxattr(2) flags.
type XattrFlags int

const (
	// XattrCreate fails with ErrExist when the attribute exists.
	XattrCreate XattrFlags = 1
	// XattrReplace fails with ErrNoAttr when the attribute does not exist.
	XattrReplace XattrFlags = 2
)

// Xattrer is implemented by filesystems with extended attributes. A missing
// attribute is reported as ErrNoAttr. SetXattr's value is borrowed from the
// FUSE request: copy it to keep it.
type Xattrer interface {
	GetXattr(ctx context.Context, name, attr string) ([]byte, error)
	SetXattr(ctx context.Context, name, attr string, value []byte, flags XattrFlags) error
	ListXattr(ctx context.Context, name string) ([]string, error)
	RemoveXattr(ctx context.Context, name, attr string) error
}

// Mknoder is implemented by filesystems that can create device nodes, FIFOs
// and sockets. mode carries the file type bits (TypeChar, TypeBlock,
// TypeFIFO, TypeSocket, TypeRegular) and the permission bits.
type Mknoder interface {
	Mknod(ctx context.Context, name string, mode uint32, dev uint64) error
}

// Accesser is implemented by filesystems that make their own permission
// decisions for access(2). Without it the SDK answers access(2) from the
// mode bits when permission checks are on, and allows it otherwise.
type Accesser interface {
	// Access checks mask (a combination of R_OK=4, W_OK=2, X_OK=1, or F_OK=0)
	// for the caller in ctx. ErrNotSupported makes the SDK decide as if
	// the filesystem had no Accesser (wrappers use it to pass the choice on).
	Access(ctx context.Context, name string, mask uint32) error
}

// Syncer is implemented by filesystems that can make all their state durable
// at once (syncfs). Server.Sync calls it after pushing write-back data.
type Syncer interface {
	SyncFS(ctx context.Context) error
}

// DirSyncer is implemented by filesystems that can make a directory's
// entries durable (fsync on a directory descriptor). Without it, fsync of a
// directory succeeds without doing anything, which is right for filesystems
// that keep no state of their own (in-memory ones) and those whose
// namespace changes are synchronous.
type DirSyncer interface {
	SyncDir(ctx context.Context, name string) error
}
