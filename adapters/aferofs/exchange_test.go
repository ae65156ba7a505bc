package aferofs

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readName(t *testing.T, f *FS, name string) string {
	t.Helper()
	h, err := f.Open(context.Background(), name, syscall.O_RDONLY, 0)
	require.NoError(t, err)
	defer h.Close()
	buf := make([]byte, 64)
	n, _ := h.ReadAt(context.Background(), buf, 0)
	return string(buf[:n])
}

func TestRenameExchange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, f *FS) {
		ctx := aliceCtx()
		createFile(t, f, "a", []byte("A"))
		createFile(t, f, "b", []byte("B"))
		require.NoError(t, f.Rename(ctx, "a", "b", sdk.RenameExchange))
		assert.Equal(t, "B", readName(t, f, "a"))
		assert.Equal(t, "A", readName(t, f, "b"))

		// A file and a directory in different directories.
		require.NoError(t, f.Mkdir(ctx, "d", 0o755))
		require.NoError(t, f.Mkdir(ctx, "d/sub", 0o755))
		createFile(t, f, "d/sub/inner", []byte("I"))
		require.NoError(t, f.Mkdir(ctx, "e", 0o755))
		createFile(t, f, "e/file", []byte("F"))
		require.NoError(t, f.Rename(ctx, "d/sub", "e/file", sdk.RenameExchange))
		assert.Equal(t, "F", readName(t, f, "d/sub"))
		assert.Equal(t, "I", readName(t, f, "e/file/inner"))
		ents, err := f.ReadDir(ctx, "d")
		require.NoError(t, err)
		require.Len(t, ents, 1, "no temporary name is left")
		if !b.host && b.name != "CopyOnWriteFs(OsFs,MemMapFs)" {
			da, err := f.Stat(ctx, "d")
			require.NoError(t, err)
			ea, err := f.Stat(ctx, "e")
			require.NoError(t, err)
			assert.EqualValues(t, 2, da.Nlink, "d lost its subdirectory")
			assert.EqualValues(t, 3, ea.Nlink, "e gained one")
		}

		require.NoError(t, f.Rename(ctx, "a", "a", sdk.RenameExchange), "a name with itself")
		assert.Equal(t, syscall.ENOENT, errno(f.Rename(ctx, "a", "missing", sdk.RenameExchange)))
		assert.Equal(t, syscall.ENOENT, errno(f.Rename(ctx, "missing", "a", sdk.RenameExchange)))
		assert.Equal(t, syscall.EINVAL, errno(f.Rename(ctx, "e", "e/file", sdk.RenameExchange)), "ancestor")
		assert.Equal(t, syscall.EINVAL, errno(f.Rename(ctx, "e/file/inner", "e", sdk.RenameExchange)), "descendant")
		assert.Equal(t, syscall.EINVAL, errno(f.Rename(ctx, "a", "b", sdk.RenameExchange|sdk.RenameNoReplace)))
		assert.Equal(t, "B", readName(t, f, "a"), "the refusals changed nothing")
	})
}

// TestRenameExchangeUndo: when a step of the three-rename exchange fails,
// the steps already made are taken back.
func TestRenameExchangeUndo(t *testing.T) {
	for _, skip := range []int{0, 1, 2} {
		ff := faultfs.New(afero.NewMemMapFs(), faultfs.Config{})
		f := New(ff)
		ctx := aliceCtx()
		createFile(t, f, "a", []byte("A"))
		createFile(t, f, "b", []byte("B"))
		ff.Inject(faultfs.Rule{Op: "rename", Skip: skip, Count: 1, Err: syscall.EIO})
		err := f.Rename(ctx, "a", "b", sdk.RenameExchange)
		assert.Equal(t, syscall.EIO, errno(err), "step %d", skip+1)
		assert.Equal(t, "A", readName(t, f, "a"), "step %d", skip+1)
		assert.Equal(t, "B", readName(t, f, "b"), "step %d", skip+1)
		ents, err := f.ReadDir(ctx, ".")
		require.NoError(t, err)
		assert.Len(t, ents, 2, "step %d: no temporary name is left", skip+1)
	}
}

// TestRenameExchangeLookups: through the adapter, neither name is ever
// missing while exchanges run.
func TestRenameExchangeLookups(t *testing.T) {
	f := New(afero.NewMemMapFs())
	ctx := aliceCtx()
	createFile(t, f, "a", []byte("A"))
	createFile(t, f, "b", []byte("B"))
	const rounds = 500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range rounds {
			if err := f.Rename(ctx, "a", "b", sdk.RenameExchange); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for missing := 0; ; {
		select {
		case <-done:
			assert.Zero(t, missing, "lookups that found nothing")
			return
		default:
		}
		for _, n := range []string{"a", "b"} {
			if _, err := f.Stat(ctx, n); err != nil {
				missing++
			}
			if h, err := f.Open(ctx, n, os.O_RDONLY, 0); err != nil {
				missing++
			} else {
				h.Close()
			}
		}
	}
}
