package conformance

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

func concurrencyTests() []Test {
	return []Test{
		{Name: "concurrency/distinct-files", Run: testParallelDistinct},
		{Name: "concurrency/same-file", Run: testParallelSameFile},
		{Name: "concurrency/create-unlink", Run: testParallelCreateUnlink},
	}
}

const workers = 8

// testParallelDistinct has each worker write its own file.
func testParallelDistinct(t T, dir string) {
	const size, chunk = 256 << 10, 8 << 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			path := join(dir, fmt.Sprintf("w%d", w))
			data := pattern(size, byte(w))
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				t.Errorf("worker %d: create: %v", w, err)
				return
			}
			defer f.Close()
			for off := 0; off < size; off += chunk {
				if n, err := unix.Pwrite(fdOf(f), data[off:off+chunk], int64(off)); err != nil || n != chunk {
					t.Errorf("worker %d: pwrite at %d returned %d, %v", w, off, n, err)
					return
				}
			}
			if err := f.Close(); err != nil {
				t.Errorf("worker %d: close: %v", w, err)
			}
		})
	}
	wg.Wait()
	for w := range workers {
		checkContent(t, join(dir, fmt.Sprintf("w%d", w)), pattern(size, byte(w)), fmt.Sprintf("file of parallel writer %d", w))
	}
}

// testParallelSameFile has workers write interleaved disjoint chunks of
// one file, half through their own descriptors and half through a shared
// one, then checks that every chunk landed where it was written.
func testParallelSameFile(t T, dir string) {
	const chunk, rounds = 4096, 16
	path := join(dir, "f")
	shared := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	want := make([]byte, workers*rounds*chunk)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			f := shared
			if w%2 == 0 {
				own, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					t.Errorf("worker %d: open: %v", w, err)
					return
				}
				defer own.Close()
				f = own
			}
			for r := range rounds {
				off := (r*workers + w) * chunk
				data := fill(chunk, byte('A'+w))
				if n, err := unix.Pwrite(fdOf(f), data, int64(off)); err != nil || n != chunk {
					t.Errorf("worker %d: pwrite at %d returned %d, %v", w, off, n, err)
					return
				}
			}
		})
		for r := range rounds {
			off := (r*workers + w) * chunk
			copy(want[off:], fill(chunk, byte('A'+w)))
		}
	}
	wg.Wait()
	closeFile(t, shared)
	checkContent(t, path, want, "file written in interleaved chunks by parallel writers")
}

// testParallelCreateUnlink creates and removes names in one directory from
// several workers, and races them on shared names with O_EXCL, where
// exactly one creator must win.
func testParallelCreateUnlink(t T, dir string) {
	const perWorker, contested = 150, 40
	var winners [contested]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range perWorker {
				path := join(dir, fmt.Sprintf("w%d-%03d", w, k))
				fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
				if err != nil {
					t.Errorf("worker %d: create %s: %v", w, base(path), err)
					return
				}
				_ = unix.Close(fd)
				if k%2 == 0 {
					if err := unix.Unlink(path); err != nil {
						t.Errorf("worker %d: unlink %s: %v", w, base(path), err)
						return
					}
				}
				if k < contested {
					fd, err := unix.Open(join(dir, fmt.Sprintf("shared-%03d", k)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
					switch {
					case err == nil:
						_ = unix.Close(fd)
						winners[k].Add(1)
					case !errors.Is(err, unix.EEXIST):
						t.Errorf("worker %d: racing O_EXCL create of shared-%03d: %v, want success or EEXIST", w, k, err)
					}
				}
			}
		})
	}
	wg.Wait()
	var want []string
	for k := range contested {
		if n := winners[k].Load(); n != 1 {
			t.Errorf("%d racing O_EXCL creators of shared-%03d succeeded, want exactly 1", n, k)
		}
		want = append(want, fmt.Sprintf("shared-%03d", k))
	}
	for w := range workers {
		for k := 1; k < perWorker; k += 2 {
			want = append(want, fmt.Sprintf("w%d-%03d", w, k))
		}
	}
	got := listNames(t, dir)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		missing, extra := diffNames(want, got)
		t.Errorf("after parallel create and unlink the directory has %d entries, want %d (missing %q, unexpected %q)", len(got), len(want), missing, extra)
	}
}

// diffNames returns the names only in want and only in got (sorted input).
func diffNames(want, got []string) (missing, extra []string) {
	for _, n := range want {
		if _, ok := slices.BinarySearch(got, n); !ok {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if _, ok := slices.BinarySearch(want, n); !ok {
			extra = append(extra, n)
		}
	}
	return firstFew(missing), firstFew(extra)
}

func firstFew(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], "...")
	}
	return s
}
