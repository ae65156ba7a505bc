package passthrough_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fusekit/fusekit/adapters/passthrough"
	"github.com/fusekit/fusekit/sdk"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "passthrough-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "etc")); err != nil {
		log.Fatal(err)
	}

	fsys, err := passthrough.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()

	ctx := context.Background()
	attr, err := fsys.Stat(ctx, "hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	f, err := fsys.Open(ctx, "hello.txt", os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, attr.Size)
	if _, err := f.ReadAt(ctx, buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes, mode %v: %s", attr.Size, attr.FileMode(), buf)

	// A symbolic link cannot lead a walk out of the root.
	_, err = fsys.Stat(ctx, "etc/passwd")
	fmt.Println(sdk.Errno(err))
	// Output:
	// 13 bytes, mode -rw-r--r--: hello, world
	// invalid cross-device link
}

// Mirror a directory at a mountpoint until the process is told to stop.
func ExampleNew_mount() {
	fsys, err := passthrough.New("/srv/data")
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()
	srv, err := sdk.Mount(fsys, "/mnt/data", &sdk.Options{FSName: "passthrough", HandleSignals: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		log.Fatal(err)
	}
}
