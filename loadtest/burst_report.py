#!/usr/bin/env python3
"""The burst scenario's table (loadtest/burst.sh): per stream count and arm, TTFT p50/p90/p99
as the median over rounds (with the range), the generator core's busy share, CPU per relayed
event and per stream start, peak and after-load RSS.

    python3 loadtest/burst_report.py RAW_DIR OUT_DIR
"""
import glob
import json
import os
import re
import statistics
import sys

ARMS = ["direct", "nginx", "switchyard"]


def read_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return {}


def cpu(path):
    """(proxy CPU seconds, busy share of CPU 1) of one load."""
    try:
        ticks, hz, g0b, g0t, g1b, g1t = (int(x) for x in open(path).read().split())
    except (OSError, ValueError):
        return None, None
    busy = (g1b - g0b) / max(1, g1t - g0t)
    return ticks / hz, busy


def main():
    raw, out = sys.argv[1], sys.argv[2]
    tokens = int(open(f"{raw}/tokens").read())
    ramp = int(open(f"{raw}/ramp_ms").read()) if os.path.exists(f"{raw}/ramp_ms") else 1000
    counts = sorted({int(m.group(1)) for p in glob.glob(f"{raw}/stream-*.json")
                     if (m := re.search(r"stream-(\d+)-", p))})
    result, lines = {}, ["# Stream starts under a burst", ""]
    for n in counts:
        lines += [f"## {n:,} streams started over {ramp:,} ms ({tokens} tokens each)", "",
                  "| arm | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | generator core busy | CPU per event µs | CPU per stream start µs | peak RSS MiB | after-load RSS MiB | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for arm in ARMS:
            rounds = sorted(glob.glob(f"{raw}/stream-{n}-{arm}-r*.json"))
            runs = [read_json(p) for p in rounds]
            q = {k: [r["ttft_us"][k] / 1e3 for r in runs if r.get("ttft_us")] for k in ("p50", "p90", "p99")}
            cpus = [cpu(p.replace(".json", ".cpu")) for p in rounds]
            busy = [b for _, b in cpus if b is not None]
            per_event = [c / (n * tokens) * 1e6 for c, _ in cpus if c]
            start_cpu, _ = cpu(f"{raw}/start-{n}-{arm}.cpu")
            rss = open(f"{raw}/rss-{n}-{arm}").read().split() if os.path.exists(f"{raw}/rss-{n}-{arm}") else None
            errors = sum(r.get("errors", 0) for r in runs) + read_json(f"{raw}/start-{n}-{arm}.json").get("errors", 0)
            med = lambda v: statistics.median(v) if v else None
            fmt = lambda v: "–" if not v else f"{med(v):.1f} ({min(v):.1f}–{max(v):.1f})"
            result.setdefault(str(n), {})[arm] = {
                "ttft_ms": {k: {"median": med(v), "min": min(v, default=None), "max": max(v, default=None), "rounds": v}
                            for k, v in q.items()},
                "generator_busy": med(busy), "cpu_per_event_us": med(per_event) if arm != "direct" else None,
                "cpu_per_stream_start_us": start_cpu / n * 1e6 if start_cpu and arm != "direct" else None,
                "peak_rss_mib": int(rss[0]) / 1024 if rss else None, "after_rss_mib": int(rss[1]) / 1024 if rss else None,
                "errors": errors,
            }
            r = result[str(n)][arm]
            show = lambda v, f="{:.1f}": "–" if v is None else f.format(v)
            lines.append(f"| {arm} | {fmt(q['p50'])} | {fmt(q['p90'])} | {fmt(q['p99'])} | {show(r['generator_busy'], '{:.0%}')} | "
                         f"{show(r['cpu_per_event_us'])} | {show(r['cpu_per_stream_start_us'])} | {show(r['peak_rss_mib'])} | "
                         f"{show(r['after_rss_mib'])} | {errors} |")
        lines += ["", "TTFT: median over rounds (range). Direct is the mock itself: the generator's and the mock's own",
                  "limit, against which each proxy's TTFT is read. A generator core near 100 % busy is the limit.", ""]
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/burst.json", "w") as f:
        json.dump(result, f, indent=1)
    with open(f"{out}/burst.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
