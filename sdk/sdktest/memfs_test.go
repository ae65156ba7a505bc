package sdktest_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// MemFS has no whiteouts: RenameWhiteout must fail rather than rename
// without leaving one.
func TestMemFSRefusesRenameWhiteout(t *testing.T) {
	ctx := context.Background()
	m := sdktest.NewMemFS()
	f, err := m.Open(ctx, "a", syscall.O_CREAT|syscall.O_WRONLY, 0o644)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	err = m.Rename(ctx, "a", "b", sdk.RenameWhiteout)
	require.Equal(t, syscall.EINVAL, sdk.Errno(err), "error: %v", err)
	_, err = m.Stat(ctx, "a")
	require.NoError(t, err, "a must stay where it was")
}
