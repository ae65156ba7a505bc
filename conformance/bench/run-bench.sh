#!/usr/bin/env bash
# run-bench.sh: the comparison behind `make bench` (issue 2). It builds the
# SDK's examples/passthrough and cgofuse's own examples/passthrough in both
# libfuse builds, then runs one interleaved fusekit-bench over native
# storage and the four daemons, which the tool starts and stops itself.
#
# Environment (all optional):
#   SIZE=256M REPS=2          file size and repetitions
#   WORKLOADS=core            w1m,w4k,r1m,r4k,create,stat,unlink; "all" adds the rest
#   BUILDS="fuse2 fuse3"      which libfuse builds to compare
#   BENCH_DIR=out/bench       native directory, daemons' directories, results.csv;
#                             keep it on the disk you want to measure (not tmpfs)
#   BIN=bin                   where binaries are built
#   CGOFUSE_FUSE2_ARGS / CGOFUSE_FUSE3_ARGS / SDK_ARGS
#                             SDK_ARGS defaults to -no-xattrs: cgofuse's example
#                             has no xattrs, so the kernel's per-write
#                             security.capability round trip is left out on
#                             both sides (SDK_ARGS= measures the SDK with them)
#                             extra arguments for the daemons, e.g.
#                             CGOFUSE_FUSE2_ARGS="-o big_writes"
#   BENCH_EXTRA               more targets (peers), one fusekit-bench target
#                             spec per line, e.g.
#                             BENCH_EXTRA='bindfs@libfuse3=cmd:bindfs -f {src} {mnt}'
# Arguments are passed to fusekit-bench before the targets (e.g. -files 2000).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

SIZE=${SIZE:-256M}
REPS=${REPS:-2}
WORKLOADS=${WORKLOADS:-core}
BUILDS=${BUILDS:-fuse2 fuse3}
BENCH_DIR=${BENCH_DIR:-out/bench}
BIN=${BIN:-bin}
GO=${GO:-go}

mkdir -p "$BIN" "$BENCH_DIR/native" "$BENCH_DIR/work"
BIN=$(cd "$BIN" && pwd)
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

echo "building into $BIN"
$GO build -o "$BIN/fusekit-bench" ./conformance/cmd/fusekit-bench
targets=("native=$BENCH_DIR/native")
for b in $BUILDS; do
	case $b in
	fuse2) tags=() ;;
	fuse3) tags=(-tags fuse3) ;;
	*) echo "run-bench.sh: unknown build $b in BUILDS (want fuse2 and/or fuse3)" >&2; exit 2 ;;
	esac
	$GO build "${tags[@]}" -o "$BIN/passthrough-$b" ./examples/passthrough
	# cgofuse is a dependency, so its example builds from the module cache
	# at exactly the version the SDK uses.
	$GO build "${tags[@]}" -o "$BIN/cgofuse-passthrough-$b" github.com/winfsp/cgofuse/examples/passthrough
	extra_var=CGOFUSE_${b^^}_ARGS
	targets+=("sdk-$b@lib$b=cmd:$BIN/passthrough-$b ${SDK_ARGS--no-xattrs} {src} {mnt}")
	# cgofuse's example takes libfuse options first, then SOURCE MOUNTPOINT.
	targets+=("cgofuse-$b@lib$b=cmd:$BIN/cgofuse-passthrough-$b ${!extra_var:-} {src} {mnt}")
done
if [[ -n ${BENCH_EXTRA:-} ]]; then
	while IFS= read -r spec; do
		[[ -n $spec ]] && targets+=("$spec")
	done <<<"$BENCH_EXTRA"
fi

csv=$BENCH_DIR/results.csv
status=0
"$BIN/fusekit-bench" -size "$SIZE" -reps "$REPS" -workloads "$WORKLOADS" \
	-workdir "$BENCH_DIR/work" -csv "$csv" "$@" "${targets[@]}" || status=$?
echo
echo "raw measurements and medians: $csv"

# The SDK against cgofuse's bare example, row by row (issue 2: never
# slower, faster on stat-heavy rows in the fuse3 build). Above 1 means the
# SDK is faster. Informational: one run on a noisy machine is not a verdict.
if [[ -s $csv ]]; then
	for b in $BUILDS; do
		awk -F, -v b="$b" '
			$1 == "median" && $2 == "sdk-" b     { sdk[$4] = $8; unit[$4] = $5; order[++n] = $4 }
			$1 == "median" && $2 == "cgofuse-" b { cg[$4] = $8 }
			END {
				if (n == 0) exit
				printf "sdk-%s / cgofuse-%s (above 1: the SDK is faster):", b, b
				for (i = 1; i <= n; i++) {
					w = order[i]
					if (sdk[w] == "" || cg[w] == "" || sdk[w] == 0 || cg[w] == 0) { printf "  %s -", w; continue }
					r = (unit[w] == "s") ? cg[w] / sdk[w] : sdk[w] / cg[w]
					printf "  %s %.2f", w, r
				}
				printf "\n"
			}' "$csv"
	done
fi
exit $status
