// Command memfs mounts an empty in-memory filesystem (afero's MemMapFs served
// through fusekit) and stays in the foreground until Ctrl-C or SIGTERM, then
// unmounts cleanly. Everything written to it is lost at unmount.
//
//	memfs [flags] MOUNTPOINT
//
// Two flags show what a userspace write-back cache is for. -latency D makes
// every call to the in-memory store take D longer, as a round trip to a
// remote store would (adapters/faultfs); -writeback puts sdk/writeback in
// front of the store, so that writes are acknowledged from memory and sent
// on in large chunks. Compare, from another shell:
//
//	memfs -latency 1ms /tmp/mem              # dd bs=4k: one call per 4 KiB
//	memfs -latency 1ms -writeback /tmp/mem   # dd bs=4k: one call per 4 MiB
//
// With -writeback, close(2) still waits until the file's data is in the
// store and fails if it could not be written; at exit the program reports
// any data that never made it and exits non-zero.
//
// With -daemon the command returns once the mount is live and the server
// runs detached, logging to syslog or to -log FILE; unmount it to end it.
// -clear-stale unmounts a stale FUSE mount (its server died) at the
// mountpoint first.
//
// Run memfs -h for the flags.
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
	"syscall"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/writeback"
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
	latency        time.Duration
	writeback      bool
	writebackDirty cli.ByteSize
	maxFileSize    cli.ByteSize
	clearStale     bool
	daemon         bool
	logFile        string
}

// newStore makes the in-memory store that is served. Tests replace it to
// wrap the store in failures.
var newStore = afero.NewMemMapFs

