package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFuseOverlayfsStyle(t *testing.T) {
	c, err := parseArgs([]string{"-o", "lowerdir=/l1:/l2,upperdir=/u,workdir=/w", "-o", "allow_other", "/mnt"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"/l1", "/l2"}, c.lowers)
	assert.Equal(t, "/u", c.upper)
	assert.Equal(t, "/w", c.work)
	assert.Equal(t, "/mnt", c.mountpoint)
	assert.True(t, c.allowOther)
	assert.False(t, c.readOnly)
	assert.False(t, c.volatile)

	// Options after the mountpoint, as mount(8) passes them.
	c, err = parseArgs([]string{"/mnt", "-o", "ro,lowerdir=/l"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/mnt", c.mountpoint)
	assert.True(t, c.readOnly)
	assert.Equal(t, []string{"/l"}, c.lowers)

	c, err = parseArgs([]string{"-o", "lowerdir=/l,upperdir=/u,volatile", "/mnt"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.volatile)
}

func TestParseGoStyle(t *testing.T) {
	c, err := parseArgs([]string{"-lower", "a:b", "-upper", "u", "-ro", "-allow-other", "-debug", "-whiteouts", "oci", "m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, c.lowers)
	assert.Equal(t, "u", c.upper)
	assert.True(t, c.readOnly)
	assert.True(t, c.allowOther)
	assert.True(t, c.debug)
	assert.Equal(t, "oci", c.whiteouts)
	assert.False(t, c.volatile)

	c, err = parseArgs([]string{"-lower", "a", "-upper", "u", "-volatile", "m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.volatile)
}

func TestParseErrorsNameTheProblem(t *testing.T) {
	for args, want := range map[string][]string{
		"missing MOUNTPOINT":              {"-o", "lowerdir=/l"},
		"no lower directory":              {"/mnt"},
		`unknown option "bogus"`:          {"-o", "lowerdir=/l,bogus", "/mnt"},
		`option "lowerdir" needs a value`: {"-o", "lowerdir", "/mnt"},
		"empty element":                   {"-lower", "a::b", "/mnt"},
		"one MOUNTPOINT expected":         {"-lower", "a", "/m1", "/m2"},
		`-whiteouts "fancy"`:              {"-lower", "a", "-whiteouts", "fancy", "/m"},
		"flag provided but not defined":   {"-nope", "/m"},
	} {
		_, err := parseArgs(want, &bytes.Buffer{})
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), args)
	}
	var stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"/mnt"}, &bytes.Buffer{}, &stderr, nil))
	assert.Contains(t, stderr.String(), "no lower directory")
}

func TestSplitOptions(t *testing.T) {
	for in, want := range map[string][]string{
		"a,b":                           {"a", "b"},
		"lowerdir=l,,volatile":          {"lowerdir=l", "", "volatile"},
		"":                              {""},
		`context="s0:c1,c2",ro`:         {`context="s0:c1,c2"`, "ro"},
		`a,context="x,y,z",,b`:          {"a", `context="x,y,z"`, "", "b"},
		`unterminated="x,y`:             {`unterminated="x,y`},
		",":                             {"", ""},
		"lowerdir=l/A:l/B,upperdir=u,,": {"lowerdir=l/A:l/B", "upperdir=u", "", ""},
	} {
		assert.Equal(t, want, splitOptions(in), in)
	}
}

// TestOptionsPodmanPasses parses what containers/storage passes to a
// mount_program, and every fuse-overlayfs option.
func TestOptionsPodmanPasses(t *testing.T) {
	c, err := parseArgs([]string{"-o", `lowerdir=l/A:l/B,upperdir=/u,workdir=/w,,volatile,context="system_u:object_r:container_file_t:s0:c1,c2"`, "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"l/A", "l/B"}, c.lowers)
	assert.True(t, c.volatile)
	assert.False(t, c.foreground, "daemon mode is the default")
	assert.Equal(t, []ignoredOption{{`context="system_u:object_r:container_file_t:s0:c1,c2"`, ignoredOptions["context"]}}, c.ignored)

	c, err = parseArgs([]string{"-f", "-olowerdir=/l,upperdir=/u,fsync=0,default_permissions,squash_to_root,squash_to_gid=5,metacopy=off,nodev,noexec,clear_stale,log=/tmp/x,fsname=f,noacl,static_nlink,threaded=1,xattr_permissions=2,plugins=/p.so,redirect_dir=on,index=off,xino=auto,x-systemd.automount", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.foreground)
	assert.True(t, c.volatile, "fsync=0")
	assert.True(t, c.kernelPerms)
	assert.Equal(t, uint32(0), *c.squashUID)
	assert.Equal(t, uint32(5), *c.squashGID, "squash_to_gid wins over squash_to_root")
	assert.True(t, c.noMetacopy)
	assert.Equal(t, []string{"nodev", "noexec"}, c.mountFlags)
	assert.True(t, c.clearStale)
	assert.Equal(t, "/tmp/x", c.logFile)
	assert.Equal(t, "f", c.fsname)
	var ignored []string
	for _, ig := range c.ignored {
		ignored = append(ignored, ig.option)
		assert.NotEmpty(t, ig.why, ig.option)
	}
	assert.Equal(t, []string{"noacl", "static_nlink", "threaded=1", "xattr_permissions=2", "plugins=/p.so", "redirect_dir=on", "index=off", "xino=auto", "x-systemd.automount"}, ignored)

	c, err = parseArgs([]string{"-d", "-o", "lowerdir=/l", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.debug && c.foreground, "-d is debug and foreground")
	c, err = parseArgs([]string{"-o", "lowerdir=/l,debug", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.debug && c.foreground, "-o debug implies the foreground, as with libfuse")
	c, err = parseArgs([]string{"-debug", "-o", "lowerdir=/l", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.debug && !c.foreground, "-debug alone logs from the daemon")

	for o, want := range map[string]string{
		"ro=1":                      "takes no value",
		"upperdir=":                 "needs a value",
		"=x":                        "has no name",
		"fsync=2":                   "fsync=0|1",
		"threaded=yes":              "threaded=0|1",
		"xattr_permissions=3":       "xattr_permissions=0|1|2",
		"squash_to_uid=-1":          "a number",
		"metacopy=maybe":            "metacopy=on|off",
		"context":                   "needs a value",
		"uidmapping=0:1:0":          "empty",
		"gidmapping=a:b:c":          "not an id",
		"uidmapping=4294967295:0:2": "runs past",
		"attr_timeout":              "attr_timeout=SECONDS",
		"attr_timeout=-1":           "attr_timeout=SECONDS",
		"attr_timeout=soon":         "attr_timeout=SECONDS",
		"attr_timeout=NaN":          "attr_timeout=SECONDS",
	} {
		_, err := parseArgs([]string{"-o", "lowerdir=/l," + o, "/m"}, &bytes.Buffer{})
		if assert.Error(t, err, o) {
			assert.Contains(t, err.Error(), want, o)
		}
	}
}

func TestParseIDMapping(t *testing.T) {
	m, err := parseIDMapping("0:1000:1:1:100000:65536")
	require.NoError(t, err)
	assert.Equal(t, idMap{{0, 1000, 1}, {1, 100000, 65536}}, m)
	assert.Equal(t, uint32(1000), m.toHost(0))
	assert.Equal(t, uint32(100004), m.toHost(5))
	assert.Equal(t, uint32(165535), m.toHost(65536))
	assert.Equal(t, uint32(overflowID), m.toHost(65537), "unmapped")
	for host, stored := range map[uint32]uint32{1000: 0, 100000: 1, 165535: 65536} {
		got, ok := m.toStored(host)
		assert.True(t, ok, host)
		assert.Equal(t, stored, got, host)
	}
	for _, host := range []uint32{0, 999, 1001, 99999, 165536} {
		_, ok := m.toStored(host)
		assert.False(t, ok, host)
	}
	var none idMap
	assert.Equal(t, uint32(42), none.toHost(42), "no mapping is the identity")
	id, ok := none.toStored(42)
	assert.True(t, ok)
	assert.Equal(t, uint32(42), id)

	c, err := parseArgs([]string{"-o", "lowerdir=/l,uidmapping=0:1000:1,gidmapping=0:2000:2", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, idMap{{0, 1000, 1}}, c.uids)
	assert.Equal(t, idMap{{0, 2000, 2}}, c.gids)
	for _, bad := range []string{"", "0:1", "0:1:2:3", "x:1:1", "0:1:0", "0:4294967295:2"} {
		_, err := parseIDMapping(bad)
		assert.Error(t, err, bad)
	}
}

// FuzzParseArgs: no command line panics, and a parsed one names a
// mountpoint and at least one lower directory.
func FuzzParseArgs(f *testing.F) {
	f.Add(`lowerdir=l/A:l/B,upperdir=u,workdir=w,,volatile,context="a,b"`, "/m")
	f.Add("lowerdir=a::b,uidmapping=0:1:1", "")
	f.Add(`=,"",squash_to_uid=1,x-y`, "-d")
	f.Fuzz(func(t *testing.T, opts, arg string) {
		c, err := parseArgs([]string{"-o", opts, arg}, io.Discard)
		if err == nil && (c.mountpoint == "" || len(c.lowers) == 0) {
			t.Fatalf("accepted without a mountpoint or lower: %+v", c)
		}
		if got := strings.Join(splitOptions(opts), ","); got != opts {
			t.Fatalf("splitOptions lost text: %q -> %q", opts, got)
		}
	})
}
