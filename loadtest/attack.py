#!/usr/bin/env python3
"""Under attack, still serving: a normal load at a fixed rate (oha, 1 KB chat requests from
127.0.0.1), first alone, then while attackers from other loopback addresses run:

- endless chunk extensions (8 connections, reconnecting when refused);
- one address opening sockets and sending nothing, as many as it is allowed;
- stream clients that never read (a 100,000-token stream each, 8 at a time);
- slowloris: 200 connections trickling a request head a byte a second;
- a client trickling a byte every 2 s to the admin listener, while the admin API is probed.

Reports the normal load's success share and p50/p99 with and without the attack, the
gateway's peak resident memory, and the slowest admin answer during the attack.

    python3 loadtest/attack.py              20 s per phase, writes loadtest/results/attack.md
    DURATION=5 python3 loadtest/attack.py   a quick look
Exits 1 when the normal load's success share under attack is below 99.9 % or the peak RSS
reaches 256 MiB (ATTACK_SMOKE=1: always 0, for the test command's smoke run).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import free_port, key_hash  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
DUR = int(os.environ.get("DURATION", "20"))
RATE = int(os.environ.get("RATE", "1000"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "loadtest", "results"))
ADMIN_KEY = "sk-attack-admin-0123456789"



def wait_port(port, timeout=20):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on {port}")


def connect_from(src, port, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Attack:
    def __init__(self, gport, aport):
        self.gport, self.aport = gport, aport
        self.stop = threading.Event()
        self.admin_worst = 0.0
        self.admin_failures = 0
        self.threads = []

    def run(self, fn, *args):
        t = threading.Thread(target=self.guard, args=(fn, *args), daemon=True)
        t.start()
        self.threads.append(t)

    def guard(self, fn, *args):
        while not self.stop.is_set():
            try:
                fn(*args)
            except OSError:
                time.sleep(0.05)

    def chunk_extension(self):
        s = connect_from("127.0.0.2", self.gport)
        s.sendall(b"POST /healthz HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n1;")
        while not self.stop.is_set():
            s.sendall(b"a" * 65536)
        s.close()

    def hold_sockets(self):
        held = []
        while not self.stop.is_set() and len(held) < 2000:
            held.append(connect_from("127.0.0.3", self.gport))
        self.stop.wait()
        for s in held:
            s.close()

    def non_reader(self):
        body = json.dumps({"model": "long", "stream": True, "messages": [{"role": "user", "content": "go"}]})
        s = connect_from("127.0.0.4", self.gport)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n{body}".encode())
        # Never read: the gateway's write deadline drops it; then start another.
        while not self.stop.is_set():
            time.sleep(0.5)
            try:
                s.send(b"", socket.MSG_DONTWAIT)
            except OSError:
                break
        s.close()

    def slowloris(self):
        conns = [connect_from("127.0.0.5", self.gport) for _ in range(200)]
        for c in conns:
            c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        while not self.stop.is_set():
            for c in conns:
                c.sendall(b"x")
            time.sleep(1)

    def admin_trickle(self):
        s = connect_from("127.0.0.6", self.aport)
        for b in b"GET /admin/health HTTP/1.1\r\n":
            if self.stop.is_set():
                break
            s.sendall(bytes([b]))
            time.sleep(2)
        s.close()

    def admin_probe(self):
        t = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", self.aport), 5)
        s.sendall(f"GET /admin/health HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_KEY}\r\n\r\n".encode())
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
        self.admin_worst = max(self.admin_worst, time.perf_counter() - t)
        self.admin_failures += 0 if ok else 1
        time.sleep(1)

    def start(self):
        for _ in range(8):
            self.run(self.chunk_extension)
        self.run(self.hold_sockets)
        for _ in range(8):
            self.run(self.non_reader)
        self.run(self.slowloris)
        self.run(self.admin_trickle)
        self.run(self.admin_probe)


def oha(port, body_path, out_path):
    cmd = ["oha", "--no-tui", "--output-format", "json", "-z", f"{DUR}s", "-q", str(RATE), "-c", "32",
           "--latency-correction", "-m", "POST", "-H", "content-type: application/json", "-D", body_path,
           f"http://127.0.0.1:{port}/v1/chat/completions"]
    with open(out_path, "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.DEVNULL, check=False)
    d = json.load(open(out_path))
    codes = d.get("statusCodeDistribution", {})
    total = sum(codes.values()) + sum(d.get("errorDistribution", {}).values())
    lp = d["latencyPercentiles"]
    return {"ok": codes.get("200", 0) / total if total else 0.0, "requests": total,
            "p50_us": lp["p50"] * 1e6, "p99_us": lp["p99"] * 1e6}


def main():
    tmp = tempfile.mkdtemp()
    mport, lport, gport, aport = free_port(), free_port(), free_port(), free_port()
    procs = [subprocess.Popen([os.path.join(BIN, "mock-llm"), "--listen", f"127.0.0.1:{mport}", "--threads", "1"],
                              stderr=subprocess.DEVNULL),
             subprocess.Popen([os.path.join(BIN, "mock-llm"), "--listen", f"127.0.0.1:{lport}", "--threads", "1",
                               "--tokens", "100000"], stderr=subprocess.DEVNULL)]
    cfg = f"""[server]