const usageText = `Usage: memfs [flags] MOUNTPOINT

Mounts an empty in-memory filesystem on MOUNTPOINT (an existing, empty
directory) and serves it until Ctrl-C or SIGTERM, then unmounts. The
contents are lost at unmount.

Example:
  mkdir -p /tmp/mem && memfs -debug -attr-timeout 5s /tmp/mem
  # in another shell: echo hi > /tmp/mem/f; cat /tmp/mem/f; then Ctrl-C

  # a slow store, with and without write-back (compare dd's MB/s):
  memfs -latency 1ms /tmp/mem
  dd if=/dev/zero of=/tmp/mem/f bs=4k count=4096
  memfs -latency 1ms -writeback /tmp/mem

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
	fl.DurationVar(&c.unmountTimeout, "unmount-timeout", 10*time.Second, "how long to wait for open files at exit before detaching the mount, and then for buffered data to be written back")
	fl.DurationVar(&c.latency, "latency", 0, "delay every call to the in-memory store by this much, like a remote store (e.g. 1ms)")
	fl.BoolVar(&c.writeback, "writeback", false, "buffer writes in memory and send them to the store in large chunks (sdk/writeback); close(2) still waits for them")
	c.maxFileSize = aferofs.DefaultMemMaxFileSize
	fl.Var(&c.maxFileSize, "max-file-size", "the largest file, e.g. 64M or 4G; a write or truncate beyond it fails with EFBIG (a file this size can briefly need twice its size in memory)")
	fl.Var(&c.writebackDirty, "writeback-dirty", "with -writeback: the most buffered data, e.g. 64M or 1G (default 256M)")
	fl.BoolVar(&c.clearStale, "clear-stale", false, "unmount a stale FUSE mount (its server died) found at MOUNTPOINT first")
	fl.BoolVar(&c.daemon, "daemon", false, "detach once the mount is live, as libfuse programs without -f do; the command exits 0 only then")
	fl.StringVar(&c.logFile, "log", "", "with -daemon: the daemon's log file (default: syslog)")
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
	if c.latency < 0 {
		return nil, fmt.Errorf("-latency must not be negative, got %v", c.latency)
	}
	if c.writebackDirty != 0 && !c.writeback {
		return nil, errors.New("-writeback-dirty needs -writeback")
	}
	if c.logFile != "" && !c.daemon {
		return nil, errors.New("-log needs -daemon")
	}
	if cli.Stale(c.mountpoint) {
		// sdk.Mount reports it or clears it (-clear-stale).
		return c, nil
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
		// MemMapFs keeps no extended attributes. -writeback's FS offers
		// them all the same (answering EOPNOTSUPP); if the kernel believed
		// it, it would ask for security.capability before every write(2),
		// a round trip per write that the store alone does not cost. The
		// SDK also finds out at mount (ListXattr of the root fails); this
		// says it outright.
		NoXattrs:   true,
		ClearStale: c.clearStale,
		Logger:     slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
}

// filesystem builds what is mounted, from the inside out: the store, made
// slow by -latency, served by aferofs, buffered by -writeback. wb is nil
// without -writeback.
func (c *config) filesystem(store afero.Fs) (fsys sdk.FileSystem, wb *writeback.FS, err error) {
	if c.latency > 0 {
		store = faultfs.New(store, faultfs.Config{Latency: c.latency})
	}
	// The limit is passed even at its default: the -latency wrapper hides
	// MemMapFs's files, which aferofs limits by default only when it sees them.
	served, err := aferofs.NewWithOptions(store, &aferofs.Options{MaxFileSize: int64(c.maxFileSize)})
	if err != nil {
		return nil, nil, err
	}
	return cli.Writeback(served, c.writeback, c.writebackDirty)
}

// run is the whole program: it mounts, waits for a signal on stop (or for
// the mount to go away by other means) and unmounts. It returns the exit
// code.
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
	c, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "memfs: %v\nRun memfs -h for help.\n", err)
		return exitUsage
	}
	if daemon != nil {
		daemon.OpenLog("memfs", c.logFile)
	} else if c.daemon {
		return cli.Detach("memfs", args, c.logFile, stderr, stop)
	}
	fsys, wb, err := c.filesystem(newStore())
	if err != nil {
		fmt.Fprintf(stderr, "memfs: %v\n", err)
		return exitUsage
	}
	srv, err := sdk.Mount(fsys, c.mountpoint, c.options(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "memfs: %v\n", cli.MountFailed(c.mountpoint, err))
		if wb != nil {
			wb.Close(context.Background()) // nothing was written; this stops its goroutines
		}
		return exitError
	}
	fmt.Fprintf(stdout, "memfs: mounted on %s (%s build%s); Ctrl-C to unmount\n", srv.Dir(), sdk.Build, c.describe())
	if daemon != nil {
		daemon.Ready()
	}

	select {
	case sig := <-stop:
		fmt.Fprintf(stdout, "memfs: %v: unmounting %s\n", sig, srv.Dir())
	case <-srv.Done():
		fmt.Fprintf(stdout, "memfs: %s was unmounted\n", srv.Dir())
	}
	code := exitOK
	ctx, cancel := context.WithTimeout(context.Background(), c.unmountTimeout)
	defer cancel()
	err = srv.Unmount(ctx)
	if errors.Is(err, sdk.ErrNotMounted) {
		// Gone by other means; what is left to report is the final drain.
		err = srv.Wait()
	}
	if err != nil {
		// With -writeback this is data still not on the backend after the
		// final drain (errors.Is(err, sdk.ErrDataLost)) and failures no
		// application was told of; a failure close(2) or fsync(2) already
		// returned and that was repaired since is not repeated.
		fmt.Fprintf(stderr, "memfs: unmount: %v\n", err)
		code = exitError
	}
	if wb != nil && !cli.CloseWriteback("memfs", wb, c.unmountTimeout, stdout, stderr) {
		code = exitError
	}
	return code
}

// describe names the non-default layers for the "mounted" line.
func (c *config) describe() string {
	s := ""
	if c.latency > 0 {
		s += fmt.Sprintf(", %v latency per store call", c.latency)
	}
	if c.writeback {
		s += ", write-back"
	}
	return s
}
