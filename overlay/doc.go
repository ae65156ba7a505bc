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
// each visible name once and never shows a marker, and the upper's work
// directory is hidden. Without an upper the overlay is read-only (EROFS).
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
// character device 0/0, the overlay's xattrs, the work directory at the
// root) cannot be created through the overlay: such requests fail with
// EINVAL and a ReservedNameError saying why.
//
// # Copy-up
//
// The first change to a lower object (open for writing, truncate, chmod,
// chown, utimens, an xattr change, link, rename) copies it into the upper,
// parents first with their metadata, then the object with its data, mode,
// owner, times and xattrs; whole chunks of zeros become holes. The copy is
// built under a temporary name in the work directory (Config.WorkDir, inside
// the upper so that the final rename is atomic), fsync'd, and renamed into
// place: after a crash or ENOSPC the merged view shows the lower object, never
// a partial copy, and New clears the leftovers. The lower is never written.
// Copy-ups of one name are serialised, so two openers cause one copy. A
// failed copy-up returns a *CopyUpError ("copy-up of NAME failed: no space
// left on device") wrapping the errno.
//
// # Metacopy
//
// A metadata-only change to a lower regular file (chmod, chown, utimens,
// xattrs, hard link, rename) does not copy its data: the upper receives a
// stub of the right size without data blocks, marked with the
// user.fusekit.metacopy xattr naming the lower path of the data. Reads of a
// stub come from that lower file; the first open for writing copies the data
// into the stub in place (keeping its inode, so hard links follow) and drops
// the marker only once the data is durable. This is on whenever the upper
// stores user xattrs, unlike the kernel's default metacopy=off, and covers
// rename and link as well; Config.DisableMetacopy turns it off.
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
// opaque, and the tree renamed. That is the one deliberate difference from
// the kernel in the differential test. RenameExchange is refused (EINVAL).
//
// # Inode numbers
//
// Each object gets a number when first seen, keyed by (layer, backend inode)
// or by (layer, path) for layers that report no inode numbers. A copy-up
// makes the upper copy an alias of the lower identity, so st_ino does not
// change while the mount lives, and ReadDir reports the same numbers as
// Stat. The numbers are not stable across mounts.
//
// # Locking
//
// Lock order: the per-name copy-up lock (FS.copyLocks), then FS.nsMu. nsMu
// serialises every change to the upper's namespace made through the overlay
// and the rename that ends a copy-up; the bulk data copy of a regular
// copy-up runs outside it, the in-place fill of a metacopy stub inside it.
// Lookups take no lock: they may observe a namespace change half done (for
// example a renamed file before its source whiteout exists), as with any
// concurrent access to a directory tree. Copy-up locks are taken parent
// before child, so they cannot deadlock.
//
// # Known limits
//
// Changes made to the layers behind the overlay's back are seen (nothing is
// cached) but are not coordinated with copy-ups in flight. Hard links that
// exist in a lower layer are broken by copy-up (each name is copied on its
// own), as with the kernel without index=on. A metacopy stub whose lower
// data disappears (the lowers changed between mounts) reads as EIO.
package overlay
