"""Per-CPU cache statistics: hits, misses, refills and drains, per CPU and in total.

Every per-CPU cache of the mm models keeps a
:class:`~mmactors.mm._internal.CacheStats`:

* ``pcp``: the per-CPU page lists of every zone.  An allocation served from
  the list is a hit; one that refilled the list (``rmqueue_bulk``) or found
  ``pcp->lock`` taken and went to the buddy is a miss.  A free that stayed on
  the list is a hit; one that spilled a batch (``free_pcppages_bulk``) or fell
  back to ``free_one_page`` is a miss.  Refills and drains count the bulk
  moves under ``zone->lock`` (drains include ``decay_pcp_high`` and
  ``drain_all_pages``).  Orders the pcp lists do not hold (4..8, 10) bypass
  them and are not counted.
* ``slub:<cache>``: the cpu slab and cpu partial slabs of one cache.  Hits
  never took ``n->list_lock`` nor the page allocator (fast paths, ALLOC_REFILL,
  CPU_PARTIAL_ALLOC, lockless remote frees); misses did (ALLOC_FROM_PARTIAL,
  ALLOC_SLAB, frees that moved a slab between lists).  ``cpu_slab`` and
  ``cpu_partial`` split the two levels: fast versus slow paths, and slow
  allocations served by a cpu partial slab versus those that went further.
* ``vmstat``: the per-CPU ``vm_stat_diff`` counters.  An update absorbed by
  the diff is a hit, one that crossed ``stat_threshold`` and folded into the
  zone/node/global counters a miss; ``refresh_cpu_vm_stats`` folds are drains.
"""
from __future__ import annotations

from ..mm._internal import CacheStats
from ..mm.filemap_io import PageCacheStats
from ..mm.slub import cache_json, cache_sort_key

__all__ = ["format_caches"]

_SHOWN_STATS = ("ALLOC_FASTPATH", "ALLOC_SLOWPATH", "FREE_FASTPATH", "FREE_SLOWPATH",
                "ALLOC_REFILL", "CPU_PARTIAL_ALLOC", "ALLOC_FROM_PARTIAL", "ALLOC_SLAB",
                "CPU_PARTIAL_FREE", "CPU_PARTIAL_NODE", "CPU_PARTIAL_DRAIN", "FREE_FROZEN",
                "FREE_ADD_PARTIAL", "FREE_REMOVE_PARTIAL", "FREE_SLAB", "DEACTIVATE_BYPASS",
                "DEACTIVATE_FULL", "DEACTIVATE_EMPTY", "CMPXCHG_DOUBLE_FAIL", "ORDER_FALLBACK")


def _rate(h, m):
    return CacheStats.rate(h, m)


def _pct(r):
    return "     -" if r is None else f"{100 * r:6.2f}%"


def format_caches(pm, per_cpu: bool = True) -> str:
    rows = [("pcp", pm.pa.stats, None)]
    for name, s in sorted(pm.slub.caches.items(), key=lambda kv: cache_sort_key(kv[0])):
        if s.stats.used():
            rows.append((f"slub:{name}", s.stats, s))
    rows.append(("vmstat", pm.vmstat.stats, None))
    pc = pm.engine.runvars.get(PageCacheStats)       # file reads ran (mm/filemap_io.py)
    if pc is not None:
        rows.append(("pagecache", pc.cache, None))
    w = max(len(r[0]) for r in rows) + 2
    L = ["per-CPU caches (hit = served CPU-locally, miss = took the shared structure's lock):",
         f"  {'cache':<{w}}{'hits':>14}{'misses':>12}{'hit rate':>10}{'alloc':>9}{'free':>9}"
         f"{'refills':>10}{'drains':>10}"]
    for name, st, cache in rows:
        h, m = st.hits(), st.misses()
        ah, am = sum(st.alloc_hits), sum(st.alloc_misses)
        fh, fm = sum(st.free_hits), sum(st.free_misses)
        L.append(f"  {name:<{w}}{h:>14,}{m:>12,}{_pct(_rate(h, m)):>10}"
                 f"{_pct(_rate(ah, am)):>9}{_pct(_rate(fh, fm)):>9}"
                 f"{sum(st.refills):>10,}{sum(st.drains):>10,}")
        if cache is not None:
            sj = cache_json(cache)
            cs, cp = sj["cpu_slab"], sj["cpu_partial"]
            L.append(f"  {'':<{w}}  cpu slab {_pct(cs['hit_rate']).strip()} "
                     f"({cs['hits']:,} fast / {cs['misses']:,} slow), cpu partial "
                     f"{_pct(cp['hit_rate']).strip()} ({cp['hits']:,} / {cp['misses']:,})")
            stats = sj["stats"]
            shown = [f"{k} {stats[k]:,}" for k in _SHOWN_STATS if stats.get(k)]
            for i in range(0, len(shown), 5):
                L.append(f"  {'':<{w}}  " + ", ".join(shown[i:i + 5]))
    if per_cpu:
        for name, st, _ in rows:
            if not (st.hits() or st.misses()):
                continue
            cells = []
            for c in range(st.ncpus):
                h, m = st.hits(c), st.misses(c)
                if h or m:
                    cells.append(f"cpu{c} {_pct(_rate(h, m)).strip()}")
            if not cells:
                continue
            L.append(f"  {name} hit rate per CPU:")
            for i in range(0, len(cells), 8):
                L.append("    " + "  ".join(f"{x:<13}" for x in cells[i:i + 8]).rstrip())
    return "\n".join(L)
