"""paired.py: the interval comes from whole blocks of processes when the harness says which."""

import json
import os
import tempfile
import unittest

import paired


def write_pairs(d, diffs, blocks=None):
    """One oha-like report per arm and pair: A at 100 µs, B at 100 µs + the pair's difference."""
    for n, diff in enumerate(diffs, 1):
        for arm, us in (("a", 100.0), ("b", 100.0 + diff)):
            rep = {"summary": {"successRate": 1.0}, "latencyPercentiles": {q: us / 1e6 for q in paired.QUANTILES}}
            json.dump(rep, open(os.path.join(d, f"pair-{n}-{arm}.json"), "w"))
    if blocks:
        with open(os.path.join(d, "pair-blocks.txt"), "w") as f:
            f.writelines(f"{n} {b}\n" for n, b in enumerate(blocks, 1))


class Paired(unittest.TestCase):
    # Two blocks of processes that disagree (+10 and -10 µs), each tight inside.
    DIFFS = [10.0, 10.2, 9.8, 10.1, 9.9, -10.0, -10.2, -9.8, -10.1, -9.9]

    def test_blocks_widen_the_interval(self):
        with tempfile.TemporaryDirectory() as d:
            write_pairs(d, self.DIFFS, blocks=[1] * 5 + [2] * 5)
            r = paired.compare(d, "a", "b")
        self.assertEqual((r["pairs"], r["blocks"]), (10, 2))
        lo, hi = r["p50"]["ci95_us"]
        self.assertLessEqual(lo, -9.8)
        self.assertGreaterEqual(hi, 9.8)
        self.assertEqual(paired.verdict(r["p50"]), "parity")
        self.assertEqual(sorted(r["p50"]["block_medians_us"]), [-10.0, 10.0])

    def test_without_blocks_each_pair_is_one(self):
        with tempfile.TemporaryDirectory() as d:
            write_pairs(d, [5.0 + 0.1 * i for i in range(10)])
            r = paired.compare(d, "a", "b")
        self.assertEqual(r["blocks"], 10)
        self.assertIs(paired.verdict(r["p50"]), False)
        self.assertGreater(r["p50"]["ci95_us"][0], 5.0)

    def test_verdict_against_a_limit(self):
        # Added p99 over direct against the 100 µs target: under, over, and an interval holding it.
        with tempfile.TemporaryDirectory() as d:
            write_pairs(d, [60.0 + i for i in range(10)])
            self.assertIs(paired.verdict(paired.compare(d, "a", "b")["p99"], limit=100), True)
        with tempfile.TemporaryDirectory() as d:
            write_pairs(d, [140.0 + i for i in range(10)])
            self.assertIs(paired.verdict(paired.compare(d, "a", "b")["p99"], limit=100), False)
        with tempfile.TemporaryDirectory() as d:
            write_pairs(d, [60.0 + i for i in range(5)] + [140.0 + i for i in range(5)], blocks=[1] * 5 + [2] * 5)
            self.assertEqual(paired.verdict(paired.compare(d, "a", "b")["p99"], limit=100), "undecided")


if __name__ == "__main__":
    unittest.main()
