#!/usr/bin/env python3
"""Soak: a steady request mix with faults injected, for SOAK_SECONDS (default 600).

Five mock providers: healthy, flaky (5 % 503, 1 % never answer), cut (streams end after 3
events), garbled (an invalid SSE event after 2) and stalled (streams stop after 2 events). The
client mix adds bad bodies, unknown models and a key over its rate limit. Every response is
joined to its decision-log record by `x-switchyard-request-id`; RSS and open descriptors of the
gateway are sampled every 5 s.

Writes OUT (default loadtest/results)/soak.json and soak.md. Exit status 1 when a request is
unaccounted for, RSS grew 5 % or more after warm-up, or descriptors grew.
"""

import collections
import http.client
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = min(60, SECONDS // 5)
RATE = int(os.environ.get("SOAK_RATE", "200"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "loadtest", "results"))
KEY = "sk-soak-0123456789abcdef"
TIGHT = "sk-soak-tight-0123456789"
# /metrics names the keys, so with keys configured it needs the admin key.
ADMIN = "sk-soak-admin-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def key_hash(k):
    out = subprocess.run([os.path.join(BIN, "switchyard"), "keys", "hash"], input=k + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_mocks(tmp):
    flags = {
        "good": [],
        "flaky": ["--fail-rate", "0.05", "--fail-status", "503", "--hang-rate", "0.01"],
        "cut": ["--drop-after", "3"],
        "garbled": ["--malformed-after", "2"],
        "stalled": ["--stall-after", "2"],
    }
    procs, ports = [], {}
    for name, extra in flags.items():
        port = free_port()
        ports[name] = port
        log = open(os.path.join(tmp, f"mock-{name}.log"), "w")
        procs.append(subprocess.Popen([os.path.join(BIN, "mock-llm"), "--listen", f"127.0.0.1:{port}",
                                       "--tokens", "20", "--token-interval-ms", "5", *extra],
                                      stdout=log, stderr=log))
    return procs, ports


def config(ports, gport, log_path):
    providers = "\n".join(
        f'[providers.{n}]\nbase_url = "http://127.0.0.1:{p}/v1"\napi_key = "sk-provider-{n}-secret"\n'
        + ('request_timeout_ms = 1000\n' if n == "flaky" else "")
        for n, p in ports.items())
    return f"""
[server]
listen = "127.0.0.1:{gport}"
[upstream]
stream_idle_timeout_ms = 500
{providers}
[models.good]
provider = "good"
model = "gpt-4o-mini"
[models.flaky]
provider = "flaky"
model = "gpt-4o-mini"
fallbacks = ["good"]
[models.cut]
provider = "cut"
model = "gpt-4o-mini"
[models.garbled]
provider = "garbled"
model = "gpt-4o-mini"
[models.stalled]
provider = "stalled"
model = "gpt-4o-mini"
[keys.soak]
key_hash = "{key_hash(KEY)}"
[keys.tight]
key_hash = "{key_hash(TIGHT)}"
rpm = 60
[admin]
listen = "127.0.0.1:0"
key_hash = "{key_hash(ADMIN)}"
[log]
decisions = "{log_path}"
"""


def body(model, stream, text="hello soak"):
    return json.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})


# (weight, label, model, stream, key, raw body or None)
MIX = [
    (40, "flaky", "flaky", False, KEY, None),
    (25, "flaky_stream", "flaky", True, KEY, None),
    (8, "cut_stream", "cut", True, KEY, None),
    (5, "garbled_stream", "garbled", True, KEY, None),
    (5, "stalled_stream", "stalled", True, KEY, None),
    (5, "tight_key", "good", False, TIGHT, None),
    (4, "bad_json", "good", False, KEY, '{"model": "good", "messages": ['),
    (4, "unknown_model", "nope", False, KEY, None),
    (4, "no_key", "good", False, None, None),
]


