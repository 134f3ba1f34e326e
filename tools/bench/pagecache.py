#!/usr/bin/env python3
"""Page-cache speed: page-cache read hits per wall-clock second at 64 CPUs
(issue 13's aim: >= 50,000).

    python tools/bench/pagecache.py [--cpus 64] [--size 4M] [--loops 4] [--runs 3]
                                    [--rw randread] [--bs 4K]

Every CPU runs a ``file-io`` job over one shared file on an NVMe device;
``cached = true`` warms the cache first (each task reads the file once:
the first to reach a page reads it from the disk, the rest wait or hit),
then ``loops`` passes of ``bs`` reads at random (or sequential) offsets
all hit.  The figure is page-cache hits (mm/filemap_io.py's count, the
warm-up's included) over the run's wall time (building the machine
excluded), the median and the best of ``--runs`` runs; lockdep off.
(W adds the dirty-throttling part: virtual seconds of a 16-writer run per
wall second.)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def scenario(cpus, size, loops, rw, bs, memory_mib):
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "file-io"
cpus = "all"
device = "nvme0n1"
rw = "{rw}"
bs = "{bs}"
size = "{size}"
files = "shared"
cached = true
loops = {loops}
[run]
duration_ns = 100_000_000_000
seed = 1
"""


def read_hits(text) -> tuple[int, float, int]:
    """(page-cache hits, wall seconds of Machine.run, virtual ns)."""
    from mmactors import Machine, parse_scenario
    from mmactors.testing import lockdep_enabled
    with lockdep_enabled(False):
        m = Machine(parse_scenario(text, "<bench>"), trace=False)
        t0 = time.perf_counter()
        res = m.run()
        wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    return res.extra["pagecache"]["reads"]["hits"], wall, res.virtual_ns


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--size", default="4M")
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--rw", default="randread", choices=("read", "randread"))
    ap.add_argument("--bs", default="4K")
    ap.add_argument("--memory-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    text = scenario(a.cpus, a.size, a.loops, a.rw, a.bs, a.memory_mib)
    rates = []
    for i in range(a.runs):
        hits, wall, vns = read_hits(text)
        rates.append(hits / wall)
        print(f"run {i + 1}: {hits:,} page-cache hits in {wall:.2f} s wall "
              f"({vns / 1e6:.1f} ms virtual): {hits / wall:,.0f} hits/s", flush=True)
    print(f"page-cache read hits per wall-clock second, {a.cpus} CPUs ({a.rw}, bs {a.bs}, "
          f"shared {a.size} file): median {statistics.median(rates):,.0f}, "
          f"best {max(rates):,.0f} (aim >= 50,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
