package overlay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// WhiteoutFormat chooses how the overlay records deletions in the upper.
// Both formats are always read, in every layer.
type WhiteoutFormat int

const (
	// WhiteoutAuto writes the kernel format when the upper can hold it (a
	// character device 0/0 can be created and trusted.* xattrs set, which
	// in practice means a passthrough upper and a root server) and the
	// OCI format otherwise.
	WhiteoutAuto WhiteoutFormat = iota
	// WhiteoutKernel writes kernel overlayfs markers: a character device
	// 0/0 for a whiteout and trusted.overlay.opaque=y for an opaque
	// directory. New fails when the upper cannot hold them.
	WhiteoutKernel
	// WhiteoutOCI writes OCI/AUFS markers: a ".wh.NAME" file for a
	// whiteout and a ".wh..wh..opq" file in an opaque directory.
	WhiteoutOCI
)

func (f WhiteoutFormat) String() string {
	switch f {
	case WhiteoutAuto:
		return "auto"
	case WhiteoutKernel:
		return "kernel"
	case WhiteoutOCI:
		return "oci"
	}
	return fmt.Sprintf("WhiteoutFormat(%d)", int(f))
}

// MetacopyMode chooses whether a change of metadata only (chmod, chown,
// utimens, xattrs, hard link, rename) on a lower regular file leaves the
// data in the lower (a metacopy stub in the upper) or copies it up, and in
// which format the stub is recorded. Stubs of both formats are read
// whatever the mode, so an upper written under one mode mounts under any.
type MetacopyMode int

const (
	// MetacopyAuto records stubs in the kernel's format when the upper
	// takes kernel markers (Format() is WhiteoutKernel), and otherwise
	// copies the data: a stub that kernel overlayfs and image tools
	// cannot read is never written unless asked for.
	MetacopyAuto MetacopyMode = iota
	// MetacopyOff always copies the data.
	MetacopyOff
	// MetacopyKernel records stubs as kernel overlayfs does:
	// trusted.overlay.metacopy (empty) and trusted.overlay.redirect (the
	// absolute path of the data in the lowers). New fails unless the
	// upper takes kernel markers.
	MetacopyKernel
	// MetacopyFusekit records stubs as user.fusekit.metacopy = lower path,
	// which needs only user xattrs (a server that is not root) but which
	// only this overlay reads: mounted by the kernel or unpacked as an
	// image layer, such a stub reads as zeros. New fails unless the upper
	// stores user xattrs.
	MetacopyFusekit
)

func (m MetacopyMode) String() string {
	switch m {
	case MetacopyAuto:
		return "auto"
	case MetacopyOff:
		return "off"
	case MetacopyKernel:
		return "kernel"
	case MetacopyFusekit:
		return "fusekit"
	}
	return fmt.Sprintf("MetacopyMode(%d)", int(m))
}

// DefaultWorkDir is the name of the work directory at the root of the
// upper when Config.Work is nil.
const DefaultWorkDir = ".fusekit-work"

// workSubdir is the directory inside Config.Work that the overlay owns:
// New empties it, and nothing else in Config.Work is touched. Kernel
// overlayfs keeps its own in WORKDIR/work likewise.
const workSubdir = "work"

// Config describes the layers of an overlay.
type Config struct {
	// Upper is the writable layer; nil makes the overlay read-only.
	Upper sdk.FileSystem
	// Lowers are the read-only layers, highest priority first.
	Lowers []sdk.FileSystem
	// Work is where copy-ups and new markers are prepared before they are
	// renamed into the upper, like kernel overlayfs's workdir: a
	// filesystem on the same host mount as the upper and outside it, such
	// as passthrough.New(workdir) beside a passthrough upper. Both Upper
	// and Work must implement CrossFS, and New checks with CheckSeparate
	// that they are on one mount and that neither contains the other. The
	// overlay uses only the directory "work" inside it, which New creates
	// and empties; nothing of it appears in the upper or the merged view.
	Work sdk.FileSystem
	// WorkDir is used only when Work is nil (an upper that is not a host
	// directory, such as an afero or write-back layer): the name of a
	// directory at the root of Upper that takes Work's role. It is in the
	// upper because the final rename must be atomic, which needs one
	// filesystem; the overlay hides it from the merged view, and New
	// creates and empties it, but it is in the upper directory, so a kernel
	// overlayfs mount of that upper shows it. Default DefaultWorkDir.
	WorkDir string
	// Whiteouts is the format of the markers written to the upper.
	Whiteouts WhiteoutFormat
	// Metacopy chooses metadata-only copy-up and its format; by default
	// (MetacopyAuto) stubs in the kernel's format when the upper takes
	// kernel markers, full copies otherwise.
	Metacopy MetacopyMode
	// DisableMetacopy is Metacopy: MetacopyOff, whatever Metacopy says.
	DisableMetacopy bool
	// Volatile renames copy-ups into place without the fsync that
	// otherwise makes them durable first, as kernel overlayfs's volatile
	// option does. Copy-up of small files gets faster by the cost of an
	// fsync each, but after a power failure or a crash of the machine an
	// upper file may be empty or partial, hiding the intact lower one. For
	// scratch layers that are thrown away after a crash (build sandboxes,
	// test fixtures); the default keeps the upper durable. Unlike the
	// kernel's option, fsync and syncfs through the mount still reach the
	// upper: for a write-back upper they are what drains its buffered data
	// (the SDK's Unmount and Destroy call SyncFS), which must not be lost.
	Volatile bool
}

