#!/usr/bin/env python3
"""Compaction speed: pfns scanned by compaction (compact_migrate_scanned +
compact_free_scanned) per wall-clock second of the compaction itself.

    python tools/bench/compaction.py [--cpus 64] [--memory-mib 128] [--runs 3]

Each run builds a machine of ``--cpus`` CPUs (no ZONE_DMA), fragments it with
the ``fragment`` workload (95% filled with order-0 anonymous pages, three
quarters of every 2 MiB block freed) and then runs ``compact_memory``
(compact_nodes: every zone, MIGRATE_SYNC, whole zone) from another CPU; only
the wall time of compact_nodes counts (the fill is setup).  Prints each run,
the median and the best rate.

    python tools/bench/compaction.py --thp [--cpus 64] [--runs 3]

measures huge-page faults per wall-clock second instead (:func:`thp_faults`):
will-it-scale page_fault1 in threads mode on ``--cpus`` CPUs with THP at the
kernel's default (enabled = always), every fault of its 8 MiB regions a
``do_huge_pmd_anonymous_page`` (order-9 allocation, zeroing, pmd_lock, zap at
munmap); only ``Machine.run`` is timed (building the machine is setup).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def scenario(cpus: int, memory_mib: int, seed: int) -> str:
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
[kconfig]
CONFIG_ZONE_DMA = false
CONFIG_TRANSPARENT_HUGEPAGE = false
[[workload]]
kind = "fragment"
cpus = [0]
size = "95%"
[[workload]]
kind = "mm-ops"
cpus = [1]
steps = ["delay 2000000000", "compact_memory"]
[run]
duration_ns = 60_000_000_000
seed = {seed}
"""


def compaction_rate(cpus: int, memory_mib: int, seed: int) -> dict:
    """One run: (pfns scanned, wall seconds inside compact_nodes)."""
    from mmactors import Machine, parse_scenario
    from mmactors.mm import compaction as C
    spent = [0.0]
    orig = C.Compaction.compact_nodes

    async def timed(self, me):
        t0 = time.perf_counter()
        try:
            await orig(self, me)
        finally:
            spent[0] += time.perf_counter() - t0
    C.Compaction.compact_nodes = timed
    try:
        res = Machine(parse_scenario(scenario(cpus, memory_mib, seed), "<bench>"),
                      trace=False).run()
    finally:
        C.Compaction.compact_nodes = orig
    if res.error is not None:
        raise SystemExit(res.error.report())
    vm = res.extra["vmstat"]
    pfns = vm["compact_migrate_scanned"] + vm["compact_free_scanned"]
    return {"pfns": pfns, "wall_s": spent[0], "migrated": vm["pgmigrate_success"],
            "pfns_per_s": pfns / spent[0] if spent[0] else 0.0}


def thp_scenario(cpus: int, seed: int, duration_ns: int) -> str:
    return f"""
[machine]
cpus = {cpus}
memory_mib = {max(4096, cpus * 8 * 3)}
[sysfs]
"kernel/mm/transparent_hugepage/enabled" = "always"
[[workload]]
kind = "will-it-scale"
test = "page_fault1"
mode = "threads"
cpus = "all"
region_mib = 8
[run]
duration_ns = {duration_ns}
seed = {seed}
"""


def thp_faults(cpus: int = 64, seed: int = 1, duration_ns: int = 20_000_000) -> dict:
    """One run: THP faults (thp_fault_alloc) and the wall seconds of the run."""
    from mmactors import Machine, parse_scenario
    m = Machine(parse_scenario(thp_scenario(cpus, seed, duration_ns), "<bench>"), trace=False)
    t0 = time.perf_counter()
    res = m.run()
    wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    vm = res.extra["vmstat"]
    n = vm["thp_fault_alloc"]
    return {"thp_faults": n, "fallbacks": vm["thp_fault_fallback"], "wall_s": wall,
            "faults_per_s": n / wall if wall else 0.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--memory-mib", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--thp", action="store_true",
                    help="measure huge-page faults per wall second instead")
    a = ap.parse_args(argv)
    rates = []
    if a.thp:
        for i in range(a.runs):
            r = thp_faults(a.cpus, seed=1 + i)
            rates.append(r["faults_per_s"])
            print(f"run {i + 1}: {r['thp_faults']:,} THP faults ({r['fallbacks']} fallbacks) in "
                  f"{r['wall_s']:.2f} s: {r['faults_per_s']:,.0f} THP faults/s")
        print(f"THP faults at {a.cpus} CPUs: median {statistics.median(rates):,.0f}/s, "
              f"best {max(rates):,.0f}/s")
        return
    for i in range(a.runs):
        r = compaction_rate(a.cpus, a.memory_mib, seed=1 + i)
        rates.append(r["pfns_per_s"])
        print(f"run {i + 1}: {r['pfns']:,} pfns scanned, {r['migrated']:,} pages migrated in "
              f"{r['wall_s']:.2f} s of compaction: {r['pfns_per_s']:,.0f} pfns/s")
    print(f"compaction scan rate at {a.cpus} CPUs, {a.memory_mib} MiB: median "
          f"{statistics.median(rates):,.0f} pfns/s, best {max(rates):,.0f} pfns/s")


if __name__ == "__main__":
    main()
