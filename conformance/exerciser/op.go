package exerciser

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of an operation.
type Kind uint8

// File-mode kinds act on the one file of a file-mode run.
const (
	// OpWrite is pwrite(2) of Len bytes at Off, the bytes derived from Data.
	OpWrite Kind = iota + 1
	// OpRead is pread(2) of Len bytes at Off, checked against the oracle.
	OpRead
	// OpTruncate is ftruncate(2) to Size.
	OpTruncate
	// OpMapRead maps the file shared and reads Len bytes at Off from the
	// mapping. It does nothing on an empty file.
	OpMapRead
	// OpMapWrite maps the file shared, writes Len bytes at Off into the
	// mapping, msyncs and unmaps. A write past the end first extends the file
	// with ftruncate, as fsx does, because a mapping cannot grow a file.
	OpMapWrite
	// OpFsync is fsync(2).
	OpFsync
	// OpReopen closes every descriptor of the file and opens it again.
	OpReopen
	// OpDirectRead is an O_DIRECT pread(2); Off and Len are rounded to
	// DirectAlign.
	OpDirectRead
	// OpDirectWrite is an O_DIRECT pwrite(2); Off and Len are rounded to
	// DirectAlign.
	OpDirectWrite
)

// Namespace-mode kinds act on names below the root of a namespace-mode run.
const (
	// OpCreate creates the regular file Path with O_CREAT|O_EXCL and writes
	// content derived from Data into it.
	OpCreate Kind = iota + 32
	// OpMkdir creates the directory Path.
	OpMkdir
	// OpRename renames Path to Path2 with rename(2).
	OpRename
	// OpUnlink removes the non-directory Path.
	OpUnlink
	// OpRmdir removes the directory Path.
	OpRmdir
	// OpLink creates Path2 as a hard link to Path.
	OpLink
	// OpSymlink creates Path2 as a symbolic link whose target is Path.
	OpSymlink
	// OpVerify walks the whole tree and compares it with the oracle.
	OpVerify
)

// DirectAlign is the alignment of O_DIRECT offsets, lengths and buffers.
// 4096 satisfies every Linux filesystem with 4 KiB pages.
const DirectAlign = 4096

var kindNames = map[Kind]string{
	OpWrite: "write", OpRead: "read", OpTruncate: "truncate",
	OpMapRead: "mapread", OpMapWrite: "mapwrite", OpFsync: "fsync",
	OpReopen: "reopen", OpDirectRead: "dread", OpDirectWrite: "dwrite",
	OpCreate: "create", OpMkdir: "mkdir", OpRename: "rename",
	OpUnlink: "unlink", OpRmdir: "rmdir", OpLink: "link",
	OpSymlink: "symlink", OpVerify: "verify",
}

var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, len(kindNames))
	for k, n := range kindNames {
		m[n] = k
	}
	return m
}()

// String returns the name used in the text form of operations.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// IsFile reports whether k is a file-mode kind.
func (k Kind) IsFile() bool { return k >= OpWrite && k <= OpDirectWrite }

// IsNamespace reports whether k is a namespace-mode kind.
func (k Kind) IsNamespace() bool { return k >= OpCreate && k <= OpVerify }

// An Op is one step of a sequence. Which fields matter depends on Kind:
//
//	write, mapwrite, dwrite   Off, Len, Data
//	read, mapread, dread      Off, Len
//	truncate                  Size
//	fsync, reopen, verify     none
//	create                    Path, Data
//	mkdir, unlink, rmdir      Path
//	rename, link              Path (existing), Path2 (new)
//	symlink                   Path (target text), Path2 (new)
//
// Any Op of a mode is valid in any state: offsets and lengths are brought
// into range when the Op runs (see Config.MaxSize), so that a shrunk or
// fuzzed sequence is always replayable.
type Op struct {
	Kind  Kind
	Off   int64
	Len   int64
	Size  int64
	Data  uint64
	Path  string
	Path2 string
}

// String returns the op in the text form ParseOp reads back.
func (o Op) String() string {
	switch o.Kind {
	case OpWrite, OpMapWrite, OpDirectWrite:
		return fmt.Sprintf("%s off=%#x len=%#x data=%d", o.Kind, o.Off, o.Len, o.Data)
	case OpRead, OpMapRead, OpDirectRead:
		return fmt.Sprintf("%s off=%#x len=%#x", o.Kind, o.Off, o.Len)
	case OpTruncate:
		return fmt.Sprintf("%s size=%#x", o.Kind, o.Size)
	case OpFsync, OpReopen, OpVerify:
		return o.Kind.String()
	case OpCreate:
		return fmt.Sprintf("%s %s data=%d", o.Kind, o.Path, o.Data)
	case OpMkdir, OpUnlink, OpRmdir:
		return fmt.Sprintf("%s %s", o.Kind, o.Path)
	case OpRename, OpLink, OpSymlink:
		return fmt.Sprintf("%s %s %s", o.Kind, o.Path, o.Path2)
	}
	return fmt.Sprintf("%s %+v", o.Kind, struct {
		Off, Len, Size int64
		Data           uint64
		Path, Path2    string
	}{o.Off, o.Len, o.Size, o.Data, o.Path, o.Path2})
}

