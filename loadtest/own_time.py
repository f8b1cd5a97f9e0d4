#!/usr/bin/env python3
"""Own time (switchyard_overhead_seconds) of each gateway arm over the measured slices of a
paired run: the histogram deltas between the scrapes around each block, summed over blocks, and
the same per block (its spread is the run-to-run range).

    python3 loadtest/own_time.py DIR ARM...
"""
import glob
import re
import sys


def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'switchyard_overhead_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m:
            out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return out


def quantiles(delta):
    d = sorted(delta.items())
    n = d[-1][1] if d else 0
    q = lambda p: next((le * 1e6 for le, c in d if c >= p * n), float("nan"))
    return n, q(0.5), q(0.99)


def main():
    out, arms = sys.argv[1], sys.argv[2:]
    for arm in arms:
        total, per_block = {}, []
        for before in sorted(glob.glob(f"{out}/owntime-before-blk*-{arm}.txt")):
            after = before.replace("owntime-before", "owntime-after")
            try:
                b, a = buckets(before), buckets(after)
            except OSError:
                continue
            delta = {le: a[le] - b.get(le, 0) for le in a}
            for le, c in delta.items():
                total[le] = total.get(le, 0) + c
            per_block.append(quantiles(delta))
        if not per_block:
            print(f"{arm}: no own-time scrapes")
            continue
        n, p50, p99 = quantiles(total)
        blocks = ", ".join(f"{b[2]:.0f}" for b in per_block)
        print(f"{arm}: own time over {n} requests: p50 {p50:.1f} µs, p99 {p99:.1f} µs; p99 per block: {blocks} µs")


if __name__ == "__main__":
    main()
