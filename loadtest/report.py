#!/usr/bin/env python3
"""Turns the raw outputs of loadtest/run.sh into results.json, results.md and latency.svg."""

import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paired  # noqa: E402
from histogram import delta_quantiles  # noqa: E402

raw, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def oha(path):
    """p50/p90/p99/p99.9 (µs), achieved rate and error share from an oha JSON report."""
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        return None
    s, lp = d["summary"], d.get("latencyPercentiles", {})
    us = lambda k: round(lp[k] * 1e6, 1) if lp.get(k) is not None else None
    codes = d.get("statusCodeDistribution", {})
    total = sum(codes.values()) + sum(d.get("errorDistribution", {}).values())
    bad = total - codes.get("200", 0)
    return {"p50_us": us("p50"), "p90_us": us("p90"), "p99_us": us("p99"), "p999_us": us("p99.9"),
            "rps": round(s.get("requestsPerSec", 0), 1), "requests": total,
            "error_share": round(bad / total, 4) if total else 1.0}


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return round(xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2, 1)


PCTS = ("p50_us", "p90_us", "p99_us", "p999_us")

# Each point may have several rounds (fixed-TARGET-BODY-RATE-rN.json); the arms of a round ran
# back to back, so "added" is taken per round and the report gives the median over rounds.
runs = {}
for path in sorted(glob.glob(f"{raw}/fixed-*.json")):
    target, body, rate, rnd = re.match(r".*/fixed-(\w+?)-(\w+)-(\d+)(?:-r(\d+))?\.json", path).groups()
    r = oha(path)
    if r:
        runs.setdefault((target, body, int(rate)), {})[int(rnd or 1)] = r

fixed = []
for (target, body, rate), rounds in runs.items():
    rs = list(rounds.values())
    fixed.append({"target": target, "body": body, "rate": rate, "rounds": len(rs),
                  **{k: median(r[k] for r in rs) for k in PCTS},
                  "rps": median(r["rps"] for r in rs), "requests": sum(r["requests"] for r in rs),
                  "error_share": max(r["error_share"] for r in rs)})

added = []
for (target, body, rate), rounds in runs.items():
    direct = runs.get(("direct", body, rate))
    if target == "direct" or not direct:
        continue
    per_round = [{k: round(r[k] - direct[n][k], 1) for k in PCTS if r[k] is not None and direct[n][k] is not None}
                 for n, r in sorted(rounds.items()) if n in direct]
    if not per_round:
        continue
    added.append({"proxy": target, "body": body, "rate": rate,
                  **{f"added_{k}": median(x.get(k) for x in per_round) for k in PCTS},
                  **{f"added_{k}_range": [min(x[k] for x in per_round if k in x), max(x[k] for x in per_round if k in x)]
                     for k in ("p50_us", "p99_us")},
                  "rounds": per_round})

saturation = {}
sat_steps = {}
for path in glob.glob(f"{raw}/sat-*.json"):
    target, rate = re.match(r".*/sat-(\w+)-(\d+)\.json", path).groups()
    r = oha(path)
    if r:
        sat_steps.setdefault(target, []).append({"rate": int(rate), "rps": r["rps"], "error_share": r["error_share"]})
    if r and r["error_share"] < 0.01 and r["rps"] >= 0.95 * int(rate):
        saturation[target] = max(saturation.get(target, 0), int(rate))
direct_sat = saturation.get("direct")
sat = {t: {"max_rps": v, "ratio_to_direct": round(v / direct_sat, 2) if direct_sat else None} for t, v in saturation.items()}

# Proxy-bound saturation: cap-PROXY-RATE.json, each proxy held to the same share of a core.
capped = {}
if os.path.exists(f"{raw}/cap-percent"):
    capped = {"core_percent": int(open(f"{raw}/cap-percent").read())}
    for path in glob.glob(f"{raw}/cap-*.json"):
        target, rate = re.match(r".*/cap-(\w+)-(\d+)\.json", path).groups()
        r = oha(path)
        if not r:
            continue
        a = capped.setdefault(target, {"max_rps": None, "peak_achieved_rps": 0, "steps": []})
        a["steps"].append({"rate": int(rate), "rps": r["rps"], "error_share": r["error_share"]})
        a["peak_achieved_rps"] = max(a["peak_achieved_rps"], round(r["rps"]))
        if r["error_share"] < 0.01 and r["rps"] >= 0.95 * int(rate):
            a["max_rps"] = max(a["max_rps"] or 0, int(rate))
    for a in capped.values():
        if isinstance(a, dict):
            a["steps"].sort(key=lambda x: x["rate"])
