#!/usr/bin/env python3
"""Fault-path speed: simulated page faults per wall-clock second in
will-it-scale page_fault1, threads mode, at 64 CPUs (goal: >= 20,000), beside
the rate of a bare trio checkpoint loop measured in the same run.

    python tools/bench/faults.py [--cpus 64] [--duration NS] [--mode threads] [--repeat 3]

The default window (5 ms of virtual time, ~24,000 faults) is long enough that
the start, where the 64 threads' first mmaps serialise on mmap_lock, weighs
little.  Each figure is the best of ``--repeat`` runs (the least disturbed by
other load on the host, as timeit reports); runs are deterministic, so only
the wall time varies.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors import Machine, parse_scenario  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import checkpoint_rate  # noqa: E402


def fault_rate(cpus, duration, mode, test="page_fault1", region_mib=4):
    text = f"""
[machine]
cpus = {cpus}
memory_mib = {max(2048, cpus * region_mib * 3 + 512)}
[[workload]]
kind = "will-it-scale"
test = "{test}"
mode = "{mode}"
region_mib = {region_mib}
[run]
duration_ns = {duration}
"""
    m = Machine(parse_scenario(text), trace=False)
    t = time.perf_counter()
    res = m.run()
    dt = time.perf_counter() - t
    faults = res.extra["mm"]["faults"]
    return faults / dt, faults, dt, res.switches / max(faults, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--duration", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mode", default="threads")
    ap.add_argument("--test", default="page_fault1")
    a = ap.parse_args()
    base = max(checkpoint_rate() for _ in range(a.repeat))
    rate, faults, dt, sw = max(fault_rate(a.cpus, a.duration, a.mode, a.test)
                               for _ in range(a.repeat))
    print(f"bare trio checkpoint loop: {base:,.0f} checkpoints/s")
    print(f"{a.test} {a.mode} @ {a.cpus} CPUs: {rate:,.0f} faults/s ({faults:,} faults in "
          f"{dt:.2f} s wall, {sw:.2f} task switches each)  ratio {rate / base:.3f}")


if __name__ == "__main__":
    main()
