#!/usr/bin/env python3
"""Compaction speed: pfns scanned by compaction (compact_migrate_scanned +
compact_free_scanned) per wall-clock second of the compaction itself.

    python tools/bench/compaction.py [--cpus 64] [--memory-mib 128] [--runs 3]

Each run builds a machine of ``--cpus`` CPUs (no ZONE_DMA), fragments it with
the ``fragment`` workload (95% filled with order-0 anonymous pages, three
quarters of every 2 MiB block freed) and then runs ``compact_memory``
(compact_nodes: every zone, MIGRATE_SYNC, whole zone) from another CPU; only
the wall time of compact_nodes counts (the fill is setup).  Prints each run,
the median and the best rate.  T adds the THP-fault figure as its own
function (``thp_faults``) in this file.
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--memory-mib", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    rates = []
    for i in range(a.runs):
        r = compaction_rate(a.cpus, a.memory_mib, seed=1 + i)
        rates.append(r["pfns_per_s"])
        print(f"run {i + 1}: {r['pfns']:,} pfns scanned, {r['migrated']:,} pages migrated in "
              f"{r['wall_s']:.2f} s of compaction: {r['pfns_per_s']:,.0f} pfns/s")
    print(f"compaction scan rate at {a.cpus} CPUs, {a.memory_mib} MiB: median "
          f"{statistics.median(rates):,.0f} pfns/s, best {max(rates):,.0f} pfns/s")


if __name__ == "__main__":
    main()
