"""Zone state and vmstat in the human summary.

``format_zoneinfo`` prints /proc/zoneinfo; ``format_memory_summary`` is the
compact human form: one line per zone, free blocks per order, each CPU's pcp
count/high/batch, and the vmstat counters that changed over the run.  The
JSON form is the model's own (:func:`mmactors.mm.vmstat.zoneinfo_json`).
"""
from __future__ import annotations

from ..mm.gfp import format_gfp
from ..mm.vmstat import NR_FREE_PAGES, ZONE_STAT_ITEMS

__all__ = ["format_memory_summary", "format_vmstat_delta", "format_zoneinfo"]


def format_zoneinfo(pm) -> str:
    """/proc/zoneinfo for every zone (the full, long form)."""
    pa, vm = pm.pa, pm.vmstat
    lines = []
    for z in pa.zones:
        lines.append(f"Node {z.node}, zone {z.name:>8}")
        lines.append(f"  pages free     {vm.zone_page_state(z, NR_FREE_PAGES)}")
        lines.append(f"        boost    {z.watermark_boost}")
        lines.append(f"        min      {z.min_wmark_pages()}")
        lines.append(f"        low      {z.low_wmark_pages()}")
        lines.append(f"        high     {z.high_wmark_pages()}")
        lines.append(f"        spanned  {z.spanned_pages}")
        lines.append(f"        present  {z.present_pages}")
        lines.append(f"        managed  {z.managed_pages}")
        lines.append("        cma      0")
        lines.append("        protection: (" + ", ".join(map(str, z.lowmem_reserve)) + ")")
        if not z.populated():
            continue
        for i, n in enumerate(ZONE_STAT_ITEMS):
            lines.append(f"      {n:<12} {vm.zone_page_state(z, i)}")
        lines.append("  pagesets")
        for p in z.per_cpu_pageset:
            lines.append(f"    cpu: {p.cpu}")
            lines.append(f"              count: {p.count}")
            lines.append(f"              high:  {p.high}")
            lines.append(f"              batch: {p.batch}")
            lines.append(f"  vm stats threshold: {z.stat_threshold[p.cpu]}")
        lines.append("  node_unreclaimable:  0")
        lines.append(f"  start_pfn:           {z.zone_start_pfn}")
    return "\n".join(lines)


def format_vmstat_delta(before: dict, after: dict, limit: int = 40) -> list:
    rows = []
    for k, v in after.items():
        b = before.get(k, 0)
        if v != b:
            rows.append((k, b, v))
    out = []
    for k, b, v in rows[:limit]:
        if k.startswith("nr_"):
            out.append(f"    {k:<28} {b:>14,} -> {v:,} ({v - b:+,})")
        else:
            out.append(f"    {k:<28} {v - b:>+14,}")
    if len(rows) > limit:
        out.append(f"    ... {len(rows) - limit} more in --json \"vmstat_delta\"")
    return out


def format_memory_summary(pm) -> str:
    pa, vm = pm.pa, pm.vmstat
    mm = pa.mem_map
    n = len(pa.nodes)
    L = [f"physical memory: {pm.memory_mib:,} MiB on {n} node{'s' if n > 1 else ''}, "
         f"{mm.max_pfn:,} frames (memmap arrays {mm.nbytes / 2**20:.1f} MiB, "
         f"{mm.bytes_per_frame():.1f} B/frame)",
         f"  min_free_kbytes {pa.min_free_kbytes}; mobility grouping "
         f"{'off' if pa.page_group_by_mobility_disabled else 'on'}"]
    fails = sum(pa.failures.values())
    sfails = pm.slub.failures
    if fails or sfails:
        by = ", ".join(f"order:{o} {format_gfp(g)} x{c}" for (o, g), c in sorted(pa.failures.items()))
        stalls = {k: v for k, v in pm.vmstat.snapshot().items()
                  if k.startswith("allocstall_") and v}
        L.append(f"  ALLOCATION FAILURES: {fails} page allocation(s) failed ({by})"
                 + (f", {sfails} slab allocation(s)" if sfails else "")
                 + ("; after reclaim (see reclaim: below); compaction is not modelled yet"
                    if pa.reclaim is not None else
                    "; no LRU lists to reclaim from on this machine; compaction is not modelled yet")
                 + (f"; {', '.join(f'{k} {v}' for k, v in stalls.items())}" if stalls else ""))
        for line in pa.failure_lines[:3]:
            L.append(f"    {line}")
    else:
        L.append("  allocation failures: none")
    L.append(f"  page allocator: {pa.slowpath:,} slow-path entries, {pa.buddy_allocs:,} "
             f"allocations straight from the buddy, {pa.fallbacks:,} migratetype fallbacks,")
    L.append(f"    {sum(pa.pcp_trylock_fail):,} pcp trylock failures, {pa.kswapd_wakeups:,} kswapd "
             f"wake-up calls, {pm.vmstat_updates:,} vmstat_update runs")
    L.append("  zones at the end of the run (free pages, watermarks min/low/high, free blocks "
             "per order 0..10):")
    pop = [z for z in pa.zones if z.populated()]
    for z in pop:
        free = vm.zone_page_state_snapshot(z, NR_FREE_PAGES)
        fl = " ".join(str(a.nr_free) for a in z.free_area)
        extra = f" boost {z.watermark_boost}" if z.watermark_boost else ""
        L.append(f"    Node {z.node}, zone {z.name:>8}: free {free:>10,} of {z.managed_pages:>10,} "
                 f"managed  min {z.min_wmark_pages():,} low {z.low_wmark_pages():,} "
                 f"high {z.high_wmark_pages():,}{extra}  [{fl}]")
    if pop:
        hdr = "    pcp count/high/batch " + "".join(
            f"{f'{z.name}' + (f'@{z.node}' if n > 1 else ''):>20}" for z in pop)
        L.append(hdr)
        for cpu in range(pa.ncpus):
            cells = "".join(f"{f'{p.count}/{p.high}/{p.batch}':>20}"
                            for p in (z.per_cpu_pageset[cpu] for z in pop))
            L.append(f"    cpu {cpu:<3}              {cells}")
    after = vm.snapshot()
    L.append("  vmstat (changes over the run):")
    d = format_vmstat_delta(pm.boot_vmstat, after)
    L.extend(d if d else ["    (none)"])
    slab = [(name, s) for name, s in pm.slub.caches.items() if s.slabs]
    if slab:
        L.append("  slabs at the end: " + ", ".join(
            f"{name} {len(s.slabs)} slab{'s' if len(s.slabs) != 1 else ''} "
            f"({sum(x.objects for x in s.slabs.values())} objs, {s.live} active)"
            for name, s in slab))
    return "\n".join(L)
