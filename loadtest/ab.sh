#!/usr/bin/env bash
# Paired A/B of two arms in alternating short slices (ABBA), for differences of a few µs that
# 10-second rounds cannot resolve on a noisy machine. Arms: nginx, switchyard (this build) and
# switchyard2 (BIN2's build and/or ENV2's environment and/or CONF2's config); same pinning as run.sh.
#
#   loadtest/ab.sh                                  nginx vs switchyard, 30 pairs of 2 s, 5,000/s 1 KB
#   A=switchyard B=switchyard2 loadtest/ab.sh       A/A: the method's own noise (expect ~0)
#   A=switchyard B=switchyard2 BIN2=/tmp/old loadtest/ab.sh           two builds
#   A=switchyard B=switchyard2 ENV2=MONOIO_FORCE_LEGACY_DRIVER=1 loadtest/ab.sh   io_uring vs epoll
#   PAIRS=40 DUR=2 RATE=5000 SIZE=16384 ...
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:-nginx}; B=${B:-switchyard}; pairs=${PAIRS:-30}; dur=${DUR:-2}; rate=${RATE:-5000}; size=${SIZE:-1024}
[ -n "${BIN2:-}" ] || cargo build --release --bins -q
bin=target/release
tmp=$(mktemp -d)
source loadtest/lib.sh
mport=$(free_port); g1=$(free_port); g2=$(free_port); nport=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 2>/dev/null &
pids+=($!)
MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml --listen "127.0.0.1:$g1" 2>/dev/null &
pids+=($!)
env ${ENV2:-} MOCK_URL="http://127.0.0.1:$mport" "${BIN2:-$bin}/switchyard" --config "${CONF2:-loadtest/gateway.toml}" \
    --listen "127.0.0.1:$g2" 2>/dev/null &
pids+=($!)
start_nginx "$tmp" "$nport" "$mport"
declare -A port=([nginx]=$nport [switchyard]=$g1 [switchyard2]=$g2)
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:${port[$A]}/v1/models" && curl -sf -o /dev/null "http://127.0.0.1:${port[$B]}/v1/models" && break
    sleep 0.2
done
python3 -c "
import json; b = {'model': 'bench', 'messages': [{'role': 'user', 'content': ''}]}
b['messages'][0]['content'] = 'x' * ($size - len(json.dumps(b))); print(json.dumps(b))" >"$tmp/body.json"
slice() { # arm pair
    taskset -c 1 oha --no-tui --output-format json -z "${dur}s" -q "$rate" -c 64 --latency-correction -m POST \
        -H 'content-type: application/json' -D "$tmp/body.json" "http://127.0.0.1:${port[$1]}/v1/chat/completions" \
        >"$tmp/pair-$2-$1.json" 2>/dev/null || true
}
for p in $(seq "$pairs"); do
    if [ $((p % 2)) = 1 ]; then slice "$A" "$p"; slice "$B" "$p"; else slice "$B" "$p"; slice "$A" "$p"; fi
done
python3 loadtest/paired.py "$tmp" "$A" "$B"
