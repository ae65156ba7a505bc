package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/examples/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func overlayBinary(t *testing.T) string { return clitest.Build(t, clitest.PkgDir, "overlay") }

// startForeground runs bin with -f and the arguments, and returns once it
// says the mount is live; it is stopped at cleanup if the test did not.
func startForeground(t *testing.T, bin string, args ...string) (*exec.Cmd, *clitest.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-f"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr clitest.SyncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Contains(t, line, "mounted on")
	go io.Copy(io.Discard, stdout)
	return cmd, &stderr
}

// tree is a scratch layout: lower (with a file), upper, work, an empty mnt.
type tree struct{ root, lower, upper, work, mnt string }

func newTree(t *testing.T) tree {
	root := t.TempDir()
	tr := tree{root, filepath.Join(root, "lower"), filepath.Join(root, "upper"), filepath.Join(root, "work"), filepath.Join(root, "mnt")}
	for _, d := range []string{tr.lower, tr.upper, tr.work, tr.mnt} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(tr.lower, "a"), []byte("lower a\n"), 0o644))
	t.Cleanup(func() {
		for _, m := range clitest.MountsUnder(t, root) {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	})
	return tr
}

func (tr tree) opts(extra ...string) string {
	return strings.Join(append([]string{"lowerdir=" + tr.lower, "upperdir=" + tr.upper, "workdir=" + tr.work}, extra...), ",")
}

