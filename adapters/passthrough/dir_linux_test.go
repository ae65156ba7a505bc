package passthrough

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// encodeDirent appends one linux_dirent64 record, padded to 8 bytes.
func encodeDirent(b []byte, ino uint64, typ byte, name string) []byte {
	reclen := (direntNameOff + len(name) + 1 + 7) &^ 7
	rec := make([]byte, reclen)
	binary.NativeEndian.PutUint64(rec, ino)
	binary.NativeEndian.PutUint64(rec[8:], uint64(len(b)+reclen))
	binary.NativeEndian.PutUint16(rec[direntReclenOff:], uint16(reclen))
	rec[direntTypeOff] = typ
	copy(rec[direntNameOff:], name)
	return append(b, rec...)
}

func TestParseDirents(t *testing.T) {
	var buf []byte
	buf = encodeDirent(buf, 1, unix.DT_DIR, ".")
	buf = encodeDirent(buf, 2, unix.DT_DIR, "..")
	buf = encodeDirent(buf, 10, unix.DT_REG, "file")
	buf = encodeDirent(buf, 0, unix.DT_REG, "deleted")
	buf = encodeDirent(buf, 11, unix.DT_LNK, "a-much-longer-name-than-eight-bytes")
	buf = encodeDirent(buf, 12, unix.DT_UNKNOWN, "mystery")
	got, err := parseDirents(buf, nil)
	require.NoError(t, err)
	assert.Equal(t, []sdk.DirEntry{
		{Name: "file", Ino: 10, Type: sdk.TypeRegular},
		{Name: "a-much-longer-name-than-eight-bytes", Ino: 11, Type: sdk.TypeSymlink},
		{Name: "mystery", Ino: 12, Type: 0},
	}, got)

	for name, bad := range map[string][]byte{
		"truncated header":  buf[:10],
		"truncated record":  buf[:len(buf)-1],
		"zero length":       make([]byte, 24),
		"slash in the name": encodeDirent(nil, 5, unix.DT_REG, "a/b"),
		"empty name":        encodeDirent(nil, 5, unix.DT_REG, ""),
	} {
		_, err := parseDirents(bad, nil)
		assert.ErrorIs(t, err, unix.EIO, name)
	}
}

func TestParseDirentsOfARealDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "bb", strings.Repeat("c", 255)} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Getdents(fd, buf)
	require.NoError(t, err)
	got, err := parseDirents(buf[:n], nil)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, e := range got {
		assert.Equal(t, lstat(t, filepath.Join(dir, e.Name)).Ino, e.Ino)
		assert.Equal(t, sdk.TypeRegular, e.Type)
	}
}

// FuzzParseDirents feeds arbitrary bytes to the getdents64 parser: it must
// never panic, and whatever it returns must be a usable name.
func FuzzParseDirents(f *testing.F) {
	f.Add(encodeDirent(encodeDirent(nil, 1, unix.DT_DIR, "."), 7, unix.DT_REG, "x"))
	f.Add(encodeDirent(nil, 9, unix.DT_FIFO, "fifo"))
	f.Add([]byte{})
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, buf []byte) {
		entries, _ := parseDirents(buf, nil)
		for _, e := range entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." ||
				strings.ContainsAny(e.Name, "/\x00") || e.Ino == 0 {
				t.Fatalf("parser produced a bad entry %+v", e)
			}
		}
		// Re-encoding what was parsed must parse back to the same thing.
		var again []byte
		for _, e := range entries {
			again = encodeDirent(again, e.Ino, typeToDT(e.Type), e.Name)
		}
		back, err := parseDirents(again, nil)
		if err != nil || len(back) != len(entries) {
			t.Fatalf("round trip: %v, %d entries instead of %d", err, len(back), len(entries))
		}
		for i := range back {
			if back[i] != entries[i] {
				t.Fatalf("round trip: %+v became %+v", entries[i], back[i])
			}
		}
	})
}

func typeToDT(typ uint32) byte {
	for dt := range byte(16) {
		if dtToType(dt) == typ && (typ != 0 || dt == unix.DT_UNKNOWN) {
			return dt
		}
	}
	return unix.DT_UNKNOWN
}
