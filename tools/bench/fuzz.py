#!/usr/bin/env python3
"""Benchmark the fuzz loop: runs per second at --jobs 1 and --jobs 2.

Usage: tools/bench/fuzz.py [--runs N] [--strategy S] [--cpus C] [--steps K] [--no-lockdep]
                           [--scenario FILE] [--repeat R]

The default workload is "small runs": C CPUs (default 3) each running a
lock-sequence program of about K steps (default 100) over three locks of
different kinds, correctly ordered, so no run fails and every run counts;
lockdep is on, as ``mmactors fuzz`` runs it.  Prints runs/s at jobs 1 and 2
(best of R), runs per CPU-second (the work the processes did, whatever else
the host runs) and the ratio.  A benchmark, not a test: it never fails on time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors.explore import fuzz  # noqa: E402


def small_scenario(cpus: int, steps: int) -> str:
    section = ["lock M", "read_lock R", "lock S", "delay 100", "unlock S", "read_unlock R",
               "unlock M", "delay 200"]
    repeat = max(1, steps // len(section))
    out = ['name = "bench-fuzz"', f"[machine]\ncpus = {cpus}"]
    for name, kind in (("M", "mutex"), ("R", "rwsem"), ("S", "spinlock")):
        out.append(f'[[lock]]\nname = "{name}"\nkind = "{kind}"\nclass = "&bench_{name}"')
    body = ", ".join(f'"{s}"' for s in section)
    cpus_list = ", ".join(str(c) for c in range(cpus))
    out.append(f'[[workload]]\nkind = "lock-sequence"\ncpus = [{cpus_list}]\n'
               f"steps = [{body}]\nrepeat = {repeat}")
    out.append("[run]\nduration_ns = 100_000_000\nseed = 1")
    return "\n\n".join(out) + "\n"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers)."""
    import resource
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=600)
    ap.add_argument("--strategy", default="pct:3")
    ap.add_argument("--cpus", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scenario", help="benchmark this scenario instead")
    ap.add_argument("--no-lockdep", dest="lockdep", action="store_false")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    tmp = None
    path = args.scenario
    if path is None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        tmp.write(small_scenario(args.cpus, args.steps))
        tmp.close()
        path = tmp.name
    try:
        rates = {}
        for jobs in (1, 2):
            best = 0.0
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                c0 = _cpu()
                res = fuzz(path, strategy=args.strategy, runs=args.runs, jobs=jobs,
                           lockdep=args.lockdep)
                wall = time.perf_counter() - t0
                cpu = _cpu() - c0
                if res.failure is not None:
                    print(f"bench: run {res.failure.index} failed ({res.failure.kind}); "
                          "the benchmark needs a clean scenario", file=sys.stderr)
                    return 2
                best = max(best, res.executed / wall)
            rates[jobs] = best
            print(f"jobs {jobs}: {res.executed} runs, {best:8.1f} runs/s, "
                  f"{res.executed / cpu:8.1f} runs per CPU-second  "
                  f"(strategy {res.strategy}, lockdep {'on' if args.lockdep else 'off'})")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"ratio jobs 2 / jobs 1: {rates[2] / rates[1]:.2f}  "
              f"(host cpus available: {len(os.sched_getaffinity(0))}, load average {load:.2f})")
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
