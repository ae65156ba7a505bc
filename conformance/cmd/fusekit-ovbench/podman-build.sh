#!/usr/bin/env bash
# Times one podman build (rootful, --isolation chroot) of the image the
# overlay's podman test builds (examples/overlay/testdata/podman) with four
# storage setups: podman's kernel overlay driver, and the overlay driver
# with a mount_program: fuse-overlayfs, and fusekit's overlay example in
# both libfuse builds. A benchmark, not a test: it checks only that every
# build succeeds and that podman leaves no mount behind.
#
#   conformance/cmd/fusekit-ovbench/podman-build.sh [REPS]   # default 5
#
# Every measurement uses fresh podman storage (so no layer is cached),
# imports the base image untimed, times `podman build` alone, and removes
# the storage. Repetitions are interleaved in a balanced order (a Williams
# square, as bench.Order): every target runs first equally often and right
# after every other target equally often. It prints every time, then the
# median per target and its ratio to the kernel driver and to
# fuse-overlayfs.
#
# The base image holds busybox-static and the files under /base the
# Containerfile changes, as the test's does (the test writes it in Go; here
# the 8 MiB file's bytes come from yes(1), its size is the same).
#
# Needs root, /dev/fuse, podman, busybox-static, fuse-overlayfs (installed
# when missing). On a shared machine hold the lock other benchmarks use:
#   flock -x /tmp/fusekit-cpu.lock conformance/cmd/fusekit-ovbench/podman-build.sh
set -euo pipefail

reps=${1:-5}
root=$(cd "$(dirname "$0")/../../.." && pwd)

missing=()
for p in podman busybox-static fuse-overlayfs fuse3; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "podman-build.sh: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

work=$(mktemp -d /var/tmp/fusekit-podman-bench.XXXXXX)
cleanup() {
	# Deepest mounts first; a failed build may leave some.
	{ grep -F " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
go build -o "$work/bin/overlay-fuse2" ./examples/overlay
go build -tags fuse3 -o "$work/bin/overlay-fuse3" ./examples/overlay

# The base image.
base=$work/base
mkdir -p "$base/bin" "$base/etc" "$base/tmp" "$base/base/empty" "$base/base/tree/sub" "$base/base/mvdir/deep"
chmod 1777 "$base/tmp"
cp /bin/busybox "$base/bin/busybox"
for a in sh cat chmod echo find head ln ls mkdir mv rm sha256sum sort stat true truncate wc xargs yes; do
	ln -s busybox "$base/bin/$a"
done
echo untouched >"$base/base/keep.txt"
echo 'setuid bit, never changed' >"$base/base/suid"
chmod 4755 "$base/base/suid"
echo 'deleted by layer 2' >"$base/base/gone.txt"
echo a >"$base/base/tree/a"
echo b >"$base/base/tree/sub/b"
chmod 750 "$base/base/tree"
chmod 600 "$base/base/tree/sub/b"
echo x >"$base/base/mvdir/x"
echo z >"$base/base/mvdir/deep/z"
chmod 711 "$base/base/mvdir/deep"
echo 'renamed by layer 4' >"$base/base/rename.txt"
{ yes 'fusekit base layer, 8 MiB' || true; } | head -c $((8 << 20)) >"$base/base/big"
echo 'first line' >"$base/base/append"
echo 'hard-linked in the base' >"$base/base/hard1"
ln "$base/base/hard1" "$base/base/hard2"
ln -s tree/a "$base/base/sym"
echo 'emptied by layer 7' >"$base/base/truncate.txt"
echo 'grown to 5000 bytes by layer 7' >"$base/base/sparse"
tar -C "$base" --mtime=2021-01-02T03:04:05Z -cf "$work/base.tar" .

mkdir -p "$work/ctx"
cp examples/overlay/testdata/podman/Containerfile "$work/ctx/"
: >"$work/empty.conf"
printf '[engine]\nlock_type = "file"\n' >"$work/containers.conf"

targets=(kernel fuse-overlayfs fusekit-fuse2 fusekit-fuse3)
program() {
	case $1 in
	kernel) ;;
	fuse-overlayfs) command -v fuse-overlayfs ;;
	fusekit-fuse2) echo "$work/bin/overlay-fuse2" ;;
	fusekit-fuse3) echo "$work/bin/overlay-fuse3" ;;
	esac
}

