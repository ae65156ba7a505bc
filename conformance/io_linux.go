package conformance

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func ioTests() []Test {
	return []Test{
		{Name: "io/pread-pwrite-offsets", Run: testPreadPwrite},
		{Name: "io/overwrite-order", Run: testOverwriteOrder},
		{Name: "io/sequential", Run: testSequential},
		{Name: "io/sizes", Run: testSizes},
		{Name: "io/truncate-open", Run: testTruncateOpen},
		{Name: "io/o-trunc", Run: testOTrunc},
		{Name: "io/sparse-beyond-4g", Needs: []string{"sparse"}, Run: testSparse},
	}
}

// testPreadPwrite writes at scattered offsets, including across a page
// boundary and far from the start, and reads every region and gap back.
func testPreadPwrite(t T, dir string) {
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	regions := []struct {
		off int64
		n   int
	}{{0, 100}, {4095, 2}, {8192, 4096}, {1<<20 + 7, 333}}
	var want []byte
	for i, r := range regions {
		data := pattern(r.n, byte(i+1))
		pwriteAll(t, f, data, r.off)
		if end := int(r.off) + r.n; end > len(want) {
			want = append(want, make([]byte, end-len(want))...)
		}
		copy(want[r.off:], data)
	}
	for i, r := range regions {
		buf := make([]byte, r.n)
		n, err := preadFull(fdOf(f), buf, r.off)
		switch {
		case err != nil:
			t.Errorf("pread of region %d (%d bytes at offset %d): %v", i, r.n, r.off, err)
		case n != r.n:
			t.Errorf("read at offset %d returned %d bytes, want %d (short read)", r.off, n, r.n)
		default:
			sameBytes(t, buf, want[r.off:r.off+int64(r.n)], fmt.Sprintf("pread at offset %d on the writing descriptor", r.off))
		}
	}
	if n, err := preadFull(fdOf(f), make([]byte, 10), int64(len(want))+4096); n != 0 || err != nil {
		t.Errorf("pread beyond the end of the file returned %d bytes, %v; want 0 bytes and no error", n, err)
	}
	closeFile(t, f)
	checkContent(t, path, want, "file written at scattered offsets, after close and reopen")
}

