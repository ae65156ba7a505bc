//go:build !linux || cgo

package sdk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/winfsp/cgofuse/fuse"
)

// noFh is what cgofuse passes when a callback has no file handle.
const noFh = ^uint64(0)

// hiddenPrefix starts the names libfuse gives files that are unlinked while
// open. They are an artefact of the binding, never shown in listings.
const hiddenPrefix = ".fuse_hidden"

// capabilityXattr is asked for on every write(2), by the kernel deciding
// whether to drop file capabilities. Its answer is cached so that writes do
// not cost a round trip to the filesystem each.
const capabilityXattr = "security.capability"

// bridge implements cgofuse's FileSystemInterface on top of a FileSystem.
// It turns C-style calls (negative errnos, fh numbers, "/"-rooted paths)
// into Go calls (errors, File values, io/fs names), and owns everything that
// has to be right for every filesystem: the handle table, append placement,
// the attribute cache, synthesised inode numbers, counters and panic
// containment. Each exported method is one FUSE callback and may run on any
// of libfuse's threads concurrently.
type bridge struct {
	fsys FileSystem
	opts *resolved
	log  *slog.Logger // nil: no logging
	ctx  context.Context

	// Optional capabilities, resolved once by type assertion.
	symlinker Symlinker
	linker    Linker
	xattrer   Xattrer
	mknoder   Mknoder
	accesser  Accesser
	syncer    Syncer
	dirSyncer DirSyncer

	handles handleTable
	nodes   nodeTable
	attrs   *attrCache
	inos    *inodeTable
	stats   counters

	started time.Time // when the mount was made; leftovers are older

	initOnce sync.Once
	initc    chan struct{} // closed by Init
	// destroyed is called once from Destroy with the drain error.
	destroyed func(error)
}

func newBridge(ctx context.Context, fsys FileSystem, opts *resolved, destroyed func(error)) *bridge {
	b := &bridge{
		fsys:      fsys,
		opts:      opts,
		log:       opts.Logger,
		ctx:       ctx,
		attrs:     newAttrCache(opts.attrTTL),
		inos:      newInodeTable(),
		initc:     make(chan struct{}),
		destroyed: destroyed,
		started:   time.Now(),
	}
	b.symlinker, _ = fsys.(Symlinker)
	b.linker, _ = fsys.(Linker)
	if !opts.NoXattrs {
		b.xattrer, _ = fsys.(Xattrer)
	}
	if b.xattrer != nil {
		// A wrapper (the write-back layer, a latency injector) has the
		// methods whether or not what it wraps does, and answers
		// ErrNotSupported. A root that cannot list its xattrs means a
		// filesystem without any: answering ENOSYS (noXattrs) then lets the
		// kernel stop asking for security.capability before every write(2).
		if _, err := b.xattrer.ListXattr(ctx, "."); errors.Is(err, ErrNotSupported) {
			b.xattrer = nil
		}
	}
	b.mknoder, _ = fsys.(Mknoder)
	b.accesser, _ = fsys.(Accesser)
	b.syncer, _ = fsys.(Syncer)
	b.dirSyncer, _ = fsys.(DirSyncer)
	return b
}

var _ fuse.FileSystemInterface = (*bridge)(nil)
var _ fuse.FileSystemOpenEx = (*bridge)(nil)
var _ fuse.FileSystemRename3 = (*bridge)(nil)

// begin starts a callback: the request context carries the caller.
func (b *bridge) begin() (context.Context, time.Time) {
	uid, gid, pid := fuse.Getcontext()
	return WithCaller(b.ctx, Caller{Uid: uid, Gid: gid, Pid: pid}), time.Now()
}

