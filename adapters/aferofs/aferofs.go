package aferofs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/spf13/afero/tarfs"
	"github.com/spf13/afero/zipfs"
)

// Options configure an FS. The zero value is the default.
type Options struct {
	// Root is the afero path that the mount's root stands for: an absolute,
	// clean, slash-separated path. Default "/". With afero.NewOsFs() it is a
	// host directory, which spares a BasePathFs.
	Root string

	// ReadOnly refuses every change with EROFS. It is implied for
	// *afero.ReadOnlyFs, *zipfs.Fs and *tarfs.Fs.
	ReadOnly bool

	// Uid and Gid are the owner reported for files whose Fs records none.
	// Nil means the process's effective uid and gid.
	Uid *uint32
	Gid *uint32

	// Capacity and Files are what StatFS reports, as bytes and inodes, all
	// of them free, when the Fs is not on the local disk. Zero means 1 TiB
	// and 1<<30 inodes.
	Capacity uint64
	Files    uint64

	// MaxFileSize is the largest size, in bytes, that a write or a
	// truncate may give a file. Beyond it they fail with EFBIG ("File too
	// large"), as at a disk filesystem's limit; a write that crosses it
	// writes what fits and then reports EFBIG, as write(2) does at
	// RLIMIT_FSIZE.
	//
	// Zero means DefaultMemMaxFileSize for files that afero's MemMapFs
	// holds (recognised by their handle, *mem.File) and no limit of the
	// adapter's own for any other file: a disk enforces its own, and the
	// adapter cannot know what a remote store can hold. Negative means no
	// limit at all. Set it for any Fs that keeps files in memory, and for
	// a MemMapFs that a wrapper hides from the adapter (faultfs, say).
	MaxFileSize int64

	// Attr, if set, is called for every os.FileInfo after the adapter has
	// filled a from it; it lets a backend's own FileInfo.Sys() value (an
	// sftp FileStat, say) supply owners and times.
	Attr func(fi os.FileInfo, a *sdk.Attr)
}

// DefaultMemMaxFileSize is the size limit of a file that MemMapFs holds when
// Options.MaxFileSize is zero: 1 GiB. MemMapFs keeps a file as one []byte
// and grows it by copying: extending a file to N bytes briefly needs about
// 2N bytes of memory (measured: 525 MB for a 256 MiB hole), so without a
// limit one truncate(2) to 16 TiB asks the Go runtime for 16 TiB and the
// process dies ("fatal error: out of memory"), taking every file with it.
const DefaultMemMaxFileSize = 1 << 30

const (
	defaultCapacity = 1 << 40
	defaultFiles    = 1 << 30
	statfsBlockSize = 4096
	nameMax         = 255
)

// FS is an sdk.FileSystem over an afero.Fs. It is safe for concurrent use as
// far as the afero.Fs is.
type FS struct {
	fs   afero.Fs
	root string // afero path of the mount's root, clean and absolute
	// createMu serialises exclusive creates of one name (striped by a hash
	// of the name): MemMapFs checks for O_EXCL and creates in two steps, so
	// two racing creates could both succeed and one writer's data would go
	// to a discarded file.
	createMu [32]sync.Mutex

	// ioFS is set for afero.FromIOFS, whose paths are io/fs names ("a/b",
	// root "."): an absolute afero path is invalid there.
	ioFS     bool
	readOnly bool
	uid, gid uint32
	capacity uint64
	files    uint64
	attrHook func(os.FileInfo, *sdk.Attr)
	// maxSize is Options.MaxFileSize: 0 default, negative none.
	maxSize int64
	// nameMax is the longest name component, what StatFS reports.
	nameMax int

	// hostRoot is the host directory behind root when the Fs is the local
	// disk, else "". See "The local disk" in the package documentation.
	hostRoot string
	// cow is set for *afero.CopyOnWriteFs, whose copy-up loses modes.
	cow bool
	// mem holds what MemMapFs does not report (owner, atime, ctime).
	mem memTable

	// renameMu orders renames through this FS: plain renames share it;
	// RenameNoReplace (whose existence check and rename must be one step)
	// and RenameExchange (three renames through a temporary name) hold it
	// alone.
	renameMu sync.RWMutex
	// exchangeGen is odd while an exchange runs (one of its names briefly
	// missing) and changes at its start and end: a lookup that finds
	// nothing while it is odd or changing looks again under renameMu (see
	// lstatName).
	exchangeGen atomic.Uint64
	// exchangeSeq numbers temporary names; guarded by renameMu (held alone).
	exchangeSeq uint64

	// linkMu makes a change to the subdirectories of a MemMapFs directory
	// and the matching change of its link count one step (see
	// countSubdirs). Order: renameMu, then linkMu, then mem.mu.
	linkMu sync.Mutex
}

