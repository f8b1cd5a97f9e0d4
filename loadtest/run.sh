#!/usr/bin/env bash
# The speed harness (design.md §5): direct to the mock, through nginx (a bare keep-alive
# hop) and through switchyard, in the same run, at fixed rates (open loop, oha with latency
# correction), 1 KB and 16 KB bodies; saturation; 1,000 concurrent streams timed per event
# at two paces (direct, nginx and switchyard).
# The gateway and nginx are pinned to CPU 0, the mock and the load generators to CPU 1.
#
#   loadtest/run.sh            full run (~13 min)
#   QUICK=1 loadtest/run.sh    3-second points, for a smoke test
#   LITELLM=1 loadtest/run.sh  also LiteLLM's proxy (pinned version from PyPI) as a fourth arm
#   OUT=dir loadtest/run.sh    write the results elsewhere (default loadtest/results)
#   ROUNDS=n loadtest/run.sh   fixed-rate rounds per point (default 3; arms interleaved, their
#                              order rotated per round; the report gives medians and ranges)
#   CAP_PERCENT=n loadtest/run.sh  share of a core each proxy gets for the proxy-bound
#                              saturation steps (default 25; 0 skips them; needs a writable
#                              cgroup cpu controller, i.e. root outside a locked-down container)
#
# Writes loadtest/results/{results.json,results.md,latency.svg}.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dur=${DURATION:-10}
sat_dur=5
rates="1000 5000"
sat_rates="5000 10000 15000 20000 25000 30000 40000"
cap_percent=${CAP_PERCENT:-25}
cap_rates="6000 8000 10000 11000 12000 13000 14000 15000 16000 17000 18000 19000 20000 22000 24000"
streams=1000
tokens=200
rounds=${ROUNDS:-3}
# Paired slices: direct, nginx and switchyard alternate (every order in turn) in 2-second slices
# at 5,000/s, 1 KB, so all three see the same machine state, and the proxies are started afresh
# every PAIR_BLOCK pairs (a process's placement moves its latency for its life); paired.py turns
# them into median differences (switchyard − nginx, and each proxy's added p50/p99 over direct)
# with block-bootstrap 95 % intervals (round-to-round noise here is ±50 µs at the p50).
pairs=${PAIRS:-30}
pair_block=${PAIR_BLOCK:-5}
pair_dur=2
pair_rate=5000
# Streams: at 50 tokens/s each (a fast model's pace: 50,000 events/s, which keeps the core of
# the mock and the load generator ~70 % busy, so their jitter is milliseconds) and at 10
# tokens/s (10,000 events/s, where a ~100 µs difference can be seen); starts spread over a
# second (a burst of 1,000 connects measures the mock's accept queue, not anyone's first
# token), two rounds (the arms reversed in the second). The mock stamps every event's send time (`--stamp`), so sseload also
# times each event's trip and the part of each gap the path added.
paces=${STREAM_PACES:-20 100}
ramp=${STREAM_RAMP_MS:-1000}
stream_rounds=${STREAM_ROUNDS:-2}
[ -n "${QUICK:-}" ] && dur=3 && sat_dur=2 && pairs=${PAIRS:-10}
# SMOKE=1: a few seconds of tiny loads, so the harness cannot rot (run by the test command).
if [ -n "${SMOKE:-}" ]; then
    dur=1 sat_dur=1 rates="200" sat_rates="500" streams=20 tokens=20 rounds=${ROUNDS:-1} pairs=2 pair_block=1 pair_dur=1 pair_rate=200 ramp=100 stream_rounds=1 paces="10 20" cap_rates="300"
fi

cargo build --release --bins -q
bin=$root/target/release
tmp=$(mktemp -d)
mkdir -p "$tmp/raw"
source loadtest/lib.sh
install_tools
mport=$(free_port); gport=$(free_port); nport=$(free_port)
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    # The capped-saturation cgroups (below), once their processes are gone.
    for d in ${cg_n:-} ${cg_s:-}; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT

taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 --tokens "$tokens" --stamp 2>"$tmp/mock.log" &
pids+=($!)
# GATEWAY_ENV="MONOIO_FORCE_LEGACY_DRIVER=1" measures the epoll driver instead of io_uring.
env ${GATEWAY_ENV:-} MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config loadtest/gateway.toml --listen "127.0.0.1:$gport" 2>"$tmp/gw.log" &
gw_pid=$!
pids+=($gw_pid)
start_nginx "$tmp" "$nport" "$mport"
nginx_pid=${pids[-1]}

targets="direct=http://127.0.0.1:$mport nginx=http://127.0.0.1:$nport switchyard=http://127.0.0.1:$gport"
if [ -n "${LITELLM:-}" ]; then
    lport=$(free_port)
    python3 -m venv "$root/target/litellm-venv" && "$root/target/litellm-venv/bin/pip" install -q 'litellm[proxy]==1.74.0'
    cat >"$tmp/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$mport/v1", api_key: sk-bench }
YAML
    taskset -c 0 "$root/target/litellm-venv/bin/litellm" --config "$tmp/litellm.yaml" --port "$lport" >"$tmp/litellm.log" 2>&1 &
    pids+=($!)
    targets="$targets litellm=http://127.0.0.1:$lport"
fi

for _ in $(seq 100); do
    ok=1
    for t in $targets; do curl -sf -o /dev/null "${t#*=}/v1/models" || ok=0; done
    [ $ok = 1 ] && break
    sleep 0.2
done

python3 - "$tmp" <<'PY'
import json, sys
for size, name in [(1024, "1k"), (16384, "16k")]:
    base = {"model": "bench", "messages": [{"role": "user", "content": ""}]}
    pad = size - len(json.dumps(base))
    base["messages"][0]["content"] = "x" * pad
    open(f"{sys.argv[1]}/body_{name}.json", "w").write(json.dumps(base))