// end finishes a callback. It must be deferred directly so that recover
// sees a panic: the panic is logged with its stack and answered with EIO,
// and the mount keeps serving.
func (b *bridge) end(op Op, start time.Time, path string, rc *int) {
	if r := recover(); r != nil {
		b.stats.panics.Add(1)
		b.warn("recovered panic in FUSE callback; answering EIO",
			"op", op.String(), "path", path, "panic", r, "stack", string(debug.Stack()))
		*rc = -int(syscall.EIO)
	}
	var errno syscall.Errno
	if *rc < 0 {
		errno = syscall.Errno(-*rc)
	}
	d := time.Since(start)
	b.stats.record(op, d, errno)
	if b.log != nil && b.log.Enabled(b.ctx, slog.LevelDebug) {
		attrs := []any{"op", op.String(), "path", path, "dur", d}
		if errno != 0 {
			attrs = append(attrs, "errno", errno.Error())
		}
		b.log.Debug("fuse", attrs...)
	}
}

func (b *bridge) warn(msg string, args ...any) {
	if b.log != nil {
		b.log.Warn(msg, args...)
	}
}

// errc turns an error into cgofuse's negative errno.
func errc(err error) int {
	return -int(Errno(err))
}

// fsName turns cgofuse's "/a/b" into the io/fs form "a/b" ("." for root).
func fsName(path string) string {
	if len(path) <= 1 {
		return "."
	}
	return path[1:]
}

// stat answers from the attribute cache or asks the filesystem and caches
// the answer, including "does not exist".
func (b *bridge) stat(ctx context.Context, name string) (Attr, error) {
	if a, err, ok := b.attrs.get(name); ok {
		return a, err
	}
	a, err := b.fsys.Stat(ctx, name)
	switch {
	case err == nil:
		b.attrs.put(name, a, nil)
	case Errno(err) == syscall.ENOENT:
		b.attrs.put(name, Attr{}, err)
	}
	return a, err
}

// fill converts attributes for the kernel, applying synthesised inode
// numbers and the owner/umask overrides.
func (b *bridge) fill(st *fuse.Stat_t, name string, a *Attr) {
	ino := a.Ino
	if ino == 0 {
		ino = b.inos.get(name)
	}
	mode := a.Mode
	if b.opts.Umask != nil {
		mode &^= *b.opts.Umask
	}
	*st = fuse.Stat_t{
		Ino:     ino,
		Mode:    mode,
		Nlink:   a.Nlink,
		Uid:     a.Uid,
		Gid:     a.Gid,
		Rdev:    a.Rdev,
		Size:    a.Size,
		Blocks:  a.Blocks,
		Blksize: a.Blksize,
		Atim:    timespec(a.Atime),
		Mtim:    timespec(a.Mtime),
		Ctim:    timespec(a.Ctime),
	}
	if st.Nlink == 0 {
		st.Nlink = 1
	}
	if b.opts.OwnerUID != nil {
		st.Uid = *b.opts.OwnerUID
	}
	if b.opts.OwnerGID != nil {
		st.Gid = *b.opts.OwnerGID
	}
	if st.Blocks == 0 && st.Size > 0 && a.Mode&TypeMask == TypeRegular {
		st.Blocks = (st.Size + 511) / 512
	}
	if st.Blksize == 0 {
		st.Blksize = 4096
	}
}

func timespec(t time.Time) fuse.Timespec {
	if t.IsZero() {
		return fuse.Timespec{}
	}
	return fuse.NewTimespec(t)
}

// --- lifecycle ---

func (b *bridge) Init() {
	b.initOnce.Do(func() { close(b.initc) })
}

// Destroy runs after the kernel has let go of the mount. Data still held in
// memory (a write-back layer) is drained here as the last chance; the error
// reaches Server.Wait.
func (b *bridge) Destroy() {
	var err error
	if b.syncer != nil {
		err = b.syncer.SyncFS(b.ctx)
	}
	if b.destroyed != nil {
		b.destroyed(err)
	}
}

// --- attributes ---

func (b *bridge) Getattr(path string, st *fuse.Stat_t, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpGetattr, t, path, &rc)
	name := fsName(path)
	if fh != noFh {
		if h := b.handles.get(fh); h != nil {
			if fst, ok := h.file.(FileStater); ok {
				a, err := fst.Stat(ctx)
				if err != nil {
					return errc(err)
				}
				b.fill(st, name, &a)
				return 0
			}
		}
	}
	a, err := b.stat(ctx, name)
	if err != nil {
		return errc(err)
	}
	b.fill(st, name, &a)
	return 0
}