elif os.path.exists(f"{raw}/cap-skipped"):
    capped = {"skipped": open(f"{raw}/cap-skipped").read().strip()}

# Streams: stream-TARGET-pPACE-rN.json; "added" per round against direct's run of that round.
streams = {}
for path in glob.glob(f"{raw}/stream-*.json"):
    t, pace, rnd = re.match(r".*/stream-(\w+?)(?:-p(\d+))?(?:-r(\d+))?\.json", path).groups()
    try:
        streams.setdefault(int(pace or 0), {}).setdefault(t, {})[int(rnd or 1)] = json.load(open(path))
    except ValueError:
        pass


def stream_added(by_target, arm):
    d, g = by_target.get("direct", {}), by_target.get(arm, {})
    rounds = [n for n in sorted(g) if n in d]
    if not rounds:
        return {}
    # A summary of no samples (no stamped events, say) is missing, not zero.
    pick = lambda key, q, src: [src[n][key][q] if src[n].get(key, {}).get("n") else None for n in rounds]
    diff = lambda key, q: median(a - b for a, b in zip(pick(key, q, g), pick(key, q, d)) if a is not None and b is not None)
    return {
        "rounds": len(rounds), "streams": sum(g[n]["ok"] + g[n]["errors"] for n in rounds),
        "errors": sum(g[n]["errors"] for n in rounds),
        "ttft_p50_us": median(pick("ttft_us", "p50", g)), "ttft_p99_us": median(pick("ttft_us", "p99", g)),
        "added_ttft_p50_us": diff("ttft_us", "p50"), "added_ttft_p99_us": diff("ttft_us", "p99"),
        "gap_p50_us": median(pick("gap_us", "p50", g)), "gap_p99_us": median(pick("gap_us", "p99", g)),
        "direct_gap_p50_us": median(pick("gap_us", "p50", d)), "direct_gap_p99_us": median(pick("gap_us", "p99", d)),
        "added_gap_p50_us": diff("gap_us", "p50"), "added_gap_p99_us": diff("gap_us", "p99"),
        # From the mock's send stamps: each event's trip, and the part of each gap the path
        # added (the mock's own pacing jitter taken out), direct's subtracted per round.
        "delay_p50_us": median(pick("delay_us", "p50", g)), "delay_p99_us": median(pick("delay_us", "p99", g)),
        "direct_delay_p50_us": median(pick("delay_us", "p50", d)), "direct_delay_p99_us": median(pick("delay_us", "p99", d)),
        "added_delay_p50_us": diff("delay_us", "p50"), "added_delay_p99_us": diff("delay_us", "p99"),
        "gap_excess_p99_us": median(pick("gap_excess_us", "p99", g)),
        "direct_gap_excess_p99_us": median(pick("gap_excess_us", "p99", d)),
        "added_gap_excess_p99_us": diff("gap_excess_us", "p99"),
        "added_gap_excess_p99_us_rounds": [a - b for a, b in zip(pick("gap_excess_us", "p99", g), pick("gap_excess_us", "p99", d))
                                           if a is not None and b is not None],
    }


stream = {"by_pace": [{"pace_ms": pace, "switchyard": stream_added(t, "switchyard"), "nginx": stream_added(t, "nginx")}
                      for pace, t in sorted(streams.items())]}
try:
    stream["gateway_peak_rss_mib"] = round(int(open(f"{raw}/gateway-peak-rss-kib").read()) / 1024, 1)
except (OSError, ValueError):
    pass