// FS is a union of layers. It implements sdk.FileSystem and the optional
// interfaces, which report sdk.ErrNotSupported where the layers involved
// lack the capability.
type FS struct {
	upper  sdk.FileSystem // nil when read-only
	upperX sdk.Xattrer    // upper as Xattrer, or nil
	layers []sdk.FileSystem
	// work holds the staging directory workDir: Config.Work, or the upper
	// itself when there is none. workX is work as an Xattrer, or nil.
	// workC and upperC are set only with a Config.Work: they move and link
	// objects between the two. Set by New and never changed, like the
	// fields above.
	work          sdk.FileSystem
	workX         sdk.Xattrer
	workC, upperC CrossFS
	workDir       string
	// hidden is the name at the upper's root that the merged view never
	// shows (the work directory inside the upper), or "".
	hidden string
	format WhiteoutFormat // resolved: WhiteoutKernel or WhiteoutOCI
	// metacopy is true when metadata-only copy-ups write stubs, in the
	// kernel's format when mcKernel, else in fusekit's.
	metacopy, mcKernel bool
	// volatile is Config.Volatile: copy-ups are not fsync'd.
	volatile bool

	inodes *inodeTable
	// cache remembers how resolved directories merge and the metacopy
	// markers of upper files (cache.go); it has its own lock.
	cache *dirCache
	// nsMu serialises every change to the upper's namespace made through
	// the overlay, and the final rename of a copy-up, so that each operation
	// sees the merged view it checked. Long data copies of copy-up run
	// outside it; filling a metacopy stub runs inside it.
	//
	// Lock order: copyLocks entry, then nsMu. Never the reverse.
	nsMu sync.Mutex

	copyLocks keyedMutex
	// tmpSeq numbers temporary names in the work directory; guarded by
	// tmpMu.
	tmpMu  sync.Mutex
	tmpSeq uint64
}

var (
	_ sdk.FileSystem = (*FS)(nil)
	_ sdk.Symlinker  = (*FS)(nil)
	_ sdk.Linker     = (*FS)(nil)
	_ sdk.Xattrer    = (*FS)(nil)
	_ sdk.Mknoder    = (*FS)(nil)
	_ sdk.Syncer     = (*FS)(nil)
)

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "overlay: invalid Config." + e.Field + ": " + e.Reason
}

