package sftpfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/fusekit/fusekit/adapters/sftpfs"
	"github.com/fusekit/fusekit/adapters/sftpfs/sshdtest"
	"github.com/spf13/afero"
	"golang.org/x/crypto/ssh"
)

// New serves one directory of an SFTP server as an afero.Fs. Here the
// server is a private sshd on loopback, so the directory is also on this
// machine.
func ExampleNew() {
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
	dir, err := os.MkdirTemp("", "sftpfs-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	fsys, err := sftpfs.New(client, dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := afero.WriteFile(fsys, "/greeting.txt", []byte("hello over sftp"), 0o600); err != nil {
		log.Fatal(err)
	}
	onServer, _ := os.ReadFile(filepath.Join(dir, "greeting.txt"))
	fmt.Println(string(onServer))

	_, err = fsys.Open("../outside")
	fmt.Println(errors.Is(err, fs.ErrInvalid))
	// Output:
	// hello over sftp
	// true
}

// Dial connects with a key file and a pinned host key, here read from the
// server's public host key file.
func ExampleDial() {
	keyPEM, err := os.ReadFile(os.ExpandEnv("$HOME/.ssh/id_ed25519"))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	hostLine, err := os.ReadFile("ssh_host_ed25519_key.pub") // copied from the server's /etc/ssh
	if err != nil {
		log.Fatal(err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(hostLine)
	if err != nil {
		log.Fatal(err)
	}

	fsys, conn, err := sftpfs.Dial("files.example.com:22", "backup", signer, hostKey, sftpfs.WithRoot("/srv/backup"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	names, err := afero.Glob(fsys, "*.tar")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
}