# The gateway's own time per relayed stream piece (upstream bytes read -> client write issued),
# over every streaming round: its share of the gap between tokens.
try:
    relay = {}
    for line in open(f"{raw}/gateway-metrics.txt"):
        m = re.match(r'switchyard_stream_relay_quantile_seconds\{quantile="([0-9.]+)"\} (\S+)', line)
        if m:
            relay[f"p{m.group(1)[2:].ljust(2, '0')}_us"] = round(float(m.group(2)) * 1e6, 2)
        m = re.match(r"switchyard_stream_relay_count (\d+)", line)
        if m:
            relay["pieces"] = int(m.group(1))
    if relay:
        stream["gateway_relay_time"] = relay
except OSError:
    pass

overhead = {}
for path in sorted(glob.glob(f"{raw}/metrics-before-*.txt")):
    key = re.match(r".*/metrics-before-(\w+-\d+)(?:-r\d+)?\.txt", path).group(1)
    try:
        overhead.setdefault(key, []).append((path, path.replace("metrics-before", "metrics-after")))
    except OSError:
        pass
overhead = {k: delta_quantiles(v) for k, v in overhead.items()}



def find_added(proxy, body, rate):
    return next((a for a in added if a["proxy"] == proxy and a["body"] == body and a["rate"] == rate), None)


def target_rows():
    """The speed targets (docs/benchmarks.md), judged from this run's numbers (None: the run did not measure it)."""
    rows = []
    sy, ng = find_added("switchyard", "1k", 5000), find_added("nginx", "1k", 5000)
    # Judged from the paired slices (the rounds' medians differ by ±50 µs from noise alone).
    p50 = pair["p50"] if pair["rate"] == 5000 else None
    rounds = f"; rounds' medians {sy['added_p50_us']} vs {ng['added_p50_us']} µs" if sy and ng else ""
    rows.append(("added p50 at 5,000/s 1 KB no more than nginx's (paired slices)",
                 f"switchyard − nginx {p50['median_diff_us']:+} µs, 95 % CI {p50['ci95_us'][0]:+} to "
                 f"{p50['ci95_us'][1]:+} µs, {pair['pairs']} pairs in {pair['blocks']} blocks{rounds}" if p50 else None,
                 paired.verdict(p50)))
    # Judged from the paired slices over direct where the run has them (a difference of tails
    # between arms run minutes apart moves by ~100 µs between rounds); the rounds' figure beside it.
    p99, n99 = (added_pair[x]["p99"] if pair["rate"] == 5000 else None for x in ("switchyard", "nginx"))
    rounds = f"; rounds' median {sy['added_p99_us']} µs (nginx {ng['added_p99_us']})" if sy and ng else ""
    if p99:
        rows.append(("added p99 at 5,000/s 1 KB under 100 µs (paired slices over direct)",
                     f"{p99['median_diff_us']:+} µs, 95 % CI {p99['ci95_us'][0]:+} to {p99['ci95_us'][1]:+} µs"
                     + (f" (nginx {n99['median_diff_us']:+} µs, {n99['ci95_us'][0]:+} to {n99['ci95_us'][1]:+})" if n99 else "")
                     + rounds, paired.verdict(p99, limit=100)))
    else:
        rows.append(("added p99 at 5,000/s 1 KB under 100 µs", f"{sy['added_p99_us']} µs" if sy else None,
                     sy["added_p99_us"] < 100 if sy else None))
    own = overhead.get("1k-5000", {}).get("p99_us")
    rows.append(("own time p99 at 5,000/s 1 KB under 10 µs (bucket upper bound)", f"{own} µs" if own else None,
                 own <= 10 if own else None))
    sw, sn = sat.get("switchyard", {}).get("max_rps"), sat.get("nginx", {}).get("max_rps")
    rows.append(("saturation at least nginx's (load generator's core the limit)", f"{sw} vs {sn} req/s" if sw and sn else None,
                 sw >= sn if sw and sn else None))
    cs, cn = (capped.get(t, {}) for t in ("switchyard", "nginx"))
    if cs.get("max_rps") and cn.get("max_rps"):
        rows.append((f"saturation at least nginx's (each proxy held to {capped['core_percent']} % of a core)",
                     f"{cs['max_rps']} vs {cn['max_rps']} req/s (most achieved: {cs['peak_achieved_rps']} vs "
                     f"{cn['peak_achieved_rps']})", cs["max_rps"] >= cn["max_rps"]))
    # The streaming targets are for 1,000 concurrent streams (smoke runs use a handful).
    full = lambda p: p["switchyard"].get("streams", 0) >= 1000 * p["switchyard"].get("rounds", 1)
    # A 100 µs difference cannot be judged when direct's own gap excess p99 is ten times that.
    for p in stream["by_pace"]:
        a = p["switchyard"]
        g = a.get("added_gap_excess_p99_us") if full(p) else None
        n = p["nginx"].get("added_gap_excess_p99_us")
        noise = a.get("direct_gap_excess_p99_us")
        name = f"streaming ({p['pace_ms']} ms pace): added gap p99 under 100 µs (gap excess; nginx: {n} µs)"
        if g is not None and noise is not None and noise > 1000:
            rows.append((name, f"{g} µs; direct's own p99 {noise} µs", "noise"))
        else:
            own = stream.get("gateway_relay_time", {}).get("p99_us")
            own = f"; the gateway's own time per piece, all rounds: p99 {own} µs" if own is not None else ""
            rows.append((name, f"{g} µs{own}" if g is not None else None, g < 100 if g is not None else None))
    rss = stream.get("gateway_peak_rss_mib")
    big = any(full(p) for p in stream["by_pace"])
    rows.append(("1,000 concurrent streams under 60 MB RSS", f"{rss} MiB" if rss and big else None,
                 rss * 1.048576 < 60 if rss and big else None))
    return [{"target": t, "measured": m, "met": ok} for t, m, ok in rows]