listen = "127.0.0.1:{gport}"
workers = 2
write_timeout_ms = 3000
head_timeout_ms = 5000
[admin]
listen = "127.0.0.1:{aport}"
key_hash = "{key_hash(ADMIN_KEY)}"
[upstream]
pool_max_idle = 1024
[providers.mock]
base_url = "http://127.0.0.1:{mport}/v1"
api_key = "sk-bench"
[providers.long]
base_url = "http://127.0.0.1:{lport}/v1"
api_key = "sk-bench"
[models.bench]
provider = "mock"
model = "gpt-4o-mini"
[models.long]
provider = "long"
model = "gpt-4o-mini"
"""
    open(f"{tmp}/gw.toml", "w").write(cfg)
    gw = subprocess.Popen([os.path.join(BIN, "switchyard"), "--config", f"{tmp}/gw.toml"], stderr=subprocess.DEVNULL)
    procs.append(gw)
    try:
        for p in (mport, lport, gport, aport):
            wait_port(p)
        body = {"model": "bench", "messages": [{"role": "user", "content": ""}]}
        body["messages"][0]["content"] = "x" * (1024 - len(json.dumps(body)))
        open(f"{tmp}/body.json", "w").write(json.dumps(body))
        peak = [0]
        sampling = threading.Event()

        def sample():
            while not sampling.is_set():
                peak[0] = max(peak[0], rss_kib(gw.pid))
                time.sleep(0.1)
        threading.Thread(target=sample, daemon=True).start()
        quiet = oha(gport, f"{tmp}/body.json", f"{tmp}/quiet.json")
        quiet_peak = peak[0]
        attack = Attack(gport, aport)
        attack.start()
        time.sleep(2)
        loud = oha(gport, f"{tmp}/body.json", f"{tmp}/attack.json")
        attack.stop.set()
        sampling.set()
    finally:
        for p in procs:
            p.terminate()
    lines = ["# Under attack, still serving", "",
             f"`python3 loadtest/attack.py`: {RATE}/s of 1 KB chat requests for {DUR} s, alone and then while",
             "attackers run endless chunk extensions (8 connections), one address holding every socket it may,",
             "8 stream clients that never read, 200 slowloris connections and an admin trickler. Gateway: 2",
             "workers, `write_timeout_ms = 3000`, `head_timeout_ms = 5000`, other limits at their defaults.", "",
             "| phase | success share | requests | p50 (µs) | p99 (µs) | peak RSS (MiB) |", "|---|---|---|---|---|---|",
             f"| normal load alone | {quiet['ok']:.4f} | {quiet['requests']} | {quiet['p50_us']:.0f} | {quiet['p99_us']:.0f} | {quiet_peak / 1024:.1f} |",
             f"| under attack | {loud['ok']:.4f} | {loud['requests']} | {loud['p50_us']:.0f} | {loud['p99_us']:.0f} | {peak[0] / 1024:.1f} |",
             "",
             f"Added p99 under attack: {loud['p99_us'] - quiet['p99_us']:.0f} µs. Slowest admin answer during the attack: "
             f"{attack.admin_worst * 1000:.0f} ms ({attack.admin_failures} failed)."]
    os.makedirs(OUT, exist_ok=True)
    open(os.path.join(OUT, "attack.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = loud["ok"] >= 0.999 and peak[0] < 256 * 1024
    sys.exit(0 if ok or os.environ.get("ATTACK_SMOKE") else 1)


if __name__ == "__main__":
    main()
