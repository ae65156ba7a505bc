package sftpfs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// DialOption adjusts Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	root    string
	timeout time.Duration
	sftp    []sftp.ClientOption
}

// WithRoot makes the Fs serve dir instead of the server's "/". dir must be
// an absolute, clean path of an existing directory.
func WithRoot(dir string) DialOption {
	return func(c *dialConfig) { c.root = dir }
}

// WithTimeout bounds the TCP connect and SSH handshake (10 seconds by
// default). It does not bound later requests.
func WithTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) { c.timeout = d }
}

// WithClientOptions passes options to sftp.NewClient, for example
// sftp.UseConcurrentWrites or sftp.MaxPacket.
func WithClientOptions(opts ...sftp.ClientOption) DialOption {
	return func(c *dialConfig) { c.sftp = append(c.sftp, opts...) }
}

// Dial connects to the SSH server at addr ("host:port") as user with the
// key in signer, accepting only the host key hostKey, starts an SFTP session
// and returns an Fs over it with the closer that ends the session and the
// connection. There is deliberately no way to skip host key checking.
func Dial(addr, user string, signer ssh.Signer, hostKey ssh.PublicKey, opts ...DialOption) (*Fs, io.Closer, error) {
	if signer == nil {
		return nil, nil, errors.New("sftpfs: Dial needs a client key (signer is nil)")
	}
	if hostKey == nil {
		return nil, nil, errors.New("sftpfs: Dial needs the server's host key to pin (hostKey is nil)")
	}
	cfg := dialConfig{root: "/", timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         cfg.timeout,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sftpfs: ssh to %s: %w", addr, err)
	}
	client, err := sftp.NewClient(conn, cfg.sftp...)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("sftpfs: sftp session on %s: %w", addr, err)
	}
	fsys, err := New(client, cfg.root)
	if err != nil {
		client.Close()
		conn.Close()
		return nil, nil, err
	}
	return fsys, &session{client: client, conn: conn}, nil
}

// session owns the SFTP client and the SSH connection under it.
type session struct {
	client *sftp.Client
	conn   *ssh.Client
	once   sync.Once
	err    error
}

// Close ends the SFTP session, then the SSH connection. Later calls return
// the first result.
func (s *session) Close() error {
	s.once.Do(func() {
		// The client's error only repeats what closing the connection
		// reports: both close the same channel.
		s.client.Close()
		if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.err = fmt.Errorf("sftpfs: closing the ssh connection: %w", err)
		}
	})
	return s.err
}
