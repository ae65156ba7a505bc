package overlay

import (
	"context"
	"fmt"
	"strings"

	"github.com/fusekit/fusekit/sdk"
)

// CrossFS is what Config.Upper and Config.Work must implement for a work
// directory outside the upper: the capability kernel overlayfs gets from
// having upperdir and workdir on one mount, to prepare an object in one and
// put it in place in the other with a single atomic system call.
// passthrough.FS implements it for two passthrough filesystems on the same
// host mount. The three methods are one capability: checking that the
// two trees can serve each other, and the two system calls the overlay
// needs between them (rename into the upper, hard link out of it).
type CrossFS interface {
	// CheckSeparate reports, naming both, why the two filesystems cannot
	// move objects between them atomically (different mounts) or are not
	// separate trees (one is inside the other); nil when they can serve.
	CheckSeparate(other sdk.FileSystem) error
	// RenameTo renames oldname in the receiver to newname in dst in one
	// step; flags as sdk.FileSystem.Rename.
	RenameTo(ctx context.Context, oldname string, dst sdk.FileSystem, newname string, flags sdk.RenameFlags) error
	// LinkTo creates newname in dst as a hard link of oldname in the
	// receiver.
	LinkTo(ctx context.Context, oldname string, dst sdk.FileSystem, newname string) error
}

// setWork decides where copy-ups are staged: in Config.Work's "work"
// directory, or in the upper's hidden Config.WorkDir without one.
func (o *FS) setWork(cfg Config) error {
	if cfg.Work != nil {
		if o.upper == nil {
			return &ConfigError{"Work", "a work directory needs an upper layer"}
		}
		if cfg.WorkDir != "" {
			return &ConfigError{"WorkDir", "names a directory inside the upper, which is used only when Work is nil"}
		}
		var ok1, ok2 bool
		o.workC, ok1 = cfg.Work.(CrossFS)
		o.upperC, ok2 = o.upper.(CrossFS)
		if !ok1 || !ok2 {
			return &ConfigError{"Work", fmt.Sprintf("needs an upper and a work filesystem that can rename objects between them (overlay.CrossFS, such as two passthrough.FS); they are %T and %T", o.upper, cfg.Work)}
		}
		if err := o.workC.CheckSeparate(o.upper); err != nil {
			return &ConfigError{"Work", err.Error()}
		}
		o.work, o.workDir = cfg.Work, workSubdir
		o.workX, _ = o.work.(sdk.Xattrer)
		return nil
	}
	if o.workDir == "" {
		o.workDir = DefaultWorkDir
	}
	if strings.ContainsAny(o.workDir, "/\x00") || o.workDir == "." || o.workDir == ".." {
		return &ConfigError{"WorkDir", fmt.Sprintf("%q must be a single name at the root of the upper", o.workDir)}
	}
	if kind, _ := ParseWhiteoutName(o.workDir); kind != NotMarker {
		return &ConfigError{"WorkDir", fmt.Sprintf("%q would be read as a whiteout marker", o.workDir)}
	}
	if o.upper != nil {
		o.work, o.workX, o.hidden = o.upper, o.upperX, o.workDir
	}
	return nil
}

// moveIn renames tmp, staged in the work directory, to name in the upper.
func (o *FS) moveIn(ctx context.Context, tmp, name string, flags sdk.RenameFlags) error {
	if o.workC != nil {
		return o.workC.RenameTo(ctx, tmp, o.upper, name, flags)
	}
	return o.upper.Rename(ctx, tmp, name, flags)
}

// linkOut makes tmp in the work directory a hard link of the upper file
// name.
func (o *FS) linkOut(ctx context.Context, name, tmp string) error {
	if o.upperC != nil {
		return o.upperC.LinkTo(ctx, name, o.work, tmp)
	}
	l, ok := o.upper.(sdk.Linker)
	if !ok {
		return sdk.ErrNotSupported
	}
	return l.Link(ctx, name, tmp) // the work directory is in the upper
}
