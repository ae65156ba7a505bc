package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/writeback"
)

// Writeback puts the write-back layer over fsys when on is set (-writeback),
// with maxDirty bytes of dirty memory at most (-writeback-dirty, zero for
// the layer's default). wb is nil when it is off; the caller closes it after
// unmounting.
func Writeback(fsys sdk.FileSystem, on bool, maxDirty ByteSize) (mounted sdk.FileSystem, wb *writeback.FS, err error) {
	if !on {
		return fsys, nil, nil
	}
	wb, err = writeback.New(fsys, writeback.Options{MaxDirty: int64(maxDirty)})
	if err != nil {
		return nil, nil, fmt.Errorf("-writeback-dirty: %w", err)
	}
	return wb, wb, nil
}

// CloseWriteback stops the write-back layer after the unmount has drained
// it, prints what it did as prog, and reports whether every byte reached
// the backend. Close is needed even after a clean drain: it stops the
// workers. It is bounded by timeout, since the backend may be what hangs.
func CloseWriteback(prog string, wb *writeback.FS, timeout time.Duration, stdout, stderr io.Writer) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wb.Close(ctx)
	st := wb.Stats()
	fmt.Fprintf(stdout, "%s: write-back: %d bytes written back, %d errors, %d retries\n",
		prog, st.WrittenBytes, st.WriteBackErrors, st.Retries)
	if err != nil {
		fmt.Fprintf(stderr, "%s: write-back: %v\n", prog, err)
		return false
	}
	return true
}
