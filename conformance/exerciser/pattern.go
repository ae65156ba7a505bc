package exerciser

import "encoding/binary"

// The data of a write is a pure function of the write's Data seed and the
// absolute file offset, so a byte read back names the write that put it
// there (see explainMismatch) and a shrunk sequence writes the same bytes.

// patternWord returns the 8 pattern bytes of seed for the 8-aligned word
// containing offset word*8 (splitmix64 of the pair).
func patternWord(seed, word uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + word*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fillPattern fills p with the data seed writes at file offset off.
func fillPattern(p []byte, seed uint64, off int64) {
	o := uint64(off)
	i := 0
	// Unaligned head, byte by byte.
	for ; i < len(p) && (o+uint64(i))&7 != 0; i++ {
		x := o + uint64(i)
		p[i] = byte(patternWord(seed, x>>3) >> (8 * (x & 7)))
	}
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], patternWord(seed, (o+uint64(i))>>3))
	}
	for ; i < len(p); i++ {
		x := o + uint64(i)
		p[i] = byte(patternWord(seed, x>>3) >> (8 * (x & 7)))
	}
}

// patternByte is the byte seed writes at off.
func patternByte(seed uint64, off int64) byte {
	x := uint64(off)
	return byte(patternWord(seed, x>>3) >> (8 * (x & 7)))
}
