package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"4096": 4096, "4096B": 4096, "64k": 64 << 10, "256M": 256 << 20, "256MiB": 256 << 20,
		"256MB": 256 << 20, "1G": 1 << 30, "2gib": 2 << 30, "1T": 1 << 40, " 8M ": 8 << 20,
	} {
		got, err := ParseSize(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "0", "-1M", "M", "1.5G", "1X", "1i", "1KiBB", "9999999999T"} {
		_, err := ParseSize(in)
		assert.Error(t, err, in)
	}
}