// assertNothingLeft checks that a run left no mount under the tree but
// those the test made (before), and no process of the binary.
func assertNothingLeft(t *testing.T, bin string, tr tree, before ...string) {
	t.Helper()
	assert.Equal(t, before, clitest.MountsUnder(t, tr.root), "a mount was left behind")
	deadline := time.Now().Add(30 * time.Second)
	for len(clitest.Processes(t, bin)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Empty(t, clitest.Processes(t, bin), "a process of the binary was left behind")
}

// TestBadInputsFailClearly runs the binary on every bad input of issue 11,
// in daemon mode and with -f, and checks the exit status, that the message
// names the problem, that nothing panicked, and that no mount or process
// is left.
func TestBadInputsFailClearly(t *testing.T) {
	bin := overlayBinary(t)
	type bad struct {
		name string
		// setup prepares the tree and returns the arguments and the
		// expected fragments of the message.
		setup func(t *testing.T, tr tree) (args []string, want []string)
		code  int
	}
	cases := []bad{
		{"missing mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			m := filepath.Join(tr.root, "nope")
			return []string{"-o", tr.opts(), m}, []string{m, "does not exist"}
		}, 1},
		{"mountpoint is a file", func(t *testing.T, tr tree) ([]string, []string) {
			f := filepath.Join(tr.root, "file")
			require.NoError(t, os.WriteFile(f, nil, 0o644))
			return []string{"-o", tr.opts(), f}, []string{f, "not a directory"}
		}, 1},
		{"non-empty mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			require.NoError(t, os.WriteFile(filepath.Join(tr.mnt, "x"), nil, 0o644))
			return []string{"-o", tr.opts(), tr.mnt}, []string{tr.mnt, "not empty", `"x"`}
		}, 1},
		{"busy mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			require.NoError(t, unix.Mount("tmpfs", tr.mnt, "tmpfs", 0, ""))
			t.Cleanup(func() { unix.Unmount(tr.mnt, unix.MNT_DETACH) })
			return []string{"-o", tr.opts(), tr.mnt}, []string{tr.mnt, "already mounted", "tmpfs"}
		}, 1},
		{"stale mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			clitest.StaleMount(t, tr.mnt)
			return []string{"-o", tr.opts(), tr.mnt}, []string{tr.mnt, "stale", "-clear-stale", "fusermount3 -u -z " + tr.mnt}
		}, 1},
		{"missing lowerdir", func(t *testing.T, tr tree) ([]string, []string) {
			l := filepath.Join(tr.root, "nolower")
			return []string{"-o", "lowerdir=" + l + ",upperdir=" + tr.upper, tr.mnt}, []string{"lowerdir " + l, "does not exist"}
		}, 1},
		{"missing upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			u := filepath.Join(tr.root, "noupper")
			return []string{"-o", "lowerdir=" + tr.lower + ",upperdir=" + u, tr.mnt}, []string{"upperdir " + u, "does not exist"}
		}, 1},
		{"missing workdir", func(t *testing.T, tr tree) ([]string, []string) {
			w := filepath.Join(tr.root, "nowork")
			return []string{"-o", "lowerdir=" + tr.lower + ",upperdir=" + tr.upper + ",workdir=" + w, tr.mnt}, []string{"workdir " + w, "does not exist"}
		}, 1},
		{"lowerdir is a file", func(t *testing.T, tr tree) ([]string, []string) {
			f := filepath.Join(tr.lower, "a")
			return []string{"-o", "lowerdir=" + f + ",upperdir=" + tr.upper, tr.mnt}, []string{"lowerdir " + f, "not a directory"}
		}, 1},
		{"mountpoint inside upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			m := filepath.Join(tr.upper, "m")
			require.NoError(t, os.Mkdir(m, 0o755))
			return []string{"-o", tr.opts(), m}, []string{"mountpoint " + m, "inside upperdir " + tr.upper}
		}, 1},
		{"mountpoint inside lowerdir", func(t *testing.T, tr tree) ([]string, []string) {
			m := filepath.Join(tr.lower, "m")
			require.NoError(t, os.Mkdir(m, 0o755))
			return []string{"-o", tr.opts(), m}, []string{"mountpoint " + m, "inside lowerdir " + tr.lower}
		}, 1},
		{"mountpoint inside workdir", func(t *testing.T, tr tree) ([]string, []string) {
			m := filepath.Join(tr.work, "m")
			require.NoError(t, os.Mkdir(m, 0o755))
			return []string{"-o", tr.opts(), m}, []string{"mountpoint " + m, "inside workdir " + tr.work}
		}, 1},
		{"mountpoint is the upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", tr.opts(), tr.upper}, []string{"mountpoint " + tr.upper, "same directory as upperdir " + tr.upper}
		}, 1},
		{"lowerdir inside mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			l := filepath.Join(tr.mnt, "l")
			require.NoError(t, os.Mkdir(l, 0o755))
			return []string{"-o", "lowerdir=" + l + ",upperdir=" + tr.upper, tr.mnt}, []string{"lowerdir " + l, "inside mountpoint " + tr.mnt}
		}, 1},
		{"lowerdir equals upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", "lowerdir=" + tr.lower + ",upperdir=" + tr.lower, tr.mnt}, []string{"lowerdir " + tr.lower, "same directory as upperdir " + tr.lower}
		}, 1},
		{"lowerdir is a symlink to upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			l := filepath.Join(tr.root, "link")
			require.NoError(t, os.Symlink("upper", l))
			return []string{"-o", "lowerdir=" + l + ",upperdir=" + tr.upper, tr.mnt}, []string{"lowerdir " + tr.upper, "same directory as upperdir " + tr.upper}
		}, 1},
		{"upperdir inside lowerdir", func(t *testing.T, tr tree) ([]string, []string) {
			u := filepath.Join(tr.lower, "u")
			require.NoError(t, os.Mkdir(u, 0o755))
			return []string{"-o", "lowerdir=" + tr.lower + ",upperdir=" + u, tr.mnt}, []string{"upperdir " + u, "inside lowerdir " + tr.lower}
		}, 1},
		{"lowerdir inside upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			l := filepath.Join(tr.upper, "l")
			require.NoError(t, os.Mkdir(l, 0o755))
			return []string{"-o", "lowerdir=" + l + ",upperdir=" + tr.upper, tr.mnt}, []string{"lowerdir " + l, "inside upperdir " + tr.upper}
		}, 1},
		{"workdir inside upperdir", func(t *testing.T, tr tree) ([]string, []string) {
			w := filepath.Join(tr.upper, "w")
			require.NoError(t, os.Mkdir(w, 0o755))
			return []string{"-o", "lowerdir=" + tr.lower + ",upperdir=" + tr.upper + ",workdir=" + w, tr.mnt}, []string{"workdir " + w, "inside upperdir " + tr.upper}
		}, 1},
		{"unknown option", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", tr.opts("frobnicate=3"), tr.mnt}, []string{`unknown option "frobnicate=3"`}
		}, 2},
		{"bad option value", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", tr.opts("squash_to_uid=root"), tr.mnt}, []string{`"squash_to_uid=root"`, "a number"}
		}, 2},
		{"malformed uid mapping", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", tr.opts("gidmapping=0:1000"), tr.mnt}, []string{`"gidmapping=0:1000"`, "CONTAINER:HOST:SIZE"}
		}, 2},
		{"no mountpoint", func(t *testing.T, tr tree) ([]string, []string) {
			return []string{"-o", tr.opts()}, []string{"missing MOUNTPOINT"}
		}, 2},
		{"unwritable log file", func(t *testing.T, tr tree) ([]string, []string) {
			l := filepath.Join(tr.root, "nodir", "log")
			return []string{"-log", l, "-o", tr.opts(), tr.mnt}, []string{"log file", l}
		}, 2},
	}
	for _, c := range cases {
		for _, fg := range []bool{false, true} {
			name := c.name + map[bool]string{false: "/daemon", true: "/foreground"}[fg]
			if fg && c.name == "unwritable log file" {
				continue // the log file is the daemon's
			}
			t.Run(name, func(t *testing.T) {
				tr := newTree(t)
				args, want := c.setup(t, tr)
				if fg {
					args = append([]string{"-f"}, args...)
				}
				before := clitest.MountsUnder(t, tr.root)
				res := clitest.Run(t, "", bin, args...)
				assert.Equal(t, c.code, res.Code, "exit status; stderr: %s", res.Stderr)
				for _, w := range want {
					assert.Contains(t, res.Stderr, w)
				}
				assert.NotContains(t, res.Stderr, "panic")
				assert.NotContains(t, res.Stderr, "goroutine ")
				assert.Empty(t, res.Stdout, "nothing mounted, nothing to say on stdout")
				assertNothingLeft(t, bin, tr, before...)
			})
		}
	}
}

