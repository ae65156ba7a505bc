package exerciser

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpTextRoundTrip(t *testing.T) {
	ops := []Op{
		{Kind: OpWrite, Off: 0x1000, Len: 0x200, Data: 17},
		{Kind: OpRead, Off: 3, Len: 1},
		{Kind: OpTruncate, Size: 0},
		{Kind: OpMapRead, Off: 1, Len: 2},
		{Kind: OpMapWrite, Off: 1, Len: 2, Data: 3},
		{Kind: OpFsync},
		{Kind: OpReopen},
		{Kind: OpDirectRead, Off: 0x2000, Len: 0x1000},
		{Kind: OpDirectWrite, Off: 0x2000, Len: 0x1000, Data: 9},
		{Kind: OpCreate, Path: "a/b", Data: 4},
		{Kind: OpMkdir, Path: "a"},
		{Kind: OpRename, Path: "a/b", Path2: "c"},
		{Kind: OpUnlink, Path: "c"},
		{Kind: OpRmdir, Path: "a"},
		{Kind: OpLink, Path: "a", Path2: "b/c"},
		{Kind: OpSymlink, Path: "dangling:3", Path2: "d"},
		{Kind: OpVerify},
	}
	text := FormatOps(ops)
	assert.Contains(t, text, "write off=0x1000 len=0x200 data=17\n")
	assert.Contains(t, text, "symlink dangling:3 d\n")
	got, err := ParseOps(text)
	require.NoError(t, err)
	assert.Equal(t, ops, got)
	for _, o := range ops {
		assert.True(t, o.Kind.IsFile() != o.Kind.IsNamespace(), o.Kind.String())
	}
}

func TestParseOpsLogForm(t *testing.T) {
	got, err := ParseOps("# a comment\n\n  17: truncate size=0x10\n18: read len=4 off=2\n")
	require.NoError(t, err)
	assert.Equal(t, []Op{{Kind: OpTruncate, Size: 16}, {Kind: OpRead, Off: 2, Len: 4}}, got)
}

func TestParseOpErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "empty op",
		"scribble off=1":           `unknown op kind "scribble"`,
		"write off=1 len=2":        "write needs data=",
		"read off=1 len=2 data=3":  "read takes no data=",
		"read off=-1 len=2":        "bad off=",
		"read off=x len=2":         "bad off=",
		"read off=1 len=2 off=3":   `"off" given twice`,
		"read off=1 len=2 speed=3": `unknown argument "speed"`,
		"truncate size=1 extra":    "truncate takes 0 name(s), got 1",
		"mkdir":                    "mkdir takes 1 name(s), got 0",
		"mkdir /abs":               "not a clean relative path",
		"mkdir a/../b":             "not a clean relative path",
		"mkdir a:b":                `contains ':'`,
		"rename a":                 "rename takes 2 name(s), got 1",
		"symlink target b":         `symlink target "target" must contain ':'`,
		"symlink x:/etc b":         `symlink target "x:/etc" must contain ':' and no '/'`,
		"create a data=z":          "bad data=",
		"write off=1 len=2 data=18446744073709551616": "bad data=",
	} {
		_, err := ParseOp(in)
		assert.ErrorContains(t, err, want, "input %q", in)
	}
	_, err := ParseOps("fsync\nbogus\n")
	assert.ErrorContains(t, err, "line 2: ")
}

func FuzzParseOp(f *testing.F) {
	f.Add("write off=0x1000 len=0x200 data=17")
	f.Add("symlink dangling:3 a/b")
	f.Add("12: rename a b")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOp(s)
		if err != nil {
			return
		}
		// Whatever parses prints back to something that parses the same.
		again, err := ParseOp(o.String())
		require.NoError(t, err, "%q printed as %q", s, o.String())
		require.Equal(t, o, again)
	})
}
