#!/usr/bin/env bash
# The main job: mount the overlay example over the bundled sample data, show
# the merged view, write a file, delete a lower file, show the upper
# directory with its whiteout, and unmount. Run from anywhere, as root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
work=$(mktemp -d /tmp/fusekit-demo.XXXXXX)
bin="$work/overlay"
lower="$repo/examples/overlay/sample/lower"
pid=

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -INT "$pid"; wait "$pid" || true; fi
	if grep -q " $work/mnt " /proc/self/mountinfo; then fusermount3 -u -z "$work/mnt" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

go build -o "$bin" ./examples/overlay
mkdir -p "$work/upper" "$work/work" "$work/mnt"
echo "lower (read-only, bundled sample data): $lower"
echo "upper (writable):                       $work/upper"
"$bin" -f -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$work/mnt" &
pid=$!
for _ in $(seq 100); do
	grep -q " $work/mnt " /proc/self/mountinfo && break
	kill -0 "$pid" 2>/dev/null || { echo "the overlay exited before mounting"; exit 1; }
	sleep 0.05
done
grep -q " $work/mnt " /proc/self/mountinfo || { echo "the overlay did not mount within 5 s"; exit 1; }

step ls -l "$work/mnt" "$work/mnt/notes"
step cat "$work/mnt/hello.txt"
step sh -c "echo 'written through the mount' > '$work/mnt/notes/new.txt'"
step rm "$work/mnt/hello.txt"
step ls -l "$work/mnt"
echo
echo "The upper directory now holds the new file and a whiteout (a 0/0 character device) for hello.txt:"
step ls -lR "$work/upper"
echo
echo "The lower directory is untouched:"
step ls -l "$lower"

kill -INT "$pid"
wait "$pid"
pid=
if grep -q " $work/mnt " /proc/self/mountinfo; then echo "still mounted after SIGINT"; exit 1; fi
echo
echo "unmounted cleanly."
