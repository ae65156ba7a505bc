// Command memfs mounts an empty in-memory filesystem (afero's MemMapFs served
// through fusekit) and stays in the foreground until Ctrl-C or SIGTERM, then
// unmounts cleanly. Everything written to it is lost at unmount.
//
//	memfs [flags] MOUNTPOINT
//
// Run memfs -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the mount failed or did not end cleanly
	exitUsage = 2 // bad flags or arguments
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// config is everything the command line sets.
type config struct {
	mountpoint     string
	readOnly       bool
	allowOther     bool
	attrTimeout    time.Duration
	entryTimeout   time.Duration
	debug          bool
	fsname         string
	unmountTimeout time.Duration
}

const usageText = `Usage: memfs [flags] MOUNTPOINT

Mounts an empty in-memory filesystem on MOUNTPOINT (an existing, empty
directory) and serves it until Ctrl-C or SIGTERM, then unmounts. The
contents are lost at unmount.

Example:
  mkdir -p /tmp/mem && memfs -debug -attr-timeout 5s /tmp/mem
  # in another shell: echo hi > /tmp/mem/f; cat /tmp/mem/f; then Ctrl-C

Flags:
`

// parseArgs reads the command line. It returns flag.ErrHelp for -h.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fl := flag.NewFlagSet("memfs", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), usageText)
		fl.PrintDefaults()
	}
	fl.BoolVar(&c.readOnly, "ro", false, "mount read-only")
	fl.BoolVar(&c.allowOther, "allow-other", false, "let other users use the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	fl.DurationVar(&c.attrTimeout, "attr-timeout", time.Second, "how long the kernel caches attributes (negative: off; the libfuse3 build always uses 0)")
	fl.DurationVar(&c.entryTimeout, "entry-timeout", time.Second, "how long the kernel caches names (negative: off; the libfuse3 build always uses 0)")
	fl.BoolVar(&c.debug, "debug", false, "log every filesystem operation to stderr")
	fl.StringVar(&c.fsname, "fsname", "memfs", "the source name shown in /proc/mounts and df")
	fl.DurationVar(&c.unmountTimeout, "unmount-timeout", 10*time.Second, "how long to wait for open files at exit before detaching the mount")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	switch fl.NArg() {
	case 0:
		return nil, errors.New("missing MOUNTPOINT")
	case 1:
	default:
		return nil, fmt.Errorf("expected one MOUNTPOINT, got %d arguments: %q", fl.NArg(), fl.Args())
	}
	c.mountpoint = fl.Arg(0)
	if c.attrTimeout == 0 || c.entryTimeout == 0 {
		// sdk.Options reads zero as "the default"; a user asking for 0
		// means no caching.
		if c.attrTimeout == 0 {
			c.attrTimeout = -1
		}
		if c.entryTimeout == 0 {
			c.entryTimeout = -1
		}
	}
	if c.unmountTimeout <= 0 {
		return nil, fmt.Errorf("-unmount-timeout must be positive, got %v", c.unmountTimeout)
	}
	fi, err := os.Stat(c.mountpoint)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("mountpoint %s does not exist (create it with mkdir first)", c.mountpoint)
	case err != nil:
		return nil, fmt.Errorf("mountpoint %s: %w", c.mountpoint, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("mountpoint %s is not a directory", c.mountpoint)
	}
	return c, nil
}

// options turns the command line into mount options.
func (c *config) options(stderr io.Writer) *sdk.Options {
	level := slog.LevelWarn
	if c.debug {
		level = slog.LevelDebug
	}
	return &sdk.Options{
		FSName:       c.fsname,
		Subtype:      "memfs",
		ReadOnly:     c.readOnly,
		AllowOther:   c.allowOther,
		AttrTimeout:  c.attrTimeout,
		EntryTimeout: c.entryTimeout,
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
}

// run is the whole program: it mounts, waits for a signal on stop (or for
// the mount to go away by other means) and unmounts. It returns the exit
// code.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	c, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "memfs: %v\nRun memfs -h for help.\n", err)
		return exitUsage
	}
	fsys := aferofs.New(afero.NewMemMapFs())
	srv, err := sdk.Mount(fsys, c.mountpoint, c.options(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "memfs: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "memfs: mounted on %s (%s build); Ctrl-C to unmount\n", srv.Dir(), sdk.Build)

	select {
	case sig := <-stop:
		fmt.Fprintf(stdout, "memfs: %v: unmounting %s\n", sig, srv.Dir())
	case <-srv.Done():
		fmt.Fprintf(stdout, "memfs: %s was unmounted\n", srv.Dir())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.unmountTimeout)
	defer cancel()
	if err := srv.Unmount(ctx); err != nil && !errors.Is(err, sdk.ErrNotMounted) {
		fmt.Fprintf(stderr, "memfs: unmount: %v\n", err)
		return exitError
	}
	return exitOK
}
