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

func mount(c *config, logger *slog.Logger) (m *mounted, err error) {
	m = &mounted{c: c}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	var lowers []sdk.FileSystem
	for _, dir := range c.lowers {
		l, err := passthrough.New(dir)
		if err != nil {
			return nil, fmt.Errorf("lowerdir: %w", err)
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
			return nil, fmt.Errorf("upperdir: %w", err)
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
	if m.ov, err = overlay.New(cfg); err != nil {
		return nil, err
	}
	m.srv, err = sdk.Mount(m.ov, c.mountpoint, &sdk.Options{
		FSName:     "fusekit-overlay",
		Subtype:    "overlay",
		ReadOnly:   cfg.Upper == nil,
		AllowOther: c.allowOther,
		Logger:     logger,
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *mounted) describe() string {
	s := "lower " + strings.Join(m.c.lowers, ":")
	if m.c.upper == "" || m.c.readOnly {
		return s + ", read-only"
	}
	return fmt.Sprintf("%s, upper %s, %s whiteouts, metacopy %v", s, m.c.upper, m.ov.Format(), m.ov.Metacopy())
}

func (m *mounted) close() {
	for _, c := range m.closers {
		c.Close()
	}
}

func isNotMounted(err error) bool { return errors.Is(err, sdk.ErrNotMounted) }
