#!/usr/bin/env bash
# Runs the full write-back comparison (make bench-writeback): builds
# fusekit-wbbench and examples/memfs for one libfuse build, installs rclone
# and openssh-server if they are missing, and prints the table.
#
#   conformance/cmd/fusekit-wbbench/run.sh [-tags fuse3] [fusekit-wbbench flags...]
#
# Examples:
#   run.sh                          # default build, 256 MiB per row
#   run.sh -tags fuse3 -csv wb.csv  # libfuse3 build, CSV too
#   run.sh -size 32M -only latency  # a quick look
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
