package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	fkbench "github.com/fusekit/fusekit/conformance/bench"
)

// row is one measurement. setup runs untimed on the fresh mount; run times
// only the work; check verifies the result through the mount, untimed.
type row struct {
	rowInfo
	cold  bool // drop the caches before the timed part
	setup func(e *env) error
	run   func(e *env) (fkbench.Result, error)
	check func(e *env) error
}

// env is what one row on one target sees.
type env struct {
	ctx   context.Context
	mnt   string // the merged view
	lower *lowerTree
	files int // for create, stat and unlink
	write int64
}

func (e *env) p(name string) string { return filepath.Join(e.mnt, name) }

var rows = []row{
	{rowInfo: rowInfo{"read-small", "cold read of the small lower files", fkbench.Rate}, cold: true,
		run: (*env).readSmall},
	{rowInfo: rowInfo{"read-large", "cold read of the large lower file, 1 MiB reads", fkbench.Throughput}, cold: true,
		run: (*env).readLarge},
	{rowInfo: rowInfo{"write-new", "write of a new file, 1 MiB writes + fsync", fkbench.Throughput},
		run: (*env).writeNew, check: (*env).checkWriteNew},
	{rowInfo: rowInfo{"copyup-small", "copy-up: append 1 byte to each small lower file", fkbench.Rate}, cold: true,
		run: (*env).appendSmall, check: (*env).checkAppendSmall},
	{rowInfo: rowInfo{"copyup-large", "copy-up: append 1 byte to the large lower file", fkbench.Seconds}, cold: true,
		run: (*env).appendLarge, check: (*env).checkAppendLarge},
	{rowInfo: rowInfo{"chmod-big", "metadata-only copy-up: chmod of the big lower files", fkbench.Rate}, cold: true,
		run: (*env).chmodBig, check: (*env).checkChmodBig},
	{rowInfo: rowInfo{"tar-x", "tar x of the Go tree into the overlay", fkbench.Seconds},
		run: (*env).tarX, check: (*env).checkTarX},
	{rowInfo: rowInfo{"find", "cold find over the lower Go tree", fkbench.Seconds}, cold: true,
		run: (*env).find},
	{rowInfo: rowInfo{"grep-r", "cold grep -r over the lower Go tree", fkbench.Seconds}, cold: true,
		run: (*env).grepR},
	{rowInfo: rowInfo{"rm-rf", "cold rm -rf of the lower Go tree", fkbench.Seconds}, cold: true,
		run: (*env).rmRF, check: (*env).checkRmRF},
	{rowInfo: rowInfo{"create", "create of empty files in a new directory", fkbench.Rate},
		setup: (*env).mkFilesDir, run: (*env).create, check: checkFiles(true)},
	{rowInfo: rowInfo{"stat", "cold lstat of those files", fkbench.Rate}, cold: true,
		setup: (*env).createAll, run: (*env).stat, check: checkFiles(true)},
	{rowInfo: rowInfo{"unlink", "unlink of those files", fkbench.Rate},
		setup: (*env).createAll, run: (*env).unlink, check: checkFiles(false)},
}

