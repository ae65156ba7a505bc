//go:build linux

// Command passthrough mirrors a host directory at a mountpoint through FUSE.
//
//	passthrough [flags] SOURCE MOUNTPOINT
//
// It stays in the foreground until it receives SIGINT (Ctrl-C), SIGTERM or
// SIGHUP, or until the mount is removed from outside (umount, fusermount
// -u); then it unmounts cleanly and exits. With -daemon it detaches once
// the mount is live, as libfuse programs without -f do: the command exits 0
// only then, and prints why otherwise; the daemon logs to syslog or to
// -log FILE. A stale mountpoint (its server died) is explained; -clear-stale
// unmounts it first. A second signal stops waiting for
// files that are still open and detaches the mount at once. Run it with -h
// for the flags.
//
// Everything the filesystem does is adapters/passthrough: operations are
// confined to SOURCE by the kernel (openat2 RESOLVE_BENEATH), and objects
// created through the mount belong to the process that created them when the
// program runs as root.
//
// -latency D delays every call to the passthrough filesystem by D, so that
// SOURCE behaves like a remote store, and -writeback puts sdk/writeback in
// front of it: writes are acknowledged from memory and reach SOURCE in large
// chunks, at the latest when the file is closed (close(2) waits, and fails
// if they could not be written). See usageText for what to try.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/fusekit/fusekit/examples/internal/cli"
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
	"github.com/fusekit/fusekit/sdk/writeback"
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
	noXattrs           bool
	fsname             string
	latency            time.Duration
	writeback          bool
	writebackDirty     cli.ByteSize
	clearStale         bool
	daemon             bool
	logFile            string
}

