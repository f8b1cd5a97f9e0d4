"""The gateway's own-time histogram (switchyard_overhead_seconds) in Prometheus scrapes: the
buckets of one scrape, and the quantiles of the requests between pairs of scrapes. Shared by
report.py (loadtest/run.sh) and own_time.py (loadtest/ab.sh)."""

import re


def buckets(path):
    """{upper bound in s: cumulative count} of one scrape."""
    out = {}
    for line in open(path):
        m = re.match(r'switchyard_overhead_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m:
            out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return out


def delta_quantiles(pairs):
    """Quantiles (bucket upper bounds, µs) of the requests between pairs of (before, after)
    scrapes; a pair whose files are missing is skipped."""
    delta = {}
    for before, after in pairs:
        try:
            b, a = buckets(before), buckets(after)
        except OSError:
            continue
        for le in a:
            delta[le] = delta.get(le, 0) + a[le] - b.get(le, 0)
    d = sorted(delta.items())
    n = d[-1][1] if d else 0
    q = {"requests": n}
    for name, p in (("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p99.9_us", 0.999)):
        q[name] = next((round(le * 1e6, 1) if le != float("inf") else None for le, c in d if c >= p * n), None)
    return q
