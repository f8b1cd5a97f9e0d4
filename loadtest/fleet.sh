#!/usr/bin/env bash
# What fleet mode costs a request: the same keyed gateway (one key with an rpm, a tpm and a daily
# budget, so every request is counted, reserved and charged) with and without `[fleet]` against a
# local redis-server, in the same run: paired ABBA slices at a fixed rate for the added p50, then
# alternating unthrottled rounds for saturation.
#
#   loadtest/fleet.sh                       20 pairs of 2 s at 5,000/s, 1 KB; 3 saturation rounds
#   PAIRS=30 RATE=5000 SAT_ROUNDS=5 SAT_DUR=5 loadtest/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${PAIRS:-20}; rate=${RATE:-5000}; rounds=${SAT_ROUNDS:-3}; sat_dur=${SAT_DUR:-5}
cargo build --release --bins -q
bin=target/release
tmp=$(mktemp -d)
source loadtest/lib.sh
install_tools
command -v redis-server >/dev/null || apt-get install -y -q redis-server >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }
mport=$(free_port); rport=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 2>/dev/null &
pids+=($!)
taskset -c 1 redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
key="sk-sy-loadtest-fleet-0123456789"
hash=$(printf '%s\n' "$key" | "$bin/switchyard" keys hash)
{
    cat loadtest/gateway.toml
    printf '\n[keys.bench]\nkey_hash = "%s"\nrpm = 100000000\ntpm = 100000000000\nbudget_daily_usd = 100000000.0\n[metrics]\npublic = true\n' "$hash"
} >"$tmp/keyed.toml"
{ cat "$tmp/keyed.toml"; printf '\n[fleet]\nredis = "redis://127.0.0.1:%s/0"\n' "$rport"; } >"$tmp/fleet.toml"
python3 -c "
import json; b = {'model': 'bench', 'messages': [{'role': 'user', 'content': ''}]}
b['messages'][0]['content'] = 'x' * (1024 - len(json.dumps(b))); print(json.dumps(b))" >"$tmp/body.json"
mkdir -p "$tmp/paired"
echo "paired slices: keyed (switchyard) vs keyed + [fleet] (switchyard2), $pairs pairs of 2 s at $rate/s"
AUTH=$key CONF="$tmp/keyed.toml" CONF2="$tmp/fleet.toml" \
    paired_blocks "switchyard switchyard2" "$pairs" 5 "$rate" 2 "$tmp/body.json" "$mport" "$tmp/paired"
python3 loadtest/paired.py "$tmp/paired" switchyard switchyard2

echo "saturation: $rounds alternating rounds of ${sat_dur}s per arm, 64 connections, no rate limit"
for arm in switchyard switchyard2; do
    port=$(free_port)
    AUTH=$key CONF="$tmp/keyed.toml" CONF2="$tmp/fleet.toml" start_arm "$arm" "$port" "$mport" "$tmp"
    declare "port_$arm=$port"
done
AUTH=$key wait_ready "http://127.0.0.1:$port_switchyard" "http://127.0.0.1:$port_switchyard2"
for r in $(seq "$rounds"); do
    for arm in switchyard switchyard2; do
        p="port_$arm"
        taskset -c 1 oha --no-tui --output-format json -z "${sat_dur}s" -c 64 -m POST -H 'content-type: application/json' \
            -H "authorization: Bearer $key" -D "$tmp/body.json" "http://127.0.0.1:${!p}/v1/chat/completions" \
            >"$tmp/sat-$r-$arm.json" 2>/dev/null || true
    done
done
python3 - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
rps = {a: [json.load(open(f"{tmp}/sat-{r}-{a}.json"))["summary"]["requestsPerSec"] for r in range(1, rounds + 1)]
       for a in ("switchyard", "switchyard2")}
for a, v in rps.items():
    print(f"  {a:12s} {' '.join(f'{x:,.0f}' for x in v)} req/s  median {statistics.median(v):,.0f}")
off, on = statistics.median(rps["switchyard"]), statistics.median(rps["switchyard2"])
print(f"  fleet mode costs {100 * (off - on) / off:+.1f} % of saturation (median of {rounds} rounds each)")
PY
curl -s "http://127.0.0.1:$port_switchyard2/metrics" | grep -E '^switchyard_fleet_(connected|syncs_total|sync_errors_total|sync_round_trip_us)' || true
