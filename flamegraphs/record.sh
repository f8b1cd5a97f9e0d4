#!/usr/bin/env bash
# Records the gateway under load with perf and renders flamegraphs with inferno:
#   flamegraphs/nonstreaming.svg  5,000 req/s of 1 KB chat completions (oha, fixed rate)
#   flamegraphs/streaming.svg     1,000 concurrent streams of 200 tokens (sseload)
#   flamegraphs/burst.svg         ONLY=burst: 5,000 streams started over one second (loadtest/burst.sh)
# Needs perf (linux-perf) and installs inferno as a tool (it is CDDL-licensed: never linked).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ -n "${BIN:-}" ] || cargo build --release --bins -q
command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked -q
command -v oha >/dev/null || cargo install oha --locked -q
bin=${BIN:-$root/target/release}
tmp=$(mktemp -d)
source loadtest/lib.sh
mport=$(free_port); gport=$(free_port)
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --tokens 200 --token-interval-ms 10 2>/dev/null &
mock=$!
MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml --listen "127.0.0.1:$gport" 2>/dev/null &
gw=$!
trap 'kill $mock $gw 2>/dev/null || true' EXIT
sleep 0.5
python3 -c "import json; print(json.dumps({'model':'bench','messages':[{'role':'user','content':'x'*960}]}))" >"$tmp/body.json"

record() { # name, then the load command
    local name=$1
    shift
    perf record -F 2000 --call-graph dwarf,16384 -p "$gw" -o "$tmp/$name.data" -- sleep 8 2>/dev/null &
    local rec=$!
    sleep 0.5
    "$@" >/dev/null 2>&1 || true
    wait $rec || true
    perf script -i "$tmp/$name.data" 2>/dev/null | inferno-collapse-perf >"$tmp/$name.folded"
    inferno-flamegraph --title "switchyard: $name" <"$tmp/$name.folded" >"flamegraphs/$name.svg"
    echo "flamegraphs/$name.svg"
}
if [ "${ONLY:-}" = burst ]; then
    # 5,000 streams of 100 tokens, 50 ms apart, started over one second (loadtest/burst.sh).
    record burst taskset -c 1 "$bin/sseload" --addr "127.0.0.1:$gport" --model bench --concurrency 5000 \
        --requests-per-conn 1 --ramp-ms 1000 --tokens 100 --pace-ms 50 --expect-tokens 100
    exit 0
fi
record nonstreaming taskset -c 1 oha --no-tui -z 7s -q 5000 -c 64 -m POST -H 'content-type: application/json' \
    -D "$tmp/body.json" "http://127.0.0.1:$gport/v1/chat/completions"
record streaming taskset -c 1 "$bin/sseload" --addr "127.0.0.1:$gport" --model bench --concurrency 1000 \
    --requests-per-conn 3 --expect-tokens 200
