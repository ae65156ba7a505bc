// Package sshdtest runs a private OpenSSH server on the loopback interface for
// tests and benchmarks, the way net/http/httptest runs an HTTP server.
//
// Start (for tests) and StartServer (for benchmarks and commands) write a
// fresh configuration into a new directory: an ed25519 host key and an
// ed25519 client key generated in Go, an authorized_keys file holding the
// client key, and an sshd_config that listens on a free port of 127.0.0.1,
// accepts only that key, and serves SFTP with OpenSSH's internal-sftp. They
// then run /usr/sbin/sshd in the foreground as a child of this process and
// return once the port accepts connections. The child is killed if this
// process dies (Linux parent-death signal), so a crashed test leaves no
// listener behind.
//
// Clients pin the generated host key (Server.HostKey); nothing here turns
// host key checking off. Server.Client returns a ready *sftp.Client whose SSH
// connection closes with it. Stop closes the clients it handed out, kills
// sshd and the per-connection processes it forked, and removes the
// directory; Start registers Stop with t.Cleanup.
//
// The server runs as the current user, which on the machines this project
// tests on is root: sshd's privilege separation needs root and the
// directory /run/sshd, which Start creates. When /usr/sbin/sshd is missing
// Start fails the test (it never skips): install Debian's openssh-server
// package (apt-get install -y openssh-server), as `make deps` does.
//
// The package is Linux-only; on other systems it is empty.
package sshdtest