// testOverwriteOrder overwrites the same bytes several times: the file must
// end up holding the data of the last write to each byte. A backend that
// applies writes out of order leaves an earlier write's bytes visible.
func testOverwriteOrder(t T, dir string) {
	path := join(dir, "f")
	writes := []struct {
		off int64
		n   int
		c   byte
	}{{0, 8192, 'A'}, {0, 4096, 'B'}, {4000, 100, 'C'}, {8190, 10, 'D'}, {8195, 5, 'E'}}
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	var want []byte
	for _, w := range writes {
		pwriteAll(t, f, fill(w.n, w.c), w.off)
		if end := int(w.off) + w.n; end > len(want) {
			want = append(want, make([]byte, end-len(want))...)
		}
		copy(want[w.off:], fill(w.n, w.c))
	}
	closeFile(t, f)
	if checkContent(t, path, want, "file after overlapping writes") {
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || len(got) != len(want) {
		return
	}
	i := firstDiff(got, want)
	wantIdx, gotIdx := -1, -1
	for k, w := range writes {
		if int64(i) >= w.off && int64(i) < w.off+int64(w.n) {
			if w.c == want[i] {
				wantIdx = k
			}
			if w.c == got[i] {
				gotIdx = k
			}
		}
	}
	if gotIdx >= 0 && gotIdx < wantIdx {
		t.Errorf("offset %d holds %q from write %d, but the later write %d (%q) covers it: writes were applied out of order (reordered write)",
			i, got[i], gotIdx+1, wantIdx+1, want[i])
	}
}

// testSequential streams a file through write(2) and read(2) in odd-sized
// chunks that never line up with pages or with each other.
func testSequential(t T, dir string) {
	path := join(dir, "f")
	want := pattern(1<<20+12345, 7)
	f := openFile(t, path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	for off, i := 0, 0; off < len(want); i++ {
		n := min([]int{4093, 8191, 65539, 1, 131072}[i%5], len(want)-off)
		writeAll(t, f, want[off:off+n])
		off += n
	}
	if end, err := unix.Seek(fdOf(f), 0, io.SeekEnd); err != nil || end != int64(len(want)) {
		t.Errorf("lseek(SEEK_END) after writing %d bytes returned %d, %v", len(want), end, err)
	}
	closeFile(t, f)

	f = openFile(t, path, os.O_RDONLY, 0)
	var got []byte
	buf := make([]byte, 10000)
	for {
		n, err := unix.Read(fdOf(f), buf)
		if err != nil {
			t.Fatalf("read at offset %d: %v", len(got), err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
		if len(got) > 2*len(want) {
			break
		}
	}
	if len(got) < len(want) {
		t.Errorf("sequential reads ended at offset %d of %d: a short read was taken as the end of the file (short read)", len(got), len(want))
	} else {
		sameBytes(t, got, want, "file read back sequentially")
	}
	closeFile(t, f)
	checkContent(t, path, want, "sequentially written file")
}

// testSizes checks st_size through stat and fstat as a file grows.
func testSizes(t T, dir string) {
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	expect := func(want int64, after string) {
		t.Helper()
		if st := fstat(t, f); st.Size != want {
			t.Errorf("fstat size after %s is %d, want %d%s", after, st.Size, want, sizeHint(st.Size, want))
		}
		if st := lstat(t, path); st.Size != want {
			t.Errorf("stat size after %s is %d, want %d%s", after, st.Size, want, sizeHint(st.Size, want))
		}
	}
	expect(0, "creating the file")
	writeAll(t, f, []byte("x"))
	expect(1, "writing 1 byte")
	pwriteAll(t, f, pattern(4096, 1), 0)
	expect(4096, "writing 4096 bytes at offset 0")
	pwriteAll(t, f, pattern(10, 2), 100)
	expect(4096, "overwriting 10 bytes inside the file")
	pwriteAll(t, f, []byte("z"), 10000)
	expect(10001, "writing 1 byte at offset 10000")

	// A second descriptor sees the size the first one produced.
	g := openFile(t, path, os.O_RDWR, 0)
	if st := fstat(t, g); st.Size != 10001 {
		t.Errorf("a new descriptor reports size %d, want 10001 (stale size)", st.Size)
	}
	pwriteAll(t, g, []byte("tail"), 20000)
	expect(20004, "writing through a second descriptor")
	closeFile(t, g)
	closeFile(t, f)
	if st := lstat(t, path); st.Size != 20004 {
		t.Errorf("stat size after close is %d, want 20004%s", st.Size, sizeHint(st.Size, 20004))
	}
}

// testTruncateOpen truncates down and up while the file is open, through
// the descriptor and through the path, and checks size and data each time.
func testTruncateOpen(t T, dir string) {
	path := join(dir, "f")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	pwriteAll(t, f, pattern(8192, 1), 0)

	must(t, unix.Ftruncate(fdOf(f), 0), "ftruncate to 0")
	if st := fstat(t, f); st.Size != 0 {
		t.Errorf("truncate to 0 was ignored: size still %d (dropped truncate)", st.Size)
	}
	if n, err := preadFull(fdOf(f), make([]byte, 100), 0); n != 0 || err != nil {
		t.Errorf("read after truncate to 0 returned %d bytes, %v; want 0 bytes: old data survived the truncate (dropped truncate)", n, err)
	}

	data := pattern(8192, 2)
	pwriteAll(t, f, data, 0)
	must(t, unix.Truncate(path, 100), "truncate(path) to 100 while open")
	if st := fstat(t, f); st.Size != 100 {
		t.Errorf("truncate by path to 100 was ignored: size still %d (dropped truncate)", st.Size)
	}
	must(t, unix.Ftruncate(fdOf(f), 10000), "ftruncate up to 10000")
	want := append(append([]byte(nil), data[:100]...), make([]byte, 9900)...)
	if st := fstat(t, f); st.Size != 10000 {
		t.Errorf("truncate up to 10000 was ignored: size is %d (dropped truncate)", st.Size)
	} else {
		checkFD(t, fdOf(f), want, "open file after truncate down to 100 and up to 10000 (bytes past 100 must read as zeros)")
	}
	closeFile(t, f)
	checkContent(t, path, want, "truncated file after close and reopen")

	// Truncating a file that is open elsewhere for reading.
	r := openFile(t, path, os.O_RDONLY, 0)
	must(t, unix.Truncate(path, 50), "truncate(path) to 50 while open read-only elsewhere")
	checkFD(t, fdOf(r), want[:50], "reader's view after truncate to 50")
	closeFile(t, r)
}

// testOTrunc opens an existing file with O_TRUNC.
func testOTrunc(t T, dir string) {
	path := join(dir, "f")
	createFile(t, path, pattern(8192, 1), 0o644)
	f := openFile(t, path, os.O_RDWR|os.O_TRUNC, 0)
	if st := fstat(t, f); st.Size != 0 {
		t.Errorf("open with O_TRUNC left the size at %d, want 0 (dropped truncate)", st.Size)
	}
	writeAll(t, f, []byte("new"))
	closeFile(t, f)
	checkContent(t, path, []byte("new"), "file after O_TRUNC and a 3-byte write")
}

// testSparse writes beyond 4 GiB and checks the offset, the size, the hole
// and the allocation.
func testSparse(t T, dir string) {
	const off = 5 << 30
	path := join(dir, "sparse")
	f := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	data := pattern(4096, 3)
	pwriteAll(t, f, data, off)
	if st := fstat(t, f); st.Size != off+4096 {
		t.Errorf("size after writing 4096 bytes at 5 GiB is %d, want %d", st.Size, off+4096)
	}
	probe := func(at int64, n int, want []byte, what string) {
		t.Helper()
		buf := make([]byte, n)
		m, err := preadFull(fdOf(f), buf, at)
		if err != nil || m != n {
			t.Errorf("read of %d bytes at offset %d (%s) returned %d, %v (short read)", n, at, what, m, err)
			return
		}
		if !bytes.Equal(buf, want) {
			i := firstDiff(buf, want)
			t.Errorf("%s: byte at offset %d is %#x, want %#x", what, at+int64(i), buf[i], want[i])
		}
	}
	probe(off-(4<<30), 4096, make([]byte, 4096), "data written at 5 GiB must not appear at 1 GiB (offset truncated to 32 bits)")
	probe(4<<30-2048, 4096, make([]byte, 4096), "hole across 4 GiB must read as zeros")
	probe(3<<30, 64<<10, make([]byte, 64<<10), "hole at 3 GiB must read as zeros")
	probe(off, 4096, data, "data at 5 GiB")
	closeFile(t, f)

	st := lstat(t, path)
	if st.Size != off+4096 {
		t.Errorf("size after close is %d, want %d", st.Size, off+4096)
	}
	if alloc := st.Blocks * 512; alloc > 16<<20 {
		t.Errorf("a 5 GiB file holding 4 KiB of data has %d bytes allocated (st_blocks %d): the hole was filled, the file is not sparse", alloc, st.Blocks)
	}
	must(t, unix.Truncate(path, 6<<30), "truncate up to 6 GiB")
	if st := lstat(t, path); st.Size != 6<<30 {
		t.Errorf("size after truncate to 6 GiB is %d (dropped truncate)", st.Size)
	}
	must(t, unix.Truncate(path, 4096), "truncate down to 4096")
	checkContent(t, path, make([]byte, 4096), "sparse file truncated to its first (hole) 4 KiB")
}

func appendTests() []Test {
	return []Test{
		{Name: "append/one-descriptor", Run: testAppendFD},
		{Name: "append/two-descriptors", Run: testAppendTwoFDs},
		{Name: "append/processes", Run: testAppendProcesses},
	}
}

// testAppendFD appends through one O_APPEND descriptor, also after seeking
// back and with pwrite, which Linux appends regardless of the offset.
func testAppendFD(t T, dir string) {
	path := join(dir, "f")
	createFile(t, path, []byte("0123456789"), 0o644)
	f := openFile(t, path, os.O_WRONLY|os.O_APPEND, 0)
	want := []byte("0123456789")
	for i, chunk := range []string{"abcdefghij", "KLMNOPQRST", "uv"} {
		if i == 2 {
			if _, err := unix.Seek(fdOf(f), 0, io.SeekStart); err != nil {
				t.Fatalf("lseek to 0: %v", err)
			}
		}
		writeAll(t, f, []byte(chunk))
		want = append(want, chunk...)
		if st := fstat(t, f); st.Size != int64(len(want)) {
			t.Errorf("size after O_APPEND write %d is %d, want %d (stale size)", i+1, st.Size, len(want))
		}
	}
	closeFile(t, f)
	checkContent(t, path, want, "file after O_APPEND writes (each must land at the end, even after lseek to 0)")
}

// testAppendTwoFDs alternates appends between two descriptors: each must
// see the end the other one moved.
func testAppendTwoFDs(t T, dir string) {
	path := join(dir, "f")
	a := openFile(t, path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	b := openFile(t, path, os.O_WRONLY|os.O_APPEND, 0)
	var want []byte
	for i := range 20 {
		fd, c := a, byte('a'+i%26)
		if i%2 == 1 {
			fd, c = b, byte('A'+i%26)
		}
		chunk := fill(10+i, c)
		writeAll(t, fd, chunk)
		want = append(want, chunk...)
		if st := lstat(t, path); st.Size != int64(len(want)) {
			t.Fatalf("size after O_APPEND write %d is %d, want %d (stale size)", i+1, st.Size, len(want))
		}
	}
	closeFile(t, a)
	closeFile(t, b)
	checkContent(t, path, want, "file after alternating appends from two descriptors (an append overwrote another: stale size)")
}

// testAppendProcesses runs several shell processes appending fixed-size
// lines at once through O_APPEND (">>"); no line may be lost, torn or
// overwritten, and each process's lines stay in its order.
func testAppendProcesses(t T, dir string) {
	const procs, lines, lineLen = 4, 200, 32
	path := join(dir, "log")
	createFile(t, path, nil, 0o666)
	script := `exec >>"$1"; i=0; while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do i=$((i+1)); printf 'p%s %05d xxxxxxxxxxxxxxxxxxxxxx\n' "$2" "$i"; done`
	var wg sync.WaitGroup
	results := make([]childResult, procs)
	for p := range procs {
		wg.Go(func() { results[p] = sh(-1, script, path, strconv.Itoa(p)) })
	}
	wg.Wait()
	for p, r := range results {
		if !r.ok() {
			t.Fatalf("appending process %d %s", p, r)
		}
	}
	got, err := os.ReadFile(path)
	must(t, err, "reading the log")
	if want := procs * lines * lineLen; len(got) != want {
		t.Errorf("size after %d processes each appended %d bytes is %d, want %d: appends overwrote each other or were lost (stale size)",
			procs, lines*lineLen, len(got), want)
	}
	next := make([]int, procs)
	for i, line := range strings.SplitAfter(string(got), "\n") {
		if line == "" {
			continue
		}
		var p, n int
		if len(line) != lineLen || !strings.HasSuffix(line, "x\n") {
			t.Fatalf("line %d is torn or overwritten: %q", i+1, line)
		}
		if _, err := fmt.Sscanf(line, "p%d %d", &p, &n); err != nil || p < 0 || p >= procs {
			t.Fatalf("line %d is garbled: %q", i+1, line)
		}
		if n != next[p]+1 {
			t.Fatalf("line %d is process %d's line %d, but its previous line was %d: appends lost or reordered", i+1, p, n, next[p])
		}
		next[p] = n
	}
	for p, n := range next {
		if n != lines {
			t.Errorf("process %d has %d lines in the file, want %d (appends lost)", p, n, lines)
		}
	}
}

func directIOTests() []Test {
	return []Test{{Name: "odirect/coherence", Needs: []string{"odirect"}, Run: testODirect}}
}

// testODirect mixes O_DIRECT and buffered I/O on one file in both
// directions: direct reads see buffered writes (dirty pages are written
// first) and buffered reads see direct writes (cached pages are dropped).
func testODirect(t T, dir string) {
	const page = 4096
	path := join(dir, "f")
	buffered := openFile(t, path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	a := pattern(3*page, 1)
	pwriteAll(t, buffered, a, 0)
	// Fill the page cache so that a stale copy exists to be served.
	readBack := make([]byte, 3*page)
	if n, err := preadFull(fdOf(buffered), readBack, 0); err != nil || n != len(readBack) {
		t.Fatalf("buffered read of %d bytes returned %d, %v", len(readBack), n, err)
	}

	direct, err := os.OpenFile(path, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("open with O_DIRECT: %v", err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	buf := alignedBuf(t, 3*page)
	if n, err := preadFull(fdOf(direct), buf, 0); err != nil || n != len(buf) {
		t.Fatalf("O_DIRECT read of %d bytes returned %d, %v", len(buf), n, err)
	}
	sameBytes(t, buf, a, "O_DIRECT read after a buffered write (the buffered write was not visible to direct I/O)")

	b := pattern(page, 2)
	copy(buf[:page], b)
	if n, err := unix.Pwrite(fdOf(direct), buf[:page], page); err != nil || n != page {
		t.Fatalf("O_DIRECT write of %d bytes at offset %d returned %d, %v", page, page, n, err)
	}
	got := make([]byte, page)
	if n, err := preadFull(fdOf(buffered), got, page); err != nil || n != page {
		t.Fatalf("buffered read after O_DIRECT write returned %d, %v", n, err)
	}
	sameBytes(t, got, b, "buffered read after an O_DIRECT write (stale page cache served)")

	c := pattern(page, 3)
	pwriteAll(t, buffered, c, 2*page)
	if n, err := preadFull(fdOf(direct), buf[:page], 2*page); err != nil || n != page {
		t.Fatalf("O_DIRECT read at offset %d returned %d, %v", 2*page, n, err)
	}
	sameBytes(t, buf[:page], c, "O_DIRECT read of a page just written through the page cache")
	closeFile(t, direct)
	closeFile(t, buffered)
	want := append(append(append([]byte(nil), a[:page]...), b...), c...)
	checkContent(t, path, want, "file after mixed direct and buffered writes")
}

func mmapTests() []Test {
	return []Test{{Name: "mmap/shared-write-read", Needs: []string{"mmap"}, Run: testMmap}}
}

// testMmap stores through a MAP_SHARED mapping and reads with read(2), and
// the other way round; msync must write the stores back so that they
// survive unmapping, closing and reopening.
func testMmap(t T, dir string) {
	const size = 8192
	path := join(dir, "f")
	want := pattern(size, 1)
	createFile(t, path, want, 0o644)
	f := openFile(t, path, os.O_RDWR, 0)
	m, err := unix.Mmap(fdOf(f), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap MAP_SHARED of %s: %v", path, err)
	}
	mapped := true
	t.Cleanup(func() {
		if mapped {
			_ = unix.Munmap(m)
		}
	})
	sameBytes(t, m, want, "mapping of a file written with write(2)")
	copy(m[10:], "stored through mmap")
	copy(m[5000:], "second page")
	copy(want[10:], "stored through mmap")
	copy(want[5000:], "second page")

	reader := openFile(t, path, os.O_RDONLY, 0)
	checkFD(t, fdOf(reader), want, "read(2) of a file after stores to a MAP_SHARED mapping (stores not visible to read)")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		t.Errorf("msync(MS_SYNC): %v", err)
	}
	pwriteAll(t, f, []byte("via pwrite"), 100)
	copy(want[100:], "via pwrite")
	sameBytes(t, m, want, "mapping after pwrite (write not visible through the mapping)")
	mapped = false
	must(t, unix.Munmap(m), "munmap")
	closeFile(t, reader)
	closeFile(t, f)
	checkContent(t, path, want, "file reopened after msync and munmap (mapped stores were not written back)")
}