pair = paired.compare(raw, "nginx", "switchyard")
# Each proxy's added latency from the same slices: the proxy's percentile minus direct's in
# the same triple of back-to-back slices.
added_pair = {proxy: paired.compare(raw, "direct", proxy) for proxy in ("switchyard", "nginx")}
# The slices' rate, from the reports themselves (smoke runs use a low one).
pair["rate"] = next((round(json.load(open(f))["summary"]["requestsPerSec"], -2)
                     for f in sorted(glob.glob(f"{raw}/pair-*-nginx.json"))), None)
targets = target_rows()
result = {"fixed_rate": fixed, "added_over_direct": added, "saturation": sat, "saturation_steps": sat_steps,
          "saturation_capped": capped, "streaming": stream,
          "gateway_internal_overhead": overhead, "paired": pair, "paired_added_over_direct": added_pair,
          "targets": targets}
json.dump(result, open(f"{out}/results.json", "w"), indent=2)

md = ["# Load test results", "", "`loadtest/run.sh`; gateway and nginx pinned to CPU 0, mock and load generators to CPU 1.", "",
      "## Targets, judged from this run", "", "| target | measured | met |", "|---|---|---|"]
for t in targets:
    met = {None: "not measured", "noise": "not resolvable here", "parity": "parity (the interval includes 0)",
           "undecided": "undecided (the interval includes the limit)",
           True: "yes", False: "**no**"}[t["met"]]
    md.append(f"| {t['target']} | {t['measured'] or '—'} | {met} |")
md += ["",
      "## Fixed rate (open loop), latency in µs", "",
      "Medians over rounds (worst round's error share).", "",
      "| body | rate | target | p50 | p90 | p99 | p99.9 | achieved rps | errors |", "|---|---|---|---|---|---|---|---|---|"]
for f in fixed:
    md.append(f"| {f['body']} | {f['rate']} | {f['target']} | {f['p50_us']} | {f['p90_us']} | {f['p99_us']} | {f['p999_us']} | {f['rps']} | {f['error_share']:.2%} |")
md += ["", "## Added over direct, µs (median over rounds; p50 and p99 with the range of the rounds)", "",
       "| body | rate | proxy | rounds | p50 | p90 | p99 | p99.9 |", "|---|---|---|---|---|---|---|---|"]
rng = lambda a, k: f"{a[f'added_{k}']} ({a[f'added_{k}_range'][0]} to {a[f'added_{k}_range'][1]})" if len(a["rounds"]) > 1 else a[f"added_{k}"]
for a in added:
    md.append(f"| {a['body']} | {a['rate']} | {a['proxy']} | {len(a['rounds'])} | {rng(a, 'p50_us')} | {a['added_p90_us']} | {rng(a, 'p99_us')} | {a['added_p999_us']} |")
