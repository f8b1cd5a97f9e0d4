# Shared by the load-test scripts (sourced from the repository root): free ports, and nginx as
# the bare keep-alive hop, pinned like the gateway (CPU 0, one worker).

# A port nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx DIR PORT MOCK_PORT: nginx from loadtest/nginx.conf.in in the background; its pid is
# added to the caller's `pids`.
start_nginx() {
    sed -e "s|@DIR@|$1|g" -e "s|@PORT@|$2|g" -e "s|@MOCK_PORT@|$3|g" loadtest/nginx.conf.in >"$1/nginx.conf"
    taskset -c 0 nginx -c "$1/nginx.conf" &
    pids+=($!)
}
