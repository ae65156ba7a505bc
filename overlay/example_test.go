package overlay_test

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/afero"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
)

func memLayer(files map[string]string) sdk.FileSystem {
	m := afero.NewMemMapFs()
	for name, data := range files {
		afero.WriteFile(m, "/"+name, []byte(data), 0o644)
	}
	return aferofs.New(m)
}

func list(fsys sdk.FileSystem, dir string) []string {
	ents, _ := fsys.ReadDir(context.Background(), dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return names
}

// An overlay of two in-memory lowers under an in-memory upper: the upper
// receives every change, in the OCI marker format because a MemMapFs cannot
// hold character devices.
func Example() {
	ctx := context.Background()
	base := memLayer(map[string]string{"etc/motd": "base\n", "etc/hosts": "localhost\n"})
	patch := memLayer(map[string]string{"etc/motd": "patched\n"})
	upper := memLayer(nil)

	fsys, err := overlay.New(overlay.Config{Upper: upper, Lowers: []sdk.FileSystem{patch, base}})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := fsys.Open(ctx, "etc/motd", 0, 0) // O_RDONLY
	data, _ := io.ReadAll(io.NewSectionReader(readerAt{ctx, f}, 0, 1<<20))
	f.Close()
	fmt.Printf("motd: %s", data)

	fsys.Unlink(ctx, "etc/hosts")
	fmt.Println("merged etc:", list(fsys, "etc"))
	fmt.Println("upper etc:", list(upper, "etc"))
	fmt.Println("format:", fsys.Format())
	// Output:
	// motd: patched
	// merged etc: [motd]
	// upper etc: [.wh.hosts]
	// format: oci
}

// readerAt adapts an sdk.File to io.ReaderAt.
type readerAt struct {
	ctx context.Context
	f   sdk.File
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(r.ctx, p, off) }

// Names that the overlay would read back as markers cannot be created.
func ExampleReservedNameError() {
	fsys, _ := overlay.New(overlay.Config{Upper: memLayer(nil), Lowers: []sdk.FileSystem{memLayer(nil)}})
	err := fsys.Mkdir(context.Background(), ".wh.x", 0o755)
	fmt.Println(err)
	fmt.Println(sdk.Errno(err))
	// Output:
	// mkdir .wh.x: overlay: ".wh.x" is reserved: names starting with ".wh." are whiteout markers in this overlay
	// invalid argument
}

// ParseWhiteoutName classifies the OCI/AUFS marker names.
func ExampleParseWhiteoutName() {
	for _, name := range []string{"file", ".wh.file", ".wh..wh..opq", ".wh..wh.plnk"} {
		kind, hidden := overlay.ParseWhiteoutName(name)
		fmt.Printf("%-14s %-9v %q\n", name, kind, hidden)
	}
	// Output:
	// file           name      ""
	// .wh.file       whiteout  "file"
	// .wh..wh..opq   opaque    ""
	// .wh..wh.plnk   aufs-meta ""
}
