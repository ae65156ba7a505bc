//go:build !linux || cgo

package sdk

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// CachePolicy says how the kernel page cache treats a file's data.
type CachePolicy int

const (
	// CacheAuto keeps the page cache while the file is open and drops it on
	// the next open, so changes made behind the mount are seen after a
	// reopen (libfuse's default).
	CacheAuto CachePolicy = iota
	// CacheKeep keeps cached pages across opens (keep_cache). Only correct
	// when nothing changes the backend behind the mount.
	CacheKeep
	// CacheDirect bypasses the page cache (direct_io): every read and write
	// reaches the filesystem at the application's size; mmap is refused.
	CacheDirect
)

func (p CachePolicy) String() string {
	switch p {
	case CacheAuto:
		return "auto"
	case CacheKeep:
		return "keep"
	case CacheDirect:
		return "direct"
	}
	return fmt.Sprintf("CachePolicy(%d)", int(p))
}

// PermissionMode says who enforces mode bits and ownership.
type PermissionMode int

const (
	// PermissionsAuto lets the kernel check permissions
	// (default_permissions) whenever AllowOther opens the mount to other
	// users. A private mount can only be used by the user who mounted it
	// and the kernel does not check there: a check costs a Getattr round
	// trip per path component per access with libfuse3, which caches
	// nothing. Unprivileged callers are still refused, by the SDK, what
	// the mode bits forbid them in access(2), and the kernel still refuses
	// to execute files without execute bits.
	PermissionsAuto PermissionMode = iota
	// PermissionsKernel always lets the kernel check (default_permissions).
	PermissionsKernel
	// PermissionsFilesystem leaves every decision to the filesystem (for
	// example through Accesser and the caller in the context).
	PermissionsFilesystem
)

// kernelChecks reports whether the kernel checks permissions on this mount.
func (r *resolved) kernelChecks() bool {
	switch r.Permissions {
	case PermissionsKernel:
		return true
	case PermissionsFilesystem:
		return false
	}
	return r.AllowOther
}