# order N REP: the targets' order in repetition REP (from 1), the Williams
# sequence 0, 1, N-1, 2, N-2, ... shifted by REP-1 (N is even here).
order() {
	local n=$1 shift=$((($2 - 1) % $1)) lo=1 hi=$(($1 - 1)) j v out=()
	for ((j = 0; j < n; j++)); do
		if ((j == 0)); then
			v=0
		elif ((j % 2 == 1)); then
			v=$lo lo=$((lo + 1))
		else
			v=$hi hi=$((hi - 1))
		fi
		out+=($(((v + shift) % n)))
	done
	echo "${out[@]}"
}

# build TARGET: prints the seconds `podman build` took.
build() {
	local t=$1 dir=$work/run prog
	prog=$(program "$t")
	rm -rf "$dir"
	mkdir -p "$dir/root" "$dir/runroot" "$dir/tmp" "$dir/libpod"
	printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$dir/runroot" "$dir/root" >"$dir/storage.conf"
	local pm=(podman --root "$dir/root" --runroot "$dir/runroot" --tmpdir "$dir/libpod"
		--storage-driver overlay --events-backend none --cgroup-manager cgroupfs)
	[ -n "$prog" ] && pm+=(--storage-opt "overlay.mount_program=$prog")
	export CONTAINERS_CONF=$work/containers.conf CONTAINERS_REGISTRIES_CONF=$work/empty.conf
	export CONTAINERS_STORAGE_CONF=$dir/storage.conf TMPDIR=$dir/tmp
	"${pm[@]}" import "$work/base.tar" localhost/fusekit-base:latest >/dev/null 2>"$dir/import.log" ||
		{ cat "$dir/import.log" >&2; return 1; }
	sync
	local t0 t1
	t0=$(date +%s.%N)
	"${pm[@]}" build --isolation chroot --pull=never -t localhost/fusekit-test:latest "$work/ctx" >"$dir/build.log" 2>&1 ||
		{ echo "$t: podman build failed:" >&2; tail -20 "$dir/build.log" >&2; return 1; }
	t1=$(date +%s.%N)
	unset CONTAINERS_CONF CONTAINERS_REGISTRIES_CONF CONTAINERS_STORAGE_CONF TMPDIR
	if grep -qF " $dir/" /proc/self/mountinfo; then
		echo "$t: podman left mounts behind:" >&2
		grep -F " $dir/" /proc/self/mountinfo >&2
		return 1
	fi
	rm -rf "$dir"
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
}

declare -A times
echo "podman $(podman --version | awk '{print $3}'), fuse-overlayfs $(fuse-overlayfs --version 2>&1 | awk '/fuse-overlayfs/{print $3; exit}'), kernel $(uname -r), $(nproc) CPUs"
echo "rep  target           seconds"
for ((rep = 1; rep <= reps; rep++)); do
	for i in $(order ${#targets[@]} "$rep"); do
		t=${targets[$i]}
		s=$(build "$t")
		times[$t]+="$s "
		printf '%-4d %-16s %6s\n' "$rep" "$t" "$s"
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "median of $reps, seconds per build; ratio = that target's time over the kernel driver's and over fuse-overlayfs's"
k=$(echo "${times[kernel]}" | median)
f=$(echo "${times[fuse-overlayfs]}" | median)
printf '%-16s %8s %10s %16s\n' target median "/ kernel" "/ fuse-overlayfs"
for t in "${targets[@]}"; do
	m=$(echo "${times[$t]}" | median)
	awk -v t="$t" -v m="$m" -v k="$k" -v f="$f" 'BEGIN {printf "%-16s %8.2f %10.2f %16.2f\n", t, m, m / k, m / f}'
done
