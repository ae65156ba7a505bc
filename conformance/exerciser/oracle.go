package exerciser

// fileOracle is the model of the file in file mode: its bytes, and for
// every byte the op that wrote it, so that a wrong byte can be explained.
// It is pure and never fails; clamping to Config.MaxSize happens before.
type fileOracle struct {
	data []byte
	// who[i] is 1 + the index of the op that wrote data[i]; 0 means the
	// byte is zero because nothing wrote it (a hole or an extension).
	who []int32
}

func newFileOracle(maxSize int64) *fileOracle {
	return &fileOracle{data: make([]byte, 0, maxSize), who: make([]int32, 0, maxSize)}
}

func (f *fileOracle) size() int64 { return int64(len(f.data)) }

// truncate sets the size; growth is zero-filled.
func (f *fileOracle) truncate(size int64) {
	old := f.size()
	if size <= old {
		f.data, f.who = f.data[:size], f.who[:size]
		return
	}
	f.data, f.who = grow(f.data, size), grow(f.who, size)
	clear(f.data[old:])
	clear(f.who[old:])
}

// write copies p to off on behalf of op index idx, extending the file.
func (f *fileOracle) write(p []byte, off int64, idx int) {
	if end := off + int64(len(p)); end > f.size() {
		f.truncate(end)
	}
	copy(f.data[off:], p)
	w := f.who[off : off+int64(len(p))]
	for i := range w {
		w[i] = int32(idx + 1)
	}
}

// read returns the bytes a read of n bytes at off must return (fewer at
// the end of the file, none past it). The slice aliases the oracle.
func (f *fileOracle) read(off, n int64) []byte {
	if off >= f.size() {
		return nil
	}
	return f.data[off:min(off+n, f.size())]
}

// grow returns s resized to n, reallocating only when n exceeds cap(s).
func grow[T any](s []T, n int64) []T {
	if n <= int64(cap(s)) {
		return s[:n]
	}
	ns := make([]T, n, max(n, 2*int64(cap(s))))
	copy(ns, s)
	return ns
}
