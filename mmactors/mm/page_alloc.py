"""The zoned buddy allocator and its per-CPU page lists: mm/page_alloc.c (Linux 6.12).

Lock ordering in this file (as mm/rmap.c writes its own)::

    pcpu_drain_mutex            (drain_all_pages)
      pcp->lock                 (pcp_spin_lock/trylock; interrupts stay on)
        zone->lock              (spin_lock_irqsave: rmqueue_bulk, free_pcppages_bulk)

The boot of the allocator (memmap, zonelists, memblock_free_all) is in
:mod:`.mm_init`; this file holds what runs after it.

What is modelled, in the kernel's words
---------------------------------------
* ``struct zone`` with ``free_area[0..MAX_PAGE_ORDER]``, one free list per
  migratetype, ``_watermark[]`` + ``watermark_boost``, ``lowmem_reserve[]``,
  ``nr_reserved_highatomic``/``nr_free_highatomic``, ``zone->lock`` (a
  queued spinlock of class ``&zone->lock``) and ``zone->flags``
  (ZONE_BELOW_HIGH, ZONE_BOOSTED_WATERMARK).
* Buddy operations under ``zone->lock``: ``__rmqueue_smallest`` + ``expand``,
  ``__rmqueue_fallback`` with ``find_suitable_fallback``,
  ``steal_suitable_fallback`` (whole-pageblock claims, ``boost_watermark``),
  ``__move_freepages_block``, ``__free_one_page`` (merging, ``buddy_merge_likely``
  tail placement, the pageblock_order merge rule), ``split_large_buddy``,
  ``reserve_highatomic_pageblock``/``unreserve_highatomic_pageblock``.
* ``struct per_cpu_pages`` per zone and CPU: ``count``, ``high``,
  ``high_min``, ``high_max``, ``batch``, ``flags``, ``alloc_factor``,
  ``expire``, ``free_count`` and ``NR_PCP_LISTS`` lists (orders 0..3 times the
  three pcp migratetypes, plus two THP lists), ``pcp->lock`` taken with
  trylock (``&pcp->lock``; on failure the caller uses the buddy under
  ``zone->lock``); ``zone_batchsize``, ``zone_highsize``, the 6.7+ auto-tuning
  (``nr_pcp_alloc``, ``nr_pcp_high``, ``nr_pcp_free``, ``decay_pcp_high``
  from vmstat's per-CPU work), ``rmqueue_bulk``, ``free_pcppages_bulk``,
  ``drain_pages_zone``/``drain_all_pages`` (6.12 drains other CPUs' lists
  from the caller under their ``pcp->lock``; ``via="work"`` queues
  ``drain_local_pages`` on each CPU's kworker instead, as kernels before 5.19 did).
* ``get_page_from_freelist`` (ZONE_BELOW_HIGH detection at the high mark,
  the allocation at the ``alloc_flags`` mark, ALLOC_NOFRAGMENT retry),
  ``zone_watermark_fast``/``__zone_watermark_ok`` with the reserve rules,
  ``__alloc_pages`` and ``__alloc_pages_slowpath`` (``gfp_to_alloc_flags``,
  the retry loop, ``should_reclaim_retry``, __GFP_NOFAIL, ``warn_alloc``).
* Watermarks from ``vm.min_free_kbytes`` (``calculate_min_free_kbytes``),
  ``vm.watermark_scale_factor`` and ``vm.watermark_boost_factor``
  (``__setup_per_zone_wmarks``), ``setup_per_zone_lowmem_reserve`` with
  ``vm.lowmem_reserve_ratio``, ``calculate_totalreserve_pages``.

Reclaim, kswapd, compaction and the OOM killer come later.  Until then
(simplification): ``wakeup_kswapd`` only counts; direct reclaim reclaims
nothing but is counted as ``allocstall_<zone>`` and, once per allocation,
drains the pcp lists (the kernel drains only after reclaim made progress);
direct compaction returns COMPACT_SKIPPED; the OOM killer is never invoked.
An allocation that still cannot be served fails (``warn_alloc``'s
"page allocation failure" line is recorded and counted) instead of hanging.

Costs: every touch of shared state goes through a :class:`~mmactors.costs.CacheLine`
(zone->lock, the zone's free-area line, its vmstat line, each pcp's line
shared with its lock) or the memmap's ``owner`` field (a ``struct page``
last written by another CPU costs a line transfer; one no CPU has cached
costs an LLC hit, since the prefetcher streams the memmap in pfn order).
Costs accrue as the actor's debt and are paid with ``spend`` before a lock is
released, so hold times and contention are outcomes.  ``__GFP_ZERO`` and
``init_on_alloc`` cost ``page_zero_ns`` per page.

Speed: :meth:`PageAllocator.alloc_pages_nowait` and
:meth:`PageAllocator.free_pages_nowait` run the common case (the pcp list
serves the request) synchronously and do exactly what the full async path
does in that case, through the same helpers (``watermark_fast_ok``,
``pcp_take``, ``account_alloc``, ``clear_boost``, ``free_unref_page_commit``); the pcp trylock/unlock pair around it is one
:meth:`~mmactors.sync.SpinLock.try_pass` (same lock_stat figures, zero hold,
the same validator calls).

Other simplifications: no CMA or MIGRATE_ISOLATE, no cpusets, no
node_reclaim (``node_reclaim_mode`` is 0), no memory hotplug; zone and node
boundaries are multiples of MAX_ORDER_NR_PAGES, so a buddy never leaves its
zone; ``PCPF_FREE_HIGH_BATCH`` comes from ``[machine] cpu_data_slice_kib``.

Names: kernel functions lose their leading underscores (Python would mangle
them): ``rmqueue_smallest`` is ``__rmqueue_smallest``, ``rmqueue`` is
``__rmqueue``, ``rmqueue_zone`` is ``rmqueue()``, ``free_one_page_locked`` is
``__free_one_page``, ``alloc_pages`` is ``__alloc_pages``.  Kernels after
6.12 split ``__rmqueue_fallback`` into ``__rmqueue_claim``/``__rmqueue_steal``
and rename ``free_unref_page`` (here the pcp half of ``free_pages_nowait``)
to ``free_frozen_pages``; this follows 6.12.
"""
from __future__ import annotations

import sys
from collections import OrderedDict, deque

import numpy as np

from .._core.errors import SimulationError
from ..sync import Mutex, SpinLock, lock_registry
from ..sync.irq import in_interrupt
from ._internal import (ALLOC_CPUSET, ALLOC_HIGHATOMIC, ALLOC_KSWAPD, ALLOC_MIN_RESERVE,
                        ALLOC_NOFRAGMENT, ALLOC_NO_WATERMARKS, ALLOC_NON_BLOCK, ALLOC_OOM,
                        ALLOC_RESERVES, ALLOC_WMARK_HIGH, ALLOC_WMARK_LOW, ALLOC_WMARK_MASK,
                        ALLOC_WMARK_MIN, BOOT_PAGESET_BATCH, BOOT_PAGESET_HIGH, FPI_NONE,
                        FPI_TO_TAIL, HPAGE_PMD_ORDER, MAX_NR_ZONES, MAX_PAGE_ORDER,
                        MAX_RECLAIM_RETRIES, MIGRATE_HIGHATOMIC, MIGRATE_MOVABLE,
                        MIGRATE_PCPTYPES, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE,
                        MIN_PERCPU_PAGELIST_HIGH_FRACTION, NR_LOWORDER_PCP_LISTS, NR_PAGE_ORDERS,
                        NR_PCP_THP, PAGE_ALLOC_COSTLY_ORDER, PAGE_SHIFT,
                        PCPF_FREE_HIGH_BATCH, PCPF_PREV_FREE_HIGH_ORDER, PG_head, PG_lru,
                        PG_movable, PG_pcp, PG_reserved, PGTY_buddy, SWAP_CLUSTER_MAX,
                        WMARK_HIGH, WMARK_LOW, WMARK_MIN, ZONE_BELOW_HIGH,
                        ZONE_BOOSTED_WATERMARK, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL,
                        ZONE_RECLAIM_ACTIVE, AllocContext, CacheStats, fallbacks,
                        migratetype_is_mergeable, pageblock_nr_pages, pageblock_order,
                        zone_names)
from .gfp import GFP, format_gfp, gfp_migratetype, gfp_zone
from .sched_mm import (PF_MEMALLOC, current_flags, current_gfp_context, fs_reclaim_acquire,
                       fs_reclaim_release, memalloc_noreclaim_restore, memalloc_noreclaim_save,
                       might_alloc)
# enum compact_priority / compact_result (include/linux/compaction.h; mm/compaction.py)
COMPACT_PRIO_SYNC_FULL, COMPACT_PRIO_SYNC_LIGHT, COMPACT_PRIO_ASYNC = 0, 1, 2
MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
MIN_COMPACT_COSTLY_PRIORITY = DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC
COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_SUCCESS = 1, 2, 8
MAX_COMPACT_RETRIES = 16
from .vmstat import (NR_FREE_PAGES, NUMA_FOREIGN, NUMA_HIT, NUMA_LOCAL, NUMA_MISS, NUMA_OTHER,
                     VM_STAT_ITEMS, ZONE_STAT_ITEMS, NODE_STAT_ITEMS, calculate_normal_threshold)

__all__ = ["PageAllocator", "Zone", "PerCpuPages", "PgData", "FreeArea", "MMBug",
           "zone_batchsize", "zone_highsize", "calculate_min_free_kbytes", "int_sqrt",
           "mult_frac", "watermarks_for", "order_to_pindex", "pindex_to_order"]

_GFP_HIGH = GFP["__GFP_HIGH"]
_GFP_KSWAPD_RECLAIM = GFP["__GFP_KSWAPD_RECLAIM"]
_GFP_DIRECT_RECLAIM = GFP["__GFP_DIRECT_RECLAIM"]
_GFP_NOMEMALLOC = GFP["__GFP_NOMEMALLOC"]
_GFP_MEMALLOC = GFP["__GFP_MEMALLOC"]
_GFP_NOFAIL = GFP["__GFP_NOFAIL"]
_GFP_IO = GFP["__GFP_IO"]
_GFP_NORETRY = GFP["__GFP_NORETRY"]
_GFP_RETRY_MAYFAIL = GFP["__GFP_RETRY_MAYFAIL"]
_GFP_NOWARN = GFP["__GFP_NOWARN"]
_GFP_COMP = GFP["__GFP_COMP"]
_GFP_ZERO = GFP["__GFP_ZERO"]
_GFP_THISNODE = GFP["__GFP_THISNODE"]
_GFP_HARDWALL = GFP["__GFP_HARDWALL"]


class MMBug(SimulationError):
    """The kernel would BUG/WARN here (bad page state, double free, ...)."""

    kind = "mm-bug"


# ------------------------------------------------------------------ helpers
def int_sqrt(x: int) -> int:
    import math
    return math.isqrt(x)


def mult_frac(x: int, numer: int, denom: int) -> int:
    """include/linux/math.h mult_frac: (x / d) * n + ((x % d) * n) / d."""
    q, r = divmod(x, denom)
    return q * numer + (r * numer) // denom


