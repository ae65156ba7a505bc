//go:build linux

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mounted reports whether dir is a mountpoint in this process's namespace.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func mountErr(t *testing.T, dir string, opts *sdk.Options) *sdk.MountError {
	t.Helper()
	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, opts)
	if err == nil {
		_ = srv.Unmount(context.Background())
		t.Fatalf("mount on %s succeeded, want an error", dir)
	}
	var me *sdk.MountError
	require.ErrorAs(t, err, &me)
	return me
}

func TestMountRejectsBadMountpoints(t *testing.T) {
	base := t.TempDir()

	t.Run("missing", func(t *testing.T) {
		me := mountErr(t, filepath.Join(base, "nope"), nil)
		assert.Contains(t, me.Error(), "does not exist")
	})
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(base, "file")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		me := mountErr(t, f, nil)
		assert.Contains(t, me.Error(), "not a directory")
	})
	t.Run("non-empty", func(t *testing.T) {
		d := filepath.Join(base, "full")
		require.NoError(t, os.MkdirAll(filepath.Join(d, "x"), 0o755))
		me := mountErr(t, d, nil)
		assert.Contains(t, me.Error(), "not empty")
		assert.Contains(t, me.Error(), "AllowNonEmpty")

		srv, err := sdk.Mount(sdktest.NewMemFS(), d, &sdk.Options{AllowNonEmpty: true})
		require.NoError(t, err, "AllowNonEmpty must allow it in the %s build", sdk.Build)
		require.NoError(t, srv.Unmount(context.Background()))
	})
	t.Run("already mounted", func(t *testing.T) {
		srv := sdktest.Mount(t, sdktest.NewMemFS(), nil)
		me := mountErr(t, srv.Dir(), nil)
		assert.Contains(t, me.Error(), "already mounted")
	})
	t.Run("empty name", func(t *testing.T) {
		me := mountErr(t, "", nil)
		assert.Contains(t, me.Error(), "empty")
	})
	t.Run("nil filesystem", func(t *testing.T) {
		_, err := sdk.Mount(nil, t.TempDir(), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nil")
	})
}

func TestMountRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]sdk.Options{
		"Umask":        {Umask: sdk.Uint32(0o1777)},
		"FSName":       {FSName: "a,b"},
		"Subtype":      {Subtype: "a b"},
		"MaxWrite":     {MaxWrite: -1},
		"Cache":        {Cache: sdk.CachePolicy(9)},
		"RawOptions":   {RawOptions: []string{"-d"}},
		"MountTimeout": {MountTimeout: -time.Second},
	}
	cases["MaxWrite/unaligned"] = sdk.Options{MaxWrite: 5000}
	cases["MaxThreads"] = sdk.Options{MaxThreads: -1}
	for name, o := range cases {
		field, _, _ := strings.Cut(name, "/")
		t.Run(name, func(t *testing.T) {
			_, err := sdk.Mount(sdktest.NewMemFS(), dir, &o)
			var oe *sdk.OptionError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, field, oe.Field)
			assert.Contains(t, err.Error(), "Options."+field)
		})
	}
}

// The build-specific fields are accepted by both builds, so that one
// program needs no branch on sdk.Build: each build applies or ignores them
// as Options says.
func TestBuildSpecificOptionsAcceptedByBothBuilds(t *testing.T) {
	for _, o := range []sdk.Options{{MaxThreads: 4}, {MaxWrite: 65536}, {MaxWrite: 1 << 20}, {MaxThreads: 16, MaxWrite: 131072}} {
		srv := sdktest.Mount(t, sdktest.NewMemFS(), &o)
		// A write larger than any MaxWrite goes through in pieces.
		data := make([]byte, 3<<20)
		for i := range data {
			data[i] = byte(i)
		}
		p := filepath.Join(srv.Dir(), "f")
		require.NoError(t, os.WriteFile(p, data, 0o644), "%+v in the %s build", o, sdk.Build)
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.NoError(t, srv.Unmount(context.Background()))
	}
}

func TestMountReportsLibfuseRejection(t *testing.T) {
	dir := t.TempDir()
	_, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{RawOptions: []string{"no_such_option_xyz"}})
	var me *sdk.MountError
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Reason, "refused")
	assert.Contains(t, me.Stderr, "no_such_option_xyz", "libfuse's own message must reach the error")
	assert.False(t, mounted(t, dir))
}

func TestUnmountLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, nil)
	require.NoError(t, err)
	require.True(t, mounted(t, dir))
	require.NoError(t, srv.Unmount(context.Background()))
	assert.False(t, mounted(t, dir))
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Unmount returned")
	}
	require.NoError(t, srv.Wait())
	assert.ErrorIs(t, srv.Unmount(context.Background()), nil, "a second Unmount returns the first result")

	// The same directory can be mounted again.
	srv2, err := sdk.Mount(sdktest.NewMemFS(), dir, nil)
	require.NoError(t, err)
	require.NoError(t, srv2.Unmount(context.Background()))
}

func TestUnmountWithOpenFileDetachesAfterDeadline(t *testing.T) {
	dir := t.TempDir()
	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, nil)
	require.NoError(t, err)
	f, err := os.Create(filepath.Join(dir, "busy"))
	require.NoError(t, err)
	defer f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.NoError(t, srv.Unmount(ctx))
	assert.False(t, mounted(t, dir), "the mount must be gone after a forced unmount")
	select {
	case <-srv.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not release the filesystem after the forced unmount")
	}
	_, err = f.Write([]byte("x"))
	assert.Error(t, err, "a write to a file of an aborted mount must fail")
}

func TestIndependentMounts(t *testing.T) {
	a := sdktest.Mount(t, sdktest.NewMemFS(), nil)
	b := sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{FSName: "second"})
	require.NoError(t, os.WriteFile(filepath.Join(a.Dir(), "only-in-a"), []byte("a"), 0o644))
	_, err := os.Stat(filepath.Join(b.Dir(), "only-in-a"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, b.Unmount(context.Background()))
	_, err = os.Stat(filepath.Join(a.Dir(), "only-in-a"))
	assert.NoError(t, err, "unmounting one mount must not disturb the other")
}

// The lifecycle tests below need a server in another process, to kill or
// signal it. The test binary is that process when childDir is set.
const (
	childDir  = "FUSEKIT_CHILD_MOUNT"
	childMode = "FUSEKIT_CHILD_MODE" // "", "noauto" (NoAutoUnmount), "signals" (HandleSignals) or "watchdog" (no fusermount watcher)
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childAbort); mode != "" {
		os.Exit(forcedUnmountChild(mode))
	}
	if dir := os.Getenv(childDir); dir != "" {
		os.Exit(serveChild(dir, os.Getenv(childMode)))
	}
	os.Exit(m.Run())
}

// serveChild mounts on dir, says "mounted" on stdout, and serves until
// the mount ends; it returns the exit status.
func serveChild(dir, mode string) int {
	opts := &sdk.Options{NoAutoUnmount: mode == "noauto", HandleSignals: mode == "signals"}
	if mode == "watchdog" {
		sdk.WithoutFusermountWatcher(opts)
	}
	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, opts)
	if err != nil {
		return 3
	}
	os.Stdout.WriteString("mounted\n")
	if err := srv.Wait(); err != nil {
		return 4
	}
	return 0
}

// startServer starts a server process in the given mode on a new directory
// and returns once it has mounted. The mount is detached at cleanup, however
// the test ends.
func startServer(t *testing.T, mode string) (string, *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDir+"="+dir, childMode+"="+mode)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = unix.Unmount(dir, unix.MNT_DETACH)
	})
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	require.Contains(t, string(buf[:n]), "mounted", "the server process did not mount")
	return dir, cmd
}

// TestStaleMount kills a server process with SIGKILL (no cleanup runs), then
// mounts over the stale mount it left. auto_unmount is off in the child so
// that the mount really stays stale.
func TestStaleMount(t *testing.T) {
	dir, cmd := startServer(t, "noauto")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	var sfs unix.Statfs_t
	err := unix.Statfs(dir, &sfs)
	require.True(t, errors.Is(err, syscall.ENOTCONN), "want a stale mount, statfs said %v", err)

	me := mountErr(t, dir, nil)
	assert.Contains(t, me.Error(), "stale")
	assert.Contains(t, me.Error(), "ClearStale")
	assert.Contains(t, me.Error(), "-u -z "+dir, "the message names the command that clears it")
	assert.ErrorIs(t, me, sdk.ErrStaleMount)
	assert.ErrorIs(t, sdk.CheckStale(dir), sdk.ErrStaleMount)

	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{ClearStale: true})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("ok"), 0o644))
	require.NoError(t, srv.Unmount(context.Background()))
	assert.False(t, mounted(t, dir))
}