// daemonPID returns the one live process of bin (the daemon).
func daemonPID(t *testing.T, bin string) int {
	t.Helper()
	pids := clitest.Processes(t, bin)
	require.Len(t, pids, 1, "want exactly one daemon")
	return pids[0]
}

// TestDaemonModeReturnsOnceLive checks that without -f the command exits 0
// only once the mount answers (no wait between its exit and the first
// read), that the daemon logs to the named file, and that an unmount from
// outside ends the daemon with status 0.
func TestDaemonModeReturnsOnceLive(t *testing.T) {
	bin := overlayBinary(t)
	clitest.BecomeSubreaper(t)
	tr := newTree(t)
	logFile := filepath.Join(tr.root, "log")
	res := clitest.Run(t, "", bin, "-log", logFile, "-o", tr.opts(), tr.mnt)
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	assert.Empty(t, res.Stdout+res.Stderr, "a daemonizing mount program is silent on success")
	data, err := os.ReadFile(filepath.Join(tr.mnt, "a"))
	require.NoError(t, err, "the mount must be live when the command returns")
	assert.Equal(t, "lower a\n", string(data))
	pid := daemonPID(t, bin)
	sid, err := unix.Getsid(pid)
	require.NoError(t, err)
	assert.Equal(t, pid, sid, "the daemon leads its own session")
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	require.NoError(t, err)
	assert.Equal(t, "/", cwd, "the daemon keeps no directory busy")

	require.NoError(t, os.WriteFile(filepath.Join(tr.mnt, "b"), []byte("b"), 0o644))
	require.NoError(t, unix.Unmount(tr.mnt, 0))
	assert.Equal(t, 0, clitest.WaitDaemon(t, pid), "the daemon exits cleanly once unmounted")
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(log), "mounted on "+tr.mnt)
	assert.Contains(t, string(log), "unmounted")
	data, err = os.ReadFile(filepath.Join(tr.upper, "b"))
	require.NoError(t, err)
	assert.Equal(t, "b", string(data))
	assertNothingLeft(t, bin, tr)
}

// TestDaemonStopsOnSIGTERM: a detached daemon unmounts cleanly on SIGTERM.
func TestDaemonStopsOnSIGTERM(t *testing.T) {
	bin := overlayBinary(t)
	clitest.BecomeSubreaper(t)
	tr := newTree(t)
	res := clitest.Run(t, "", bin, "-o", tr.opts(), tr.mnt)
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	pid := daemonPID(t, bin)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	assert.Equal(t, 0, clitest.WaitDaemon(t, pid))
	assertNothingLeft(t, bin, tr)
}

