package sshdtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	// SSHD is the OpenSSH server binary that Start runs. sshd re-executes
	// itself for every connection, so the path must be absolute.
	SSHD = "/usr/sbin/sshd"

	// InstallHint tells a person what to do when SSHD is missing.
	InstallHint = "install openssh-server (apt-get install -y openssh-server)"

	// privsepDir is the privilege-separation directory Debian's sshd
	// insists on; it must be owned by root and not writable by others.
	privsepDir = "/run/sshd"

	// startTimeout bounds how long StartServer waits for the port to accept
	// connections. It is a bound on a broken setup, not a measurement.
	startTimeout = 20 * time.Second

	// bindAttempts is how often StartServer picks a new port when another
	// process took the free one before sshd could bind it.
	bindAttempts = 5

	// reapTimeout bounds how long Stop lets connection processes be reaped
	// by their parents before it kills them all at once.
	reapTimeout = 5 * time.Second
)

// Server is a running sshd. Its exported fields are set by StartServer and
// must not be changed.
type Server struct {
	// Addr is the "127.0.0.1:port" address sshd listens on.
	Addr string
	// User is the account clients log in as: the current user.
	User string
	// Signer holds the client's private key, the only key sshd accepts.
	Signer ssh.Signer
	// HostKey is the server's public host key, for pinning.
	HostKey ssh.PublicKey

	// Dir holds the files below; Stop removes it.
	Dir string
	// ConfigFile is the sshd_config sshd runs with.
	ConfigFile string
	// ClientKeyFile is the client's private key in OpenSSH format, for tools
	// such as ssh(1) or rclone that read a key file.
	ClientKeyFile string
	// KnownHostsFile lists HostKey for Addr in known_hosts format.
	KnownHostsFile string
	// LogFile receives sshd's own messages (LogLevel ERROR).
	LogFile string

	sshd string // the binary
	proc *process

	// mu guards conns and stopped.
	mu      sync.Mutex
	conns   map[*ssh.Client]struct{}
	stopped bool
	// closers counts the goroutines that close a client's SSH connection
	// once the client is closed; Stop waits for them.
	closers sync.WaitGroup

	stopOnce sync.Once
	stopErr  error
}

// process is one sshd child and the result of waiting for it.
type process struct {
	pid    int
	exited chan struct{} // closed once err is set
	err    error         // what cmd.Wait returned
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("sshd could not bind its port")

// Start runs a new sshd for the test and stops it in t.Cleanup. Any failure,
// including a missing /usr/sbin/sshd, fails the test at once.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("sshdtest: %v", err)
		}
	})
	return s
}

// StartServer runs a new sshd whose files live in a new directory inside dir
// (the system temporary directory when dir is empty). The caller must call
// Stop.
func StartServer(dir string) (*Server, error) {
	return startServer(dir, SSHD)
}

// startServer is StartServer with the sshd binary as a parameter, so that
// the missing-binary path can be tested.
func startServer(dir, sshd string) (*Server, error) {
	if _, err := os.Stat(sshd); err != nil {
		return nil, fmt.Errorf("%s is missing: %s", sshd, InstallHint)
	}
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		return nil, fmt.Errorf("sshd's privilege-separation directory: %w", err)
	}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("looking up the current user: %w", err)
	}
	work, err := os.MkdirTemp(dir, "sshd-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		User:           me.Username,
		Dir:            work,
		sshd:           sshd,
		ConfigFile:     filepath.Join(work, "sshd_config"),
		ClientKeyFile:  filepath.Join(work, "client_key"),
		KnownHostsFile: filepath.Join(work, "known_hosts"),
		LogFile:        filepath.Join(work, "sshd.log"),
		conns:          make(map[*ssh.Client]struct{}),
	}
	if err := s.start(); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	hostKey, err := writeKey(filepath.Join(s.Dir, "host_key"), "sshdtest host key")
	if err != nil {
		return err
	}
	s.HostKey = hostKey.PublicKey()
	if s.Signer, err = writeKey(s.ClientKeyFile, "sshdtest client key"); err != nil {
		return err
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(s.Signer.PublicKey()), 0o600); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := os.WriteFile(s.ConfigFile, []byte(s.config(port, authorized)), 0o600); err != nil {
			return err
		}
		err = s.launch()
		if err == nil {
			break
		}
		if !errors.Is(err, errBind) || attempt == bindAttempts {
			return err
		}
	}
	line := knownhosts.Line([]string{s.Addr}, s.HostKey) + "\n"
	return os.WriteFile(s.KnownHostsFile, []byte(line), 0o600)
}

// config is the whole sshd_config: nothing comes from /etc/ssh.
func (s *Server) config(port int, authorized string) string {
	var b strings.Builder
	set := func(key, value string) { fmt.Fprintf(&b, "%s %s\n", key, value) }
	set("Port", strconv.Itoa(port))
	set("ListenAddress", "127.0.0.1")
	set("HostKey", strconv.Quote(filepath.Join(s.Dir, "host_key")))
	set("AuthorizedKeysFile", strconv.Quote(authorized))
	set("PidFile", strconv.Quote(filepath.Join(s.Dir, "sshd.pid")))
	set("AuthenticationMethods", "publickey")
	set("PasswordAuthentication", "no")
	set("KbdInteractiveAuthentication", "no")
	set("PermitRootLogin", "prohibit-password")
	// The key files live in a temporary directory whose modes sshd's
	// owner checks would refuse.
	set("StrictModes", "no")
	set("UsePAM", "no")
	set("UseDNS", "no")
	set("PrintMotd", "no")
	set("Subsystem", "sftp internal-sftp")
	set("LogLevel", "ERROR")
	return b.String()
}

