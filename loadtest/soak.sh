#!/usr/bin/env bash
# Soak run: SOAK_SECONDS (default 600) at SOAK_RATE (default 200) requests/s with
# faults injected at the mock providers; see loadtest/soak.py for the mix and the checks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p switchyard -p mock-llm
exec python3 loadtest/soak.py
