package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Workload is one measurement. Its run function does untimed setup in a
// fresh directory, times only the part being measured, and leaves the
// directory for the runner to remove.
type Workload struct {
	Name string
	Unit Unit
	Doc  string // one line for -h
	run  func(e *env) (Result, error)
}

// Config sizes the workloads.
type Config struct {
	// Size is the file size of the sequential and random workloads, and
	// the total that par2w's two writers share.
	Size int64
	// Files is the number of files create, stat and unlink work on.
	Files int
	// RandOps is the number of 4 KiB operations of randr4k and randw4k.
	RandOps int
	// Cold drops the page cache (echo 3 > /proc/sys/vm/drop_caches, root
	// only) before the timed part of the cold workloads. Without it they
	// measure whatever the cache holds, which is fine for trying the
	// tool but not for a comparison.
	Cold bool
	// TreeSource is the directory tarred once for tar-x, find, grep-r and
	// rm-rf. Empty means $(go env GOROOT)/src.
	TreeSource string
	// CacheDir keeps that tarball between runs. Empty means
	// $XDG_CACHE_HOME/fusekit-bench (os.UserCacheDir).
	CacheDir string
}

// DefaultConfig is what the command uses without flags.
func DefaultConfig() Config {
	return Config{Size: 256 << 20, Files: 10000, RandOps: 20000, Cold: true}
}

func (c *Config) validate() error {
	switch {
	case c.Size < 4096:
		return fmt.Errorf("size %d: must be at least 4K", c.Size)
	case c.Files < 1:
		return fmt.Errorf("files %d: must be at least 1", c.Files)
	case c.RandOps < 1:
		return fmt.Errorf("random operations %d: must be at least 1", c.RandOps)
	}
	return nil
}

// all is the catalogue in the order tables list it.
var all = []Workload{
	{"w1m", Throughput, "sequential write of -size in 1 MiB writes, then fsync", func(e *env) (Result, error) { return e.seqWrite(1 << 20) }},
	{"w4k", Throughput, "sequential write of -size in 4 KiB writes, then fsync", func(e *env) (Result, error) { return e.seqWrite(4 << 10) }},
	{"r1m", Throughput, "cold sequential read of a -size file in 1 MiB reads", func(e *env) (Result, error) { return e.seqRead(1 << 20) }},
	{"r4k", Throughput, "cold sequential read of a -size file in 4 KiB reads", func(e *env) (Result, error) { return e.seqRead(4 << 10) }},
	{"randr4k", Rate, "cold random 4 KiB preads over a -size file", (*env).randRead},
	{"randw4k", Rate, "random 4 KiB pwrites over a -size file, then fsync", (*env).randWrite},
	{"create", Rate, "create -files empty files in one directory", (*env).create},
	{"stat", Rate, "cold lstat of -files files in one directory", (*env).stat},
	{"unlink", Rate, "unlink of -files files in one directory", (*env).unlink},
	{"tar-x", Seconds, "tar x of the source tree (default: the Go source tree)", (*env).tarX},
	{"find", Seconds, "cold find over the extracted tree", (*env).find},
	{"grep-r", Seconds, "cold grep -r over the extracted tree", (*env).grepR},
	{"rm-rf", Seconds, "cold rm -rf of the extracted tree", (*env).rmRF},
	{"par2w", Throughput, "two parallel writers of -size/2 each in 1 MiB writes, fsync", (*env).par2w},
}

// aliases name sets of workloads for -workloads.
var aliases = map[string][]string{
	"all": nil, // filled from the catalogue
	// core is what make bench compares (issue 2).
	"core": {"w1m", "w4k", "r1m", "r4k", "create", "stat", "unlink"},
}

// Workloads returns the catalogue, in table order.
func Workloads() []Workload { return append([]Workload(nil), all...) }

// ParseWorkloads resolves a comma-separated list of workload names and the
// aliases "all" and "core", keeping the order given and dropping
// repetitions.
func ParseWorkloads(list string) ([]Workload, error) {
	byName := make(map[string]Workload, len(all))
	for _, w := range all {
		byName[w.Name] = w
	}
	var out []Workload
	seen := map[string]bool{}
	add := func(name string) error {
		w, ok := byName[name]
		if !ok {
			var names []string
			for _, w := range all {
				names = append(names, w.Name)
			}
			return fmt.Errorf("unknown workload %q (known: %s, or all, core)", name, strings.Join(names, ", "))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, w)
		}
		return nil
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if set, ok := aliases[name]; ok {
			if name == "all" {
				for _, w := range all {
					set = append(set, w.Name)
				}
			}
			for _, n := range set {
				if err := add(n); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := add(name); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no workloads in %q", list)
	}
	return out, nil
}

// env is what one run of one workload on one target sees.
type env struct {
	ctx    context.Context
	cfg    *Config
	dir    string       // fresh, empty; removed by the runner afterwards
	target *liveTarget  // the extracted tree survives between workloads
	tree   *treeArchive // nil unless a tree workload was selected
}

// pattern is the data every writer writes: incompressible, and the same for
// every target.
var pattern = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
})