// Options configure a mount. The zero value is a sensible default: a
// read-write, private mount with auto_unmount, a one-second attribute cache
// and big writes; with AllowOther the kernel also checks permissions.
type Options struct {
	// FSName is the source column of /proc/mounts (fsname=). Default "fusekit".
	FSName string
	// Subtype makes the type column read fuse.<Subtype>. Default "fusekit".
	Subtype string

	// ReadOnly mounts read-only: the kernel refuses writes with EROFS.
	ReadOnly bool
	// AllowOther lets users other than the mounting one use the mount.
	AllowOther bool
	// Permissions says who enforces mode bits; see PermissionMode.
	Permissions PermissionMode
	// AllowNonEmpty permits mounting over a directory that has entries.
	AllowNonEmpty bool
	// ClearStale unmounts a stale FUSE mount ("transport endpoint is not
	// connected") found at the mountpoint instead of failing.
	ClearStale bool
	// NoAutoUnmount turns off auto_unmount, which otherwise removes the mount
	// when the process dies without unmounting: libfuse's fusermount
	// watcher, backed up by a watchdog process of the SDK's own (/bin/sh)
	// for the cases fusermount misses (README, Known limits).
	NoAutoUnmount bool
	// HandleSignals makes SIGHUP unmount cleanly too. cgofuse itself always
	// unmounts on SIGINT and SIGTERM while a mount is live, and buffered data
	// is drained before the mount goes away in every case; without this
	// option SIGHUP kills the process and leaves the mount to auto_unmount.
	HandleSignals bool

	// AttrTimeout, EntryTimeout and NegativeTimeout are the kernel's caching
	// times for attributes, names and missing names. Zero means one second,
	// a negative value turns that cache off. The libfuse3 build of cgofuse
	// always uses zero, whatever is set here; the SDK's own attribute cache
	// (AttrCacheTTL) absorbs the resulting storm of Getattr calls.
	AttrTimeout     time.Duration
	EntryTimeout    time.Duration
	NegativeTimeout time.Duration
	// AttrCacheTTL is how long the SDK trusts attributes it fetched from the
	// filesystem. Every change made through the mount invalidates them at
	// once, so the TTL only bounds how late changes made behind the mount
	// are seen. Zero means one second; negative turns the cache off.
	AttrCacheTTL time.Duration

	// Cache is the page cache policy for every file, unless FileCache says
	// otherwise for a file. Files opened with O_DIRECT always bypass it.
	Cache CachePolicy
	// FileCache, if set, chooses the policy per open; name is the file's
	// path in the filesystem and flags its open(2) flags.
	FileCache func(name string, flags int) CachePolicy

	// NoXattrs hides extended attributes on this mount even when the
	// filesystem implements Xattrer: xattr calls fail with EOPNOTSUPP. The
	// kernel asks for security.capability before every write(2) while
	// xattrs are on, which costs one round trip to the server per write;
	// with NoXattrs it stops asking. A filesystem whose root answers
	// ListXattr with ErrNotSupported (a wrapper over one without xattrs)
	// gets this without asking.
	NoXattrs bool

	// MaxWrite is the largest write the kernel sends, in bytes: a multiple
	// of 4096. Both builds accept it, so that one program builds and runs
	// with either: libfuse2 uses it up to its own ceiling of 131072 (the
	// default; larger values mean 131072), libfuse3 ignores it and always
	// uses 1 MiB (libfuse3 has no max_write option).
	MaxWrite int
	// MaxThreads caps the threads serving requests (default 10, libfuse's
	// own). More threads help only when requests block in the filesystem
	// for long (a network backend): idle threads are kept up to the cap,
	// and a pool larger than the parallelism made sequential requests
	// slower in measurements. Both builds accept it: libfuse3 applies it,
	// libfuse2 ignores it (its pool has no cap and keeps 10 idle threads).
	MaxThreads int
	// KeepGOMAXPROCS stops Mount from raising GOMAXPROCS. Mount otherwise
	// makes it at least the CPU count plus libfuse's threads (10 with
	// libfuse2, MaxThreads with libfuse3), because each thread parks a Go
	// scheduler slot while it waits for the next request and the one that
	// gets it must not wait for a free slot (measured on 2 CPUs: unlink and
	// stat through the passthrough 8–24 % faster, docs/performance.md §0).
	// The setting is process-wide; it is never lowered, and a GOMAXPROCS
	// environment variable is respected.
	KeepGOMAXPROCS bool

	// OwnerUID, OwnerGID and Umask, when set, override the owner, group and
	// permission bits reported for every file. The SDK applies them itself
	// because the libfuse3 build ignores libfuse's uid=, gid= and umask=.
	OwnerUID *uint32
	OwnerGID *uint32
	Umask    *uint32

	// MountTimeout bounds how long Mount waits for the mount to answer.
	// Zero means 15 seconds.
	MountTimeout time.Duration

	// Logger receives one debug line per operation and warnings (recovered
	// panics, cleanup failures). Nil means no logging at all.
	Logger *slog.Logger

	// noFusermountWatcher leaves auto_unmount out of libfuse's options
	// but keeps the SDK's own watchdog: tests use it to check that the
	// watchdog alone clears the mount of a killed server.
	noFusermountWatcher bool

	// RawOptions are passed to libfuse as -o options after the SDK's own,
	// unchecked. They are an escape hatch: an option the running libfuse
	// rejects makes Mount fail with libfuse's message.
	RawOptions []string
}

