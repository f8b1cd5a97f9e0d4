#!/usr/bin/env bash
# Paired A/B of two arms in alternating short slices (ABBA), for differences of a few µs that
# 10-second rounds cannot resolve on a noisy machine. Arms: nginx, switchyard (this build),
# switchyard2 (BIN2's build and/or ENV2's environment and/or CONF2's config) and direct (the mock
# itself: B's added latency); same pinning as run.sh.
#
#   loadtest/ab.sh                                  nginx vs switchyard, 30 pairs of 2 s, 5,000/s 1 KB
#   A=switchyard B=switchyard2 loadtest/ab.sh       A/A: the method's own noise (expect ~0)
#   A=switchyard B=switchyard2 BIN2=/tmp/old loadtest/ab.sh           two builds (BIN=... for A's)
#   A=switchyard B=switchyard2 ENV2=MONOIO_FORCE_LEGACY_DRIVER=1 loadtest/ab.sh   io_uring vs epoll
#   C=direct loadtest/ab.sh                         also each arm's latency added over direct
#   A=switchyard B=switchyard2 CONF2=loadtest/gateway-embed.toml WORDS=1 loadtest/ab.sh
#                                                   a route that embeds every prompt, against none
#   PAIRS=40 DUR=2 RATE=5000 SIZE=16384 BLOCK=5 ...   (BLOCK: pairs per pair of fresh processes)
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:-nginx}; B=${B:-switchyard}; pairs=${PAIRS:-30}; dur=${DUR:-2}; rate=${RATE:-5000}; size=${SIZE:-1024}
per_block=${BLOCK:-5}
# BIN: arm A's build instead of this checkout's (e.g. an older commit's target/release).
[ -n "${BIN:-}" ] || [ -n "${BIN2:-}" ] || cargo build --release --bins -q
bin=${BIN:-target/release}
tmp=$(mktemp -d)
source loadtest/lib.sh
install_tools
mport=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 2>/dev/null &
pids+=($!)
python3 -c "
import json; b = {'model': 'bench', 'messages': [{'role': 'user', 'content': ''}]}
n = $size - len(json.dumps(b))
# WORDS=1: English words instead of one long run of x (what a routing route's embedding reads).
words = ('the quick brown fox asks whether my landlord may keep the deposit after the lease ends ' * 64)
b['messages'][0]['content'] = words[:n] if '${WORDS:-}' else 'x' * n; print(json.dumps(b))" >"$tmp/body.json"
paired_blocks "$A $B ${C:-}" "$pairs" "$per_block" "$rate" "$dur" "$tmp/body.json" "$mport" "$tmp"
python3 loadtest/paired.py "$tmp" "$A" "$B"
# shellcheck disable=SC2086
python3 loadtest/own_time.py "$tmp" $A $B
if [ -n "${C:-}" ]; then
    python3 loadtest/paired.py "$tmp" "$C" "$A"
    python3 loadtest/paired.py "$tmp" "$C" "$B"
fi
