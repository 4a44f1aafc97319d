#!/usr/bin/env bash
# Two saved builds of the load benchmark (or two variants of one build) run in alternated
# pairs, the order swapped every pair, so that a slow stretch of a shared machine falls on both
# sides: the comparison BENCHMARKS.md calls "alternated pairs".
#
#   A=/tmp/load-before B=/tmp/load-after VARIANT=tracewire-off bench/load/ab.sh
#   A=/tmp/load B=/tmp/load VARIANT=tower-http VARIANT_B=tracewire-off bench/load/ab.sh
#
# Settings (environment):
#   A, B            the two builds (`cargo build --release` of bench/load, copied aside)
#   VARIANT         the variant both sides serve; VARIANT_B, if set, is B's instead
#   PAIRS=6 DURATION=10 WARMUP=2 CONNECTIONS=16 SERVER_CPU=0 LOADER_CPU=1 PORT=18280
#
# Prints each run's requests/s and p99, then each pair's B/A ratio of requests/s and their
# median. Needs taskset (util-linux).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
: "${A:?A=path of the first build}" "${B:?B=path of the second build}" "${VARIANT:?VARIANT=name}"
VARIANT_B="${VARIANT_B:-$VARIANT}"
PAIRS="${PAIRS:-6}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADER_CPU="${LOADER_CPU:-1}"
PORT="${PORT:-18280}"
OUT="${OUT:-$here/results}"
LOAD_BIN="$A"

command -v taskset >/dev/null || { echo "ab.sh: taskset (util-linux) is required" >&2; exit 1; }
# shellcheck source=bench/load/common.sh
. "$here/common.sh"

# run SIDE: serves the side's variant from its build under load; prints "rps p99".
run() {
    local bin="$A" variant="$VARIANT"
    if [ "$1" = B ]; then bin="$B"; variant="$VARIANT_B"; fi
    start_server "$OUT/$stamp.ab.log" 30 taskset -c "$SERVER_CPU" "$bin" serve --variant "$variant" --port "$PORT"
    local result
    result="$(taskset -c "$LOADER_CPU" "$bin" load --url "http://127.0.0.1:$PORT/" \
        --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS")"
    stop_server
    local rps p99
    rps="$(grep -o '"rps":[0-9.]*' <<<"$result" | cut -d: -f2)"
    p99="$(grep -o '"p99_us":[0-9]*' <<<"$result" | cut -d: -f2)"
    echo "$rps $p99"
}

ratios=()
for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then order="A B"; else order="B A"; fi
    declare -A rps=()
    for side in $order; do
        read -r r p <<<"$(run "$side")"
        rps[$side]="$r"
        echo "pair $pair $side requests/s=$r p99=${p}µs"
    done
    ratios+=("$(awk -v a="${rps[A]}" -v b="${rps[B]}" 'BEGIN { printf "%.3f", b / a }')")
    unset rps
done
printf '%s\n' "${ratios[@]}" | sort -n | awk -v list="${ratios[*]}" '
    { v[NR] = $1 }
    END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "B/A requests/s per pair: %s; median %.3f\n", list, m
    }'
