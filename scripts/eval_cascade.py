#!/usr/bin/env python3
"""Offline evaluation of a two-tier cascade (weak first, escalate to strong when a check fails)
on the labelled routing data (data/routing: RouteLLM's MMLU and GSM8K labels).

The data say whether each model answered correctly, not what it answered, so a concrete check
(regex, JSON shape, judge) cannot be replayed. What can be computed exactly is how a cascade
performs for a check of given quality:

  TPR = share of the weak model's wrong answers the check catches (they escalate),
  FPR = share of its right answers the check wrongly escalates.

For n prompts, W = weak correct, S = strong correct:
  escalated share  e = TPR * |not W| / n + FPR * |W| / n
  quality          q = (|W| (1 - FPR) + FPR |W and S| + TPR |not W and S|) / n
  PGR              = (q - q_weak) / (q_strong - q_weak)      (share of the quality gap recovered)
  cost vs strong   = r + e   (every prompt pays the weak call, escalated ones the strong call too;
                              r = weak/strong price ratio, prompt tokens paid twice when escalating)

A router with no check sends a share c to the strong model; at random PGR(c) = c, and the
best published routers need c ~ 0.34-0.45 to reach PGR 0.5 on these benchmarks (README table).

Usage: scripts/eval_cascade.py [DATA_DIR] [--ratio R]   (default data/routing, R = 0.024:
Mixtral-8x7B at $0.24/M blended vs GPT-4-1106 at $10/M input)
"""

import json
import os
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(items, tpr, fpr, ratio):
    n = len(items)
    w = sum(1 for x in items if x["weak_correct"])
    s = sum(1 for x in items if x["strong_correct"])
    ws = sum(1 for x in items if x["weak_correct"] and x["strong_correct"])
    nws = sum(1 for x in items if not x["weak_correct"] and x["strong_correct"])
    q_weak, q_strong = w / n, s / n
    e = (tpr * (n - w) + fpr * w) / n
    q = (w * (1 - fpr) + fpr * ws + tpr * nws) / n
    pgr = (q - q_weak) / (q_strong - q_weak)
    return {"escalated": e, "quality": q, "pgr": pgr, "cost": ratio + e, "q_weak": q_weak, "q_strong": q_strong}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ratio = 0.024
    if "--ratio" in sys.argv:
        ratio = float(sys.argv[sys.argv.index("--ratio") + 1])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = args[0] if args else os.path.join(root, "data", "routing")
    checks = [(1.0, 0.0, "oracle"), (0.9, 0.1, "good"), (0.7, 0.2, "fair"), (0.5, 0.3, "weak"), (0.3, 0.3, "random-ish")]
    print(f"weak/strong price ratio r = {ratio}")
    for bench in ["mmlu", "gsm8k"]:
        items = load(os.path.join(data, f"{bench}.jsonl"))
        base = evaluate(items, 0, 0, ratio)
        print(f"\n{bench}: {len(items)} prompts, weak {base['q_weak']:.3f}, strong {base['q_strong']:.3f}")
        print("| check | TPR | FPR | escalated | quality | PGR | cost vs all-strong | PGR of random routing at that share |")
        print("|---|---|---|---|---|---|---|---|")
        for tpr, fpr, name in checks:
            r = evaluate(items, tpr, fpr, ratio)
            print(f"| {name} | {tpr:.1f} | {fpr:.1f} | {r['escalated']:.3f} | {r['quality']:.3f} | {r['pgr']:.3f} "
                  f"| {r['cost']:.3f} | {r['escalated']:.3f} |")


if __name__ == "__main__":
    main()
