package sshdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestServerServesSFTPWithPinnedKeys(t *testing.T) {
	s := Start(t)

	c, err := s.Client()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	dir := t.TempDir()
	f, err := c.Create(dir + "/hello")
	require.NoError(t, err)
	_, err = f.Write([]byte("over sftp"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err := os.ReadFile(filepath.Join(dir, "hello"))
	require.NoError(t, err)
	assert.Equal(t, "over sftp", string(got))

	// The known_hosts file pins the same key a client is told about.
	check, err := knownhosts.New(s.KnownHostsFile)
	require.NoError(t, err)
	require.NoError(t, check(s.Addr, fakeAddr(s.Addr), s.HostKey))

	// Another host key is refused: nothing here disables host key checks.
	other, err := writeKey(filepath.Join(t.TempDir(), "k"), "other")
	require.NoError(t, err)
	cfg := s.ClientConfig()
	cfg.HostKeyCallback = ssh.FixedHostKey(other.PublicKey())
	_, err = ssh.Dial("tcp", s.Addr, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host key mismatch")

	// So is a client key other than the authorised one.
	cfg = s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(other)}
	_, err = ssh.Dial("tcp", s.Addr, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to authenticate")
}

// TestKeyFilesWorkForOpenSSHClients checks the files benchmarks hand to
// external tools: the real ssh(1) client logs in with them.
func TestKeyFilesWorkForOpenSSHClients(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	require.NoError(t, err, "the ssh client comes with openssh-server; %s", InstallHint)
	s := Start(t)
	host, port, _ := strings.Cut(s.Addr, ":")
	out, err := exec.Command(sshBin, "-F", "/dev/null", "-p", port,
		"-i", s.ClientKeyFile, "-o", "UserKnownHostsFile="+s.KnownHostsFile,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-l", s.User, host, "echo", "logged-in").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "logged-in", strings.TrimSpace(string(out)))
}

func TestStopKillsServerAndLeftOpenConnections(t *testing.T) {
	s, err := StartServer(t.TempDir())
	require.NoError(t, err)
	pid := s.proc.pid

	// A connection Stop does not know about, left open on purpose.
	leaked, err := ssh.Dial("tcp", s.Addr, s.ClientConfig())
	require.NoError(t, err)
	defer leaked.Close()
	kids := descendants(processTree(), pid)
	require.NotEmpty(t, kids, "sshd forks a process per connection")

	c, err := s.Client()
	require.NoError(t, err)

	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")

	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "sshd is gone")
	for _, kid := range kids {
		assert.False(t, running(kid), "connection process %d is gone", kid)
	}
	assert.NoDirExists(t, s.Dir)

	// The leaked connection is dead, and so is the client Stop closed.
	_, err = leaked.NewSession()
	assert.Error(t, err)
	_, err = c.Getwd()
	assert.Error(t, err)

	_, err = s.Client()
	assert.ErrorContains(t, err, "after Stop")
}

func TestClosingAClientClosesItsConnection(t *testing.T) {
	s := Start(t)
	c, err := s.Client()
	require.NoError(t, err)
	require.NoError(t, c.Close())
	// The closer goroutine forgets the connection; Stop then has nothing to
	// close and its wait returns.
	s.closers.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Empty(t, s.conns)
}

func TestStopReportsAServerThatDied(t *testing.T) {
	s, err := StartServer(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(s.proc.pid, syscall.SIGKILL))
	<-s.proc.exited
	err = s.Stop()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "had exited by itself")
	assert.NoDirExists(t, s.Dir)
}

func TestMissingSSHDSaysWhatToInstall(t *testing.T) {
	dir := t.TempDir()
	_, err := startServer(dir, filepath.Join(dir, "no-sshd"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apt-get install -y openssh-server")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing is left behind")
}

func TestStartServerRejectsAMissingParentDirectory(t *testing.T) {
	_, err := StartServer(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

func TestConfigIsSelfContained(t *testing.T) {
	s := &Server{Dir: "/tmp/with space"}
	cfg := s.config(2222, "/tmp/with space/authorized_keys")
	for _, want := range []string{
		"Port 2222\n",
		"ListenAddress 127.0.0.1\n",
		`HostKey "/tmp/with space/host_key"` + "\n",
		`AuthorizedKeysFile "/tmp/with space/authorized_keys"` + "\n",
		"PasswordAuthentication no\n",
		"PermitRootLogin prohibit-password\n",
		"Subsystem sftp internal-sftp\n",
	} {
		assert.Contains(t, cfg, want)
	}
}

func TestParentPID(t *testing.T) {
	ppid, ok := parentPID(os.Getpid())
	require.True(t, ok)
	assert.Equal(t, os.Getppid(), ppid)
	_, ok = parentPID(-1)
	assert.False(t, ok)
}

// running reports whether pid exists and is not a zombie: the killed
// connection processes were re-parented, and reaping them is their new
// parent's business.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	state := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
	return state != "Z" && state != "X"
}

// fakeAddr is the net.Addr knownhosts wants next to the host name.
type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }
