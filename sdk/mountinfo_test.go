//go:build linux

package sdk

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleMountinfo = `22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 0:40 / /tmp/with\040space rw,nosuid,nodev,relatime shared:2 master:1 - fuse.fusekit memfs\134x rw,user_id=0,group_id=0
37 22 0:41 / /mnt/plain rw - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	ms, err := parseMountinfo(strings.NewReader(sampleMountinfo))
	require.NoError(t, err)
	require.Len(t, ms, 3)
	assert.Equal(t, mountEntry{MountPoint: "/", FSType: "ext4", Source: "/dev/vda"}, ms[0])
	assert.Equal(t, "/tmp/with space", ms[1].MountPoint, "octal escapes are decoded")
	assert.Equal(t, "fuse.fusekit", ms[1].FSType, "optional fields are skipped")
	assert.Equal(t, `memfs\x`, ms[1].Source)
	assert.Equal(t, "tmpfs", ms[2].FSType, "no optional fields at all")

	_, err = parseMountinfo(strings.NewReader("garbage line\n"))
	assert.Error(t, err)
	_, err = parseMountinfo(strings.NewReader("1 2 - x\n"))
	assert.Error(t, err)
}

func TestUnescapeMountinfo(t *testing.T) {
	assert.Equal(t, "a b", unescapeMountinfo(`a\040b`))
	assert.Equal(t, "tab\there", unescapeMountinfo(`tab\011here`))
	assert.Equal(t, `trail\04`, unescapeMountinfo(`trail\04`), "an incomplete escape stays")
	assert.Equal(t, `no\999`, unescapeMountinfo(`no\999`), "not octal")
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(sampleMountinfo)
	f.Add("1 2 3:4 / /x\\0 rw - fuse src opts\n")
	f.Add(" - \n")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range ms {
			// Decoding never makes a field longer than its escaped form.
			if !strings.Contains(s, m.FSType) {
				t.Fatalf("fstype %q not in input", m.FSType)
			}
		}
	})
}