// New builds an overlay. With an upper it creates and empties the work
// directory (leftovers of a copy-up interrupted by a crash) and probes which
// markers the upper can hold.
func New(cfg Config) (*FS, error) {
	if len(cfg.Lowers) == 0 {
		return nil, &ConfigError{"Lowers", "at least one lower layer is needed"}
	}
	o := &FS{upper: cfg.Upper, workDir: cfg.WorkDir, volatile: cfg.Volatile, inodes: newInodeTable(), cache: newDirCache()}
	if o.upper != nil {
		o.layers = append(o.layers, o.upper)
		o.upperX, _ = o.upper.(sdk.Xattrer)
	}
	if err := o.setWork(cfg); err != nil {
		return nil, err
	}
	for i, l := range cfg.Lowers {
		if l == nil {
			return nil, &ConfigError{fmt.Sprintf("Lowers[%d]", i), "is nil"}
		}
		o.layers = append(o.layers, l)
	}
	switch cfg.Whiteouts {
	case WhiteoutAuto, WhiteoutKernel, WhiteoutOCI:
	default:
		return nil, &ConfigError{"Whiteouts", fmt.Sprintf("unknown format %d", int(cfg.Whiteouts))}
	}
	if o.upper == nil {
		o.format = WhiteoutOCI
		return o, nil
	}
	ctx := context.Background()
	if err := o.initWorkDir(ctx); err != nil {
		return nil, err
	}
	kernelOK := o.probeKernelFormat(ctx)
	switch cfg.Whiteouts {
	case WhiteoutAuto:
		o.format = WhiteoutOCI
		if kernelOK {
			o.format = WhiteoutKernel
		}
	case WhiteoutKernel:
		if !kernelOK {
			return nil, &ConfigError{"Whiteouts", "kernel format needs an upper that can create character device 0/0 and set trusted.overlay.* xattrs (a passthrough upper with a root server)"}
		}
		o.format = WhiteoutKernel
	case WhiteoutOCI:
		o.format = WhiteoutOCI
	}
	mode := cfg.Metacopy
	if cfg.DisableMetacopy {
		mode = MetacopyOff
	}
	switch mode {
	case MetacopyAuto:
		o.metacopy = o.format == WhiteoutKernel && o.probeMetacopy(ctx, xattrTrustedMetacopy)
		o.mcKernel = o.metacopy
	case MetacopyOff:
	case MetacopyKernel:
		if o.format != WhiteoutKernel || !o.probeMetacopy(ctx, xattrTrustedMetacopy) {
			return nil, &ConfigError{"Metacopy", "kernel metacopy needs an upper that takes kernel markers (Whiteouts kernel or auto, a passthrough upper with a root server)"}
		}
		o.metacopy, o.mcKernel = true, true
	case MetacopyFusekit:
		if !o.probeMetacopy(ctx, xattrMetacopy) {
			return nil, &ConfigError{"Metacopy", "fusekit metacopy needs an upper that stores user.* xattrs"}
		}
		o.metacopy = true
	default:
		return nil, &ConfigError{"Metacopy", fmt.Sprintf("unknown mode %d", int(mode))}
	}
	return o, nil
}

// Format returns the whiteout format the overlay writes.
func (o *FS) Format() WhiteoutFormat { return o.format }

// Metacopy reports whether metadata-only copy-up is in effect.
func (o *FS) Metacopy() bool { return o.metacopy }

// MetacopyMode returns the metacopy in effect: MetacopyOff, MetacopyKernel
// or MetacopyFusekit.
func (o *FS) MetacopyMode() MetacopyMode {
	switch {
	case !o.metacopy:
		return MetacopyOff
	case o.mcKernel:
		return MetacopyKernel
	}
	return MetacopyFusekit
}

func (o *FS) initWorkDir(ctx context.Context) error {
	where := "Work"
	if o.workC == nil {
		where = "the upper"
	}
	err := o.work.Mkdir(ctx, o.workDir, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("overlay: creating work directory %s in %s: %w", o.workDir, where, err)
	}
	a, err := o.work.Stat(ctx, o.workDir)
	if err != nil {
		return fmt.Errorf("overlay: work directory %s in %s: %w", o.workDir, where, err)
	}
	if !a.IsDir() {
		return &ConfigError{"WorkDir", fmt.Sprintf("%q exists in %s and is not a directory", o.workDir, where)}
	}
	if err := removeAll(ctx, o.work, o.workDir, false); err != nil {
		return fmt.Errorf("overlay: emptying work directory %s in %s: %w", o.workDir, where, err)
	}
	return nil
}

// probeKernelFormat reports whether kernel markers can be made; the probes
// run in the work directory, which is on the upper's filesystem.
func (o *FS) probeKernelFormat(ctx context.Context) bool {
	mk, ok := o.work.(sdk.Mknoder)
	if !ok || o.upperX == nil || o.workX == nil {
		return false
	}
	if _, ok := o.upper.(sdk.Mknoder); !ok {
		return false
	}
	probe := o.tempName()
	defer o.work.Unlink(ctx, probe) //nolint:errcheck // best effort cleanup of a probe
	if mk.Mknod(ctx, probe, sdk.TypeChar, 0) != nil {
		return false
	}
	if a, err := o.work.Stat(ctx, probe); err != nil || !isKernelWhiteout(&a) {
		return false
	}
	dir := o.tempName()
	if o.work.Mkdir(ctx, dir, 0o700) != nil {
		return false
	}
	defer o.work.Rmdir(ctx, dir) //nolint:errcheck // best effort cleanup of a probe
	return o.workX.SetXattr(ctx, dir, xattrTrustedOpaque, []byte("y"), 0) == nil
}

