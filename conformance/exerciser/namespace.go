package exerciser

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"
)

// RunNamespace generates cfg.Ops namespace-mode operations from cfg.Seed
// and runs them in a fresh directory below dir (removed afterwards).
func RunNamespace(dir string, cfg Config) (*Report, error) {
	ops, err := GenerateNamespace(cfg)
	if err != nil {
		return nil, err
	}
	return ReplayNamespace(NativeNamespace(dir), ops, cfg)
}

// ReplayNamespace runs ops against a fresh target from newTarget. After
// every op it compares the errno with the oracle's and lstats the names the
// op touched; verify ops and the end of the run compare the whole tree
// (names, types, link counts, file contents, symlink targets). On a
// divergence it shrinks the sequence as ReplayFile does.
func ReplayNamespace(newTarget NamespaceFactory, ops []Op, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for i, o := range ops {
		if !o.Kind.IsNamespace() {
			return nil, fmt.Errorf("exerciser: op %d (%s) is not a namespace-mode op", i, o)
		}
		var err error
		switch o.Kind {
		case OpCreate, OpMkdir, OpUnlink, OpRmdir:
			err = checkName(o.Path)
		case OpRename, OpLink:
			if err = checkName(o.Path); err == nil {
				err = checkName(o.Path2)
			}
		case OpSymlink:
			if err = checkTarget(o.Path); err == nil {
				err = checkName(o.Path2)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
	}
	start := time.Now()
	rep := &Report{Mode: "namespace", Seed: cfg.Seed, Counts: map[Kind]int{}}
	f, err := replayNamespaceOnce(newTarget, ops, cfg, rep)
	rep.Elapsed = time.Since(start)
	if err != nil {
		return rep, err
	}
	if f == nil {
		return rep, nil
	}
	d := newDivergence("namespace", cfg.Seed, ops, f)
	d.shrink(cfg.ShrinkTime, func(cand []Op) *failure {
		f, err := replayNamespaceOnce(newTarget, cand, cfg, nil)
		if err != nil {
			return nil
		}
		return f
	})
	return rep, d
}

func replayNamespaceOnce(newTarget NamespaceFactory, ops []Op, cfg Config, rep *Report) (_ *failure, err error) {
	t, err := newTarget()
	if err != nil {
		return nil, fmt.Errorf("exerciser: making the directory: %w", err)
	}
	defer func() {
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("exerciser: removing the directory: %w", cerr)
		}
	}()
	o := newNSOracle()
	log := cfg.Log
	if rep == nil {
		log = nil
	}
	for i, op := range ops {
		if log != nil {
			fmt.Fprintf(log, "%d: %s\n", i, op)
		}
		if rep != nil {
			rep.Counts[op.Kind]++
			rep.Ops++
		}
		fail := func(want, got string) *failure { return &failure{index: i, op: op, want: want, got: got} }
		if op.Kind == OpVerify {
			if want, got := verifyTree(t, o); want != "" {
				return fail(want, got), nil
			}
			continue
		}
		want := o.apply(op)
		got := doNamespaceOp(t, op)
		if !sameErrno(want, got) {
			return fail(describeErrno(want), describeErr(got)), nil
		}
		for _, name := range touched(op) {
			if want, got := checkEntry(t, o, name); want != "" {
				return fail(want, got), nil
			}
		}
	}
	if want, got := verifyTree(t, o); want != "" {
		return &failure{index: len(ops), op: Op{Kind: OpVerify}, want: want, got: got}, nil
	}
	return nil, nil
}

func doNamespaceOp(t NamespaceTarget, op Op) error {
	switch op.Kind {
	case OpCreate:
		return t.Create(op.Path, []byte(createContent(op.Data)))
	case OpMkdir:
		return t.Mkdir(op.Path)
	case OpRename:
		return t.Rename(op.Path, op.Path2)
	case OpUnlink:
		return t.Unlink(op.Path)
	case OpRmdir:
		return t.Rmdir(op.Path)
	case OpLink:
		return t.Link(op.Path, op.Path2)
	case OpSymlink:
		return t.Symlink(op.Path, op.Path2)
	}
	return fmt.Errorf("exerciser: %s is not a namespace op", op.Kind)
}

// touched lists the names whose entries op may have changed.
func touched(op Op) []string {
	switch op.Kind {
	case OpRename, OpLink:
		return []string{op.Path, op.Path2}
	case OpSymlink:
		return []string{op.Path2}
	}
	return []string{op.Path}
}

// sameErrno compares the oracle's errno with the target's error. POSIX
// lets rmdir and rename of a non-empty directory fail with EEXIST or
// ENOTEMPTY, so those two are one.
func sameErrno(want syscall.Errno, got error) bool {
	if want == 0 || got == nil {
		return want == 0 && got == nil
	}
	var e syscall.Errno
	if !errors.As(got, &e) {
		return false
	}
	norm := func(e syscall.Errno) syscall.Errno {
		if e == syscall.EEXIST {
			return syscall.ENOTEMPTY
		}
		return e
	}
	if want == syscall.ENOTEMPTY {
		return norm(e) == syscall.ENOTEMPTY
	}
	return e == want
}

func describeErrno(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return fmt.Sprintf("%s (%v)", errnoName(e), e)
}

func describeErr(err error) string {
	if err == nil {
		return "success"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return fmt.Sprintf("%s (%v)", errnoName(e), err)
	}
	return fmt.Sprintf("an error without an errno: %v", err)
}

// errnoName spells the errnos the oracle predicts the way man pages do.
func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.ENOTDIR:
		return "ENOTDIR"
	case syscall.EISDIR:
		return "EISDIR"
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EPERM:
		return "EPERM"
	}
	return fmt.Sprintf("errno %d", uintptr(e))
}