var (
	_ sdk.FileSystem = (*FS)(nil)
	_ sdk.Symlinker  = (*FS)(nil)
)

// New returns an sdk.FileSystem that serves fsys with default Options.
func New(fsys afero.Fs) *FS {
	f, err := NewWithOptions(fsys, nil)
	if err != nil {
		// Only a bad Options value can fail, and there is none.
		panic(err)
	}
	return f
}

// NewWithOptions returns an sdk.FileSystem that serves fsys. opts may be nil.
func NewWithOptions(fsys afero.Fs, opts *Options) (*FS, error) {
	if fsys == nil {
		return nil, errors.New("aferofs: the afero.Fs is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if !strings.HasPrefix(o.Root, "/") || path.Clean(o.Root) != o.Root {
		return nil, fmt.Errorf("aferofs: Options.Root %q must be an absolute, clean, slash-separated path", o.Root)
	}
	f := &FS{
		fs:       fsys,
		root:     o.Root,
		readOnly: o.ReadOnly,
		uid:      processID(os.Geteuid()),
		gid:      processID(os.Getegid()),
		capacity: o.Capacity,
		files:    o.Files,
		attrHook: o.Attr,
		maxSize:  o.MaxFileSize,
	}
	if o.Uid != nil {
		f.uid = *o.Uid
	}
	if o.Gid != nil {
		f.gid = *o.Gid
	}
	if f.capacity == 0 {
		f.capacity = defaultCapacity
	}
	if f.files == 0 {
		f.files = defaultFiles
	}
	switch fsys.(type) {
	case *afero.ReadOnlyFs, *zipfs.Fs, *tarfs.Fs:
		f.readOnly = true
	case *afero.CopyOnWriteFs:
		f.cow = true
	case afero.FromIOFS, *afero.FromIOFS:
		// An io/fs.FS (embed.FS, fstest.MapFS, os.DirFS) cannot change.
		f.readOnly = true
		f.ioFS = true
	}
	f.hostRoot = findHostRoot(fsys, f.root)
	f.nameMax = nameMax
	if f.hostRoot != "" {
		if st, err := hostStatFS(f.hostRoot); err == nil && st.NameMax > 0 && st.NameMax < nameMax {
			// The disk's own limit is lower: say what it says, before it.
			f.nameMax = int(st.NameMax)
		}
	}
	return f, nil
}

// processID turns os.Geteuid's -1 (no such notion on this platform) into 0.
func processID(id int) uint32 {
	if id < 0 {
		return 0
	}
	return uint32(id)
}

// findHostRoot opens the root and, if the Fs hands back a host file (possibly
// inside BasePathFile wrappers), returns the host path of that directory.
func findHostRoot(fsys afero.Fs, root string) string {
	af, err := fsys.Open(root)
	if err != nil {
		return ""
	}
	defer af.Close()
	if osf, ok := unwrapFile(af).(*os.File); ok {
		return osf.Name()
	}
	return ""
}

// unwrapFile strips afero's BasePathFile wrappers.
func unwrapFile(af afero.File) afero.File {
	for {
		bp, ok := af.(*afero.BasePathFile)
		if !ok {
			return af
		}
		af = bp.File
	}
}

// Afero returns the afero.Fs being served.
func (f *FS) Afero() afero.Fs { return f.fs }

// SupportsSymlinks reports whether Symlink is worth trying: it is false when
// the Fs certainly cannot create symbolic links. For a CopyOnWriteFs the
// answer depends on its layer, which afero does not show; it is true there.
func (f *FS) SupportsSymlinks() bool {
	if f.readOnly {
		return false
	}
	if f.hostRoot != "" {
		return true
	}
	switch fsys := f.fs.(type) {
	case *afero.BasePathFs:
		// Not on the local disk: its SymlinkIfPossible would rewrite the
		// target into a path of the source Fs.
		return false
	case *sdkFs:
		if s, ok := fsys.fsys.(interface{ SupportsSymlinks() bool }); ok {
			return s.SupportsSymlinks()
		}
		_, ok := fsys.fsys.(sdk.Symlinker)
		return ok
	}
	_, ok := f.fs.(afero.Linker)
	return ok
}

// apath turns an SDK name into an afero path.
func (f *FS) apath(name string) string {
	if f.ioFS {
		if f.root != "/" {
			return path.Join(f.root[1:], name)
		}
		if name == "" {
			return "."
		}
		return name
	}
	if name == "." || name == "" {
		return f.root
	}
	return path.Join(f.root, name)
}

// hostPath returns the host path of an SDK name, or "" when the Fs is not the
// local disk.
func (f *FS) hostPath(name string) string {
	if f.hostRoot == "" {
		return ""
	}
	if name == "." || name == "" {
		return f.hostRoot
	}
	return f.hostRoot + "/" + name
}

func parentName(name string) string {
	return path.Dir(name)
}

// errReadOnly is what every change returns on a read-only FS.
func errReadOnly(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: sdk.ErrReadOnly}
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// lstat returns the FileInfo of an afero path without following a final
// symlink where the Fs can avoid it.
func (f *FS) lstat(p string) (os.FileInfo, error) {
	if l, ok := f.fs.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(p)
		return fi, err
	}
	return f.fs.Stat(p)
}