// A dead mount reached through a symlinked parent is recognised too:
// mountinfo lists the resolved path, and stat of the given one fails with
// ENOTCONN before anything else can be learnt.
func TestStaleMountThroughSymlink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	require.NoError(t, os.Mkdir(real, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(real, "mnt"), 0o755))
	require.NoError(t, os.Symlink(real, filepath.Join(base, "link")))
	sdktest.StaleMount(t, filepath.Join(real, "mnt"))
	dir := filepath.Join(base, "link", "mnt")

	me := mountErr(t, dir, nil)
	assert.ErrorIs(t, me, sdk.ErrStaleMount)
	assert.Contains(t, me.Error(), "ClearStale")

	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{ClearStale: true})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("ok"), 0o644))
	require.NoError(t, srv.Unmount(context.Background()))
	assert.False(t, mounted(t, filepath.Join(real, "mnt")))
}

// Dead mounts can be stacked (a server restarted over its own dead mount
// with libfuse3, which stacks, and killed again): ClearStale removes all.
func TestClearStaleRemovesStackedMounts(t *testing.T) {
	dir := t.TempDir()
	sdktest.StaleMount(t, dir)
	sdktest.StaleMount(t, dir)
	srv, err := sdk.Mount(sdktest.NewMemFS(), dir, &sdk.Options{ClearStale: true})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("ok"), 0o644))
	require.NoError(t, srv.Unmount(context.Background()))
	assert.False(t, mounted(t, dir))
}

// CheckStale and ClearStale are what a program calls before it looks at
// its mountpoint itself (lstat, EvalSymlinks), which fails on a dead mount.
func TestCheckAndClearStale(t *testing.T) {
	plain := t.TempDir()
	assert.NoError(t, sdk.CheckStale(plain))
	assert.NoError(t, sdk.ClearStale(plain), "nothing to clear is not an error")
	assert.NoError(t, sdk.CheckStale(filepath.Join(plain, "missing")))

	live := sdktest.Mount(t, sdktest.NewMemFS(), nil)
	assert.NoError(t, sdk.CheckStale(live.Dir()))
	require.NoError(t, sdk.ClearStale(live.Dir()))
	assert.True(t, mounted(t, live.Dir()), "a live mount is left alone")

	dir := sdktest.StaleMount(t, t.TempDir())
	_, err := os.Lstat(dir)
	require.ErrorIs(t, err, syscall.ENOTCONN)
	err = sdk.CheckStale(dir)
	require.ErrorIs(t, err, sdk.ErrStaleMount)
	var me *sdk.MountError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, dir, me.Dir)
	require.NoError(t, sdk.ClearStale(dir))
	assert.False(t, mounted(t, dir))
	_, err = os.Lstat(dir)
	assert.NoError(t, err, "the directory is usable again")
}

// TestAutoUnmountAfterCrash: with the default auto_unmount, a server killed
// by SIGKILL leaves no mount behind.
func TestAutoUnmountAfterCrash(t *testing.T) {
	dir, cmd := startServer(t, "")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for mounted(t, dir) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.False(t, mounted(t, dir), "auto_unmount must remove the mount of a killed server")
}

// The SDK's watchdog clears the mount of a killed server by itself: the
// child mounts without fusermount's auto_unmount, so nothing else would.
// fusermount leaves a dead mount when its check races the connection's
// teardown (README, Known limits); the watchdog is what remains then.
func TestWatchdogClearsMountOfKilledServer(t *testing.T) {
	dir, cmd := startServer(t, "watchdog")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	// The watchdog retries for 30 s while the connection is torn down.
	deadline := time.Now().Add(time.Minute)
	for mounted(t, dir) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.False(t, mounted(t, dir), "the watchdog must remove the mount of a killed server")
}