md += ["", f"## Paired slices: switchyard − nginx, {pair['rate']:.0f} req/s, 1 KB ({pair['pairs']} pairs, ABBA order, "
       f"{pair['blocks']} blocks of fresh processes)", "",
       "Each pair: two back-to-back slices, one per proxy; the difference of their percentiles. Both proxies are "
       "started afresh for each block. Median of the differences, 95 % interval from resampling whole blocks "
       "(`loadtest/paired.py`).", "",
       "| percentile | median difference (µs) | 95 % interval (µs) | block medians (µs) |", "|---|---|---|---|"]
for q in paired.QUANTILES:
    v = pair[q]
    md.append(f"| {q} | {v['median_diff_us']:+} | {v['ci95_us'][0]:+} to {v['ci95_us'][1]:+} | "
              f"{' '.join(f'{x:+}' for x in v['block_medians_us'])} |" if v else f"| {q} | — | — | — |")
if any(added_pair[x]["pairs"] for x in added_pair):
    md += ["", "Each proxy's added latency from the same slices (its percentile minus direct's in the same triple "
           "of back-to-back slices; median over triples, 95 % block-bootstrap interval):", "",
           "| proxy | percentile | added, median (µs) | 95 % interval (µs) |", "|---|---|---|---|"]
    for proxy in ("switchyard", "nginx"):
        for q in paired.QUANTILES:
            v = added_pair[proxy][q]
            if v:
                md.append(f"| {proxy} | {q} | {v['median_diff_us']:+} | {v['ci95_us'][0]:+} to {v['ci95_us'][1]:+} |")
md += ["", "## Saturation (1 KB, highest fixed rate with < 1 % errors and ≥ 95 % achieved)", "",
       "| target | max rps | ratio to direct |", "|---|---|---|"]
for t, v in sorted(sat.items()):
    md.append(f"| {t} | {v['max_rps']} | {v['ratio_to_direct']} |")
if "core_percent" in capped:
    md += ["", f"Direct's ceiling is the load generator's and the mock's shared core, so every arm stops near it. "
           f"Proxy-bound, each proxy in a cgroup holding it to {capped['core_percent']} % of a core (same steps, arms "
           "alternated):", "", "| proxy | max rps | most achieved rps | steps (offered: achieved) |", "|---|---|---|---|"]
    for t in ("nginx", "switchyard"):
        a = capped.get(t)
        if a:
            steps = ", ".join(f"{x['rate']}: {x['rps']:.0f}" for x in a["steps"])
            md.append(f"| {t} | {a['max_rps']} | {a['peak_achieved_rps']} | {steps} |")
elif capped.get("skipped"):
    md += ["", f"Proxy-bound saturation: {capped['skipped']}."]