// checkName fails with ENAMETOOLONG when a component of name is longer than
// f.nameMax, as a kernel filesystem does at lookup. MemMapFs and most other
// backends would accept any length, so a name no lookup can find would be
// created. Every name the adapter is given passes through here (Stat,
// statAttr, ReadDir); a name no longer than the limit, almost every name,
// costs one comparison.
func (f *FS) checkName(op, name string) error {
	if len(name) <= f.nameMax {
		return nil
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			if i-start > f.nameMax {
				return pathErr(op, name, syscall.ENAMETOOLONG)
			}
			start = i + 1
		}
	}
	return nil
}

// Stat implements sdk.FileSystem.
func (f *FS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	if err := f.checkName("stat", name); err != nil {
		return sdk.Attr{}, err
	}
	fi, err := f.lstatName(name)
	if err != nil {
		return sdk.Attr{}, err
	}
	return f.attr(fi), nil
}

// lstatName is lstat of an SDK name that never misses a name an exchange
// has moved away for a moment: when nothing is found while an exchange ran,
// it looks again holding renameMu, which no exchange holds then. Unless a
// lookup fails, this costs two atomic loads. Callers that hold renameMu
// see no exchange running and never take it again.
func (f *FS) lstatName(name string) (os.FileInfo, error) {
	p := f.apath(name)
	gen := f.exchangeGen.Load()
	fi, err := f.lstat(p)
	if err != nil && (gen&1 != 0 || f.exchangeGen.Load() != gen) && isNotExist(err) {
		f.renameMu.RLock()
		fi, err = f.lstat(p)
		f.renameMu.RUnlock()
	}
	return fi, err
}

// statAttr is Stat for internal callers that also want to know existence.
func (f *FS) statAttr(name string) (sdk.Attr, os.FileInfo, error) {
	if err := f.checkName("stat", name); err != nil {
		return sdk.Attr{}, nil, err
	}
	fi, err := f.lstatName(name)
	if err != nil {
		return sdk.Attr{}, nil, err
	}
	return f.attr(fi), fi, nil
}

// checkParent makes sure the parent of name is an existing directory and
// returns its attributes.
func (f *FS) checkParent(op, name string) (sdk.Attr, error) {
	if name == "." {
		return sdk.Attr{}, pathErr(op, name, syscall.EEXIST)
	}
	pa, _, err := f.statAttr(parentName(name))
	if err != nil {
		return sdk.Attr{}, err
	}
	if !pa.IsDir() {
		return sdk.Attr{}, pathErr(op, name, syscall.ENOTDIR)
	}
	return pa, nil
}

// exists reports whether name exists; errors other than "does not exist"
// are returned.
func (f *FS) exists(name string) (sdk.Attr, bool, error) {
	a, _, err := f.statAttr(name)
	if err == nil {
		return a, true, nil
	}
	if isNotExist(err) {
		return sdk.Attr{}, false, nil
	}
	return sdk.Attr{}, false, err
}

// isNotExist accepts the many spellings of "no such file" afero backends use.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT)
}

