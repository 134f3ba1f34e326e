#!/usr/bin/env python3
"""Page-allocator and SLUB speed: simulated allocations per wall-clock second
at 1 and 64 CPUs, beside the rate of a bare trio checkpoint loop measured in
the same run (a ratio; the engine's own ceiling), and the memmap's bytes per
frame with the build time and peak memory of a 64 GiB machine.

    python tools/bench/page_alloc.py [--cpus 1,64] [--duration-1 NS] [--duration-n NS]

Each allocation is one pcp-list (or SLUB fast-path) allocation and, a
lifetime later, its free.  A benchmark, not a test: it never fails on time.
"""
import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors import Machine, parse_scenario  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import checkpoint_rate  # noqa: E402

WORKLOADS = {
    "page-alloc same": 'kind = "page-alloc"\norder = 0\nfree_on = "same"\nlifetime_ns = 1000',
    "page-alloc next": 'kind = "page-alloc"\norder = 0\nfree_on = "next"\nlifetime_ns = 1000',
    "kmalloc-64 same": 'kind = "kmalloc"\nsize = 64\nfree_on = "same"\nlifetime_ns = 1000\n'
                       'think_ns = 40',
    "kmalloc-64 random": 'kind = "kmalloc"\nsize = 64\nfree_on = "random"\nlifetime_ns = 1000\n'
                         'think_ns = 40',
}


def alloc_rate(cpus: int, workload: str, duration: int):
    text = f"""
[machine]
cpus = {cpus}
memory_mib = 4096
[[workload]]
cpus = "all"
{workload}
[run]
duration_ns = {duration}
"""
    m = Machine(parse_scenario(text), trace=False)
    t = time.perf_counter()
    res = m.run()
    dt = time.perf_counter() - t
    return res.ops / dt, res.ops, dt, res.switches / max(res.ops, 1)


def memmap_64g():
    from mmactors.mm.physmem import PhysMem
    tracemalloc.start()
    t = time.perf_counter()
    pm = PhysMem.standalone(cpus=64, nodes=2, memory_mib=65536)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mm = pm.pa.mem_map
    return mm.bytes_per_frame(), mm.nbytes, dt, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", default="1,64")
    ap.add_argument("--duration-1", type=int, default=2_000_000,
                    help="virtual ns of the 1-CPU runs")
    ap.add_argument("--duration-n", type=int, default=100_000,
                    help="virtual ns of the many-CPU runs")
    a = ap.parse_args()
    base = checkpoint_rate()
    print(f"baseline: bare trio checkpoints  {base:12,.0f} /s")
    for cpus in (int(c) for c in a.cpus.split(",")):
        dur = a.duration_1 if cpus == 1 else a.duration_n
        for name, wl in WORKLOADS.items():
            if cpus == 1 and name.endswith(("next", "random")):
                continue
            rate, ops, dt, sw = alloc_rate(cpus, wl, dur)
            print(f"{cpus:3} CPU{'s' if cpus > 1 else ' '} {name:<18} {rate:10,.0f} allocs/s "
                  f"(x{rate / base:.3f} of checkpoints; {ops:,} in {dt:.2f} s, "
                  f"{sw:.2f} task switches per alloc)")
    bpf, nbytes, dt, peak = memmap_64g()
    print(f"memmap: {bpf:.2f} bytes per 4 KiB frame (budget 16); a 64 GiB machine builds in "
          f"{dt:.2f} s (goal < 2 s), arrays {nbytes / 2**20:.0f} MiB, peak traced "
          f"{peak / 2**20:.0f} MiB (goal < 300 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
