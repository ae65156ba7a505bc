package bench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMountinfo(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
90 22 0:50 / /tmp/a\040b rw,nosuid,nodev,relatime shared:60 - fuse.passthrough /src rw,user_id=0,group_id=0
91 22 0:51 / /tmp/back\134slash rw master:2 - fuse fusekit rw
92 22 0:52 / /tmp/odd\0x rw - fuseblk /dev/sdb rw
`
	got, err := parseMountinfo(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []mountEntry{
		{"/", "ext4"}, {"/tmp/a b", "fuse.passthrough"}, {`/tmp/back\slash`, "fuse"}, {`/tmp/odd\0x`, "fuseblk"},
	}, got)

	_, err = parseMountinfo(strings.NewReader("22 1 254:0 / / rw\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1 is malformed")
}

func TestIsFUSEType(t *testing.T) {
	for fstype, want := range map[string]bool{
		"fuse": true, "fuseblk": true, "fuse.passthrough": true, "fusectl": false, "ext4": false, "overlay": false,
	} {
		assert.Equal(t, want, isFUSEType(fstype), fstype)
	}
}
