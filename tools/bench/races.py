#!/usr/bin/env python3
"""Schedule exploration figures for the race scenarios (scenarios/races/).

Usage: tools/bench/races.py [--seeds N] [--fixed-schedules N] [--exhaustive-limit N]
                            [--only NAME[,NAME]] [--skip-exhaustive]

For each race program it prints:

* buggy: over seeds 1..N, the schedule (iteration of one ``mmactors run``
  of the buggy scenario, its own model and strategy) at which the race was
  found: min / median / max, and how many seeds found it within 1,000;
  then the same as a fuzzer sees it (one schedule a run, ``pct:3:K``): the
  number of runs until the first failure;
* fixed: one run of the fixed scenario over ``--fixed-schedules`` schedules
  (default 10,000) and whether it stayed clean, and the wall time;
* exhaustive (sc, one iteration): the number of schedules of a complete
  stateless search of the fixed variant (with sleep sets), and any failure.

A benchmark, not a test: it reports, it never fails on time.  Exit status 1
if a buggy variant was not found within 1,000 schedules for some seed or a
fixed variant failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mmactors import Machine, load_scenario  # noqa: E402
from mmactors.testing import every_schedule  # noqa: E402
from mmactors.workloads.racy import PROGRAMS  # noqa: E402

RACES = ROOT / "scenarios" / "races"


def run(path, overrides=(), strategy=None, seed=None):
    scn = load_scenario(path, list(overrides))
    return Machine(scn, seed=seed, strategy=strategy, trace=False).run()


def buggy_figures(name, seeds):
    found = []
    t0 = time.perf_counter()
    for seed in range(1, seeds + 1):
        res = run(RACES / f"{name}-buggy.toml", seed=seed)
        wl = res.machine.workloads[0]
        found.append(wl.barrier.iteration if res.error is not None else None)
    wall = time.perf_counter() - t0
    hits = [f for f in found if f is not None]
    fuzz = []
    for seed in range(1, seeds + 1):
        for i in range(1000):
            res = run(RACES / f"{name}-buggy.toml", [("workload.0.iterations", 1)],
                      strategy="pct:3:40", seed=seed * 1000 + i)
            if res.error is not None:
                fuzz.append(i + 1)
                break
        else:
            fuzz.append(None)
    return found, hits, wall, fuzz


def fixed_figures(name, n):
    t0 = time.perf_counter()
    res = run(RACES / f"{name}-fixed.toml", [("workload.0.iterations", n)])
    wall = time.perf_counter() - t0
    return res, wall


def exhaustive_figures(name, limit):
    scn = load_scenario(RACES / f"{name}-fixed.toml",
                        [("workload.0.iterations", 1), ("workload.0.model", "sc"),
                         ("workload.0.jitter_ns", 0)])

    t0 = time.perf_counter()
    st, results = every_schedule(scn, limit=limit)
    bad = [r.error for r in results if r.error is not None]
    return st, bad, time.perf_counter() - t0


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--fixed-schedules", type=int, default=10_000)
    ap.add_argument("--exhaustive-limit", type=int, default=20_000)
    ap.add_argument("--only", default=None)
    ap.add_argument("--skip-exhaustive", action="store_true")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else sorted(PROGRAMS)
    status = 0
    for name in names:
        prog = PROGRAMS[name]
        print(f"== {name}: {prog.fix}")
        found, hits, wall, fuzz = buggy_figures(name, args.seeds)
        if hits:
            print(f"  buggy ({prog.model}): found in {len(hits)}/{args.seeds} seeds within 1000 "
                  f"schedules; schedule min {min(hits)}, median {statistics.median(hits):g}, "
                  f"max {max(hits)}  ({wall:.1f} s)")
        else:
            print(f"  buggy ({prog.model}): NOT FOUND in {args.seeds} seeds")
        if len(hits) < args.seeds:
            status = 1
        fz = [f for f in fuzz if f is not None]
        if fz:
            print(f"  buggy, one schedule a run (pct:3:40): runs to find: min {min(fz)}, "
                  f"median {statistics.median(fz):g}, max {max(fz)} "
                  f"({len(fz)}/{args.seeds} within 1000)")
        res, wall = fixed_figures(name, args.fixed_schedules)
        clean = res.machine.workloads[0].clean
        verdict = "clean" if res.error is None else "FAILED: " + res.error.message
        print(f"  fixed ({prog.model}): {clean} of {args.fixed_schedules} schedules {verdict} "
              f"({wall:.1f} s)")
        if res.error is not None:
            status = 1
        if not args.skip_exhaustive:
            st, bad, wall = exhaustive_figures(name, args.exhaustive_limit)
            how = "complete" if st.complete else f"cut at {args.exhaustive_limit}"
            print(f"  fixed, exhaustive (sc, 1 iteration): {st.runs} schedules ({how}), "
                  f"{len(bad)} failures ({wall:.1f} s)")
            if bad:
                status = 1
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