// probeMetacopy reports whether the upper takes the marker attr on a
// regular file (probed in the work directory, on the same filesystem).
func (o *FS) probeMetacopy(ctx context.Context, attr string) bool {
	if o.upperX == nil || o.workX == nil {
		return false
	}
	f := o.tempName()
	h, err := o.work.Open(ctx, f, oCreat|oExcl|oWronly, 0o600)
	if err != nil {
		return false
	}
	h.Close()                   //nolint:errcheck // empty probe file
	defer o.work.Unlink(ctx, f) //nolint:errcheck // best effort cleanup of a probe
	return o.workX.SetXattr(ctx, f, attr, []byte("probe"), 0) == nil
}

// tempName returns a fresh name in the work directory.
func (o *FS) tempName() string {
	o.tmpMu.Lock()
	defer o.tmpMu.Unlock()
	o.tmpSeq++
	return fmt.Sprintf("%s/#%x", o.workDir, o.tmpSeq)
}

// removeAll removes the contents of dir in fsys, and dir itself if self.
func removeAll(ctx context.Context, fsys sdk.FileSystem, dir string, self bool) error {
	ents, err := fsys.ReadDir(ctx, dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := joinName(dir, e.Name)
		if e.Type == sdk.TypeDir {
			err = removeAll(ctx, fsys, p, true)
		} else {
			err = fsys.Unlink(ctx, p)
		}
		if err != nil && !notExist(err) {
			return err
		}
	}
	if self {
		return fsys.Rmdir(ctx, dir)
	}
	return nil
}

// Linux open(2) flags, spelled out so the package means the same on every
// GOOS (the SDK always passes Linux values).
const (
	oAccmode = 0o3
	oRdonly  = 0o0
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
	oExcl    = 0o200
	oTrunc   = 0o1000
	oAppend  = 0o2000
)

func (o *FS) writable(op, name string) error {
	if o.upper == nil {
		return pathErr(op, name, sdk.ErrReadOnly)
	}
	return nil
}

// Stat implements sdk.FileSystem.
func (o *FS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	n, err := o.resolve(ctx, name)
	if err != nil {
		return sdk.Attr{}, err
	}
	return o.visibleAttr(n), nil
}

// ReadDir implements sdk.FileSystem: the merged listing, each name once.
func (o *FS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	n, err := o.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, pathErr("readdir", name, syscall.ENOTDIR)
	}
	merged, err := o.readMerged(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.DirEntry, 0, len(merged))
	for _, m := range merged {
		out = append(out, o.entryFor(ctx, joinName(name, m.Name), m))
	}
	return out, nil
}

func (o *FS) readMerged(ctx context.Context, n *node) ([]mergedEntry, error) {
	ls := make([]listing, 0, len(n.dirs))
	for _, li := range n.dirs {
		ents, err := o.layers[li].ReadDir(ctx, n.name)
		if err != nil {
			return nil, pathErr("readdir", n.name, err)
		}
		ls = append(ls, listing{layer: li, entries: ents})
	}
	isWhiteout := func(layer int, e sdk.DirEntry) bool {
		if e.Attr != nil {
			return isKernelWhiteout(e.Attr)
		}
		a, err := o.layers[layer].Stat(ctx, joinName(n.name, e.Name))
		return err == nil && isKernelWhiteout(&a)
	}
	hide := func(layer int, elem string) bool {
		return n.name == "." && o.hidden != "" && layer == 0 && elem == o.hidden
	}
	return mergeListings(ls, isWhiteout, hide), nil
}

// entryFor turns a merged entry into what ReadDir reports. The inode number
// must be the one Stat reports, so it is derived from the same identity; a
// layer that lists no numbers is asked with Stat.
func (o *FS) entryFor(ctx context.Context, p string, m mergedEntry) sdk.DirEntry {
	e := m.DirEntry
	e.Name = m.Name
	backendIno := e.Ino
	if e.Attr != nil {
		backendIno = e.Attr.Ino
	}
	if backendIno == 0 {
		if a, err := o.layers[m.layer].Stat(ctx, p); err == nil {
			backendIno = a.Ino
		}
	}
	e.Ino = o.inodes.get(identityOf(m.layer, backendIno, p))
	// A listing's attributes are only the merged truth for objects that
	// live wholly in one layer; drop them for directories (merged) and
	// upper files (which may be metacopy stubs).
	if e.Attr != nil {
		if e.Type == sdk.TypeDir || (o.upper != nil && m.layer == 0 && e.Type == sdk.TypeRegular) {
			e.Attr = nil
		} else {
			a := *e.Attr
			a.Ino = e.Ino
			e.Attr = &a
		}
	}
	return e
}

// StatFS implements sdk.FileSystem: the upper's capacity, or the first
// lower's for a read-only overlay.
func (o *FS) StatFS(ctx context.Context) (sdk.StatFS, error) {
	return o.layers[0].StatFS(ctx)
}

