#!/usr/bin/env bash
# Stream starts under a burst: N streams, one per connection, started over one second, through
# direct (the mock itself: the reference), nginx and switchyard, in the same run. Each proxy is
# one worker pinned to CPU 0; the mock and the load generator (sseload) share CPU 1, whose busy
# share is reported so a saturated generator shows. Rounds alternate the arms' order, direct in
# every round. Per arm: TTFT p50/p90/p99 (sseload), CPU per relayed event (the proxy's CPU over
# the streaming load / events), CPU per stream start (a separate load of one-token streams),
# peak and after-load RSS. Proxies are started afresh for each N.
#
#   loadtest/burst.sh                          1,000 and 5,000 streams, 4 rounds (~6 min)
#   STREAMS=5000 ROUNDS=6 loadtest/burst.sh
#   TOKENS=100 PACE_MS=50 RAMP_MS=1000         the streams' shape (these are the defaults)
#   SMOKE=1 loadtest/burst.sh                  a few seconds of tiny loads
#   OUT=dir                                    results (default loadtest/results/burst)
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${STREAMS:-1000 5000}
rounds=${ROUNDS:-4}
tokens=${TOKENS:-100}
pace=${PACE_MS:-50}
ramp=${RAMP_MS:-1000}
if [ -n "${SMOKE:-}" ]; then streams=50 rounds=2 tokens=5 pace=10 ramp=100; fi
[ -n "${BIN:-}" ] || cargo build --release --bins -q
bin=${BIN:-target/release}
out=${OUT:-loadtest/results/burst}
tmp=$(mktemp -d)
raw=$tmp/raw
mkdir -p "$raw" "$out"
source loadtest/lib.sh
install_tools
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

# utime + stime of a process and its children (nginx's worker), in clock ticks.
ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}
# Busy and total jiffies of CPU 1 (the generator's core).
cpu1() { awk '$1 == "cpu1" {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
rss_kib() { # VmRSS or VmHWM of a process and its children
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk -v k="$2:" '$1 == k {print $2}' "/proc/$p/status")))
    done
    echo "$t"
}

mport=$(free_port)
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 --tokens "$tokens" --token-interval-ms "$pace" \
    --stamp 2>"$tmp/mock.log" &
pids+=($!)
hz=$(getconf CLK_TCK)

# load N ARM ADDR TAG [sseload args]: one sseload run, with the arm's CPU and CPU 1's busy share.
load() {
    local n=$1 arm=$2 addr=$3 tag=$4 pid=${proc[$2]:-}
    shift 4
    local c0 g0 c1 g1
    c0=$([ -n "$pid" ] && ticks "$pid" || echo 0)
    g0=$(cpu1)
    taskset -c 1 "$bin/sseload" --addr "$addr" --model bench --concurrency "$n" --requests-per-conn 1 \
        --ramp-ms "$ramp" "$@" >"$raw/$tag.json" 2>"$raw/$tag.err" || true
    c1=$([ -n "$pid" ] && ticks "$pid" || echo 0)
    g1=$(cpu1)
    echo "$(((c1 - c0)))" "$hz" "$g0" "$g1" >"$raw/$tag.cpu"
}

for n in $streams; do
    gport=$(free_port); nport=$(free_port)
    MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml --listen "127.0.0.1:$gport" \
        2>"$tmp/gw-$n.log" &
    declare -A proc=([switchyard]=$! [direct]="")
    pids+=($!)
    start_nginx "$tmp" "$nport" "$mport"
    proc[nginx]=${pids[-1]}
    declare -A addr=([direct]="127.0.0.1:$mport" [nginx]="127.0.0.1:$nport" [switchyard]="127.0.0.1:$gport")
    wait_ready "http://127.0.0.1:$gport" "http://127.0.0.1:$nport"
    sleep 0.5
    echo "burst: $n streams of $tokens tokens, $pace ms apart, started over $ramp ms, $rounds rounds"
    for round in $(seq "$rounds"); do
        # Odd rounds: direct, nginx, switchyard; even rounds reversed: neither proxy always
        # follows the other, and direct runs in every round.
        order="direct nginx switchyard"
        [ $((round % 2)) = 0 ] && order="switchyard nginx direct"
        for arm in $order; do
            load "$n" "$arm" "${addr[$arm]}" "stream-$n-$arm-r$round" --expect-tokens "$tokens"
            sleep 1
        done
    done
    sleep 3
    for arm in nginx switchyard; do
        echo "$(rss_kib "${proc[$arm]}" VmHWM) $(rss_kib "${proc[$arm]}" VmRSS)" >"$raw/rss-$n-$arm"
    done
    # Stream starts alone: one-token streams, the same burst.
    for arm in direct nginx switchyard; do
        load "$n" "$arm" "${addr[$arm]}" "start-$n-$arm" --tokens 1 --expect-tokens 1
        sleep 1
    done
    kill "${proc[switchyard]}" "${proc[nginx]}" 2>/dev/null || true
    wait "${proc[switchyard]}" "${proc[nginx]}" 2>/dev/null || true
    unset proc addr
done
echo "$tokens" >"$raw/tokens"
echo "$ramp" >"$raw/ramp_ms"
nproc >"$raw/cores"
python3 loadtest/burst_report.py "$raw" "$out"
cp -r "$raw" "$out/"
echo "results: $out/burst.md"
