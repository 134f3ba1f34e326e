#!/usr/bin/env python3
"""Benchmark the litmus checker on the kernel tests listed in EXPECTED.tsv.

Usage: tools/bench/litmus.py [--shared DIR] [--model lkmm|tso|sc] [--repeat N]
Prints the time of each test (best of N runs), the slowest and the total.
A benchmark, not a test: it never fails on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors.memmodel import check, parse_litmus  # noqa: E402
from mmactors.memmodel.paths import expected_rows, litmus_dir  # noqa: E402


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--model", default="lkmm", choices=["lkmm", "tso", "sc"])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    if not (litmus_dir(args.shared) / "EXPECTED.tsv").is_file():
        print(f"bench: no EXPECTED.tsv under {litmus_dir(args.shared)}", file=sys.stderr)
        return 2
    rows = expected_rows(args.shared)
    width = max(len(r[0]) for r in rows)
    total = 0.0
    slowest = ("", 0.0)
    for name, _, path, _ in rows:
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            check(parse_litmus(path), args.model)
            best = min(best, time.perf_counter() - t0)
        total += best
        if best > slowest[1]:
            slowest = (name, best)
        print(f"{name:<{width}}  {best * 1000:9.1f} ms")
    print(f"max   {slowest[0]} {slowest[1] * 1000:.1f} ms")
    print(f"total {len(rows)} tests {total:.3f} s ({args.model})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
