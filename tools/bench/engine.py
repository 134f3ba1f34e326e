#!/usr/bin/env python3
"""Engine speed: simulated lock acquisitions per wall-clock second in
lock-scaling at 64 CPUs (ticket and qspinlock), beside the rate of a bare trio
checkpoint loop measured in the same run, as a ratio (goal: >= 0.25).

    python tools/bench/engine.py [--duration NS] [--repeat N]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import trio  # noqa: E402

from mmactors import Machine, parse_scenario  # noqa: E402
from mmactors.sweep import lock_loop_scenario  # noqa: E402


def checkpoint_rate(n=200_000):
    async def loop():
        for _ in range(n):
            await trio.lowlevel.checkpoint()
    t = time.perf_counter()
    trio.run(loop)
    return n / (time.perf_counter() - t)


def acquisition_rate(lock, cpus, duration):
    m = Machine(parse_scenario(lock_loop_scenario(lock, cpus, duration_ns=duration)), trace=False)
    t = time.perf_counter()
    res = m.run()
    dt = time.perf_counter() - t
    return res.ops / dt, res.ops, res.switches / max(res.ops, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=40_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N")
    a = ap.parse_args()
    base = max(checkpoint_rate() for _ in range(a.repeat))
    print(f"bare trio checkpoint loop: {base:,.0f} checkpoints/s")
    for lock in ("ticket", "qspinlock"):
        best = max((acquisition_rate(lock, 64, a.duration) for _ in range(a.repeat)),
                   key=lambda r: r[0])
        rate, ops, sw = best
        print(f"{lock:>10} @ 64 CPUs: {rate:,.0f} acquisitions/s ({ops:,} acquisitions, "
              f"{sw:.2f} task switches each)  ratio {rate / base:.3f}")


if __name__ == "__main__":
    main()
