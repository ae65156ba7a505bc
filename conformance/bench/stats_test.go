package bench

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "4K": 4096, "4k": 4096, "4KiB": 4096, "4KB": 4096,
		"256M": 256 << 20, "256MiB": 256 << 20, " 1G ": 1 << 30, "1.5G": 3 << 29, "2T": 2 << 40,
		"0.5K": 512,
	} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, reason := range map[string]string{
		"": "no number", "M": "no number", "KiB": "no number", "-1": "want a number", "-1M": "want a number",
		"1.5": "want a number", "12X": "want a number", "0.3K": "not a whole number", "9999999T": "too large",
		"NaNM": "want a number", "InfG": "want a number",
	} {
		_, err := ParseSize(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), reason, in)
		assert.Contains(t, err.Error(), fmt.Sprintf("size %q", in))
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1000: "1000", 4096: "4K", 256 << 20: "256M", 3 << 29: "1536M", 1 << 30: "1G", 5 << 40: "5T"} {
		assert.Equal(t, want, FormatSize(n))
		back, err := ParseSize(FormatSize(n))
		require.NoError(t, err)
		assert.Equal(t, n, back)
	}
}

func TestMedian(t *testing.T) {
	assert.True(t, math.IsNaN(Median(nil)))
	assert.Equal(t, 3.0, Median([]float64{3}))
	assert.Equal(t, 2.5, Median([]float64{4, 1}))
	assert.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	xs := []float64{3, 1, 2}
	Median(xs)
	assert.Equal(t, []float64{3, 1, 2}, xs, "Median must not reorder its argument")
}

func TestRatioOrientation(t *testing.T) {
	// A target twice as fast as the reference is 2 on every kind of row.
	assert.Equal(t, 2.0, Ratio(Throughput, 200, 100))
	assert.Equal(t, 2.0, Ratio(Rate, 2000, 1000))
	assert.Equal(t, 2.0, Ratio(Seconds, 0.5, 1))
	assert.Equal(t, 0.25, Ratio(Seconds, 4, 1))
	for _, bad := range [][2]float64{{0, 1}, {1, 0}, {math.NaN(), 1}, {1, math.NaN()}, {math.Inf(1), 1}} {
		assert.True(t, math.IsNaN(Ratio(Throughput, bad[0], bad[1])), "%v", bad)
	}
}

func TestResultValue(t *testing.T) {
	r := Result{Bytes: 512 << 20, Ops: 1000, Elapsed: 2 * time.Second}
	assert.Equal(t, 256.0, r.Value(Throughput))
	assert.Equal(t, 500.0, r.Value(Rate))
	assert.Equal(t, 2.0, r.Value(Seconds))
	assert.True(t, math.IsInf(Result{Ops: 1}.Value(Rate), 1), "an unmeasurably fast run is +Inf, not a panic")
	assert.Equal(t, "MiB/s", Throughput.String())
	assert.Equal(t, "ops/s", Rate.String())
	assert.Equal(t, "s", Seconds.String())
}

func ExampleRatio() {
	// 100 MiB/s against a native 400 MiB/s, and 3 s against a native 1 s:
	// both targets are a quarter as fast as native.
	fmt.Println(Ratio(Throughput, 100, 400), Ratio(Seconds, 3, 1) < 0.34)
	// Output: 0.25 true
}

func ExampleParseSize() {
	n, _ := ParseSize("256M")
	fmt.Println(n, FormatSize(n))
	// Output: 268435456 256M
}
