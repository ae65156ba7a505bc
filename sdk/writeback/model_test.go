package writeback

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// TestRandomOpsAgainstModel drives one file through buffered and direct
// handles with random writes, truncates, reads, flushes and reopens, while
// tiny chunks, tight limits and a 1 ms MaxAge keep write-back running
// underneath, and checks every read and the final backend content against
// a plain byte slice.
func TestRandomOpsAgainstModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			opts := Options{
				ChunkSize:       64,
				MaxDirty:        1024,
				MaxDirtyPerFile: 512,
				MaxAge:          time.Millisecond,
				Workers:         2,
			}
			e := newEnv(t, opts, faultfs.Config{})
			rng := rand.New(rand.NewPCG(seed, 42))
			var model []byte
			handles := []*handle{e.create("f"), e.create("f"), e.open("f", os.O_RDWR|oDirect)}
			for i := range 1500 {
				h := handles[rng.IntN(len(handles))]
				switch op := rng.IntN(10); {
				case op < 5:
					off := rng.Int64N(2048)
					p := bytes.Repeat([]byte{byte(i)}, 1+rng.IntN(200))
					write(t, h, off, string(p))
					if end := off + int64(len(p)); end > int64(len(model)) {
						model = append(model, make([]byte, end-int64(len(model)))...)
					}
					copy(model[off:], p)
				case op < 7:
					require.Equal(t, string(model), readAll(t, h), "op %d", i)
				case op < 8:
					size := rng.Int64N(2048)
					require.NoError(t, h.Truncate(ctx, size))
					if size < int64(len(model)) {
						model = model[:size]
					} else {
						model = append(model, make([]byte, size-int64(len(model)))...)
					}
				case op < 9:
					require.NoError(t, h.Flush(ctx))
				default:
					// Reopen: close one handle (release) and open it anew.
					k := rng.IntN(len(handles))
					require.NoError(t, handles[k].Flush(ctx))
					require.NoError(t, handles[k].Close())
					flags := os.O_RDWR
					if k == 2 {
						flags |= oDirect
					}
					handles[k] = e.open("f", flags)
				}
				st, err := e.wb.Stat(ctx, "f")
				require.NoError(t, err)
				require.EqualValues(t, len(model), st.Size, "op %d", i)
			}
			for _, h := range handles {
				require.NoError(t, h.Close())
			}
			require.Equal(t, string(model), e.backend("f"))
		})
	}
}

// exchanger adds RENAME_EXCHANGE to aferofs, for the re-keying test.
type exchanger struct{ *aferofs.FS }

func (x exchanger) Rename(ctx context.Context, a, b string, flags sdk.RenameFlags) error {
	if flags&sdk.RenameExchange == 0 {
		return x.FS.Rename(ctx, a, b, flags)
	}
	for _, r := range [][2]string{{a, "tmp-x"}, {b, a}, {"tmp-x", b}} {
		if err := x.FS.Rename(ctx, r[0], r[1], 0); err != nil {
			return err
		}
	}
	return nil
}

func TestRenameExchangeSwapsBuffers(t *testing.T) {
	mem := afero.NewMemMapFs()
	wb, err := New(exchanger{aferofs.New(mem)}, quiet())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, wb.Close(ctx)) })
	open := func(name string) *handle {
		f, err := wb.Open(ctx, name, os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		return f.(*handle)
	}
	a, b := open("a"), open("b")
	write(t, a, 0, "from a")
	write(t, b, 0, "bee")
	require.NoError(t, wb.Rename(ctx, "a", "b", sdk.RenameExchange))
	st, err := wb.Stat(ctx, "a")
	require.NoError(t, err)
	require.EqualValues(t, 3, st.Size, "a is now the file that was b")
	c := open("a")
	require.Equal(t, "bee", readAll(t, c))
	require.NoError(t, c.Close())
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	got, err := afero.ReadFile(mem, "/b")
	require.NoError(t, err)
	require.Equal(t, "from a", string(got))
}
