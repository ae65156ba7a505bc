package sdk

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/winfsp/cgofuse/fuse"
)

func TestHandleTableReusesSlotsWithNewGenerations(t *testing.T) {
	var ht handleTable
	h1, h2 := &handle{}, &handle{}
	fh1 := ht.add(h1)
	assert.Same(t, h1, ht.get(fh1))
	assert.Same(t, h1, ht.remove(fh1))
	assert.Nil(t, ht.get(fh1), "a released handle must not resolve")
	fh2 := ht.add(h2)
	assert.Equal(t, uint32(fh1), uint32(fh2), "the slot is reused")
	assert.NotEqual(t, fh1, fh2, "with a new generation")
	assert.Nil(t, ht.get(fh1), "the stale number must not find the new handle")
	assert.Nil(t, ht.remove(fh1))
	assert.Equal(t, 1, ht.count())
	assert.Nil(t, ht.get(noFh))
}

func TestNodeTableRename(t *testing.T) {
	var nt nodeTable
	a := nt.acquire("d/a")
	b := nt.acquire("d/sub/b")
	c := nt.acquire("x")
	nt.rename("d", "e", false, true)
	assert.Equal(t, "e/a", a.name)
	assert.Equal(t, "e/sub/b", b.name)
	assert.True(t, nt.isOpen("e/sub/b"))
	assert.False(t, nt.isOpen("d/a"))

	nt.rename("e/a", "x", true, false)
	assert.Equal(t, "x", a.name)
	assert.Equal(t, "e/a", c.name, "exchange swaps the two nodes")

	nt.rename("x", "e/a", false, false)
	assert.Equal(t, "e/a", a.name)
	assert.False(t, nt.isOpen("x"))
	nt.release(c) // replaced by the rename: releasing it must not drop a's entry
	assert.True(t, nt.isOpen("e/a"))
	nt.release(a)
	nt.release(b)
	assert.Empty(t, nt.nodes)
}

func TestUnderAndJoin(t *testing.T) {
	for _, c := range []struct {
		name, base, rel string
		ok              bool
	}{
		{"a", "a", "", true},
		{"a/b", "a", "b", true},
		{"ab", "a", "", false},
		{"a", ".", "a", true},
		{"b/a", "a", "", false},
	} {
		rel, ok := under(c.name, c.base)
		assert.Equal(t, c.ok, ok, "%s under %s", c.name, c.base)
		assert.Equal(t, c.rel, rel)
	}
	assert.Equal(t, "a", join(".", "a"))
	assert.Equal(t, "d", join("d", ""))
	assert.Equal(t, "d/a", join("d", "a"))
	assert.Equal(t, ".", parentOf("a"))
	assert.Equal(t, "a/b", parentOf("a/b/c"))
}

func TestAttrCache(t *testing.T) {
	c := newAttrCache(time.Hour)
	c.put("d/f", Attr{Size: 5}, nil)
	c.put("d", Attr{Mode: TypeDir}, nil)
	c.put("d/missing", Attr{}, syscall.ENOENT)
	a, err, ok := c.get("d/f")
	require.True(t, ok)
	assert.NoError(t, err)
	assert.EqualValues(t, 5, a.Size)
	_, err, ok = c.get("d/missing")
	require.True(t, ok)
	assert.ErrorIs(t, err, syscall.ENOENT, "negative answers are cached too")

	c.invalidate("d/f")
	_, _, ok = c.get("d/f")
	assert.False(t, ok)
	_, _, ok = c.get("d")
	assert.False(t, ok, "the parent's attributes change with a child")

	c.put("d/x/y", Attr{}, nil)
	c.put("dx", Attr{}, nil)
	c.invalidateTree("d")
	_, _, ok = c.get("d/x/y")
	assert.False(t, ok)
	_, _, ok = c.get("dx")
	assert.True(t, ok, "a sibling with a common prefix is not below d")

	off := newAttrCache(0)
	off.put("a", Attr{}, nil)
	_, _, ok = off.get("a")
	assert.False(t, ok, "a zero TTL disables the cache")

	short := newAttrCache(time.Nanosecond)
	short.put("a", Attr{}, nil)
	time.Sleep(time.Millisecond)
	_, _, ok = short.get("a")
	assert.False(t, ok, "entries expire")
}

func TestAttrCacheIsBounded(t *testing.T) {
	c := newAttrCache(time.Hour)
	for i := 0; i < maxAttrEntries+10; i++ {
		c.put(strings.Repeat("x", 1)+string(rune(i)), Attr{}, nil)
	}
	assert.LessOrEqual(t, len(c.entries), maxAttrEntries)
}

