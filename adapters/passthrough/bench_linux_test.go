package passthrough

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fusekit/fusekit/sdk"
)

// BenchmarkPerRequest times single system calls through a mount of this
// passthrough and through cgofuse's bare examples/passthrough (built from
// the module cache at the version the SDK uses), in the libfuse build this
// test binary was built for. Both daemons run as their own processes, as in
// `make bench`: a daemon inside the benchmarking process would share its Go
// scheduler with the loop that waits in the system calls. Both are mounted
// in the same run and every workload runs on both, one after the other;
// with -count N the pairs repeat, so noise on a shared machine hits both
// alike. Compare ns/op within one run:
//
//	go test -run '^$' -bench PerRequest -count 3 ./adapters/passthrough/
//	go test -tags fuse3 -run '^$' -bench PerRequest -count 3 ./adapters/passthrough/
//
// PASSTHROUGH_BENCH_CPUPROFILE=FILE makes the SDK daemon write a CPU profile
// of its whole life to FILE (read it with go tool pprof and the test
// binary, go test -c).
//
// Each operation is chosen to reach the daemon every time, whatever the
// kernel caches: getattr is statx with AT_STATX_FORCE_SYNC, lookup stats
// names whose dentries were dropped, create and unlink use fresh names, and
// write4k is a pwrite of 4 KiB, which the kernel forwards at once without a
// write-back cache.
func BenchmarkPerRequest(b *testing.B) {
	targets := []struct {
		name  string
		mount func(b *testing.B) string
	}{
		{"sdk", mountSDKDaemon},
		{"cgofuse", mountCgofuseExample},
	}
	mnts := make([]string, len(targets))
	for i, tg := range targets {
		mnts[i] = tg.mount(b)
	}
	for _, wl := range []struct {
		name string
		run  func(b *testing.B, dir string)
	}{
		{"getattr", benchGetattr},
		{"lookup", benchLookup},
		{"create", benchCreate},
		{"unlink", benchUnlink},
		{"write4k", benchWrite4K},
	} {
		for i, tg := range targets {
			b.Run(wl.name+"/"+tg.name, func(b *testing.B) {
				dir, err := os.MkdirTemp(mnts[i], wl.name)
				require.NoError(b, err)
				b.Cleanup(func() { os.RemoveAll(dir) })
				wl.run(b, dir)
			})
		}
	}
}

// benchDaemonEnv, set to "SOURCE MOUNTPOINT", turns this test binary into
// the SDK daemon of BenchmarkPerRequest (see TestBenchDaemon).
const benchDaemonEnv = "PASSTHROUGH_BENCH_DAEMON"

