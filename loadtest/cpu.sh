#!/usr/bin/env bash
# CPU time per request of nginx and of switchyard (io_uring and epoll) at a fixed rate of 1 KB
# chat completions, from /proc/PID/stat before and after each arm (utime + stime, 10 ms ticks).
# Pinning as in run.sh: proxies on CPU 0, mock and load generator on CPU 1. Installs nginx and oha
# if missing.
#
#   loadtest/cpu.sh            5,000 req/s for 10 s per arm
#   RATE=1000 DUR=20 loadtest/cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${RATE:-5000}
dur=${DUR:-10}
cargo build --release --bins -q
bin=target/release
tmp=$(mktemp -d)
source loadtest/lib.sh
install_tools
mport=$(free_port); g1=$(free_port); g2=$(free_port); nport=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 2>/dev/null &
pids+=($!)
MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml --listen "127.0.0.1:$g1" 2>/dev/null &
uring=$!
pids+=($uring)
MONOIO_FORCE_LEGACY_DRIVER=1 MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml \
    --listen "127.0.0.1:$g2" 2>/dev/null &
epoll=$!
pids+=($epoll)
start_nginx "$tmp" "$nport" "$mport"
sleep 1
worker=$(pgrep -f "nginx: worker" -P "$(cat "$tmp/nginx.pid")" | head -1)
python3 -c "import json; print(json.dumps({'model':'bench','messages':[{'role':'user','content':'x'*960}]}))" >"$tmp/body.json"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for arm in "nginx $nport $worker" "switchyard-io_uring $g1 $uring" "switchyard-epoll $g2 $epoll"; do
    read -r name port pid <<<"$arm"
    t0=$(ticks "$pid")
    taskset -c 1 oha --no-tui --output-format json -z "${dur}s" -q "$rate" -c 64 --latency-correction -m POST \
        -H 'content-type: application/json' -D "$tmp/body.json" "http://127.0.0.1:$port/v1/chat/completions" >"$tmp/$name.json"
    t1=$(ticks "$pid")
    python3 -c "
import json, sys
n = sum(json.load(open('$tmp/$name.json'))['statusCodeDistribution'].values())
print(f'$name: {n} requests, {($t1 - $t0) * 1e4 / n:.1f} µs CPU per request')"
done