func TestInodeTable(t *testing.T) {
	it := newInodeTable()
	assert.EqualValues(t, 1, it.get("."))
	a := it.get("d/a")
	assert.Equal(t, a, it.get("d/a"), "stable")
	b := it.get("d")
	it.rename("d", "e", false, true)
	assert.Equal(t, a, it.get("e/a"), "carried along by a directory rename")
	assert.Equal(t, b, it.get("e"))
	x := it.get("x")
	it.rename("e/a", "x", false, false)
	assert.Equal(t, a, it.get("x"))
	assert.NotEqual(t, x, it.get("x"))
	it.forget("x")
	assert.NotEqual(t, a, it.get("x"), "a forgotten name gets a new number")
}

func TestDropPrivBits(t *testing.T) {
	reg := func(mode, gid uint32) *Attr { return &Attr{Mode: TypeRegular | mode, Gid: gid} }
	stranger := Caller{Uid: 10, Gid: 20}
	member := Caller{Uid: 10, Gid: 30}
	root := Caller{}
	assert.Equal(t, ModeSetuid, dropOnWrite(stranger, reg(0o4755, 30)))
	assert.Equal(t, ModeSetuid|ModeSetgid, dropOnWrite(member, reg(0o6755, 30)), "group-executable")
	assert.Equal(t, ModeSetgid, dropOnWrite(stranger, reg(0o2745, 30)), "a stranger to the group")
	assert.Equal(t, uint32(0), dropOnWrite(member, reg(0o2745, 30)), "setgid without group exec stays for a member")
	assert.Equal(t, uint32(0), dropOnWrite(root, reg(0o6755, 30)), "root holds CAP_FSETID")
	assert.Equal(t, uint32(0), dropOnWrite(stranger, reg(0o755, 30)))
	assert.Equal(t, uint32(0), dropOnWrite(stranger, &Attr{Mode: TypeDir | 0o2775, Gid: 30}), "directories keep setgid")

	assert.Equal(t, ModeSetuid, dropOnChown(root, reg(0o4755, 30)), "chown drops setuid even for root")
	assert.Equal(t, ModeSetuid|ModeSetgid, dropOnChown(root, reg(0o6755, 30)))
	assert.Equal(t, uint32(0), dropOnChown(root, reg(0o2745, 30)))
	assert.Equal(t, ModeSetgid, dropOnChown(stranger, reg(0o2745, 30)))
}

func TestStatusHasGroup(t *testing.T) {
	status := []byte("Name:\tsh\nUid:\t10\t10\t10\t10\nGroups:\t4 24 5555 \nNSpid:\t1\n")
	assert.True(t, statusHasGroup(status, 5555))
	assert.True(t, statusHasGroup(status, 4))
	assert.False(t, statusHasGroup(status, 1), "the pid line is not the groups line")
	assert.False(t, statusHasGroup(status, 55))
	assert.False(t, statusHasGroup([]byte("Name:\tx\nGroups:\t\n"), 0), "no groups")
	assert.False(t, statusHasGroup(nil, 0))
}

func FuzzStatusHasGroup(f *testing.F) {
	f.Add([]byte("Name:\tsh\nGroups:\t4 24 5555 \nNSpid:\t1\n"), uint32(24))
	f.Add([]byte("\nGroups:"), uint32(0))
	f.Fuzz(func(t *testing.T, status []byte, gid uint32) {
		if statusHasGroup(status, gid) && !bytes.Contains(status, []byte(strconv.FormatUint(uint64(gid), 10))) {
			t.Fatalf("found %d, which the text does not contain", gid)
		}
	})
}

func TestModeAllows(t *testing.T) {
	a := &Attr{Mode: TypeRegular | 0o640, Uid: 10, Gid: 20}
	assert.True(t, modeAllows(a, Caller{Uid: 10}, 6))
	assert.False(t, modeAllows(a, Caller{Uid: 10}, 1))
	assert.True(t, modeAllows(a, Caller{Uid: 11, Gid: 20}, 4))
	assert.False(t, modeAllows(a, Caller{Uid: 11, Gid: 20}, 2))
	assert.False(t, modeAllows(a, Caller{Uid: 11, Gid: 21}, 4))
	assert.True(t, modeAllows(a, Caller{Uid: 0}, 6), "root reads and writes anything")
	assert.False(t, modeAllows(a, Caller{Uid: 0}, 1), "root cannot execute what nobody may execute")
	assert.True(t, modeAllows(a, Caller{Uid: 99}, 0), "F_OK")
}

func TestUtimeArg(t *testing.T) {
	ts := []fuse.Timespec{{Sec: 5, Nsec: fuse.UTIME_OMIT}, {Sec: 0, Nsec: fuse.UTIME_NOW}}
	assert.True(t, utimeArg(ts, 0).IsZero(), "UTIME_OMIT leaves the time alone")
	assert.WithinDuration(t, time.Now(), utimeArg(ts, 1), time.Minute)
	assert.Equal(t, time.Unix(7, 9), utimeArg([]fuse.Timespec{{Sec: 7, Nsec: 9}}, 0))
	assert.True(t, utimeArg(nil, 1).IsZero())
}