// OptionError reports an invalid Options field.
type OptionError struct {
	Field  string
	Value  any
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("sdk: invalid Options.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// Uint32 returns a pointer to v, for the optional Options fields.
func Uint32(v uint32) *uint32 { return &v }

const (
	defaultTimeout      = time.Second
	defaultMountTimeout = 15 * time.Second
	defaultMaxThreads   = 10
	fuse2MaxWrite       = 128 << 10
)

// resolved holds Options after validation, with every default applied.
type resolved struct {
	Options
	attrTTL time.Duration // SDK attribute cache TTL; 0 = off
	kattr   time.Duration // kernel timeouts (libfuse2)
	kentry  time.Duration
	kneg    time.Duration
}

func timeoutOrDefault(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultTimeout
	case d < 0:
		return 0
	}
	return d
}

// validate checks every field and fills in defaults. The build-specific
// checks (MaxWrite, MaxThreads) live in checkBuild.
func (o *Options) validate() (*resolved, error) {
	r := &resolved{Options: *o}
	if r.FSName == "" {
		r.FSName = "fusekit"
	}
	if r.Subtype == "" {
		r.Subtype = "fusekit"
	}
	for field, v := range map[string]string{"FSName": r.FSName, "Subtype": r.Subtype} {
		if strings.ContainsAny(v, ",\\\x00\n") {
			return nil, &OptionError{field, v, "must not contain commas, backslashes, NUL or newlines"}
		}
	}
	if r.Subtype != "" && strings.ContainsAny(r.Subtype, " \t/") {
		return nil, &OptionError{"Subtype", r.Subtype, "must not contain spaces or slashes"}
	}
	switch r.Permissions {
	case PermissionsAuto, PermissionsKernel, PermissionsFilesystem:
	default:
		return nil, &OptionError{"Permissions", r.Permissions, "unknown permission mode"}
	}
	switch r.Cache {
	case CacheAuto, CacheKeep, CacheDirect:
	default:
		return nil, &OptionError{"Cache", r.Cache, "unknown cache policy"}
	}
	if r.Umask != nil && *r.Umask&^0o777 != 0 {
		return nil, &OptionError{"Umask", fmt.Sprintf("%#o", *r.Umask), "must be within 0777"}
	}
	if r.MaxWrite < 0 || r.MaxWrite%4096 != 0 {
		return nil, &OptionError{"MaxWrite", r.MaxWrite, "must be a non-negative multiple of 4096"}
	}
	if r.MaxThreads < 0 {
		return nil, &OptionError{"MaxThreads", r.MaxThreads, "must not be negative"}
	}
	if r.MountTimeout < 0 {
		return nil, &OptionError{"MountTimeout", r.MountTimeout, "must not be negative"}
	}
	if r.MountTimeout == 0 {
		r.MountTimeout = defaultMountTimeout
	}
	for _, raw := range r.RawOptions {
		if raw == "" || strings.HasPrefix(raw, "-") || strings.ContainsAny(raw, "\x00\n") {
			return nil, &OptionError{"RawOptions", raw, "each entry must be one non-empty -o option such as \"name=value\""}
		}
	}
	r.attrTTL = timeoutOrDefault(r.AttrCacheTTL)
	r.kattr = timeoutOrDefault(r.AttrTimeout)
	r.kentry = timeoutOrDefault(r.EntryTimeout)
	r.kneg = timeoutOrDefault(r.NegativeTimeout)
	if err := r.checkBuild(); err != nil {
		return nil, err
	}
	return r, nil
}

// policy returns the page cache policy for one open.
func (r *resolved) policy(name string, flags int) CachePolicy {
	if r.FileCache != nil {
		return r.FileCache(name, flags)
	}
	return r.Cache
}

// commonOptions are the -o options both libfuse lines accept.
func (r *resolved) commonOptions() []string {
	opts := []string{
		"fsname=" + r.FSName,
		"subtype=" + r.Subtype,
	}
	if r.kernelChecks() {
		opts = append(opts, "default_permissions")
	}
	if r.AllowOther {
		opts = append(opts, "allow_other")
	}
	if r.ReadOnly {
		opts = append(opts, "ro")
	}
	if !r.NoAutoUnmount && !r.noFusermountWatcher {
		opts = append(opts, "auto_unmount")
	}
	return opts
}

func secondsOption(name string, d time.Duration) string {
	return fmt.Sprintf("%s=%g", name, d.Seconds())
}
