# Sourced by run.sh and callgrind.sh: building the benchmark, the results' names, and starting
# and stopping the server under test. Expects `here` (this directory) and `OUT` to be set.

# LOAD_BIN=path runs a saved build instead (to alternate two builds of the same benchmark).
if [ -n "${LOAD_BIN:-}" ]; then
    bin="$LOAD_BIN"
    echo "== using $bin" >&2
else
    echo "== build (release)" >&2
    cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2
    bin="$here/target/release/tracewire-load"
fi

mkdir -p "$OUT"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap stop_server EXIT

# start_server LOG SECONDS COMMAND...: runs COMMAND in the background with its output in LOG,
# sets `server_pid`, and waits up to SECONDS for its `READY` line (exits the script if it dies
# or stays silent).
start_server() {
    local log="$1" seconds="$2"
    shift 2
    "$@" >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 $((seconds * 10))); do
        grep -q '^READY' "$log" && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$(basename "$0"): the server did not start: $*" >&2
    exit 1
}
