#!/usr/bin/env bash
# The test command: unit and integration tests (both io_uring and epoll drivers), the official
# OpenAI and Anthropic Python SDKs and the Agents SDK against a real gateway, the web console in
# headless Chromium, Codex CLI and Claude Code when npm is present, a few seconds of every fuzz
# target, a short soak with faults, and a few-second smoke run of the load-test harness. Sets up
# what it needs by itself (redis-server for the fleet tests; chromium and chromium-driver; a venv;
# cargo-fuzz; nginx and oha for the harness).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every crate and gateway-module dependency points down a layer (prints the offending edge).
python3 scripts/layers.py

# The fleet tests start their own redis-server (Debian's) on a free loopback port.
command -v redis-server >/dev/null || apt-get install -y -q redis-server >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }

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

# The web console in Debian's headless Chromium, driven by Selenium (its driver manager kept
# offline: the browser and chromedriver are the apt packages).
command -v chromedriver >/dev/null || apt-get install -y -q chromium chromium-driver >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/console/requirements.txt
(cd tests/console && SE_OFFLINE=true "../../$venv/bin/python" -m unittest -v)
# The console's vendored charting library is the npm package, byte for byte.
if command -v npm >/dev/null 2>&1; then
    crates/switchyard-gateway/ui/vendor.sh --check
fi

# Codex CLI and Claude Code from npm through the gateway, with every demo model and route (skipped
# without npm: they need the registry's packages).
if command -v npm >/dev/null 2>&1; then
    ./scripts/agents.sh
fi

# The paired comparison's statistics (block bootstrap), then the speed harness, which must not
# rot: tiny loads, every arm must produce numbers.
(cd loadtest && python3 -m unittest -v test_paired)
SMOKE=1 OUT=target/loadtest-smoke ./loadtest/run.sh >target/loadtest-smoke.log 2>&1 || { cat target/loadtest-smoke.log; exit 1; }
python3 loadtest/check_smoke.py target/loadtest-smoke/results.json
# The attack scenario for a few seconds: it runs to its report on a fresh machine (its targets,
# >= 99.9 % success and < 256 MiB, are judged by the full run in docs/benchmarks.md).
DURATION=3 ATTACK_SMOKE=1 OUT=target/attack-smoke python3 loadtest/attack.py >target/attack-smoke.log 2>&1 \
    || { cat target/attack-smoke.log; exit 1; }
grep -q "under attack" target/attack-smoke/attack.md || { cat target/attack-smoke.log; exit 1; }

# Every fuzz target for a few seconds (cargo-fuzz, --sanitizer none: stable toolchain).
FUZZ_SECONDS=${FUZZ_SECONDS:-4}
./fuzz/run.sh "$FUZZ_SECONDS" >target/fuzz-smoke.log 2>&1 || { cat target/fuzz-smoke.log; exit 1; }
grep -c "DONE" target/fuzz-smoke.log | grep -qx 9 || { cat target/fuzz-smoke.log; echo "not every fuzz target ran"; exit 1; }

# A short soak with faults: every request accounted for in the decision log (memory and
# descriptor trends are judged by the documented 10-minute run).
SOAK_SECONDS=20 SOAK_RATE=100 SOAK_CHECK_TRENDS=0 OUT=target/soak-smoke python3 loadtest/soak.py >target/soak-smoke.log 2>&1 \
    || { cat target/soak-smoke.log; exit 1; }
