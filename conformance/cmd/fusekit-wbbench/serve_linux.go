package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/adapters/aferofs"
	"github.com/fusekit/fusekit/adapters/faultfs"
	"github.com/fusekit/fusekit/adapters/sftpfs"
	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/writeback"
	"github.com/pkg/sftp"
	"github.com/spf13/afero"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// serveTimeout bounds the unmount and the final write-back at exit.
const serveTimeout = 2 * time.Minute

// serveConfig is the command line of "fusekit-wbbench serve".
type serveConfig struct {
	addr, user, keyFile, knownHosts, root string
	local                                 string
	latency                               time.Duration
	writeback                             bool
	journal                               string
	mountpoint                            string
}

const serveUsage = `Usage: fusekit-wbbench serve [flags] MOUNTPOINT

Mounts the directory -root of the SFTP server at -sftp-addr on MOUNTPOINT
(aferofs over adapters/sftpfs, with concurrent SFTP writes), or the local
directory -local (aferofs over afero's OsFs), optionally slowed down by
-latency per call (adapters/faultfs) and behind sdk/writeback, until SIGINT
or SIGTERM. Prints one "mounted on" line when the mount is live; exits
non-zero if anything could not be written back.

Flags:
`

func parseServeArgs(args []string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fl.PrintDefaults()
	}
	fl.StringVar(&c.addr, "sftp-addr", "", "SSH server `host:port` (required)")
	fl.StringVar(&c.user, "user", "", "SSH user (required)")
	fl.StringVar(&c.keyFile, "key", "", "client private key `file` (required)")
	fl.StringVar(&c.knownHosts, "known-hosts", "", "known_hosts `file` holding the server's host key (required)")
	fl.StringVar(&c.root, "root", "/", "absolute server directory to mount")
	fl.StringVar(&c.local, "local", "", "mount this local `directory` instead of an SFTP server")
	fl.DurationVar(&c.latency, "latency", 0, "delay every call to the store by this much (adapters/faultfs)")
	fl.BoolVar(&c.writeback, "writeback", false, "buffer writes with sdk/writeback")
	fl.StringVar(&c.journal, "journal", "", "with -writeback: journal every write in this local `directory` first (writeback.Options.Journal)")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if c.latency < 0 {
		return nil, fmt.Errorf("serve: -latency must not be negative, got %v", c.latency)
	}
	for _, req := range []struct{ flag, v string }{
		{"-sftp-addr", c.addr}, {"-user", c.user}, {"-key", c.keyFile}, {"-known-hosts", c.knownHosts},
	} {
		switch {
		case c.local != "" && req.v != "":
			return nil, fmt.Errorf("serve: -local and %s exclude each other", req.flag)
		case c.local == "" && req.v == "":
			return nil, fmt.Errorf("serve: %s is required (or -local)", req.flag)
		}
	}
	if fl.NArg() != 1 {
		return nil, fmt.Errorf("serve: want one MOUNTPOINT, got %d arguments", fl.NArg())
	}
	c.mountpoint = fl.Arg(0)
	return c, nil
}

// hostKeyFor finds addr's key in a known_hosts file.
func hostKeyFor(file, addr string) (ssh.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	want := knownhosts.Normalize(addr)
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		var hosts []string
		var key ssh.PublicKey
		_, hosts, key, _, rest, err = ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, fmt.Errorf("known hosts %s: %w", file, err)
		}
		for _, h := range hosts {
			if knownhosts.Normalize(h) == want {
				return key, nil
			}
		}
	}
	return nil, fmt.Errorf("known hosts %s has no key for %s", file, want)
}

// serveMain is "fusekit-wbbench serve"; it returns the exit status.
func serveMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseServeArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// Signals first: the bench may stop a server that is still mounting.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	if err := serve(c, stdout, stderr, stop); err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	return 0
}

func serve(c *serveConfig, stdout, stderr io.Writer, stop <-chan os.Signal) (err error) {
	var store afero.Fs
	fsname := "local:" + c.local
	if c.local != "" {
		store = afero.NewBasePathFs(afero.NewOsFs(), c.local)
	} else {
		remote, conn, derr := dialSFTP(c)
		if derr != nil {
			return derr
		}
		defer func() { err = errors.Join(err, conn.Close()) }()
		store, fsname = remote, "sftp:"+c.addr+":"+c.root
	}
	if c.latency > 0 {
		store = faultfs.New(store, faultfs.Config{Latency: c.latency})
	}

	var fsys sdk.FileSystem = aferofs.New(store)
	var wb *writeback.FS
	if c.writeback {
		if wb, err = writeback.New(fsys, writeback.Options{Journal: c.journal}); err != nil {
			return err
		}
		fsys = wb
	}
	// Neither store has extended attributes. Saying so (the SDK would also
	// find out at mount) keeps the kernel from asking for
	// security.capability before every write(2), a round trip that
	// write-back (whose FS always offers xattrs) would pay and
	// write-through (aferofs offers none) would not.
	srv, err := sdk.Mount(fsys, c.mountpoint, &sdk.Options{FSName: fsname, Subtype: "wbbench", NoXattrs: true})
	if err != nil {
		if wb != nil {
			wb.Close(context.Background())
		}
		return err
	}
	mode := "write-through"
	if wb != nil {
		mode = "write-back"
	}
	fmt.Fprintf(stdout, "serve: mounted on %s (%s, %s build)\n", srv.Dir(), mode, sdk.Build)

	select {
	case <-stop:
		// While the mount is live cgofuse unmounts on SIGINT and SIGTERM
		// itself, and an Unmount from here at the same moment races its
		// signal goroutine; so wait for that, and unmount here only if it
		// does not happen (a signal that came before the mount was live).
		select {
		case <-srv.Done():
		case <-time.After(5 * time.Second):
		}
	case <-srv.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	uerr := srv.Unmount(ctx)
	if errors.Is(uerr, sdk.ErrNotMounted) {
		uerr = srv.Wait()
	}
	if uerr != nil {
		err = errors.Join(err, fmt.Errorf("unmount: %w", uerr))
	}
	if wb != nil {
		if cerr := wb.Close(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("write-back: %w", cerr))
		}
		st := wb.Stats()
		fmt.Fprintf(stdout, "serve: write-back: %d bytes written back, %d errors, %d retries\n", st.WrittenBytes, st.WriteBackErrors, st.Retries)
	}
	return err
}

// dialSFTP connects to the SFTP server c names.
func dialSFTP(c *serveConfig) (*sftpfs.Fs, io.Closer, error) {
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("client key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("client key %s: %w", c.keyFile, err)
	}
	hostKey, err := hostKeyFor(c.knownHosts, c.addr)
	if err != nil {
		return nil, nil, err
	}
	// Concurrent writes let one large WriteAt (a write-back chunk, or a
	// 128 KiB FUSE write) have many SFTP packets in flight, as rclone's
	// sftp backend does by default.
	return sftpfs.Dial(c.addr, c.user, signer, hostKey,
		sftpfs.WithRoot(c.root), sftpfs.WithClientOptions(sftp.UseConcurrentWrites(true)))
}
