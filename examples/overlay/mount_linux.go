package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
)

// mounted is a live overlay mount and the layers to release after it.
type mounted struct {
	srv     *sdk.Server
	ov      *overlay.FS
	c       *config
	closers []io.Closer
}

func mount(c *config, logger *slog.Logger) (*mounted, error) {
	m := &mounted{c: c}
	srv, err := m.mount(logger)
	if err != nil {
		m.close()
		return nil, err
	}
	m.srv = srv
	return m, nil
}

// mount builds the layers into m (m.close releases them) and mounts.
func (m *mounted) mount(logger *slog.Logger) (*sdk.Server, error) {
	c := m.c
	var lowers []sdk.FileSystem
	for _, dir := range c.lowers {
		l, err := passthrough.New(dir)
		if err != nil {
			return nil, fmt.Errorf("lowerdir %s: %w", dir, err)
		}
		m.closers = append(m.closers, l)
		lowers = append(lowers, l)
	}
	cfg := overlay.Config{Lowers: lowers, DisableMetacopy: c.noMetacopy, Volatile: c.volatile}
	switch c.whiteouts {
	case "kernel":
		cfg.Whiteouts = overlay.WhiteoutKernel
	case "oci":
		cfg.Whiteouts = overlay.WhiteoutOCI
	}
	if c.upper != "" && !c.readOnly {
		u, err := passthrough.New(c.upper)
		if err != nil {
			return nil, fmt.Errorf("upperdir %s: %w", c.upper, err)
		}
		m.closers = append(m.closers, u)
		cfg.Upper = u
		if c.work != "" {
			w, err := passthrough.New(c.work)
			if err != nil {
				return nil, fmt.Errorf("workdir: %w", err)
			}
			m.closers = append(m.closers, w)
			cfg.Work = w
		}
	}
	var err error
	if m.ov, err = overlay.New(cfg); err != nil {
		return nil, err
	}
	var fsys sdk.FileSystem = m.ov
	if len(c.uids) > 0 || len(c.gids) > 0 {
		fsys = &idMapFS{FS: m.ov, uids: c.uids, gids: c.gids}
	}
	return sdk.Mount(fsys, c.mountpoint, c.options(cfg.Upper == nil, logger))
}

// options turns the command line into mount options.
func (c *config) options(readOnly bool, logger *slog.Logger) *sdk.Options {
	o := &sdk.Options{
		FSName:     "fusekit-overlay",
		Subtype:    "overlay",
		ReadOnly:   readOnly,
		AllowOther: c.allowOther,
		ClearStale: c.clearStale,
		OwnerUID:   c.squashUID,
		OwnerGID:   c.squashGID,
		RawOptions: c.mountFlags,
		Logger:     logger,
		// Off unless asked for. libfuse2's high-level API gives every name
		// of a hard link its own kernel inode, and nothing can invalidate
		// the kernel's attribute cache through cgofuse, so with caching a
		// stat right after link(2), or after a write or unlink through
		// another name, returns the old link count or size for
		// AttrTimeout. containers/storage walks a layer right after a
		// build step and stores the second name of a pair it sees with
		// link count 1 as a copy. Names stay cached (EntryTimeout).
		AttrTimeout: -1,
	}
	if c.attrTimeout > 0 {
		o.AttrTimeout = c.attrTimeout
	}
	if c.fsname != "" {
		o.FSName = c.fsname
	}
	if c.kernelPerms {
		o.Permissions = sdk.PermissionsKernel
	}
	return o
}

func (m *mounted) describe() string {
	s := "lower " + strings.Join(m.c.lowers, ":")
	if m.c.upper == "" || m.c.readOnly {
		return s + ", read-only"
	}
	return fmt.Sprintf("%s, upper %s, %s whiteouts, metacopy %v", s, m.c.upper, m.ov.Format(), m.ov.Metacopy())
}

func (m *mounted) close() {
	if m == nil {
		return
	}
	for _, c := range m.closers {
		c.Close()
	}
}

func isNotMounted(err error) bool { return errors.Is(err, sdk.ErrNotMounted) }