func (b *bridge) Chmod(path string, mode uint32) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpChmod, t, path, &rc)
	name := fsName(path)
	err := b.fsys.Chmod(ctx, name, mode&PermMask)
	b.attrs.invalidate(name)
	return errc(err)
}

func (b *bridge) Chown(path string, uid, gid uint32) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpChown, t, path, &rc)
	name := fsName(path)
	u, g := -1, -1
	if uid != ^uint32(0) {
		u = int(uid)
	}
	if gid != ^uint32(0) {
		g = int(gid)
	}
	// Whether an unprivileged caller keeps setgid depends on the group
	// the file had before the change.
	c, _ := CallerFromContext(ctx)
	oldGid, knownGid := uint32(0), false
	if c.Uid != 0 {
		if a, err := b.stat(ctx, name); err == nil {
			oldGid, knownGid = a.Gid, true
		}
	}
	err := b.fsys.Chown(ctx, name, u, g)
	b.attrs.invalidate(name)
	if err != nil {
		return errc(err)
	}
	// chown(2) drops setuid, and setgid as dropOnChown says, for every
	// caller. A backend that is not a kernel filesystem does not know
	// that, and the kernel's FUSE client applies an older rule.
	a, err := b.fsys.Stat(ctx, name)
	if err != nil {
		return 0
	}
	before := a
	if knownGid {
		before.Gid = oldGid
	}
	if bits := dropOnChown(c, &before); bits != 0 {
		if err := b.fsys.Chmod(ctx, name, a.Mode&PermMask&^bits); err != nil {
			return errc(err)
		}
		b.attrs.invalidate(name)
	}
	return 0
}

func (b *bridge) Utimens(path string, tmsp []fuse.Timespec) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpUtimens, t, path, &rc)
	name := fsName(path)
	atime, mtime := utimeArg(tmsp, 0), utimeArg(tmsp, 1)
	if atime.IsZero() && mtime.IsZero() {
		// Both UTIME_OMIT: nothing changes, not even ctime.
		return 0
	}
	err := b.fsys.SetTimes(ctx, name, atime, mtime)
	b.attrs.invalidate(name)
	return errc(err)
}

// utimeArg resolves UTIME_NOW and UTIME_OMIT, which the libfuse3 build
// passes through raw when only one of the times is special.
func utimeArg(tmsp []fuse.Timespec, i int) time.Time {
	if i >= len(tmsp) {
		return time.Time{}
	}
	switch tmsp[i].Nsec {
	case fuse.UTIME_OMIT:
		return time.Time{}
	case fuse.UTIME_NOW:
		return time.Now()
	}
	return time.Unix(tmsp[i].Sec, tmsp[i].Nsec)
}

func (b *bridge) Access(path string, mask uint32) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpAccess, t, path, &rc)
	name := fsName(path)
	if b.accesser != nil {
		// A wrapper (the write-back layer, say) has the method whether or
		// not what it wraps does; ErrNotSupported means "decide yourself".
		if err := b.accesser.Access(ctx, name, mask); !errors.Is(err, ErrNotSupported) {
			return errc(err)
		}
	}
	if b.opts.kernelChecks() {
		// default_permissions: the kernel has checked the mode bits already.
		return 0
	}
	a, err := b.stat(ctx, name)
	if err != nil {
		return errc(err)
	}
	c, _ := CallerFromContext(ctx)
	if !modeAllows(&a, c, mask) {
		return -int(syscall.EACCES)
	}
	return 0
}

// modeAllows applies the classic owner/group/other check. Root may do
// anything except execute a file that nobody may execute.
func modeAllows(a *Attr, c Caller, mask uint32) bool {
	mask &= 7
	if mask == 0 {
		return true
	}
	if c.Uid == 0 {
		return mask&1 == 0 || a.Mode&0o111 != 0 || a.IsDir()
	}
	var perm uint32
	switch {
	case a.Uid == c.Uid:
		perm = a.Mode >> 6 & 7
	case a.Gid == c.Gid:
		perm = a.Mode >> 3 & 7
	default:
		perm = a.Mode & 7
	}
	return perm&mask == mask
}

