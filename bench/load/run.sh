#!/usr/bin/env bash
# Load benchmark: the same two-hop axum service untraced (the floor), with tower-http's
# TraceLayer, with the OpenTelemetry stack and with tracewire, in interleaved repetitions.
#
#   bench/load/run.sh                          # 5 repetitions x 10 s per variant
#   DURATION=5 REPS=3 bench/load/run.sh        # a quick run
#
# Settings (environment):
#   REPS=5          repetitions; each runs every variant once, in VARIANTS order
#   DURATION=10     measured seconds per run
#   WARMUP=2        seconds of load before measuring (same connections)
#   CONNECTIONS=16  closed-loop connections (one request in flight each)
#   VARIANTS="floor tower-http otel tracewire"   (also: otel-off, tracewire-off, tracewire-null)
#   SERVER_CPU=0 LOADER_CPU=1                    taskset CPU lists
#   PORT=18080      front hop; the back hop listens on PORT+1
#   EVENTS=0        `tracing::info!` events the back hop's handler logs per request
#   RETAINED=100000 spans each exporter keeps (a smaller bound reaches eviction sooner)
#   OUT=bench/load/results                       where the raw lines and the report go
#   LOAD_BIN=path   run a saved build of the benchmark instead of building (to alternate two)
#
# The server is one process (both hops, one current-thread runtime, plus the exporters'
# background threads) pinned to SERVER_CPU; the load generator (one current-thread runtime) is
# pinned to LOADER_CPU. Needs taskset (util-linux) and a Rust toolchain.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
REPS="${REPS:-5}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
VARIANTS="${VARIANTS:-floor tower-http otel tracewire}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADER_CPU="${LOADER_CPU:-1}"
EVENTS="${EVENTS:-0}"
RETAINED="${RETAINED:-100000}"
PORT="${PORT:-18080}"
OUT="${OUT:-$here/results}"

command -v taskset >/dev/null || { echo "run.sh: taskset (util-linux) is required" >&2; exit 1; }

# shellcheck source=bench/load/common.sh
. "$here/common.sh"
lines="$OUT/$stamp.jsonl"
: >"$lines"

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$REPS"); do
    for variant in $VARIANTS; do
        log="$OUT/$stamp.server.log"
        # Up to 30 s to start: a loaded machine can take several seconds to bring a stack up.
        start_server "$log" 30 taskset -c "$SERVER_CPU" "$bin" serve --variant "$variant" --port "$PORT" --events "$EVENTS" --retained "$RETAINED"

        result="$(taskset -c "$LOADER_CPU" "$bin" load --url "http://127.0.0.1:$PORT/" \
            --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS")"
        rss_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")"
        # Context switches of every server thread (the runtime and the exporters' threads).
        ctxt="$(cat /proc/"$server_pid"/task/*/status | awk '/ctxt_switches:/ {n += $2} END {print n + 0}')"
        # CPU time of the whole server process (every thread), user + system, in clock ticks:
        # the fields after the parenthesised command name, utime and stime.
        cpu_ticks="$(sed 's/^.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}')"

        stop_server
        stats="$(sed -n 's/^STATS //p' "$log")"
        [ -n "$stats" ] || stats='{}'
        printf '{"rep":%d,"variant":"%s","rss_kb":%d,"ctxt_switches":%d,"cpu_ticks":%d,"tick_hz":%d,"load":%s,"server":%s}\n' \
            "$rep" "$variant" "$rss_kb" "$ctxt" "$cpu_ticks" "$(getconf CLK_TCK)" "$result" "$stats" >>"$lines"
        echo "rep $rep $variant rss=${rss_kb}kB $result" >&2
    done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

{
    echo "Command: REPS=$REPS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS EVENTS=$EVENTS RETAINED=$RETAINED bench/load/run.sh"
    echo "Machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
    echo "Load average (1/5/15 min): before $load_before, after $load_after"
    echo
    "$bin" report "$lines"
} | tee "$OUT/$stamp.md"
echo "== raw lines: $lines" >&2
