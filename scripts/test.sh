#!/usr/bin/env bash
# The test command: unit and integration tests (both io_uring and epoll drivers), the official
# OpenAI and Anthropic Python SDKs against a real gateway, and a few-second smoke run of the
# load-test harness. Sets up what it needs by itself (a venv; nginx and oha for the harness).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi

venv=target/sdk-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
(cd tests/sdk && "../../$venv/bin/python" -m unittest -v)
(cd tests/deploy && "../../$venv/bin/python" -m unittest -v)

# The speed harness must not rot: tiny loads, every arm must produce numbers.
SMOKE=1 OUT=target/loadtest-smoke ./loadtest/run.sh >target/loadtest-smoke.log 2>&1 || { cat target/loadtest-smoke.log; exit 1; }
python3 loadtest/check_smoke.py target/loadtest-smoke/results.json
