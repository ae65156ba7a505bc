package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resolve makes every path absolute and symlink-free (podman's lowerdirs
// are l/SHORTNAME symlinks, relative to its working directory), checks that
// the layers are directories, and refuses layouts that cannot work. The
// mountpoint itself is left for sdk.Mount to check (it may be a stale
// mount, which Mount reports or clears).
func (c *config) resolve() error {
	for i, l := range c.lowers {
		abs, err := existingDir("lowerdir", l)
		if err != nil {
			return err
		}
		c.lowers[i] = abs
	}
	var err error
	if c.upper != "" {
		if c.upper, err = existingDir("upperdir", c.upper); err != nil {
			return err
		}
	}
	if c.work != "" {
		if c.work, err = existingDir("workdir", c.work); err != nil {
			return err
		}
	}
	if c.mountpoint, err = resolveMountpoint(c.mountpoint); err != nil {
		return err
	}
	return c.checkLayout()
}

// existingDir returns the absolute, symlink-free form of a directory.
func existingDir(what, path string) (string, error) {
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

// resolveMountpoint resolves the mountpoint's symlinks without requiring
// that it answers: a stale FUSE mount there fails every lookup with ENOTCONN,
// and a missing one is reported by sdk.Mount. Then only the parent is
// resolved.
func resolveMountpoint(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", path, err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(parent, filepath.Base(abs)), nil
	}
	return abs, nil
}

// checkLayout refuses layer layouts that deadlock or corrupt: the server
// would serve lookups from its own mount, write markers into a layer it
// also reads as lower, or show a layer twice.
func (c *config) checkLayout() error {
	type dir struct{ what, path string }
	var layers []dir
	for _, l := range c.lowers {
		layers = append(layers, dir{"lowerdir", l})
	}
	if c.upper != "" {
		layers = append(layers, dir{"upperdir", c.upper})
	}
	if c.work != "" {
		layers = append(layers, dir{"workdir", c.work})
	}
	mp := dir{"mountpoint", c.mountpoint}
	for _, l := range layers {
		if within(mp.path, l.path) {
			return layoutError(mp, l, "is inside")
		}
		if within(l.path, mp.path) {
			return layoutError(l, mp, "is inside")
		}
	}
	if c.upper == "" {
		return nil
	}
	up := dir{"upperdir", c.upper}
	for _, l := range c.lowers {
		lo := dir{"lowerdir", l}
		switch {
		case l == c.upper || sameFile(l, c.upper):
			return layoutError(lo, up, "is the same directory as")
		case within(c.upper, l):
			return layoutError(up, lo, "is inside")
		case within(l, c.upper):
			return layoutError(lo, up, "is inside")
		}
	}
	if c.work != "" {
		wk := dir{"workdir", c.work}
		switch {
		case c.work == c.upper || sameFile(c.work, c.upper):
			return layoutError(wk, up, "is the same directory as")
		case within(c.work, c.upper):
			return layoutError(wk, up, "is inside")
		case within(c.upper, c.work):
			return layoutError(up, wk, "is inside")
		}
	}
	return nil
}

func layoutError(a struct{ what, path string }, b struct{ what, path string }, rel string) error {
	if a.path == b.path {
		rel = "is the same directory as"
	}
	return fmt.Errorf("%s %s %s %s %s: this layout cannot work", a.what, a.path, rel, b.what, b.path)
}

// within reports whether path is dir or below it; both are clean and
// absolute.
func within(path, dir string) bool {
	if path == dir || dir == "/" {
		return true
	}
	return strings.HasPrefix(path, dir+"/")
}

// sameFile reports whether two paths are one directory reached twice
// (a bind mount).
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
