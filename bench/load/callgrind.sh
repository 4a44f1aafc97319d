#!/usr/bin/env bash
# Instructions per request of the load benchmark's server, counted with callgrind: the same
# two-hop service as run.sh, so the figures compare with its CPU column, but repeatable whatever
# else the machine runs (run.sh's throughput and CPU time are not, on a shared machine).
#
#   bench/load/callgrind.sh                              # every variant below
#   VARIANTS="floor tracewire-off" bench/load/callgrind.sh
#
# Settings (environment):
#   VARIANTS="floor tower-http otel tracewire tracewire-off tracewire-null"   (also: otel-off)
#   WARMUP=5 DURATION=20 CONNECTIONS=4   seconds of load before counting / while counting
#   PORT=18180                           front hop; the back hop listens on PORT+1
#   EVENTS=0                             `tracing::info!` events the back hop's handler logs per request
#   RETAINED=100000                      spans each exporter keeps (a smaller bound reaches eviction sooner)
#   OUT=bench/load/results               where the callgrind files and the report go
#
# Each variant's server runs under `valgrind --tool=callgrind` (every thread counted: the
# request thread, the export worker, the collector's writer, OpenTelemetry's batch thread). The
# counters are zeroed after the warm-up and dumped after the counted load, so start-up and
# shutdown are not counted; the report divides the dumped instructions by the requests the load
# generator completed in that window. Under callgrind the server runs ~50x slower, so a run
# serves a few thousand requests per variant; batches are still exported on their timer and
# size triggers, so every stack's background work is in the figure. Per-function differences
# between two variants: `callgrind_annotate --inclusive=no FILE` on the two dumps.
# Needs valgrind and a Rust toolchain.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VARIANTS="${VARIANTS:-floor tower-http otel tracewire tracewire-off tracewire-null}"
WARMUP="${WARMUP:-5}"
DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-4}"
EVENTS="${EVENTS:-0}"
RETAINED="${RETAINED:-100000}"
PORT="${PORT:-18180}"
OUT="${OUT:-$here/results}"

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is required" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "callgrind.sh: callgrind_control is required" >&2; exit 1; }

# shellcheck source=bench/load/common.sh
. "$here/common.sh"
report="$OUT/$stamp.callgrind.md"

# The `"requests":N` field of the load generator's JSON line.
requests_of() { sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$1"; }

floor_per_request=""
{
    echo "Command: VARIANTS=\"$VARIANTS\" WARMUP=$WARMUP DURATION=$DURATION CONNECTIONS=$CONNECTIONS EVENTS=$EVENTS RETAINED=$RETAINED bench/load/callgrind.sh"
    echo
    echo "| variant | requests counted | instructions per request | × floor | added |"
    echo "|---|---:|---:|---:|---:|"
} >"$report"
for variant in $VARIANTS; do
    log="$OUT/$stamp.$variant.server.log"
    dump="$OUT/$stamp.$variant.callgrind"
    # Up to 120 s to start: everything runs ~50x slower under callgrind.
    start_server "$log" 120 valgrind --tool=callgrind --callgrind-out-file="$dump" \
        "$bin" serve --variant "$variant" --port "$PORT" --events "$EVENTS" --retained "$RETAINED"

    "$bin" load --url "http://127.0.0.1:$PORT/" --duration "$WARMUP" --warmup 0 \
        --connections "$CONNECTIONS" >/dev/null
    callgrind_control --zero "$server_pid" >/dev/null 2>&1
    "$bin" load --url "http://127.0.0.1:$PORT/" --duration "$DURATION" --warmup 0 \
        --connections "$CONNECTIONS" >"$OUT/$stamp.$variant.load.json"
    callgrind_control --dump "$server_pid" >/dev/null 2>&1
    stop_server

    requests="$(requests_of "$OUT/$stamp.$variant.load.json")"
    # The zeroed-then-dumped part is the dump's first numbered part.
    instructions="$(awk '/^totals:/ {print $2}' "$dump.1")"
    per_request=$((instructions / requests))
    if [ "$variant" = floor ]; then floor_per_request=$per_request; fi
    if [ -n "$floor_per_request" ]; then
        ratio="$(awk -v a="$per_request" -v b="$floor_per_request" 'BEGIN {printf "%.2f", a / b}')"
        added="+$((per_request - floor_per_request))"
    else
        ratio="—"
        added="—"
    fi
    echo "| $variant | $requests | $per_request | $ratio | $added |" >>"$report"
    echo "$variant: $per_request instructions per request ($requests requests)" >&2
done
cat "$report"
echo "== callgrind dumps: $OUT/$stamp.*.callgrind.1" >&2
