package bench

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleReport has two repetitions of two workloads on two targets, and a
// third target that never ran (a run that stopped early).
func sampleReport() *Report {
	mib := func(n int64, ms int) Result {
		return Result{Bytes: n << 20, Ops: n, Elapsed: time.Duration(ms) * time.Millisecond}
	}
	secs := func(ms int) Result { return Result{Ops: 12803, Elapsed: time.Duration(ms) * time.Millisecond} }
	return &Report{
		Settings: "settings line",
		Targets: []TargetInfo{
			{Name: "native", Kind: "dir", Definition: "/n"},
			{Name: "sdk-fuse3", Kind: "cmd", Definition: "./bin/p {src} {mnt}", Label: "libfuse3", Detected: "libfuse3"},
			{Name: "peer", Kind: "cmd", Definition: "peer {mnt}", Label: "libfuse3", Detected: "libfuse2"},
		},
		Workloads: []WorkloadInfo{{"w1m", Throughput}, {"tar-x", Seconds}},
		Raw: []Measurement{
			{"native", "w1m", 1, mib(100, 100)},     // 1000 MiB/s
			{"sdk-fuse3", "w1m", 1, mib(100, 400)},  // 250
			{"native", "tar-x", 1, secs(1500)},      // 1.5 s
			{"sdk-fuse3", "tar-x", 1, secs(6000)},   // 6 s
			{"native", "w1m", 2, mib(100, 125)},     // 800
			{"sdk-fuse3", "w1m", 2, mib(100, 1000)}, // 100
			{"native", "tar-x", 2, secs(1700)},
			{"sdk-fuse3", "tar-x", 2, secs(10000)},
		},
	}
}

func TestSummaries(t *testing.T) {
	got := sampleReport().Summaries()
	require.Len(t, got, 6)
	byKey := map[string]Summary{}
	for _, s := range got {
		byKey[s.Workload+"/"+s.Target] = s
	}
	assert.Equal(t, 2, byKey["w1m/native"].N)
	assert.InDelta(t, 900, byKey["w1m/native"].Median, 1e-9)
	assert.InDelta(t, 175, byKey["w1m/sdk-fuse3"].Median, 1e-9)
	assert.InDelta(t, 175.0/900, byKey["w1m/sdk-fuse3"].Ratio, 1e-12)
	assert.Equal(t, 1.0, byKey["w1m/native"].Ratio)
	assert.InDelta(t, 1.6, byKey["tar-x/native"].Median, 1e-9)
	assert.InDelta(t, 8, byKey["tar-x/sdk-fuse3"].Median, 1e-9)
	assert.InDelta(t, 0.2, byKey["tar-x/sdk-fuse3"].Ratio, 1e-12, "time rows: native time / target time")
	assert.Equal(t, 0, byKey["tar-x/peer"].N)
	assert.True(t, math.IsNaN(byKey["tar-x/peer"].Median))
	assert.True(t, math.IsNaN(byKey["tar-x/peer"].Ratio))
	// Order: workload, then target, as listed.
	assert.Equal(t, []string{"w1m", "w1m", "w1m", "tar-x", "tar-x", "tar-x"},
		[]string{got[0].Workload, got[1].Workload, got[2].Workload, got[3].Workload, got[4].Workload, got[5].Workload})
	assert.Equal(t, "peer", got[2].Target)
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	require.NoError(t, sampleReport().WriteTable(&b))
	want := `settings line
medians; (ratio) = against native, above 1 is faster than native
  native     dir  -                             /n
  sdk-fuse3  cmd  libfuse3                      ./bin/p {src} {mnt}
  peer       cmd  libfuse3 (detected libfuse2)  peer {mnt}

workload  unit   native     sdk-fuse3   peer
w1m       MiB/s   900.0  175.0 (0.19)  - (-)
tar-x     s       1.600  8.000 (0.20)  - (-)
`
	assert.Equal(t, want, b.String())
}

func TestWriteCSV(t *testing.T) {
	var b strings.Builder
	require.NoError(t, sampleReport().WriteCSV(&b))
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+8+6)
	assert.Equal(t, CSVHeader, recs[0])
	col := map[string]int{}
	for i, h := range CSVHeader {
		col[h] = i
	}
	raw := recs[2] // sdk-fuse3 w1m rep 1
	assert.Equal(t, []string{"raw", "sdk-fuse3", "libfuse3", "w1m", "MiB/s", "1", "1", "250", "", "104857600", "100", "0.4"}, raw)
	med := recs[1+8+1] // sdk-fuse3 w1m median
	assert.Equal(t, "median", med[col["row"]])
	assert.Equal(t, "175", med[col["value"]])
	assert.Equal(t, "2", med[col["n"]])
	assert.Equal(t, fmt.Sprint(175.0/900), med[col["ratio"]])
	peer := recs[len(recs)-1]
	assert.Equal(t, []string{"median", "peer", "libfuse3 (detected libfuse2)", "tar-x", "s", "", "0", "", "", "", "", ""}, peer)
}

func TestTargetInfoBuild(t *testing.T) {
	assert.Equal(t, "", TargetInfo{}.Build())
	assert.Equal(t, "libfuse2", TargetInfo{Detected: "libfuse2"}.Build())
	assert.Equal(t, "mine", TargetInfo{Label: "mine"}.Build())
	assert.Equal(t, "libfuse3", TargetInfo{Label: "libfuse3", Detected: "libfuse3"}.Build())
	assert.Equal(t, "libfuse3 (detected libfuse2)", TargetInfo{Label: "libfuse3", Detected: "libfuse2"}.Build())
}

func ExampleReport_WriteTable() {
	r := &Report{
		Targets:   []TargetInfo{{Name: "native", Kind: "dir", Definition: "/srv/native"}, {Name: "fuse", Kind: "cmd", Definition: "fs {src} {mnt}", Detected: "libfuse3"}},
		Workloads: []WorkloadInfo{{"create", Rate}},
		Raw: []Measurement{
			{Target: "native", Workload: "create", Rep: 1, Result: Result{Ops: 10000, Elapsed: 2 * time.Second}},
			{Target: "fuse", Workload: "create", Rep: 1, Result: Result{Ops: 10000, Elapsed: 8 * time.Second}},
		},
	}
	_ = r.WriteTable(os.Stdout)
	// Output:
	// medians; (ratio) = against native, above 1 is faster than native
	//   native  dir  -         /srv/native
	//   fuse    cmd  libfuse3  fs {src} {mnt}
	//
	// workload  unit   native         fuse
	// create    ops/s    5000  1250 (0.25)
}
