package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	fkbench "github.com/fusekit/fusekit/conformance/bench"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fusekit/fusekit/adapters/sftpfs/sshdtest"
	"github.com/fusekit/fusekit/sdk"
)

// Bounds on a broken setup, not measurements.
const (
	mountTimeout = 30 * time.Second
	// stopTimeout covers the server's unmount, including a final
	// write-back, before it is killed.
	stopTimeout = 2 * time.Minute
	pollEvery   = 20 * time.Millisecond
)

// bench runs the rows of one invocation. Everything it starts lives under
// work and is stopped and removed by run before it returns.
type bench struct {
	opts *benchOptions
	log  io.Writer // progress lines
	// serveCmd makes the command that runs "fusekit-wbbench serve" with
	// args; tests point it at the test binary.
	serveCmd func(args ...string) *exec.Cmd

	work     string
	memfsBin string
	sources  map[int64]string // source file per size
	sshd     *sshdtest.Server
	remote   string // the directory the sftp and rclone rows write to, on the server
	local    string // the directory the latency-disk rows write to
	rcConfig string // an empty rclone config file
}

// selfServe runs the serve mode of the binary at path.
func selfServe(path string) func(args ...string) *exec.Cmd {
	return func(args ...string) *exec.Cmd {
		return exec.Command(path, append([]string{"serve"}, args...)...)
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "fusekit-wbbench: "+format+"\n", args...)
}

// run measures every row -only selects, -reps times, and cleans up after
// itself, also when ctx is canceled or a row fails. Each repetition runs
// every row once, starting one row later than the previous one, so that no
// row always follows the same one (a heavy writer's leftovers, such as
// dirty page cache, then do not always fall on the same row).
func (b *bench) run(ctx context.Context) (results []result, err error) {
	rows := plan(b.opts.only, b.opts.size, b.opts.wtLatencySize)
	if len(rows) == 0 {
		return nil, fmt.Errorf("-only %q matches no row; the rows are: %s", strings.Join(b.opts.only, ","), strings.Join(rowNames(), ", "))
	}
	need := map[backend]bool{}
	for _, r := range rows {
		need[r.config.backend] = true
	}
	if need[rcloneBackend] {
		if b.opts.rclone, err = exec.LookPath(b.opts.rclone); err != nil {
			return nil, fmt.Errorf("rclone: %w (install it with apt-get install -y rclone, or leave its rows out with -only)", err)
		}
	}
	for _, tool := range []string{"cp", "dd", "fusermount3"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, err
		}
	}

	if b.work, err = os.MkdirTemp(b.opts.dir, "fusekit-wbbench-"); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, b.cleanup()) }()

	if need[latencyBackend] {
		if err := b.buildMemfs(ctx); err != nil {
			return nil, err
		}
	}
	if need[sftpBackend] || need[rcloneBackend] {
		if err := b.startSSHD(); err != nil {
			return nil, err
		}
	}
	if need[diskBackend] {
		b.local = filepath.Join(b.work, "local")
		if err := os.Mkdir(b.local, 0o755); err != nil {
			return nil, err
		}
	}
	b.sources = map[int64]string{}
	for _, r := range rows {
		if _, ok := b.sources[r.size]; !ok {
			if b.sources[r.size], err = b.makeSource(r.size); err != nil {
				return nil, err
			}
		}
	}

	total := len(rows) * b.opts.reps
	for rep := range b.opts.reps {
		for k := range rows {
			r := rows[(k+rep)%len(rows)]
			i := rep*len(rows) + k
			if err := ctx.Err(); err != nil {
				return results, err
			}
			b.logf("[%d/%d] %s, %s", i+1, total, r.id(), fkbench.FormatSize(r.size))
			res := b.runRow(ctx, i, r)
			res.Rep = rep
			if res.Err != nil {
				b.logf("%s failed: %v", r.id(), res.Err)
			}
			results = append(results, res)
		}
	}
	return results, nil
}

// cleanup unmounts whatever is still mounted under the work directory,
// stops sshd and removes the directory.
func (b *bench) cleanup() error {
	var errs []error
	for _, dir := range mountsUnder(b.work) {
		if err := exec.Command("fusermount3", "-u", "-z", dir).Run(); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", dir, err))
		}
	}
	if b.sshd != nil {
		errs = append(errs, b.sshd.Stop())
	}
	if len(mountsUnder(b.work)) == 0 { // never descend into a live mount
		errs = append(errs, os.RemoveAll(b.work))
	} else {
		errs = append(errs, fmt.Errorf("left %s in place: mounts remain under it", b.work))
	}
	return errors.Join(errs...)
}

