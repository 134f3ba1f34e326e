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

The dirty-throttling part (``--dirty-seconds N``, 0 skips it): virtual
seconds of scenarios/files/writers-faster-than-device.toml (16 writers on
a 10 MB/s disk, balance_dirty_pages pausing them, the flusher writing in
the background) simulated per wall-clock second, run for N virtual
seconds; and the same for writers-below-freerun.toml, whose 40 virtual
seconds are mostly idle between the flusher's 5 s kupdate passes (they
must cost no wall time when nothing happens in between).
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


def read_hits(text) -> tuple[int, float, int, int]:
    """(page-cache hits, wall seconds of Machine.run, virtual ns, engine
    hand-offs: trio task switches)."""
    from mmactors import Machine, parse_scenario
    from mmactors.testing import lockdep_enabled
    with lockdep_enabled(False):
        m = Machine(parse_scenario(text, "<bench>"), trace=False)
        t0 = time.perf_counter()
        res = m.run()
        wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    return res.extra["pagecache"]["reads"]["hits"], wall, res.virtual_ns, m.engine.switches


def dirty_throttling(name: str, seconds: float | None) -> tuple[float, float, int]:
    """(virtual s, wall s of Machine.run, pages written) of a shipped
    scenarios/files scenario, its duration set to ``seconds`` if given."""
    from mmactors import Machine, parse_scenario
    from mmactors.testing import lockdep_enabled
    text = (ROOT / "scenarios" / "files" / f"{name}.toml").read_text()
    if seconds is not None:
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("duration_ns"))
        text = text.replace("[run]", f"[run]\nduration_ns = {int(seconds * 1e9)}")
    with lockdep_enabled(False):
        m = Machine(parse_scenario(text, f"{name}.toml"), trace=False)
        t0 = time.perf_counter()
        res = m.run()
        wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    written = sum(d["stat"]["write_sectors"] for d in res.extra["block"].values()) // 8
    return res.virtual_ns / 1e9, wall, written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--size", default="4M")
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--rw", default="randread", choices=("read", "randread"))
    ap.add_argument("--bs", default="4K")
    ap.add_argument("--memory-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dirty-seconds", type=float, default=5.0,
                    help="virtual seconds of the 16-writer dirty-throttling run (0: skip)")
    ap.add_argument("--no-read", action="store_true", help="skip the read-hit part")
    a = ap.parse_args(argv)
    if a.dirty_seconds:
        for name, secs in (("writers-faster-than-device", a.dirty_seconds),
                           ("writers-below-freerun", None)):
            vs, wall, pages = dirty_throttling(name, secs)
            print(f"{name}: {vs:.1f} virtual s in {wall:.2f} s wall = {vs / wall:.3f} virtual s "
                  f"per wall s ({pages:,} pages written, {pages / wall:,.0f} per wall s)",
                  flush=True)
    if a.no_read:
        return 0
    text = scenario(a.cpus, a.size, a.loops, a.rw, a.bs, a.memory_mib)
    rates = []
    for i in range(a.runs):
        hits, wall, vns, switches = read_hits(text)
        rates.append(hits / wall)
        print(f"run {i + 1}: {hits:,} page-cache hits in {wall:.2f} s wall "
              f"({vns / 1e6:.1f} ms virtual, {switches / hits:.3f} trio task switches per hit): "
              f"{hits / wall:,.0f} hits/s", flush=True)
    print(f"page-cache read hits per wall-clock second, {a.cpus} CPUs ({a.rw}, bs {a.bs}, "
          f"shared {a.size} file): median {statistics.median(rates):,.0f}, "
          f"best {max(rates):,.0f} (aim >= 50,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
