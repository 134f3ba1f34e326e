#!/usr/bin/env python3
"""Reclaim speed and memory: pages reclaimed per wall-clock second at 64 CPUs
under usemem pressure with swap (goal: >= 10,000), and the peak resident
memory of the simulator for a 64 GiB machine under pressure (goal: < 1 GiB).

    python tools/bench/reclaim.py [--cpus 64] [--memory-mib 1024] [--size 20M]
                                  [--duration NS] [--big]

The rate run: every CPU runs usemem (``size`` each, more than memory in
total) on a machine with an SSD swap device; pages reclaimed are
pgsteal_kswapd + pgsteal_direct, over the run's wall time.  ``--big``
measures the peak RSS (ru_maxrss) of a separate process that builds a
64 GiB machine (64 CPUs, 16 GiB of swap) and runs usemem under pressure:
``vm.min_free_kbytes`` is set 128 MiB below what is free at boot, so the
watermarks are crossed after a few MiB per CPU and reclaim runs from the
start (the allocator, LRU and swap structures at 64 GiB scale, without
simulating 64 GiB of touches).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def scenario(cpus, memory_mib, size, duration, swap_mib=4096, sysctl=""):
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
{sysctl}
[[swap]]
size_mib = {swap_mib}
device = "ssd"
[[workload]]
kind = "usemem"
cpus = "all"
size = "{size}"
sleep_ns = -1
[run]
duration_ns = {duration}
seed = 1
"""


def run(text):
    from mmactors import Machine, parse_scenario
    t0 = time.perf_counter()
    res = Machine(parse_scenario(text, "<bench>"), trace=False).run()
    wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    vm = res.extra["vmstat"]
    return wall, vm


def big(duration):
    """In this process: the 64 GiB machine under pressure; prints JSON.  The
    min watermark is put 128 MiB below what is free at boot, so that 64 CPUs
    touching 4 MiB each are past it almost at once."""
    from mmactors import Machine, parse_scenario
    from mmactors.mm.physmem import physmem_of
    probe = Machine(parse_scenario(scenario(64, 65536, "4M", duration, swap_mib=16384),
                                   "<probe>"), trace=False)
    free = sum(z.managed_pages for z in physmem_of(probe).pa.zones)
    del probe
    min_kb = (free - (128 << 8)) * 4
    text = scenario(64, 65536, "4M", duration, swap_mib=16384,
                    sysctl=f'[sysctl]\n"vm.min_free_kbytes" = {min_kb}')
    wall, vm = run(text)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall_s": wall, "rss_mib": rss_kib / 1024,
                      "reclaimed": vm["pgsteal_kswapd"] + vm["pgsteal_direct"],
                      "pswpout": vm["pswpout"], "faults": vm["pgfault"]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--memory-mib", type=int, default=1024)
    ap.add_argument("--size", default="20M")
    ap.add_argument("--duration", type=int, default=30_000_000)
    ap.add_argument("--big", action="store_true", help="also the 64 GiB machine's peak RSS")
    ap.add_argument("--big-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.big_child:
        big(a.duration)
        return
    wall, vm = run(scenario(a.cpus, a.memory_mib, a.size, a.duration))
    n = vm["pgsteal_kswapd"] + vm["pgsteal_direct"]
    print(f"usemem {a.size} x {a.cpus} CPUs on {a.memory_mib} MiB, {a.duration / 1e6:g} ms: "
          f"{n:,} pages reclaimed (kswapd {vm['pgsteal_kswapd']:,}, direct "
          f"{vm['pgsteal_direct']:,}), {vm['pswpout']:,} swapped out, {vm['pgfault']:,} faults "
          f"in {wall:.1f} s wall: {n / wall:,.0f} pages reclaimed/s (goal >= 10,000)")
    if a.big:
        out = subprocess.run([sys.executable, __file__, "--big-child", "--duration",
                              str(a.duration)], capture_output=True, text=True, check=True)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"64 GiB machine, 64 CPUs, under pressure for {a.duration / 1e6:g} ms: peak RSS "
              f"{d['rss_mib']:,.0f} MiB (goal < 1024), {d['reclaimed']:,} pages reclaimed, "
              f"{d['faults']:,} faults, {d['wall_s']:.1f} s wall")


if __name__ == "__main__":
    main()
