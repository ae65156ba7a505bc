package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	lowers     []string // as given; resolve makes them absolute and symlink-free
	upper      string
	work       string
	mountpoint string
	readOnly   bool
	allowOther bool
	debug      bool
	whiteouts  string
	noMetacopy bool
	volatile   bool

	foreground bool
	logFile    string
	clearStale bool
	// kernelPerms is default_permissions: the kernel checks mode bits
	// even on a private mount.
	kernelPerms bool
	// squashUID and squashGID report every file as owned by them.
	squashUID, squashGID *uint32
	// mountFlags are mount(2) flags passed on to libfuse (nodev, ...).
	mountFlags []string
	fsname     string
	// uids and gids are uidmapping= and gidmapping= (idmap.go).
	uids, gids idMap
	// attrTimeout is how long the kernel caches attributes; 0 (the
	// default) turns the cache off (see the package documentation).
	attrTimeout time.Duration
	// ignored lists the options accepted without effect, for -debug.
	ignored []ignoredOption
}

type ignoredOption struct{ option, why string }

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
		fmt.Fprintln(stderr, "usage: overlay [-f] [-d] -o lowerdir=L1:L2[,upperdir=U,workdir=W][,OPTION...] MOUNTPOINT")
		fmt.Fprintln(stderr, "       overlay [-f] -lower L1:L2 [-upper U] [-work W] [-ro] [-allow-other] [-debug] MOUNTPOINT")
		fmt.Fprintln(stderr, "Without -f the command returns once the mount is live and the server runs detached.")
		fl.PrintDefaults()
	}
	var lower string
	var opts []string
	fl.StringVar(&lower, "lower", "", "lower directories, highest priority first, separated by colons")
	fl.StringVar(&c.upper, "upper", "", "writable upper directory (none: read-only mount)")
	fl.StringVar(&c.work, "work", "", "work directory on the upper's filesystem where copy-ups are staged (default: UPPER/.fusekit-work, hidden from the mount)")
	fl.BoolVar(&c.readOnly, "ro", false, "mount read-only")
	fl.BoolVar(&c.allowOther, "allow-other", false, "let other users use the mount")
	fl.BoolVar(&c.debug, "debug", false, "log every operation (to stderr, or the daemon's log) and the options ignored")
	fl.BoolVar(&c.foreground, "f", false, "stay in the foreground instead of detaching once mounted")
	fl.BoolFunc("d", "debug and foreground, as with libfuse programs", func(string) error {
		c.debug, c.foreground = true, true
		return nil
	})
	fl.StringVar(&c.logFile, "log", "", "the detached server's log file (default: syslog)")
	fl.BoolVar(&c.clearStale, "clear-stale", false, "unmount a stale FUSE mount (its server died) found at MOUNTPOINT first")
	fl.StringVar(&c.whiteouts, "whiteouts", "auto", "whiteout format written to the upper: auto, kernel or oci")
	fl.BoolVar(&c.noMetacopy, "no-metacopy", false, "copy file data on metadata-only changes too")
	fl.BoolVar(&c.volatile, "volatile", false, "do not fsync copy-ups: faster copy-up, but a machine crash can leave empty or partial upper files (kernel overlayfs's volatile)")
	fl.Func("attr-timeout", "how long the kernel may cache attributes, e.g. 1s (default 0: off, so that stat after a link(2) or a write through another name of a hard link is never stale; the libfuse3 build is always 0)", func(v string) error {
		d, err := parseTimeout(v)
		if err != nil {
			return err
		}
		c.attrTimeout = d
		return nil
	})
	fl.Func("o", "fuse-overlayfs style options, comma-separated: lowerdir=,upperdir=,workdir=,ro,rw,allow_other,volatile,clear_stale,... (see the package documentation)", func(s string) error {
		opts = append(opts, s)
		return nil
	})
	// fuse-overlayfs and mount(8) also take the list glued to the flag
	// (-olowerdir=...), which the flag package would read as a flag named
	// "olowerdir=...".
	args = splitGluedO(args)
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
	for _, list := range opts {
		for _, o := range splitOptions(list) {
			if err := c.applyOption(o, &lower); err != nil {
				return nil, err
			}
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
	if c.mountpoint == "" {
		return nil, usagef("the MOUNTPOINT is an empty string")
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

// splitGluedO turns "-oLIST" into "-o", "LIST" (not "-o=LIST", which the
// flag package reads, nor anything after "--").
func splitGluedO(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && strings.HasPrefix(a, "-o") && a[2] != '=' {
			out = append(out, "-o", a[2:])
			continue
		}
		out = append(out, a)
	}
	return out
}

// splitOptions splits one -o list at the commas that are not inside double
// quotes: podman passes SELinux labels as context="...:c1,c2". Empty
// options (podman passes ",,") come out as empty strings.
func splitOptions(list string) []string {
	var out []string
	quoted := false
	start := 0
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, list[start:i])
				start = i + 1
			}
		}
	}
	return append(out, list[start:])
}