def one(port, kind):
    _, label, model, stream, key, raw = kind
    payload = raw if raw is not None else body(model, stream)
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/v1/chat/completions", payload, headers)
        r = c.getresponse()
        data = r.read()
        rid = r.getheader("x-switchyard-request-id")
        outcome = "ok"
        if r.status == 200 and stream:
            text = data.decode(errors="replace")
            if '"error"' in text:
                outcome = "stream_error_event"
            elif "[DONE]" not in text:
                outcome = "stream_incomplete"
        elif r.status != 200:
            outcome = "error_body" if b'"error"' in data else "error_without_body"
        return {"label": label, "status": r.status, "rid": rid, "outcome": outcome}
    except Exception as e:  # noqa: BLE001 - every failure is recorded, never lost
        return {"label": label, "status": 0, "rid": None, "outcome": f"client_error:{type(e).__name__}"}
    finally:
        c.close()


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="switchyard-soak-")
    mocks, ports = start_mocks(tmp)
    gport = free_port()
    log_path = os.path.join(tmp, "decisions.jsonl")
    cfg_path = os.path.join(tmp, "soak.toml")
    with open(cfg_path, "w") as f:
        f.write(config(ports, gport, log_path))
    gw_log = open(os.path.join(tmp, "gateway.log"), "w")
    gw = subprocess.Popen([os.path.join(BIN, "switchyard"), "--config", cfg_path], stderr=gw_log, stdout=gw_log)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", gport), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    results, samples = [], []
    lock = threading.Lock()
    work = queue.Queue()
    weights = [k[0] for k in MIX]
    rng = random.Random(7)

    def worker():
        while True:
            kind = work.get()
            if kind is None:
                return
            r = one(gport, kind)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(48)]
    for t in threads:
        t.start()
    start = time.monotonic()
    next_sample = start
    sent = 0
    while True:
        now = time.monotonic()
        if now - start >= SECONDS:
            break
        if now >= next_sample:
            rss, fds = proc_stats(gw.pid)
            samples.append({"t": round(now - start, 1), "rss_kib": rss, "fds": fds, "done": len(results)})
            next_sample += 5
        due = int((now - start) * RATE)
        while sent < due:
            work.put(rng.choices(MIX, weights)[0])
            sent += 1
        time.sleep(0.002)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join(60)
    # Growth is judged on the samples taken under load; this one (after the load stopped)
    # shows what the idle gateway keeps.
    time.sleep(1)
    rss, fds = proc_stats(gw.pid)
    idle_after = {"t": round(time.monotonic() - start, 1), "rss_kib": rss, "fds": fds, "done": len(results)}
    metrics = http.client.HTTPConnection("127.0.0.1", gport, timeout=5)
    metrics.request("GET", "/metrics", headers={"authorization": f"Bearer {ADMIN}"})
    metrics_text = metrics.getresponse().read().decode()
    gw.terminate()
    gw.wait(30)
    for m in mocks:
        m.kill()

    records = {}
    with open(log_path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("type") == "request":
                records[rec["request_id"]] = rec
    unaccounted, mismatched = [], []
    by = collections.Counter()
    reasons = collections.Counter()
    for r in results:
        by[(r["label"], r["status"], r["outcome"])] += 1
        rec = records.get(r["rid"]) if r["rid"] else None
        if rec is None:
            unaccounted.append(r)
            continue
        if rec["status"] != r["status"]:
            mismatched.append((r, rec["status"]))
        failed = r["status"] != 200 or r["outcome"] != "ok"
        if failed:
            if not rec.get("error"):
                unaccounted.append(dict(r, why="failure without a logged reason"))
            reasons[rec.get("error") or "-"] += 1
    warm = next((s for s in samples if s["t"] >= WARMUP), samples[0])
    final = samples[-1]
    peak = max(s["rss_kib"] for s in samples if s["t"] >= WARMUP)
    growth = (final["rss_kib"] - warm["rss_kib"]) / warm["rss_kib"] * 100
    # Descriptors move with requests in flight; a leak shows as a trend, so compare the mean of
    # the first and last quarter of the samples taken under load after warm-up.
    steady = [x["fds"] for x in samples if x["t"] >= WARMUP]
    q = max(1, len(steady) // 4)
    fd_growth = sum(steady[-q:]) / q - sum(steady[:q]) / q
    summary = {
        "seconds": SECONDS, "rate": RATE, "requests_sent": sent, "responses": len(results),
        "unaccounted": len(unaccounted), "status_mismatches": len(mismatched),
        "rss_kib_after_warmup": warm["rss_kib"], "rss_kib_final": final["rss_kib"],
        "rss_growth_pct": round(growth, 2), "rss_kib_peak_after_warmup": peak,
        "rss_kib_idle_after_load": idle_after["rss_kib"],
        "fds_after_warmup": warm["fds"], "fds_final": final["fds"], "fds_idle_after_load": idle_after["fds"],
        "fds_trend_first_to_last_quarter": round(fd_growth, 1),
        "decision_log_records": len(records),
        "log_drops": next((line.split()[-1] for line in metrics_text.splitlines()
                           if line.startswith('switchyard_decision_log_records_total{result="dropped"}')), "0"),
    }
    with open(os.path.join(OUT, "soak.json"), "w") as f:
        json.dump({"summary": summary, "samples": samples,
                   "by_kind": [{"label": k[0], "status": k[1], "outcome": k[2], "count": v} for k, v in sorted(by.items())],
                   "failure_reasons": reasons.most_common(), "unaccounted": unaccounted[:20]}, f, indent=1)
    lines = [
        f"# Soak: {SECONDS} s at {RATE} requests/s with faults injected",
        "",
        "Reproduce: `SOAK_SECONDS=600 loadtest/soak.sh` (release build, mocks on loopback).",
        "",
        "| | value |", "|---|---|",
    ] + [f"| {k} | {v} |" for k, v in summary.items()] + [
        "",
        "## Responses by kind", "", "| kind | status | outcome | count |", "|---|---|---|---|",
    ] + [f"| {k[0]} | {k[1]} | {k[2]} | {v} |" for k, v in sorted(by.items())] + [
        "", "## Logged reasons of failed requests", "", "| reason | count |", "|---|---|",
    ] + [f"| {r or '-'} | {n} |" for r, n in reasons.most_common(15)] + [
        "", "## RSS and descriptors (every 5 s)", "", "| t (s) | RSS (KiB) | fds | responses |", "|---|---|---|---|",
    ] + [f"| {s['t']} | {s['rss_kib']} | {s['fds']} | {s['done']} |" for s in samples[:: max(1, len(samples) // 24)]]
    with open(os.path.join(OUT, "soak.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=1))
    # Trends need minutes of samples: short runs (the test command's) check the accounting only.
    check_trends = os.environ.get("SOAK_CHECK_TRENDS", "1") != "0"
    ok = not unaccounted and not mismatched and sent == len(results)
    ok = ok and (not check_trends or (growth < 5 and fd_growth <= 5))
    if not ok:
        print("SOAK FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