md += ["", "## Streaming: concurrent streams timed per event (sseload), µs, median over rounds", "",
       "Added = the proxy's figure minus direct's in the same round. Trip: the mock's send stamp to receipt. "
       "Gap excess: an event's gap minus the gap between its send stamps (the part of the gap the path added).", "",
       "| pace | proxy | rounds | streams | errors | TTFT p50 | added TTFT p50 / p99 | gap p50 / p99 (direct's) | added gap p50 / p99 "
       "| trip p50 / p99 (direct's) | added trip p50 / p99 | gap excess p99 (direct's) | added gap excess p99 (rounds) |",
       "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for p in stream["by_pace"]:
    for name in ("switchyard", "nginx"):
        a = p[name]
        if a.get("rounds"):
            md.append(f"| {p['pace_ms']} ms | {name} | {a['rounds']} | {a['streams']} | {a['errors']} | {a['ttft_p50_us']} | "
                      f"{a['added_ttft_p50_us']} / {a['added_ttft_p99_us']} | {a['gap_p50_us']} / {a['gap_p99_us']} "
                      f"({a['direct_gap_p50_us']} / {a['direct_gap_p99_us']}) | {a['added_gap_p50_us']} / {a['added_gap_p99_us']} | "
                      f"{a['delay_p50_us']} / {a['delay_p99_us']} ({a['direct_delay_p50_us']} / {a['direct_delay_p99_us']}) | "
                      f"{a['added_delay_p50_us']} / {a['added_delay_p99_us']} | {a['gap_excess_p99_us']} ({a['direct_gap_excess_p99_us']}) | "
                      f"{a['added_gap_excess_p99_us']} ({', '.join(str(x) for x in a['added_gap_excess_p99_us_rounds'])}) |")
md += ["", f"Gateway peak RSS: {stream.get('gateway_peak_rss_mib')} MiB"]
rt = stream.get("gateway_relay_time")
if rt:
    md += ["", f"Gateway's own time per relayed piece of a stream (upstream bytes read → client write issued; "
           f"`switchyard_stream_relay_quantile_seconds`, bucket upper bounds, {rt.get('pieces')} pieces over every "
           f"streaming round): p50 {rt.get('p50_us')} µs, p90 {rt.get('p90_us')} µs, p99 {rt.get('p99_us')} µs, "
           f"p99.9 {rt.get('p999_us')} µs. The rest of the gap excess is the kernel's and the VM's (wake-ups, sends)."]
md += ["", "## Gateway's own time per request, µs (`switchyard_overhead_seconds`, bucket upper bounds, all rounds)", "",
       "| run | requests | p50 | p90 | p99 | p99.9 |", "|---|---|---|---|---|---|"]
for k, v in overhead.items():
    md.append(f"| {k} | {v['requests']} | {v['p50_us']} | {v['p90_us']} | {v['p99_us']} | {v['p99.9_us']} |")
open(f"{out}/results.md", "w").write("\n".join(md) + "\n")

# Grouped bars: added p50 and p99 per scenario, nginx vs switchyard.
scen = sorted({(a["body"], a["rate"]) for a in added}, key=lambda k: (k[0] != "1k", k[1]))
proxies = [p for p in ("nginx", "switchyard", "litellm") if any(a["proxy"] == p for a in added)]
vals = [a[k] for a in added for k in ("added_p50_us", "added_p99_us")] or [1]
top = max(max(vals), 1) * 1.15
W, H, left, bottom = 900, 420, 70, 60
plot_w, plot_h = W - left - 20, H - bottom - 50
colors = {"nginx": "#4c72b0", "switchyard": "#dd8452", "litellm": "#55a868"}
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<text x="{W/2}" y="20" text-anchor="middle" font-size="15">Latency added over direct (µs): p50 solid, p99 light</text>']
for i in range(5):
    y = bottom - 10 + plot_h - plot_h * i / 4
    svg.append(f'<line x1="{left}" x2="{W-20}" y1="{y}" y2="{y}" stroke="#ddd"/>')
    svg.append(f'<text x="{left-6}" y="{y+4}" text-anchor="end">{top*i/4:.0f}</text>')
group_w = plot_w / max(len(scen), 1)
bar_w = group_w / (2 * max(len(proxies), 1) + 1)
for gi, (b, r) in enumerate(scen):
    x0 = left + gi * group_w + bar_w / 2
    for pi, p in enumerate(proxies):
        a = next((a for a in added if a["proxy"] == p and a["body"] == b and a["rate"] == r), None)
        if not a:
            continue
        for k, (key, op) in enumerate((("added_p50_us", 1.0), ("added_p99_us", 0.45))):
            v = max(a[key], 0)
            h = plot_h * v / top
            x = x0 + (pi * 2 + k) * bar_w
            y = bottom - 10 + plot_h - h
            svg.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w*0.9:.1f}" height="{h:.1f}" fill="{colors[p]}" fill-opacity="{op}"/>')
            svg.append(f'<text x="{x+bar_w*0.45:.1f}" y="{y-3:.1f}" text-anchor="middle" font-size="10">{a[key]:.0f}</text>')
    svg.append(f'<text x="{left + gi*group_w + group_w/2:.1f}" y="{H-25}" text-anchor="middle">{b} body, {r} rps</text>')
for pi, p in enumerate(proxies):
    svg.append(f'<rect x="{left + pi*130}" y="{H-15}" width="12" height="12" fill="{colors[p]}"/>')
    svg.append(f'<text x="{left + pi*130 + 16}" y="{H-5}">{p}</text>')
svg.append("</svg>")
open(f"{out}/latency.svg", "w").write("\n".join(svg))
print(open(f"{out}/results.md").read())
