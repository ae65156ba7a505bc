//go:build linux

package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runTool(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	code, _, stderr := runTool("-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "Example:\n  fusekit-bench -size 256M")
	assert.Contains(t, stderr, "cmd:./bin/passthrough-fuse2 {src} {mnt}")
	assert.Contains(t, stderr, "  stat     ops/s  cold lstat")
	assert.Contains(t, stderr, "-workloads")
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no targets"},
		{[]string{"native"}, `target "native": no '='`},
		{[]string{"n=/tmp", "sdk=cmd:./p {src}"}, `target "sdk": command has no {mnt} placeholder`},
		{[]string{"-size", "12Q", "n=/tmp"}, `-size: size "12Q"`},
		{[]string{"-workloads", "w1m,nope", "n=/tmp"}, `-workloads: unknown workload "nope"`},
		{[]string{"-csv", "/nonexistent/dir/out.csv", "n=/tmp"}, "-csv: open /nonexistent/dir/out.csv"},
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
	} {
		code, stdout, stderr := runTool(tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, tc.want, "%q", tc.args)
	}
}

func TestSmallRun(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	csvPath := filepath.Join(t.TempDir(), "out.csv")
	code, stdout, stderr := runTool("-warm", "-q", "-size", "16K", "-files", "5", "-rand-ops", "5", "-reps", "3",
		"-workloads", "w4k,create,stat", "-csv", csvPath, "ref="+a, "other@mylabel="+b)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr, "-q silences progress")
	assert.Contains(t, stdout, "size 16K, 5 files, 5 random ops, 3 reps interleaved, warm")
	assert.Contains(t, stdout, "  other  dir  mylabel  "+b)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	assert.Regexp(t, `^workload\s+unit\s+ref\s+other$`, lines[len(lines)-4])
	assert.Regexp(t, `^stat\s+ops/s\s+\d+\s+\d+ \(\d+\.\d\d\)$`, lines[len(lines)-1])

	f, err := os.Open(csvPath)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	assert.Len(t, recs, 1+3*3*2+3*2, "header, raw rows, median rows")
}
