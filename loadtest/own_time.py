#!/usr/bin/env python3
"""Own time (switchyard_overhead_seconds) of each gateway arm over the measured slices of a
paired run: the histogram deltas between the scrapes around each block, summed over blocks, and
the same per block (its spread is the run-to-run range).

    python3 loadtest/own_time.py DIR ARM...
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from histogram import delta_quantiles  # noqa: E402


def main():
    out, arms = sys.argv[1], sys.argv[2:]
    for arm in arms:
        pairs = [(before, before.replace("owntime-before", "owntime-after"))
                 for before in sorted(glob.glob(f"{out}/owntime-before-blk*-{arm}.txt"))]
        per_block = [q for q in (delta_quantiles([p]) for p in pairs) if q["requests"]]
        if not per_block:
            print(f"{arm}: no own-time scrapes")
            continue
        total = delta_quantiles(pairs)
        blocks = ", ".join(f"{q['p99_us']:.0f}" if q["p99_us"] is not None else "+Inf" for q in per_block)
        print(f"{arm}: own time over {total['requests']} requests: p50 {total['p50_us']:.1f} µs, "
              f"p99 {total['p99_us']:.1f} µs; p99 per block: {blocks} µs")


if __name__ == "__main__":
    main()
