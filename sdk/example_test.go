//go:build linux

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
)

// Mount a filesystem, use it through ordinary system calls, and unmount it.
func ExampleMount() {
	dir, err := os.MkdirTemp("", "fusekit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{FSName: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Unmount(context.Background())

	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(filepath.Join(dir, "hello.txt"))
	fmt.Printf("%q\n", data)
	fmt.Println("writes:", srv.Stats().Ops[sdk.OpWrite].Count)
	// Output:
	// "hello\n"
	// writes: 1
}

// Every bad input gets an error that names what is wrong.
func ExampleMount_errors() {
	_, err := sdk.Mount(sdktest.NewMemFS(), "/no/such/dir", nil)
	fmt.Println(err)
	_, err = sdk.Mount(sdktest.NewMemFS(), os.TempDir(), &sdk.Options{Umask: sdk.Uint32(0o7777)})
	fmt.Println(err)
	// Output:
	// sdk: cannot mount on /no/such/dir: the mountpoint does not exist
	// sdk: invalid Options.Umask = 07777: must be within 0777
}

// Errno is the one place where Go errors become what the kernel sees.
func ExampleErrno() {
	fmt.Println(sdk.Errno(os.ErrNotExist) == 2, sdk.Errno(fmt.Errorf("disk: %w", sdk.ErrReadOnly)))
	// Output: true read-only file system
}

// A program that resolves its mountpoint itself, before Mount, checks for a
// dead mount left by an earlier run first: stat, lstat and
// filepath.EvalSymlinks all fail on one with "transport endpoint is not
// connected". With a -clear-stale flag it removes it instead.
func ExampleCheckStale() {
	dir, err := os.MkdirTemp("", "fusekit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	clearStale := false // from a -clear-stale flag
	if clearStale {
		err = sdk.ClearStale(dir)
	} else {
		err = sdk.CheckStale(dir)
	}
	if errors.Is(err, sdk.ErrStaleMount) {
		fmt.Println("a stale mount is in the way:", err)
		return
	}
	real, err := filepath.EvalSymlinks(dir)
	fmt.Println(real != "", err)
	// Output:
	// true <nil>
}
