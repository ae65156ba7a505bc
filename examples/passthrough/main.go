//go:build linux

// Command passthrough mirrors a host directory at a mountpoint through FUSE.
//
//	passthrough [flags] SOURCE MOUNTPOINT
//
// It stays in the foreground until it receives SIGINT (Ctrl-C), SIGTERM or
// SIGHUP, or until the mount is removed from outside (umount, fusermount
// -u); then it unmounts cleanly and exits. A second signal stops waiting for
// files that are still open and detaches the mount at once. Run it with -h
// for the flags.
//
// Everything the filesystem does is adapters/passthrough: operations are
// confined to SOURCE by the kernel (openat2 RESOLVE_BENEATH), and objects
// created through the mount belong to the process that created them when the
// program runs as root.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
)

// unmountTimeout bounds how long a stop waits for open files before the
// mount is detached by force.
const unmountTimeout = 30 * time.Second

func main() {
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// config is the parsed command line.
type config struct {
	source, mountpoint string // absolute
	readOnly           bool
	allowOther         bool
	attrTimeout        time.Duration
	entryTimeout       time.Duration
	debug              bool
	fsname             string
}

const usageText = `Usage: passthrough [flags] SOURCE MOUNTPOINT

Mirror the directory SOURCE at MOUNTPOINT through FUSE. The program stays in
the foreground; Ctrl-C or SIGTERM unmounts cleanly (a second one stops
waiting for files that are still open).

Example:
  mkdir -p /mnt/data
  passthrough -allow-other -attr-timeout 5s /srv/data /mnt/data

Flags:
`

// parseArgs parses and checks the command line. flag.ErrHelp means -h was
// given and the usage has been printed to stdout.
func parseArgs(args []string, stdout io.Writer) (*config, error) {
	cfg := &config{}
	fset := flag.NewFlagSet("passthrough", flag.ContinueOnError)
	fset.SetOutput(io.Discard) // errors are reported by run, usage on -h only
	fset.BoolVar(&cfg.readOnly, "ro", false, "mount read-only")
	fset.BoolVar(&cfg.allowOther, "allow-other", false, "let users other than the one mounting use the mount")
	fset.DurationVar(&cfg.attrTimeout, "attr-timeout", time.Second,
		"how long the kernel caches attributes; 0 turns the cache off (the libfuse3 build always uses 0)")
	fset.DurationVar(&cfg.entryTimeout, "entry-timeout", time.Second,
		"how long the kernel caches names; 0 turns the cache off (the libfuse3 build always uses 0)")
	fset.BoolVar(&cfg.debug, "debug", false, "log every operation to stderr")
	fset.StringVar(&cfg.fsname, "fsname", "", "source column of /proc/mounts (default SOURCE)")
	err := fset.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		fset.SetOutput(stdout)
		fset.PrintDefaults()
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w (see -h)", err)
	}
	if fset.NArg() != 2 {
		return nil, fmt.Errorf("want SOURCE and MOUNTPOINT, got %d arguments (see -h)", fset.NArg())
	}
	if cfg.attrTimeout < 0 || cfg.entryTimeout < 0 {
		return nil, errors.New("-attr-timeout and -entry-timeout must not be negative")
	}
	if cfg.source, err = existingDir("SOURCE", fset.Arg(0)); err != nil {
		return nil, err
	}
	if cfg.mountpoint, err = existingDir("MOUNTPOINT", fset.Arg(1)); err != nil {
		return nil, err
	}
	// Serving a mount from a tree that contains it would make the daemon
	// walk into its own mount and wait on itself.
	if rel, err := filepath.Rel(cfg.source, cfg.mountpoint); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && rel != "." {
		return nil, fmt.Errorf("MOUNTPOINT %s is inside SOURCE %s", cfg.mountpoint, cfg.source)
	}
	if cfg.fsname == "" {
		cfg.fsname = cfg.source
	}
	return cfg, nil
}

// existingDir returns the absolute, symlink-free form of the directory path.
func existingDir(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s %s does not exist", what, path)
		}
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s is not a directory", what, path)
	}
	return abs, nil
}

// options turns the command line into mount options.
func (c *config) options(stderr io.Writer) *sdk.Options {
	opts := &sdk.Options{
		FSName:       c.fsname,
		Subtype:      "passthrough",
		ReadOnly:     c.readOnly,
		AllowOther:   c.allowOther,
		AttrTimeout:  kernelTimeout(c.attrTimeout),
		EntryTimeout: kernelTimeout(c.entryTimeout),
	}
	if c.debug {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return opts
}

// kernelTimeout maps the flag's "0 is off" to sdk.Options' "negative is
// off, 0 is the default".
func kernelTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// run is the whole program; it returns the exit status. A value on stop
// unmounts; stdout gets one line once the mount is live.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	cfg, err := parseArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", err)
		return 2
	}
	fsys, err := passthrough.New(cfg.source)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	defer fsys.Close()
	srv, err := sdk.Mount(fsys, cfg.mountpoint, cfg.options(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "passthrough: %s mounted on %s; Ctrl-C to unmount\n", cfg.source, srv.Dir())

	select {
	case <-srv.Done():
		// Unmounted from outside.
		if err := srv.Wait(); err != nil {
			fmt.Fprintf(stderr, "passthrough: %v\n", err)
			return 1
		}
		return 0
	case sig := <-stop:
		fmt.Fprintf(stderr, "passthrough: %v: unmounting %s\n", sig, srv.Dir())
	}
	ctx, cancel := context.WithTimeout(context.Background(), unmountTimeout)
	defer cancel()
	go func() {
		select {
		case sig := <-stop:
			fmt.Fprintf(stderr, "passthrough: %v again: detaching without waiting for open files\n", sig)
			cancel()
		case <-ctx.Done():
		}
	}()
	err = srv.Unmount(ctx)
	if errors.Is(err, sdk.ErrNotMounted) {
		// Gone meanwhile by other means; what is left to report is the
		// final drain.
		err = srv.Wait()
	}
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: unmount: %v\n", err)
		return 1
	}
	return 0
}
