package exerciser

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// weighted is one entry of a generator's table: how often kind is chosen
// relative to the others, when its feature is on.
type weighted struct {
	kind   Kind
	weight int
	on     func(Features) bool
}

func always(Features) bool { return true }

// fileWeights follows fsx's mix: reads and writes dominate, size changes are
// frequent enough to keep the file moving, close/reopen and fsync are rarer.
var fileWeights = []weighted{
	{OpWrite, 20, always},
	{OpRead, 20, always},
	{OpTruncate, 6, always},
	{OpFsync, 2, always},
	{OpReopen, 3, always},
	{OpMapRead, 8, func(f Features) bool { return f.Mmap }},
	{OpMapWrite, 8, func(f Features) bool { return f.Mmap }},
	{OpDirectRead, 5, func(f Features) bool { return f.ODirect }},
	{OpDirectWrite, 5, func(f Features) bool { return f.ODirect }},
}

var namespaceWeights = []weighted{
	{OpCreate, 16, always},
	{OpMkdir, 10, always},
	{OpRename, 22, always},
	{OpUnlink, 10, always},
	{OpRmdir, 8, always},
	// A full walk of the tree every ~80 ops: the names each op touches are
	// checked after it anyway, and on a FUSE mount with no attribute
	// caching (libfuse3 through cgofuse) every walk is a LOOKUP and a
	// GETATTR per entry. At one in 40, 5,000 file-mode plus 1,250
	// namespace ops on afero MemMapFs sent 133k of those; at one in 80,
	// 50k (fuse_request_send tracepoint, conformance matrix sample).
	{OpVerify, 1, always},
	{OpLink, 8, func(f Features) bool { return f.HardLinks }},
	{OpSymlink, 6, func(f Features) bool { return f.Symlinks }},
}

// picker chooses kinds from a table restricted to the enabled features.
type picker struct {
	kinds []Kind
	cum   []int
}

func newPicker(table []weighted, f Features) picker {
	var p picker
	total := 0
	for _, w := range table {
		if w.on(f) {
			total += w.weight
			p.kinds = append(p.kinds, w.kind)
			p.cum = append(p.cum, total)
		}
	}
	return p
}

func (p picker) pick(r *rand.Rand) Kind {
	n := r.IntN(p.cum[len(p.cum)-1])
	for i, c := range p.cum {
		if n < c {
			return p.kinds[i]
		}
	}
	panic("unreachable")
}

func newRand(seed uint64) *rand.Rand {
	// The second PCG word is fixed so that one number reproduces a run.
	return rand.New(rand.NewPCG(seed, 0x66757365_6b697421))
}

// logLen returns a length in [1, maxLen], log-uniform, so that small
// transfers (where off-by-one bugs live) are as common as large ones.
func logLen(r *rand.Rand, maxLen int64) int64 {
	l := int64(math.Exp(r.Float64() * math.Log(float64(maxLen)+1)))
	return max(1, min(l, maxLen))
}

// GenerateFile returns cfg.Ops file-mode ops derived from cfg.Seed. The
// generator tracks the file size so that most reads and maps land inside
// the file, and numbers each write's data after its index.
func GenerateFile(cfg Config) ([]Op, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := newRand(cfg.Seed)
	p := newPicker(fileWeights, cfg.Features)
	ops := make([]Op, cfg.Ops)
	var size int64
	for i := range ops {
		k := p.pick(r)
		o := Op{Kind: k}
		switch k {
		case OpWrite, OpMapWrite:
			o.Data = uint64(i + 1)
			o.Len = logLen(r, cfg.MaxOpLen)
			if r.IntN(2) == 0 {
				o.Off = r.Int64N(size + 1) // overwrite or append
			} else {
				o.Off = r.Int64N(cfg.MaxSize) // anywhere, often leaving a hole
			}
		case OpRead, OpMapRead:
			o.Len = logLen(r, cfg.MaxOpLen)
			if size > 0 && r.IntN(10) != 0 {
				o.Off = r.Int64N(size)
			} else {
				o.Off = r.Int64N(cfg.MaxSize) // past the end too
			}
		case OpTruncate:
			switch r.IntN(5) {
			case 0, 1:
				o.Size = r.Int64N(size + 1)
			case 2, 3:
				o.Size = size + r.Int64N(cfg.MaxSize-size+1)
			default:
				o.Size = r.Int64N(cfg.MaxSize + 1)
			}
		case OpDirectRead, OpDirectWrite:
			if k == OpDirectWrite {
				o.Data = uint64(i + 1)
			}
			o.Len = alignUp(logLen(r, cfg.maxDirectLen()))
			o.Off = r.Int64N(cfg.MaxSize) &^ (DirectAlign - 1)
		}
		e, _ := effective(o, size, &cfg)
		ops[i] = e
		size = sizeAfter(e, size)
	}
	return ops, nil
}

// sizeAfter is the file size after the effective op e on a file of size.
func sizeAfter(e Op, size int64) int64 {
	switch e.Kind {
	case OpWrite, OpMapWrite, OpDirectWrite:
		return max(size, e.Off+e.Len)
	case OpTruncate:
		return e.Size
	}
	return size
}

// nsNames are the path components namespace mode draws from. Few names and
// shallow trees make collisions (rename over an existing name, rmdir of a
// non-empty directory) common.
var nsNames = []string{"a", "b", "c", "d", "e"}

const nsMaxDepth = 3

// GenerateNamespace returns cfg.Ops namespace-mode ops derived from
// cfg.Seed. It runs them on its own oracle as it goes, so that most ops
// name existing entries and most creates land in existing directories;
// the rest fail, which is checked as carefully as success.
func GenerateNamespace(cfg Config) ([]Op, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := newRand(cfg.Seed)
	p := newPicker(namespaceWeights, cfg.Features)
	o := newNSOracle()
	ops := make([]Op, cfg.Ops)
	for i := range ops {
		paths := o.paths()
		existing := func() string {
			if len(paths) == 0 || r.IntN(8) == 0 {
				return randomPath(r)
			}
			return paths[r.IntN(len(paths))]
		}
		fresh := func() string {
			// A new name in an existing directory, usually.
			var dirs []string
			for _, q := range paths {
				if n, _ := o.lookup(q); n.typ == TypeDir && depth(q) < nsMaxDepth {
					dirs = append(dirs, q)
				}
			}
			name := nsNames[r.IntN(len(nsNames))]
			if len(dirs) == 0 || r.IntN(4) == 0 {
				if r.IntN(3) == 0 {
					return randomPath(r)
				}
				return name
			}
			return dirs[r.IntN(len(dirs))] + "/" + name
		}
		op := Op{Kind: p.pick(r)}
		switch op.Kind {
		case OpCreate:
			op.Path, op.Data = fresh(), uint64(i+1)
		case OpMkdir:
			op.Path = fresh()
		case OpUnlink, OpRmdir:
			op.Path = existing()
		case OpRename, OpLink:
			op.Path = existing()
			if r.IntN(2) == 0 {
				op.Path2 = existing()
			} else {
				op.Path2 = fresh()
			}
		case OpSymlink:
			op.Path, op.Path2 = "dangling:"+strconv.Itoa(i+1), fresh()
		}
		o.apply(op)
		ops[i] = op
	}
	return ops, nil
}

func randomPath(r *rand.Rand) string {
	p := nsNames[r.IntN(len(nsNames))]
	for d := 1 + r.IntN(nsMaxDepth); d > 1; d-- {
		p += "/" + nsNames[r.IntN(len(nsNames))]
	}
	return p
}

func depth(p string) int {
	n := 1
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			n++
		}
	}
	return n
}
