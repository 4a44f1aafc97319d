#!/usr/bin/env bash
# The fault suite: builds the release collector and fault-suite binaries, then runs scenarios
# against them on loopback and prints a figure for each. Figures are also appended as JSON
# lines to target/reliability/<UTC stamp>.jsonl.
#
#   reliability/run.sh                    # every scenario at full scale, then the headline run
#   reliability/run.sh corpus slow        # chosen scenarios
#   SCALE=quick reliability/run.sh all    # the scaled-down cases (seconds each)
#   REQUESTS=100000 reliability/run.sh headline
#
# Scenarios: corpus slow queries exporter restart headline, or all (every one but headline).
# Settings (environment):
#   SCALE=full        quick or full
#   REQUESTS=1000000  requests of the headline run
#   OUT=target/reliability
#
# Needs only a Rust toolchain. The slow scenario opens about 2,000 sockets: the script raises
# the open-file limit for itself when the hard limit allows.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
SCALE="${SCALE:-full}"
REQUESTS="${REQUESTS:-1000000}"
OUT="${OUT:-$root/target/reliability}"
if [ "$#" -eq 0 ]; then
    set -- all headline
fi

ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== build (release)" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" \
    -p tracewire-collector --bin tracewire-collector \
    -p tracewire-reliability --bin fault-suite >&2
bin="$root/target/release"

echo "== machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec "$bin/fault-suite" run --scale "$SCALE" --requests "$REQUESTS" \
    --collector "$bin/tracewire-collector" --out "$OUT" "$@"