// checkEntry compares lstat of name with the oracle; it returns "" when
// they agree.
func checkEntry(t NamespaceTarget, o *nsOracle, name string) (want, got string) {
	n, errno := o.lookup(name)
	e, err := t.Lstat(name)
	if errno != 0 {
		if sameErrno(errno, err) {
			return "", ""
		}
		if err == nil {
			return fmt.Sprintf("lstat %s fails with %s", name, describeErrno(errno)),
				fmt.Sprintf("a %s", e.Type)
		}
		return fmt.Sprintf("lstat %s fails with %s", name, describeErrno(errno)), describeErr(err)
	}
	if err != nil {
		return fmt.Sprintf("lstat %s finds a %s", name, n.typ), describeErr(err)
	}
	if e.Type != n.typ {
		return fmt.Sprintf("%s is a %s", name, n.typ), fmt.Sprintf("a %s", e.Type)
	}
	// Link counts of directories vary between filesystems (1 is common), so
	// only those of files and symlinks are checked.
	if n.typ != TypeDir && e.Nlink != n.nlink {
		return fmt.Sprintf("%s has %d link(s)", name, n.nlink), fmt.Sprintf("%d", e.Nlink)
	}
	if n.typ == TypeRegular && e.Size != int64(len(n.data)) {
		return fmt.Sprintf("%s has size %d", name, len(n.data)), fmt.Sprintf("size %d", e.Size)
	}
	return "", ""
}

// verifyTree compares the whole tree with the oracle; "" when they agree.
func verifyTree(t NamespaceTarget, o *nsOracle) (want, got string) {
	var walk func(dir string, d *nsNode) (string, string)
	walk = func(dir string, d *nsNode) (string, string) {
		names, err := t.ReadDir(dir)
		if err != nil {
			return fmt.Sprintf("readdir %s succeeds", dir), describeErr(err)
		}
		slices.Sort(names)
		if wantNames := sortedKeys(d.children); !slices.Equal(names, wantNames) {
			return fmt.Sprintf("directory %s lists %q", dir, wantNames), fmt.Sprintf("%q", names)
		}
		for _, name := range names {
			p := name
			if dir != "." {
				p = dir + "/" + name
			}
			if w, g := checkEntry(t, o, p); w != "" {
				return w, g
			}
			switch c := d.children[name]; c.typ {
			case TypeDir:
				if w, g := walk(p, c); w != "" {
					return w, g
				}
			case TypeRegular:
				data, err := t.ReadFile(p)
				if err != nil {
					return fmt.Sprintf("reading %s succeeds", p), describeErr(err)
				}
				if !bytes.Equal(data, []byte(c.data)) {
					return fmt.Sprintf("%s contains %q", p, c.data), fmt.Sprintf("%q", data)
				}
			case TypeSymlink:
				target, err := t.Readlink(p)
				if err != nil {
					return fmt.Sprintf("readlink %s succeeds", p), describeErr(err)
				}
				if target != c.data {
					return fmt.Sprintf("%s points to %q", p, c.data), fmt.Sprintf("%q", target)
				}
			}
		}
		return "", ""
	}
	return walk(".", o.root)
}
