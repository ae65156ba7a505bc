// Package overlay is a union filesystem: one optional writable upper layer
// over one or more read-only lower layers, each of them any sdk.FileSystem
// (a host directory through the passthrough adapter, a zip or tar or an
// embed.FS through afero, a MemMapFs, another overlay).
//
// # The merged view
//
// A name is looked up in the upper, then in each lower in order. The first
// layer that has it decides: a non-directory hides everything below it; a
// directory merges with the same-named directories below until one of them
// is opaque. Lookup walks the path one element at a time, so a whiteout or an
// opaque directory at any level cuts off everything beneath it. ReadDir lists
// each visible name once and never shows a marker, nor a work directory
// inside the upper. Without an upper the overlay is read-only (EROFS).
//
// Stat of a merged directory (one that more than one layer holds) reports
// link count 1, as kernel overlayfs does: its true count would need a merged
// listing, and find(1) and other tools read 1 as "unknown". A directory that
// only one layer holds (or whose upper is opaque) reports that layer's count.
//
// # Markers
//
// Both on-disk formats are read in every layer: kernel overlayfs (a
// whiteout is a character device 0/0; a directory is opaque when its
// trusted.overlay.opaque or user.overlay.opaque xattr is "y") and OCI/AUFS
// (".wh.NAME" hides NAME, ".wh..wh..opq" makes its directory opaque; other
// ".wh..wh." names are ignored bookkeeping). The upper receives the format
// Config.Whiteouts chooses; by default the kernel format when the upper can
// hold it (a passthrough upper served by root), the OCI format otherwise, so
// an upper directory written here can be mounted by the kernel, or unpacked
// as an image layer. Names that would read back as markers (".wh.*", a
// character device 0/0, the overlay's xattrs, a work directory inside the
// upper) cannot be created through the overlay: such requests fail with
// EINVAL (EPERM for the device, as with the kernel) and a ReservedNameError
// saying why.
//
// # Copy-up
//
// The first change to a lower object (open for writing, truncate, chmod,
// chown, utimens, an xattr change, link, rename) copies it into the upper,
// parents first with their metadata, then the object with its data, mode,
// owner, times and xattrs; whole chunks of zeros become holes. As with the
// kernel, the upper parent keeps its times through the copy-up, so a copy-up
// changes no directory's mtime in the merged view. The copy is
// built under a temporary name in the work directory (see below), fsync'd,
// and renamed into place: after a crash or ENOSPC the merged view shows the
// lower object, never a partial copy, and New clears the leftovers. New
// whiteouts and objects made where a whiteout was are prepared there too,
// so that each replaces what was at its name in one rename. The fsync is what kernel
// overlayfs does too: without it a power failure could leave an empty file in
// the upper hiding the intact lower one. fuse-overlayfs and unionfs-fuse copy
// without it. Config.Volatile drops it, as the kernel's volatile option does;
// a killed server is still safe then (the rename is atomic and the kernel
// keeps the written pages), a crashed machine is not. fsync and syncfs
// through the mount still reach the upper. The lower is never written.
// Copy-ups of one name are serialised, so two openers cause one copy. A
// failed copy-up returns a *CopyUpError ("copy-up of NAME failed: no space
// left on device") wrapping the errno.
//
// # The work directory
//
// Config.Work is the work directory, as kernel overlayfs's workdir: a
// filesystem on the same host mount as the upper and outside it (for a
// passthrough upper, passthrough.New(workdir)); both must implement CrossFS
// so that a staged object moves into the upper with one renameat2(2), and
// a hard link is made into the work directory with one linkat(2). New
// refuses, naming both directories, a work directory on another filesystem
// or mount, inside the upper, containing it, or the same. The overlay uses
// only WORK/work, which New creates and empties (crash leftovers); anything
// else in WORK is left alone. With a work directory nothing but the layer's
// own content (objects, whiteouts, opaque markers, metacopy stubs) appears
// in the upper, as a test checks through a mount. One exception is
// libfuse's, not the overlay's: a file unlinked while still open lives on
// under a ".fuse_hidden" name in its directory until it is closed (the SDK
// hides it from listings and removes leftovers of a crashed server).
//
// Without Config.Work (an upper that is not a host directory, such as an
// afero or write-back layer, or library use that sets none) the work
// directory is Config.WorkDir, DefaultWorkDir by default: a directory at
// the root of the upper, which the merged view never shows and New
// empties. It is in the upper directory, though: a kernel overlayfs mount of
// that upper, or an image built from it, shows it (empty after a clean
// unmount, or with leftovers of an interrupted copy-up).
//
// # Metacopy
//
// A metadata-only change to a lower regular file (chmod, chown, utimens,
// xattrs, hard link, rename) can leave the data in the lower: the upper
// receives a stub of the right size without data blocks, carrying the new
// metadata and a marker that says where the data is. Reads of a stub come
// from that lower file; the first open for writing copies the data into the
// stub in place (keeping its inode, so hard links follow) and drops the
// marker only once the data is durable. Config.Metacopy chooses, and
// Metacopy()/MetacopyMode() report, what the upper receives:
//
//   - MetacopyKernel, the default when the upper takes kernel markers (a
//     passthrough upper served by root): the kernel's own format. A stub
//     carries trusted.overlay.metacopy (empty) and trusted.overlay.redirect
//     = "/" + the lower path of its data, absolute so that it stays right
//     when the stub is renamed, linked or moved with a renamed directory.
//     Kernel overlayfs mounted over the same lowers with metacopy=on (which
//     implies redirect_dir=on) shows the same files with the same data,
//     which a test checks. Without metacopy=on the kernel refuses to look
//     such stubs up (EPERM; it does not show them as empty). No
//     trusted.overlay.origin is written: the kernel finds metacopy data by
//     path and redirect, with index=off and with index=on alike (tested on
//     Linux 6.18).
//   - MetacopyOff, the default otherwise (OCI markers, an upper without
//     trusted xattrs, a server that is not root; also DisableMetacopy): no
//     stubs; every copy-up copies the data, so the upper is complete on its
//     own for the kernel, for image tools, for anything.
//   - MetacopyFusekit, only when asked for: a stub carries
//     user.fusekit.metacopy = the lower path of its data. It needs only user
//     xattrs (a server that is not root), but only this overlay reads it: to
//     the kernel or an image tool such a stub is a file of zeros.
//
// Stubs of both formats are read whatever the mode, so an upper written
// under one mode mounts under another. A server that is not root cannot
// read trusted.* xattrs and so cannot see kernel-format stubs.
//
// # Deletion and rename
//
// Unlink and rmdir remove the upper object and leave a whiteout when the name
// still exists below; rmdir of a merged directory needs the merged view to be
// empty (ENOTEMPTY). A new directory made where a whiteout was is opaque.
// Files and upper-only directories rename natively, leaving a whiteout at
// the source when something below showed there. A directory with lower
// content, which kernel overlayfs refuses to rename with EXDEV unless
// redirect_dir is on, is renamed here: its whole tree is copied up (files as
// metacopy stubs, so only metadata moves), every copied directory made
// opaque, and the tree renamed; every directory keeps its times, as a
// kernel rename with redirect_dir=on does. That is the one deliberate difference from
// the kernel in the differential test. RenameExchange (renameat2
// RENAME_EXCHANGE, which reaches the overlay only in the libfuse3 build)
// copies both objects up the same way and swaps them in the upper with one
// exchange, as the kernel does. A character device 0/0 (a whiteout) cannot
// be made through the overlay: EPERM, the kernel's answer.
//
// # Inode numbers
//
// Each object gets a number when first seen, keyed by (layer, backend inode)
// or by (layer, path) for layers that report no inode numbers. A copy-up
// makes the upper copy an alias of the lower identity, so st_ino does not
// change while the mount lives, and ReadDir reports the same numbers as
// Stat. The numbers are not stable across mounts.
//
// # Caching
//
// Deciding how a directory merges costs a Stat per layer, and for every
// layer but the last two getxattr calls and a Stat for the opaque markers.
// The overlay therefore remembers, for each directory it has resolved, which
// layers hold it, where an opaque marker cuts them, what lies below it, and
// whether its upper part holds OCI whiteouts; and for each upper regular
// file, by inode number, whether it is a metacopy stub. Attributes, data,
// listings and missing names are never cached: the last element of every
// name is asked of its layers on every operation, in each layer its
// (cached) parent merges. Every namespace change made through the overlay
// (copy-up of a directory, mkdir, rmdir, rename of a directory, a new
// opaque marker or OCI whiteout, a stub filled, an upper file removed)
// invalidates what it touched, the directory and everything under it, once
// it is done; a lookup that overlapped such a change does not store what it
// read. The cache holds at most 65,536 directories and 131,072 files and
// starts over when full.
//
// # Locking
//
// Lock order: the per-name copy-up lock (FS.copyLocks), then FS.nsMu, then
// the cache's lock (dirCache.mu). nsMu serialises every change to the
// upper's namespace made through the overlay and the rename that ends a
// copy-up; the bulk data copy of a regular copy-up runs outside it, the
// in-place fill of a metacopy stub inside it. The cache's lock, the inode
// table's and the locks inside keyedMutex and tempName are leaves, never
// held across a call into a layer. Lookups take only the cache's lock, for
// moments: they may observe a namespace change half done (for example a
// renamed file before its source whiteout exists), as with any concurrent
// access to a directory tree, but what they cache is dropped if a change
// overlapped them. Copy-up locks are taken parent before child, so they
// cannot deadlock.
//
// # Known limits
//
// The layers must not be changed behind the overlay's back while it is
// mounted, which kernel overlayfs also leaves undefined. Precisely: files
// and directories added to or removed from a lower layer under a directory
// the overlay merges from that layer do show (names are always looked up
// afresh), and a name never resolved before is resolved in every layer; but
// a change to how a directory already resolved merges is not noticed until
// the overlay itself changes that directory or is mounted again: a lower
// directory appearing where the merged directory came only from other
// layers, an opaque marker or OCI whiteout added or removed by hand, a
// directory replaced by a file, an upper file turned into or out of a
// metacopy stub. Whatever the cache holds, the overlay writes only to the
// upper, and it reads a stub's marker from the upper again before filling
// the stub with lower data, so a stale entry cannot make it overwrite data
// in the upper. Copy-ups are not coordinated with changes to the layers
// made from outside. Hard links that exist in a lower layer are broken by
// copy-up (each name is copied on its own), as with the kernel without
// index=on. A metacopy stub whose lower data disappears (the lowers changed
// between mounts) reads as EIO.
package overlay
