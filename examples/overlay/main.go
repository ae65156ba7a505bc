// Command overlay mounts a union of directories with FUSE, like
// fuse-overlayfs: read-only lower directories, in priority order, under one
// writable upper directory that receives every change.
//
//	overlay -o lowerdir=L1:L2,upperdir=U,workdir=W MOUNTPOINT
//	overlay -lower L1:L2 -upper U MOUNTPOINT
//
// Without an upper directory the mount is read-only. The program runs in the
// foreground and unmounts cleanly on SIGINT, SIGTERM and SIGHUP, after
// flushing everything to the upper.
//
// The workdir option is accepted for compatibility with fuse-overlayfs and
// mount(8) lines, and is otherwise unused: fusekit prepares copy-ups in
// UPPER/.fusekit-work (hidden from the mount), because the rename that puts a
// finished copy in place must stay within the upper directory's filesystem.
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
	"strings"
	"syscall"
	"time"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// config is the parsed command line.
type config struct {
	lowers     []string
	upper      string
	work       string
	mountpoint string
	readOnly   bool
	allowOther bool
	debug      bool
	whiteouts  string
	noMetacopy bool
	volatile   bool
}

// usageError is a command line mistake: exit status 2 and the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// parseArgs reads both styles: Go flags and fuse-overlayfs's -o list, in any
// order around the mountpoint.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fl := flag.NewFlagSet("overlay", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: overlay -o lowerdir=L1:L2[,upperdir=U,workdir=W][,ro][,allow_other] MOUNTPOINT")
		fmt.Fprintln(stderr, "       overlay -lower L1:L2 [-upper U] [-work W] [-ro] [-allow-other] [-debug] MOUNTPOINT")
		fl.PrintDefaults()
	}
	var lower string
	var opts []string
	fl.StringVar(&lower, "lower", "", "lower directories, highest priority first, separated by colons")
	fl.StringVar(&c.upper, "upper", "", "writable upper directory (none: read-only mount)")
	fl.StringVar(&c.work, "work", "", "accepted for fuse-overlayfs compatibility; copy-ups are staged in UPPER/.fusekit-work")
	fl.BoolVar(&c.readOnly, "ro", false, "mount read-only")
	fl.BoolVar(&c.allowOther, "allow-other", false, "let other users use the mount")
	fl.BoolVar(&c.debug, "debug", false, "log every operation to stderr")
	fl.StringVar(&c.whiteouts, "whiteouts", "auto", "whiteout format written to the upper: auto, kernel or oci")
	fl.BoolVar(&c.noMetacopy, "no-metacopy", false, "copy file data on metadata-only changes too")
	fl.BoolVar(&c.volatile, "volatile", false, "do not fsync copy-ups: faster copy-up, but a machine crash can leave empty or partial upper files (kernel overlayfs's volatile)")
	fl.Func("o", "fuse-overlayfs style options: lowerdir=,upperdir=,workdir=,ro,rw,allow_other,volatile", func(s string) error {
		opts = append(opts, s)
		return nil
	})
	var positional []string
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fl.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	for _, o := range opts {
		if err := c.applyOptions(o, &lower); err != nil {
			return nil, err
		}
	}
	switch len(positional) {
	case 0:
		return nil, usagef("missing MOUNTPOINT")
	case 1:
		c.mountpoint = positional[0]
	default:
		return nil, usagef("one MOUNTPOINT expected, got %q", positional)
	}
	if lower == "" {
		return nil, usagef("no lower directory: give -o lowerdir=DIR[:DIR...] or -lower DIR[:DIR...]")
	}
	for _, l := range strings.Split(lower, ":") {
		if l == "" {
			return nil, usagef("lowerdir %q has an empty element", lower)
		}
		c.lowers = append(c.lowers, l)
	}
	switch c.whiteouts {
	case "auto", "kernel", "oci":
	default:
		return nil, usagef("-whiteouts %q: want auto, kernel or oci", c.whiteouts)
	}
	return c, nil
}

// applyOptions reads one -o list.
func (c *config) applyOptions(list string, lower *string) error {
	for _, o := range strings.Split(list, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case key == "lowerdir" && hasVal:
			*lower = val
		case key == "upperdir" && hasVal:
			c.upper = val
		case key == "workdir" && hasVal:
			c.work = val
		case key == "ro" && !hasVal:
			c.readOnly = true
		case key == "rw" && !hasVal:
			c.readOnly = false
		case key == "allow_other" && !hasVal:
			c.allowOther = true
		case key == "debug" && !hasVal:
			c.debug = true
		case key == "volatile" && !hasVal:
			c.volatile = true
		case key == "default_permissions" && !hasVal, key == "":
			// The SDK always asks the kernel to check permissions.
		default:
			return usagef("unknown option %q in -o %q (known: lowerdir=, upperdir=, workdir=, ro, rw, allow_other, default_permissions, debug, volatile)", o, list)
		}
	}
	return nil
}

// run is the whole program, minus the process: it returns the exit status.
// A value on stop unmounts (the caller wires it to SIGINT and SIGTERM).
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	c, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "overlay:", err)
		return 2
	}
	var logger *slog.Logger
	if c.debug {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := mount(c, logger)
	if err != nil {
		fmt.Fprintln(stderr, "overlay:", err)
		return 1
	}
	fmt.Fprintf(stdout, "overlay: mounted on %s (%s); Ctrl-C unmounts\n", m.srv.Dir(), m.describe())

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
