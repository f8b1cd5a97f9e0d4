#!/usr/bin/env python3
"""Checks that a harness run produced numbers for every arm (not what the numbers are)."""

import json
import sys

r = json.load(open(sys.argv[1]))
problems = []
for target in ("direct", "nginx", "switchyard"):
    rows = [f for f in r["fixed_rate"] if f["target"] == target]
    if not rows or any(f["p50_us"] is None or f["p99_us"] is None or f["requests"] == 0 for f in rows):
        problems.append(f"fixed-rate numbers missing for {target}: {rows}")
for proxy in ("nginx", "switchyard"):
    if not any(a["proxy"] == proxy and a["added_p50_us"] is not None for a in r["added_over_direct"]):
        problems.append(f"no added-latency numbers for {proxy}")
for target in ("direct", "nginx", "switchyard"):
    # One-second smoke steps may fall short of the rate; what matters is that the step ran.
    steps = r.get("saturation_steps", {}).get(target, [])
    if not steps or any(s["rps"] <= 0 for s in steps):
        problems.append(f"no saturation step for {target}: {steps}")
capped = r.get("saturation_capped", {})
if "skipped" not in capped:
    # Machines without a writable cgroup cpu controller skip it (and say so in the report).
    for proxy in ("nginx", "switchyard"):
        steps = capped.get(proxy, {}).get("steps", [])
        if not steps or any(x["rps"] <= 0 for x in steps):
            problems.append(f"no capped saturation step for {proxy}: {capped}")
s = r["streaming"]
if not s.get("gateway_relay_time", {}).get("pieces"):
    problems.append(f"no stream relay timings from the gateway's metrics: {s.get('gateway_relay_time')}")
if "gateway_peak_rss_mib" not in s or not s.get("by_pace"):
    problems.append(f"streaming result lacks peak RSS or paces: {s}")
for p in s.get("by_pace", []):
    for proxy in ("switchyard", "nginx"):
        a = p.get(proxy, {})
        for k in ("streams", "ttft_p50_us", "added_gap_p50_us", "added_delay_p99_us", "added_gap_excess_p99_us"):
            if k not in a:
                problems.append(f"streaming at {p.get('pace_ms')} ms: {proxy} lacks {k}: {a}")
        # Stamped events must have been timed: a trip of 0 means the stamps were lost.
        if not a.get("delay_p50_us"):
            problems.append(f"streaming at {p.get('pace_ms')} ms: {proxy} has no stamped event timings: {a}")
if not r["gateway_internal_overhead"] or not all(v["requests"] > 0 for v in r["gateway_internal_overhead"].values()):
    problems.append(f"no internal overhead numbers: {r['gateway_internal_overhead']}")
if not r.get("paired", {}).get("pairs") or not r["paired"].get("p50"):
    problems.append(f"no paired-slice numbers: {r.get('paired')}")
elif r["paired"].get("blocks", 0) < 2:
    # The smoke run starts fresh processes for every pair: one block means they were not restarted.
    problems.append(f"paired slices ran in one block of processes: {r.get('paired')}")
for proxy in ("switchyard", "nginx"):
    a = r.get("paired_added_over_direct", {}).get(proxy, {})
    if not a.get("pairs") or not a.get("p99"):
        problems.append(f"no paired added latency over direct for {proxy}: {a}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("load-test smoke: every arm produced numbers")