// ignoredOptions are the options of fuse-overlayfs, kernel overlayfs and
// mount(8) that are accepted and have no effect here, with the reason
// -debug gives. Options with a value are checked for a value that makes
// sense in applyOption.
var ignoredOptions = map[string]string{
	"context":           "SELinux labels are not applied by this server",
	"fscontext":         "SELinux labels are not applied by this server",
	"defcontext":        "SELinux labels are not applied by this server",
	"rootcontext":       "SELinux labels are not applied by this server",
	"noacl":             "the mount does not interpret POSIX ACLs; they are passed through as xattrs",
	"static_nlink":      "directory link counts are the layers' own",
	"threaded":          "requests are always served by several threads",
	"xattr_permissions": "ownership and modes are always the layers' own, never kept in xattrs",
	"plugins":           "layer plugins are not supported; lowerdir entries are plain directories",
	"redirect_dir":      "renaming a merged directory copies it up; no redirects are written",
	"index":             "hard links to lower files are copied up on their own; no index",
	"xino":              "inode numbers come from the layers",
	"nfs_export":        "not an NFS export",
	"userxattr":         "markers use the namespace the server can write",
	"suid":              "the default",
	"dev":               "the default",
	"exec":              "the default",
	"atime":             "access times are the layers' own",
	"noatime":           "access times are the layers' own",
	"relatime":          "access times are the layers' own",
	"strictatime":       "access times are the layers' own",
	"nodiratime":        "access times are the layers' own",
	"async":             "the default",
	"auto":              "an fstab option",
	"noauto":            "an fstab option",
	"user":              "an fstab option",
	"nouser":            "an fstab option",
	"users":             "an fstab option",
	"_netdev":           "an fstab option",
	"nofail":            "an fstab option",
	"defaults":          "an fstab option",
}

