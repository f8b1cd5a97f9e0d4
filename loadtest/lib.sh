# Shared by the load-test scripts (sourced from the repository root): free ports, and nginx as
# the bare keep-alive hop, pinned like the gateway (CPU 0, one worker).

# install_tools: nginx (Debian's nginx-light) and oha, when missing (a fresh machine has neither).
install_tools() {
    command -v nginx >/dev/null || apt-get install -y -q nginx-light >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null; }
    command -v oha >/dev/null || cargo install oha --locked -q
}

# A port nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx DIR PORT MOCK_PORT: nginx from loadtest/nginx.conf.in in the background; its pid is
# added to the caller's `pids`.
start_nginx() {
    sed -e "s|@DIR@|$1|g" -e "s|@PORT@|$2|g" -e "s|@MOCK_PORT@|$3|g" loadtest/nginx.conf.in >"$1/nginx.conf"
    taskset -c 0 nginx -c "$1/nginx.conf" &
    pids+=($!)
}

# start_arm ARM PORT MOCK_PORT DIR: one proxy arm in the background (nginx, switchyard, or
# switchyard2: BIN2's build, ENV2's environment, CONF2's config); sets `arm_pid`. GATEWAY_ENV
# and CONF apply to switchyard. Needs `bin`.
start_arm() {
    case $1 in
        nginx) start_nginx "$4" "$2" "$3" ;;
        switchyard)
            env ${GATEWAY_ENV:-} MOCK_URL="http://127.0.0.1:$3" "$bin/switchyard" --config "${CONF:-loadtest/gateway.toml}" \
                --listen "127.0.0.1:$2" 2>>"$4/switchyard.log" &
            pids+=($!) ;;
        switchyard2)
            env ${ENV2:-} MOCK_URL="http://127.0.0.1:$3" "${BIN2:-$bin}/switchyard" \
                --config "${CONF2:-loadtest/gateway.toml}" --listen "127.0.0.1:$2" 2>>"$4/switchyard2.log" &
            pids+=($!) ;;
        *) echo "unknown arm $1" >&2; return 1 ;;
    esac
    arm_pid=$!
}

# wait_ready URL...: until each answers /v1/models (at most 20 s; with AUTH's key when set).
wait_ready() {
    for _ in $(seq 100); do
        local ok=1 u
        for u in "$@"; do curl -sf -o /dev/null ${AUTH:+-H "authorization: Bearer $AUTH"} "$u/v1/models" || ok=0; done
        [ $ok = 1 ] && return 0
        sleep 0.2
    done
    echo "not ready: $*" >&2
    return 1
}

