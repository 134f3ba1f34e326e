#!/usr/bin/env python3
"""will-it-scale sweep: ops per CPU against CPU count, threads and processes mode.

    python tools/wis_sweep.py page_fault1 [--cpus 1,2,4,8,16,32,64] [--modes threads,processes]
        [--region-mib 4] [--duration 1000000] [--set KEY=VALUE ...] [--jobs 2]

Prints, per mode, total ops, ops per CPU (per microsecond of virtual time)
and the top lock classes by wait time, like runtest.py's table.  ``--set``
passes scenario overrides (``kconfig.CONFIG_PER_VMA_LOCK=false``,
``constants.PAGEVEC_SIZE=15``, ``sysctl.vm.percpu_pagelist_high_fraction=8``).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmactors.sweep import sweep_json  # noqa: E402

TEMPLATE = """
[machine]
cpus = 1
memory_mib = {memory_mib}
[[workload]]
kind = "will-it-scale"
test = "{test}"
mode = "threads"
region_mib = {region_mib}
[run]
duration_ns = {duration}
"""


def wis_curve(test, cpus, mode, *, region_mib=4, duration=1_000_000, memory_mib=None,
              overrides=(), jobs=1, lockdep=None):
    """{cpus: result-json} for one test and mode."""
    if memory_mib is None:
        # Big enough that pcp high (a fraction of managed pages per CPU) is not
        # starved, as on the servers will-it-scale results come from.
        memory_mib = max(16384, 3 * max(cpus) * region_mib + 512)
    text = TEMPLATE.format(test=test, region_mib=region_mib, duration=duration,
                           memory_mib=memory_mib)
    grid = {"machine.cpus": list(cpus), "workload.0.mode": [mode]}
    for k, v in overrides:
        grid[k] = [v]
    return {p["machine.cpus"]: r for p, r in sweep_json(text, grid, jobs=jobs, lockdep=lockdep)}


def top_waits(result, n=3):
    rows = sorted(result["locks"].items(), key=lambda kv: -kv[1]["waittime_total_ns"])
    total = sum(v["waittime_total_ns"] for v in result["locks"].values()) or 1
    return ", ".join(f"{k} {v['waittime_total_ns'] / total:.0%}" for k, v in rows[:n]
                     if v["waittime_total_ns"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("test")
    ap.add_argument("--cpus", default="1,2,4,8,16,32")
    ap.add_argument("--modes", default="threads,processes")
    ap.add_argument("--region-mib", type=int, default=4)
    ap.add_argument("--duration", type=int, default=1_000_000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--memory-mib", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    cpus = [int(x) for x in a.cpus.split(",")]
    overrides = [tuple(kv.split("=", 1)) for kv in a.set]
    for mode in a.modes.split(","):
        res = wis_curve(a.test, cpus, mode, region_mib=a.region_mib, duration=a.duration,
                        memory_mib=a.memory_mib, overrides=overrides, jobs=a.jobs)
        print(f"{a.test} {mode} ({a.duration / 1e6:g} ms virtual, region {a.region_mib} MiB"
              f"{', ' + ', '.join(a.set) if a.set else ''})")
        print(f"{'cpus':>5} {'ops':>10} {'ops/cpu/us':>11} {'vs 1 cpu':>9}  top lock waits")
        base = None
        for n in cpus:
            r = res[n]
            per = r["workloads"]["ops"] / n / (a.duration / 1000)
            base = base or per
            print(f"{n:>5} {r['workloads']['ops']:>10} {per:>11.4f} {per / base:>9.2f}  "
                  f"{top_waits(r)}")
        print()


if __name__ == "__main__":
    main()
