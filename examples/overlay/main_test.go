package main

import (
	"bytes"
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