PY

oha_run() { # target url body rate seconds out
    taskset -c 1 oha --no-tui --output-format json -z "${5}s" -q "$4" -c 64 --latency-correction \
        -m POST -H 'content-type: application/json' -D "$tmp/body_$3.json" "$2/v1/chat/completions" >"$6" 2>/dev/null || true
}

echo "fixed-rate loads (${dur}s each, $rounds rounds)"
read -ra arms <<<"$targets"
for body in 1k 16k; do
    for rate in $rates; do
        for round in $(seq "$rounds"); do
            # Rotate the arms' order each round so no arm always runs first (or after another).
            n=${#arms[@]}
            for i in $(seq 0 $((n - 1))); do
                t=${arms[$(((i + round - 1) % n))]}
                name=${t%%=*}
                echo "  $body $rate rps round $round $name"
                tag="$body-$rate-r$round"
                # Scrapes around the switchyard run isolate its share of the own-time histogram.
                [ "$name" = switchyard ] && curl -s "http://127.0.0.1:$gport/metrics" >"$tmp/raw/metrics-before-$tag.txt"
                oha_run "$name" "${t#*=}" "$body" "$rate" "$dur" "$tmp/raw/fixed-$name-$tag.json"
                [ "$name" = switchyard ] && curl -s "http://127.0.0.1:$gport/metrics" >"$tmp/raw/metrics-after-$tag.txt"
            done
        done
    done
done

echo "paired slices: direct, nginx and switchyard, $pairs triples of ${pair_dur}s at $pair_rate rps, 1k, fresh processes every $pair_block"
paired_blocks "direct nginx switchyard" "$pairs" "$pair_block" "$pair_rate" "$pair_dur" "$tmp/body_1k.json" "$mport" "$tmp/raw"

echo "saturation (1k bodies, ${sat_dur}s per step)"
for t in $targets; do
    for rate in $sat_rates; do
        out="$tmp/raw/sat-${t%%=*}-$rate.json"
        oha_run "${t%%=*}" "${t#*=}" 1k "$rate" "$sat_dur" "$out"
        python3 -c "
import json,sys; d=json.load(open('$out')); s=d['summary']
sys.exit(0 if s['successRate']>=0.99 and s['requestsPerSec']>=0.95*$rate else 1)" || break
    done
done

# The steps above end where the load generator and the mock (one core between them) do, so
# every arm reaches about the same rate. Proxy-bound saturation: nginx's worker and the
# gateway each get the same share of a core (CAP_PERCENT, default 25 %; a cgroup each), so
# the proxy runs out first. The arms alternate at each step; each stops at its first miss.
cap_rates=${CAP_RATES:-$cap_rates}
echo "saturation with each proxy held to ${cap_percent} % of a core (1k bodies, ${sat_dur}s per step)"
nginx_worker=$(pgrep -P "$nginx_pid" | head -1 || true)
if [ "$cap_percent" -gt 0 ] && [ -n "$nginx_worker" ] && cg_n=$(cpu_cap_create "switchyard-cap-nginx-$$" "$cap_percent") \
    && cg_s=$(cpu_cap_create "switchyard-cap-gateway-$$" "$cap_percent") \
    && cpu_cap_add "$cg_n" "$nginx_worker" && cpu_cap_add "$cg_s" "$gw_pid"; then
    echo "$cap_percent" >"$tmp/raw/cap-percent"
    done_arms=""
    for rate in $cap_rates; do
        for t in nginx=http://127.0.0.1:$nport switchyard=http://127.0.0.1:$gport; do
            name=${t%%=*}
            case " $done_arms " in *" $name "*) continue ;; esac
            out="$tmp/raw/cap-$name-$rate.json"
            oha_run "$name" "${t#*=}" 1k "$rate" "$sat_dur" "$out"
            python3 -c "
import json,sys; d=json.load(open('$out')); s=d['summary']
sys.exit(0 if s['successRate']>=0.99 and s['requestsPerSec']>=0.95*$rate else 1)" || done_arms="$done_arms $name"
        done
    done
    cpu_cap_lift "$cg_n"; cpu_cap_lift "$cg_s"
else
    echo "  not measured: CAP_PERCENT=0, or no writable cgroup cpu controller here" | tee "$tmp/raw/cap-skipped"
fi

for pace in $paces; do
    echo "streaming: $streams concurrent streams of $tokens tokens, $pace ms apart, $stream_rounds rounds"
    for round in $(seq "$stream_rounds"); do
        # Even rounds run the arms in reverse order, so neither proxy always follows the other.
        order="direct=http://127.0.0.1:$mport nginx=http://127.0.0.1:$nport switchyard=http://127.0.0.1:$gport"
        [ $((round % 2)) = 0 ] && order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
        for t in $order; do
            addr=${t#*=http://}
            taskset -c 1 "$bin/sseload" --addr "$addr" --model bench --concurrency "$streams" --requests-per-conn 1 \
                --expect-tokens "$tokens" --ramp-ms "$ramp" --pace-ms "$pace" >"$tmp/raw/stream-${t%%=*}-p$pace-r$round.json" || true
        done
    done
done
grep VmHWM "/proc/$gw_pid/status" | awk '{print $2}' >"$tmp/raw/gateway-peak-rss-kib"
curl -s "http://127.0.0.1:$gport/metrics" >"$tmp/raw/gateway-metrics.txt"
nproc >"$tmp/raw/cores"
python3 loadtest/report.py "$tmp/raw" "${OUT:-loadtest/results}"
echo "results: ${OUT:-loadtest/results}/results.md"