// buildMemfs builds examples/memfs for this binary's libfuse build, unless
// -memfs-bin names one.
func (b *bench) buildMemfs(ctx context.Context) error {
	if b.opts.memfsBin != "" {
		b.memfsBin = b.opts.memfsBin
		return nil
	}
	b.memfsBin = filepath.Join(b.work, "memfs")
	args := []string{"build", "-o", b.memfsBin}
	if sdk.Build == "fuse3" {
		args = append(args, "-tags", "fuse3")
	}
	args = append(args, "github.com/fusekit/fusekit/examples/memfs")
	b.logf("go %s", strings.Join(args, " "))
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building examples/memfs (run from inside the fusekit module, or pass -memfs-bin): %v: %s", err, out)
	}
	return nil
}

func (b *bench) startSSHD() error {
	var err error
	if b.sshd, err = sshdtest.StartServer(b.work); err != nil {
		return err
	}
	b.remote = filepath.Join(b.work, "remote")
	if err := os.Mkdir(b.remote, 0o755); err != nil {
		return err
	}
	b.rcConfig = filepath.Join(b.work, "rclone.conf")
	return os.WriteFile(b.rcConfig, nil, 0o600)
}

// makeSource writes size pseudo-random (incompressible) bytes to a file in
// the work directory, which is on local disk.
func (b *bench) makeSource(size int64) (string, error) {
	name := filepath.Join(b.work, "source-"+fkbench.FormatSize(size))
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	rng := rand.NewChaCha8([32]byte{'f', 'u', 's', 'e', 'k', 'i', 't'})
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = io.CopyN(w, rng, size)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	return name, errors.Join(err, f.Close())
}

// runRow starts the row's server, runs the workload, waits for the data
// to be on the server when there is one, checks it, reads the server's
// peak RSS and stops the server.
func (b *bench) runRow(ctx context.Context, i int, r row) (res result) {
	res = result{Config: r.config.name, Workload: r.workload.name, Bytes: r.size}
	ctx, cancel := context.WithTimeout(ctx, b.opts.rowTimeout)
	defer cancel()
	mnt, err := os.MkdirTemp(b.work, "mnt-")
	if err != nil {
		res.Err = err
		return res
	}
	srv, err := b.startServer(ctx, i, r.config, mnt)
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		if err := srv.stop(); err != nil {
			res.Err = errors.Join(res.Err, err)
		}
	}()

	name := fmt.Sprintf("row%d-%s", i, r.workload.name)
	dst := filepath.Join(mnt, name)
	argv := r.workload.argv(b.sources[r.size], dst)
	start := time.Now()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Err = fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
		return res
	}

	if dir := b.storeDir(r.config.backend); dir == "" {
		// The store is the server's memory: the size through the mount is
		// what can be checked.
		fi, err := os.Stat(dst)
		if err == nil && fi.Size() != r.size {
			err = fmt.Errorf("%s has %d bytes through the mount, want %d", dst, fi.Size(), r.size)
		}
		res.Err = err
		res.Check = "size"
	} else {
		onServer := filepath.Join(dir, name)
		res.OnServer, res.Err = waitOnServer(ctx, onServer, b.sources[r.size], r.size, start)
		res.Check = "content"
		defer os.Remove(onServer)
	}
	if res.Err == nil {
		res.PeakRSS, res.Err = peakRSS(srv.pid)
	}
	return res
}

// storeDir is the directory where a backend's files land, or "" for the
// in-memory store.
func (b *bench) storeDir(be backend) string {
	switch be {
	case diskBackend:
		return b.local
	case sftpBackend, rcloneBackend:
		return b.remote
	}
	return ""
}

// waitOnServer polls the server-side file until it has size bytes equal to
// the source, and returns the time from start at which it first had the
// full size. rclone uploads after close, with many writes in flight, so
// the size can be complete shortly before the content: the content check
// repeats until it passes.
func waitOnServer(ctx context.Context, name, source string, size int64, start time.Time) (time.Duration, error) {
	var full time.Duration
	for {
		fi, err := os.Stat(name)
		if err == nil && fi.Size() == size {
			if full == 0 {
				full = time.Since(start)
			}
			same, err := sameContent(name, source)
			if err != nil {
				return full, err
			}
			if same {
				return full, nil
			}
		}
		select {
		case <-ctx.Done():
			got := "no file"
			if fi != nil {
				got = strconv.FormatInt(fi.Size(), 10) + " bytes"
			}
			return 0, fmt.Errorf("the copy never fully reached the server (%s, want %d bytes the same as the source): %w", got, size, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if erra == io.EOF || erra == io.ErrUnexpectedEOF {
			return errb == io.EOF || errb == io.ErrUnexpectedEOF, nil
		}
		if erra != nil {
			return false, erra
		}
		if errb != nil {
			return false, errb
		}
	}
}

// peakRSS reads a live process's high-water resident set size.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's peak RSS: %w", err)
	}
	return parseVmHWM(data)
}

// parseVmHWM finds "VmHWM:  123 kB" in a /proc/PID/status file.
func parseVmHWM(status []byte) (int64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmHWM line in /proc/PID/status")
}