// settle flushes dirty data left by setup so that it is not written back
// during the timed part, and for cold workloads also empties the page,
// dentry and inode caches.
func (e *env) settle(cold bool) error {
	unix.Sync()
	if !cold || !e.cfg.Cold {
		return nil
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return fmt.Errorf("dropping the page cache for a cold measurement (needs root; -warm skips it): %w", err)
	}
	return nil
}

func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// writeFile writes size bytes to path in bs-byte writes and fsyncs. It
// returns the number of write calls.
func (e *env) writeFile(path string, size int64, bs int) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	buf := pattern()
	var ops int64
	for off := int64(0); off < size; {
		if err := e.ctx.Err(); err != nil {
			f.Close()
			return ops, err
		}
		n := int(min(int64(bs), size-off))
		p := buf[off%int64(len(buf)):]
		if len(p) < n {
			p = buf
		}
		if _, err := f.Write(p[:n]); err != nil {
			f.Close()
			return ops, err
		}
		off += int64(n)
		ops++
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return ops, err
	}
	return ops, f.Close()
}

func (e *env) seqWrite(bs int) (Result, error) {
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	var ops int64
	d, err := timed(func() (err error) {
		ops, err = e.writeFile(filepath.Join(e.dir, "seq"), e.cfg.Size, bs)
		return err
	})
	return Result{Bytes: e.cfg.Size, Ops: ops, Elapsed: d}, err
}

func (e *env) seqRead(bs int) (Result, error) {
	path := filepath.Join(e.dir, "seq")
	if _, err := e.writeFile(path, e.cfg.Size, 1<<20); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	var got, ops int64
	d, err := timed(func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, bs)
		for {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			n, err := f.Read(buf)
			got += int64(n)
			ops++
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if err == nil && got != e.cfg.Size {
		err = fmt.Errorf("read %d bytes of a %d-byte file", got, e.cfg.Size)
	}
	return Result{Bytes: got, Ops: ops, Elapsed: d}, err
}

// offsets are the same for every target and repetition, so that every
// target serves exactly the same requests.
func (e *env) offsets() []int64 {
	blocks := e.cfg.Size / 4096
	r := rand.New(rand.NewPCG(3, 4))
	offs := make([]int64, e.cfg.RandOps)
	for i := range offs {
		offs[i] = r.Int64N(blocks) * 4096
	}
	return offs
}

func (e *env) randRead() (Result, error) {
	path := filepath.Join(e.dir, "rand")
	if _, err := e.writeFile(path, e.cfg.Size, 1<<20); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	offs := e.offsets()
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for _, off := range offs {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if _, err := f.ReadAt(buf, off); err != nil {
				return err
			}
		}
		return nil
	})
	return Result{Bytes: int64(len(offs)) * 4096, Ops: int64(len(offs)), Elapsed: d}, err
}

func (e *env) randWrite() (Result, error) {
	path := filepath.Join(e.dir, "rand")
	if _, err := e.writeFile(path, e.cfg.Size, 1<<20); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	offs := e.offsets()
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		buf := pattern()
		for i, off := range offs {
			if err := e.ctx.Err(); err != nil {
				f.Close()
				return err
			}
			p := buf[(i*4096)%len(buf):][:4096]
			if _, err := f.WriteAt(p, off); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	return Result{Bytes: int64(len(offs)) * 4096, Ops: int64(len(offs)), Elapsed: d}, err
}

// The metadata loops call the system directly: os.OpenFile and os.Lstat
// would add allocations and a FileInfo per call to what is measured.

func (e *env) names() []string {
	names := make([]string, e.cfg.Files)
	for i := range names {
		names[i] = filepath.Join(e.dir, fmt.Sprintf("f%06d", i))
	}
	return names
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

func (e *env) createAll(names []string) error {
	for _, name := range names {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		var fd int
		err := retryEINTR(func() (err error) {
			fd, err = unix.Open(name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			return err
		})
		if err != nil {
			return &os.PathError{Op: "create", Path: name, Err: err}
		}
		if err := unix.Close(fd); err != nil {
			return &os.PathError{Op: "close", Path: name, Err: err}
		}
	}
	return nil
}

func (e *env) create() (Result, error) {
	names := e.names()
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error { return e.createAll(names) })
	return Result{Ops: int64(len(names)), Elapsed: d}, err
}

func (e *env) stat() (Result, error) {
	names := e.names()
	if err := e.createAll(names); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error {
		var st unix.Stat_t
		for _, name := range names {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if err := retryEINTR(func() error { return unix.Lstat(name, &st) }); err != nil {
				return &os.PathError{Op: "lstat", Path: name, Err: err}
			}
		}
		return nil
	})
	return Result{Ops: int64(len(names)), Elapsed: d}, err
}

func (e *env) unlink() (Result, error) {
	names := e.names()
	if err := e.createAll(names); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error {
		for _, name := range names {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if err := retryEINTR(func() error { return unix.Unlink(name) }); err != nil {
				return &os.PathError{Op: "unlink", Path: name, Err: err}
			}
		}
		return nil
	})
	return Result{Ops: int64(len(names)), Elapsed: d}, err
}