func (b *bridge) Statfs(path string, st *fuse.Statfs_t) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpStatfs, t, path, &rc)
	s, err := b.fsys.StatFS(ctx)
	if err != nil {
		return errc(err)
	}
	*st = fuse.Statfs_t{
		Bsize:   s.BlockSize,
		Frsize:  s.FragSize,
		Blocks:  s.Blocks,
		Bfree:   s.BlocksFree,
		Bavail:  s.BlocksAvail,
		Files:   s.Files,
		Ffree:   s.FilesFree,
		Favail:  s.FilesFree,
		Namemax: s.NameMax,
	}
	if st.Frsize == 0 {
		st.Frsize = st.Bsize
	}
	if st.Namemax == 0 {
		st.Namemax = 255
	}
	return 0
}

// --- namespace ---

func (b *bridge) Mknod(path string, mode uint32, dev uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpMknod, t, path, &rc)
	name := fsName(path)
	defer b.attrs.invalidate(name)
	if b.mknoder != nil {
		return errc(b.mknoder.Mknod(ctx, name, mode, dev))
	}
	if mode&TypeMask != TypeRegular && mode&TypeMask != 0 {
		return -int(syscall.EPERM)
	}
	f, err := b.fsys.Open(ctx, name, oCreat|oExcl|oWronly, mode&PermMask)
	if err != nil {
		return errc(err)
	}
	return errc(f.Close())
}

func (b *bridge) Mkdir(path string, mode uint32) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpMkdir, t, path, &rc)
	name := fsName(path)
	err := b.fsys.Mkdir(ctx, name, mode&PermMask)
	b.attrs.invalidate(name)
	return errc(err)
}

func (b *bridge) Unlink(path string) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpUnlink, t, path, &rc)
	name := fsName(path)
	err := b.fsys.Unlink(ctx, name)
	b.attrs.invalidate(name)
	if err == nil {
		b.inos.forget(name)
	}
	return errc(err)
}

func (b *bridge) Rmdir(path string) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpRmdir, t, path, &rc)
	name := fsName(path)
	err := b.fsys.Rmdir(ctx, name)
	b.attrs.invalidate(name)
	if err == nil {
		b.inos.forget(name)
	}
	return errc(err)
}

func (b *bridge) Link(oldpath, newpath string) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpLink, t, newpath, &rc)
	if b.linker == nil {
		// link(2): EPERM when the filesystem does not support hard links.
		return -int(syscall.EPERM)
	}
	oldname, newname := fsName(oldpath), fsName(newpath)
	err := b.linker.Link(ctx, oldname, newname)
	b.attrs.invalidate(oldname)
	b.attrs.invalidate(newname)
	return errc(err)
}

func (b *bridge) Symlink(target, newpath string) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpSymlink, t, newpath, &rc)
	if b.symlinker == nil {
		// symlink(2): EPERM when the filesystem does not support symlinks.
		return -int(syscall.EPERM)
	}
	name := fsName(newpath)
	err := b.symlinker.Symlink(ctx, target, name)
	b.attrs.invalidate(name)
	return errc(err)
}

func (b *bridge) Readlink(path string) (rc int, target string) {
	ctx, t := b.begin()
	defer b.end(OpReadlink, t, path, &rc)
	if b.symlinker == nil {
		return -int(syscall.EINVAL), ""
	}
	target, err := b.symlinker.Readlink(ctx, fsName(path))
	if err != nil {
		return errc(err), ""
	}
	return 0, target
}

func (b *bridge) Rename(oldpath, newpath string) int {
	return b.Rename3(oldpath, newpath, 0)
}