func rowNames() []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// command runs name with args, failing on an exit status not in ok (nil:
// only 0).
func (e *env) command(ok []int, name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(e.ctx, name, args...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		for _, c := range ok {
			if ee.ExitCode() == c {
				return nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

func (e *env) readSmall() (fkbench.Result, error) {
	buf := make([]byte, 64<<10)
	var n int64
	d, err := timed(func() error {
		for i := range e.lower.small {
			f, err := os.Open(e.p(smallName(i)))
			if err != nil {
				return err
			}
			for {
				k, err := f.Read(buf)
				n += int64(k)
				if err == io.EOF {
					break
				}
				if err != nil {
					f.Close()
					return err
				}
			}
			f.Close()
		}
		return nil
	})
	if err == nil && n != int64(e.lower.small)*smallSize {
		err = fmt.Errorf("read %d bytes, want %d", n, int64(e.lower.small)*smallSize)
	}
	return fkbench.Result{Bytes: n, Ops: int64(e.lower.small), Elapsed: d}, err
}

func (e *env) readLarge() (fkbench.Result, error) {
	buf := make([]byte, 1<<20)
	var n int64
	d, err := timed(func() error {
		f, err := os.Open(e.p("large"))
		if err != nil {
			return err
		}
		defer f.Close()
		for {
			k, err := f.Read(buf)
			n += int64(k)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if err == nil && n != e.lower.largeSize {
		err = fmt.Errorf("read %d bytes, want %d", n, e.lower.largeSize)
	}
	return fkbench.Result{Bytes: n, Elapsed: d}, err
}

func (e *env) writeNew() (fkbench.Result, error) {
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(content("write", int64(len(buf))), buf); err != nil {
		return fkbench.Result{}, err
	}
	d, err := timed(func() error {
		f, err := os.OpenFile(e.p("new-file"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		for off := int64(0); off < e.write; off += int64(len(buf)) {
			if _, err := f.Write(buf[:min(int64(len(buf)), e.write-off)]); err != nil {
				f.Close()
				return err
			}
		}
		return errors.Join(f.Sync(), f.Close())
	})
	return fkbench.Result{Bytes: e.write, Elapsed: d}, err
}

func (e *env) checkWriteNew() error {
	st, err := os.Stat(e.p("new-file"))
	if err == nil && st.Size() != e.write {
		err = fmt.Errorf("new-file has %d bytes, want %d", st.Size(), e.write)
	}
	return err
}

// appendOne appends one byte the way printf x >> FILE does: open with
// O_APPEND, write, close.
func appendOne(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte{'x'})
	return errors.Join(err, f.Close())
}

func (e *env) appendSmall() (fkbench.Result, error) {
	d, err := timed(func() error {
		for i := range e.lower.small {
			if err := appendOne(e.p(smallName(i))); err != nil {
				return err
			}
		}
		return nil
	})
	return fkbench.Result{Ops: int64(e.lower.small), Elapsed: d}, err
}

func (e *env) checkAppendSmall() error {
	for i := range e.lower.small {
		if err := checkAppended(e.p(smallName(i)), smallName(i), smallSize); err != nil {
			return err
		}
	}
	return checkUntouched(e.lower, smallName(0), smallSize)
}

// checkAppended checks that path holds the lower content of name and then
// the appended byte.
func checkAppended(path, name string, size int64) error {
	if err := sameContent(path, name, size, size+1); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size); err != nil || b[0] != 'x' {
		return fmt.Errorf("%s: last byte %q (%v), want 'x'", path, b, err)
	}
	return nil
}

// checkUntouched checks that the lower file name still has its size.
func checkUntouched(lt *lowerTree, name string, size int64) error {
	st, err := os.Stat(filepath.Join(lt.dir, name))
	if err == nil && st.Size() != size {
		err = fmt.Errorf("the lower %s was written: size %d, want %d", name, st.Size(), size)
	}
	return err
}

func (e *env) appendLarge() (fkbench.Result, error) {
	d, err := timed(func() error { return appendOne(e.p("large")) })
	return fkbench.Result{Bytes: e.lower.largeSize, Ops: 1, Elapsed: d}, err
}

func (e *env) checkAppendLarge() error {
	if err := checkAppended(e.p("large"), "large", e.lower.largeSize); err != nil {
		return err
	}
	return checkUntouched(e.lower, "large", e.lower.largeSize)
}

func (e *env) chmodBig() (fkbench.Result, error) {
	d, err := timed(func() error {
		for i := range e.lower.big {
			if err := os.Chmod(e.p(bigName(i)), 0o600); err != nil {
				return err
			}
		}
		return nil
	})
	return fkbench.Result{Ops: int64(e.lower.big), Elapsed: d}, err
}

func (e *env) checkChmodBig() error {
	for i := range e.lower.big {
		st, err := os.Lstat(e.p(bigName(i)))
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o600 || st.Size() != e.lower.bigSize {
			return fmt.Errorf("%s after chmod 600: mode %v, size %d", bigName(i), st.Mode(), st.Size())
		}
	}
	if err := sameContent(e.p(bigName(0)), bigName(0), e.lower.bigSize, e.lower.bigSize); err != nil {
		return err
	}
	return checkUntouched(e.lower, bigName(0), e.lower.bigSize)
}

func (e *env) tarX() (fkbench.Result, error) {
	if err := os.Mkdir(e.p("tarx"), 0o755); err != nil {
		return fkbench.Result{}, err
	}
	d, err := timed(func() error { return e.command(nil, "tar", "-C", e.p("tarx"), "-xf", e.lower.tarball) })
	return fkbench.Result{Ops: int64(e.lower.entries), Elapsed: d}, err
}

func (e *env) checkTarX() error {
	n, err := countEntries(e.p("tarx/gosrc"))
	if err == nil && n != e.lower.entries {
		err = fmt.Errorf("tar x left %d entries, the archive has %d", n, e.lower.entries)
	}
	return err
}

func (e *env) find() (fkbench.Result, error) {
	// find writes straight into a file: through a pipe, the timed part
	// would include this process copying the output.
	out, err := os.CreateTemp("", "fusekit-ovbench-find-")
	if err != nil {
		return fkbench.Result{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	d, err := timed(func() error {
		cmd := exec.CommandContext(e.ctx, "find", e.p("gosrc"))
		cmd.Stdout = out
		return cmd.Run()
	})
	if err == nil {
		var printed []byte
		if printed, err = os.ReadFile(out.Name()); err == nil {
			if n := bytes.Count(printed, []byte("\n")); n != e.lower.entries {
				err = fmt.Errorf("find printed %d entries, the tree has %d", n, e.lower.entries)
			}
		}
	}
	return fkbench.Result{Ops: int64(e.lower.entries), Elapsed: d}, err
}

func (e *env) grepR() (fkbench.Result, error) {
	// A string that is nowhere makes grep read every file to the end;
	// exit status 1 is "no match", which is the expected result.
	d, err := timed(func() error {
		return e.command([]int{1}, "grep", "-r", "-F", "-e", "fusekit-ovbench: no such string", e.p("gosrc"))
	})
	return fkbench.Result{Ops: int64(e.lower.entries), Elapsed: d}, err
}

func (e *env) rmRF() (fkbench.Result, error) {
	d, err := timed(func() error { return e.command(nil, "rm", "-rf", e.p("gosrc")) })
	return fkbench.Result{Ops: int64(e.lower.entries), Elapsed: d}, err
}

func (e *env) checkRmRF() error {
	if _, err := os.Lstat(e.p("gosrc")); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gosrc after rm -rf: %v", err)
	}
	if n, err := countEntries(filepath.Join(e.lower.dir, "gosrc")); err != nil || n != e.lower.entries {
		return fmt.Errorf("the lower tree was changed: %d entries (%v), want %d", n, err, e.lower.entries)
	}
	return nil
}

func fileName(i int) string { return fmt.Sprintf("files/f%05d", i) }

func (e *env) mkFilesDir() error { return os.Mkdir(e.p("files"), 0o755) }

func createFile(path string) error {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	return unix.Close(fd)
}

func (e *env) createAll() error {
	if err := e.mkFilesDir(); err != nil {
		return err
	}
	for i := range e.files {
		if err := createFile(e.p(fileName(i))); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) create() (fkbench.Result, error) {
	d, err := timed(func() error {
		for i := range e.files {
			if err := createFile(e.p(fileName(i))); err != nil {
				return err
			}
		}
		return nil
	})
	return fkbench.Result{Ops: int64(e.files), Elapsed: d}, err
}

func (e *env) stat() (fkbench.Result, error) {
	var st unix.Stat_t
	d, err := timed(func() error {
		for i := range e.files {
			if err := unix.Lstat(e.p(fileName(i)), &st); err != nil {
				return &os.PathError{Op: "lstat", Path: fileName(i), Err: err}
			}
		}
		return nil
	})
	return fkbench.Result{Ops: int64(e.files), Elapsed: d}, err
}

func (e *env) unlink() (fkbench.Result, error) {
	d, err := timed(func() error {
		for i := range e.files {
			if err := unix.Unlink(e.p(fileName(i))); err != nil {
				return &os.PathError{Op: "unlink", Path: fileName(i), Err: err}
			}
		}
		return nil
	})
	return fkbench.Result{Ops: int64(e.files), Elapsed: d}, err
}

// checkFiles checks that the files directory lists all the files, or none.
func checkFiles(all bool) func(e *env) error {
	return func(e *env) error {
		ents, err := os.ReadDir(e.p("files"))
		want := 0
		if all {
			want = e.files
		}
		if err == nil && len(ents) != want {
			err = fmt.Errorf("files/ lists %d entries, want %d", len(ents), want)
		}
		return err
	}
}
