package bench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTailKeepsTheEnd(t *testing.T) {
	var z Tail
	assert.Equal(t, "(no output)", z.String())
	z.Write([]byte(strings.Repeat("a", 5000)))
	z.Write([]byte("end\n"))
	assert.Len(t, z.String(), 4<<10-1, "4 KiB kept, the newline trimmed")
	assert.True(t, strings.HasSuffix(z.String(), "aend"))

	small := Tail{Max: 8}
	small.Write([]byte("0123456789"))
	small.Write([]byte("ab"))
	assert.Equal(t, "456789ab", small.String())
	small.Write([]byte("  \n"))
	assert.Equal(t, "789ab", small.String(), "trailing space counts toward Max, then is trimmed")
}
