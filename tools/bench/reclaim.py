#!/usr/bin/env python3
"""Reclaim speed and memory: pages reclaimed per wall-clock second at 64 CPUs
under usemem pressure with swap (goal: >= 10,000), and the peak resident
memory of the simulator for a 64 GiB machine under pressure (goal: < 1 GiB).

    python tools/bench/reclaim.py [--cpus 64] [--memory-mib 1024] [--size 20M]
                                  [--duration NS] [--thp always|madvise|never]
                                  [--big] [--filled GIB,GIB,...]
                                  [--tracemalloc MIB]

The rate run: every CPU runs usemem (``size`` each, more than memory in
total) on a machine with an SSD swap device; pages reclaimed are
pgsteal_kswapd + pgsteal_direct, over the run's wall time.  ``--big``
measures the peak RSS (ru_maxrss) of a separate process that builds a
64 GiB machine (64 CPUs, 16 GiB of swap) and runs usemem under pressure:
``vm.min_free_kbytes`` is set 128 MiB below what is free at boot, so the
watermarks are crossed after a few MiB per CPU and reclaim runs from the
start (the allocator, LRU and swap structures at 64 GiB scale, without
simulating 64 GiB of touches).

``--filled 1,2,4`` measures machines really filled with anonymous memory,
each in a separate process: GIB of memory, 64 CPUs, swap of a quarter of
it, 4 KiB pages (transparent_hugepage/enabled = never: every page has its
own LRU and rmap entry, the worst case), every CPU running usemem over its
share of the whole memory and holding it, so that the machine ends full,
kswapd and direct reclaim having swapped out what did not fit.  It prints
each run's peak RSS (and its RSS at the end: a peak well above it is a
transient), its resident pages (on the LRU lists), the bytes per frame of
the per-frame arrays, and the slope
between the sizes: bytes of simulator per resident page, and the peak RSS
extrapolated linearly to a filled 64 GiB machine (a filled 64 GiB run
itself takes 16.7M simulated faults, hours of wall time here).
``--tracemalloc MIB`` fills a MIB machine the same way under tracemalloc
and lists where the bytes still held at the end were allocated (file:line),
per resident page, and how far the run's peak was above them.
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


def thp(enabled):
    return f'[sysfs]\n"kernel/mm/transparent_hugepage/enabled" = "{enabled}"\n'


THP_NEVER = thp("never")


def run(text, phases=None):
    """Run ``text``; (wall seconds, vmstat).  With a dict ``phases``, also
    fill it with the pressure phase's figures: from the first
    ``wakeup_kswapd`` (free pages below the low watermark: nothing has been
    reclaimed before it) to the end, its wall and CPU seconds and the
    engine's events and actor switches (trio task switches) in it."""
    from mmactors import Machine, parse_scenario
    from mmactors.mm.physmem import physmem_of
    m = Machine(parse_scenario(text, "<bench>"), trace=False)
    if phases is not None:
        vmscan = physmem_of(m).pa.reclaim
        wake = vmscan.wakeup_kswapd          # the bound method; the instance's own is a probe

        def probe(*a):
            if not phases:
                phases.update(wall=time.perf_counter(), cpu=time.process_time(),
                              events=m.engine.events, switches=m.engine.switches)
            return wake(*a)
        vmscan.wakeup_kswapd = probe
    t0 = time.perf_counter()
    res = m.run()
    wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    if phases:
        phases.update(wall=time.perf_counter() - phases["wall"],
                      cpu=time.process_time() - phases["cpu"],
                      events=m.engine.events - phases["events"],
                      switches=m.engine.switches - phases["switches"])
    vm = res.extra["vmstat"]
    return wall, vm


def big(duration, thp_enabled="always"):
    """In this process: the 64 GiB machine under pressure; prints JSON.  The
    min watermark is put 128 MiB below what is free at boot, so that 64 CPUs
    touching 4 MiB each are past it almost at once."""
    from mmactors import Machine, parse_scenario
    from mmactors.mm.physmem import physmem_of
    sysfs = thp(thp_enabled) if thp_enabled != "always" else ""
    probe = Machine(parse_scenario(scenario(64, 65536, "4M", duration, swap_mib=16384,
                                            sysctl=sysfs), "<probe>"), trace=False)
    free = sum(z.managed_pages for z in physmem_of(probe).pa.zones)
    del probe
    min_kb = (free - (128 << 8)) * 4
    text = scenario(64, 65536, "4M", duration, swap_mib=16384,
                    sysctl=f'[sysctl]\n"vm.min_free_kbytes" = {min_kb}\n' + sysfs)
    wall, vm = run(text)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall_s": wall, "rss_mib": rss_kib / 1024,
                      "reclaimed": vm["pgsteal_kswapd"] + vm["pgsteal_direct"],
                      "pswpout": vm["pswpout"], "faults": vm["pgfault"]}))


