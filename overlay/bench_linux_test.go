//go:build linux

package overlay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// upperUsage is the space the upper takes on disk.
func upperUsage(b *testing.B, dir string) int64 {
	var total int64
	require.NoError(b, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		total += st.Blocks * 512
		return nil
	}))
	return total
}

// benchOverlay builds a fresh upper over lower for one iteration, with the
// timer stopped.
func benchOverlay(b *testing.B, lower sdk.FileSystem, metacopy bool) (*FS, string) {
	b.StopTimer()
	defer b.StartTimer()
	upperDir, err := os.MkdirTemp(b.TempDir(), "upper")
	require.NoError(b, err)
	o, err := New(Config{Upper: pt(b, upperDir), Lowers: []sdk.FileSystem{lower}, DisableMetacopy: !metacopy})
	require.NoError(b, err)
	require.Equal(b, metacopy, o.Metacopy())
	return o, upperDir
}

// BenchmarkChmodLargeFiles is chmod of 100 lower files of 10 MiB each, with
// and without metacopy.
func BenchmarkChmodLargeFiles(b *testing.B) {
	lowerDir := b.TempDir()
	data := bytes.Repeat([]byte("fusekit!"), 10<<20/8)
	for i := range 100 {
		require.NoError(b, os.WriteFile(filepath.Join(lowerDir, fmt.Sprintf("f%03d", i)), data, 0o644))
	}
	lower := pt(b, lowerDir)
	for _, metacopy := range []bool{true, false} {
		b.Run(fmt.Sprintf("metacopy=%v", metacopy), func(b *testing.B) {
			var usage int64
			for b.Loop() {
				o, upperDir := benchOverlay(b, lower, metacopy)
				for i := range 100 {
					if err := o.Chmod(bg, fmt.Sprintf("f%03d", i), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				usage = upperUsage(b, upperDir)
				os.RemoveAll(upperDir)
				b.StartTimer()
			}
			b.ReportMetric(float64(usage), "upper-bytes/op")
		})
	}
}

// BenchmarkRenameLowerTree renames a directory of 100 subdirectories of 50
// files (4 KiB each) that lives in the lower: the whole tree is copied up
// (as metacopy stubs, or with data) and renamed.
func BenchmarkRenameLowerTree(b *testing.B) {
	lowerDir := b.TempDir()
	data := bytes.Repeat([]byte("x"), 4096)
	for d := range 100 {
		dir := filepath.Join(lowerDir, "tree", fmt.Sprintf("d%03d", d))
		require.NoError(b, os.MkdirAll(dir, 0o755))
		for f := range 50 {
			require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), data, 0o644))
		}
	}
	lower := pt(b, lowerDir)
	for _, metacopy := range []bool{true, false} {
		b.Run(fmt.Sprintf("metacopy=%v", metacopy), func(b *testing.B) {
			for b.Loop() {
				o, upperDir := benchOverlay(b, lower, metacopy)
				if err := o.Rename(bg, "tree", "moved", 0); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(upperDir)
				b.StartTimer()
			}
			b.ReportMetric(5100, "objects/op")
		})
	}
}
