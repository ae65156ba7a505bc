package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ExistingDir returns the absolute, symlink-free form of the directory
// path, or an error that names what the path was for ("SOURCE",
// "upperdir", ...) and what is wrong with it.
func ExistingDir(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s %s does not exist", what, path)
		}
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s is not a directory", what, path)
	}
	return abs, nil
}
