#!/usr/bin/env bash
# Runs the full write-back comparison (make bench-writeback): builds
# fusekit-wbbench and examples/memfs for one libfuse build, installs rclone
# and openssh-server if they are missing, and prints the table.
#
#   conformance/cmd/fusekit-wbbench/run.sh [-tags fuse3] [fusekit-wbbench flags...]
#
# Examples:
#   run.sh                                  # default build, 256 MiB per row, 3 repetitions
#   run.sh -tags fuse3 -csv wb.csv          # libfuse3 build, every measurement in a CSV too
#   run.sh -size 32M -reps 1 -only latency  # a quick look
#   run.sh -latency 1ns -wt-latency-size 0 -only latency  # the same rows without latency: the ceiling
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
tags=()
if [[ ${1:-} == -tags ]]; then
	tags=(-tags "$2")
	shift 2
fi

missing=()
command -v rclone >/dev/null || missing+=(rclone)
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
command -v fusermount3 >/dev/null || missing+=(fuse3)
if ((${#missing[@]})); then
	echo "run.sh: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cd "$root"
go build "${tags[@]}" -o "$bin/fusekit-wbbench" ./conformance/cmd/fusekit-wbbench
go build "${tags[@]}" -o "$bin/memfs" ./examples/memfs
"$bin/fusekit-wbbench" -memfs-bin "$bin/memfs" "$@"
