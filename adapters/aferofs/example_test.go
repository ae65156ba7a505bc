package aferofs_test

import (
	"context"
	"fmt"
	"syscall"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/spf13/afero"
)

// New serves an afero filesystem through the SDK's interface; sdk.Mount
// would mount it.
func ExampleNew() {
	mem := afero.NewMemMapFs()
	_ = afero.WriteFile(mem, "/hello.txt", []byte("hello, world\n"), 0o644)

	fsys := aferofs.New(mem)
	ctx := context.Background()
	a, _ := fsys.Stat(ctx, "hello.txt")
	fmt.Printf("%v %d bytes\n", sdk.UnixToFileMode(a.Mode), a.Size)

	err := fsys.Symlink(ctx, "hello.txt", "link")
	fmt.Println("symlink on MemMapFs:", sdk.Errno(err) == syscall.EOPNOTSUPP)
	// Output:
	// -rw-r--r-- 13 bytes
	// symlink on MemMapFs: true
}

// Options.Root serves a subtree; a caller in the context owns what it creates.
func ExampleNewWithOptions() {
	mem := afero.NewMemMapFs()
	_ = mem.MkdirAll("/srv/export", 0o755)
	fsys, err := aferofs.NewWithOptions(mem, &aferofs.Options{Root: "/srv/export"})
	if err != nil {
		panic(err)
	}
	ctx := sdk.WithCaller(context.Background(), sdk.Caller{Uid: 1000, Gid: 100})
	_ = fsys.Mkdir(ctx, "docs", 0o750)

	a, _ := fsys.Stat(ctx, "docs")
	fmt.Printf("%v owned by %d:%d\n", sdk.UnixToFileMode(a.Mode), a.Uid, a.Gid)
	ok, _ := afero.DirExists(mem, "/srv/export/docs")
	fmt.Println("in the afero Fs:", ok)
	// Output:
	// drwxr-x--- owned by 1000:100
	// in the afero Fs: true
}

// ToAfero lets afero code use any SDK filesystem.
func ExampleToAfero() {
	afs := aferofs.ToAfero(aferofs.New(afero.NewMemMapFs()))
	_ = afs.MkdirAll("/a/b", 0o755)
	_ = afero.WriteFile(afs, "/a/b/c.txt", []byte("via the SDK"), 0o600)

	data, _ := afero.ReadFile(afs, "/a/b/c.txt")
	fmt.Println(string(data))
	_, err := afs.Stat("/a/missing")
	fmt.Println(err)
	// Output:
	// via the SDK
	// stat /a/missing: no such file or directory
}

// Options.MaxFileSize bounds what one write or truncate may make a file
// cost; beyond it the caller gets EFBIG ("File too large").
func ExampleOptions_maxFileSize() {
	fsys, err := aferofs.NewWithOptions(afero.NewMemMapFs(), &aferofs.Options{MaxFileSize: 1 << 20})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	f, _ := fsys.Open(ctx, "f", syscall.O_CREAT|syscall.O_RDWR, 0o644)
	defer f.Close()

	fmt.Println(sdk.Errno(f.Truncate(ctx, 16<<40)))
	n, err := f.WriteAt(ctx, []byte("abcd"), 1<<20-2)
	fmt.Println(n, sdk.Errno(err))
	// Output:
	// file too large
	// 2 file too large
}

// RenameExchange swaps two names, here a file and a directory.
func ExampleFS_Rename_exchange() {
	mem := afero.NewMemMapFs()
	_ = afero.WriteFile(mem, "/a", []byte("file"), 0o644)
	_ = mem.MkdirAll("/b/inside", 0o755)
	fsys := aferofs.New(mem)

	err := fsys.Rename(context.Background(), "a", "b", sdk.RenameExchange)
	fmt.Println(err)
	data, _ := afero.ReadFile(mem, "/b")
	ok, _ := afero.DirExists(mem, "/a/inside")
	fmt.Println(string(data), ok)
	// Output:
	// <nil>
	// file true
}
