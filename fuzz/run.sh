#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10) with cargo-fuzz on the stable toolchain:
# `--sanitizer none` needs no nightly flags. libFuzzer still gets coverage feedback through
# the sancov passes; what is lost is AddressSanitizer, which safe Rust needs least.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-10}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(http_head body_framing sse request_view translate_request translate_response translate_stream event_pump config)
fi
# libfuzzer-sys compiles libFuzzer (C++): a machine with only the Rust toolchain may lack g++.
command -v c++ >/dev/null || apt-get install -y -q g++ >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q g++ >/dev/null; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build -s none
for t in "${targets[@]}"; do
    corpus="../target/fuzz-corpus/$t"
    mkdir -p "$corpus"
    echo "== $t (${secs}s)"
    # -rss_limit_mb guards against inputs that make a parser allocate without bound.
    log="../target/fuzz-$t.log"
    mkdir -p ../target
    if ! cargo fuzz run -s none "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" || tail -20 "$log"
        echo "fuzz target $t failed (input in fuzz/artifacts/$t)"
        exit 1
    fi
    grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units" "$log" || true
done
