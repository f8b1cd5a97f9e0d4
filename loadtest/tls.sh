#!/usr/bin/env bash
# TLS termination, switchyard against nginx in the same run, with the same certificate (a
# self-signed P-256 one made here): each proxy terminates HTTPS and forwards plain HTTP to the
# mock. Both are pinned to CPU 0 with one worker; the mock and oha to CPU 1. Per arm:
#   - added p50/p99 at a fixed 2,000/s on kept-alive connections, over the mock reached directly
#     in plain HTTP (so the TLS records and the hop are what is added);
#   - keep-alive saturation: 64 connections, as fast as they go;
#   - new connections per second: every request on a new connection (a full handshake each).
# Arms run interleaved, ROUNDS rounds (default 3), order rotated; medians are reported.
#
#   loadtest/tls.sh                 writes loadtest/results/tls.md
#   ROUNDS=1 DURATION=3 loadtest/tls.sh   a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${DURATION:-8}
rounds=${ROUNDS:-3}
out=${OUT:-loadtest/results}
cargo build --release --bins -q
bin=target/release
tmp=$(mktemp -d)
source loadtest/lib.sh
install_tools
command -v openssl >/dev/null || apt-get install -y -q openssl >/dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

mport=$(free_port); sport=$(free_port); nport=$(free_port)
taskset -c 1 "$bin/mock-llm" --listen "127.0.0.1:$mport" --threads 1 2>/dev/null &
pids+=($!)
cat >"$tmp/gateway.toml" <<EOF
$(cat loadtest/gateway.toml)
EOF
cat >>"$tmp/gateway.toml" <<EOF
[server.tls]
cert = "$tmp/cert.pem"
key = "$tmp/key.pem"
EOF
MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config "$tmp/gateway.toml" --listen "127.0.0.1:$sport" \
    2>"$tmp/switchyard.log" &
pids+=($!)
sed -e "s|@DIR@|$tmp|g" -e "s|@PORT@|$nport ssl|g" -e "s|@MOCK_PORT@|$mport|g" loadtest/nginx.conf.in \
    | sed -e "s|        client_max_body_size 16m;|        client_max_body_size 16m;\n        ssl_certificate $tmp/cert.pem;\n        ssl_certificate_key $tmp/key.pem;\n        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_cache off;\n        ssl_session_tickets off;|" \
    >"$tmp/nginx.conf"
taskset -c 0 nginx -c "$tmp/nginx.conf" &
pids+=($!)
for _ in $(seq 100); do
    curl -skf -o /dev/null "https://127.0.0.1:$sport/v1/models" && curl -skf -o /dev/null "https://127.0.0.1:$nport/v1/models" && break
    sleep 0.2
done
python3 -c "
import json; b = {'model': 'bench', 'messages': [{'role': 'user', 'content': ''}]}
b['messages'][0]['content'] = 'x' * (1024 - len(json.dumps(b))); print(json.dumps(b))" >"$tmp/body.json"

load() { # name url mode out
    local extra=()
    case $3 in
        fixed) extra=(-q 2000 -c 64 --latency-correction) ;;
        saturate) extra=(-c 64) ;;
        handshake) extra=(-c 16 --disable-keepalive) ;;
    esac
    taskset -c 1 oha --no-tui --insecure --output-format json -z "${dur}s" "${extra[@]}" -m POST \
        -H 'content-type: application/json' -D "$tmp/body.json" "$2/v1/chat/completions" >"$4" 2>/dev/null || true
}
arms=("direct=http://127.0.0.1:$mport" "nginx=https://127.0.0.1:$nport" "switchyard=https://127.0.0.1:$sport")
for round in $(seq "$rounds"); do
    for mode in fixed saturate handshake; do
        for i in 0 1 2; do
            a=${arms[$(((i + round - 1) % 3))]}
            name=${a%%=*}
            [ "$name" = direct ] && [ "$mode" != fixed ] && continue
            echo "  round $round $mode $name"
            load "$name" "${a#*=}" "$mode" "$tmp/$mode-$name-$round.json"
        done
    done
done
mkdir -p "$out"
python3 - "$tmp" "$rounds" "$out/tls.md" <<'PY'
import json, statistics, sys
tmp, rounds, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def read(mode, arm, r):
    d = json.load(open(f"{tmp}/{mode}-{arm}-{r}.json"))
    s, lp = d["summary"], d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    total = sum(codes.values()) + sum(d.get("errorDistribution", {}).values())
    return {"rps": s["requestsPerSec"], "p50": lp["p50"] * 1e6, "p99": lp["p99"] * 1e6,
            "ok": codes.get("200", 0) / total if total else 0.0}
med = lambda xs: statistics.median(xs)
rows = []
for arm in ["nginx", "switchyard"]:
    fixed = [read("fixed", arm, r) for r in range(1, rounds + 1)]
    direct = [read("fixed", "direct", r) for r in range(1, rounds + 1)]
    sat = [read("saturate", arm, r) for r in range(1, rounds + 1)]
    hs = [read("handshake", arm, r) for r in range(1, rounds + 1)]
    rows.append((arm, med([f["p50"] - d["p50"] for f, d in zip(fixed, direct)]),
                 med([f["p99"] - d["p99"] for f, d in zip(fixed, direct)]),
                 med([s["rps"] for s in sat]), med([h["rps"] for h in hs]),
                 min(x["ok"] for x in fixed + sat + hs)))
lines = ["# TLS termination: switchyard and nginx, same run, same certificate", "",
         f"`loadtest/tls.sh` ({rounds} rounds, medians; ECDSA P-256 certificate; both proxies on one",
         "pinned core with one worker, the mock and oha on the other core; 1 KB request bodies).", "",
         "| arm | added p50 at 2,000/s (µs) | added p99 at 2,000/s (µs) | keep-alive saturation (req/s, 64 conns) | new connections/s (full handshake each) | lowest success share |",
         "|---|---|---|---|---|---|"]
for arm, p50, p99, sat, hs, ok in rows:
    lines.append(f"| {arm} | {p50:.0f} | {p99:.0f} | {sat:,.0f} | {hs:,.0f} | {ok:.4f} |")
open(dest, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
