//go:build !linux

package exerciser

import (
	"errors"
	"fmt"
)

// NativeFile needs Linux (pread, mmap, O_DIRECT through x/sys/unix); here
// its factory fails with an error wrapping errors.ErrUnsupported.
func NativeFile(dir string) FileFactory {
	return func() (FileTarget, error) {
		return nil, fmt.Errorf("exerciser: native file targets need Linux: %w", errors.ErrUnsupported)
	}
}

// NativeNamespace needs Linux; here its factory fails with an error
// wrapping errors.ErrUnsupported.
func NativeNamespace(dir string) NamespaceFactory {
	return func() (NamespaceTarget, error) {
		return nil, fmt.Errorf("exerciser: native namespace targets need Linux: %w", errors.ErrUnsupported)
	}
}