// Rename3 receives renameat2 flags in the libfuse3 build; libfuse2 refuses
// flags itself (EINVAL) before they get here.
func (b *bridge) Rename3(oldpath, newpath string, flags uint32) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpRename, t, oldpath, &rc)
	oldname, newname := fsName(oldpath), fsName(newpath)
	rf := RenameFlags(flags)
	if rf&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 || rf&RenameExchange != 0 && rf != RenameExchange {
		return -int(syscall.EINVAL)
	}
	exchange := rf&RenameExchange != 0
	// Only a directory move needs the per-tree bookkeeping below, which
	// walks whole tables; a file rename touches two entries.
	tree := b.isDir(ctx, oldname) || (exchange && b.isDir(ctx, newname))
	err := b.fsys.Rename(ctx, oldname, newname, rf)
	if tree {
		b.attrs.invalidateTree(oldname)
		b.attrs.invalidateTree(newname)
	} else {
		b.attrs.invalidate(oldname)
		b.attrs.invalidate(newname)
	}
	if err != nil {
		return errc(err)
	}
	b.nodes.rename(oldname, newname, exchange, tree)
	b.inos.rename(oldname, newname, exchange, tree)
	return 0
}

func (b *bridge) isDir(ctx context.Context, name string) bool {
	a, err := b.stat(ctx, name)
	return err == nil && a.IsDir()
}

// --- directories ---

func (b *bridge) Opendir(path string) (rc int, fh uint64) {
	ctx, t := b.begin()
	defer b.end(OpOpendir, t, path, &rc)
	a, err := b.stat(ctx, fsName(path))
	if err != nil {
		return errc(err), noFh
	}
	if !a.IsDir() {
		return -int(syscall.ENOTDIR), noFh
	}
	return 0, noFh
}

// Readdir lists the whole directory in one call (offset 0 in fill): libfuse
// buffers it and serves the application's getdents from the buffer.
func (b *bridge) Readdir(path string, fill func(name string, stat *fuse.Stat_t, ofst int64) bool,
	ofst int64, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpReaddir, t, path, &rc)
	name := fsName(path)
	ents, err := b.fsys.ReadDir(ctx, name)
	if err != nil {
		return errc(err)
	}
	var st fuse.Stat_t
	if a, err := b.stat(ctx, name); err == nil {
		b.fill(&st, name, &a)
	} else {
		st.Mode = TypeDir
	}
	if !fill(".", &st, 0) {
		return 0
	}
	st = fuse.Stat_t{Mode: TypeDir}
	if name != "." {
		if a, err := b.stat(ctx, parentOf(name)); err == nil {
			b.fill(&st, parentOf(name), &a)
		}
	}
	if !fill("..", &st, 0) {
		return 0
	}
	for i := range ents {
		e := &ents[i]
		child := join(name, e.Name)
		if isHiddenName(e.Name) {
			b.removeLeftover(ctx, child)
			continue
		}
		if e.Attr != nil {
			b.attrs.put(child, *e.Attr, nil)
			b.fill(&st, child, e.Attr)
		} else {
			st = fuse.Stat_t{Ino: e.Ino, Mode: e.Type}
			if st.Ino == 0 {
				st.Ino = b.inos.get(child)
			}
		}
		if !fill(e.Name, &st, 0) {
			break
		}
	}
	return 0
}

