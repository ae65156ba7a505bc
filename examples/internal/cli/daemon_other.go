//go:build !linux

package cli

import (
	"fmt"
	"io"
	"os"
)

// Detach is Linux-only here: elsewhere it refuses, and the program must be
// run in the foreground.
func Detach(prog string, args []string, logFile string, stderr io.Writer, stop <-chan os.Signal) int {
	fmt.Fprintf(stderr, "%s: daemon mode is implemented on Linux only; run with -f\n", prog)
	return 2
}

// Daemon is the daemon's side of Detach; it never exists off Linux.
type Daemon struct{}

func StartDaemon() *Daemon                     { return nil }
func (d *Daemon) OpenLog(prog, logFile string) {}
func (d *Daemon) Stdout() io.Writer            { return io.Discard }
func (d *Daemon) Stderr() io.Writer            { return io.Discard }
func (d *Daemon) Ready()                       {}
func (d *Daemon) Exit(code int)                {}

// MountFailed returns err unchanged off Linux.
func MountFailed(mountpoint string, err error) error { return err }

// Stale is Linux-only here.
func Stale(dir string) bool { return false }