# paired_blocks "ARMS" PAIRS PER_BLOCK RATE SECONDS BODY MOCK_PORT OUT: the paired slices: one
# oha slice per arm and pair (files OUT/pair-N-ARM.json), the arms' order cycling through every
# permutation (ABBA for two arms), so each arm runs equally often in each position and after each
# other arm. ARMS: nginx, switchyard, switchyard2 and direct (straight to the mock: it gives each
# proxy a paired added latency). The proxies are started afresh for every block of PER_BLOCK
# pairs and stopped after it: a process's memory placement shifts its latency for its whole life
# (two runs of 40 pairs read +6.1 and -6.5 us, each with an interval that excluded the other), so
# the interval must come from several processes. OUT/pair-blocks.txt maps pair to block for
# paired.py's block bootstrap. AUTH, when set, is sent as the bearer key.
paired_blocks() {
    local arms=$1 pairs=$2 per=$3 rate=$4 secs=$5 body=$6 mock=$7 out=$8
    local p=1 blk=0 perms auth=()
    [ -n "${AUTH:-}" ] && auth=(-H "authorization: Bearer $AUTH")
    # shellcheck disable=SC2086
    mapfile -t perms < <(python3 -c 'import itertools, sys
for p in itertools.permutations(sys.argv[1:]): print(" ".join(p))' $arms)
    : >"$out/pair-blocks.txt"
    while [ "$p" -le "$pairs" ]; do
        blk=$((blk + 1))
        local dir arm started=() ready=()
        declare -A port=()
        dir=$(mktemp -d)
        for arm in $arms; do
            if [ "$arm" = direct ]; then
                port[$arm]=$mock
            else
                port[$arm]=$(free_port)
                start_arm "$arm" "${port[$arm]}" "$mock" "$dir"
                started+=("$arm_pid")
            fi
            ready+=("http://127.0.0.1:${port[$arm]}")
        done
        wait_ready "${ready[@]}"
        # A second of load each, not measured: connections, pools and caches of the new processes.
        for arm in $arms; do
            taskset -c 1 oha --no-tui --output-format json -z 1s -q "$rate" -c 64 -m POST -H 'content-type: application/json' \
                "${auth[@]}" -D "$body" "http://127.0.0.1:${port[$arm]}/v1/chat/completions" >/dev/null 2>&1 || true
        done
        local end=$((p + per - 1)); [ "$end" -gt "$pairs" ] && end=$pairs
        # The gateway arms' own-time histograms around the measured slices (ab.sh reports them).
        scrape_own_time "$arms" "$out/owntime-before-blk$blk"
        for n in $(seq "$p" "$end"); do
            for arm in ${perms[$(((n - 1) % ${#perms[@]}))]}; do
                taskset -c 1 oha --no-tui --output-format json -z "${secs}s" -q "$rate" -c 64 --latency-correction -m POST \
                    -H 'content-type: application/json' "${auth[@]}" -D "$body" "http://127.0.0.1:${port[$arm]}/v1/chat/completions" \
                    >"$out/pair-$n-$arm.json" 2>/dev/null || true
            done
            echo "$n $blk" >>"$out/pair-blocks.txt"
        done
        scrape_own_time "$arms" "$out/owntime-after-blk$blk"
        kill "${started[@]}" 2>/dev/null || true
        wait "${started[@]}" 2>/dev/null || true
        rm -rf "$dir"
        unset port
        p=$((end + 1))
    done
}

# scrape_own_time "ARMS" PREFIX: each switchyard arm's /metrics into PREFIX-ARM.txt (needs the
# caller's `port` map; /metrics on the client port is public when no client keys are set).
scrape_own_time() {
    local arm
    for arm in $1; do
        case $arm in switchyard*) curl -s "http://127.0.0.1:${port[$arm]}/metrics" >"$2-$arm.txt" || true ;; esac
    done
}

# cpu_cap_create NAME PERCENT: a cgroup whose processes share PERCENT % of one CPU (cgroup v1
# `cpu` controller or cgroup v2 `cpu.max`; 10 ms periods, so a throttled proxy waits at most
# that long). Prints its directory; fails where no cpu controller is writable (containers).
cpu_cap_create() {
    local name=$1 period=10000 d
    local quota=$((period * $2 / 100))
    if [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        d=/sys/fs/cgroup/cpu/$name
        mkdir -p "$d" 2>/dev/null && echo "$period" >"$d/cpu.cfs_period_us" && echo "$quota" >"$d/cpu.cfs_quota_us" \
            || return 1
    elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        d=/sys/fs/cgroup/$name
        mkdir -p "$d" 2>/dev/null && echo "$quota $period" >"$d/cpu.max" || return 1
    else
        return 1
    fi
    echo "$d"
}

# cpu_cap_add DIR PID: moves process PID (all its threads) into the cgroup.
cpu_cap_add() { echo "$2" >"$1/cgroup.procs"; }

# cpu_cap_lift DIR: removes the cgroup's limit (its processes keep running unthrottled).
cpu_cap_lift() {
    if [ -e "$1/cpu.cfs_quota_us" ]; then echo -1 >"$1/cpu.cfs_quota_us"; else echo "max 10000" >"$1/cpu.max"; fi
}
