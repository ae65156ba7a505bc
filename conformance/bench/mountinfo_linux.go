package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// mountEntry is the part of a /proc/self/mountinfo line the tool needs.
type mountEntry struct {
	Point  string // mount point, unescaped
	FSType string // "fuse", "fuse.passthrough", "ext4", ...
}

// parseMountinfo reads the format of proc(5): the mount point is field 5,
// the filesystem type is the first field after the " - " separator, and
// spaces, tabs, newlines and backslashes in paths are octal escapes.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		fields := strings.Fields(pre)
		rest := strings.Fields(post)
		if !ok || len(fields) < 5 || len(rest) < 1 {
			return nil, fmt.Errorf("mountinfo line %d is malformed: %q", n, line)
		}
		out = append(out, mountEntry{Point: unescapeMountinfo(fields[4]), FSType: rest[0]})
	}
	return out, sc.Err()
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal3(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal3(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

func isFUSEType(fstype string) bool {
	return fstype == "fuse" || fstype == "fuseblk" || strings.HasPrefix(fstype, "fuse.")
}

// fuseMountedAt reports whether a FUSE filesystem is mounted on dir, which
// must be absolute and free of symlinks (mountinfo lists resolved paths).
// The last entry for a path wins, since mounts stack.
func fuseMountedAt(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	entries, err := parseMountinfo(f)
	if err != nil {
		return false, err
	}
	found := false
	for _, e := range entries {
		if e.Point == dir {
			found = isFUSEType(e.FSType)
		}
	}
	return found, nil
}

// FUSEMountedAt reports whether a FUSE filesystem is mounted on dir, which
// must be absolute and free of symlinks (mountinfo lists resolved paths).
func FUSEMountedAt(dir string) (bool, error) { return fuseMountedAt(dir) }

// MountsUnder lists the mount points at dir or below it (absolute, free of
// symlinks), in mount order.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := parseMountinfo(f)
	var out []string
	for _, e := range entries {
		if e.Point == dir || strings.HasPrefix(e.Point, dir+"/") {
			out = append(out, e.Point)
		}
	}
	return out, err
}

// detach lazily unmounts dir: umount2(MNT_DETACH) as root, fusermount3 or
// fusermount otherwise. A lazy unmount also ends a daemon that is stuck,
// because the kernel aborts its pending requests once the last user is
// gone, and it never blocks on a dead connection.
func detach(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	errs := []string{"umount2: " + err.Error()}
	for _, helper := range []string{"fusermount3", "fusermount"} {
		out, herr := exec.Command(helper, "-u", "-z", dir).CombinedOutput()
		if herr == nil {
			return nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v %s", helper, herr, strings.TrimSpace(string(out))))
	}
	return fmt.Errorf("cannot unmount %s: %s", dir, strings.Join(errs, "; "))
}