// ReadDir implements sdk.FileSystem.
func (f *FS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	if err := f.checkName("readdir", name); err != nil {
		return nil, err
	}
	// CopyOnWriteFs merges directories only through Open, not OpenFile.
	d, err := f.fs.Open(f.apath(name))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if fi, err := d.Stat(); err == nil && !fi.IsDir() {
		return nil, pathErr("readdir", name, syscall.ENOTDIR)
	}
	infos, err := d.Readdir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.DirEntry, 0, len(infos))
	for _, fi := range infos {
		n := fi.Name()
		if n == "" || n == "." || n == ".." || strings.Contains(n, "/") {
			continue
		}
		a := f.attr(fi)
		out = append(out, sdk.DirEntry{Name: n, Type: a.Type(), Ino: a.Ino, Attr: &a})
	}
	return out, nil
}

// Mkdir implements sdk.FileSystem.
func (f *FS) Mkdir(ctx context.Context, name string, perm uint32) error {
	if f.readOnly {
		return errReadOnly("mkdir", name)
	}
	pa, err := f.checkParent("mkdir", name)
	if err != nil {
		return err
	}
	if _, ok, err := f.exists(name); err != nil {
		return err
	} else if ok {
		return pathErr("mkdir", name, syscall.EEXIST)
	}
	want := perm & sdk.PermMask
	if pa.Mode&sdk.ModeSetgid != 0 {
		// Linux: a directory made in a set-group-ID directory inherits the bit.
		want |= sdk.ModeSetgid
	}
	p := f.apath(name)
	unlock := f.lockLinks()
	if err := f.fs.Mkdir(p, sdk.UnixToFileMode(want)); err != nil {
		unlock()
		return err
	}
	f.newDirCounted(name)
	f.addSubdirs(parentName(name), 1)
	unlock()
	if err := f.finishCreate(ctx, name, pa, want, false); err != nil {
		unlock := f.lockLinks()
		if f.fs.Remove(p) == nil {
			f.addSubdirs(parentName(name), -1)
		}
		unlock()
		return err
	}
	f.dirChanged(name)
	return nil
}

// finishCreate gives a new entry exactly the mode asked for (OsFs applied
// the process umask) and the caller as owner.
func (f *FS) finishCreate(ctx context.Context, name string, parent sdk.Attr, want uint32, symlink bool) error {
	p := f.apath(name)
	fi, err := f.lstat(p)
	if err != nil {
		return err
	}
	if !symlink && sdk.FileModeToUnix(fi.Mode())&sdk.PermMask != want {
		if err := f.fs.Chmod(p, sdk.UnixToFileMode(want)); err != nil {
			return err
		}
		fi, err = f.lstat(p)
		if err != nil {
			return err
		}
	}
	c, ok := sdk.CallerFromContext(ctx)
	if !ok {
		return nil
	}
	gid := c.Gid
	if parent.Mode&sdk.ModeSetgid != 0 {
		gid = parent.Gid
	}
	return f.setNewOwner(name, fi, c.Uid, gid, symlink)
}

// setNewOwner records the owner of a freshly created entry.
func (f *FS) setNewOwner(name string, fi os.FileInfo, uid, gid uint32, symlink bool) error {
	if fd := memData(fi); fd != nil {
		f.mem.update(fd, func(m *memMeta) { m.uid, m.gid, m.owned = uid, gid, true })
		return nil
	}
	if _, ok := fi.Sys().(*sdk.Attr); ok {
		// An SDK filesystem behind ToAfero records owners and decides
		// itself who may change them.
		return f.fs.Chown(f.apath(name), int(uid), int(gid))
	}
	cur, isDisk := diskOwner(fi)
	if !isDisk || (cur.uid == uid && cur.gid == gid) || os.Geteuid() != 0 {
		// Only root can give a file away; other Fs types keep the owner
		// they assigned (documented).
		return nil
	}
	if symlink {
		hp := f.hostPath(name)
		if hp == "" {
			return nil
		}
		return lchown(hp, int(uid), int(gid))
	}
	return f.fs.Chown(f.apath(name), int(uid), int(gid))
}

// Unlink implements sdk.FileSystem.
func (f *FS) Unlink(ctx context.Context, name string) error {
	if f.readOnly {
		return errReadOnly("unlink", name)
	}
	a, _, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if a.IsDir() {
		// OsFs would rmdir an empty directory and MemMapFs would drop a
		// full one.
		return pathErr("unlink", name, syscall.EISDIR)
	}
	if err := f.fs.Remove(f.apath(name)); err != nil {
		return err
	}
	f.dirChanged(name)
	return nil
}

