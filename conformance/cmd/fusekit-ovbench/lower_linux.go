package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lowerSpec describes the lower tree; its String is the stamp that tells a
// reusable tree from a stale one.
type lowerSpec struct {
	goSrc     string
	small     int
	big       int
	bigSize   int64
	largeSize int64
}

const smallSize = 16 << 10

func (s lowerSpec) String() string {
	return fmt.Sprintf("fusekit-ovbench lower v1: gosrc=%s small=%dx%d big=%dx%d large=%d",
		s.goSrc, s.small, smallSize, s.big, s.bigSize, s.largeSize)
}

func smallName(i int) string { return fmt.Sprintf("small/f%04d", i) }
func bigName(i int) string   { return fmt.Sprintf("big/b%03d", i) }

// content returns a reader of the reproducible content of a file of the
// lower tree.
func content(name string, size int64) io.Reader {
	var seed [32]byte
	copy(seed[:], "fusekit-ovbench "+name)
	return io.LimitReader(rand.NewChaCha8(seed), size)
}

// lowerTree is the built tree and what the rows check against.
type lowerTree struct {
	lowerSpec
	dir     string // the lower directory
	tarball string // the Go tree as a tar archive, for tar-x
	entries int    // entries under gosrc, gosrc itself included (what find prints)
}

// buildLower makes (or reuses) the lower tree under root.
func buildLower(ctx context.Context, root string, spec lowerSpec, logf func(string, ...any)) (*lowerTree, error) {
	lt := &lowerTree{lowerSpec: spec, dir: filepath.Join(root, "lower"), tarball: filepath.Join(root, "gosrc.tar")}
	stamp := filepath.Join(root, "lower.stamp")
	if b, err := os.ReadFile(stamp); err != nil || string(b) != spec.String() {
		logf("building the lower tree in %s (%s)", lt.dir, spec)
		if err := os.RemoveAll(lt.dir); err != nil {
			return nil, err
		}
		os.Remove(stamp)
		if err := lt.build(ctx); err != nil {
			return nil, err
		}
		if err := os.WriteFile(stamp, []byte(spec.String()), 0o644); err != nil {
			return nil, err
		}
	} else {
		logf("reusing the lower tree in %s", lt.dir)
	}
	n, err := countEntries(filepath.Join(lt.dir, "gosrc"))
	if err != nil {
		return nil, err
	}
	lt.entries = n
	return lt, nil
}

func (lt *lowerTree) build(ctx context.Context) error {
	for _, d := range []string{"small", "big"} {
		if err := os.MkdirAll(filepath.Join(lt.dir, d), 0o755); err != nil {
			return err
		}
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", lt.goSrc, filepath.Join(lt.dir, "gosrc")).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %v: %s", lt.goSrc, err, out)
	}
	if out, err := exec.CommandContext(ctx, "tar", "-C", lt.dir, "-cf", lt.tarball, "gosrc").CombinedOutput(); err != nil {
		return fmt.Errorf("archiving the Go tree: %v: %s", err, out)
	}
	for i := range lt.small {
		if err := writeContent(filepath.Join(lt.dir, smallName(i)), smallName(i), smallSize); err != nil {
			return err
		}
	}
	for i := range lt.big {
		if err := writeContent(filepath.Join(lt.dir, bigName(i)), bigName(i), lt.bigSize); err != nil {
			return err
		}
	}
	if err := writeContent(filepath.Join(lt.dir, "large"), "large", lt.largeSize); err != nil {
		return err
	}
	return ctx.Err()
}

func writeContent(path, name string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = io.Copy(w, content(name, size))
	if err == nil {
		err = w.Flush()
	}
	return errors.Join(err, f.Close())
}

// countEntries counts dir and everything under it, as find prints them.
func countEntries(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, _ os.DirEntry, err error) error {
		n++
		return err
	})
	return n, err
}

// sameContent checks that the file at path starts with the reproducible
// content of name (size bytes) and is want bytes long.
func sameContent(path, name string, size, want int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != want {
		return fmt.Errorf("%s: size %d, want %d", path, st.Size(), want)
	}
	exp := bufio.NewReaderSize(content(name, size), 1<<20)
	got := bufio.NewReaderSize(f, 1<<20)
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for off := int64(0); off < size; {
		n := int(min(int64(len(a)), size-off))
		if _, err := io.ReadFull(exp, a[:n]); err != nil {
			return err
		}
		if _, err := io.ReadFull(got, b[:n]); err != nil {
			return fmt.Errorf("%s at %d: %w", path, off, err)
		}
		if string(a[:n]) != string(b[:n]) {
			return fmt.Errorf("%s: content differs from the lower file's in bytes %d-%d", path, off, off+int64(n))
		}
		off += int64(n)
	}
	return nil
}

// versionLine picks the line of a version banner that names prog (the
// tools also print their libfuse's version), else the first line.
func versionLine(banner, prog string) string {
	first := ""
	for _, l := range strings.Split(banner, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "unknown argument") {
			continue
		}
		if strings.Contains(l, prog) {
			return l
		}
		if first == "" {
			first = l
		}
	}
	if first == "" {
		return prog + " ?"
	}
	return first
}