// TestClearStale: the flag and the option both clear a stale mount and
// mount over it.
func TestClearStale(t *testing.T) {
	bin := overlayBinary(t)
	for _, flag := range [][]string{{"-clear-stale"}, {"-o", "clear_stale"}} {
		t.Run(flag[len(flag)-1], func(t *testing.T) {
			tr := newTree(t)
			clitest.StaleMount(t, tr.mnt)
			res := clitest.Run(t, "", bin, append(flag, "-o", tr.opts(), tr.mnt)...)
			require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
			data, err := os.ReadFile(filepath.Join(tr.mnt, "a"))
			require.NoError(t, err)
			assert.Equal(t, "lower a\n", string(data))
			require.NoError(t, unix.Unmount(tr.mnt, 0))
			assertNothingLeft(t, bin, tr)
		})
	}
}

// TestPodmanStyleCommandLine mounts the way containers/storage runs a
// mount_program: from its storage directory, with dozens of relative
// l/SHORTNAME symlinks as lowerdir, an empty option, volatile and an SELinux
// context whose value holds a comma.
func TestPodmanStyleCommandLine(t *testing.T) {
	bin := overlayBinary(t)
	clitest.BecomeSubreaper(t)
	tr := newTree(t)
	home := filepath.Join(tr.root, "overlay")
	require.NoError(t, os.MkdirAll(filepath.Join(home, "l"), 0o755))
	const layers = 60
	var lower []string
	for i := range layers {
		id := fmt.Sprintf("%064x", i+1)
		diff := filepath.Join(home, id, "diff")
		require.NoError(t, os.MkdirAll(diff, 0o755))
		// Every layer has its own file; "top" says which layer wins.
		require.NoError(t, os.WriteFile(filepath.Join(diff, fmt.Sprintf("layer%02d", i)), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(diff, "top"), []byte(fmt.Sprint(i)), 0o644))
		short := fmt.Sprintf("SHORT%021d", i)
		require.NoError(t, os.Symlink(filepath.Join("..", id, "diff"), filepath.Join(home, "l", short)))
		lower = append(lower, "l/"+short)
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + tr.upper + ",workdir=" + tr.work +
		",,volatile,context=\"system_u:object_r:container_file_t:s0:c1022,c1023\""
	res := clitest.Run(t, home, bin, "-o", opts, tr.mnt)
	require.Equal(t, 0, res.Code, "stderr: %s", res.Stderr)
	pid := daemonPID(t, bin)
	ents, err := os.ReadDir(tr.mnt)
	require.NoError(t, err)
	assert.Len(t, ents, layers+1, "every layer's file and top")
	data, err := os.ReadFile(filepath.Join(tr.mnt, "top"))
	require.NoError(t, err)
	assert.Equal(t, "0", string(data), "the first lowerdir has the highest priority")
	require.NoError(t, unix.Unmount(tr.mnt, 0))
	assert.Equal(t, 0, clitest.WaitDaemon(t, pid))
	assertNothingLeft(t, bin, tr)
}

// TestHonouredOptions checks the options that have an effect here, on a
// live mount: squash_to_uid/gid, squash_to_root, ro, noexec, and that
// -debug names the ignored ones.
func TestHonouredOptions(t *testing.T) {
	bin := overlayBinary(t)
	tr := newTree(t)
	cmd, stderr := startForeground(t, bin, "-debug", "-o", tr.opts("squash_to_root,squash_to_uid=7,noexec,ro,noacl,threaded=1,xino=off"), tr.mnt)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(tr.mnt, "a"), &st))
	assert.EqualValues(t, 7, st.Uid, "squash_to_uid wins over squash_to_root")
	assert.EqualValues(t, 0, st.Gid, "squash_to_root")
	err := os.WriteFile(filepath.Join(tr.mnt, "new"), nil, 0o644)
	assert.ErrorIs(t, err, syscall.EROFS)
	var sfs unix.Statfs_t
	require.NoError(t, unix.Statfs(tr.mnt, &sfs))
	assert.NotZero(t, sfs.Flags&unix.ST_NOEXEC, "noexec reaches the mount")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
	ignored := map[string]bool{}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if _, opt, ok := strings.Cut(line, `msg="option accepted and ignored" option=`); ok {
			opt, _, _ = strings.Cut(opt, " ")
			ignored[strings.Trim(opt, `"`)] = true
		}
	}
	assert.Equal(t, map[string]bool{"noacl": true, "threaded=1": true, "xino=off": true}, ignored,
		"-debug names exactly the ignored options")
	assertNothingLeft(t, bin, tr)
}

