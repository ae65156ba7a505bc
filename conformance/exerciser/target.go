package exerciser

// FileTarget is the file under test in file mode. The exerciser calls it
// from one goroutine. Errors should carry a syscall.Errno where there is
// one; any error is reported as a divergence, since the oracle expects
// every file-mode operation to succeed.
type FileTarget interface {
	// ReadAt is one pread(2): it returns what the system call returned,
	// without looping on short counts, because a short read before the end
	// of the file is itself a bug to report.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt is one pwrite(2).
	WriteAt(p []byte, off int64) (int, error)
	// Truncate is ftruncate(2).
	Truncate(size int64) error
	// Size is the size fstat(2) reports.
	Size() (int64, error)
	// Sync is fsync(2).
	Sync() error
	// Reopen closes every descriptor and opens the file again.
	Reopen() error
	// MapRead reads len(p) bytes at off through a shared mapping. The
	// exerciser calls it only for bytes below the size it expects.
	MapRead(p []byte, off int64) error
	// MapWrite writes p at off through a shared mapping, msyncs and unmaps.
	// The exerciser extends the file with Truncate first when needed.
	MapWrite(p []byte, off int64) error
	// DirectReadAt is one O_DIRECT pread(2); off and len(p) are multiples
	// of DirectAlign, and the target provides the aligned buffer.
	DirectReadAt(p []byte, off int64) (int, error)
	// DirectWriteAt is one O_DIRECT pwrite(2), aligned as DirectReadAt.
	DirectWriteAt(p []byte, off int64) (int, error)
	// Close releases the target and removes the file.
	Close() error
}

// FileFactory makes a fresh, empty FileTarget. A run calls it once, and
// shrinking once more per candidate sequence.
type FileFactory func() (FileTarget, error)

// EntryType is the type of a directory entry in namespace mode.
type EntryType uint8

// Entry types.
const (
	TypeRegular EntryType = iota + 1
	TypeDir
	TypeSymlink
	TypeOther
)

func (t EntryType) String() string {
	switch t {
	case TypeRegular:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeOther:
		return "other"
	}
	return "missing"
}

// Entry is what Lstat reports about a name.
type Entry struct {
	Type  EntryType
	Nlink int
	Size  int64
}

// NamespaceTarget is the directory tree under test in namespace mode. Names
// are relative to its root, slash-separated, as in io/fs. Errors must carry
// the syscall.Errno of the system call (errors.As is used), because the
// exerciser compares them with the errno the oracle expects.
type NamespaceTarget interface {
	// Create is open(O_CREAT|O_EXCL|O_WRONLY), a write of data, close.
	Create(name string, data []byte) error
	Mkdir(name string) error
	Rename(oldname, newname string) error
	Unlink(name string) error
	Rmdir(name string) error
	Link(oldname, newname string) error
	Symlink(target, newname string) error
	// Lstat reports name without following a final symlink.
	Lstat(name string) (Entry, error)
	Readlink(name string) (string, error)
	ReadFile(name string) ([]byte, error)
	// ReadDir returns the names in directory name ("." for the root), in
	// any order, without "." and "..".
	ReadDir(name string) ([]string, error)
	// Close releases the target and removes the tree.
	Close() error
}

// NamespaceFactory makes a fresh, empty NamespaceTarget.
type NamespaceFactory func() (NamespaceTarget, error)