// isHiddenName matches exactly the names libfuse gives files unlinked while
// open: ".fuse_hidden" and 16 hex digits (inode and counter).
func isHiddenName(name string) bool {
	if len(name) != len(hiddenPrefix)+16 || !strings.HasPrefix(name, hiddenPrefix) {
		return false
	}
	for _, c := range name[len(hiddenPrefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// removeLeftover deletes a .fuse_hidden file that no handle of this mount
// has open, has no other link and was last changed before this mount
// started: libfuse renames files unlinked while open to such names and
// removes them at the last close, so such a file is what a crashed server
// left behind. A live one of another process serving the same backend is
// newer than the mount only if it was unlinked since; one unlinked earlier
// would be taken (that setup, two servers over one backend, is not
// supported).
func (b *bridge) removeLeftover(ctx context.Context, name string) {
	if b.opts.ReadOnly || b.nodes.isOpen(name) {
		return
	}
	a, err := b.fsys.Stat(ctx, name)
	if err != nil || !a.IsRegular() || a.Nlink > 1 || !a.Ctime.Before(b.started) {
		return
	}
	if err := b.fsys.Unlink(ctx, name); err != nil && Errno(err) != syscall.ENOENT {
		b.warn("cannot remove leftover of a file unlinked while open", "name", name, "err", err)
		return
	}
	b.attrs.invalidate(name)
}

func (b *bridge) Releasedir(path string, fh uint64) (rc int) {
	_, t := b.begin()
	defer b.end(OpReleasedir, t, path, &rc)
	return 0
}

func (b *bridge) Fsyncdir(path string, datasync bool, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpFsyncdir, t, path, &rc)
	if b.dirSyncer == nil {
		return 0
	}
	return errc(b.dirSyncer.SyncDir(ctx, fsName(path)))
}

// --- files ---

func (b *bridge) Open(path string, flags int) (int, uint64) {
	fi := fuse.FileInfo_t{Flags: flags}
	rc := b.OpenEx(path, &fi)
	return rc, fi.Fh
}

func (b *bridge) Create(path string, flags int, mode uint32) (int, uint64) {
	fi := fuse.FileInfo_t{Flags: flags}
	rc := b.CreateEx(path, mode, &fi)
	return rc, fi.Fh
}

func (b *bridge) OpenEx(path string, fi *fuse.FileInfo_t) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpOpen, t, path, &rc)
	return b.open(ctx, fsName(path), fi.Flags, 0, fi)
}

func (b *bridge) CreateEx(path string, mode uint32, fi *fuse.FileInfo_t) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpCreate, t, path, &rc)
	return b.open(ctx, fsName(path), fi.Flags|oCreat, mode&PermMask, fi)
}

func (b *bridge) open(ctx context.Context, name string, flags int, perm uint32, fi *fuse.FileInfo_t) int {
	// killPriv: the first write by an unprivileged caller must check for
	// setuid/setgid bits. An unprivileged opener learns now whether there
	// are any (usually from the attribute cache, filled by the lookup that
	// preceded the open). Root's own writes never clear them, so for root
	// the question waits until someone else writes through the descriptor
	// (a child it forked, one it passed the descriptor to): that saves a
	// stat per open for root, which for a union filesystem is a walk of
	// every layer.
	var killPriv bool
	var before Attr // the file before an unprivileged open(O_TRUNC)
	c, _ := CallerFromContext(ctx)
	if flags&oCreat == 0 && (flags&oAccMode != 0 || flags&oTrunc != 0) {
		if c.Uid == 0 {
			killPriv = true
		} else if a, err := b.stat(ctx, name); err == nil {
			killPriv = a.IsRegular() && a.Mode&privBits != 0
			before = a
		}
	}
	f, err := b.fsys.Open(ctx, name, flags, perm)
	if flags&(oCreat|oTrunc) != 0 {
		b.attrs.invalidate(name)
	}
	if err != nil {
		if flags&oCreat == 0 && Errno(err) == syscall.ENOENT {
			return b.vanished(name)
		}
		return errc(err)
	}
	if flags&oTrunc != 0 && dropOnWrite(c, &before) != 0 {
		// The kernel's FUSE client leaves out the mode change of a
		// truncating open when the server truncates in open.
		b.dropPriv(ctx, c, name)
	}
	h := &handle{
		file:   f,
		flags:  flags,
		append: flags&oAppend != 0,
		node:   b.nodes.acquire(name),
	}
	h.killPriv.Store(killPriv)
	fi.Fh = b.handles.add(h)
	switch b.opts.policy(name, flags) {
	case CacheDirect:
		fi.DirectIo = true
	case CacheKeep:
		fi.KeepCache = true
	}
	// O_DIRECT must bypass the page cache. O_APPEND handles do too: the SDK
	// places appends at the true end of file, which can differ from the
	// offset the kernel would have cached the data at.
	if flags&(oDirect|oAppend) != 0 {
		fi.DirectIo = true
		fi.KeepCache = false
	}
	return 0
}

