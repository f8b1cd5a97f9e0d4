#!/usr/bin/env bash
# Correctness under concurrency: 200 connections streaming 100-token answers from a mock with
# 10 ms latency (and the same load sent straight to the mock for comparison), then 10,000
# non-streaming requests. Fails if any request fails or a stream is incomplete.
#
#   loadtest/concurrency.sh [CONCURRENCY] [REQUESTS_PER_CONN]
set -euo pipefail
cd "$(dirname "$0")/.."
conc=${1:-200}
per=${2:-5}
cargo build --release --bins -q
bin=target/release
source loadtest/lib.sh
mport=$(free_port); gport=$(free_port)
"$bin/mock-llm" --listen "127.0.0.1:$mport" --latency-ms 10 --tokens 100 --token-interval-ms 10 2>/dev/null &
mock=$!
MOCK_URL="http://127.0.0.1:$mport" "$bin/switchyard" --config examples/mock.toml --listen "127.0.0.1:$gport" 2>/dev/null &
gw=$!
trap 'kill $mock $gw 2>/dev/null || true' EXIT
sleep 0.5
echo "streaming through switchyard ($conc connections x $per streams of 100 tokens):"
"$bin/sseload" --addr "127.0.0.1:$gport" --concurrency "$conc" --requests-per-conn "$per" --expect-tokens 100
echo "streaming direct to the mock:"
"$bin/sseload" --addr "127.0.0.1:$mport" --concurrency "$conc" --requests-per-conn "$per" --expect-tokens 100
echo "non-streaming through switchyard ($conc connections x 50 requests):"
"$bin/sseload" --addr "127.0.0.1:$gport" --no-stream --concurrency "$conc" --requests-per-conn 50
echo "gateway RSS (KiB): $(ps -o rss= -p $gw)"
