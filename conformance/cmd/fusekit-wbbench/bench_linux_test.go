package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// serveEnv makes the test binary act as "fusekit-wbbench serve", so that
// the end-to-end test runs the serve mode of the code under test.
const serveEnv = "FUSEKIT_WBBENCH_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		os.Exit(serveMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func testServe(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	return cmd
}

// TestEndToEnd runs every fusekit row with a tiny file: memfs with 1 ms
// latency, the serve mode over a local directory with 1 ms latency and over
// a private sshd, write-back on and off. rclone is left out (it is not a
// test dependency).
func TestEndToEnd(t *testing.T) {
	parent := t.TempDir()
	o, err := parseBenchArgs([]string{"-size", "2M", "-wt-latency-size", "1M", "-reps", "1", "-only", "latency,sftp", "-dir", parent}, io.Discard)
	require.NoError(t, err)
	var log bytes.Buffer
	b := &bench{opts: o, log: &log, serveCmd: testServe}
	results, err := b.run(t.Context())
	require.NoError(t, err, log.String())

	require.Len(t, results, 18)
	for _, r := range results {
		require.NoError(t, r.Err, r.id())
		assert.Positive(t, r.Elapsed, r.id())
		assert.Greater(t, r.PeakRSS, int64(1<<20), "%s: the server's VmHWM", r.id())
		if (r.Config == cfgLatencyWT || r.Config == cfgDiskWT) && r.Workload == "dd-4k" {
			assert.Equal(t, int64(1<<20), r.Bytes, r.id())
		} else {
			assert.Equal(t, int64(2<<20), r.Bytes, r.id())
		}
		switch r.Config {
		case cfgLatencyWT, cfgLatencyWB, cfgLatencyJ:
			assert.Equal(t, "size", r.Check)
		default:
			assert.Equal(t, "content", r.Check, "%s: compared where the backend keeps it", r.id())
			assert.Positive(t, r.OnServer, r.id())
		}
	}
	assert.Contains(t, log.String(), "[18/18] sftp/write-back+journal dd-4k, 2M")

	// Everything was cleaned up: no mounts, no work directory (sshd's
	// files lived there too).
	assert.Empty(t, mountsUnder(parent))
	left, err := os.ReadDir(parent)
	require.NoError(t, err)
	assert.Empty(t, left)

	var out bytes.Buffer
	require.NoError(t, report(o, results, &out))
	assert.Contains(t, out.String(), "their write-through dd-4k rows copy 1M")
	assert.Contains(t, out.String(), "latency backend (memfs), dd-4k: write-back")
	assert.Contains(t, out.String(), "latency backend (local disk), cp: write-back")
	assert.Contains(t, out.String(), "sftp, dd-4k: journal")
}

// TestRepetitionsRotate runs two rows twice: each repetition starts one
// row later, and the table has one line per row.
func TestRepetitionsRotate(t *testing.T) {
	parent := t.TempDir()
	o, err := parseBenchArgs([]string{"-size", "256K", "-reps", "2", "-only", "latency-disk/write-back cp,latency-disk/write-back dd-4k", "-dir", parent}, io.Discard)
	require.NoError(t, err)
	var log bytes.Buffer
	b := &bench{opts: o, log: &log, serveCmd: testServe}
	results, err := b.run(t.Context())
	require.NoError(t, err, log.String())
	var order []string
	for _, r := range results {
		require.NoError(t, r.Err, r.id())
		order = append(order, fmt.Sprint(r.Rep, " ", r.Workload))
	}
	assert.Equal(t, []string{"0 cp", "0 dd-4k", "1 dd-4k", "1 cp"}, order)
	assert.Contains(t, log.String(), "[4/4] latency-disk/write-back cp, 256K")
	rows := summarize(results)
	require.Len(t, rows, 2)
	assert.Equal(t, 2, rows[0].Runs)
	assert.Empty(t, mountsUnder(parent))
}

func TestRunRejectsAnEmptySelection(t *testing.T) {
	o, err := parseBenchArgs([]string{"-only", "zfs"}, io.Discard)
	require.NoError(t, err)
	_, err = (&bench{opts: o, log: io.Discard}).run(t.Context())
	assert.ErrorContains(t, err, `-only "zfs" matches no row; the rows are: latency/write-through cp,`)
}