// vanished answers an open without O_CREAT whose name the filesystem no
// longer has. Such an open comes for an inode the kernel has just looked
// up, so the name was unlinked or replaced in between: by another process,
// behind the mount, or by libfuse itself removing the hidden name of a file
// unlinked while open when that file's last other handle was released
// (measured: every ENOENT the SDK gave an open under concurrent
// create/rename/unlink was for a .fuse_hidden name). On Linux's own
// filesystems the open still succeeds on the inode the lookup found, and
// open(O_CREAT) never fails with ENOENT in an existing directory. ESTALE,
// unlike ENOENT, makes the VFS repeat the whole open once with fresh
// lookups (do_filp_open, LOOKUP_REVAL), which then creates or opens what
// the name is now, or fails with ENOENT if it is really gone; libfuse3
// answers ESTALE for the same reason when it has already dropped the name.
// The cached attributes of the name are dropped so that the repeated
// lookup asks the filesystem.
func (b *bridge) vanished(name string) int {
	b.attrs.invalidate(name)
	return -int(syscall.ESTALE)
}

func (b *bridge) Read(path string, buff []byte, ofst int64, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpRead, t, path, &rc)
	h := b.handles.get(fh)
	if h == nil {
		return -int(syscall.EBADF)
	}
	// The kernel takes a short read as end of file, so keep reading until
	// the buffer is full, the file ends or an error says why not.
	n := 0
	for n < len(buff) {
		m, err := h.file.ReadAt(ctx, buff[n:], ofst+int64(n))
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return errc(err)
		}
		if m == 0 {
			break
		}
	}
	b.stats.bytesRead.Add(uint64(n))
	return n
}

func (b *bridge) Write(path string, buff []byte, ofst int64, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpWrite, t, path, &rc)
	h := b.handles.get(fh)
	if h == nil {
		return -int(syscall.EBADF)
	}
	name := fsName(path)
	if h.append {
		// The kernel's offset comes from its cached size, which another
		// appender may have made stale: place the write at the real end.
		h.node.appendMu.Lock()
		defer h.node.appendMu.Unlock()
		size, err := b.currentSize(ctx, h, name)
		if err != nil {
			return errc(err)
		}
		ofst = size
	}
	n, err := h.file.WriteAt(ctx, buff, ofst)
	if n > 0 {
		b.attrs.invalidateData(name)
		b.stats.bytesWritten.Add(uint64(n))
		if h.killPriv.Load() {
			b.dropPrivOnWrite(ctx, h, name)
		}
	}
	if err != nil && n == 0 {
		return errc(err)
	}
	return n
}

// currentSize reads the size of an open file without the attribute cache,
// preferring the handle (a write-back layer knows about unflushed data).
func (b *bridge) currentSize(ctx context.Context, h *handle, name string) (int64, error) {
	if fst, ok := h.file.(FileStater); ok {
		a, err := fst.Stat(ctx)
		return a.Size, err
	}
	a, err := b.fsys.Stat(ctx, name)
	return a.Size, err
}

// dropPrivOnWrite clears setuid/setgid after the first write by a caller
// other than root, as the kernel does for its own filesystems.
func (b *bridge) dropPrivOnWrite(ctx context.Context, h *handle, name string) {
	c, _ := CallerFromContext(ctx)
	if c.Uid == 0 {
		return
	}
	if !h.killPriv.CompareAndSwap(true, false) {
		return
	}
	b.dropPriv(ctx, c, name)
}

// dropPriv removes the bits a write or truncate by c removes, reading the
// mode afresh.
func (b *bridge) dropPriv(ctx context.Context, c Caller, name string) {
	a, err := b.fsys.Stat(ctx, name)
	if err != nil {
		return
	}
	bits := dropOnWrite(c, &a)
	if bits == 0 {
		return
	}
	if err := b.fsys.Chmod(ctx, name, a.Mode&PermMask&^bits); err != nil {
		b.warn("cannot clear setuid/setgid", "name", name, "err", err)
	}
	b.attrs.invalidate(name)
}

