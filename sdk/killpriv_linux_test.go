//go:build linux

package sdk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// privCaller is who does the operation: an unprivileged identity (fsuid,
// fsgid, supplementary groups) taken by one OS thread, or root.
type privCaller struct {
	name   string
	uid    int // 0: root, with CAP_FSETID
	gid    int
	groups []uint32
}

// do runs fn on a thread of its own that has taken c's identity. The thread
// is never unlocked: it ends with its goroutine, so the identity cannot
// leak into the rest of the test binary. Taking a non-zero fsuid drops
// CAP_FSETID (and the other file capabilities) from the thread, which is
// what makes it unprivileged for the kernel's setuid/setgid rules.
func (c privCaller) do(fn func() error) error {
	if c.uid == 0 {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Raw setgroups: x/sys's and syscall's wrappers may change every
		// thread of the process.
		var ptr unsafe.Pointer
		if len(c.groups) > 0 {
			ptr = unsafe.Pointer(&c.groups[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(c.groups)), uintptr(ptr), 0); e != 0 {
			done <- fmt.Errorf("setgroups: %w", e)
			return
		}
		unix.Setfsgid(c.gid)
		unix.Setfsuid(c.uid)
		if uid, _ := unix.SetfsuidRetUid(-1); uid != c.uid {
			done <- fmt.Errorf("setfsuid did not take: fsuid %d", uid)
			return
		}
		done <- fn()
	}()
	return <-done
}

// privOps are the operations after which the kernel drops setuid/setgid
// for a caller without CAP_FSETID (file_remove_privs, do_truncate) and,
// for chown, for every caller. do gets the file and the caller's fsgid.
var privOps = []struct {
	name  string
	owned bool // the file belongs to the caller, who may chown it
	do    func(p string, gid int) error
}{
	{name: "write", do: func(p string, _ int) error {
		fd, err := unix.Open(p, unix.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Pwrite(fd, []byte("x"), 1)
		return err
	}},
	{name: "append", do: func(p string, _ int) error {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte("x"))
		return err
	}},
	{name: "open-trunc", do: func(p string, _ int) error {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_TRUNC, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	}},
	{name: "truncate", do: func(p string, _ int) error { return unix.Truncate(p, 2) }},
	{name: "ftruncate", do: func(p string, _ int) error {
		fd, err := unix.Open(p, unix.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Ftruncate(fd, 2)
	}},
	{name: "chgrp", owned: true, do: func(p string, gid int) error { return unix.Chown(p, -1, gid) }},
}

// runPrivCase makes a file of group gid and mode in dir, owned by root or
// by c, lets c do op on it and returns the mode afterwards.
func runPrivCase(t *testing.T, dir string, mode uint32, gid int, c privCaller, owned bool, op func(string, int) error, name string) uint32 {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("data"), 0o600))
	owner := 0
	if owned {
		owner = c.uid
	}
	require.NoError(t, os.Chown(p, owner, gid))
	require.NoError(t, unix.Chmod(p, mode))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(p, &st))
	require.Equal(t, mode, st.Mode&0o7777, "chmod %s", p)
	require.NoError(t, c.do(func() error { return op(p, c.gid) }), "%s on %s", c.name, p)
	require.NoError(t, unix.Stat(p, &st))
	return st.Mode & 0o7777
}

// reachable makes dir and its parent searchable by every uid (t.TempDir's
// directories are private) and dir writable by them.
func reachable(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o777))
}

// TestSetuidSetgidDroppedAsTheKernelDoes compares, operation by operation,
// the mode the kernel leaves on a native directory (the oracle: its
// setattr_should_drop_suidgid rules) with the mode a mount leaves: setuid
// always goes for a caller without CAP_FSETID; setgid goes when the file is
// group-executable or when the caller is not in the file's group, which
// covers a 02767 file written by a stranger; chown drops setuid even for
// root. Checked on writes (through the page cache and O_APPEND's direct
// I/O), on every kind of truncation, including open(O_TRUNC), whose mode
// change the kernel does not pass on to a FUSE server that truncates in
// open, and on chgrp by the file's owner.
func TestSetuidSetgidDroppedAsTheKernelDoes(t *testing.T) {
	const fileGid = 5555
	callers := []privCaller{
		{name: "root", uid: 0, gid: 0},
		{name: "stranger", uid: 4321, gid: 8765},
		{name: "group-member", uid: 4321, gid: fileGid},
		{name: "supplementary-member", uid: 4321, gid: 8765, groups: []uint32{7777, fileGid}},
	}
	modes := []uint32{0o4777, 0o2777, 0o2767, 0o6777, 0o6767, 0o0777}

	native := t.TempDir()
	reachable(t, native)
	memfs := sdktest.Mount(t, sdktest.NewMemFS(), &sdk.Options{AllowOther: true}).Dir()
	reachable(t, memfs)
	_, psrv := passthroughMount(t, &sdk.Options{AllowOther: true})
	pass := psrv.Dir()
	reachable(t, pass)

	for _, op := range privOps {
		for _, c := range callers {
			for _, mode := range modes {
				name := fmt.Sprintf("%s-%s-%04o", op.name, c.name, mode)
				want := runPrivCase(t, native, mode, fileGid, c, op.owned, op.do, name)
				assert.Equal(t, fmt.Sprintf("%04o", want), fmt.Sprintf("%04o", runPrivCase(t, memfs, mode, fileGid, c, op.owned, op.do, name)),
					"memfs: %s by %s of a %04o file", op.name, c.name, mode)
				assert.Equal(t, fmt.Sprintf("%04o", want), fmt.Sprintf("%04o", runPrivCase(t, pass, mode, fileGid, c, op.owned, op.do, name)),
					"passthrough: %s by %s of a %04o file", op.name, c.name, mode)
			}
		}
	}
}
