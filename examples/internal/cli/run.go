package cli

import (
	"io"
	"os"
)

// Body is a command's program below the process: it returns the exit
// status. d is the daemon's link to the waiting parent when this process is
// the re-executed daemon (see Detach), nil otherwise.
type Body func(d *Daemon, args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int

// Run runs body. In the re-executed daemon, everything body writes until
// the mount is live goes to the waiting parent, and the exit status reaches
// it too.
func Run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal, body Body) int {
	d := StartDaemon()
	if d != nil {
		stdout, stderr = d.Stdout(), d.Stderr()
	}
	code := body(d, args, stdout, stderr, stop)
	if d != nil {
		d.Exit(code)
	}
	return code
}