func TestSignalUnmounts(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir, cmd := startServer(t, "signals")
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "the server must exit cleanly after %v", sig)
			case <-time.After(20 * time.Second):
				t.Fatalf("the server did not exit after %v", sig)
			}
			assert.False(t, mounted(t, dir))
		})
	}
}

func TestMountKeepsWorkingDirectory(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	sdktest.Mount(t, sdktest.NewMemFS(), nil)
	now, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, wd, now, "mounting must not change the process's working directory")
}

// stuckFS never answers an open of "stuck", whatever its context says: a
// backend hung in I/O.
type stuckFS struct {
	*sdktest.MemFS
	release chan struct{}
}

func (s stuckFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if name == "stuck" {
		<-s.release
	}
	return s.MemFS.Open(ctx, name, flags, perm)
}

func TestUnmountDoesNotHangOnAStuckRequest(t *testing.T) {
	fsys := stuckFS{MemFS: sdktest.NewMemFS(), release: make(chan struct{})}
	dir := t.TempDir()
	srv, err := sdk.Mount(fsys, dir, nil)
	require.NoError(t, err)
	sdk.SetReleaseGrace(srv, 2*time.Second)
	defer close(fsys.release) // lets the stuck thread and the libfuse loop finish
	go func() {
		f, err := os.OpenFile(filepath.Join(dir, "stuck"), os.O_CREATE|os.O_RDWR, 0o644)
		if err == nil {
			f.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the open reach the filesystem

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Unmount(ctx)
	require.Error(t, err, "a stuck request must be reported, not waited for forever")
	assert.Contains(t, err.Error(), "stuck")
	assert.Less(t, time.Since(start), time.Minute)
	assert.False(t, mounted(t, dir), "the mount is detached all the same")
}

// TestNoDescriptorLeaksToChildren: processes started after a mount inherit
// neither its /dev/fuse descriptor nor libfuse's socket to the fusermount
// watcher; otherwise watchers keep each other (and whatever pipes they
// inherited) alive after the server is gone.
func TestNoDescriptorLeaksToChildren(t *testing.T) {
	sdktest.Mount(t, sdktest.NewMemFS(), nil)
	sdktest.Mount(t, sdktest.NewMemFS(), nil)
	out, err := exec.Command("sh", "-c", `for f in /proc/$$/fd/*; do readlink "$f" || true; done`).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		assert.NotEqual(t, "/dev/fuse", l, "a child inherited a mount's /dev/fuse descriptor")
		assert.False(t, strings.HasPrefix(l, "socket:"), "a child inherited a socket: %s", l)
	}
}

// Mount gives every libfuse thread a P of its own unless told to keep
// GOMAXPROCS; see Options.KeepGOMAXPROCS.
func TestMountRaisesGOMAXPROCS(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	if os.Getenv("GOMAXPROCS") != "" {
		t.Setenv("GOMAXPROCS", "") // a set variable stops Mount; empty counts as unset
	}

	runtime.GOMAXPROCS(1)
	sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{KeepGOMAXPROCS: true})
	assert.Equal(t, 1, runtime.GOMAXPROCS(0), "KeepGOMAXPROCS must leave it alone")

	sdktest.Mount(t, sdktest.NewMemFS(), nil)
	assert.Equal(t, runtime.NumCPU()+10, runtime.GOMAXPROCS(0), "CPUs plus libfuse's 10 threads")
}

// blockFS makes an open of "block" wait until its request is canceled, as
// a backend call does that honours its context but never gets an answer.
type blockFS struct {
	*sdktest.MemFS
	entered chan struct{} // gets a value when an open of "block" arrives
}

