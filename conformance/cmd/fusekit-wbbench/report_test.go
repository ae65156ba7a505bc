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
		if (r.config.name == cfgLatencyWT || r.config.name == cfgDiskWT) && r.workload.name == "dd-4k" {
			assert.Equal(t, int64(64<<20), r.size, "write-through dd on a latency backend copies the smaller size")
		} else {
			assert.Equal(t, int64(256<<20), r.size, r.id())
		}
	}

	var ids []string
	for _, r := range plan(parseFilter(" latency/write-back , rclone/vfs-writes dd"), 1, 1) {
		ids = append(ids, r.id())
	}
	assert.Equal(t, []string{"latency/write-back cp", "latency/write-back dd-4k",
		"latency/write-back+journal cp", "latency/write-back+journal dd-4k", "rclone/vfs-writes dd-4k"}, ids)
	assert.Empty(t, plan(parseFilter("nothing"), 1, 1))
	assert.Len(t, plan(parseFilter(",,"), 1, 1), len(all), "empty terms select nothing in particular, so everything")
	assert.Contains(t, rowNames(), "sftp/write-back dd-4k")
	assert.Contains(t, rowNames(), "latency-disk/write-through cp")
}

func sampleResults() []result {
	return []result{
		{Config: cfgLatencyWT, Workload: "dd-4k", Bytes: 64 << 20, Elapsed: 20 * time.Second, PeakRSS: 30 << 20, Check: "size"},
		{Config: cfgLatencyWB, Workload: "dd-4k", Bytes: 256 << 20, Elapsed: 2 * time.Second, PeakRSS: 400 << 20, Check: "size"},
		{Config: cfgSFTPWB, Workload: "cp", Bytes: 256 << 20, Elapsed: 4 * time.Second, OnServer: 4 * time.Second, PeakRSS: 100 << 20, Check: "content"},
		{Config: cfgRclone, Workload: "cp", Bytes: 256 << 20, Elapsed: time.Second, OnServer: 8 * time.Second, PeakRSS: 50 << 20, Check: "content"},
		{Config: cfgSFTPWT, Workload: "cp", Bytes: 256 << 20, Elapsed: time.Second, Err: errors.New("cp: boom")},
		// A second repetition: the medians of two are their means, the
		// peak RSS the higher.
		{Config: cfgLatencyWB, Workload: "dd-4k", Rep: 1, Bytes: 256 << 20, Elapsed: 4 * time.Second, PeakRSS: 300 << 20, Check: "size"},
		{Config: cfgSFTPWT, Workload: "cp", Rep: 1, Bytes: 256 << 20, Elapsed: 2 * time.Second, OnServer: 2 * time.Second, Check: "content"},
	}
}

func TestSummarize(t *testing.T) {
	rows := summarize(sampleResults())
	require.Len(t, rows, 5, "one per row, in the order they first appear")
	wb := rows[1]
	assert.Equal(t, cfgLatencyWB+" dd-4k", wb.id())
	assert.Equal(t, 2, wb.Runs)
	assert.Equal(t, 3*time.Second, wb.Elapsed)
	assert.InDelta(t, 67.1, wb.MinMBps, 0.1)
	assert.InDelta(t, 134.2, wb.MaxMBps, 0.1)
	assert.Equal(t, int64(400<<20), wb.PeakRSS)
	assert.True(t, wb.ok())
	wt := rows[4]
	assert.Equal(t, 1, wt.Runs, "the failed repetition is not counted")
	require.Len(t, wt.Errs, 1)
	assert.False(t, wt.ok(), "a row with a failed repetition is not compared")
	assert.EqualError(t, wt.Errs[0], "repetition 1: cp: boom")
}

func TestTableAndSummary(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeTable(&out, summarize(sampleResults())))
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	require.Len(t, lines, 7, out.String())
	assert.Regexp(t, `^config\s+workload\s+size\s+runs\s+seconds\s+MB/s\s+MB/s range\s+on server s\s+on server MB/s\s+peak RSS MiB\s+check`, string(lines[0]))
	assert.Regexp(t, `^latency/write-through\s+dd-4k\s+64M\s+1\s+20\.00\s+3\.4\s+3\.4-3\.4\s+-\s+-\s+30\.0\s+size`, string(lines[1]))
	assert.Regexp(t, `^latency/write-back\s+dd-4k\s+256M\s+2\s+3\.00\s+89\.5\s+67\.1-134\.2\s+-\s+-\s+400\.0\s+size`, string(lines[2]))
	assert.Regexp(t, `^rclone/vfs-writes\s+cp\s+256M\s+1\s+1\.00\s+268\.4\s+268\.4-268\.4\s+8\.00\s+33\.6\s+50\.0\s+content`, string(lines[4]))
	assert.Regexp(t, `^sftp/write-through\s+cp\s.*FAILED`, string(lines[5]))
	assert.Equal(t, "FAILED sftp/write-through cp: repetition 1: cp: boom", string(lines[6]))

	out.Reset()
	writeSummary(&out, summarize(sampleResults()))
	assert.Equal(t,
		"latency backend (memfs), dd-4k: write-back 89.5 MB/s vs write-through 3.4 MB/s: 26.7x (goal: at least 10x)\n"+
			"sftp, cp: fusekit write-back 67.1 MB/s (on the server at close) is at least as fast as rclone 33.6 MB/s until on the server (rclone's close returned after 1.00 s, 268.4 MB/s)\n",
		out.String(), "the failed row and rows without a partner are left out")
}

func TestCSV(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeCSV(&out, sampleResults()))
	recs, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 8)
	assert.Equal(t, csvHeader, recs[0])
	assert.Equal(t, []string{cfgLatencyWT, "dd-4k", "1", "67108864", "20.000", "3.36", "", "", "30.0", "size", ""}, recs[1])
	assert.Equal(t, []string{cfgRclone, "cp", "1", "268435456", "1.000", "268.44", "8.000", "33.55", "50.0", "content", ""}, recs[4])
	assert.Equal(t, "cp: boom", recs[5][10])
	assert.Equal(t, "2", recs[6][2], "every repetition has its own line")
}

func TestMBps(t *testing.T) {
	assert.InDelta(t, 1.0, mbps(1e6, time.Second), 1e-9)
	assert.Zero(t, mbps(1e6, 0), "no division by zero for a row that never ran")
}
