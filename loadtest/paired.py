#!/usr/bin/env python3
"""Paired comparison of two arms measured in short alternating slices (ABBA order).

Round-to-round noise on a small VM (±50 µs in a proxy's p50 between 10-second rounds) hides
differences of a few µs; the noise drifts slowly, so slices of 2 s that alternate between the
arms see nearly the same machine state. Each pair gives one difference (B − A) per percentile;
the median of the differences and its bootstrap 95 % interval say how far apart the arms are.

A process's memory placement also shifts its latency for its whole life (by several µs here),
which pairing within one pair of processes cannot see. So the harness starts both arms afresh
for each block of pairs (DIR/pair-blocks.txt: "pair block" lines), and the bootstrap resamples
whole blocks: the interval then includes the process-to-process spread. Without that file each
pair is its own block.

    paired.py DIR A B        reads DIR/pair-N-A.json and DIR/pair-N-B.json (oha JSON reports)
"""

import glob
import json
import random
import re
import statistics
import sys

QUANTILES = ("p50", "p90", "p99")


def percentile_us(path, q):
    """One latency percentile (µs) of an oha report, or None if the slice failed."""
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        return None
    v = d.get("latencyPercentiles", {}).get(q)
    ok = d.get("summary", {}).get("successRate") or 0
    return v * 1e6 if v is not None and ok >= 0.99 else None


def blocks_of(raw, pairs):
    """Block of each pair, from DIR/pair-blocks.txt (each pair its own block without it)."""
    try:
        m = dict(tuple(map(int, line.split())) for line in open(f"{raw}/pair-blocks.txt") if line.strip())
    except OSError:
        m = {}
    return {n: m.get(n, -n) for n in pairs}


def compare(raw, a, b, seed=5):
    """Median paired difference (B − A) per percentile with a block-bootstrap 95 % interval."""
    pairs = sorted({int(m.group(1)) for p in glob.glob(f"{raw}/pair-*-{a}.json")
                    if (m := re.match(r".*/pair-(\d+)-", p))})
    block = blocks_of(raw, pairs)
    rng = random.Random(seed)  # a fixed seed: the same raw files give the same report
    result = {"a": a, "b": b, "pairs": 0, "blocks": len(set(block.values()))}
    for q in QUANTILES:
        by_block = {}
        for n in pairs:
            x, y = percentile_us(f"{raw}/pair-{n}-{a}.json", q), percentile_us(f"{raw}/pair-{n}-{b}.json", q)
            if x is not None and y is not None:
                by_block.setdefault(block[n], []).append(y - x)
        d = [v for vs in by_block.values() for v in vs]
        result["pairs"] = max(result["pairs"], len(d))
        if not d:
            result[q] = None
            continue
        groups = list(by_block.values())
        boots = sorted(statistics.median([v for g in rng.choices(groups, k=len(groups)) for v in g])
                       for _ in range(2000))
        result[q] = {"median_diff_us": round(statistics.median(d), 1), "ci95_us": [round(boots[50], 1), round(boots[1949], 1)],
                     "block_medians_us": [round(statistics.median(g), 1) for g in groups]}
    return result


def verdict(diff, limit=0):
    """True: B − A under `limit` (the whole interval at or below it); False: over it (all above);
    'parity' (limit 0) or 'undecided': the interval holds it."""
    if not diff:
        return None
    lo, hi = diff["ci95_us"]
    if hi <= limit:
        return True
    if lo > limit:
        return False
    return "parity" if limit == 0 else "undecided"


if __name__ == "__main__":
    r = compare(*sys.argv[1:4])
    for q in QUANTILES:
        v = r[q]
        if v:
            print(f"{q}: {r['b']} − {r['a']} median {v['median_diff_us']:+.1f} µs, 95% CI "
                  f"[{v['ci95_us'][0]:+.1f}, {v['ci95_us'][1]:+.1f}], {r['pairs']} pairs in {r['blocks']} blocks; "
                  f"block medians {' '.join(f'{x:+.1f}' for x in v['block_medians_us'])}")
        else:
            print(f"{q}: no pairs")
