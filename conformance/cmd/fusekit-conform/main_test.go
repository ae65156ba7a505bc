package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var summaryLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed, (\d+) skipped$`)

// lastLine returns the last line of out, which must end in a newline.
func lastLine(t *testing.T, out string) string {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "output ends with a newline: %q", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestNativeDir(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-ops", "400", t.TempDir()}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	m := summaryLine.FindStringSubmatch(lastLine(t, stdout.String()))
	require.NotNil(t, m, "last line of:\n%s", stdout.String())
	assert.Equal(t, "0", m[2])
	assert.NotEqual(t, "0", m[1])
	// Every other line reports a result that did not pass, or continues one.
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		assert.Regexp(t, `^(SKIP|XFAIL|    |\d+ passed)`, line)
	}
	assert.Empty(t, stderr.String())
}

func TestExerciserOnlyVerbose(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-run", "^exerciser/", "-ops", "300", "-seed", "9", "-v", t.TempDir()}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Equal(t, "2 passed, 0 failed, 0 skipped\n", stdout.String())
	assert.Contains(t, stderr.String(), "--- PASS exerciser/file")
	assert.Contains(t, stderr.String(), "seed 9: 300 ops in")
	assert.Contains(t, stderr.String(), "--- PASS exerciser/namespace")
	assert.Contains(t, stderr.String(), "seed 9: 75 ops in")
}

func TestOpsZeroSkipsExerciser(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-run", "^exerciser/", "-ops", "0", t.TempDir()}, &stdout, &stderr)
	require.Equal(t, 0, code)
	assert.Equal(t, "SKIP exerciser/file: -ops 0\nSKIP exerciser/namespace: -ops 0\n0 passed, 0 failed, 2 skipped\n", stdout.String())
}

func TestJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-json", "-run", "^(io/|exerciser/)", "-ops", "200", "-features", "none", t.TempDir()}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	var rep jsonReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "stdout:\n%s", stdout.String())
	assert.Equal(t, "none", rep.Features)
	assert.Equal(t, uint64(1), rep.Seed)
	assert.Equal(t, len(rep.Results), rep.Passed+rep.Failed+rep.Skipped)
	assert.Zero(t, rep.Failed)
	names := map[string]string{}
	for _, r := range rep.Results {
		names[r.Name] = r.Status
		assert.Regexp(t, `^(io|exerciser)/`, r.Name)
	}
	assert.Equal(t, "PASS", names["exerciser/file"])
	assert.Equal(t, "PASS", names["exerciser/namespace"])
}

func TestFailureExitsOne(t *testing.T) {
	// Nothing can be created in /proc, so both exerciser runs fail.
	var stdout, stderr bytes.Buffer
	code := run([]string{"-run", "^exerciser/", "-ops", "10", "/proc"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	out := stdout.String()
	assert.Contains(t, out, "FAIL exerciser/file: making a subdirectory of /proc: ")
	assert.Equal(t, "0 passed, 2 failed, 0 skipped", lastLine(t, out))
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{dir + "/missing"}, "DIR " + dir + "/missing: no such file or directory"},
		{[]string{"/dev/null"}, "DIR /dev/null is not a directory"},
		{nil, "missing DIR"},
		{[]string{dir, dir}, "want one DIR, got 2 arguments"},
		{[]string{"-bogus", dir}, "flag provided but not defined: -bogus"},
		{[]string{"-features", "all,-frob", dir}, `unknown feature "frob"`},
		{[]string{"-run", "(", dir}, `-run "(": error parsing regexp`},
		{[]string{"-ops", "-1", dir}, "-ops -1: want 0 or more"},
		{[]string{"-maxsize", "0", dir}, "-maxsize 0: want 1 or more"},
		{[]string{"-timeout", "0s", dir}, "-timeout 0s: want a positive duration"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		assert.Equal(t, 2, code, "%q", c.args)
		assert.True(t, strings.HasPrefix(stderr.String(), "fusekit-conform: "), "%q: %s", c.args, stderr.String())
		assert.Contains(t, stderr.String(), c.want, "%q", c.args)
		assert.Empty(t, stdout.String(), "%q", c.args)
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "usage: fusekit-conform [flags] DIR")
	assert.Contains(t, stdout.String(), "Examples:")
	assert.Contains(t, stdout.String(), "-features")
	assert.Empty(t, stderr.String())
}

func TestLimitAndOverlayFlags(t *testing.T) {
	o, err := parseArgs([]string{"-limit", "time/utimensat-omit=libfuse2 drops it", "-limit", "rename/*=no flags", t.TempDir()})
	require.NoError(t, err)
	require.Len(t, o.features.Limitations, 2)
	assert.Equal(t, "rename/*", o.features.Limitations[1].Test)
	assert.Nil(t, o.features.Overlay)

	up, lo := t.TempDir(), t.TempDir()
	o, err = parseArgs([]string{"-upper", up, "-lower", lo, t.TempDir()})
	require.NoError(t, err)
	require.NotNil(t, o.features.Overlay)
	assert.Equal(t, up, o.features.Overlay.Upper)
	assert.Equal(t, []string{lo}, o.features.Overlay.Lowers)

	for _, bad := range [][]string{
		{"-limit", "noreason", t.TempDir()},
		{"-upper", up, t.TempDir()},
		{"-upper", up, "-lower", "/no/such/dir", t.TempDir()},
	} {
		_, err := parseArgs(bad)
		assert.Error(t, err, bad)
	}
}
