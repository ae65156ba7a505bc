package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttrTimeout: the kernel's attribute cache is off unless asked for,
// in libfuse's seconds or as a Go duration.
func TestAttrTimeout(t *testing.T) {
	c, err := parseArgs([]string{"-o", "lowerdir=/l", "/m"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), c.attrTimeout)
	assert.Equal(t, time.Duration(-1), c.options(false, nil).AttrTimeout, "off by default")
	assert.Equal(t, time.Duration(0), c.options(false, nil).EntryTimeout, "names stay cached (the SDK's default)")
	for args, want := range map[string]time.Duration{
		"-o lowerdir=/l,attr_timeout=1.5": 1500 * time.Millisecond,
		"-o lowerdir=/l,attr_timeout=2":   2 * time.Second,
		"-o lowerdir=/l,attr_timeout=0":   0,
		"-attr-timeout 250ms -lower /l":   250 * time.Millisecond,
		"-attr-timeout 3 -lower /l":       3 * time.Second,
	} {
		c, err := parseArgs(append(strings.Fields(args), "/m"), &bytes.Buffer{})
		require.NoError(t, err, args)
		assert.Equal(t, want, c.attrTimeout, args)
		if want > 0 {
			assert.Equal(t, want, c.options(false, nil).AttrTimeout, args)
		} else {
			assert.Equal(t, time.Duration(-1), c.options(false, nil).AttrTimeout, args)
		}
	}
	_, err = parseArgs([]string{"-attr-timeout", "-2s", "-lower", "/l", "/m"}, &bytes.Buffer{})
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "negative")
	}
}
