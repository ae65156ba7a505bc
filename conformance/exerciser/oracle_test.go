package exerciser

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileOracle(t *testing.T) {
	o := newFileOracle(64)
	assert.Zero(t, o.size())
	assert.Nil(t, o.read(0, 10), "reading an empty file returns nothing")

	o.write([]byte("abc"), 4, 0) // leaves a hole at [0, 4)
	assert.Equal(t, int64(7), o.size())
	assert.Equal(t, []byte("\x00\x00\x00\x00abc"), o.read(0, 100))
	assert.Equal(t, []int32{0, 0, 0, 0, 1, 1, 1}, o.who)
	assert.Equal(t, []byte("bc"), o.read(5, 2))
	assert.Nil(t, o.read(7, 1), "a read at the end returns nothing")

	o.write([]byte("XY"), 5, 5)
	assert.Equal(t, []byte("aXY"), o.read(4, 3))
	assert.Equal(t, []int32{1, 6, 6}, o.who[4:7])

	o.truncate(5)
	assert.Equal(t, []byte("\x00\x00\x00\x00a"), o.read(0, 100))
	o.truncate(8) // growing again must not resurrect "XY"
	assert.Equal(t, []byte("\x00\x00\x00\x00a\x00\x00\x00"), o.read(0, 100))
	assert.Equal(t, []int32{0, 0, 0, 0, 1, 0, 0, 0}, o.who)

	// Growth past the preallocated capacity keeps the contents.
	o.write([]byte("z"), 99, 7)
	assert.Equal(t, int64(100), o.size())
	assert.Equal(t, byte('a'), o.read(4, 1)[0])
	assert.Equal(t, int32(8), o.who[99])
}

func TestPattern(t *testing.T) {
	p := make([]byte, 37)
	fillPattern(p, 5, 3) // unaligned head, aligned words, tail
	for i, c := range p {
		assert.Equal(t, patternByte(5, int64(3+i)), c, "byte %d", i)
	}
	q := make([]byte, 37)
	fillPattern(q, 6, 3)
	assert.NotEqual(t, p, q, "another seed writes other bytes")
	fillPattern(q, 5, 3+8)
	assert.NotEqual(t, p[:8], q[:8], "a word's bytes depend on its offset, so misplaced data shows")
}

// nsStep is an op in text form and the errno the oracle must predict.
type nsStep struct {
	op   string
	want syscall.Errno
}

// runNS applies steps to a fresh oracle, checking each errno.
func runNS(t *testing.T, steps []nsStep) *nsOracle {
	t.Helper()
	o := newNSOracle()
	for _, s := range steps {
		op, err := ParseOp(s.op)
		require.NoError(t, err)
		assert.Equal(t, s.want, o.apply(op), "%s", s.op)
	}
	return o
}

// errnoSteps cover every errno of create, mkdir, unlink, rmdir, link and
// symlink, in the kernel's order of checks.
var errnoSteps = []nsStep{
	{"mkdir a", 0},
	{"mkdir a", syscall.EEXIST},
	{"mkdir x/y", syscall.ENOENT},
	{"create a/f data=1", 0},
	{"create a/f data=2", syscall.EEXIST},
	{"mkdir a/f/g", syscall.ENOTDIR},
	{"create a/f/g data=3", syscall.ENOTDIR},
	{"unlink a", syscall.EISDIR},
	{"unlink a/nope", syscall.ENOENT},
	{"rmdir a/f", syscall.ENOTDIR},
	{"rmdir a", syscall.ENOTEMPTY},
	{"symlink dangling:1 s", 0},
	{"mkdir s", syscall.EEXIST},
	{"create s/x data=4", syscall.ENOENT}, // through a dangling symlink
	{"rmdir s", syscall.ENOTDIR},
	{"link a b", syscall.EPERM},
	{"link a a/f", syscall.EEXIST}, // EEXIST is found before EPERM
	{"link nope b", syscall.ENOENT},
	{"link a/f b", 0},
	{"link s s2", 0}, // a hard link to the symlink itself
	{"unlink s", 0},
}

func TestNSOracleErrnos(t *testing.T) {
	o := runNS(t, errnoSteps)
	f, _ := o.lookup("b")
	require.NotNil(t, f)
	assert.Equal(t, 2, f.nlink)
	s2, _ := o.lookup("s2")
	assert.Equal(t, 1, s2.nlink)
	assert.Equal(t, []string{"a", "a/f", "b", "s2"}, o.paths())
}

// renameSteps cover the errnos of rename(2) and its no-op cases.
var renameSteps = []nsStep{
	{"mkdir a", 0},
	{"mkdir a/b", 0},
	{"create a/b/f data=1", 0},
	{"mkdir e", 0},
	{"create g data=2", 0},
	{"rename nope x", syscall.ENOENT},
	{"rename g nope/x", syscall.ENOENT},
	{"rename g g/x", syscall.ENOTDIR},
	{"rename a a/b/c", syscall.EINVAL},    // a directory below itself
	{"rename a/b/f a", syscall.ENOTEMPTY}, // onto an ancestor, even from a file
	{"rename a/b a", syscall.ENOTEMPTY},
	{"rename g e", syscall.EISDIR},
	{"rename e g", syscall.ENOTDIR},
	{"rename e a", syscall.ENOTEMPTY},
	{"rename a e", 0}, // replaces the empty directory
	{"rename g g", 0},
	{"link g h", 0},
	{"rename g h", 0}, // same inode: nothing happens
}

func TestNSOracleRename(t *testing.T) {
	o := runNS(t, renameSteps)
	assert.Equal(t, []string{"e", "e/b", "e/b/f", "g", "h"}, o.paths())
	h, _ := o.lookup("h")
	assert.Equal(t, 2, h.nlink, "rename between links of one file changes nothing")

	require.Equal(t, syscall.Errno(0), o.apply(Op{Kind: OpCreate, Path: "x", Data: 9}))
	require.Equal(t, syscall.Errno(0), o.apply(Op{Kind: OpRename, Path: "x", Path2: "h"}))
	assert.Equal(t, 1, h.nlink, "the replaced link is gone")
	x, _ := o.lookup("h")
	assert.Equal(t, createContent(9), x.data)
}

func TestRenameTrap(t *testing.T) {
	for _, c := range []struct{ p1, p2, want string }{
		{".", ".", ""},
		{".", "a", "a"},
		{".", "a/b", "a"},
		{"a/b", ".", "a"},
		{"a", "a/b/c", "a/b"},
		{"a/b/c", "a", "a/b"},
		{"a", "b", ""},
		{"a", "ab/c", ""},
	} {
		assert.Equal(t, c.want, renameTrap(c.p1, c.p2), "%q %q", c.p1, c.p2)
	}
}

func TestSameErrno(t *testing.T) {
	assert.True(t, sameErrno(0, nil))
	assert.False(t, sameErrno(0, syscall.ENOENT))
	assert.False(t, sameErrno(syscall.ENOENT, nil))
	assert.True(t, sameErrno(syscall.ENOTEMPTY, syscall.EEXIST), "POSIX allows EEXIST for a non-empty directory")
	assert.False(t, sameErrno(syscall.EEXIST, syscall.ENOTEMPTY))
	assert.False(t, sameErrno(syscall.ENOENT, assert.AnError))
}
