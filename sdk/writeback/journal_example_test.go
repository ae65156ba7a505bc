package writeback_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk/writeback"
	"github.com/spf13/afero"
)

// With a journal, acknowledged writes that never reached the backend are
// written back by the next New on the same journal: here Close is given no
// time to drain, as if the process had died.
func ExampleOptions_journal() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	mem := afero.NewMemMapFs()
	opts := writeback.Options{Journal: dir, MaxAge: time.Hour}

	wb, err := writeback.New(aferofs.New(mem), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := wb.Open(context.Background(), "log", os.O_RDWR|os.O_CREATE, 0o644)
	f.WriteAt(context.Background(), []byte("acknowledged"), 0)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	err = wb.Close(gone)
	var kept *writeback.DataLostError
	fmt.Println("lost:", errors.Is(err, writeback.ErrDataLost), "kept in the journal:", errors.As(err, &kept) && kept.Journal == dir)
	onBackend, _ := afero.ReadFile(mem, "/log")
	fmt.Printf("on the backend %q\n", onBackend)

	wb, err = writeback.New(aferofs.New(mem), opts) // replays the journal
	if err != nil {
		fmt.Println(err)
		return
	}
	defer wb.Close(context.Background())
	onBackend, _ = afero.ReadFile(mem, "/log")
	st := wb.Stats().Journal
	fmt.Printf("on the backend %q; replayed %d file, %d bytes\n", onBackend, st.ReplayedFiles, st.ReplayedBytes)
	// Output:
	// lost: false kept in the journal: true
	// on the backend ""
	// on the backend "acknowledged"; replayed 1 file, 12 bytes
}