// launch starts sshd with s.ConfigFile and returns once it accepts
// connections on s.Addr. On failure sshd is gone when launch returns.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// A file rather than a pipe: sshd's children inherit the descriptor, and
	// cmd.Wait would otherwise wait for every one of them to close it.
	cmd := exec.Command(s.sshd, "-D", "-e", "-f", s.ConfigFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	p := &process{exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked sshd
		// exits, not the process. Locking keeps that thread alive for as
		// long as sshd runs; it is never unlocked, so the runtime retires
		// the thread once sshd is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	err = <-started
	logf.Close()
	if err != nil {
		return fmt.Errorf("starting %s: %w", s.sshd, err)
	}

	deadline := time.Now().Add(startTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			conn.Close()
			s.proc = p
			return nil
		}
		select {
		case <-p.exited:
			log := s.log()
			if strings.Contains(log, "Bind to port") || strings.Contains(log, "Cannot bind any address") {
				return fmt.Errorf("%w %s: %s", errBind, s.Addr, log)
			}
			return fmt.Errorf("sshd exited before accepting connections (%v): %s", p.err, log)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			syscall.Kill(p.pid, syscall.SIGKILL)
			<-p.exited
			return fmt.Errorf("sshd did not accept connections on %s within %v: %s", s.Addr, startTimeout, s.log())
		}
	}
}

// log returns what sshd has written so far, for error messages.
func (s *Server) log() string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) == 0 {
		return "(sshd logged nothing)"
	}
	return strings.TrimSpace(string(b))
}

// ClientConfig returns an SSH client configuration that logs in as User with
// Signer and accepts only HostKey.
func (s *Server) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.Signer)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey),
		Timeout:         startTimeout,
	}
}

// Client connects to the server and starts an SFTP session. Closing the
// client also closes its SSH connection; Stop closes clients still open.
func (s *Server) Client(opts ...sftp.ClientOption) (*sftp.Client, error) {
	if s.isStopped() {
		return nil, errors.New("sshdtest: Client called after Stop")
	}
	conn, err := ssh.Dial("tcp", s.Addr, s.ClientConfig())
	if err != nil {
		return nil, fmt.Errorf("sshdtest: ssh to %s: %w", s.Addr, err)
	}
	c, err := sftp.NewClient(conn, opts...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sshdtest: sftp session on %s: %w", s.Addr, err)
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		c.Close()
		conn.Close()
		return nil, errors.New("sshdtest: Client called after Stop")
	}
	s.conns[conn] = struct{}{}
	s.closers.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.closers.Done()
		c.Wait() // returns once c is closed or the connection drops
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	return c, nil
}

func (s *Server) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Stop closes the clients Client handed out, kills sshd and the processes it
// forked for connections, and removes Dir. It reports an sshd that had died
// on its own. Calling Stop again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	s.mu.Lock()
	s.stopped = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
	s.closers.Wait()

	var errs []error
	select {
	case <-s.proc.exited:
		errs = append(errs, fmt.Errorf("sshd on %s had exited by itself (%v): %s", s.Addr, s.proc.err, s.log()))
	default:
		s.endConnections()
		syscall.Kill(s.proc.pid, syscall.SIGKILL)
		<-s.proc.exited
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// endConnections kills the processes sshd forked for connections that are
// still open (someone else's client, left open). They call setsid, so they
// are not in sshd's process group; they are found by parentage instead.
// Only leaves are killed, so that every process is reaped by its own parent
// (a connection's monitor reaps its session process, then sshd reaps the
// monitor); a process orphaned to an init that does not reap would stay a
// zombie. If that takes longer than reapTimeout, the rest die together.
func (s *Server) endConnections() {
	deadline := time.Now().Add(reapTimeout)
	for {
		tree := processTree()
		kids := descendants(tree, s.proc.pid)
		if len(kids) == 0 {
			return
		}
		late := time.Now().After(deadline)
		for _, pid := range kids {
			if late || len(tree[pid]) == 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if late {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processTree maps each process to its children, read from /proc.
func processTree() map[int][]int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := make(map[int][]int)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, ok := parentPID(child); ok {
			children[parent] = append(children[parent], child)
		}
	}
	return children
}

// descendants lists the processes below pid in tree, parents first.
func descendants(tree map[int][]int, pid int) []int {
	var out []int
	for queue := tree[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, tree[queue[0]]...)
	}
	return out
}

// parentPID reads the parent of pid from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself contain spaces and ")".
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	rest := string(b)
	i := strings.LastIndexByte(rest, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(rest[i+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// writeKey generates an ed25519 key, stores it at path in OpenSSH format and
// returns its signer.
func writeKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	// sshd ignores a host key that others may read.
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// freePort asks the kernel for a free loopback port. sshd binds it a moment
// later; launch retries when another process was faster.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