def rounddown_pow_of_two(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def zone_batchsize(managed_pages: int) -> int:
    """mm/page_alloc.c zone_batchsize() (CONFIG_MMU, 4 KiB pages)."""
    batch = min(managed_pages >> 10, (1 << 20) >> PAGE_SHIFT)
    batch //= 4
    if batch < 1:
        batch = 1
    return rounddown_pow_of_two(batch + batch // 2) - 1


def zone_highsize(managed_pages: int, low_wmark: int, batch: int, node_cpus: int,
                  cpu_online: int, high_fraction: int, online_cpus: int) -> int:
    """mm/page_alloc.c zone_highsize()."""
    total = managed_pages // high_fraction if high_fraction else low_wmark
    nr_split_cpus = node_cpus + cpu_online
    if not nr_split_cpus:
        nr_split_cpus = online_cpus
    return max(total // nr_split_cpus, batch << 2)


def calculate_min_free_kbytes(lowmem_pages: int, user_min_free_kbytes: int = -1) -> int:
    """int_sqrt(lowmem_kbytes * 16) clamped to 128..262144 (unless the user's is larger)."""
    new = int_sqrt(lowmem_pages * 4 * 16)
    if new > user_min_free_kbytes:
        return min(max(new, 128), 262144)
    return user_min_free_kbytes


def watermarks_for(managed: int, lowmem_pages: int, min_free_kbytes: int,
                   watermark_scale_factor: int = 10, movable_or_highmem: bool = False):
    """``__setup_per_zone_wmarks`` for one zone: (min, low, high, promo)."""
    pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
    tmp = pages_min * managed // lowmem_pages if lowmem_pages else 0
    if movable_or_highmem:
        wmin = min(max(managed // 1024, SWAP_CLUSTER_MAX), 128)
    else:
        wmin = tmp
    tmp = max(tmp >> 2, mult_frac(managed, watermark_scale_factor, 10000))
    low = wmin + tmp
    high = low + tmp
    return wmin, low, high, high + tmp


def order_to_pindex(mt: int, order: int) -> int:
    if order > PAGE_ALLOC_COSTLY_ORDER:
        return NR_LOWORDER_PCP_LISTS + (mt == MIGRATE_MOVABLE)
    return MIGRATE_PCPTYPES * order + mt


def pindex_to_order(pindex: int) -> int:
    return HPAGE_PMD_ORDER if pindex >= NR_LOWORDER_PCP_LISTS else pindex // MIGRATE_PCPTYPES


# ---------------------------------------------------------------- structures
class FreeArea:
    """struct free_area: one list per migratetype and ``nr_free`` (blocks).

    A list is an ``OrderedDict`` of head pfns whose *last* entry is the list
    head (``list_add`` appends, ``list_add_tail`` moves to the front).
    """

    __slots__ = ("free_list", "nr_free")

    def __init__(self):
        self.free_list = [OrderedDict() for _ in range(MIGRATE_TYPES)]
        self.nr_free = 0


class PerCpuPages:
    """struct per_cpu_pages (include/linux/mmzone.h).  ``lists[pindex]`` are
    deques whose right end is the list head (LIFO for the cache-hot page)."""

    __slots__ = ("lock", "line", "count", "high", "high_min", "high_max", "batch", "flags",
                 "alloc_factor", "expire", "free_count", "lists", "cpu", "zone")

    def __init__(self, engine, zone, cpu: int, nr_lists: int):
        self.lock = SpinLock(engine, "&pcp->lock")
        self.line = self.lock.line       # ____cacheline_aligned: the lock shares the line
        self.line.owner = cpu
        self.line.sharers = 1 << cpu
        self.line.last = cpu
        self.cpu = cpu
        self.zone = zone
        self.count = 0
        self.high = 0
        self.high_min = BOOT_PAGESET_HIGH
        self.high_max = BOOT_PAGESET_HIGH
        self.batch = BOOT_PAGESET_BATCH
        self.flags = 0
        self.alloc_factor = 0
        self.expire = 0
        self.free_count = 0
        self.lists = [deque() for _ in range(nr_lists)]

    def to_json(self) -> dict:
        return {"cpu": self.cpu, "count": self.count, "high": self.high,
                "high_min": self.high_min, "high_max": self.high_max, "batch": self.batch,
                "free_count": self.free_count, "alloc_factor": self.alloc_factor,
                "flags": self.flags}


class Zone:
    """struct zone (include/linux/mmzone.h), the fields this model uses."""

    def __init__(self, pgdat, zone_idx: int, span, engine, line_factory, ncpus: int,
                 nr_pcp_lists: int):
        self.zone_pgdat = pgdat
        self.node = pgdat.node_id
        self.zone_idx = zone_idx
        self.zid = self.node * MAX_NR_ZONES + zone_idx
        self.name = zone_names[zone_idx]
        self.zone_start_pfn = span.start_pfn
        self.spanned_pages = span.spanned
        self.present_pages = span.present
        self.managed_pages = 0                    # counted by memblock_free_all
        self.reserved_ranges = list(span.reserved)
        self._watermark = [0] * 4
        self.watermark_boost = 0
        self.nr_reserved_highatomic = 0
        self.nr_free_highatomic = 0
        self.lowmem_reserve = [0] * MAX_NR_ZONES
        self.percpu_drift_mark = 0
        self.flags = 0
        self.free_area = [FreeArea() for _ in range(NR_PAGE_ORDERS)]
        populated = self.present_pages > 0
        self.lock = SpinLock(engine, "&zone->lock") if populated else None
        self.area_line = line_factory(f"zone{self.zid}.free_area") if populated else None
        self.stat_line = line_factory(f"zone{self.zid}.vm_stat")
        self.per_cpu_pageset = [PerCpuPages(engine, self, c, nr_pcp_lists)
                                for c in range(ncpus)] if populated else []
        self.pageset_high_min = BOOT_PAGESET_HIGH
        self.pageset_high_max = BOOT_PAGESET_HIGH
        self.pageset_batch = BOOT_PAGESET_BATCH
        self.vm_stat = [0] * len(ZONE_STAT_ITEMS)
        self.vm_stat_diff = [[0] * len(ZONE_STAT_ITEMS) for _ in range(ncpus)]
        self.stat_threshold = [0] * ncpus
        self.vm_numa_event = [[0] * 6 for _ in range(ncpus)]
        self.initial_blocks: list = []           # (pfn, order) freed at boot
        # compaction (mm/compaction.py keeps them as the kernel's struct zone does)
        self.compact_cached_free_pfn = 0
        self.compact_cached_migrate_pfn = [0, 0]
        self.compact_init_migrate_pfn = 0
        self.compact_init_free_pfn = 0
        self.compact_considered = 0
        self.compact_defer_shift = 0
        self.compact_order_failed = 0
        self.compact_blockskip_flush = False

    def __repr__(self):
        return f"<Zone node{self.node} {self.name}>"

    @property
    def end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        return self.present_pages > 0

    def wmark_pages(self, i: int) -> int:
        return self._watermark[i] + self.watermark_boost

    def min_wmark_pages(self) -> int:
        return self._watermark[WMARK_MIN] + self.watermark_boost

    def low_wmark_pages(self) -> int:
        return self._watermark[WMARK_LOW] + self.watermark_boost

    def high_wmark_pages(self) -> int:
        return self._watermark[WMARK_HIGH] + self.watermark_boost

    def free_blocks(self):
        """Every free block as (pfn, order, migratetype), sorted by pfn."""
        out = []
        for o, area in enumerate(self.free_area):
            for mt, lst in enumerate(area.free_list):
                out.extend((p, o, mt) for p in lst)
        out.sort()
        return out


class PgData:
    """struct pglist_data (one per NUMA node)."""

    def __init__(self, nid: int, span, ncpus: int, line_factory):
        self.node_id = nid
        self.node_start_pfn = span.start_pfn
        self.node_spanned_pages = span.end_pfn - span.start_pfn
        self.node_present_pages = self.node_spanned_pages
        self.memmap_pages = span.memmap_pages
        self.node_zones: list[Zone] = []
        self.node_zonelists: list[Zone] = []      # ZONELIST_FALLBACK
        self.vm_stat = [0] * len(NODE_STAT_ITEMS)
        self.vm_node_stat_diff = [[0] * len(NODE_STAT_ITEMS) for _ in range(ncpus)]
        self.stat_threshold = [0] * ncpus
        self.stat_line = line_factory(f"node{nid}.vm_stat")
        self.totalreserve_pages = 0
        self.kswapd_failures = 0


# ----------------------------------------------------------------- allocator
def _alloc_site():
    """The allocation's call site for lockdep: the first frame outside this
    file (``__alloc_pages``'s caller), as a ``call_site()`` pair."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename == __file__:
        f = f.f_back
    return (f.f_code, f.f_lineno) if f is not None else "__alloc_pages"


class PageAllocator:
    """Zones, the buddy allocator and the pcp lists of one machine."""

    def __init__(self, engine, ncpus: int, node_of: list, layout, mem_map, *, sysctl: dict,
                 kconfig: dict, vmstat, line_factory, queue_work_on=None,
                 cpu_data_slice_kib: int = 2048):
        """The structures only (nodes, zones, pcp lists, knobs); ``mm_init.mm_core_init``
        fills them as the kernel boots."""
        self.engine = engine
        self.costs = engine.costs
        self.ncpus = ncpus
        self.node_of = node_of
        self.vmstat = vmstat
        self.queue_work_on = queue_work_on
        self.sysctl = sysctl
        self.kconfig = kconfig
        self.scale_max = int(kconfig.get("CONFIG_PCP_BATCH_SCALE_MAX", 5))
        self.thp = bool(kconfig.get("CONFIG_TRANSPARENT_HUGEPAGE", True))
        self.zone_dma = bool(kconfig.get("CONFIG_ZONE_DMA", True))
        self.init_on_alloc = bool(kconfig.get("CONFIG_INIT_ON_ALLOC_DEFAULT_ON", False))
        self.nr_pcp_lists = NR_LOWORDER_PCP_LISTS + (NR_PCP_THP if self.thp else 0)
        self.percpu_pagelist_high_fraction = int(sysctl.get("vm.percpu_pagelist_high_fraction", 0))
        self.watermark_scale_factor = int(sysctl.get("vm.watermark_scale_factor", 10))
        self.watermark_boost_factor = int(sysctl.get("vm.watermark_boost_factor", 15000))
        self.user_min_free_kbytes = int(sysctl.get("vm.min_free_kbytes", -1))
        self.lowmem_reserve_ratio = list(sysctl.get("vm.lowmem_reserve_ratio", [256, 256, 32, 0]))
        self.min_free_kbytes = 1024
        self.cpu_data_slice_kib = cpu_data_slice_kib
        self.stats = CacheStats("pcp", ncpus)
        self.failures: dict = {}                 # (order, gfp) -> count  (warn_alloc)
        self.failure_lines: list = []
        self.kswapd_wakeups = 0                  # wakeup_kswapd calls
        # mm/vmscan.c's side (VmScan), set by the address-space subsystem when
        # there are LRU lists to reclaim from; None: a machine without them
        # (wakeup_kswapd only counts, direct reclaim makes no progress).
        self.reclaim = None
        # mm/compaction.c's side (Compaction), set with ``reclaim``: direct
        # compaction needs LRU folios to migrate; None: COMPACT_SKIPPED.
        self.compaction = None
        self.slowpath = 0                        # allocations that entered the slow path
        self.oom_reached = 0                     # __alloc_pages_may_oom calls that found nothing
        self.buddy_allocs = 0                    # rmqueue_buddy successes
        self.pcp_trylock_fail = [0] * ncpus
        # Pages of a large folio the model has already split but the kernel
        # keeps whole (huge_memory.py's deferred split queue): pfn -> owner.
        # Their last put goes to folio_part_put(pfn), which keeps the page
        # for its folio or frees the folio's pages together.
        self.folio_parts: dict = {}
        self.folio_part_put = None
        self.fallbacks = 0                       # __rmqueue_fallback successes (mm_page_alloc_extfrag)
        self.pcpu_drain_mutex = Mutex(engine, "pcpu_drain_mutex")
        # The run's validators: might_alloc (the fs_reclaim map) only when one
        # watches lockdep maps (``_reg.on_map_acquire`` is then non-empty).
        self._reg = lock_registry(engine)
        self._ac_cache: dict = {}
        # Blocks between two places (freed but not yet on a list, or taken from
        # the buddy and not yet prepared) while their actor waits: _check counts
        # them, so it holds after a run that stopped at any instant.
        self.inflight: dict = {}
        # -- memory, nodes, zones
        self.mem_map = mem_map
        self.max_pfn = mem_map.max_pfn
        self.nodes: list[PgData] = []
        self.zones: list[Zone] = []              # every zone, by zid
        for ns in layout:
            pg = PgData(ns.nid, ns, ncpus, line_factory)
            for zs in ns.zones:
                z = Zone(pg, zs.zone_idx, zs, engine, line_factory, ncpus, self.nr_pcp_lists)
                pg.node_zones.append(z)
                self.zones.append(z)
            self.nodes.append(pg)
        self.populated = [z for z in self.zones if z.populated()]
        vmstat.zones = self.zones
        vmstat.nodes = self.nodes
        vmstat.vm_stat[VM_STAT_ITEMS.index("nr_memmap_boot_pages")] = \
            sum(n.memmap_pages for n in layout)
        self.nr_online_nodes = len(self.nodes)
        self.node_cpus = [sum(1 for c in range(ncpus) if node_of[c] == n)
                          for n in range(len(self.nodes))]
        self.page_group_by_mobility_disabled = False
        self._line = self.costs.line_transfer_ns
        self._line_remote = self.costs.line_transfer_remote_ns
        # A struct page no CPU has cached: the memmap is walked in pfn order by
        # the buddy allocator and the hardware prefetcher streams it, so it
        # costs an LLC hit rather than a full DRAM miss.
        self._dram = self.costs.llc_hit_ns
        self._l1 = self.costs.l1_hit_ns

    # ==================================== watermarks, reserves, pcp sizes
    def init_per_zone_wmark_min(self):
        """init_per_zone_wmark_min(): min_free_kbytes, watermarks (and pcp
        high/batch), vmstat thresholds, lowmem reserves."""
        self.calculate_min_free_kbytes()
        self.setup_per_zone_wmarks()
        self.refresh_zone_stat_thresholds()
        self.setup_per_zone_lowmem_reserve()
        for z in self.populated:
            for pcp in z.per_cpu_pageset:
                pcp.high = pcp.high_min

    def nr_free_buffer_pages(self) -> int:
        """Pages above the high mark in zones <= gfp_zone(GFP_USER) of the boot
        CPU's zonelist (every node)."""
        s = 0
        for z in self.nodes[self.node_of[0]].node_zonelists:
            if z.zone_idx <= ZONE_NORMAL and z.managed_pages > z.high_wmark_pages():
                s += z.managed_pages - z.high_wmark_pages()
        return s

    def calculate_min_free_kbytes(self):
        self.min_free_kbytes = calculate_min_free_kbytes(self.nr_free_buffer_pages(),
                                                         self.user_min_free_kbytes)

    def setup_per_zone_wmarks(self):
        lowmem = sum(z.managed_pages for z in self.zones if z.zone_idx != ZONE_MOVABLE)
        for z in self.zones:
            w = watermarks_for(z.managed_pages, lowmem, self.min_free_kbytes,
                               self.watermark_scale_factor, z.zone_idx == ZONE_MOVABLE)
            z._watermark = list(w)
            z.watermark_boost = 0
        self.calculate_totalreserve_pages()
        for z in self.populated:
            self.zone_pcp_update(z, 0)

    def zone_pcp_update(self, zone, cpu_online: int = 0):
        """zone_set_pageset_high_and_batch()."""
        batch = max(1, zone_batchsize(zone.managed_pages))
        ncpu = self.node_cpus[zone.node]
        frac = self.percpu_pagelist_high_fraction
        if frac:
            hmin = zone_highsize(zone.managed_pages, zone.low_wmark_pages(), batch, ncpu,
                                 cpu_online, frac, self.ncpus)
            hmax = hmin
        else:
            hmin = zone_highsize(zone.managed_pages, zone.low_wmark_pages(), batch, ncpu,
                                 cpu_online, 0, self.ncpus)
            hmax = zone_highsize(zone.managed_pages, zone.low_wmark_pages(), batch, ncpu,
                                 cpu_online, MIN_PERCPU_PAGELIST_HIGH_FRACTION, self.ncpus)
        if (zone.pageset_high_min, zone.pageset_high_max, zone.pageset_batch) == (hmin, hmax, batch):
            return
        zone.pageset_high_min, zone.pageset_high_max, zone.pageset_batch = hmin, hmax, batch
        for pcp in zone.per_cpu_pageset:
            pcp.batch, pcp.high_min, pcp.high_max = batch, hmin, hmax

    def setup_pcp_cacheinfo(self):
        """zone_pcp_update_cacheinfo(): PCPF_FREE_HIGH_BATCH when the CPU's share
        of the data caches holds more than 3 * batch pages."""
        pages = (self.cpu_data_slice_kib << 10) >> PAGE_SHIFT
        for z in self.populated:
            for pcp in z.per_cpu_pageset:
                if pages > 3 * pcp.batch:
                    pcp.flags |= PCPF_FREE_HIGH_BATCH
                else:
                    pcp.flags &= ~PCPF_FREE_HIGH_BATCH

    def set_percpu_pagelist_high_fraction(self, frac: int):
        """The vm.percpu_pagelist_high_fraction sysctl handler."""
        if frac and frac < MIN_PERCPU_PAGELIST_HIGH_FRACTION:
            raise ValueError("vm.percpu_pagelist_high_fraction must be 0 or >= 8")
        self.percpu_pagelist_high_fraction = frac
        for z in self.populated:
            self.zone_pcp_update(z, 0)
        self.setup_pcp_cacheinfo()

    def setup_per_zone_lowmem_reserve(self):
        for pg in self.nodes:
            zs = pg.node_zones
            for i in range(MAX_NR_ZONES - 1):
                z = zs[i]
                ratio = self.lowmem_reserve_ratio[i] if i < len(self.lowmem_reserve_ratio) else 0
                clear = ratio < 1 or not z.managed_pages
                managed = 0
                for j in range(i + 1, MAX_NR_ZONES):
                    up = zs[j]
                    managed += up.managed_pages
                    z.lowmem_reserve[j] = 0 if (clear or not up.managed_pages) else managed // ratio
        self.calculate_totalreserve_pages()

    def calculate_totalreserve_pages(self):
        total = 0
        for pg in self.nodes:
            pg.totalreserve_pages = 0
            for i, z in enumerate(pg.node_zones):
                m = max([0] + z.lowmem_reserve[i:]) + z.high_wmark_pages()
                m = min(m, z.managed_pages)
                pg.totalreserve_pages += m
                total += m
        self.totalreserve_pages = total

    def refresh_zone_stat_thresholds(self):
        for pg in self.nodes:
            pg.stat_threshold = [0] * self.ncpus
        for z in self.populated:
            t = calculate_normal_threshold(z.managed_pages, self.ncpus)
            z.stat_threshold = [t] * self.ncpus
            pg = z.zone_pgdat
            pg.stat_threshold = [max(a, t) for a in pg.stat_threshold]
            tolerate = z.low_wmark_pages() - z.min_wmark_pages()
            max_drift = self.ncpus * t
            z.percpu_drift_mark = z.high_wmark_pages() + max_drift if max_drift > tolerate else 0

    def zone_of(self, pfn: int) -> Zone:
        return self.zones[self.mem_map.zid[pfn]]

    def pfn_node(self, pfn: int) -> int:
        return self.mem_map.zid[pfn] // MAX_NR_ZONES

    # ==================================================== cost helpers
    def _touch(self, pfn: int, cpu: int) -> int:
        """Write a struct page: a transfer if another CPU's cache has it, DRAM if none."""
        own = self.mem_map.own
        o = own[pfn]
        if o == cpu + 1:
            return self._l1
        own[pfn] = cpu + 1
        if not o:
            return self._dram
        nof = self.node_of
        return self._line if nof[o - 1] == nof[cpu] else self._line_remote

    def _read_page(self, pfn: int, cpu: int) -> int:
        o = self.mem_map.own[pfn]
        if o == cpu + 1:
            return self._l1
        if not o:
            return self._dram
        nof = self.node_of
        return self._line if nof[o - 1] == nof[cpu] else self._line_remote

    # ======================================================= buddy (sync)
    # Callers hold zone->lock; costs go to ``me.debt``.
    def account_freepages(self, zone, nr_pages: int, mt: int, me):
        self.vmstat.mod_zone_page_state(zone, NR_FREE_PAGES, nr_pages, me)
        if mt == MIGRATE_HIGHATOMIC:
            zone.nr_free_highatomic += nr_pages

    def _add_to_free_list(self, zone, pfn, order, mt, tail, me):
        area = zone.free_area[order]
        lst = area.free_list[mt]
        lst[pfn] = None
        if tail:
            lst.move_to_end(pfn, last=False)
        area.nr_free += 1
        me.debt += zone.area_line.write(me.cpu)

    def _del_page_from_free_list(self, zone, pfn, order, mt, me):
        area = zone.free_area[order]
        del area.free_list[mt][pfn]
        area.nr_free -= 1
        mm = self.mem_map
        mm.f[pfn] &= ~PGTY_buddy
        me.debt += zone.area_line.write(me.cpu)

    def expand(self, zone, pfn: int, low: int, high: int, mt: int, me) -> int:
        size = 1 << high
        nr_added = 0
        area_list = zone.free_area
        f, ordv = self.mem_map.f, self.mem_map.ord
        cpu = me.cpu
        cost = 0
        while high > low:
            high -= 1
            size >>= 1
            b = pfn + size
            area = area_list[high]
            area.free_list[mt][b] = None
            area.nr_free += 1
            f[b] |= PGTY_buddy
            ordv[b] = high
            cost += self._touch(b, cpu) + zone.area_line.write(cpu)
            nr_added += size
        me.debt += cost
        return nr_added

    def page_del_and_expand(self, zone, pfn, low, high, mt, me):
        nr_pages = 1 << high
        self._del_page_from_free_list(zone, pfn, high, mt, me)
        nr_pages -= self.expand(zone, pfn, low, high, mt, me)
        self.account_freepages(zone, -nr_pages, mt, me)

    def rmqueue_smallest(self, zone, order: int, mt: int, me) -> int:
        """__rmqueue_smallest: the first block of the smallest order >= ``order``."""
        fa = zone.free_area
        for o in range(order, NR_PAGE_ORDERS):
            area = fa[o]
            lst = area.free_list[mt]
            if not lst:
                continue
            # get_page_from_free_area + page_del_and_expand, with the list_del
            # done by popitem(): the last key is the list head, and popping it
            # is much cheaper than peeking at it with next(reversed(lst)).
            pfn = lst.popitem()[0]
            cpu = me.cpu
            area.nr_free -= 1
            self.mem_map.f[pfn] &= ~PGTY_buddy
            me.debt += self._touch(pfn, cpu) + zone.area_line.write(cpu)
            nr_pages = 1 << o
            if o > order:                              # a larger block: split off the rest
                nr_pages -= self.expand(zone, pfn, order, o, mt, me)
            self.account_freepages(zone, -nr_pages, mt, me)
            return pfn
        return -1

    def set_pageblock_migratetype(self, pfn: int, mt: int):
        if self.page_group_by_mobility_disabled and mt < MIGRATE_PCPTYPES:
            mt = MIGRATE_UNMOVABLE
        self.mem_map.pbmt[pfn >> pageblock_order] = mt

    def change_pageblock_range(self, pfn: int, start_order: int, mt: int):
        for i in range(1 << (start_order - pageblock_order)):
            self.set_pageblock_migratetype(pfn + i * pageblock_nr_pages, mt)

    def move_to_free_list(self, zone, pfn, order, old_mt, new_mt, me):
        area = zone.free_area[order]
        del area.free_list[old_mt][pfn]
        lst = area.free_list[new_mt]
        lst[pfn] = None
        lst.move_to_end(pfn, last=False)              # list_move_tail
        self.account_freepages(zone, -(1 << order), old_mt, me)
        self.account_freepages(zone, 1 << order, new_mt, me)
        me.debt += zone.area_line.write(me.cpu)

    def _move_freepages_block(self, zone, start_pfn, old_mt, new_mt, me) -> int:
        """__move_freepages_block: retag the pageblock and move its free buddies."""
        mm = self.mem_map
        end = start_pfn + pageblock_nr_pages
        heads = np.flatnonzero(mm.flags[start_pfn:end] & PGTY_buddy)
        moved = 0
        pfn_next = start_pfn
        for h in heads.tolist():
            pfn = start_pfn + h
            if pfn < pfn_next:
                continue
            o = mm.ord[pfn]
            self.move_to_free_list(zone, pfn, o, old_mt, new_mt, me)
            me.debt += self._touch(pfn, me.cpu)
            pfn_next = pfn + (1 << o)
            moved += 1 << o
        self.set_pageblock_migratetype(start_pfn, new_mt)
        return moved

    def prep_move_freepages_block(self, zone, pfn, count=True):
        """(start_pfn, free_pages, movable_pages) or None if the block leaves the zone."""
        start = pfn & ~(pageblock_nr_pages - 1)
        end = start + pageblock_nr_pages
        if start < zone.zone_start_pfn or end > zone.end_pfn:
            return None
        if not count:
            return start, 0, 0
        mm = self.mem_map
        fl = mm.flags[start:end]
        heads = np.flatnonzero(fl & PGTY_buddy)
        free = int((1 << mm.order[start + heads].astype(np.int64)).sum()) if heads.size else 0
        movable = int(np.count_nonzero(fl & (PG_lru | PG_movable)))
        return start, free, movable

    def move_freepages_block(self, zone, pfn, old_mt, new_mt, me) -> int:
        r = self.prep_move_freepages_block(zone, pfn, count=False)
        if r is None:
            return -1
        return self._move_freepages_block(zone, r[0], old_mt, new_mt, me)

    def can_steal_fallback(self, order: int, start_mt: int) -> bool:
        if order >= pageblock_order:
            return True
        return (order >= pageblock_order // 2 or start_mt == MIGRATE_RECLAIMABLE
                or start_mt == MIGRATE_UNMOVABLE or self.page_group_by_mobility_disabled)

    def boost_watermark(self, zone) -> bool:
        if not self.watermark_boost_factor:
            return False
        if pageblock_nr_pages * 4 > zone.managed_pages:
            return False
        max_boost = mult_frac(zone._watermark[WMARK_HIGH], self.watermark_boost_factor, 10000)
        if not max_boost:
            return False
        max_boost = max(pageblock_nr_pages, max_boost)
        zone.watermark_boost = min(zone.watermark_boost + pageblock_nr_pages, max_boost)
        return True

    def find_suitable_fallback(self, area, order, mt, only_stealable):
        """Returns (fallback_mt or -1, can_steal)."""
        if area.nr_free == 0:
            return -1, False
        can_steal = False
        for fmt in fallbacks[mt]:
            if not area.free_list[fmt]:
                continue
            if self.can_steal_fallback(order, mt):
                can_steal = True
            if not only_stealable or can_steal:
                return fmt, can_steal
        return -1, can_steal

    def steal_suitable_fallback(self, zone, pfn, current_order, order, start_type,
                                alloc_flags, whole_block, me) -> int:
        mm = self.mem_map
        block_type = mm.pbmt[pfn >> pageblock_order]
        if block_type == MIGRATE_HIGHATOMIC:
            self.page_del_and_expand(zone, pfn, order, current_order, block_type, me)
            return pfn
        if current_order >= pageblock_order:
            self._del_page_from_free_list(zone, pfn, current_order, block_type, me)
            self.account_freepages(zone, -(1 << current_order), block_type, me)
            self.change_pageblock_range(pfn, current_order, start_type)
            nr_added = self.expand(zone, pfn, order, current_order, start_type, me)
            self.account_freepages(zone, nr_added, start_type, me)
            return pfn
        if self.boost_watermark(zone) and (alloc_flags & ALLOC_KSWAPD):
            zone.flags |= ZONE_BOOSTED_WATERMARK
        if whole_block:
            r = self.prep_move_freepages_block(zone, pfn)
            if r is not None:
                start_pfn, free_pages, movable_pages = r
                if start_type == MIGRATE_MOVABLE:
                    alike = movable_pages
                elif block_type == MIGRATE_MOVABLE:
                    alike = pageblock_nr_pages - (free_pages + movable_pages)
                else:
                    alike = 0
                if (free_pages + alike >= (1 << (pageblock_order - 1))
                        or self.page_group_by_mobility_disabled):
                    self._move_freepages_block(zone, start_pfn, block_type, start_type, me)
                    return self.rmqueue_smallest(zone, order, start_type, me)
        self.page_del_and_expand(zone, pfn, order, current_order, block_type, me)
        return pfn

    def rmqueue_fallback(self, zone, order: int, start_mt: int, alloc_flags: int, me) -> int:
        """__rmqueue_fallback: steal the largest block of a fallback type."""
        min_order = order
        if order < pageblock_order and alloc_flags & ALLOC_NOFRAGMENT:
            min_order = pageblock_order
        fa = zone.free_area
        found = None
        for co in range(MAX_PAGE_ORDER, min_order - 1, -1):
            fmt, can_steal = self.find_suitable_fallback(fa[co], co, start_mt, False)
            if fmt == -1:
                continue
            if not can_steal and start_mt == MIGRATE_MOVABLE and co > order:
                for co2 in range(order, NR_PAGE_ORDERS):
                    fmt2, cs2 = self.find_suitable_fallback(fa[co2], co2, start_mt, False)
                    if fmt2 != -1:
                        found = (co2, fmt2, cs2)
                        break
            else:
                found = (co, fmt, can_steal)
            break
        if found is None:
            return -1
        co, fmt, can_steal = found
        pfn = next(reversed(fa[co].free_list[fmt]))
        me.debt += self._touch(pfn, me.cpu)
        self.fallbacks += 1
        return self.steal_suitable_fallback(zone, pfn, co, order, start_mt, alloc_flags,
                                            can_steal, me)

    def rmqueue(self, zone, order: int, mt: int, alloc_flags: int, me) -> int:
        """__rmqueue (caller holds zone->lock).  CMA is not modelled."""
        pfn = self.rmqueue_smallest(zone, order, mt, me)
        if pfn < 0:
            pfn = self.rmqueue_fallback(zone, order, mt, alloc_flags, me)
        return pfn

    def free_one_page_locked(self, zone, pfn: int, order: int, mt: int, fpi: int, me):
        """__free_one_page: merge with free buddies, then list the result."""
        mm = self.mem_map
        f, ordv, zidv, pbmt = mm.f, mm.ord, mm.zid, mm.pbmt
        cpu = me.cpu
        self.account_freepages(zone, 1 << order, mt, me)
        zid = zone.zid
        buddy_pfn = 0
        cost = 0
        while order < MAX_PAGE_ORDER:
            buddy_pfn = pfn ^ (1 << order)
            cost += self._read_page(buddy_pfn, cpu)
            if not (f[buddy_pfn] & PGTY_buddy) or ordv[buddy_pfn] != order \
                    or zidv[buddy_pfn] != zid:
                break
            buddy_mt = mt
            if order >= pageblock_order:
                buddy_mt = pbmt[buddy_pfn >> pageblock_order]
                if mt != buddy_mt and (not migratetype_is_mergeable(mt)
                                       or not migratetype_is_mergeable(buddy_mt)):
                    break
            self._del_page_from_free_list(zone, buddy_pfn, order, buddy_mt, me)
            if buddy_mt != mt:
                self.set_pageblock_migratetype(buddy_pfn, mt)
            pfn &= buddy_pfn
            order += 1
        f[pfn] |= PGTY_buddy
        ordv[pfn] = order
        cost += self._touch(pfn, cpu)
        if fpi & FPI_TO_TAIL:
            to_tail = True
        elif order >= MAX_PAGE_ORDER - 1:
            to_tail = False
        else:                                     # buddy_merge_likely
            higher = buddy_pfn & pfn
            hb = higher ^ (1 << (order + 1))
            to_tail = bool(f[hb] & PGTY_buddy) and ordv[hb] == order + 1 and zidv[hb] == zid
        me.debt += cost
        self._add_to_free_list(zone, pfn, order, mt, to_tail, me)

    def split_large_buddy(self, zone, pfn, order, fpi, me):
        end = pfn + (1 << order)
        if order > pageblock_order:
            order = pageblock_order
        pbmt = self.mem_map.pbmt
        while pfn != end:
            self.free_one_page_locked(zone, pfn, order, pbmt[pfn >> pageblock_order], fpi, me)
            pfn += 1 << order

    # ============================================================ pcp sizing
    def nr_pcp_alloc(self, pcp, zone, order: int) -> int:
        base = pcp.batch
        hmin, hmax = pcp.high_min, pcp.high_max
        high = pcp.high = min(max(pcp.high, hmin), hmax)
        if high < base:
            return 1
        batch = base if order else base << pcp.alloc_factor
        if hmin != hmax and not (zone.flags & ZONE_BELOW_HIGH):
            high = pcp.high = min(high + batch, hmax)
        if not order:
            max_nr = max(high - pcp.count - base, base)
            if batch <= max_nr and pcp.alloc_factor < self.scale_max:
                pcp.alloc_factor += 1
            batch = min(batch, max_nr)
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch

    def nr_pcp_high(self, pcp, zone, batch: int, free_high: bool) -> int:
        hmin, hmax = pcp.high_min, pcp.high_max
        high = pcp.high = min(max(pcp.high, hmin), hmax)
        if not high:
            return 0
        if free_high:
            pcp.high = max(high - (batch << self.scale_max), hmin)
            return 0
        if zone.flags & ZONE_RECLAIM_ACTIVE:
            fc = max(pcp.free_count, batch)
            pcp.high = max(high - fc, hmin)
            return min(batch << 2, pcp.high)
        if hmin == hmax:
            return high
        if zone.flags & ZONE_BELOW_HIGH:
            fc = max(pcp.free_count, batch)
            pcp.high = max(high - fc, hmin)
            high = max(pcp.count, hmin)
        elif pcp.count >= high:
            need = pcp.free_count + batch
            if pcp.high < need:
                pcp.high = min(max(need, hmin), hmax)
        return high

    def nr_pcp_free(self, pcp, batch: int, high: int, free_high: bool) -> int:
        if free_high:
            return min(pcp.count, batch << self.scale_max)
        if high < batch:
            return 1
        return min(max(pcp.free_count, batch), high - batch)

    # ====================================================== watermarks (sync)
    def zone_watermark_unusable_free(self, z, order, alloc_flags) -> int:
        unusable = (1 << order) - 1
        if not (alloc_flags & ALLOC_RESERVES):
            unusable += z.nr_free_highatomic
        return unusable

    def zone_watermark_ok_free(self, z, order, mark, highest_zoneidx, alloc_flags,
                               free_pages) -> bool:
        """__zone_watermark_ok."""
        mn = mark
        free_pages -= self.zone_watermark_unusable_free(z, order, alloc_flags)
        if alloc_flags & ALLOC_RESERVES:
            if alloc_flags & ALLOC_MIN_RESERVE:
                mn -= mn // 2
                if alloc_flags & ALLOC_NON_BLOCK:
                    mn -= mn // 4
            if alloc_flags & ALLOC_OOM:
                mn -= mn // 2
        if free_pages <= mn + z.lowmem_reserve[highest_zoneidx]:
            return False
        if not order:
            return True
        for o in range(order, NR_PAGE_ORDERS):
            area = z.free_area[o]
            if not area.nr_free:
                continue
            fl = area.free_list
            if fl[0] or fl[1] or fl[2]:
                return True
            if (alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM)) and fl[MIGRATE_HIGHATOMIC]:
                return True
        return False

    def zone_watermark_ok(self, z, order, mark, highest_zoneidx, alloc_flags) -> bool:
        return self.zone_watermark_ok_free(z, order, mark, highest_zoneidx, alloc_flags,
                                           max(z.vm_stat[NR_FREE_PAGES], 0))

    def zone_watermark_ok_safe(self, z, order, mark, highest_zoneidx) -> bool:
        free = max(z.vm_stat[NR_FREE_PAGES], 0)
        if z.percpu_drift_mark and free < z.percpu_drift_mark:
            free = self.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES)
        return self.zone_watermark_ok_free(z, order, mark, highest_zoneidx, 0, free)

    def zone_watermark_fast(self, z, order, mark, highest_zoneidx, alloc_flags, me) -> bool:
        me.debt += z.stat_line.read(me.cpu)
        return self.watermark_fast_ok(z, order, mark, highest_zoneidx, alloc_flags)

    def watermark_fast_ok(self, z, order, mark, highest_zoneidx, alloc_flags) -> bool:
        """zone_watermark_fast()'s decision, without its cost (the read of the
        zone's vmstat line): shared by the full path and the pcp-hit path."""
        free = z.vm_stat[NR_FREE_PAGES]
        if free < 0:
            free = 0
        if not order:
            reserved = (0 if alloc_flags & ALLOC_RESERVES else z.nr_free_highatomic)
            usable = free - min(free, reserved)
            if usable > mark + z.lowmem_reserve[highest_zoneidx]:
                return True
        if self.zone_watermark_ok_free(z, order, mark, highest_zoneidx, alloc_flags, free):
            return True
        if (not order and alloc_flags & ALLOC_MIN_RESERVE and z.watermark_boost
                and (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN):
            return self.zone_watermark_ok_free(z, order, z._watermark[WMARK_MIN],
                                               highest_zoneidx, alloc_flags, free)
        return False

    # ===================================================== async: zone->lock
    async def rmqueue_bulk(self, zone, order, count, lst, mt, alloc_flags, me, pcp=None) -> int:
        """Take ``count`` blocks under one hold of zone->lock onto ``lst``.
        Simplification: ``pcp->count`` is raised here, under the lock, rather
        than by the caller afterwards (the pcp is locked either way)."""
        spend = self.engine.spend
        flags = await zone.lock.lock_irqsave("rmqueue_bulk")
        i = 0
        rmq = self.rmqueue
        f = self.mem_map.f
        ordv = self.mem_map.ord
        while i < count:
            pfn = rmq(zone, order, mt, alloc_flags, me)
            if pfn < 0:
                break
            f[pfn] |= PG_pcp
            ordv[pfn] = order
            lst.appendleft(pfn)                    # list_add_tail
            i += 1
        if pcp is not None:
            pcp.count += i << order
        await spend(0)
        zone.lock.unlock_irqrestore(flags, "rmqueue_bulk")
        return i

    async def free_pcppages_bulk(self, zone, count, pcp, pindex, me, site="free_pcppages_bulk"):
        count = min(pcp.count, count)
        if count <= 0:
            return 0
        spend = self.engine.spend
        flags = await zone.lock.lock_irqsave(site)
        cpu = me.cpu
        me.debt += pcp.line.write(cpu)
        lists = pcp.lists
        nl = len(lists)
        pindex -= 1
        f, pbmt = self.mem_map.f, self.mem_map.pbmt
        freed = 0
        free1 = self.free_one_page_locked
        while count > 0:
            while True:
                pindex += 1
                if pindex > nl - 1:
                    pindex = 0
                lst = lists[pindex]
                if lst:
                    break
            order = pindex_to_order(pindex)
            nr = 1 << order
            while True:
                pfn = lst.popleft()                # list_last_entry: the coldest page
                f[pfn] &= ~PG_pcp
                count -= nr
                pcp.count -= nr
                freed += nr
                free1(zone, pfn, order, pbmt[pfn >> pageblock_order], FPI_NONE, me)
                if count <= 0 or not lst:
                    break
        await spend(0)
        zone.lock.unlock_irqrestore(flags, site)
        st = self.stats
        st.drains[pcp.cpu] += 1
        st.drain_objs[pcp.cpu] += freed
        return freed

    async def free_one_page(self, zone, pfn, order, fpi, me):
        spend = self.engine.spend
        flags = await zone.lock.lock_irqsave("free_one_page")
        self.split_large_buddy(zone, pfn, order, fpi, me)
        self.inflight.pop(pfn, None)
        await spend(0)
        zone.lock.unlock_irqrestore(flags, "free_one_page")
        self.vmstat.events[me.cpu][self.vmstat.PGFREE] += 1 << order

    async def rmqueue_buddy(self, preferred, zone, order, alloc_flags, mt, me) -> int:
        spend = self.engine.spend
        flags = await zone.lock.lock_irqsave("rmqueue_buddy")
        pfn = -1
        if alloc_flags & ALLOC_HIGHATOMIC:
            pfn = self.rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC, me)
        if pfn < 0:
            pfn = self.rmqueue(zone, order, mt, alloc_flags, me)
            if pfn < 0 and alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK):
                pfn = self.rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC, me)
        if pfn >= 0:
            self.inflight[pfn] = order             # off the lists, not yet prepared
        await spend(0)
        zone.lock.unlock_irqrestore(flags, "rmqueue_buddy")
        if pfn >= 0:
            self.buddy_allocs += 1
            self.account_alloc(preferred, zone, order, me)
        return pfn

    def zone_statistics(self, preferred, z, me):
        ev = z.vm_numa_event[me.cpu]
        if z.node == preferred.node:
            ev[NUMA_HIT] += 1
        else:
            ev[NUMA_MISS] += 1
            preferred.vm_numa_event[me.cpu][NUMA_FOREIGN] += 1
        ev[NUMA_OTHER if z.node != me.node else NUMA_LOCAL] += 1

    # =========================================================== async: pcp
    async def rmqueue_pcplist(self, preferred, zone, order, mt, alloc_flags, me) -> int:
        pcp = zone.per_cpu_pageset[me.cpu]
        st = self.stats
        cpu = me.cpu
        if not pcp.lock.trylock_now(me, "rmqueue_pcplist"):
            self.pcp_trylock_fail[cpu] += 1
            st.alloc_misses[cpu] += 1
            return -1
        pcp.free_count >>= 1
        lst = pcp.lists[order_to_pindex(mt, order)]
        if not lst:
            batch = self.nr_pcp_alloc(pcp, zone, order)
            alloced = await self.rmqueue_bulk(zone, order, batch, lst, mt, alloc_flags, me, pcp)
            st.alloc_misses[cpu] += 1
            st.refills[cpu] += 1
            st.refill_objs[cpu] += alloced
            if not lst:
                pcp.lock.unlock("rmqueue_pcplist")
                return -1
        else:
            st.alloc_hits[cpu] += 1
        pfn = self.pcp_take(pcp, lst, order, me)
        pcp.lock.unlock("rmqueue_pcplist")
        self.account_alloc(preferred, zone, order, me)
        return pfn

    # The synchronous pair under pcp->lock (the page's way off and onto a pcp
    # list), shared by the full paths and the pcp-hit paths.
    def pcp_take(self, pcp, lst, order, me) -> int:
        """The hot page off a pcp list (``__rmqueue_pcplist``'s list_del)."""
        pfn = lst.pop()
        pcp.count -= 1 << order
        self.mem_map.f[pfn] &= ~PG_pcp
        me.debt += pcp.line.write(me.cpu)
        return pfn

    def account_alloc(self, preferred, zone, order, me):
        """PGALLOC and the NUMA counters of one allocation from ``zone``."""
        self.vmstat.events[me.cpu][self.vmstat.PGALLOC[zone.zone_idx]] += 1 << order
        self.zone_statistics(preferred, zone, me)

    def clear_boost(self, zone, alloc_flags):
        """rmqueue()'s end: a boosted zone wakes kswapd to reclaim the boost."""
        if alloc_flags & ALLOC_KSWAPD and zone.flags & ZONE_BOOSTED_WATERMARK:
            zone.flags &= ~ZONE_BOOSTED_WATERMARK
            self.wakeup_kswapd(zone, 0, 0, zone.zone_idx)

    async def rmqueue_zone(self, preferred, zone, order, gfp, alloc_flags, mt, me) -> int:
        """rmqueue(): pcp lists for cheap orders, else the buddy under zone->lock."""
        pfn = -1
        if order <= PAGE_ALLOC_COSTLY_ORDER or (self.thp and order == HPAGE_PMD_ORDER):
            pfn = await self.rmqueue_pcplist(preferred, zone, order, mt, alloc_flags, me)
        if pfn < 0:
            pfn = await self.rmqueue_buddy(preferred, zone, order, alloc_flags, mt, me)
        self.clear_boost(zone, alloc_flags)
        return pfn

    def wakeup_kswapd(self, zone, gfp, order, highest_zoneidx):
        """Counted here; kswapd itself is mm/vmscan.py's (``VmScan.wakeup_kswapd``)."""
        self.kswapd_wakeups += 1
        if self.reclaim is not None:
            self.reclaim.wakeup_kswapd(zone, gfp, order, highest_zoneidx)

    def prep_new_page(self, pfn, order, gfp, alloc_flags, me):
        mm = self.mem_map
        cpu = me.cpu
        if mm.ref[pfn] or mm.f[pfn] & (PGTY_buddy | PG_reserved | PG_pcp):
            raise MMError(f"BUG: Bad page state in cpu{cpu} pfn:{pfn:05x}: allocating a page "
                          f"that is not free (refcount {mm.ref[pfn]}, flags {mm.f[pfn]:#x})",
                          now=self.engine.now, actor=me.name)
        if self.inflight:
            self.inflight.pop(pfn, None)
        mm.ref[pfn] = 1
        mm.ord[pfn] = order
        cost = self._touch(pfn, cpu)
        if order and gfp & _GFP_COMP:
            mm.f[pfn] = PG_head
            cost += ((1 << order) - 1) * self._l1      # prep_compound_tail on every tail page
        else:
            mm.f[pfn] = 0
        if gfp & _GFP_ZERO or self.init_on_alloc:
            cost += self.costs.page_zero_ns << order
        me.debt += cost

    # ================================================= get_page_from_freelist
    async def get_page_from_freelist(self, gfp, order, alloc_flags, ac, me) -> int:
        while True:
            no_fallback = alloc_flags & ALLOC_NOFRAGMENT
            pref = ac.preferred_zoneref
            hz = ac.highest_zoneidx
            for zone in ac.zonelist:
                if zone.zone_idx > hz:
                    continue
                if ac.nodemask is not None and zone.node not in ac.nodemask:
                    continue
                if no_fallback and self.nr_online_nodes > 1 and zone is not pref \
                        and zone.node != pref.node:
                    alloc_flags &= ~ALLOC_NOFRAGMENT
                    break                             # goto retry
                if not (zone.flags & ZONE_BELOW_HIGH):
                    if self.zone_watermark_fast(zone, order, zone.high_wmark_pages(), hz,
                                                alloc_flags, me):
                        pfn = await self.rmqueue_zone(pref, zone, order, gfp, alloc_flags,
                                                      ac.migratetype, me)
                        if pfn >= 0:
                            return await self._got_page(pfn, order, gfp, alloc_flags, zone, me)
                        continue
                    zone.flags |= ZONE_BELOW_HIGH
                mark = zone.wmark_pages(alloc_flags & ALLOC_WMARK_MASK)
                if not self.zone_watermark_fast(zone, order, mark, hz, alloc_flags, me):
                    if not (alloc_flags & ALLOC_NO_WATERMARKS):
                        continue                      # node_reclaim_mode is 0
                pfn = await self.rmqueue_zone(pref, zone, order, gfp, alloc_flags,
                                              ac.migratetype, me)
                if pfn >= 0:
                    return await self._got_page(pfn, order, gfp, alloc_flags, zone, me)
            else:
                if no_fallback:
                    alloc_flags &= ~ALLOC_NOFRAGMENT
                    continue
                return -1

    async def _got_page(self, pfn, order, gfp, alloc_flags, zone, me):
        self.prep_new_page(pfn, order, gfp, alloc_flags, me)
        if alloc_flags & ALLOC_HIGHATOMIC:
            await self.reserve_highatomic_pageblock(pfn, order, zone, me)
        return pfn

    # ============================================================ alloc API
    def prepare_alloc_pages(self, gfp: int, order: int, nid: int, nodemask=None):
        key = (gfp, nid, nodemask)
        r = self._ac_cache.get(key)
        if r is None:
            highest = gfp_zone(gfp, self.zone_dma)
            mt = MIGRATE_UNMOVABLE if self.page_group_by_mobility_disabled else gfp_migratetype(gfp)
            zl = self.nodes[nid].node_zonelists
            if gfp & _GFP_THISNODE:
                zl = [z for z in zl if z.node == nid]
            ac = AllocContext(zl, nodemask, mt, highest)
            flags = ALLOC_WMARK_LOW | self.alloc_flags_nofragment(ac.preferred_zoneref, gfp)
            r = self._ac_cache[key] = (ac, flags)
        return r

    def alloc_flags_nofragment(self, zone, gfp: int) -> int:
        flags = gfp & _GFP_KSWAPD_RECLAIM               # == ALLOC_KSWAPD
        if zone is None or zone.zone_idx != ZONE_NORMAL:
            return flags
        dma32 = zone.zone_pgdat.node_zones[ZONE_DMA32]
        if self.nr_online_nodes > 1 and not dma32.populated():
            return flags
        return flags | ALLOC_NOFRAGMENT

    def alloc_pages_nowait(self, gfp: int, order: int = 0, nid: int = -1, nodemask=None):
        """``__alloc_pages`` when its first zone's pcp list serves it without
        waiting: what the full path does in that case, synchronously.  The pfn,
        or None (nothing done) when the full path must run."""
        me = self.engine.current
        if self._reg.on_map_acquire or self._reg.on_might_sleep:
            # prepare_alloc_pages' might_alloc(gfp_mask), for every allocation
            # (the full path below enters here first; a caller that retries
            # with alloc_pages after None repeats it, which lockdep's chain
            # cache absorbs)
            might_alloc(me, gfp, _alloc_site())
        if order > PAGE_ALLOC_COSTLY_ORDER and not (self.thp and order == HPAGE_PMD_ORDER):
            return None
        cpu = me.cpu
        if nid < 0:
            nid = self.node_of[cpu]
        r = self._ac_cache.get((gfp, nid, nodemask))
        if r is None:
            r = self.prepare_alloc_pages(gfp, order, nid, nodemask)
        ac, alloc_flags = r
        zone = ac.preferred_zoneref
        if zone is None:
            return None
        pcp = zone.per_cpu_pageset[cpu]
        lst = pcp.lists[ac.migratetype if not order else order_to_pindex(ac.migratetype, order)]
        lk = pcp.lock
        if not lst or lk.owner is not None or lk.waiters:
            return None
        # get_page_from_freelist's watermark test for the first zone
        mark = zone.wmark_pages(alloc_flags & ALLOC_WMARK_MASK) if zone.flags & ZONE_BELOW_HIGH \
            else zone._watermark[WMARK_HIGH] + zone.watermark_boost
        if not self.watermark_fast_ok(zone, order, mark, ac.highest_zoneidx, alloc_flags):
            return None
        me.debt += zone.stat_line.read(cpu)    # zone_watermark_fast's read
        lk.try_pass(me, "rmqueue_pcplist")     # pcp_spin_trylock ... pcp_spin_unlock
        pcp.free_count >>= 1
        self.stats.alloc_hits[cpu] += 1
        pfn = self.pcp_take(pcp, lst, order, me)
        # account_alloc with the preferred zone itself: zone_statistics is a NUMA hit
        vs = self.vmstat
        vs.events[cpu][vs.PGALLOC[zone.zone_idx]] += 1 << order
        ev = zone.vm_numa_event[cpu]
        ev[NUMA_HIT] += 1
        ev[NUMA_OTHER if zone.node != me.node else NUMA_LOCAL] += 1
        if zone.flags & ZONE_BOOSTED_WATERMARK:        # clear_boost's test
            self.clear_boost(zone, alloc_flags)
        self.prep_new_page(pfn, order, gfp, alloc_flags, me)
        return pfn

    async def alloc_pages(self, gfp: int, order: int = 0, nid: int = -1, nodemask=None) -> int:
        """``__alloc_pages(gfp, order, preferred_nid, nodemask)``: the pfn of a
        block of 2**order pages, or -1 (NULL).  ``nid`` -1 is the local node."""
        pfn = self.alloc_pages_nowait(gfp, order, nid, nodemask)
        if pfn is not None:
            return pfn
        eng = self.engine
        me = eng.current
        if order > MAX_PAGE_ORDER:
            self._warn(me, gfp, order, "order > MAX_PAGE_ORDER")
            return -1
        # The task's memalloc_no{fs,io}_save scope (current_gfp_context, which
        # __alloc_pages applies first): applied here, on the full path only,
        # because the scope's bits (__GFP_FS, __GFP_IO) change nothing the
        # pcp fast path above decides (no task here is PF_MEMALLOC_PIN).
        gfp = current_gfp_context(me, gfp)
        if nid < 0:
            nid = self.node_of[me.cpu]
        ac, alloc_flags = self.prepare_alloc_pages(gfp, order, nid, nodemask)
        if ac.preferred_zoneref is None:
            return await self._nopage(gfp, order, ac, me)
        pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
        if pfn < 0:
            pfn = await self.alloc_pages_slowpath(gfp, order, ac, me)
        return pfn                      # the costs left are paid at the caller's next spend

    def gfp_to_alloc_flags(self, gfp: int, order: int, ac) -> int:
        alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
        alloc_flags |= gfp & (_GFP_HIGH | _GFP_KSWAPD_RECLAIM)     # MIN_RESERVE, KSWAPD
        if not (gfp & _GFP_DIRECT_RECLAIM):
            if not (gfp & _GFP_NOMEMALLOC):
                alloc_flags |= ALLOC_NON_BLOCK
                if order > 0:
                    alloc_flags |= ALLOC_HIGHATOMIC
            if alloc_flags & ALLOC_MIN_RESERVE:
                alloc_flags &= ~ALLOC_CPUSET
        return alloc_flags

    def wake_all_kswapds(self, order, gfp, ac):
        last = None
        for z in ac.zonelist:
            if z.zone_idx > ac.highest_zoneidx or not z.managed_pages:
                continue
            if z.zone_pgdat is not last:
                self.wakeup_kswapd(z, gfp, order, ac.highest_zoneidx)
                last = z.zone_pgdat

    async def alloc_pages_slowpath(self, gfp, order, ac, me) -> int:
        """__alloc_pages_slowpath.  With address spaces (``self.reclaim``: mm/vmscan.py)
        direct reclaim and the OOM killer run; a machine of physical memory only has
        no LRU pages and no tasks, so there reclaim and OOM make no progress (the
        second branch below).  Direct compaction is not modelled (COMPACT_SKIPPED)."""
        self.slowpath += 1
        can_direct_reclaim = bool(gfp & _GFP_DIRECT_RECLAIM)
        costly = order > PAGE_ALLOC_COSTLY_ORDER
        nofail = bool(gfp & _GFP_NOFAIL)
        alloc_flags = self.gfp_to_alloc_flags(gfp, order, ac)
        if alloc_flags & ALLOC_KSWAPD:
            self.wake_all_kswapds(order, gfp, ac)
        pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
        if pfn >= 0:
            return pfn
        # Direct compaction first for costly orders and unmovable high orders
        # (mm/compaction.py; without address spaces there is nothing to migrate
        # and compaction is not attempted: COMPACT_SKIPPED).
        comp = self.compaction
        can_compact = comp is not None and bool(gfp & _GFP_IO)     # gfp_compaction_allowed
        compact_priority = DEF_COMPACT_PRIORITY
        compact_result = COMPACT_SKIPPED
        compaction_retries = 0
        if can_direct_reclaim and can_compact and (
                costly or (order > 0 and ac.migratetype != MIGRATE_MOVABLE)) \
                and not gfp & _GFP_MEMALLOC:                    # !gfp_pfmemalloc_allowed
            pfn, compact_result = await self.alloc_pages_direct_compact(
                gfp, order, alloc_flags, ac, INIT_COMPACT_PRIORITY, me)
            if pfn >= 0:
                return pfn
            if costly and gfp & _GFP_NORETRY:
                # THP and other opportunistic costly allocations: give up when
                # compaction was skipped or deferred, else one more try below
                # at the same (async) priority after reclaim.
                if compact_result in (COMPACT_SKIPPED, COMPACT_DEFERRED):
                    return await self._nopage(gfp, order, ac, me)
                compact_priority = INIT_COMPACT_PRIORITY
        no_progress_loops = 0
        drained = False
        while True:                                                    # retry:
            if alloc_flags & ALLOC_KSWAPD:
                self.wake_all_kswapds(order, gfp, ac)
            if not (gfp & _GFP_NOMEMALLOC) and (gfp & _GFP_MEMALLOC or (
                    current_flags(me) & PF_MEMALLOC and not in_interrupt(me))):
                # __gfp_pfmemalloc_flags: __GFP_MEMALLOC, or a PF_MEMALLOC task
                # (reclaim, kswapd) in process context (the in_serving_softirq
                # case: no softirq allocates here)
                alloc_flags = ALLOC_NO_WATERMARKS | (alloc_flags & ALLOC_KSWAPD)
            pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
            if pfn >= 0:
                return pfn
            if not can_direct_reclaim:
                break
            if current_flags(me) & PF_MEMALLOC:
                break                          # avoid recursion of direct reclaim
            if self.reclaim is not None and not (gfp & _GFP_NOMEMALLOC) \
                    and self.reclaim.current_is_oom_victim(me):
                # __gfp_pfmemalloc_flags: an OOM victim may dip into the
                # reserves (ALLOC_OOM) once, then gives up (goto nopage)
                # rather than loop: it is exiting anyway.
                pfn = await self.get_page_from_freelist(gfp, order, ALLOC_OOM | (
                    alloc_flags & ALLOC_KSWAPD), ac, me)
                if pfn >= 0:
                    return pfn
                break
            if self.reclaim is not None:
                pfn, progress = await self.alloc_pages_direct_reclaim(gfp, order, alloc_flags,
                                                                      ac, me)
                if pfn >= 0:
                    return pfn
                if can_compact and order:
                    pfn, compact_result = await self.alloc_pages_direct_compact(
                        gfp, order, alloc_flags, ac, compact_priority, me)
                    if pfn >= 0:
                        return pfn
                if gfp & _GFP_NORETRY:
                    break
                if costly and (not can_compact or not (gfp & _GFP_RETRY_MAYFAIL)):
                    break
                no_progress_loops, retry = await self.should_reclaim_retry_progress(
                    gfp, order, ac, alloc_flags, progress > 0, no_progress_loops, me)
                if retry:
                    continue
                if progress > 0 and can_compact:
                    compact_priority, compaction_retries, retry = self.should_compact_retry(
                        ac, order, alloc_flags, compact_result, compact_priority,
                        compaction_retries)
                    if retry:
                        continue
                pfn, progress = await self.alloc_pages_may_oom(gfp, order, ac, me)
                if pfn >= 0:
                    return pfn
                if progress:
                    no_progress_loops = 0
                    continue
                break
            # No address spaces: try_to_free_pages finds no LRU page (progress 0);
            # ALLOCSTALL is counted in the reclaim_idx zone as do_try_to_free_pages does.
            ev = self.vmstat.ALLOCSTALL
            self.vmstat.events[me.cpu][ev.get(ac.highest_zoneidx, ev[max(ev)])] += 1
            if not drained:
                drained = True
                await self.unreserve_highatomic_pageblock(ac, False, me)
                await self.drain_all_pages(None)
                pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
                if pfn >= 0:
                    return pfn
            if gfp & _GFP_NORETRY:
                break
            if costly and not (gfp & _GFP_RETRY_MAYFAIL):
                break
            if await self.should_reclaim_retry(gfp, order, ac, alloc_flags, False,
                                               no_progress_loops, me):
                no_progress_loops += 1
                continue
            # __alloc_pages_may_oom: one last try at the high mark; with no task
            # to kill, out_of_memory() makes no progress.
            a2 = ALLOC_WMARK_HIGH | ALLOC_CPUSET
            pfn = await self.get_page_from_freelist(gfp | _GFP_HARDWALL, order, a2, ac, me)
            if pfn >= 0:
                return pfn
            break
        if nofail and can_direct_reclaim:
            # Loop with ALLOC_MIN_RESERVE, letting virtual time pass (cond_resched).
            while True:
                pfn = await self.get_page_from_freelist(gfp, order, ALLOC_MIN_RESERVE, ac, me)
                if pfn >= 0:
                    return pfn
                await self.engine.spend(self.costs.context_switch_ns)
        return await self._nopage(gfp, order, ac, me)

    async def alloc_pages_direct_reclaim(self, gfp, order, alloc_flags, ac, me):
        """__alloc_pages_direct_reclaim: __perform_reclaim (try_to_free_pages),
        then the freelists, once more after unreserving highatomic blocks and
        drain_all_pages if that fails.  Returns (pfn or -1, pages reclaimed).
        __perform_reclaim holds the fs_reclaim lockdep map (mm/sched_mm.py)
        around try_to_free_pages and runs it with PF_MEMALLOC
        (memalloc_noreclaim_save), so allocations inside reclaim do not take
        fs_reclaim again, nor enter direct reclaim themselves, and may use
        the reserves (alloc_pages_slowpath's PF_MEMALLOC rules)."""
        site = "__perform_reclaim (mm/page_alloc.c)"
        fs_reclaim_acquire(me, gfp, site)
        noreclaim_flag = memalloc_noreclaim_save(me)
        progress = await self.reclaim.try_to_free_pages(ac.zonelist, order, gfp, ac.nodemask, me)
        memalloc_noreclaim_restore(me, noreclaim_flag)
        fs_reclaim_release(me, gfp, site)
        if not progress:
            return -1, 0
        drained = False
        while True:
            pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
            if pfn >= 0 or drained:
                return pfn, progress
            await self.unreserve_highatomic_pageblock(ac, False, me)
            await self.drain_all_pages(None)
            drained = True

    async def alloc_pages_direct_compact(self, gfp, order, alloc_flags, ac, prio, me):
        """__alloc_pages_direct_compact: try_to_compact_pages at ``prio``, then
        the free lists (no capture_control: the page compaction freed may be
        taken by another CPU first).  Returns (pfn or -1, compact_result)."""
        if not order:
            return -1, COMPACT_SKIPPED
        comp = self.compaction
        t0 = self.engine.now
        noreclaim_flag = memalloc_noreclaim_save(me)
        result = await comp.try_to_compact_pages(gfp, order, alloc_flags, ac, prio, me)
        memalloc_noreclaim_restore(me, noreclaim_flag)
        comp.stall_ns += self.engine.now - t0
        if result == COMPACT_SKIPPED:
            return -1, result
        comp.count(me, "compact_stall")
        pfn = await self.get_page_from_freelist(gfp, order, alloc_flags, ac, me)
        if pfn >= 0:
            zone = self.zone_of(pfn)
            zone.compact_blockskip_flush = False
            comp.compaction_defer_reset(zone, order, True)
            comp.count(me, "compact_success")
            return pfn, result
        comp.count(me, "compact_fail")
        return -1, result

    def should_compact_retry(self, ac, order, alloc_flags, compact_result, compact_priority,
                             compaction_retries):
        """should_compact_retry: (priority, retries, retry?).  Skipped: retry
        if reclaim could make some zone suitable; success: up to
        MAX_COMPACT_RETRIES (a quarter for costly orders); otherwise raise the
        priority down to MIN_COMPACT_PRIORITY (MIN_COMPACT_COSTLY_PRIORITY
        for costly orders)."""
        if not order:
            return compact_priority, compaction_retries, False
        if compact_result == COMPACT_SKIPPED:
            return compact_priority, compaction_retries, \
                self.compaction.compaction_zonelist_suitable(ac, order, alloc_flags)
        if compact_result == COMPACT_SUCCESS:
            max_retries = MAX_COMPACT_RETRIES
            if order > PAGE_ALLOC_COSTLY_ORDER:
                max_retries //= 4
            compaction_retries += 1
            if compaction_retries <= max_retries:
                return compact_priority, compaction_retries, True
        min_priority = MIN_COMPACT_COSTLY_PRIORITY if order > PAGE_ALLOC_COSTLY_ORDER \
            else MIN_COMPACT_PRIORITY
        if compact_priority > min_priority:
            return compact_priority - 1, compaction_retries, True
        return compact_priority, compaction_retries, False

    async def alloc_pages_may_oom(self, gfp, order, ac, me):
        """__alloc_pages_may_oom: oom_lock by trylock (a loser sleeps a jiffy
        and counts as progress), one last try at the high mark, then
        out_of_memory() (mm/oom_kill.py) unless the request is one the
        kernel will not OOM-kill for.  Returns (pfn or -1, progress)."""
        self.oom_reached += 1
        locked, progress = await self.reclaim.alloc_pages_may_oom(me)
        if not locked:
            return -1, progress
        oom = self.reclaim.oom
        try:
            a2 = ALLOC_WMARK_HIGH | ALLOC_CPUSET
            pfn = await self.get_page_from_freelist(gfp | _GFP_HARDWALL, order, a2, ac, me)
            if pfn >= 0:
                return pfn, False
            if gfp & _GFP_NOFAIL:
                pass
            elif order > PAGE_ALLOC_COSTLY_ORDER or gfp & _GFP_RETRY_MAYFAIL \
                    or ac.highest_zoneidx < ZONE_NORMAL or gfp & _GFP_THISNODE:
                return -1, False                     # the OOM killer cannot help these
            progress = await oom.out_of_memory(gfp, order, me)
            return -1, progress
        finally:
            oom.oom_lock.unlock("__alloc_pages_may_oom")

    async def should_reclaim_retry_progress(self, gfp, order, ac, alloc_flags, did_progress,
                                            no_progress_loops, me):
        """should_reclaim_retry with reclaim modelled: progress at a cheap order
        resets the loop count; more than MAX_RECLAIM_RETRIES loops without it
        end the retries; otherwise retry while some zone would meet its min
        mark with its free plus reclaimable pages.  Returns (loops, retry).
        Simplification: zone_reclaimable_pages is the node's LRU pages (anon
        only with free swap) split over its zones by managed size."""
        if did_progress and order <= PAGE_ALLOC_COSTLY_ORDER:
            no_progress_loops = 0
        else:
            no_progress_loops += 1
        if no_progress_loops > MAX_RECLAIM_RETRIES:
            return no_progress_loops, await self.unreserve_highatomic_pageblock(ac, True, me)
        rec = self.reclaim
        for z in ac.zonelist:
            if z.zone_idx > ac.highest_zoneidx:
                continue
            available = rec.zone_reclaimable_pages(z)
            available += self.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES)
            if self.zone_watermark_ok_free(z, order, z.min_wmark_pages(), ac.highest_zoneidx,
                                           alloc_flags, available):
                await self.engine.spend(self.costs.context_switch_ns)     # cond_resched
                return no_progress_loops, True
        return no_progress_loops, await self.unreserve_highatomic_pageblock(ac, True, me)

    async def should_reclaim_retry(self, gfp, order, ac, alloc_flags, progress, loops, me):
        if loops + 1 > MAX_RECLAIM_RETRIES:
            return await self.unreserve_highatomic_pageblock(ac, True, me)
        for z in ac.zonelist:
            if z.zone_idx > ac.highest_zoneidx:
                continue
            available = self.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES)
            if self.zone_watermark_ok_free(z, order, z.min_wmark_pages(), ac.highest_zoneidx,
                                           alloc_flags, available):
                # Free memory would do but the allocation failed: fragmentation
                # or pages racing away.  Give the other CPUs a moment.
                await self.engine.spend(self.costs.context_switch_ns)
                return True
        return await self.unreserve_highatomic_pageblock(ac, True, me)

    async def _nopage(self, gfp, order, ac, me) -> int:
        self._warn(me, gfp, order, "page allocation failure")
        return -1

    def _warn(self, me, gfp, order, what):
        key = (order, gfp)
        self.failures[key] = self.failures.get(key, 0) + 1
        if not (gfp & _GFP_NOWARN) and len(self.failure_lines) < 20:
            self.failure_lines.append(
                f"{me.name}: {what}: order:{order}, mode:{gfp:#x}({format_gfp(gfp)}), "
                f"nodemask=(null) at {self.engine.now} ns")

    # ======================================================= highatomic
    async def reserve_highatomic_pageblock(self, pfn, order, zone, me):
        if zone.managed_pages // 100 < pageblock_nr_pages:
            return
        max_managed = -(-(zone.managed_pages // 100) // pageblock_nr_pages) * pageblock_nr_pages
        if zone.nr_reserved_highatomic >= max_managed:
            return
        spend = self.engine.spend
        flags = await zone.lock.lock_irqsave("reserve_highatomic_pageblock")
        if zone.nr_reserved_highatomic < max_managed:
            mt = self.mem_map.pbmt[pfn >> pageblock_order]
            if migratetype_is_mergeable(mt):
                if order < pageblock_order:
                    if self.move_freepages_block(zone, pfn, mt, MIGRATE_HIGHATOMIC, me) != -1:
                        zone.nr_reserved_highatomic += pageblock_nr_pages
                else:
                    self.change_pageblock_range(pfn, order, MIGRATE_HIGHATOMIC)
                    zone.nr_reserved_highatomic += 1 << order
        await spend(0)
        zone.lock.unlock_irqrestore(flags, "reserve_highatomic_pageblock")

    async def unreserve_highatomic_pageblock(self, ac, force, me) -> bool:
        spend = self.engine.spend
        for zone in ac.zonelist:
            if zone.zone_idx > ac.highest_zoneidx:
                continue
            if not force and zone.nr_reserved_highatomic <= pageblock_nr_pages:
                continue
            flags = await zone.lock.lock_irqsave("unreserve_highatomic_pageblock")
            for order in range(NR_PAGE_ORDERS):
                lst = zone.free_area[order].free_list[MIGRATE_HIGHATOMIC]
                if not lst:
                    continue
                pfn = next(reversed(lst))
                mt = self.mem_map.pbmt[pfn >> pageblock_order]
                if mt == MIGRATE_HIGHATOMIC:
                    size = min(max(pageblock_nr_pages, 1 << order), zone.nr_reserved_highatomic)
                    zone.nr_reserved_highatomic -= size
                if order < pageblock_order:
                    ret = self.move_freepages_block(zone, pfn, mt, ac.migratetype, me)
                else:
                    self.move_to_free_list(zone, pfn, order, mt, ac.migratetype, me)
                    self.change_pageblock_range(pfn, order, ac.migratetype)
                    ret = 1
                if ret > 0:
                    await spend(0)
                    zone.lock.unlock_irqrestore(flags, "unreserve_highatomic_pageblock")
                    return True
            await spend(0)
            zone.lock.unlock_irqrestore(flags, "unreserve_highatomic_pageblock")
        return False

    # ============================================================= free API
    async def free_pages(self, pfn: int, order: int = 0):
        """``__free_pages(page, order)``: drop the reference, free at zero."""
        cont = self.free_pages_nowait(pfn, order)
        if cont is not None:
            await cont

    def free_pages_nowait(self, pfn: int, order: int = 0):
        """``__free_pages`` up to its first wait: returns None when the page is
        freed (onto the pcp list, the common case), else a coroutine that
        finishes the free (zone->lock is needed) and must be awaited."""
        mm = self.mem_map
        me = self.engine.current
        r = mm.ref[pfn]
        if r <= 0 or mm.f[pfn] & (PGTY_buddy | PG_pcp | PG_reserved):
            raise MMError(f"BUG: Bad page state in {me.name} pfn:{pfn:05x}: freeing a page that "
                          f"is not allocated (refcount {r}, flags {mm.f[pfn]:#x})",
                          now=self.engine.now, actor=me.name)
        if r > 1:
            mm.ref[pfn] = r - 1
            return None
        if self.folio_parts and pfn in self.folio_parts and order == 0:
            return self.folio_part_put(pfn)
        if mm.ord[pfn] != order:
            raise MMError(f"BUG: Bad page state in {me.name} pfn:{pfn:05x}: freed at order "
                          f"{order}, allocated at order {mm.ord[pfn]}", now=self.engine.now,
                          actor=me.name)
        mm.ref[pfn] = 0
        mm.f[pfn] = 0                                  # free_pages_prepare clears the flags
        self.inflight[pfn] = order                     # until it is on a pcp or buddy list
        cpu = me.cpu
        me.debt += self._touch(pfn, cpu)
        zone = self.zones[mm.zid[pfn]]
        if not (order <= PAGE_ALLOC_COSTLY_ORDER or (self.thp and order == HPAGE_PMD_ORDER)):
            return self.free_one_page(zone, pfn, order, FPI_NONE, me)     # __free_pages_ok
        # free_unref_page
        mt = mm.pbmt[pfn >> pageblock_order]
        if mt >= MIGRATE_PCPTYPES:
            mt = MIGRATE_MOVABLE
        pcp = zone.per_cpu_pageset[cpu]
        lk = pcp.lock
        if lk.owner is not None or lk.waiters:          # pcp_spin_trylock fails
            me.debt += lk.line.read(cpu)
            self.pcp_trylock_fail[cpu] += 1
            self.stats.free_misses[cpu] += 1
            return self.free_one_page(zone, pfn, order, FPI_NONE, me)
        # The commit runs without waiting: take and drop the lock around it as
        # one pass, unless a batch must go back to the buddy (then hold it).
        need = self.free_unref_page_commit(zone, pcp, pfn, mt, order, me)
        if need is None:
            lk.try_pass(me, "free_unref_page")
            return None
        lk.trylock_now(me, "free_unref_page")
        return self._free_unref_page_bulk(zone, pcp, need, me)

    def free_unref_page_commit(self, zone, pcp, pfn, mt, order, me):
        """The page onto the pcp list, and the high/batch decisions.  Returns
        None, or (count, pindex) when a batch must go back to the buddy
        (``free_pcppages_bulk``, which needs zone->lock)."""
        cpu = me.cpu
        pcp.alloc_factor >>= 1
        self.vmstat.events[cpu][self.vmstat.PGFREE] += 1 << order
        pindex = order_to_pindex(mt, order)
        pcp.lists[pindex].append(pfn)                  # list_add: the new head
        del self.inflight[pfn]
        mm = self.mem_map
        mm.f[pfn] = PG_pcp
        mm.ord[pfn] = order
        pcp.count += 1 << order
        me.debt += pcp.line.write(cpu)
        batch = pcp.batch
        free_high = False
        if order and order <= PAGE_ALLOC_COSTLY_ORDER:
            free_high = (pcp.free_count >= batch and bool(pcp.flags & PCPF_PREV_FREE_HIGH_ORDER)
                         and (not (pcp.flags & PCPF_FREE_HIGH_BATCH) or pcp.count >= batch))
            pcp.flags |= PCPF_PREV_FREE_HIGH_ORDER
        elif pcp.flags & PCPF_PREV_FREE_HIGH_ORDER:
            pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
        if pcp.free_count < (batch << self.scale_max):
            pcp.free_count += 1 << order
        high = self.nr_pcp_high(pcp, zone, batch, free_high)
        if pcp.count >= high:
            self.stats.free_misses[cpu] += 1
            return self.nr_pcp_free(pcp, batch, high, free_high), pindex
        self.stats.free_hits[cpu] += 1
        return None

    async def _free_unref_page_bulk(self, zone, pcp, need, me):
        count, pindex = need
        await self.free_pcppages_bulk(zone, count, pcp, pindex, me)
        if zone.flags & ZONE_BELOW_HIGH and self.zone_watermark_ok(
                zone, 0, zone.high_wmark_pages(), ZONE_MOVABLE, 0):
            zone.flags &= ~ZONE_BELOW_HIGH
        pcp.lock.unlock("free_unref_page")

    # ============================================================= draining
    async def drain_pages_zone(self, cpu: int, zone, me=None):
        """Drain ``cpu``'s pcp of ``zone`` from the current actor (maybe remote)."""
        me = me or self.engine.current
        pcp = zone.per_cpu_pageset[cpu]
        spend = self.engine.spend
        while True:
            await pcp.lock.lock("drain_pages_zone")
            me.debt += pcp.line.write(me.cpu)
            count = pcp.count
            if count:
                to_drain = min(count, pcp.batch << self.scale_max)
                await self.free_pcppages_bulk(zone, to_drain, pcp, 0, me,
                                              site="drain_pages_zone")
                count -= to_drain
            if me.debt:
                await spend(0)
            pcp.lock.unlock("drain_pages_zone")
            if not count:
                break

    async def drain_pages(self, cpu: int, me=None):
        for z in self.populated:
            await self.drain_pages_zone(cpu, z, me)

    async def drain_local_pages(self, zone=None):
        me = self.engine.current
        if zone is not None:
            await self.drain_pages_zone(me.cpu, zone, me)
        else:
            await self.drain_pages(me.cpu, me)

    async def drain_all_pages(self, zone=None, force_all_cpus: bool = False, via: str = "remote"):
        """``__drain_all_pages``.  ``via="remote"`` is 6.12: the caller drains each
        CPU's lists under that CPU's pcp->lock.  ``via="work"`` queues
        ``drain_local_pages`` on every such CPU's kworker and waits for them
        (``flush_work``), as kernels up to 5.18 did with mm_percpu_wq."""
        me = self.engine.current
        if not await self.pcpu_drain_mutex.trylock("__drain_all_pages"):
            if zone is None:
                return
            await self.pcpu_drain_mutex.lock("__drain_all_pages")
        cpus = []
        for cpu in range(self.ncpus):
            if force_all_cpus:
                has = True
            elif zone is not None:
                has = zone.per_cpu_pageset[cpu].count > 0
            else:
                has = any(z.per_cpu_pageset[cpu].count for z in self.populated)
            if has:
                cpus.append(cpu)
        if via == "work" and self.queue_work_on is not None:
            works = []
            for cpu in cpus:
                async def fn(kw, _z=zone):
                    await self.drain_local_pages(_z)
                works.append(self.queue_work_on(cpu, fn, "drain_local_pages"))
            if me.debt:
                await self.engine.spend(0)
            for w in works:
                await w.done.wait()
        else:
            for cpu in cpus:
                if zone is not None:
                    await self.drain_pages_zone(cpu, zone, me)
                else:
                    await self.drain_pages(cpu, me)
        if me.debt:
            await self.engine.spend(0)
        self.pcpu_drain_mutex.unlock("__drain_all_pages")

    async def decay_pcp_high(self, zone, pcp, me) -> int:
        """Called from vmstat_update: shrink pcp->high by 1/8 towards high_min and
        free what is above it."""
        todo = 0
        hmin, batch = pcp.high_min, pcp.batch
        if pcp.high > hmin:
            pcp.high = max(pcp.count - (batch << self.scale_max), pcp.high - (pcp.high >> 3), hmin)
            if pcp.high > hmin:
                todo += 1
        to_drain = pcp.count - pcp.high
        if to_drain > 0:
            await pcp.lock.lock("decay_pcp_high")
            await self.free_pcppages_bulk(zone, to_drain, pcp, 0, me, site="decay_pcp_high")
            pcp.lock.unlock("decay_pcp_high")
            todo += 1
        return todo

    async def drain_zone_pages(self, zone, pcp, me):
        to_drain = min(pcp.count, pcp.batch)
        if to_drain > 0:
            await pcp.lock.lock("drain_zone_pages")
            await self.free_pcppages_bulk(zone, to_drain, pcp, 0, me, site="drain_zone_pages")
            pcp.lock.unlock("drain_zone_pages")

    async def refresh_cpu_vm_stats(self, do_pagesets: bool = True) -> int:
        """mm/vmstat.c refresh_cpu_vm_stats() for the current CPU."""
        me = self.engine.current
        cpu = me.cpu
        numa = self.nr_online_nodes > 1
        for z in self.populated:
            if any(z.vm_stat_diff[cpu]) and numa:
                z.per_cpu_pageset[cpu].expire = 3
        changes = self.vmstat.fold_cpu_diffs(cpu, me)
        if do_pagesets:
            for z in self.populated:
                pcp = z.per_cpu_pageset[cpu]
                changes += await self.decay_pcp_high(z, pcp, me)
                if not numa or not pcp.expire or not pcp.count:
                    continue
                if z.node == self.node_of[cpu]:
                    pcp.expire = 0
                    continue
                pcp.expire -= 1
                if pcp.expire:
                    changes += 1
                    continue
                if pcp.count:
                    await self.drain_zone_pages(z, pcp, me)
                    changes += 1
        if me.debt:
            await self.engine.spend(0)
        return changes

    # ============================================================== checks
    def nr_free_pages(self, zone) -> int:
        return sum(area.nr_free << o for o, area in enumerate(zone.free_area))

    def _check(self) -> None:
        """Every frame is in exactly one place; counts agree; buddies are merged."""
        mm = self.mem_map
        for z in self.populated:
            s, e = z.zone_start_pfn, z.end_pfn
            starts, sizes = [], []
            free_pages = 0
            highatomic = 0
            for o, area in enumerate(z.free_area):
                n = 0
                for mt, lst in enumerate(area.free_list):
                    for pfn in lst:
                        assert s <= pfn and pfn + (1 << o) <= e, f"{z}: block {pfn}/{o} outside"
                        assert pfn & ((1 << o) - 1) == 0, f"{z}: block {pfn}/{o} misaligned"
                        assert mm.f[pfn] & PGTY_buddy, f"{z}: free block {pfn} not PageBuddy"
                        assert mm.ord[pfn] == o, f"{z}: block {pfn} order {mm.ord[pfn]} != {o}"
                        assert mm.ref[pfn] == 0, f"{z}: free block {pfn} has a refcount"
                        nblocks = max(1, (1 << o) >> pageblock_order)
                        for b in range(nblocks):
                            bmt = mm.pbmt[(pfn >> pageblock_order) + b]
                            assert bmt == mt, (f"{z}: block {pfn}/{o} on the {mt} list but "
                                               f"pageblock type {bmt}")
                        if o < MAX_PAGE_ORDER:
                            bud = pfn ^ (1 << o)
                            if mm.f[bud] & PGTY_buddy and mm.ord[bud] == o:
                                bmt2 = mm.pbmt[bud >> pageblock_order]
                                assert o >= pageblock_order and not (
                                    migratetype_is_mergeable(mt) and
                                    migratetype_is_mergeable(bmt2)), \
                                    f"{z}: block {pfn}/{o} and its buddy {bud} are both free"
                        starts.append(pfn)
                        sizes.append(1 << o)
                        free_pages += 1 << o
                        if mt == MIGRATE_HIGHATOMIC:
                            highatomic += 1 << o
                    n += len(lst)
                assert n == area.nr_free, f"{z}: nr_free[{o}] {area.nr_free} != {n}"
            snap = self.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES)
            assert snap == free_pages, f"{z}: NR_FREE_PAGES {snap} != free blocks {free_pages}"
            assert z.nr_free_highatomic == highatomic, \
                f"{z}: nr_free_highatomic {z.nr_free_highatomic} != {highatomic}"
            for pcp in z.per_cpu_pageset:
                cnt = 0
                for pindex, lst in enumerate(pcp.lists):
                    o = pindex_to_order(pindex)
                    for pfn in lst:
                        assert mm.f[pfn] & PG_pcp, f"{z}: pcp page {pfn} not marked"
                        assert mm.ord[pfn] == o and mm.zid[pfn] == z.zid
                        assert mm.ref[pfn] == 0, f"{z}: pcp page {pfn} has a refcount"
                        starts.append(pfn)
                        sizes.append(1 << o)
                        cnt += 1 << o
                assert cnt == pcp.count, f"{z} cpu{pcp.cpu}: pcp count {pcp.count} != {cnt}"
            for pfn, o in self.inflight.items():
                if s <= pfn < e:
                    starts.append(pfn)
                    sizes.append(1 << o)
            # allocated (and reserved) blocks: heads with a reference
            ref = mm.refcount[s:e]
            heads = np.flatnonzero(ref > 0)
            cov = np.zeros(e - s + 1, np.int64)
            if starts:
                st = np.array(starts, np.int64) - s
                sz = np.array(sizes, np.int64)
                np.add.at(cov, st, 1)
                np.add.at(cov, st + sz, -1)
            if heads.size:
                sz = 1 << mm.order[s + heads].astype(np.int64)
                np.add.at(cov, heads, 1)
                np.add.at(cov, heads + sz, -1)
            c = np.cumsum(cov[:-1])
            bad = np.flatnonzero(c != 1)
            assert not bad.size, (f"{z}: pfn {s + int(bad[0])} is in {int(c[bad[0]])} places "
                                  f"(free list, pcp list, or allocated)")


MMError = MMBug
