package bench

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// treeArchive is the tarball the tree workloads extract: made once with
// the real tar from a source directory and kept in a cache directory, so
// that every target and repetition extracts exactly the same bytes.
type treeArchive struct {
	path      string
	size      int64 // bytes of the tarball
	entries   int64 // files, directories and links in it
	dataBytes int64 // bytes of regular file content
}

// goSourceTree is $(go env GOROOT)/src, the tree issue 3 asks for.
func goSourceTree(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("finding the Go source tree with `go env GOROOT` (or pass a tree directory): %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "src"), nil
}

// prepareTree returns the archive of src, building it in cacheDir if it is
// not there yet. The cache key is the source's absolute path and its
// modification time, which changes when a Go installation is replaced.
func prepareTree(ctx context.Context, src, cacheDir string) (*treeArchive, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("tree source: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("tree source %s is not a directory", abs)
	}
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory for the tree archive (set one): %w", err)
		}
		cacheDir = filepath.Join(base, "fusekit-bench")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs + "\x00" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)))
	path := filepath.Join(cacheDir, "tree-"+filepath.Base(abs)+"-"+hex.EncodeToString(sum[:8])+".tar")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		tmp := path + ".tmp"
		cmd := exec.CommandContext(ctx, "tar", "-C", filepath.Dir(abs), "-cf", tmp, filepath.Base(abs))
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("archiving %s: %w: %s", abs, err, strings.TrimSpace(string(out)))
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return countTree(path)
}

// countTree reads the archive's headers only (tar.Reader skips content by
// seeking) to learn what one extraction creates.
func countTree(path string) (*treeArchive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &treeArchive{path: path}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s (delete it to rebuild): %w", path, err)
		}
		t.entries++
		if h.Typeflag == tar.TypeReg {
			t.dataBytes += h.Size
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t.size = fi.Size()
	return t, nil
}
