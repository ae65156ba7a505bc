package exerciser

import "strconv"

// DecodeFile turns arbitrary bytes into a file-mode sequence, for fuzzing:
// five bytes per op (kind, two of offset, two of length; a truncate takes
// its size from the offset bytes), scaled to the ranges of cfg. Kinds whose
// feature is off are never produced. It never fails; a trailing partial op
// is dropped. cfg must already be valid (see Config).
func DecodeFile(data []byte, cfg Config) []Op {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil
	}
	kinds := newPicker(fileWeights, cfg.Features).kinds
	var ops []Op
	for i := 0; i+5 <= len(data); i += 5 {
		k := kinds[int(data[i])%len(kinds)]
		off := int64(data[i+1])<<8 | int64(data[i+2])
		l := int64(data[i+3])<<8 | int64(data[i+4])
		o := Op{Kind: k}
		switch k {
		case OpTruncate:
			o.Size = off * (cfg.MaxSize + 1) >> 16
		default:
			o.Off = off * cfg.MaxSize >> 16
			// Quadratic, so that short transfers are as likely as long.
			o.Len = 1 + l*l*cfg.MaxOpLen>>32
		}
		if k == OpWrite || k == OpMapWrite || k == OpDirectWrite {
			o.Data = uint64(len(ops) + 1)
		}
		ops = append(ops, o)
	}
	return ops
}

// DecodeNamespace turns arbitrary bytes into a namespace-mode sequence, for
// fuzzing: three bytes per op (kind, then one byte per name, each naming
// one of the paths namespace mode generates). It never fails.
func DecodeNamespace(data []byte, cfg Config) []Op {
	kinds := newPicker(namespaceWeights, cfg.Features).kinds
	var ops []Op
	for i := 0; i+3 <= len(data); i += 3 {
		o := Op{Kind: kinds[int(data[i])%len(kinds)]}
		a, b := decodePath(data[i+1]), decodePath(data[i+2])
		switch o.Kind {
		case OpCreate:
			o.Path, o.Data = a, uint64(len(ops)+1)
		case OpMkdir, OpUnlink, OpRmdir:
			o.Path = a
		case OpRename, OpLink:
			o.Path, o.Path2 = a, b
		case OpSymlink:
			o.Path, o.Path2 = "dangling:"+strconv.Itoa(len(ops)+1), b
		}
		ops = append(ops, o)
	}
	return ops
}

// decodePath maps a byte to a path of depth 1 to 3 over nsNames, shallow
// paths being the most likely.
func decodePath(b byte) string {
	n := len(nsNames)
	v := int(b)
	p := nsNames[v%n]
	v /= n
	if v%3 >= 1 {
		p += "/" + nsNames[(v/3)%n]
	}
	if v%3 == 2 {
		p += "/" + nsNames[(v/15)%n]
	}
	return p
}