// server is a filesystem server process with its mount.
type server struct {
	pid    int
	mnt    string
	rclone bool
	out    *fkbench.Tail
	exited chan struct{} // closed once waitErr is set
	// waitErr is what cmd.Wait returned; read it only after exited.
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// writebackArgs adds the write-back flags of configuration c, with a
// journal directory of its own for run i.
func (b *bench) writebackArgs(i int, c configSpec, args []string) []string {
	if c.writeback {
		args = append(args, "-writeback")
	}
	if c.journal {
		args = append(args, "-journal", filepath.Join(b.work, fmt.Sprintf("journal-%d", i)))
	}
	return args
}

func (b *bench) startServer(ctx context.Context, i int, c configSpec, mnt string) (*server, error) {
	var cmd *exec.Cmd
	switch c.backend {
	case latencyBackend:
		args := []string{"-latency", b.opts.latency.String()}
		args = b.writebackArgs(i, c, args)
		cmd = exec.Command(b.memfsBin, append(args, mnt)...)
	case diskBackend:
		args := []string{"-local", b.local, "-latency", b.opts.latency.String()}
		args = b.writebackArgs(i, c, args)
		cmd = b.serveCmd(append(args, mnt)...)
	case sftpBackend:
		args := []string{"-sftp-addr", b.sshd.Addr, "-user", b.sshd.User, "-key", b.sshd.ClientKeyFile,
			"-known-hosts", b.sshd.KnownHostsFile, "-root", b.remote}
		args = b.writebackArgs(i, c, args)
		cmd = b.serveCmd(append(args, mnt)...)
	case rcloneBackend:
		host, port, err := net.SplitHostPort(b.sshd.Addr)
		if err != nil {
			return nil, err
		}
		remote := fmt.Sprintf(":sftp,host=%s,port=%s,user=%s,key_file=%s,known_hosts_file=%s:%s",
			host, port, b.sshd.User, b.sshd.ClientKeyFile, b.sshd.KnownHostsFile, b.remote)
		cmd = exec.Command(b.opts.rclone, "mount", remote, mnt,
			"--config", b.rcConfig,
			"--cache-dir", filepath.Join(b.work, fmt.Sprintf("rclone-cache-%d", i)),
			"--vfs-cache-mode", "writes",
			"--vfs-write-back", b.opts.rcloneWriteBack.String())
	}
	s := &server{mnt: mnt, rclone: c.backend == rcloneBackend, out: &fkbench.Tail{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	// A server outlives a killed bench only as long as it takes to get
	// SIGTERM, on which it unmounts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the forking thread exits:
		// keep that thread for the server's lifetime.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		s.pid = cmd.Process.Pid
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	deadline := time.After(mountTimeout)
	for !isMounted(mnt) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before mounting (%v): %s", cmd.Path, s.waitErr, s.out)
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.stop())
		case <-deadline:
			return nil, errors.Join(fmt.Errorf("%s did not mount %s within %v: %s", cmd.Path, mnt, mountTimeout, s.out), s.stop())
		case <-time.After(pollEvery):
		}
	}
	return s, nil
}

// stop unmounts and waits for the server. Ours unmount on SIGTERM and
// report failed write-backs in their exit status; rclone is unmounted
// with fusermount3, as its users do.
func (s *server) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.doStop() })
	return s.stopErr
}

func (s *server) doStop() error {
	var errs []error
	if s.rclone {
		if out, err := exec.Command("fusermount3", "-u", s.mnt).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("fusermount3 -u %s: %v: %s", s.mnt, err, bytes.TrimSpace(out)))
			syscall.Kill(s.pid, syscall.SIGTERM)
		}
	} else {
		syscall.Kill(s.pid, syscall.SIGTERM)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			errs = append(errs, fmt.Errorf("the server exited with %v: %s", s.waitErr, s.out))
		}
	case <-time.After(stopTimeout):
		syscall.Kill(s.pid, syscall.SIGKILL)
		<-s.exited
		errs = append(errs, fmt.Errorf("the server did not exit within %v of being stopped; killed: %s", stopTimeout, s.out))
	}
	if isMounted(s.mnt) {
		errs = append(errs, exec.Command("fusermount3", "-u", "-z", s.mnt).Run())
	}
	return errors.Join(errs...)
}

// isMounted reports whether a FUSE filesystem is mounted on dir (absolute
// and resolved, as the work directory is).
func isMounted(dir string) bool {
	ok, _ := fkbench.FUSEMountedAt(dir)
	return ok
}

// mountsUnder lists mount points inside dir, deepest first, so that they
// can be unmounted in that order.
func mountsUnder(dir string) []string {
	if dir == "" {
		return nil
	}
	all, _ := fkbench.MountsUnder(dir)
	var out []string
	for _, m := range all {
		if m != dir {
			out = append([]string{m}, out...)
		}
	}
	return out
}
