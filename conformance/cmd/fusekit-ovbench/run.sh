#!/usr/bin/env bash
# Runs issue 5's overlay comparison (make bench-overlay): installs
# fuse-overlayfs and unionfs-fuse if they are missing, builds
# examples/overlay for both libfuse lines and fusekit-ovbench, and prints
# the table. Arguments go to fusekit-ovbench.
#
#   conformance/cmd/fusekit-ovbench/run.sh [fusekit-ovbench flags...]
#
# Examples:
#   run.sh                                   # the full table, 3 repetitions
#   run.sh -reps 5 -csv /tmp/ov.csv          # more repetitions, CSV too
#   run.sh -rows copyup-small,tar-x -reps 1  # a quick look at two rows
#
# On a machine shared with other benchmarks, hold the lock they use:
#   flock -x /tmp/fusekit-cpu.lock make bench-overlay
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)

missing=()
command -v fuse-overlayfs >/dev/null || missing+=(fuse-overlayfs)
command -v unionfs-fuse >/dev/null || missing+=(unionfs-fuse)
command -v fusermount3 >/dev/null || missing+=(fuse3)
if ((${#missing[@]})); then
	echo "run.sh: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cd "$root"
go build -o "$bin/fusekit-ovbench" ./conformance/cmd/fusekit-ovbench
go build -o "$bin/overlay-fuse2" ./examples/overlay
go build -tags fuse3 -o "$bin/overlay-fuse3" ./examples/overlay
"$bin/fusekit-ovbench" -fusekit-fuse2 "$bin/overlay-fuse2" -fusekit-fuse3 "$bin/overlay-fuse3" "$@"