func TestServerFailureFailsTheRow(t *testing.T) {
	// A serve that cannot log in (the key file is not a key) exits before
	// mounting; the row says why, and nothing is left behind.
	parent := t.TempDir()
	o, err := parseBenchArgs([]string{"-size", "64K", "-reps", "1", "-only", "sftp/write-back cp", "-dir", parent}, io.Discard)
	require.NoError(t, err)
	b := &bench{opts: o, log: io.Discard, serveCmd: func(args ...string) *exec.Cmd {
		for i, a := range args {
			if a == "-key" {
				args[i+1] = "/dev/null"
			}
		}
		return testServe(args...)
	}}
	results, err := b.run(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.ErrorContains(t, results[0].Err, "exited before mounting")
	assert.ErrorContains(t, results[0].Err, "client key /dev/null")
	assert.Empty(t, mountsUnder(parent))
	left, err := os.ReadDir(parent)
	require.NoError(t, err)
	assert.Empty(t, left)
	var out bytes.Buffer
	require.NoError(t, writeTable(&out, summarize(results)))
	assert.Contains(t, out.String(), "FAILED sftp/write-back cp: repetition 1:")
}

func TestBenchArgs(t *testing.T) {
	o, err := parseBenchArgs(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, int64(256<<20), o.size)
	assert.Equal(t, int64(64<<20), o.wtLatencySize)
	assert.Equal(t, time.Millisecond, o.latency)
	assert.Equal(t, 3, o.reps)
	assert.Zero(t, o.rcloneWriteBack)
	assert.Empty(t, o.only)

	o, err = parseBenchArgs([]string{"-size", "8M", "-wt-latency-size", "0", "-only", "sftp,rclone", "-dir", "rel"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, o.size, o.wtLatencySize, "0 means the same as -size")
	assert.Equal(t, filter{"sftp", "rclone"}, o.only)
	assert.True(t, filepath.IsAbs(o.dir))

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-size", "big"}, `-size: size "big"`},
		{[]string{"-wt-latency-size", "-1"}, "-wt-latency-size: size"},
		{[]string{"-latency", "0s"}, "-latency must be positive"},
		{[]string{"-reps", "0"}, "-reps must be at least 1"},
		{[]string{"-rclone-write-back", "-1s"}, "-rclone-write-back must not be negative"},
		{[]string{"-row-timeout", "0s"}, "-row-timeout must be positive"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		_, err := parseBenchArgs(c.args, io.Discard)
		assert.ErrorContains(t, err, c.want, "%v", c.args)
	}
	var help bytes.Buffer
	assert.Equal(t, 0, benchMain(t.Context(), []string{"-h"}, io.Discard, &help))
	assert.Contains(t, help.String(), "rclone/vfs-writes")
	assert.Contains(t, help.String(), "-wt-latency-size")
	assert.Equal(t, 2, benchMain(t.Context(), []string{"-size", "x"}, io.Discard, io.Discard))
}

func TestServeArgs(t *testing.T) {
	c, err := parseServeArgs([]string{"-sftp-addr", "127.0.0.1:22", "-user", "u", "-key", "k", "-known-hosts", "kh", "-root", "/srv", "-writeback", "/mnt"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, serveConfig{addr: "127.0.0.1:22", user: "u", keyFile: "k", knownHosts: "kh", root: "/srv", writeback: true, mountpoint: "/mnt"}, *c)

	_, err = parseServeArgs([]string{"-user", "u", "-key", "k", "-known-hosts", "kh", "/mnt"}, io.Discard)
	assert.ErrorContains(t, err, "-sftp-addr is required")

	c, err = parseServeArgs([]string{"-local", "/srv", "-latency", "2ms", "/mnt"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, serveConfig{root: "/", local: "/srv", latency: 2 * time.Millisecond, mountpoint: "/mnt"}, *c)
	_, err = parseServeArgs([]string{"-local", "/srv", "-user", "u", "/mnt"}, io.Discard)
	assert.ErrorContains(t, err, "-local and -user exclude each other")
	_, err = parseServeArgs([]string{"-local", "/srv", "-latency", "-1s", "/mnt"}, io.Discard)
	assert.ErrorContains(t, err, "-latency must not be negative")
	_, err = parseServeArgs([]string{"-sftp-addr", "a:1", "-user", "u", "-key", "k", "-known-hosts", "kh"}, io.Discard)
	assert.ErrorContains(t, err, "want one MOUNTPOINT, got 0 arguments")
	var stderr bytes.Buffer
	assert.Equal(t, 2, serveMain([]string{"/mnt"}, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "-sftp-addr is required")
}

func TestHostKeyFor(t *testing.T) {
	newKey := func() ssh.PublicKey {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		k, err := ssh.NewPublicKey(pub)
		require.NoError(t, err)
		return k
	}
	other, mine := newKey(), newKey()
	file := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(file, []byte("# comment\n"+
		knownhosts.Line([]string{"[127.0.0.1]:2200"}, other)+"\n"+
		knownhosts.Line([]string{"example.com", "[127.0.0.1]:2222"}, mine)+"\n"), 0o600))

	got, err := hostKeyFor(file, "127.0.0.1:2222")
	require.NoError(t, err)
	assert.Equal(t, mine.Marshal(), got.Marshal())
	_, err = hostKeyFor(file, "127.0.0.1:2300")
	assert.ErrorContains(t, err, "has no key for [127.0.0.1]:2300")
	_, err = hostKeyFor(filepath.Join(t.TempDir(), "missing"), "a:1")
	assert.ErrorContains(t, err, "known hosts:")
}

func TestParseVmHWM(t *testing.T) {
	n, err := parseVmHWM([]byte("Name:\tmemfs\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 1 kB\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(12345<<10), n)
	for _, bad := range []string{"", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n"} {
		_, err := parseVmHWM([]byte(bad))
		assert.Error(t, err, bad)
	}
	n, err = peakRSS(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, n)
}