// applyOption applies one -o option (fuse-overlayfs's names, kernel
// overlayfs's and mount(8)'s).
func (c *config) applyOption(o string, lower *string) error {
	key, val, hasVal := strings.Cut(o, "=")
	flagOnly := func() error {
		if hasVal {
			return usagef("option %q takes no value", o)
		}
		return nil
	}
	oneOf := func(allowed ...string) error {
		for _, a := range allowed {
			if val == a {
				return nil
			}
		}
		return usagef("option %q: want %s=%s", o, key, strings.Join(allowed, "|"))
	}
	ignore := func(err error) error {
		if err == nil {
			c.ignored = append(c.ignored, ignoredOption{o, ignoredOptions[key]})
		}
		return err
	}
	switch key {
	case "":
		// Empty options: podman joins lists that may be empty (",,").
		if hasVal {
			return usagef("option %q has no name", o)
		}
		return nil
	case "lowerdir", "upperdir", "workdir", "log", "fsname":
		if !hasVal || val == "" {
			return usagef("option %q needs a value: %s=PATH", o, key)
		}
		switch key {
		case "lowerdir":
			*lower = val
		case "upperdir":
			c.upper = val
		case "workdir":
			c.work = val
		case "log":
			c.logFile = val
		case "fsname":
			c.fsname = val
		}
		return nil
	case "ro", "rw", "allow_other", "debug", "volatile", "default_permissions", "clear_stale", "squash_to_root",
		"nodev", "nosuid", "noexec":
		if err := flagOnly(); err != nil {
			return err
		}
		switch key {
		case "ro":
			c.readOnly = true
		case "rw":
			c.readOnly = false
		case "allow_other":
			c.allowOther = true
		case "debug":
			// As with libfuse, -o debug implies the foreground.
			c.debug, c.foreground = true, true
		case "volatile":
			c.volatile = true
		case "default_permissions":
			c.kernelPerms = true
		case "clear_stale":
			c.clearStale = true
		case "squash_to_root":
			// squash_to_uid= and squash_to_gid= take precedence,
			// wherever they stand.
			if c.squashUID == nil {
				c.squashUID = new(uint32)
			}
			if c.squashGID == nil {
				c.squashGID = new(uint32)
			}
		default:
			c.mountFlags = append(c.mountFlags, key)
		}
		return nil
	case "squash_to_uid", "squash_to_gid":
		n, err := strconv.ParseUint(val, 10, 32)
		if !hasVal || err != nil {
			return usagef("option %q: want %s=ID, a number", o, key)
		}
		id := uint32(n)
		if key == "squash_to_uid" {
			c.squashUID = &id
		} else {
			c.squashGID = &id
		}
		return nil
	case "fsync":
		if err := oneOf("0", "1"); err != nil {
			return err
		}
		// fuse-overlayfs's fsync=0 skips fsync for speed; here it skips
		// the copy-up fsync, as volatile does.
		if val == "0" {
			c.volatile = true
		}
		return nil
	case "attr_timeout":
		d, err := parseTimeout(val)
		if !hasVal || err != nil {
			return usagef("option %q: want attr_timeout=SECONDS, e.g. 0 or 1.5", o)
		}
		c.attrTimeout = d
		return nil
	case "metacopy":
		if err := oneOf("on", "off"); err != nil {
			return err
		}
		c.noMetacopy = val == "off"
		return nil
	case "uidmapping", "gidmapping":
		m, err := parseIDMapping(val)
		if !hasVal || err != nil {
			if err == nil {
				err = errors.New("no value")
			}
			return usagef("option %q: %v", o, err)
		}
		if key == "uidmapping" {
			c.uids = m
		} else {
			c.gids = m
		}
		return nil
	case "threaded":
		return ignore(oneOf("0", "1"))
	case "xattr_permissions":
		return ignore(oneOf("0", "1", "2"))
	case "redirect_dir":
		return ignore(oneOf("on", "off", "follow", "nofollow"))
	case "index", "nfs_export", "userxattr":
		if key == "userxattr" {
			return ignore(flagOnly())
		}
		return ignore(oneOf("on", "off"))
	case "xino":
		return ignore(oneOf("on", "off", "auto"))
	case "context", "fscontext", "defcontext", "rootcontext", "plugins":
		if !hasVal {
			return usagef("option %q needs a value", o)
		}
		return ignore(nil)
	}
	if _, ok := ignoredOptions[key]; ok {
		return ignore(flagOnly())
	}
	if strings.HasPrefix(key, "x-") {
		// mount(8) leaves x-* options to userspace helpers.
		c.ignored = append(c.ignored, ignoredOption{o, "an x- option for other programs"})
		return nil
	}
	return usagef("unknown option %q (known: lowerdir=, upperdir=, workdir=, ro, rw, allow_other, default_permissions, volatile, fsync=, uidmapping=, gidmapping=, squash_to_root, squash_to_uid=, squash_to_gid=, metacopy=, attr_timeout=, nodev, nosuid, noexec, fsname=, clear_stale, log=, debug; accepted and ignored: %s)", o, ignoredList())
}

// parseTimeout reads a cache time as libfuse writes it (seconds, possibly
// fractional: attr_timeout=1.5) or as a Go duration (1500ms).
func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || secs != secs || secs > 1e9 {
			return 0, fmt.Errorf("%q is not a time: want seconds (1.5) or a duration (1500ms)", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

func ignoredList() string {
	names := make([]string, 0, len(ignoredOptions))
	for k := range ignoredOptions {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// idRange is one entry of uidmapping= or gidmapping=: ids From..From+Len-1
// as stored in the layers are To..To+Len-1 on the host.
type idRange struct{ From, To, Len uint32 }

// parseIDMapping reads fuse-overlayfs's CONTAINER:HOST:SIZE[:CONTAINER:HOST:SIZE...].
func parseIDMapping(s string) (idMap, error) {
	f := strings.Split(s, ":")
	if len(f)%3 != 0 {
		return nil, fmt.Errorf("want CONTAINER:HOST:SIZE triples separated by ':', got %d fields", len(f))
	}
	var out idMap
	for i := 0; i < len(f); i += 3 {
		var n [3]uint32
		for j := range n {
			v, err := strconv.ParseUint(f[i+j], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%q is not an id", f[i+j])
			}
			n[j] = uint32(v)
		}
		if n[2] == 0 || uint64(n[0])+uint64(n[2]) > 1<<32 || uint64(n[1])+uint64(n[2]) > 1<<32 {
			return nil, fmt.Errorf("range %s:%s:%s is empty or runs past the largest id", f[i], f[i+1], f[i+2])
		}
		out = append(out, idRange{n[0], n[1], n[2]})
	}
	return out, nil
}
