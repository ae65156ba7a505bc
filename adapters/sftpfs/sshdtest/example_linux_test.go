package sshdtest_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fusekit/fusekit/adapters/sftpfs/sshdtest"
)

// StartServer runs sshd outside a test, for a benchmark or a command; the
// caller stops it. In a test, sshdtest.Start(t) does both.
func ExampleStartServer() {
	srv, err := sshdtest.StartServer("")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	client, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	dir, err := os.MkdirTemp("", "sshdtest-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := client.Create(filepath.Join(dir, "uploaded"))
	if err != nil {
		log.Fatal(err)
	}
	f.Write([]byte("12345"))
	f.Close()

	fi, err := os.Stat(filepath.Join(dir, "uploaded"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fi.Size(), "bytes arrived through sshd")
	// Output: 5 bytes arrived through sshd
}
