package cli

import (
	"fmt"

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
