// Command overlay mounts a union of directories with FUSE, like
// fuse-overlayfs: read-only lower directories, in priority order, under one
// writable upper directory that receives every change.
//
//	overlay [-f] [-d] -o lowerdir=L1:L2,upperdir=U,workdir=W MOUNTPOINT
//	overlay [-f] -lower L1:L2 -upper U MOUNTPOINT
//
// Without an upper directory the mount is read-only.
//
// Like fuse-overlayfs and every libfuse program, it detaches once the mount
// is live: the command exits 0 when the mount answers, or prints why it
// could not mount and exits non-zero. This is what podman and buildah expect
// of a mount_program. The detached daemon logs to syslog, or to the file
// named by -log (-o log=FILE). -f keeps it in the foreground (-d also turns
// on debug logging, as with libfuse). Either way it unmounts cleanly on
// SIGINT, SIGTERM and SIGHUP, or when unmounted from outside (umount,
// fusermount -u), after flushing everything to the upper.
//
// It takes the options containers/storage and fuse-overlayfs users pass (see
// applyOption): those that mean something here are honoured, the others are
// accepted and ignored, and -debug says which were ignored. An option
// nobody knows is refused.
//
// Layouts that cannot work are refused before mounting, naming the two
// paths: a mountpoint inside a layer or the workdir, a layer inside the
// mountpoint, a lower that is the upper, an upper inside a lower (or the
// reverse), a workdir inside the upper. Symbolic links are resolved first.
//
// The kernel does not cache attributes unless -attr-timeout (-o
// attr_timeout=) says for how long: libfuse2 gives each name of a hard link
// its own kernel inode, which nothing can invalidate through cgofuse, so a
// cached stat of one name misses a link(2) or a write made through another
// (see README.md). Names are cached for a second.
//
// Copy-ups and new whiteouts are staged in WORKDIR/work and renamed into the
// upper, so the upper holds only the layer's own content; the workdir must be
// on the upper's filesystem, as the kernel requires. Without a workdir they
// are staged in UPPER/.fusekit-work, which the mount hides but the upper
// keeps.
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

	"github.com/fusekit/fusekit/examples/internal/cli"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run is the whole program, minus the process: it returns the exit status.
// A value on stop unmounts (the caller wires it to SIGINT and SIGTERM).
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	return cli.Run(args, stdout, stderr, stop, runAs)
}

func runAs(daemon *cli.Daemon, args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	c, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "overlay:", err)
		return 2
	}
	if err := c.resolve(); err != nil {
		fmt.Fprintln(stderr, "overlay:", err)
		return 1
	}
	if daemon != nil {
		daemon.OpenLog("overlay", c.logFile)
	} else if !c.foreground {
		return cli.Detach("overlay", args, c.logFile, stderr, stop)
	}
	var logger *slog.Logger
	if c.debug {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		for _, ig := range c.ignored {
			logger.Debug("option accepted and ignored", "option", ig.option, "why", ig.why)
		}
	}
	m, err := mount(c, logger)
	if err != nil {
		fmt.Fprintln(stderr, "overlay:", cli.MountFailed(c.mountpoint, err))
		return 1
	}
	fmt.Fprintf(stdout, "overlay: mounted on %s (%s); Ctrl-C unmounts\n", m.srv.Dir(), m.describe())
	if daemon != nil {
		daemon.Ready()
	}

	select {
	case sig := <-stop:
		fmt.Fprintf(stdout, "overlay: %v: unmounting\n", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = m.srv.Unmount(ctx)
	case <-m.srv.Done():
		// Unmounted from outside (umount, fusermount -u) or by libfuse's
		// own signal handling; the final flush has run.
		err = m.srv.Wait()
	}
	m.close()
	if err != nil && !isNotMounted(err) {
		fmt.Fprintln(stderr, "overlay: unmount:", err)
		return 1
	}
	fmt.Fprintln(stdout, "overlay: unmounted")
	return 0
}
