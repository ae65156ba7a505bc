//go:build !linux

package main

import (
	"errors"
	"log/slog"

	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
)

// mounted is a live overlay mount.
type mounted struct {
	srv *sdk.Server
	ov  *overlay.FS
}

// mount needs the passthrough adapter, which exists on Linux only.
func mount(*config, *slog.Logger) (*mounted, error) {
	return nil, errors.New("this example serves host directories through the passthrough adapter, which needs Linux")
}

func (m *mounted) describe() string { return "" }
func (m *mounted) close()           {}

func isNotMounted(err error) bool { return errors.Is(err, sdk.ErrNotMounted) }
