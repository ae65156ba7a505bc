package writeback_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/writeback"
	"github.com/spf13/afero"
)

// Buffer writes in front of an afero filesystem. In a program the FS is
// what gets mounted: sdk.Mount(wb, dir, nil); unmounting drains it.
func ExampleNew() {
	ctx := context.Background()
	mem := afero.NewMemMapFs()
	wb, err := writeback.New(aferofs.New(mem), writeback.Options{
		ChunkSize: 1 << 20,
		MaxDirty:  64 << 20,
		MaxAge:    2 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer wb.Close(ctx)

	f, err := wb.Open(ctx, "greeting", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Println(err)
		return
	}
	f.WriteAt(ctx, []byte("hello, write-back"), 0)
	st, _ := wb.Stat(ctx, "greeting")
	onBackend, _ := afero.ReadFile(mem, "/greeting")
	fmt.Printf("size %d, on the backend %q\n", st.Size, onBackend)

	// close(2) sends Flush: the data goes to the backend, and an error
	// writing it back would be returned here.
	if err := f.(interface{ Flush(context.Context) error }).Flush(ctx); err != nil {
		fmt.Println(err)
	}
	f.Close()
	onBackend, _ = afero.ReadFile(mem, "/greeting")
	fmt.Printf("on the backend %q\n", onBackend)
	// Output:
	// size 17, on the backend ""
	// on the backend "hello, write-back"
}

// Stats shows what is buffered and what went wrong.
func ExampleFS_Stats() {
	ctx := context.Background()
	wb, err := writeback.New(aferofs.New(afero.NewMemMapFs()), writeback.Options{MaxAge: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer wb.Close(ctx)
	for _, name := range []string{"a", "b"} {
		f, _ := wb.Open(ctx, name, os.O_WRONLY|os.O_CREATE, 0o644)
		f.WriteAt(ctx, make([]byte, 1000), 0)
		defer f.Close()
	}
	s := wb.Stats()
	fmt.Println("dirty:", s.DirtyBytes, "bytes in", s.DirtyFiles, "files")
	for _, fs := range wb.Files() {
		fmt.Println(fs.Name, fs.DirtyBytes)
	}

	if err := wb.SyncFS(ctx); err != nil {
		fmt.Println(err)
	}
	s = wb.Stats()
	fmt.Println("dirty:", s.DirtyBytes, "written:", s.WrittenBytes, "errors:", s.WriteBackErrors)
	// Stats counts whole 4 KiB pages, as the limits do; Files the bytes.
	// Output:
	// dirty: 8192 bytes in 2 files
	// a 1000
	// b 1000
	// dirty: 0 written: 2000 errors: 0
}

// Tell lost data from other trouble: SyncFS (and so sdk.Server.Unmount)
// and Close name what never reached the backend. Here the backend refuses
// every write to one file.
func ExampleDataLostError() {
	ctx := context.Background()
	store := faultfs.New(afero.NewMemMapFs(), faultfs.Config{})
	store.Inject(faultfs.Rule{Op: faultfs.OpWrite, Path: "report.txt"})
	wb, err := writeback.New(aferofs.New(store), writeback.Options{Retries: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := wb.Open(ctx, "report.txt", os.O_WRONLY|os.O_CREATE, 0o644)
	f.WriteAt(ctx, []byte("quarterly numbers"), 0)
	fmt.Println("close:", f.(sdk.Flusher).Flush(ctx) != nil)
	f.Close()

	err = wb.Close(ctx)
	var lost *writeback.DataLostError
	if errors.Is(err, writeback.ErrDataLost) && errors.As(err, &lost) {
		for _, lf := range lost.Files {
			fmt.Printf("lost %d bytes of %s\n", lf.Bytes, lf.Name)
		}
	}
	// Output:
	// close: true
	// lost 17 bytes of report.txt
}
