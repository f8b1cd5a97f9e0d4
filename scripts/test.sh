#!/usr/bin/env bash
# The test command: unit and integration tests (both io_uring and epoll drivers), then the
# official OpenAI Python SDK against a real gateway. Sets up what it needs by itself.
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