func (e *env) par2w() (Result, error) {
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	half := e.cfg.Size / 2
	var ops [2]int64
	d, err := timed(func() error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				defer func() {
					// The runner's cleanup only runs for panics on its
					// own goroutine; this one must not take the process
					// down with mounts still up.
					if p := recover(); p != nil {
						errs[i] = fmt.Errorf("writer %d panicked: %v", i, p)
					}
				}()
				ops[i], errs[i] = e.writeFile(filepath.Join(e.dir, fmt.Sprintf("par%d", i)), half, 1<<20)
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	return Result{Bytes: 2 * half, Ops: ops[0] + ops[1], Elapsed: d}, err
}

// run executes an external tool with its output discarded through
// /dev/null (a pipe would add a copying goroutine to what is timed) and its
// stderr kept for the error. okCodes are exit codes that are not failures.
func (e *env) run(okCodes []int, name string, args ...string) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(e.ctx, name, args...)
	cmd.Stdout = devnull
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		for _, c := range okCodes {
			if ee.ExitCode() == c {
				return nil
			}
		}
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > outputTailBytes {
			msg = "..." + msg[len(msg)-outputTailBytes:]
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// extract unpacks the tree archive into a new directory of the target's
// scratch area and returns it.
func (e *env) extract() (string, error) {
	dst, err := os.MkdirTemp(e.target.base, "tree-")
	if err != nil {
		return "", err
	}
	return dst, e.run(nil, "tar", "-xf", e.tree.path, "-C", dst)
}

// ensureTree makes sure an extracted tree exists on the target, extracting
// one (untimed) when tar-x did not leave one behind.
func (e *env) ensureTree() (string, error) {
	if e.target.tree != "" {
		return e.target.tree, nil
	}
	dst, err := e.extract()
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	e.target.tree = dst
	return dst, nil
}

func (e *env) tarX() (Result, error) {
	if err := e.target.dropTree(); err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if err := e.settle(false); err != nil {
		return Result{}, err
	}
	var dst string
	d, err := timed(func() (err error) {
		dst, err = e.extract()
		return err
	})
	// Whatever was extracted, even partially, is the target's tree now,
	// so that it is removed with the rest.
	e.target.tree = dst
	return Result{Bytes: e.tree.size, Ops: e.tree.entries, Elapsed: d}, err
}

func (e *env) find() (Result, error) {
	tree, err := e.ensureTree()
	if err != nil {
		return Result{}, err
	}
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error { return e.run(nil, "find", tree) })
	return Result{Ops: e.tree.entries, Elapsed: d}, err
}

// grepPattern is a string the Go tree does not contain, so grep reads every
// file to the end and prints nothing (exit status 1).
const grepPattern = "fusekit-bench: no such line"

func (e *env) grepR() (Result, error) {
	tree, err := e.ensureTree()
	if err != nil {
		return Result{}, err
	}
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	d, err := timed(func() error { return e.run([]int{1}, "grep", "-r", "-F", "-e", grepPattern, tree) })
	return Result{Bytes: e.tree.dataBytes, Ops: e.tree.entries, Elapsed: d}, err
}

func (e *env) rmRF() (Result, error) {
	tree, err := e.ensureTree()
	if err != nil {
		return Result{}, err
	}
	if err := e.settle(true); err != nil {
		return Result{}, err
	}
	e.target.tree = ""
	d, err := timed(func() error { return e.run(nil, "rm", "-rf", tree) })
	return Result{Ops: e.tree.entries, Elapsed: d}, err
}