func (b blockFS) Open(ctx context.Context, name string, flags int, perm uint32) (sdk.File, error) {
	if name == "block" && flags&unix.O_ACCMODE == unix.O_RDONLY {
		b.entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.MemFS.Open(ctx, name, flags, perm)
}

// childAbort names the forced-unmount scenario a child runs in a mount
// namespace of its own: "nofusectl" (fusectl not mounted when it starts)
// or "nosysfs" (fusectl cannot be mounted at all).
const childAbort = "FUSEKIT_CHILD_ABORT"

// forcedUnmountChild mounts blockFS, holds a file open and a request
// waiting, unmounts with a short deadline and reports on stdout what it
// saw. It runs in a private mount namespace, so what it does to
// /sys/fs/fuse/connections is invisible to every other process.
func forcedUnmountChild(mode string) int {
	for unix.Unmount("/sys/fs/fuse/connections", unix.MNT_DETACH) == nil {
	}
	if mode == "nosysfs" {
		// Hide the connections directory: fusectl has nowhere to go.
		if err := unix.Mount("tmpfs", "/sys/fs/fuse", "tmpfs", 0, ""); err != nil {
			fmt.Println("cannot hide /sys/fs/fuse:", err)
			return 5
		}
	}
	dir, err := os.MkdirTemp("", "fusekit-abort-")
	if err != nil {
		fmt.Println(err)
		return 5
	}
	defer os.Remove(dir)
	logs := &syncBuffer{}
	fsys := blockFS{sdktest.NewMemFS(), make(chan struct{}, 1)}
	srv, err := sdk.Mount(fsys, dir, &sdk.Options{
		NoAutoUnmount: true, // nothing outside this namespace could see the mount anyway
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return 5
	}
	held, err := os.Create(filepath.Join(dir, "held"))
	if err != nil {
		fmt.Println(err)
		return 5
	}
	if err := os.WriteFile(filepath.Join(dir, "block"), nil, 0o644); err != nil {
		fmt.Println(err)
		return 5
	}
	blocked := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(dir, "block"), os.O_RDONLY, 0)
		if err == nil {
			f.Close()
		}
		blocked <- err
	}()
	<-fsys.entered
	if mode == "nosysfs" {
		// Without the abort the held file keeps the connection: close it
		// once the SDK has said it could not abort, so the loop can end.
		go func() {
			for !strings.Contains(logs.String(), "could not abort") {
				time.Sleep(10 * time.Millisecond)
			}
			held.Close()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = srv.Unmount(ctx)
	fmt.Printf("unmount: %v\n", err)
	select {
	case <-srv.Done():
		fmt.Println("done: closed")
	case <-time.After(2 * time.Minute):
		fmt.Println("done: still open")
	}
	select {
	case err := <-blocked:
		fmt.Printf("blocked request: returned (%v)\n", err)
	case <-time.After(2 * time.Minute):
		fmt.Println("blocked request: still waiting")
	}
	m, _ := os.ReadFile("/proc/self/mountinfo")
	fmt.Printf("fusectl mounted: %v\n", strings.Contains(string(m), " /sys/fs/fuse/connections "))
	fmt.Printf("log: %s\n", logs.String())
	held.Close()
	return 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runForcedUnmountChild runs forcedUnmountChild in a new mount namespace
// and returns its report.
func runForcedUnmountChild(t *testing.T, mode string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childAbort+"="+mode)
	// Go makes the new namespace's mounts private, so nothing the child
	// mounts or unmounts propagates back.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	t.Logf("child in a new mount namespace:\n%s", out)
	return string(out)
}

// A forced unmount must end the FUSE connection, not only detach the
// mount, even when fusectl (the only way to abort a connection) was not
// mounted: the SDK mounts it and says so. The child holds a file open,
// which keeps a merely detached connection alive, and has a request
// waiting in the filesystem.
func TestForcedUnmountAbortsWithoutFusectl(t *testing.T) {
	out := runForcedUnmountChild(t, "nofusectl")
	assert.Contains(t, out, "unmount: <nil>\n")
	assert.Contains(t, out, "done: closed", "the libfuse loop must end")
	assert.Contains(t, out, "blocked request: returned")
	assert.Contains(t, out, "fusectl mounted: true")
	assert.Contains(t, out, "mounted the FUSE control filesystem", "mounting fusectl is said, not hidden")
}

// When fusectl cannot be mounted, the forced unmount says that the
// connection could not be aborted and why, in its error and its log.
func TestForcedUnmountReportsImpossibleAbort(t *testing.T) {
	out := runForcedUnmountChild(t, "nosysfs")
	assert.Contains(t, out, "could not be aborted")
	assert.Contains(t, out, "/sys/fs/fuse/connections is missing")
	assert.Contains(t, out, "done: closed")
}
