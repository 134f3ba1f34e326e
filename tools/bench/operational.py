#!/usr/bin/env python3
"""Operational models vs the axiomatic checker on the kernel's litmus tests.

Usage: tools/bench/operational.py [--shared DIR] [--models sc,tso] [--limit N]
                                  [--lkmm-schedules N]

For sc and tso, an exhaustive search of the engine's schedules (stateless
DFS with sleep sets) per test: schedules run, schedules pruned, time, and
whether exactly the allowed states were reached.  For lkmm (sound, not
complete), N random/PCT schedules per test: states reached of allowed.
Exit status 1 if a forbidden state is reached or a finished exhaustive
search misses an allowed state.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors.memmodel import parse_litmus  # noqa: E402
from mmactors.memmodel.paths import expected_rows, litmus_dir  # noqa: E402
from mmactors.memmodel.runner import explore_litmus  # noqa: E402


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--models", default="sc,tso")
    ap.add_argument("--limit", type=int, default=200_000)
    ap.add_argument("--lkmm-schedules", type=int, default=1000)
    args = ap.parse_args(argv)
    if not (litmus_dir(args.shared) / "EXPECTED.tsv").is_file():
        print(f"bench: no EXPECTED.tsv under {litmus_dir(args.shared)}", file=sys.stderr)
        return 2
    rows = expected_rows(args.shared)
    width = max(len(r[0]) for r in rows)
    status = 0
    models = [m for m in args.models.split(",") if m] + ["lkmm"]
    totals = {m: 0.0 for m in models}
    for name, _, path, _ in rows:
        test = parse_litmus(path)
        for m in models:
            t0 = time.perf_counter()
            if m == "lkmm":
                ex = explore_litmus(test, m, schedules=args.lkmm_schedules)
            else:
                ex = explore_litmus(test, m, exhaustive=True, limit=args.limit)
            dt = time.perf_counter() - t0
            totals[m] += dt
            ok = ex.sound and (m == "lkmm" or not ex.exhaustive or ex.complete)
            status |= not ok
            print(f"{name:<{width}}  {m:<4} {dt:7.2f} s  {ex.summary()}"
                  f"{'' if ok else '  <-- MISMATCH'}")
            sys.stdout.flush()
    print("total: " + ", ".join(f"{m} {t:.1f} s" for m, t in totals.items()))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
