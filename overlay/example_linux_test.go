//go:build linux

package overlay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/overlay"
	"github.com/fusekit/fusekit/sdk"
)

// Host directories as layers, with a work directory beside the upper on the
// same filesystem, as for kernel overlayfs: copy-ups are prepared in it, so
// the upper receives only the layer. Run as root, the upper takes the
// kernel's markers and metacopy format, and `mount -t overlay -o
// lowerdir=L,upperdir=U,workdir=W2,metacopy=on` shows what this overlay did.
func ExampleConfig_work() {
	root, _ := os.MkdirTemp("", "overlay-example")
	defer os.RemoveAll(root)
	dir := func(name string) string {
		p := filepath.Join(root, name)
		os.Mkdir(p, 0o755)
		return p
	}
	lowerDir, upperDir, workDir := dir("lower"), dir("upper"), dir("work")
	os.WriteFile(filepath.Join(lowerDir, "f"), []byte("lower data"), 0o644)

	var layers []*passthrough.FS
	for _, d := range []string{lowerDir, upperDir, workDir} {
		l, err := passthrough.New(d)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer l.Close()
		layers = append(layers, l)
	}
	fsys, err := overlay.New(overlay.Config{Lowers: []sdk.FileSystem{layers[0]}, Upper: layers[1], Work: layers[2]})
	if err != nil {
		fmt.Println(err)
		return
	}
	fsys.Chmod(context.Background(), "f", 0o600) // a copy-up of the metadata only

	ls := func(d string) []string {
		ents, _ := os.ReadDir(d)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	fmt.Println("whiteouts:", fsys.Format(), "metacopy:", fsys.MetacopyMode())
	fmt.Println("upper:", ls(upperDir))
	fmt.Println("work:", ls(workDir), ls(filepath.Join(workDir, "work")))
	// Output:
	// whiteouts: kernel metacopy: kernel
	// upper: [f]
	// work: [work] []
}
