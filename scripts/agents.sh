#!/usr/bin/env bash
# Codex CLI and Claude Code, installed from the npm registry (both ship their binaries inside
# registry packages), each run non-interactively through the gateway against the bundled mock
# with every model and route of examples/mock.toml; and Vercel's AI SDK with its default
# `openai(model)` (scripts/vercel.mjs). Each run must finish its task (the mock
# calls the agent's first tool, the agent answers the call, the mock answers in text) and print
# the mock's answer. Needs node and npm; without them it says so and exits 0.
#
#   ./scripts/agents.sh                 # both agents, every model and route
#   AGENTS=codex ./scripts/agents.sh    # one of them
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
    echo "agents: skipped (no node/npm)"
    exit 0
fi
CODEX_VERSION=${CODEX_VERSION:-0.171.0}
CLAUDE_VERSION=${CLAUDE_VERSION:-2.1.332}
VERCEL_AI_VERSION=${VERCEL_AI_VERSION:-6.0.333}
VERCEL_OPENAI_VERSION=${VERCEL_OPENAI_VERSION:-3.0.141}
AGENTS=${AGENTS:-"codex claude vercel"}
MODELS=${MODELS:-"mock-openai mock-anthropic mock-gemini mock-responses auto learned cascade consensus"}
work=target/agents
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ ! -x "$work/node_modules/.bin/codex" ] || [ ! -x "$work/node_modules/.bin/claude" ] \
    || [ ! -d "$work/node_modules/@ai-sdk/openai" ]; then
    npm install --silent --no-audit --no-fund --prefix "$work" \
        "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
        "ai@$VERCEL_AI_VERSION" "@ai-sdk/openai@$VERCEL_OPENAI_VERSION" zod@4 >/dev/null
fi
cargo build --quiet -p switchyard -p mock-llm --bins

# The mock and the gateway on free loopback ports (each prints its address once listening).
wait_for() { # file regex
    for _ in $(seq 200); do
        if grep -qE "$2" "$1" 2>/dev/null; then grep -oE "$2" "$1" | head -1; return 0; fi
        sleep 0.05
    done
    echo "agents: no '$2' in $1" >&2; cat "$1" >&2; return 1
}
target/debug/mock-llm --listen 127.0.0.1:0 --tokens 4 2>"$work/mock.log" &
mock_pid=$!
gw_pid=
trap 'kill $mock_pid $gw_pid 2>/dev/null || true' EXIT
mock_url=$(wait_for "$work/mock.log" 'http://127\.0\.0\.1:[0-9]+')
MOCK_URL=$mock_url target/debug/switchyard --config examples/mock.toml --listen 127.0.0.1:0 2>"$work/gateway.log" &
gw_pid=$!
gw=$(wait_for "$work/gateway.log" 'http://127\.0\.0\.1:[0-9]+')

run_codex() { # model
    local home="$work/codex-home"
    mkdir -p "$home" "$work/home" "$work/workdir"
    cat >"$home/config.toml" <<TOML
model = "$1"
model_provider = "switchyard"
check_for_update_on_startup = false
web_search = "disabled"
[model_providers.switchyard]
name = "switchyard"
base_url = "$gw/v1"
wire_api = "responses"
env_key = "SWITCHYARD_KEY"
request_max_retries = 0
stream_max_retries = 0
[analytics]
enabled = false
[features]
plugins = false
TOML
    (cd "$work/workdir" && HOME="$work/home" CODEX_HOME="$home" SWITCHYARD_KEY=unused timeout 120 \
        "$work/node_modules/.bin/codex" exec --skip-git-repo-check "say hello" </dev/null)
}

run_claude() { # model
    mkdir -p "$work/home" "$work/workdir"
    (cd "$work/workdir" && env -i PATH="$PATH" HOME="$work/home" ANTHROPIC_BASE_URL="$gw" ANTHROPIC_API_KEY=unused \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 \
        DISABLE_AUTOUPDATER=1 CLAUDE_CODE_MAX_RETRIES=0 timeout 120 \
        "$work/node_modules/.bin/claude" -p "say hello" --model "$1" </dev/null)
}

run_vercel() { # model
    cp scripts/vercel.mjs "$work/vercel.mjs"
    (cd "$work" && GATEWAY="$gw" timeout 120 node vercel.mjs "$1")
}

failed=0
for agent in $AGENTS; do
    for model in $MODELS; do
        out="$work/$agent-$model.out"
        if "run_$agent" "$model" >"$out" 2>"$out.err" && grep -q "t0 t1 t2 t3" "$out"; then
            echo "agents: $agent with $model: ok"
        else
            echo "agents: $agent with $model: FAILED"; tail -20 "$out" "$out.err"; failed=1
        fi
    done
done
exit $failed