// TestUnprivilegedRefusalIsExplained runs the binary as an unprivileged
// user asking for allow_other: fusermount refuses (here because /dev/fuse
// or /etc/fuse.conf's user_allow_other forbid it), and its reason reaches
// the user in both modes instead of a panic.
func TestUnprivilegedRefusalIsExplained(t *testing.T) {
	bin := overlayBinary(t)
	tr := newTree(t)
	// The binary and the tree must be reachable by the unprivileged user.
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), tr.root, filepath.Dir(tr.root)} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	for _, d := range []string{tr.lower, tr.upper, tr.work, tr.mnt} {
		require.NoError(t, os.Chown(d, 65534, 65534))
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	for _, mode := range [][]string{{"-f"}, nil} {
		res := clitest.RunAs(t, nobody, "", bin, append(mode, "-o", tr.opts("allow_other"), tr.mnt)...)
		assert.Equal(t, 1, res.Code, "stderr: %s", res.Stderr)
		assert.Contains(t, res.Stderr, "overlay: sdk: cannot mount on "+tr.mnt)
		assert.Contains(t, res.Stderr, "fusermount")
		assert.NotContains(t, res.Stderr, "panic")
		assertNothingLeft(t, bin, tr)
	}
}

// TestIDMapping mounts with fuse-overlayfs's uidmapping=/gidmapping= and
// checks the translation both ways on real files: stored ids are reported
// through the ranges (unmapped ones as the overflow id), by stat, by a
// directory listing and by fstat; chown through the mount stores the
// container's id, and an id outside every range is EINVAL.
func TestIDMapping(t *testing.T) {
	bin := overlayBinary(t)
	tr := newTree(t)
	for name, id := range map[string]int{"b": 5, "c": 70000} {
		p := filepath.Join(tr.lower, name)
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Lchown(p, id, id))
	}
	const m = "0:1000:1:1:100000:65536"
	cmd, stderr := startForeground(t, bin, "-o", tr.opts("uidmapping="+m, "gidmapping="+m), tr.mnt)
	owner := func(name string) [2]uint32 {
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(tr.mnt, name), &st))
		return [2]uint32{st.Uid, st.Gid}
	}
	// The listing first: the SDK may answer the stats below from it.
	ents, err := os.ReadDir(tr.mnt)
	require.NoError(t, err)
	for _, e := range ents {
		fi, err := e.Info()
		require.NoError(t, err)
		if e.Name() == "b" {
			assert.EqualValues(t, 100004, fi.Sys().(*syscall.Stat_t).Uid, "listing")
		}
	}
	assert.Equal(t, [2]uint32{1000, 1000}, owner("a"), "stored 0 is host 1000")
	assert.Equal(t, [2]uint32{100004, 100004}, owner("b"), "stored 5 is host 100004")
	assert.Equal(t, [2]uint32{65534, 65534}, owner("c"), "stored 70000 has no mapping")
	f, err := os.Open(filepath.Join(tr.mnt, "b"))
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	f.Close()
	assert.EqualValues(t, 100004, st.Uid, "fstat")

	require.NoError(t, os.Lchown(filepath.Join(tr.mnt, "a"), 100007, 1000))
	assert.Equal(t, [2]uint32{100007, 1000}, owner("a"))
	var up unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(tr.upper, "a"), &up))
	assert.Equal(t, [2]uint32{8, 0}, [2]uint32{up.Uid, up.Gid}, "the upper stores the container's ids")
	err = os.Lchown(filepath.Join(tr.mnt, "a"), 7, -1)
	assert.ErrorIs(t, err, syscall.EINVAL, "host id 7 is in no range")
	// The creator, root on the host, has no container id: its files are
	// stored as the overflow id, as fuse-overlayfs does.
	require.NoError(t, os.Mkdir(filepath.Join(tr.mnt, "d"), 0o755))
	require.NoError(t, unix.Lstat(filepath.Join(tr.upper, "d"), &up))
	assert.Equal(t, [2]uint32{overflowID, overflowID}, [2]uint32{up.Uid, up.Gid})

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
	assertNothingLeft(t, bin, tr)
}
