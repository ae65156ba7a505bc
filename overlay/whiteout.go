package overlay

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/fusekit/fusekit/sdk"
)

// Marker names and attributes of the two on-disk formats the overlay reads.
const (
	// ociWhiteoutPrefix starts an OCI/AUFS whiteout: ".wh.NAME" hides NAME.
	ociWhiteoutPrefix = ".wh."
	// ociOpaqueName, inside a directory, makes it opaque.
	ociOpaqueName = ".wh..wh..opq"

	// Kernel overlayfs marks opaque directories with one of these xattrs
	// set to "y": trusted.* when mounted by root, user.* with userxattr.
	xattrTrustedOpaque = "trusted.overlay.opaque"
	xattrUserOpaque    = "user.overlay.opaque"

	// xattrMetacopy marks an upper regular file whose data still lives in a
	// lower layer; its value is the path of that data, relative to the root.
	// Only this overlay reads it (MetacopyFusekit).
	xattrMetacopy = "user.fusekit.metacopy"

	// Kernel overlayfs's metacopy (MetacopyKernel): an upper regular file
	// with trusted.overlay.metacopy (empty, or a versioned digest) takes its
	// data from the lower file at its own path, or at the path in
	// trusted.overlay.redirect: absolute ("/a/b", from the layers' roots)
	// or one name relative to the parent directory.
	xattrTrustedMetacopy = "trusted.overlay.metacopy"
	xattrTrustedRedirect = "trusted.overlay.redirect"
)

// privateXattrPrefixes name the attributes that carry overlay state. They are
// hidden from listings and cannot be set or removed through the mount, or a
// user could turn a directory opaque or a file into a metacopy stub.
var privateXattrPrefixes = []string{"trusted.overlay.", "user.overlay.", "user.fusekit."}

// isPrivateXattr reports whether attr is overlay state rather than user data.
func isPrivateXattr(attr string) bool {
	for _, p := range privateXattrPrefixes {
		if strings.HasPrefix(attr, p) {
			return true
		}
	}
	return false
}

// MarkerKind classifies a directory entry name.
type MarkerKind int

const (
	// NotMarker is an ordinary name.
	NotMarker MarkerKind = iota
	// WhiteoutMarker is ".wh.NAME": NAME is deleted in this layer and below.
	WhiteoutMarker
	// OpaqueMarker is ".wh..wh..opq": the directory holding it hides all
	// lower directories of the same name.
	OpaqueMarker
	// OtherMarker is any other ".wh..wh." name (AUFS bookkeeping such as
	// ".wh..wh.plnk"): hidden, with no effect on the merged view.
	OtherMarker
)

func (k MarkerKind) String() string {
	switch k {
	case NotMarker:
		return "name"
	case WhiteoutMarker:
		return "whiteout"
	case OpaqueMarker:
		return "opaque"
	case OtherMarker:
		return "aufs-meta"
	}
	return fmt.Sprintf("MarkerKind(%d)", int(k))
}

// ParseWhiteoutName classifies one path element in the OCI/AUFS format. For
// a WhiteoutMarker it also returns the name that is hidden.
func ParseWhiteoutName(elem string) (kind MarkerKind, hidden string) {
	if !strings.HasPrefix(elem, ociWhiteoutPrefix) {
		return NotMarker, ""
	}
	if elem == ociOpaqueName {
		return OpaqueMarker, ""
	}
	rest := elem[len(ociWhiteoutPrefix):]
	if strings.HasPrefix(rest, ociWhiteoutPrefix) {
		return OtherMarker, ""
	}
	if rest == "" || rest == "." || rest == ".." || strings.ContainsRune(rest, '/') {
		// ".wh." alone names nothing; treat it as bookkeeping so it is
		// hidden but hides nothing.
		return OtherMarker, ""
	}
	return WhiteoutMarker, rest
}

// OCIWhiteoutName returns the OCI marker that hides elem.
func OCIWhiteoutName(elem string) string { return ociWhiteoutPrefix + elem }

// isKernelWhiteout reports whether a has the kernel whiteout form: a
// character device with device number 0/0.
func isKernelWhiteout(a *sdk.Attr) bool {
	return a.Type() == sdk.TypeChar && a.Rdev == 0
}

// ReservedNameError reports a name that cannot be created through the mount
// because the overlay would read it back as one of its own markers.
type ReservedNameError struct {
	Name   string
	Reason string
	// Err is the errno reported; zero means EINVAL, the closest errno for
	// "this name is not allowed here". A character device 0/0 is EPERM,
	// as kernel overlayfs answers for it.
	Err syscall.Errno
}

func (e *ReservedNameError) Error() string {
	return fmt.Sprintf("overlay: %q is reserved: %s", e.Name, e.Reason)
}

// Unwrap returns the errno: Err, or EINVAL when Err is zero.
func (e *ReservedNameError) Unwrap() error {
	if e.Err != 0 {
		return e.Err
	}
	return syscall.EINVAL
}

// checkCreatable rejects names the overlay would not read back as written:
// OCI marker names anywhere, and the work directory at the root.
func (o *FS) checkCreatable(name string) error {
	elem := baseName(name)
	if kind, _ := ParseWhiteoutName(elem); kind != NotMarker {
		return &ReservedNameError{Name: name, Reason: "names starting with \".wh.\" are whiteout markers in this overlay"}
	}
	if o.hidden != "" && name == o.hidden {
		return &ReservedNameError{Name: name, Reason: "this is the overlay's work directory"}
	}
	return nil
}
