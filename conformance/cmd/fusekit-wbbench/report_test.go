package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterAndPlan(t *testing.T) {
	all := plan(nil, 256<<20, 64<<20)
	require.Len(t, all, len(configs)*len(workloads))
	for _, r := range all {
		if r.config.name == cfgLatencyWT {
			assert.Equal(t, int64(64<<20), r.size, "write-through on the latency backend copies the smaller size")
		} else {
			assert.Equal(t, int64(256<<20), r.size, r.id())
		}
	}

	var ids []string
	for _, r := range plan(parseFilter(" latency/write-back , rclone/vfs-writes dd"), 1, 1) {
		ids = append(ids, r.id())
	}
	assert.Equal(t, []string{"latency/write-back cp", "latency/write-back dd-4k", "rclone/vfs-writes dd-4k"}, ids)
	assert.Empty(t, plan(parseFilter("nothing"), 1, 1))
	assert.Len(t, plan(parseFilter(",,"), 1, 1), len(all), "empty terms select nothing in particular, so everything")
	assert.Contains(t, rowNames(), "sftp/write-back dd-4k")
}

func sampleResults() []result {
	return []result{
		{Config: cfgLatencyWT, Workload: "dd-4k", Bytes: 64 << 20, Elapsed: 20 * time.Second, PeakRSS: 30 << 20, Check: "size"},
		{Config: cfgLatencyWB, Workload: "dd-4k", Bytes: 256 << 20, Elapsed: 2 * time.Second, PeakRSS: 400 << 20, Check: "size"},
		{Config: cfgSFTPWB, Workload: "cp", Bytes: 256 << 20, Elapsed: 4 * time.Second, OnServer: 4 * time.Second, PeakRSS: 100 << 20, Check: "content"},
		{Config: cfgRclone, Workload: "cp", Bytes: 256 << 20, Elapsed: time.Second, OnServer: 8 * time.Second, PeakRSS: 50 << 20, Check: "content"},
		{Config: cfgSFTPWT, Workload: "cp", Bytes: 256 << 20, Elapsed: time.Second, Err: errors.New("cp: boom")},
	}
}

func TestTableAndSummary(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeTable(&out, sampleResults()))
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	require.Len(t, lines, 7, out.String())
	assert.Regexp(t, `^config\s+workload\s+size\s+seconds\s+MB/s\s+on server s\s+on server MB/s\s+peak RSS MiB\s+check`, string(lines[0]))
	assert.Regexp(t, `^latency/write-through\s+dd-4k\s+64M\s+20\.00\s+3\.4\s+-\s+-\s+30\.0\s+size`, string(lines[1]))
	assert.Regexp(t, `^rclone/vfs-writes\s+cp\s+256M\s+1\.00\s+268\.4\s+8\.00\s+33\.6\s+50\.0\s+content`, string(lines[4]))
	assert.Regexp(t, `^sftp/write-through\s+cp\s.*FAILED`, string(lines[5]))
	assert.Equal(t, "FAILED sftp/write-through cp: cp: boom", string(lines[6]))

	out.Reset()
	writeSummary(&out, sampleResults())
	assert.Equal(t,
		"latency backend, dd-4k: write-back 134.2 MB/s vs write-through 3.4 MB/s: 40.0x (goal: at least 10x)\n"+
			"sftp, cp: fusekit write-back 67.1 MB/s (on the server at close) is at least as fast as rclone 33.6 MB/s until on the server (rclone's close returned after 1.00 s, 268.4 MB/s)\n",
		out.String(), "the failed row and rows without a partner are left out")
}

func TestCSV(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeCSV(&out, sampleResults()))
	recs, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 6)
	assert.Equal(t, csvHeader, recs[0])
	assert.Equal(t, []string{cfgLatencyWT, "dd-4k", "67108864", "20.000", "3.36", "", "", "30.0", "size", ""}, recs[1])
	assert.Equal(t, []string{cfgRclone, "cp", "268435456", "1.000", "268.44", "8.000", "33.55", "50.0", "content", ""}, recs[4])
	assert.Equal(t, "cp: boom", recs[5][9])
}

func TestMBps(t *testing.T) {
	assert.InDelta(t, 1.0, mbps(1e6, time.Second), 1e-9)
	assert.Zero(t, mbps(1e6, 0), "no division by zero for a row that never ran")
}
