package passthrough

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// unalignedBuf returns n bytes whose address is one past a page boundary,
// the way buffers from the FUSE bridge usually are.
func unalignedBuf(n int) []byte {
	b := alignedBuf(n+1, pageSize)[1:]
	return b[:n:n]
}

func TestDirectIOWithUnalignedMemory(t *testing.T) {
	f, dir := newFS(t)
	const block = 4096
	data := bytes.Repeat([]byte("direct!!"), 2*block/8)

	w, err := f.Open(ctx, "d", os.O_RDWR|os.O_CREATE|unix.O_DIRECT, 0o644)
	require.NoError(t, err, "the test directory must be on a filesystem with O_DIRECT (ext4 here)")
	defer w.Close()
	h := w.(*file)
	require.True(t, h.direct)

	src := unalignedBuf(len(data))
	copy(src, data)
	require.False(t, aligned(src, h.memAlign))
	n, err := w.WriteAt(ctx, src, block)
	require.NoError(t, err)
	require.Equal(t, len(data), n)

	got, err := os.ReadFile(filepath.Join(dir, "d"))
	require.NoError(t, err)
	require.Equal(t, append(make([]byte, block), data...), got)

	dst := unalignedBuf(len(data))
	n, err = w.ReadAt(ctx, dst, block)
	require.NoError(t, err)
	require.Equal(t, len(data), n)
	require.Equal(t, data, dst)

	// Aligned memory goes straight through.
	direct := alignedBuf(block, pageSize)
	n, err = w.ReadAt(ctx, direct, 2*block)
	require.NoError(t, err)
	require.Equal(t, block, n)
	require.Equal(t, data[block:], direct)

	// Offsets and lengths are the backing filesystem's to check, as without
	// FUSE; no read-modify-write hides a misaligned direct write.
	_, err = w.WriteAt(ctx, src[:100], block)
	requireErrno(t, syscall.EINVAL, err)
	_, err = w.WriteAt(ctx, src[:block], 100)
	requireErrno(t, syscall.EINVAL, err)
	_, err = w.ReadAt(ctx, dst[:block], 100)
	requireErrno(t, syscall.EINVAL, err)
}

func TestDirectReadEndsAtAnUnalignedEOF(t *testing.T) {
	f, dir := newFS(t)
	data := bytes.Repeat([]byte("x"), 5000)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d"), data, 0o644))
	r, err := f.Open(ctx, "d", os.O_RDONLY|unix.O_DIRECT, 0)
	require.NoError(t, err)
	defer r.Close()
	buf := unalignedBuf(8192)
	n, err := r.ReadAt(ctx, buf, 0)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 5000, n)
	require.Equal(t, data, buf[:n])
	n, err = r.ReadAt(ctx, buf, 8192)
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
}

func TestBounceBuffers(t *testing.T) {
	for _, n := range []int{1, 512, pageSize, pageSize + 1, 100000, maxPooledBounce, maxPooledBounce + 1} {
		for _, align := range []uintptr{512, pageSize, 2 * pageSize} {
			b := getBounce(n, align)
			require.GreaterOrEqual(t, len(b.buf), n)
			require.Zero(t, uintptr(unsafe.Pointer(&b.buf[0]))%align, "n=%d align=%d", n, align)
			if n <= maxPooledBounce && align <= pageSize {
				assert.GreaterOrEqual(t, b.class, 0)
				assert.Less(t, len(b.buf), 2*n+pageSize, "the size class fits")
			} else {
				assert.Equal(t, -1, b.class)
			}
			putBounce(b)
		}
	}
	assert.True(t, aligned(nil, pageSize))
	assert.False(t, aligned(unalignedBuf(10), 2))
}

// ReadAt and WriteAt are on the path of every FUSE read and write.
func TestReadWriteDoNotAllocate(t *testing.T) {
	f, _ := newFS(t)
	h, err := f.Open(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer h.Close()
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.WriteAt(ctx, buf, 4096); err != nil {
			t.Fatal(err)
		}
		if _, err := h.ReadAt(ctx, buf, 4096); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