// FormatOps writes ops one per line in the form ParseOps reads.
func FormatOps(ops []Op) string {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseOps reads ops in the text form of Op.String, one per line. Blank
// lines and lines starting with '#' are ignored, and a leading "N:" index
// (as in a Divergence's log) is allowed, so a printed log can be pasted
// back. The error names the line that is wrong.
func ParseOps(text string) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexByte(line, ':'); i > 0 {
			if _, err := strconv.Atoi(line[:i]); err == nil {
				line = strings.TrimSpace(line[i+1:])
			}
		}
		o, err := ParseOp(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ops = append(ops, o)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("exerciser: reading ops: %w", err)
	}
	return ops, nil
}

// ParseOp parses one op in the text form of Op.String.
func ParseOp(s string) (Op, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Op{}, fmt.Errorf("exerciser: empty op")
	}
	k, ok := kindByName[f[0]]
	if !ok {
		return Op{}, fmt.Errorf("exerciser: unknown op kind %q in %q", f[0], s)
	}
	o := Op{Kind: k}
	args := f[1:]
	var positional []string
	keys := map[string]*int64{"off": &o.Off, "len": &o.Len, "size": &o.Size}
	seen := map[string]bool{}
	for _, a := range args {
		key, val, isKV := strings.Cut(a, "=")
		if !isKV {
			positional = append(positional, a)
			continue
		}
		if seen[key] {
			return Op{}, fmt.Errorf("exerciser: %q given twice in %q", key, s)
		}
		seen[key] = true
		if key == "data" {
			d, err := strconv.ParseUint(val, 0, 64)
			if err != nil {
				return Op{}, fmt.Errorf("exerciser: bad data=%q in %q", val, s)
			}
			o.Data = d
			continue
		}
		p, ok := keys[key]
		if !ok {
			return Op{}, fmt.Errorf("exerciser: unknown argument %q in %q", key, s)
		}
		v, err := strconv.ParseInt(val, 0, 64)
		if err != nil || v < 0 {
			return Op{}, fmt.Errorf("exerciser: bad %s=%q in %q: want a non-negative integer", key, val, s)
		}
		*p = v
	}

	// want lists the keyed arguments and the count of names each kind takes.
	want := func(names int, required ...string) error {
		for _, r := range required {
			if !seen[r] {
				return fmt.Errorf("exerciser: %s needs %s= in %q", k, r, s)
			}
		}
		for key := range seen {
			found := false
			for _, r := range required {
				found = found || r == key
			}
			if !found {
				return fmt.Errorf("exerciser: %s takes no %s= in %q", k, key, s)
			}
		}
		if len(positional) != names {
			return fmt.Errorf("exerciser: %s takes %d name(s), got %d in %q", k, names, len(positional), s)
		}
		return nil
	}
	var err error
	switch k {
	case OpWrite, OpMapWrite, OpDirectWrite:
		err = want(0, "off", "len", "data")
	case OpRead, OpMapRead, OpDirectRead:
		err = want(0, "off", "len")
	case OpTruncate:
		err = want(0, "size")
	case OpFsync, OpReopen, OpVerify:
		err = want(0)
	case OpCreate:
		if err = want(1, "data"); err == nil {
			o.Path = positional[0]
			err = checkName(o.Path)
		}
	case OpMkdir, OpUnlink, OpRmdir:
		if err = want(1); err == nil {
			o.Path = positional[0]
			err = checkName(o.Path)
		}
	case OpRename, OpLink, OpSymlink:
		if err = want(2); err == nil {
			o.Path, o.Path2 = positional[0], positional[1]
			if k == OpSymlink {
				err = checkTarget(o.Path)
			} else {
				err = checkName(o.Path)
			}
			if err == nil {
				err = checkName(o.Path2)
			}
		}
	}
	if err != nil {
		return Op{}, err
	}
	return o, nil
}

// checkName accepts the names namespace mode can model: relative, clean,
// without ':' (reserved for symlink targets, see checkTarget).
func checkName(name string) error {
	if name == "" || name == "." {
		return fmt.Errorf("exerciser: empty name")
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("exerciser: name %q is not a clean relative path", name)
		}
		for _, r := range c {
			if r == ':' || r <= ' ' || r == 0x7f {
				return fmt.Errorf("exerciser: name %q contains %q", name, r)
			}
		}
	}
	return nil
}

// checkTarget accepts the symlink targets namespace mode can model. The
// oracle does not follow symlinks; it can instead rely on every symlink
// dangling, which holds when the target contains ':' (never part of a name,
// see checkName) and no '/' (so it cannot leave the tree).
func checkTarget(t string) error {
	if !strings.Contains(t, ":") || strings.Contains(t, "/") {
		return fmt.Errorf("exerciser: symlink target %q must contain ':' and no '/' so that it always dangles", t)
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("exerciser: symlink target %q contains %q", t, r)
		}
	}
	return nil
}