func (b *bridge) Truncate(path string, size int64, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpTruncate, t, path, &rc)
	name := fsName(path)
	// truncate(2) and ftruncate(2) drop setuid/setgid like a write. The
	// kernel sends a mode change with the truncation for what its FUSE
	// client's older rule covers; setgid without group execute is left to
	// the server. Root drops nothing and pays nothing here.
	c, _ := CallerFromContext(ctx)
	var drop bool
	if c.Uid != 0 {
		if a, err := b.stat(ctx, name); err == nil {
			drop = dropOnWrite(c, &a) != 0
		}
	}
	var err error
	if h := b.handles.get(fh); fh != noFh && h != nil {
		err = h.file.Truncate(ctx, size)
	} else {
		err = b.fsys.Truncate(ctx, name, size)
	}
	b.attrs.invalidateData(name)
	if err == nil && drop {
		b.dropPriv(ctx, c, name)
	}
	return errc(err)
}

// Flush comes with every close(2). Its error is what close(2) returns.
func (b *bridge) Flush(path string, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpFlush, t, path, &rc)
	h := b.handles.get(fh)
	if h == nil {
		return -int(syscall.EBADF)
	}
	if fl, ok := h.file.(Flusher); ok {
		return errc(fl.Flush(ctx))
	}
	return 0
}

// Release comes once, after the last close(2). Its error reaches nobody, so
// it is logged.
func (b *bridge) Release(path string, fh uint64) (rc int) {
	_, t := b.begin()
	defer b.end(OpRelease, t, path, &rc)
	h := b.handles.remove(fh)
	if h == nil {
		return -int(syscall.EBADF)
	}
	err := h.file.Close()
	b.nodes.release(h.node)
	if err != nil {
		b.warn("error closing file (no application will see it)", "path", path, "err", err)
	}
	return errc(err)
}

func (b *bridge) Fsync(path string, datasync bool, fh uint64) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpFsync, t, path, &rc)
	h := b.handles.get(fh)
	if h == nil {
		return -int(syscall.EBADF)
	}
	return errc(h.file.Sync(ctx, datasync))
}

// --- extended attributes ---

// noXattrs answers xattr calls on a filesystem without Xattrer. ENOSYS is
// the one deliberate ENOSYS of the SDK: the kernel then stops sending xattr
// requests for the whole mount (applications get EOPNOTSUPP, which is the
// truth), which saves the round trip the kernel otherwise makes before
// every write(2) to ask for security.capability.
const noXattrs = -int(syscall.ENOSYS)

func (b *bridge) Setxattr(path, attr string, value []byte, flags int) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpSetxattr, t, path, &rc)
	if b.xattrer == nil {
		return noXattrs
	}
	name := fsName(path)
	err := b.xattrer.SetXattr(ctx, name, attr, value, XattrFlags(flags))
	b.attrs.invalidate(name)
	return errc(err)
}

func (b *bridge) Getxattr(path, attr string) (rc int, value []byte) {
	ctx, t := b.begin()
	defer b.end(OpGetxattr, t, path, &rc)
	if b.xattrer == nil {
		return noXattrs, nil
	}
	name := fsName(path)
	if attr == capabilityXattr {
		if v, err, ok := b.attrs.getCap(name); ok {
			if err != nil {
				return errc(err), nil
			}
			return 0, v
		}
	}
	v, err := b.xattrer.GetXattr(ctx, name, attr)
	if attr == capabilityXattr {
		b.attrs.putCap(name, v, err)
	}
	if err != nil {
		return errc(err), nil
	}
	return 0, v
}

func (b *bridge) Removexattr(path, attr string) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpRemovexattr, t, path, &rc)
	if b.xattrer == nil {
		return noXattrs
	}
	name := fsName(path)
	err := b.xattrer.RemoveXattr(ctx, name, attr)
	b.attrs.invalidate(name)
	return errc(err)
}

func (b *bridge) Listxattr(path string, fill func(name string) bool) (rc int) {
	ctx, t := b.begin()
	defer b.end(OpListxattr, t, path, &rc)
	if b.xattrer == nil {
		return noXattrs
	}
	names, err := b.xattrer.ListXattr(ctx, fsName(path))
	if err != nil {
		return errc(err)
	}
	for _, n := range names {
		if !fill(n) {
			return -int(syscall.ERANGE)
		}
	}
	return 0
}