func TestOptionsDefaults(t *testing.T) {
	r, err := (&Options{}).validate()
	require.NoError(t, err)
	assert.Equal(t, "fusekit", r.FSName)
	assert.Equal(t, time.Second, r.attrTTL)
	opts := strings.Join(r.libfuseOptions(false), ",")
	assert.NotContains(t, opts, "default_permissions", "a private mount needs no kernel checks")
	assert.Contains(t, opts, "auto_unmount")
	assert.NotContains(t, opts, "allow_other")
	r, err = (&Options{AllowOther: true}).validate()
	require.NoError(t, err)
	assert.Contains(t, strings.Join(r.libfuseOptions(false), ","), "default_permissions", "a shared mount is checked by the kernel")
	r, err = (&Options{AttrCacheTTL: -1, AllowOther: true, Permissions: PermissionsFilesystem, NoAutoUnmount: true, ReadOnly: true}).validate()
	require.NoError(t, err)
	assert.Zero(t, r.attrTTL)
	opts = strings.Join(r.libfuseOptions(false), ",")
	assert.NotContains(t, opts, "default_permissions")
	assert.NotContains(t, opts, "auto_unmount")
	assert.Contains(t, opts, "allow_other")
	assert.Contains(t, opts, ",ro")
	var oe *OptionError
	_, err = (&Options{Umask: Uint32(0o1000)}).validate()
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, "Umask", oe.Field)
}

func TestAttrCacheHardLinksInvalidateTogether(t *testing.T) {
	c := newAttrCache(time.Hour)
	c.put("a", Attr{Ino: 7, Nlink: 2, Mode: TypeRegular}, nil)
	c.put("b", Attr{Ino: 7, Nlink: 2, Mode: TypeRegular}, nil)
	c.put("c", Attr{Ino: 8, Nlink: 1, Mode: TypeRegular}, nil)
	c.invalidateData("a")
	_, _, ok := c.get("b")
	assert.False(t, ok, "a write through one hard link changes what the other shows")
	_, _, ok = c.get("c")
	assert.True(t, ok)
}

func TestCapabilityCacheSurvivesWrites(t *testing.T) {
	c := newAttrCache(time.Hour)
	c.put("f", Attr{Mode: TypeRegular}, nil)
	c.putCap("f", nil, syscall.ENODATA)
	c.invalidateData("f")
	_, err, ok := c.getCap("f")
	require.True(t, ok, "writes must not cost a capability lookup each")
	assert.ErrorIs(t, err, syscall.ENODATA)
	c.invalidate("f")
	_, _, ok = c.getCap("f")
	assert.False(t, ok, "xattr and namespace changes drop it")
}

func TestIsHiddenName(t *testing.T) {
	assert.True(t, isHiddenName(".fuse_hidden0000002a00000001"))
	assert.False(t, isHiddenName(".fuse_hidden"))
	assert.False(t, isHiddenName(".fuse_hidden_mine"))
	assert.False(t, isHiddenName(".fuse_hidden0000002A00000001"), "libfuse writes lower-case hex")
	assert.False(t, isHiddenName(".fuse_hidden0000002a000000011"))
}

func TestRaiseProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	want := runtime.NumCPU() + 10

	runtime.GOMAXPROCS(1)
	before, after := raiseProcs(10)
	assert.Equal(t, 1, before)
	assert.Equal(t, want, after)
	assert.Equal(t, want, runtime.GOMAXPROCS(0))

	runtime.GOMAXPROCS(want + 5)
	before, after = raiseProcs(10)
	assert.Equal(t, want+5, after, "never lowered")
	assert.Equal(t, before, after)
	assert.Equal(t, want+5, runtime.GOMAXPROCS(0))

	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	_, after = raiseProcs(10)
	assert.Equal(t, 1, after, "a GOMAXPROCS chosen by the environment is the program's decision")
	assert.Equal(t, 1, runtime.GOMAXPROCS(0))
}

// What each build makes of the build-specific fields (Options' comments).
func TestBuildSpecificOptionsTranslate(t *testing.T) {
	r, err := (&Options{MaxWrite: 1 << 20, MaxThreads: 4}).validate()
	require.NoError(t, err)
	opts := strings.Join(r.libfuseOptions(false), ",")
	if Build == "fuse3" {
		assert.NotContains(t, opts, "max_write", "libfuse3 rejects max_write")
		assert.Contains(t, opts, "max_threads=4")
	} else {
		assert.Contains(t, opts, "max_write=131072", "libfuse2's ceiling")
		assert.NotContains(t, opts, "max_threads", "libfuse2 rejects max_threads")
	}
}
