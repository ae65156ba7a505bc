package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	fkbench "github.com/fusekit/fusekit/conformance/bench"
)

func TestReportTable(t *testing.T) {
	r := &report{
		rows: []rowInfo{
			{Name: "tar-x", Title: "tar x", Unit: fkbench.Seconds},
			{Name: "create", Title: "create", Unit: fkbench.Rate},
		},
		targets: []string{kernelName, fuseOvlName, unionfsName, fusekit2Name},
	}
	add := func(row, target string, rep int, res fkbench.Result) {
		r.raw = append(r.raw, measurement{Row: row, Target: target, Rep: rep, Result: res})
	}
	for rep, s := range []time.Duration{4, 2, 3} {
		add("tar-x", fusekit2Name, rep+1, fkbench.Result{Elapsed: s * time.Second})
		add("tar-x", fuseOvlName, rep+1, fkbench.Result{Elapsed: 6 * time.Second})
		add("create", fusekit2Name, rep+1, fkbench.Result{Ops: 1000, Elapsed: time.Second})
		add("create", unionfsName, rep+1, fkbench.Result{Ops: 4000, Elapsed: time.Second})
	}
	var b bytes.Buffer
	require.NoError(t, r.writeTable(&b))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "| row | unit | kernel-overlayfs | fuse-overlayfs | unionfs-fuse | fusekit-fuse2 | fuse2 vs fuse-overlayfs | fuse2 vs unionfs-fuse |", lines[0])
	// Median 3 s against 6 s: twice as fast; no unionfs-fuse figure.
	assert.Equal(t, "| tar x | s | - | 6.000 | - | 3.000 | 2.00 | - |", lines[2])
	// 1000/s against 4000/s: a quarter of the rate.
	assert.Equal(t, "| create | ops/s | - | - | 4000 | 1000 | - | 0.25 |", lines[3])

	b.Reset()
	require.NoError(t, r.writeCSV(&b))
	assert.Equal(t, 13, strings.Count(b.String(), "\n"))
	assert.Contains(t, b.String(), "tar-x,fusekit-fuse2,1,s,4,0,0,4.000000\n")
}

func TestParseList(t *testing.T) {
	got, err := parseList(" b, a ,b,", "row", []string{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "a"}, got)
	_, err = parseList("a,c", "row", []string{"a", "b"})
	assert.EqualError(t, err, `unknown row "c" (known: a, b)`)
	_, err = parseList(",", "row", []string{"a"})
	assert.Error(t, err)
}
