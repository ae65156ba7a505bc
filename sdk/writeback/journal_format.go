package writeback

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The journal is a sequence of segment files, seg-<16 hex digits>.log,
// each a sequence of records:
//
//	offset size field
//	0      4    magic "FKJ1" (0x314a4b46 little-endian)
//	4      1    format version (1)
//	5      1    record type
//	6      2    zero
//	8      8    file id (journal-assigned, per dirty episode of a file)
//	16     8    offset (write), size (truncate), zero otherwise
//	24     4    payload length
//	28     4    CRC32C (Castagnoli) over bytes 0..27 and the payload
//	32     ...  payload
//
// All integers are little-endian. A record is valid only as a whole: a
// record cut short by a crash, or whose checksum does not match, ends the
// valid part of the journal.
const (
	recMagic   = 0x314a4b46
	recVersion = 1
	recHdrLen  = 32
	// maxRecPayload bounds a record's payload, so that a corrupt length
	// cannot make the reader allocate or skip gigabytes.
	maxRecPayload = 1 << 28
	// openFixed is the fixed part of an open record's payload: inode,
	// size and mtime (ns) of the backend file, then the name.
	openFixed = 24
)

// Record types.
const (
	recOpen  = 1 // a file's dirty episode starts: identity and name
	recWrite = 2 // data written at off
	recTrunc = 3 // truncated to off
	recName  = 4 // renamed to the payload; empty: unlinked or replaced
	recBegin = 5 // write-back of the episode started: the backend file changes
	recAck   = 6 // every earlier record of the file is on the backend
	recCont  = 7 // an open episode restated at a segment's head; off 1: begun
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded journal record. data aliases the decoder's input.
type record struct {
	typ  uint8
	id   uint64
	off  int64
	data []byte
}

// identity is what the journal remembers of a backend file to notice a
// change made behind its back.
type identity struct {
	ino   uint64
	size  int64
	mtime int64 // ns since the epoch
}

var errShortRecord = errors.New("journal record cut short")

// encodeHeader fills hdr (recHdrLen bytes) for a record whose payload is
// the concatenation of parts, and returns it.
func encodeHeader(hdr []byte, typ uint8, id uint64, off int64, parts ...[]byte) []byte {
	hdr = hdr[:recHdrLen]
	var n int
	for _, p := range parts {
		n += len(p)
	}
	binary.LittleEndian.PutUint32(hdr[0:], recMagic)
	hdr[4] = recVersion
	hdr[5] = typ
	hdr[6], hdr[7] = 0, 0
	binary.LittleEndian.PutUint64(hdr[8:], id)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(off))
	binary.LittleEndian.PutUint32(hdr[24:], uint32(n))
	crc := crc32.Update(0, castagnoli, hdr[:28])
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.LittleEndian.PutUint32(hdr[28:], crc)
	return hdr
}

// appendRecord appends an encoded record to dst.
func appendRecord(dst []byte, typ uint8, id uint64, off int64, parts ...[]byte) []byte {
	var hdr [recHdrLen]byte
	dst = append(dst, encodeHeader(hdr[:], typ, id, off, parts...)...)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// parseHeader checks a record header and returns its payload length.
func parseHeader(hdr []byte) (typ uint8, id uint64, off int64, n int, err error) {
	if len(hdr) < recHdrLen {
		return 0, 0, 0, 0, errShortRecord
	}
	if m := binary.LittleEndian.Uint32(hdr); m != recMagic {
		return 0, 0, 0, 0, fmt.Errorf("bad record magic %#x", m)
	}
	if hdr[4] != recVersion {
		return 0, 0, 0, 0, fmt.Errorf("unknown record version %d", hdr[4])
	}
	typ = hdr[5]
	if typ < recOpen || typ > recCont {
		return 0, 0, 0, 0, fmt.Errorf("unknown record type %d", typ)
	}
	if hdr[6] != 0 || hdr[7] != 0 {
		return 0, 0, 0, 0, errors.New("nonzero reserved record bytes")
	}
	id = binary.LittleEndian.Uint64(hdr[8:])
	off = int64(binary.LittleEndian.Uint64(hdr[16:]))
	l := binary.LittleEndian.Uint32(hdr[24:])
	if l > maxRecPayload {
		return 0, 0, 0, 0, fmt.Errorf("record payload length %d too large", l)
	}
	if off < 0 {
		return 0, 0, 0, 0, fmt.Errorf("negative record offset %d", off)
	}
	if (typ == recOpen || typ == recCont) && l < openFixed {
		return 0, 0, 0, 0, fmt.Errorf("open record payload of %d bytes, want at least %d", l, openFixed)
	}
	return typ, id, off, int(l), nil
}

// checkCRC verifies the checksum of a header and its payload.
func checkCRC(hdr, payload []byte) error {
	crc := crc32.Update(0, castagnoli, hdr[:28])
	crc = crc32.Update(crc, castagnoli, payload)
	if want := binary.LittleEndian.Uint32(hdr[28:]); crc != want {
		return fmt.Errorf("record checksum %#x, want %#x", crc, want)
	}
	return nil
}

// decodeRecord decodes the record at the start of b and returns it with
// its encoded length. It never panics on arbitrary input.
func decodeRecord(b []byte) (record, int, error) {
	typ, id, off, n, err := parseHeader(b)
	if err != nil {
		return record{}, 0, err
	}
	if len(b)-recHdrLen < n {
		return record{}, 0, errShortRecord
	}
	payload := b[recHdrLen : recHdrLen+n]
	if err := checkCRC(b, payload); err != nil {
		return record{}, 0, err
	}
	return record{typ: typ, id: id, off: off, data: payload}, recHdrLen + n, nil
}

// openPayload encodes an open record's payload.
func openPayload(id identity, name string) []byte {
	b := make([]byte, openFixed, openFixed+len(name))
	binary.LittleEndian.PutUint64(b[0:], id.ino)
	binary.LittleEndian.PutUint64(b[8:], uint64(id.size))
	binary.LittleEndian.PutUint64(b[16:], uint64(id.mtime))
	return append(b, name...)
}

// parseOpen decodes an open record's payload; parseHeader checked its
// length.
func parseOpen(p []byte) (identity, string) {
	return identity{
		ino:   binary.LittleEndian.Uint64(p[0:]),
		size:  int64(binary.LittleEndian.Uint64(p[8:])),
		mtime: int64(binary.LittleEndian.Uint64(p[16:])),
	}, string(p[openFixed:])
}
