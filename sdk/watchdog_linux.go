//go:build cgo

package sdk

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// watchdogScript runs in a process of its own for as long as the mount
// lives. Its standard input is a pipe whose write end only this process
// holds, so the read returns when this process dies (or when the libfuse
// loop has ended and the pipe is closed). If the mount with this
// connection's device number is then still listed and its server is gone,
// it detaches it.
//
// It backs up fusermount's auto_unmount, which unmounts only when its
// open of the mountpoint fails with ENOTCONN: an open that reaches the
// connection while it is still being torn down fails with ECONNABORTED
// instead, and fusermount then leaves the dead mount (3 of 20 kill -9s
// with both CPUs busy, each seen under strace). The watchdog retries
// through that window.
const watchdogScript = `read -r _
n=0
while [ $n -lt 300 ]; do
	grep -q "^[0-9]* [0-9]* $2 " /proc/self/mountinfo || exit 0
	err=$(LC_ALL=C stat -f -c %t -- "$1" 2>&1 >/dev/null) && exit 0
	case $err in
	*"not connected"*) umount -l -- "$1" 2>/dev/null || "$3" -u -z -- "$1"; exit ;;
	esac
	sleep 0.1
	n=$((n+1))
done`

// watchdog is the process started by startWatchdog.
type watchdog struct {
	w   *os.File // the pipe's write end; closing it lets the watchdog look
	cmd *exec.Cmd
}

// startWatchdog starts the watchdog for the mount on dir with device dev.
func startWatchdog(dir string, dev uint64) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devs := fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "fusekit-watchdog", dir, devs, fusermount())
	cmd.Stdin = r
	// Its own process group: a Ctrl-C meant for the program must not
	// end the watchdog first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	return &watchdog{w: w, cmd: cmd}, nil
}

// stop lets the watchdog look once more (it finds the mount gone and
// exits) and reaps it in the background.
func (wd *watchdog) stop() {
	if wd == nil {
		return
	}
	wd.w.Close()
	go func() { _ = wd.cmd.Wait() }()
}