// Rmdir implements sdk.FileSystem.
func (f *FS) Rmdir(ctx context.Context, name string) error {
	if f.readOnly {
		return errReadOnly("rmdir", name)
	}
	if name == "." {
		return pathErr("rmdir", name, syscall.EBUSY)
	}
	a, _, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if !a.IsDir() {
		return pathErr("rmdir", name, syscall.ENOTDIR)
	}
	if empty, err := f.isEmptyDir(name); err != nil {
		return err
	} else if !empty {
		return pathErr("rmdir", name, sdk.ErrNotEmpty)
	}
	unlock := f.lockLinks()
	err = f.fs.Remove(f.apath(name))
	if err == nil {
		f.addSubdirs(parentName(name), -1)
	}
	unlock()
	if err != nil {
		return err
	}
	f.dirChanged(name)
	return nil
}

func (f *FS) isEmptyDir(name string) (bool, error) {
	d, err := f.fs.Open(f.apath(name))
	if err != nil {
		return false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return len(names) == 0, nil
}

// Rename implements sdk.FileSystem.
func (f *FS) Rename(ctx context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	if flags&^(sdk.RenameNoReplace|sdk.RenameExchange) != 0 || flags == sdk.RenameNoReplace|sdk.RenameExchange {
		return fmt.Errorf("aferofs: rename %s %s: flags %#x: %w", oldname, newname, uint32(flags), syscall.EINVAL)
	}
	if f.readOnly {
		return errReadOnly("rename", oldname)
	}
	if oldname == "." || newname == "." {
		return pathErr("rename", oldname, syscall.EBUSY)
	}
	if flags&sdk.RenameExchange != 0 {
		return f.exchange(oldname, newname)
	}
	if flags&sdk.RenameNoReplace != 0 {
		f.renameMu.Lock()
		defer f.renameMu.Unlock()
	} else {
		f.renameMu.RLock()
		defer f.renameMu.RUnlock()
	}
	oa, _, err := f.statAttr(oldname)
	if err != nil {
		return err
	}
	if oldname == newname {
		if flags&sdk.RenameNoReplace != 0 {
			return pathErr("rename", newname, syscall.EEXIST)
		}
		return nil
	}
	if strings.HasPrefix(newname, oldname+"/") {
		// rename(2): a directory cannot become its own descendant.
		return pathErr("rename", newname, syscall.EINVAL)
	}
	if _, err := f.checkParent("rename", newname); err != nil {
		return err
	}
	na, exists, err := f.exists(newname)
	if err != nil {
		return err
	}
	if exists {
		switch {
		case flags&sdk.RenameNoReplace != 0:
			return pathErr("rename", newname, syscall.EEXIST)
		case oa.IsDir() && !na.IsDir():
			return pathErr("rename", newname, syscall.ENOTDIR)
		case !oa.IsDir() && na.IsDir():
			return pathErr("rename", newname, syscall.EISDIR)
		case na.IsDir():
			if empty, err := f.isEmptyDir(newname); err != nil {
				return err
			} else if !empty {
				return pathErr("rename", newname, sdk.ErrNotEmpty)
			}
		}
	}
	if err := f.moveEntry(oldname, newname, oa.IsDir(), exists && na.IsDir()); err != nil {
		return err
	}
	f.touchCtime(newname)
	f.dirChanged(oldname)
	if parentName(newname) != parentName(oldname) {
		f.dirChanged(newname)
	}
	return nil
}

// moveEntry renames oldname to newname, first removing newname when it is a
// directory (replacesDir), and keeps the parents' link counts.
func (f *FS) moveEntry(oldname, newname string, isDir, replacesDir bool) error {
	if !isDir {
		return f.fs.Rename(f.apath(oldname), f.apath(newname))
	}
	defer f.lockLinks()()
	if replacesDir {
		// os.Rename refuses to replace even an empty directory, so this
		// case is two steps (documented).
		if err := f.fs.Remove(f.apath(newname)); err != nil {
			return err
		}
		f.addSubdirs(parentName(newname), -1)
	}
	if err := f.fs.Rename(f.apath(oldname), f.apath(newname)); err != nil {
		return err
	}
	f.addSubdirs(parentName(oldname), -1)
	f.addSubdirs(parentName(newname), 1)
	return nil
}

// dirChanged records that the entry name was added to or removed from its
// directory: the directory's mtime and ctime become now. A host directory's
// kernel does that itself; afero's in-memory backends do not.
func (f *FS) dirChanged(name string) {
	if f.hostRoot == "" {
		f.touchDir(parentName(name))
	}
}

// touchDir sets dir's mtime and ctime to now.
func (f *FS) touchDir(dir string) {
	a, _, err := f.statAttr(dir)
	if err != nil {
		return
	}
	if err := f.fs.Chtimes(f.apath(dir), a.Atime, time.Now()); err == nil {
		f.touchCtime(dir)
	}
}

// Truncate implements sdk.FileSystem.
func (f *FS) Truncate(ctx context.Context, name string, size int64) error {
	if f.readOnly {
		return errReadOnly("truncate", name)
	}
	if size < 0 {
		return pathErr("truncate", name, syscall.EINVAL)
	}
	before, _, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if before.IsDir() {
		return pathErr("truncate", name, syscall.EISDIR)
	}
	if !before.IsRegular() {
		return pathErr("truncate", name, syscall.EINVAL)
	}
	if f.maxSize > 0 && size > f.maxSize {
		return pathErr("truncate", name, syscall.EFBIG)
	}
	af, err := f.fs.OpenFile(f.apath(name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.truncateFile(af, name, size)
	if cerr := af.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return f.repairCopyUp(name, before)
}

// Chmod implements sdk.FileSystem.
func (f *FS) Chmod(ctx context.Context, name string, mode uint32) error {
	if f.readOnly {
		return errReadOnly("chmod", name)
	}
	a, _, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if a.Type() == sdk.TypeSymlink {
		// Linux has no lchmod; afero's Chmod would follow the link.
		return pathErr("chmod", name, sdk.ErrNotSupported)
	}
	if err := f.fs.Chmod(f.apath(name), sdk.UnixToFileMode(mode&sdk.PermMask)); err != nil {
		return err
	}
	a.Mode = a.Type() | mode&sdk.PermMask
	if err := f.repairCopyUp(name, a); err != nil {
		return err
	}
	f.touchCtime(name)
	return nil
}

// Chown implements sdk.FileSystem.
func (f *FS) Chown(ctx context.Context, name string, uid, gid int) error {
	if f.readOnly {
		return errReadOnly("chown", name)
	}
	a, fi, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if uid == -1 {
		uid = int(a.Uid)
	}
	if gid == -1 {
		gid = int(a.Gid)
	}
	if uid < 0 || gid < 0 {
		return pathErr("chown", name, syscall.EINVAL)
	}
	if a.Type() == sdk.TypeSymlink {
		hp := f.hostPath(name)
		if hp == "" {
			return pathErr("chown", name, sdk.ErrNotSupported)
		}
		return lchown(hp, uid, gid)
	}
	if err := f.fs.Chown(f.apath(name), uid, gid); err != nil {
		return err
	}
	a.Uid, a.Gid = uint32(uid), uint32(gid)
	if err := f.repairCopyUp(name, a); err != nil {
		return err
	}
	// Re-stat: CopyOnWriteFs may have copied the file to a new layer.
	if nfi, err := f.lstat(f.apath(name)); err == nil {
		fi = nfi
	}
	if fd := memData(fi); fd != nil {
		now := time.Now()
		f.mem.update(fd, func(m *memMeta) {
			m.uid, m.gid, m.owned = uint32(uid), uint32(gid), true
			m.ctime = now
		})
	}
	return nil
}

// SetTimes implements sdk.FileSystem.
func (f *FS) SetTimes(ctx context.Context, name string, atime, mtime time.Time) error {
	if f.readOnly {
		return errReadOnly("utimens", name)
	}
	a, _, err := f.statAttr(name)
	if err != nil {
		return err
	}
	if atime.IsZero() && mtime.IsZero() {
		return nil
	}
	if atime.IsZero() {
		atime = a.Atime
	}
	if mtime.IsZero() {
		mtime = a.Mtime
	}
	if a.Type() == sdk.TypeSymlink {
		hp := f.hostPath(name)
		if hp == "" {
			return pathErr("utimens", name, sdk.ErrNotSupported)
		}
		return lutimes(hp, atime, mtime)
	}
	if err := f.fs.Chtimes(f.apath(name), atime, mtime); err != nil {
		return err
	}
	if err := f.repairCopyUp(name, a); err != nil {
		return err
	}
	if fi, err := f.lstat(f.apath(name)); err == nil {
		if fd := memData(fi); fd != nil {
			now := time.Now()
			f.mem.update(fd, func(m *memMeta) { m.atime, m.ctime = atime, now })
		}
	}
	return nil
}

// StatFS implements sdk.FileSystem.
func (f *FS) StatFS(ctx context.Context) (sdk.StatFS, error) {
	if f.hostRoot != "" {
		if st, err := hostStatFS(f.hostRoot); err == nil {
			return st, nil
		} else if !errors.Is(err, errors.ErrUnsupported) {
			return sdk.StatFS{}, err
		}
	}
	blocks := f.capacity / statfsBlockSize
	free, files := blocks, f.files
	if f.readOnly {
		free, files = 0, 0
	}
	return sdk.StatFS{
		BlockSize:   statfsBlockSize,
		FragSize:    statfsBlockSize,
		Blocks:      blocks,
		BlocksFree:  free,
		BlocksAvail: free,
		Files:       f.files,
		FilesFree:   files,
		NameMax:     uint64(f.nameMax),
	}, nil
}

// Symlink implements sdk.Symlinker.
func (f *FS) Symlink(ctx context.Context, target, newname string) error {
	if f.readOnly {
		return errReadOnly("symlink", newname)
	}
	if err := f.checkName("symlink", newname); err != nil {
		return err
	}
	if !f.SupportsSymlinks() {
		return &os.LinkError{Op: "symlink", Old: target, New: newname, Err: fmt.Errorf("%s has no symbolic links: %w", f.fs.Name(), sdk.ErrNotSupported)}
	}
	pa, err := f.checkParent("symlink", newname)
	if err != nil {
		return err
	}
	if _, ok, err := f.exists(newname); err != nil {
		return err
	} else if ok {
		return pathErr("symlink", newname, syscall.EEXIST)
	}
	if hp := f.hostPath(newname); hp != "" {
		// BasePathFs would rewrite target into a host path.
		err = os.Symlink(target, hp)
	} else {
		err = f.fs.(afero.Linker).SymlinkIfPossible(target, f.apath(newname))
	}
	if err != nil {
		return err
	}
	if err := f.finishCreate(ctx, newname, pa, 0, true); err != nil {
		_ = f.fs.Remove(f.apath(newname))
		return err
	}
	f.dirChanged(newname)
	return nil
}

// Readlink implements sdk.Symlinker.
func (f *FS) Readlink(ctx context.Context, name string) (string, error) {
	a, fi, err := f.statAttr(name)
	if err != nil {
		return "", err
	}
	if a.Type() != sdk.TypeSymlink {
		return "", pathErr("readlink", name, syscall.EINVAL)
	}
	if hp := f.hostPath(name); hp != "" {
		return os.Readlink(hp)
	}
	if lr, ok := f.fs.(afero.LinkReader); ok {
		t, err := lr.ReadlinkIfPossible(f.apath(name))
		if err == nil || !errors.Is(err, afero.ErrNoReadlink) {
			return t, err
		}
	}
	if t, ok := sysLinkTarget(fi); ok {
		return t, nil
	}
	return "", pathErr("readlink", name, sdk.ErrNotSupported)
}

// touchCtime records a metadata change for Fs types that keep no ctime.
func (f *FS) touchCtime(name string) {
	fi, err := f.lstat(f.apath(name))
	if err != nil {
		return
	}
	if fd := memData(fi); fd != nil {
		now := time.Now()
		f.mem.update(fd, func(m *memMeta) { m.ctime = now })
	}
}

// repairCopyUp undoes what afero's CopyOnWriteFs loses when it copies a file
// from the base to the layer: it creates the copy with Create, which on
// MemMapFs means mode 0, and sets no owner. want is what the file should
// still have.
func (f *FS) repairCopyUp(name string, want sdk.Attr) error {
	if !f.cow {
		return nil
	}
	p := f.apath(name)
	fi, err := f.lstat(p)
	if err != nil {
		return err
	}
	got := f.attr(fi)
	if got.Mode&sdk.PermMask != want.Mode&sdk.PermMask {
		if err := f.fs.Chmod(p, sdk.UnixToFileMode(want.Mode&sdk.PermMask)); err != nil {
			return err
		}
	}
	if got.Uid != want.Uid || got.Gid != want.Gid {
		return f.setNewOwner(name, fi, want.Uid, want.Gid, false)
	}
	return nil
}
