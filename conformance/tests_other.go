//go:build !linux

package conformance

// platformGroups is empty off Linux: the tests are written against Linux
// system call semantics (renameat2, utimensat, O_DIRECT, xattrs).
func platformGroups() [][]Test { return nil }