// TestBenchDaemon is the SDK daemon of BenchmarkPerRequest when the
// benchmark runs this binary with benchDaemonEnv set; as an ordinary test it
// checks that the daemon serves a mount and stops on SIGINT.
func TestBenchDaemon(t *testing.T) {
	spec := os.Getenv(benchDaemonEnv)
	if spec == "" {
		mnt := startSDKDaemon(t, "")
		require.NoError(t, os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644))
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(mnt, "f"), &st))
		require.EqualValues(t, 1, st.Size)
		return
	}
	src, mnt, ok := strings.Cut(spec, " ")
	require.True(t, ok, "%s=%q: want SOURCE MOUNTPOINT", benchDaemonEnv, spec)
	if prof := os.Getenv("PASSTHROUGH_BENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGINT, unix.SIGTERM)
	fsys, err := New(src)
	require.NoError(t, err)
	defer fsys.Close()
	// The options examples/passthrough mounts with by default.
	srv, err := sdk.Mount(fsys, mnt, &sdk.Options{FSName: src, Subtype: "passthrough"})
	require.NoError(t, err)
	select {
	case <-stop:
	case <-srv.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Unmount(ctx); !errors.Is(err, sdk.ErrNotMounted) {
		require.NoError(t, err)
	}
}

// mountSDKDaemon serves a passthrough of a fresh directory from a
// subprocess.
func mountSDKDaemon(b *testing.B) string {
	return startSDKDaemon(b, os.Getenv("PASSTHROUGH_BENCH_CPUPROFILE"))
}

func startSDKDaemon(tb testing.TB, profile string) string {
	exe, err := os.Executable()
	require.NoError(tb, err)
	src, mnt := tb.TempDir(), tb.TempDir()
	cmd := exec.Command(exe, "-test.run", "^TestBenchDaemon$")
	cmd.Env = append(os.Environ(), benchDaemonEnv+"="+src+" "+mnt, "PASSTHROUGH_BENCH_CPUPROFILE="+profile)
	return startDaemon(tb, cmd, mnt)
}

// daemonStopTimeout bounds the wait for a daemon to unmount and exit after
// SIGINT. It is generous: under -race on a loaded machine, exiting takes
// seconds.
const daemonStopTimeout = time.Minute

// startDaemon starts cmd, which serves a mount on mnt until SIGINT, and
// waits until the mount is there.
func startDaemon(tb testing.TB, cmd *exec.Cmd, mnt string) string {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(tb, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(unix.SIGINT)
		select {
		case <-done:
		case <-time.After(daemonStopTimeout):
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
			cmd.Process.Kill()
			<-done
		}
		if !cmd.ProcessState.Success() {
			tb.Errorf("daemon %s: %v\n%s", cmd.Path, cmd.ProcessState, out.String())
		}
	})
	for deadline := time.Now().Add(15 * time.Second); !mounted(mnt); {
		select {
		case <-done:
			tb.Fatalf("daemon %s exited before mounting %s: %s", cmd.Path, mnt, out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("daemon %s did not mount %s: %s", cmd.Path, mnt, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return mnt
}

// mountCgofuseExample builds cgofuse's examples/passthrough with this
// binary's build tags and serves a fresh directory with it.
func mountCgofuseExample(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "cgofuse-passthrough")
	args := []string{"build", "-o", bin}
	if benchTags != "" {
		args = append(args, "-tags", benchTags)
	}
	out, err := exec.Command("go", append(args, "github.com/winfsp/cgofuse/examples/passthrough")...).CombinedOutput()
	require.NoError(b, err, "building cgofuse's example (run the benchmark from the module): %s", out)
	src, mnt := b.TempDir(), b.TempDir()
	return startDaemon(b, exec.Command(bin, src, mnt), mnt)
}

func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

func benchNames(dir string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%07d", i))
	}
	return names
}

func touchAll(b *testing.B, names []string) {
	for _, name := range names {
		fd, err := unix.Open(name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		require.NoError(b, err)
		unix.Close(fd)
	}
}

func benchGetattr(b *testing.B, dir string) {
	names := benchNames(dir, 100)
	touchAll(b, names)
	var stx unix.Statx_t
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		err := unix.Statx(unix.AT_FDCWD, names[i%len(names)], unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS, &stx)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchLookup stats names whose dentries the kernel has dropped: each
// costs a LOOKUP (and, in the libfuse3 build, a GETATTR). Missing names
// would not do: the SDK answers them from its negative cache. So existing
// names are created untimed in batches and the dentry cache is dropped
// before each batch is timed.
func benchLookup(b *testing.B, dir string) {
	const batch = 500
	var st unix.Stat_t
	b.StopTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		sub := filepath.Join(dir, fmt.Sprint(done))
		require.NoError(b, os.Mkdir(sub, 0o755))
		names := benchNames(sub, n)
		touchAll(b, names)
		require.NoError(b, os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0))
		b.StartTimer()
		for _, name := range names {
			if err := unix.Lstat(name, &st); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		done += n
	}
}

func benchCreate(b *testing.B, dir string) {
	names := benchNames(dir, b.N)
	b.ResetTimer()
	for _, name := range names {
		fd, err := unix.Open(name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
	}
}

func benchUnlink(b *testing.B, dir string) {
	names := benchNames(dir, b.N)
	touchAll(b, names)
	b.ResetTimer()
	for _, name := range names {
		if err := unix.Unlink(name); err != nil {
			b.Fatal(err)
		}
	}
}

func benchWrite4K(b *testing.B, dir string) {
	fd, err := unix.Open(filepath.Join(dir, "w"), unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	require.NoError(b, err)
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := int64(i%(16<<10)) * int64(len(buf)) // wraps at 64 MiB
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			b.Fatal(err)
		}
	}
}