const usageText = `Usage: passthrough [flags] SOURCE MOUNTPOINT

Mirror the directory SOURCE at MOUNTPOINT through FUSE. The program stays in
the foreground; Ctrl-C or SIGTERM unmounts cleanly (a second one stops
waiting for files that are still open).

Example:
  mkdir -p /mnt/data
  passthrough -allow-other -attr-timeout 5s /srv/data /mnt/data

  # SOURCE as a slow remote store, with and without write-back
  # (compare the MB/s dd reports):
  passthrough -latency 1ms /srv/data /mnt/data
  dd if=/dev/zero of=/mnt/data/f bs=4k count=4096
  passthrough -latency 1ms -writeback /srv/data /mnt/data

-latency wraps the same passthrough filesystem (every call to it, on names
and on open files, sleeps first), so confinement to SOURCE, ownership,
xattrs, links and mknod behave exactly as without it.

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
	fset.BoolVar(&cfg.noXattrs, "no-xattrs", false, "hide extended attributes (saves the kernel's security.capability round trip before every write)")
	fset.StringVar(&cfg.fsname, "fsname", "", "source column of /proc/mounts (default SOURCE)")
	fset.DurationVar(&cfg.latency, "latency", 0, "delay every call to the filesystem by this much, like a remote store (e.g. 1ms)")
	fset.BoolVar(&cfg.writeback, "writeback", false, "buffer writes in memory and write them to SOURCE in large chunks (sdk/writeback); close(2) still waits for them")
	fset.Var(&cfg.writebackDirty, "writeback-dirty", "with -writeback: the most buffered data, e.g. 64M or 1G (default 256M)")
	fset.BoolVar(&cfg.clearStale, "clear-stale", false, "unmount a stale FUSE mount (its server died) found at MOUNTPOINT first")
	fset.BoolVar(&cfg.daemon, "daemon", false, "detach once the mount is live, as libfuse programs without -f do; the command exits 0 only then")
	fset.StringVar(&cfg.logFile, "log", "", "with -daemon: the daemon's log file (default: syslog)")
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
	if cfg.latency < 0 {
		return nil, fmt.Errorf("-latency must not be negative, got %v", cfg.latency)
	}
	if cfg.writebackDirty != 0 && !cfg.writeback {
		return nil, errors.New("-writeback-dirty needs -writeback")
	}
	if cfg.logFile != "" && !cfg.daemon {
		return nil, errors.New("-log needs -daemon")
	}
	if cfg.source, err = existingDir("SOURCE", fset.Arg(0)); err != nil {
		return nil, err
	}
	if cli.Stale(fset.Arg(1)) {
		// Every lookup there fails; sdk.Mount reports the stale mount or
		// clears it (-clear-stale). Only the parent can be resolved.
		cfg.mountpoint, err = filepath.Abs(fset.Arg(1))
		if err == nil {
			var parent string
			if parent, err = filepath.EvalSymlinks(filepath.Dir(cfg.mountpoint)); err == nil {
				cfg.mountpoint = filepath.Join(parent, filepath.Base(cfg.mountpoint))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("MOUNTPOINT %s: %w", fset.Arg(1), err)
		}
	} else if cfg.mountpoint, err = existingDir("MOUNTPOINT", fset.Arg(1)); err != nil {
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
		NoXattrs:     c.noXattrs,
		ClearStale:   c.clearStale,
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

// layers builds what is mounted on top of the passthrough filesystem: the
// latency wrapper (-latency), then write-back (-writeback). wb is nil
// without -writeback.
func (c *config) layers(pt *passthrough.FS) (fsys sdk.FileSystem, wb *writeback.FS, err error) {
	fsys = pt
	if c.latency > 0 {
		fsys = newSlowFS(pt, c.latency)
	}
	return cli.Writeback(fsys, c.writeback, c.writebackDirty)
}

// run is the whole program; it returns the exit status. A value on stop
// unmounts; stdout gets one line once the mount is live.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	// The re-executed daemon (-daemon, see cli.Detach) reports everything
	// up to the mount to the waiting parent.
	daemon := cli.StartDaemon()
	if daemon != nil {
		stdout, stderr = daemon.Stdout(), daemon.Stderr()
	}
	code := runAs(daemon, args, stdout, stderr, stop)
	if daemon != nil {
		daemon.Exit(code)
	}
	return code
}

func runAs(daemon *cli.Daemon, args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	cfg, err := parseArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", err)
		return 2
	}
	if daemon != nil {
		daemon.OpenLog("passthrough", cfg.logFile)
	} else if cfg.daemon {
		return cli.Detach("passthrough", args, cfg.logFile, stderr, stop)
	}
	pt, err := passthrough.New(cfg.source)
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", err)
		return 1
	}
	// Deferred first, so it runs after the write-back layer is closed.
	defer pt.Close()
	fsys, wb, err := cfg.layers(pt)
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", err)
		return 2
	}
	code := serve(cfg, fsys, stdout, stderr, stop, daemon)
	if wb != nil && !cli.CloseWriteback("passthrough", wb, unmountTimeout, stdout, stderr) {
		code = 1
	}
	return code
}

// serve mounts fsys and serves it until a signal or an unmount from
// outside; it returns the exit status.
func serve(cfg *config, fsys sdk.FileSystem, stdout, stderr io.Writer, stop <-chan os.Signal, daemon *cli.Daemon) int {
	srv, err := sdk.Mount(fsys, cfg.mountpoint, cfg.options(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "passthrough: %v\n", cli.MountFailed(cfg.mountpoint, err))
		return 1
	}
	fmt.Fprintf(stdout, "passthrough: %s mounted on %s%s; Ctrl-C to unmount\n", cfg.source, srv.Dir(), cfg.describe())
	if daemon != nil {
		daemon.Ready()
	}

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
		// With -writeback this is data still not on the backend after the
		// final drain (errors.Is(err, sdk.ErrDataLost)) and failures no
		// application was told of; a failure close(2) or fsync(2) already
		// returned and that was repaired since is not repeated.
		fmt.Fprintf(stderr, "passthrough: unmount: %v\n", err)
		return 1
	}
	return 0
}

// describe names the non-default layers for the "mounted" line.
func (c *config) describe() string {
	s := ""
	if c.latency > 0 {
		s += fmt.Sprintf(" (%v latency per call", c.latency)
		if c.writeback {
			s += ", write-back"
		}
		return s + ")"
	}
	if c.writeback {
		s = " (write-back)"
	}
	return s
}