// SyncFS implements sdk.Syncer by syncing the upper.
func (o *FS) SyncFS(ctx context.Context) error {
	if s, ok := o.upper.(sdk.Syncer); ok {
		return s.SyncFS(ctx)
	}
	return nil
}

// Readlink implements sdk.Symlinker.
func (o *FS) Readlink(ctx context.Context, name string) (string, error) {
	n, err := o.resolve(ctx, name)
	if err != nil {
		return "", err
	}
	if n.attr.Type() != sdk.TypeSymlink {
		return "", pathErr("readlink", name, syscall.EINVAL)
	}
	s, ok := o.layers[n.top].(sdk.Symlinker)
	if !ok {
		return "", pathErr("readlink", name, sdk.ErrNotSupported)
	}
	return s.Readlink(ctx, n.name)
}

// GetXattr implements sdk.Xattrer. Overlay state is invisible.
func (o *FS) GetXattr(ctx context.Context, name, attr string) ([]byte, error) {
	if isPrivateXattr(attr) {
		return nil, pathErr("getxattr", name, sdk.ErrNoAttr)
	}
	n, err := o.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	x, ok := o.layers[n.top].(sdk.Xattrer)
	if !ok {
		return nil, pathErr("getxattr", name, sdk.ErrNotSupported)
	}
	return x.GetXattr(ctx, n.name, attr)
}

// ListXattr implements sdk.Xattrer. Overlay state is not listed.
func (o *FS) ListXattr(ctx context.Context, name string) ([]string, error) {
	n, err := o.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	x, ok := o.layers[n.top].(sdk.Xattrer)
	if !ok {
		return nil, nil
	}
	all, err := x.ListXattr(ctx, n.name)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, a := range all {
		if !isPrivateXattr(a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// privateXattrError refuses changes to overlay state through the mount.
func privateXattrError(op, name, attr string) error {
	return pathErr(op, name, &ReservedNameError{Name: attr, Reason: "extended attributes under trusted.overlay., user.overlay. and user.fusekit. hold overlay state"})
}

// SetXattr implements sdk.Xattrer; a lower object is copied up first
// (metadata only for a regular file when metacopy is on).
func (o *FS) SetXattr(ctx context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	if isPrivateXattr(attr) {
		return privateXattrError("setxattr", name, attr)
	}
	return o.changeMeta(ctx, "setxattr", name, func(p string) error {
		if o.upperX == nil {
			return sdk.ErrNotSupported
		}
		return o.upperX.SetXattr(ctx, p, attr, value, flags)
	})
}

// RemoveXattr implements sdk.Xattrer.
func (o *FS) RemoveXattr(ctx context.Context, name, attr string) error {
	if isPrivateXattr(attr) {
		return privateXattrError("removexattr", name, attr)
	}
	return o.changeMeta(ctx, "removexattr", name, func(p string) error {
		if o.upperX == nil {
			return sdk.ErrNotSupported
		}
		return o.upperX.RemoveXattr(ctx, p, attr)
	})
}

// Chmod implements sdk.FileSystem.
func (o *FS) Chmod(ctx context.Context, name string, mode uint32) error {
	return o.changeMeta(ctx, "chmod", name, func(p string) error { return o.upper.Chmod(ctx, p, mode) })
}

// Chown implements sdk.FileSystem.
func (o *FS) Chown(ctx context.Context, name string, uid, gid int) error {
	return o.changeMeta(ctx, "chown", name, func(p string) error { return o.upper.Chown(ctx, p, uid, gid) })
}

// SetTimes implements sdk.FileSystem.
func (o *FS) SetTimes(ctx context.Context, name string, atime, mtime time.Time) error {
	return o.changeMeta(ctx, "utimens", name, func(p string) error { return o.upper.SetTimes(ctx, p, atime, mtime) })
}

// changeMeta copies name up (metadata only when possible) and applies fn to
// the upper object.
func (o *FS) changeMeta(ctx context.Context, op, name string, fn func(p string) error) error {
	if err := o.writable(op, name); err != nil {
		return err
	}
	if _, err := o.copyUp(ctx, name, copyMeta, nil); err != nil {
		return err
	}
	o.nsMu.Lock()
	defer o.nsMu.Unlock()
	return fn(name)
}

// Truncate implements sdk.FileSystem.
func (o *FS) Truncate(ctx context.Context, name string, size int64) error {
	if err := o.writable("truncate", name); err != nil {
		return err
	}
	how := copyData
	if size == 0 {
		how = copyNoData
	}
	if _, err := o.copyUp(ctx, name, how, nil); err != nil {
		return err
	}
	return o.upper.Truncate(ctx, name, size)
}