def filled_scenario(memory_mib, cpus=64):
    """A machine of ``memory_mib`` that usemem fills: each of ``cpus`` tasks
    touches memory_mib / cpus once and holds it (4 KiB pages, swap of a
    quarter of memory).  The virtual duration is long enough for the touches
    under reclaim (about 1 ms per MiB per CPU); the rest is idle."""
    per_cpu_kib = memory_mib * 1024 // cpus // 4 * 4
    duration = max(50_000_000, per_cpu_kib // 1024 * 4_000_000)
    return scenario(cpus, memory_mib, f"{per_cpu_kib}K", duration,
                    swap_mib=max(256, memory_mib // 4), sysctl=THP_NEVER)


def _filled_state(machine):
    """(pages on the LRU lists, pages in use: managed minus free)."""
    from mmactors.mm.physmem import physmem_of
    from mmactors.mm.vmstat import NR_FREE_PAGES
    pa = physmem_of(machine).pa
    lru = machine.subsystems["addrspace"].lru
    on_lru = sum(len(lst) for lv in lru.lruvecs for lst in lv.lists)
    free = sum(pa.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES) for z in pa.zones)
    used = sum(z.managed_pages for z in pa.zones) - free
    return on_lru, used


def _rss_now_mib() -> float:
    """The resident set now (VmRSS), against ru_maxrss's peak: a peak well
    above it is a transient (issue 12's memory analysis found a list of one
    int per page in usemem that way)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _per_frame_bytes(machine) -> dict:
    """Bytes per frame of the per-frame arrays, as the kernel keeps them in
    struct page/folio: the memmap, _mapcount, folio->mapping/index, folio->lru."""
    from mmactors.mm.physmem import physmem_of
    sub = machine.subsystems["addrspace"]
    mm = physmem_of(machine).pa.mem_map
    n = mm.max_pfn
    return {"memmap": mm.nbytes / n, "mapcount": sub.rmap.mc.nbytes / n,
            "mapping": sub.rmap.mapping.nbytes / n, "lru": sub.lru.links.nbytes / n}


def filled(memory_mib):
    """In this process: a machine of memory_mib filled by usemem; prints JSON."""
    from mmactors import Machine, parse_scenario
    m = Machine(parse_scenario(filled_scenario(memory_mib), "<filled>"), trace=False)
    t0 = time.perf_counter()
    res = m.run()
    wall = time.perf_counter() - t0
    if res.error is not None:
        raise SystemExit(res.error.report())
    on_lru, used = _filled_state(m)
    vm = res.extra["vmstat"]
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"memory_mib": memory_mib, "wall_s": wall, "rss_mib": rss_kib / 1024,
                      "end_rss_mib": _rss_now_mib(), "per_frame": _per_frame_bytes(m),
                      "on_lru": on_lru, "used": used, "faults": vm["pgfault"],
                      "pswpout": vm["pswpout"], "end": res.end_reason,
                      "reclaimed": vm["pgsteal_kswapd"] + vm["pgsteal_direct"]}))


def traced(memory_mib, top=20):
    """A filled machine under tracemalloc: the allocations still held at the
    end, by file:line, in bytes per page on the LRU."""
    import tracemalloc
    from mmactors import Machine, parse_scenario
    tracemalloc.start()
    m = Machine(parse_scenario(filled_scenario(memory_mib), "<traced>"), trace=False)
    res = m.run()
    if res.error is not None:
        raise SystemExit(res.error.report())
    snap = tracemalloc.take_snapshot()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    on_lru, used = _filled_state(m)
    stats = snap.statistics("lineno")
    total = sum(s.size for s in stats)
    print(f"{memory_mib} MiB filled, 64 CPUs: {on_lru:,} pages on the LRU, {used:,} in use; "
          f"Python allocations held at the end: {total / 2**20:,.1f} MiB, "
          f"{total / on_lru:,.0f} bytes per LRU page (numpy arrays included); "
          f"the peak of the run {peak / 2**20:,.1f} MiB, {(peak - held) / on_lru:,.0f} bytes per "
          f"LRU page above what is held at the end (transients)")
    for s in stats[:top]:
        fr = s.traceback[0]
        name = fr.filename.split("/mmactors/")[-1] if "/mmactors/" in fr.filename \
            else fr.filename.rsplit("/", 2)[-1]
        print(f"  {s.size / on_lru:8.1f} B/page  {s.size / 2**20:8.1f} MiB  {s.count:>9,} blocks"
              f"  {name}:{fr.lineno}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--memory-mib", type=int, default=1024)
    ap.add_argument("--size", default="20M")
    ap.add_argument("--duration", type=int, default=30_000_000)
    ap.add_argument("--thp", default="always", choices=("always", "madvise", "never"),
                    help="transparent_hugepage/enabled for the rate run (never: 4 KiB "
                         "faults, every page on the LRU and in the rmap on its own)")
    ap.add_argument("--big", action="store_true", help="also the 64 GiB machine's peak RSS")
    ap.add_argument("--filled", metavar="GIB,...",
                    help="peak RSS of machines of these sizes filled with anonymous memory")
    ap.add_argument("--tracemalloc", type=int, metavar="MIB",
                    help="where the bytes of a filled MIB machine go (tracemalloc)")
    ap.add_argument("--big-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--filled-child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.big_child:
        big(a.duration, a.thp)
        return
    if a.filled_child:
        filled(a.filled_child)
        return
    if a.tracemalloc:
        traced(a.tracemalloc)
        return
    if a.filled:
        filled_report([float(x) for x in a.filled.split(",")])
        return
    ph = {}
    wall, vm = run(scenario(a.cpus, a.memory_mib, a.size, a.duration,
                            sysctl=thp(a.thp) if a.thp != "always" else ""), ph)
    n = vm["pgsteal_kswapd"] + vm["pgsteal_direct"]
    print(f"usemem {a.size} x {a.cpus} CPUs on {a.memory_mib} MiB, THP {a.thp}, "
          f"{a.duration / 1e6:g} ms: "
          f"{n:,} pages reclaimed (kswapd {vm['pgsteal_kswapd']:,}, direct "
          f"{vm['pgsteal_direct']:,}), {vm['pswpout']:,} swapped out, {vm['pgfault']:,} faults "
          f"in {wall:.1f} s wall: {n / wall:,.0f} pages reclaimed/s (goal >= 10,000)")
    if ph and n:
        print(f"  the pressure phase alone (from kswapd's first wake-up, {ph['wall']:.1f} s wall, "
              f"{ph['cpu']:.1f} s CPU): {n / ph['wall']:,.0f} pages reclaimed/s; per page "
              f"reclaimed {ph['events'] / n:.1f} engine events, {ph['switches'] / n:.1f} trio "
              f"task switches, {ph['cpu'] / n * 1e6:,.0f} CPU us (10,000/s allows 100)")
    if a.big:
        out = subprocess.run([sys.executable, __file__, "--big-child", "--duration",
                              str(a.duration), "--thp", a.thp],
                             capture_output=True, text=True, check=True)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"64 GiB machine, 64 CPUs, under pressure for {a.duration / 1e6:g} ms: peak RSS "
              f"{d['rss_mib']:,.0f} MiB (goal < 1024), {d['reclaimed']:,} pages reclaimed, "
              f"{d['faults']:,} faults, {d['wall_s']:.1f} s wall")


def filled_report(sizes_gib):
    rows = []
    for gib in sizes_gib:
        out = subprocess.run([sys.executable, __file__, "--filled-child",
                              str(int(gib * 1024))], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr.strip().splitlines()[-1])
        d = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(d)
        print(f"{d['memory_mib'] / 1024:g} GiB filled, 64 CPUs: peak RSS {d['rss_mib']:,.0f} MiB "
              f"({d['end_rss_mib']:,.0f} at the end), "
              f"{d['on_lru']:,} pages on the LRU ({d['used']:,} in use), {d['faults']:,} faults, "
              f"{d['pswpout']:,} swapped out, {d['wall_s']:.0f} s wall ({d['end']}): "
              f"{d['rss_mib'] * 2**20 / d['on_lru']:,.0f} bytes of RSS per LRU page", flush=True)
    pf = rows[-1]["per_frame"]
    print("  per-frame arrays, bytes per frame: "
          + ", ".join(f"{k} {v:g}" for k, v in pf.items()) + f" (total {sum(pf.values()):g})")
    for a, b in zip(rows, rows[1:]):
        per_page = (b["rss_mib"] - a["rss_mib"]) * 2**20 / (b["on_lru"] - a["on_lru"])
        print(f"  {a['memory_mib'] / 1024:g} -> {b['memory_mib'] / 1024:g} GiB: "
              f"{per_page:,.0f} bytes per further resident page")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = (b["rss_mib"] - a["rss_mib"]) / (b["memory_mib"] - a["memory_mib"])
        est = a["rss_mib"] + slope * (65536 - a["memory_mib"])
        print(f"extrapolated linearly ({a['memory_mib'] / 1024:g} to {b['memory_mib'] / 1024:g} "
              f"GiB, {slope * 1024:,.1f} MiB per GiB filled): a filled 64 GiB machine "
              f"~{est:,.0f} MiB peak RSS (goal < 1024; not run)")


if __name__ == "__main__":
    main()
