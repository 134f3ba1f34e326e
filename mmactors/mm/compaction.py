"""Memory compaction and kcompactd: mm/compaction.c (Linux 6.12), with the
fragmentation index of mm/vmstat.c and include/linux/compaction.h.

Lock order (mm/compaction.c takes each alone, never nested)::

    lruvec->lru_lock      (isolate_migratepages_block, compact_lock_irqsave)
    zone->lock            (isolate_freepages_block, compact_lock_irqsave)

and migration's own (mm/migrate.py): folio_lock -> anon_vma->rwsem /
i_mmap_rwsem -> PTE lock; folio_lock -> i_pages lock.

What is modelled, in the kernel's words
---------------------------------------
* ``struct compact_control`` (:class:`CompactControl`); :func:`compact_zone`
  with the migrate scanner walking up from ``compact_cached_migrate_pfn[sync]``
  (the zone's start) and the free scanner walking down from
  ``compact_cached_free_pfn`` (the zone's last pageblock) until they meet
  (``compact_scanners_met``), the cached positions and
  ``compact_init_migrate_pfn``/``whole_zone``.
* ``isolate_migratepages`` -> ``isolate_migratepages_block`` under
  ``lruvec->lru_lock`` and ``isolate_freepages`` -> ``isolate_freepages_block``
  under ``zone->lock``, each taken with interrupts off by
  ``compact_lock_irqsave`` (MIGRATE_ASYNC: ``spin_trylock_irqsave``, a failure
  marks ``cc->contended`` and the run ends COMPACT_CONTENDED at its next
  ``compact_finished``) and dropped every COMPACT_CLUSTER_MAX (32) pfns
  (``compact_unlock_should_abort``, ``cond_resched``).  The async direct
  compactor's ``skip_on_failure`` (give up an order-aligned block at its first
  unmovable page), ``finish_pageblock``, ``suitable_migration_source`` /
  ``suitable_migration_target``, the free scanner's async stride (32, halved
  back to 1 once it isolates), ``__isolate_free_page`` with its order-0 min
  watermark check.
* Pageblock skip bits (``PB_migrate_skip``: ``isolation_suitable``,
  ``test_and_set_skip``, ``update_pageblock_skip``), cleared by
  ``__reset_isolation_suitable`` when ``compaction_restarting`` or when kswapd
  goes to sleep after a direct compactor asked for it
  (``compact_blockskip_flush``).
* Deferral: ``defer_compaction``, ``compaction_deferred``,
  ``compaction_defer_reset``, ``compaction_restarting`` with
  COMPACT_MAX_DEFER_SHIFT = 6.
* ``compaction_suitable`` / ``__compaction_suitable`` (the order-0 watermark
  plus ``compact_gap`` = 2 << order, low mark for costly orders) and, for
  costly orders, ``fragmentation_index`` against ``vm.extfrag_threshold``
  (500); ``compaction_suit_allocation_order``; ``compaction_zonelist_suitable``;
  ``__compact_finished`` (the scanners met; the order free at the right
  migratetype or a fallback that may steal; proactive runs against the low
  score mark).
* ``try_to_compact_pages`` / ``compact_zone_order`` with the priorities
  COMPACT_PRIO_ASYNC (MIGRATE_ASYNC), COMPACT_PRIO_SYNC_LIGHT and
  COMPACT_PRIO_SYNC_FULL (MIGRATE_SYNC_LIGHT, whole zone, skip hints ignored);
  the allocator's side (``__alloc_pages_direct_compact``,
  ``should_compact_retry``) is in page_alloc.py.
* kcompactd, one actor per node: ``wakeup_kcompactd`` (from kswapd and from
  ``wakeup_kswapd`` on a balanced node), ``kcompactd_do_work``
  (MIGRATE_SYNC_LIGHT, ``drain_all_pages(zone)`` and deferral when it fails),
  and proactive compaction on its HPAGE_FRAG_CHECK_INTERVAL_MSEC (500 ms)
  timeout: ``fragmentation_score_node`` (zones weighted by present pages)
  above ``fragmentation_score_wmark(false)`` = min(100 - proactiveness + 10,
  100) and kswapd not running -> ``compact_node(proactive)`` down to
  ``fragmentation_score_wmark(true)`` = max(100 - proactiveness, 5); a run
  that does not lower the score sleeps 500 ms << COMPACT_MAX_DEFER_SHIFT.
* ``compact_nodes`` (``echo 1 > /proc/sys/vm/compact_memory``: lru_add_drain_all,
  then every zone MIGRATE_SYNC, whole zone, skip hints ignored).
* Counters as /proc/vmstat names them: compact_migrate_scanned,
  compact_free_scanned, compact_isolated, compact_stall, compact_fail,
  compact_success, compact_daemon_wake, compact_daemon_migrate_scanned,
  compact_daemon_free_scanned.

Simplifications: no ``fast_find_migrateblock`` (the migrate scanner is linear;
``fast_isolate_freepages`` is modelled); no capture_control (a page freed by the
compactor's own migration is not captured: the allocator retries the free
lists); no CMA or MIGRATE_ISOLATE; order-0 folios only (a THP or other large
folio is skipped, as 6.12's ``skip_isolation_on_order`` skips folios of at
least the target order or of pageblock_order: an order-9 THP always); no unevictable LRU is modelled, so there is no
``vm.compact_unevictable_allowed``; kcompactd starts at boot only with ``[constants]
KCOMPACTD_AT_BOOT`` (else at its node's first wake-up), so runs that never
compact keep their figures; its sleeps are timed by a per-jiffy timer that
also ends it once every workload has finished (the kernel's thread would just
sleep on), so it never keeps a run alive.
"""
from __future__ import annotations

from collections import deque

from ..schema import Field
from ._internal import (ALLOC_CMA, ALLOC_WMARK_MASK, ALLOC_WMARK_MIN, MAX_NR_ZONES,
                        MIGRATE_HIGHATOMIC, MIGRATE_MOVABLE, NR_PAGE_ORDERS,
                        PAGE_ALLOC_COSTLY_ORDER, PG_head, PG_lru, PG_pcp, PG_reserved,
                        PGTY_buddy, SWAP_CLUSTER_MAX, WMARK_MIN, migratetype_is_mergeable,
                        pageblock_nr_pages, pageblock_order)
from .filemap import PG_dirty, PG_locked, PG_swapcache, PG_writeback
from .gfp import GFP, GFP_KERNEL, gfp_migratetype
from .migrate import (ENOMEM, MIGRATE_ASYNC, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT, MR_COMPACTION,
                      Migrate)
from .sched_mm import set_kthread
from .vmstat import NR_FREE_PAGES

__all__ = ["Compaction", "CompactControl", "SYSCTL", "CONSTANTS", "COMPACT_CLUSTER_MAX",
           "COMPACT_MAX_DEFER_SHIFT", "MAX_COMPACT_RETRIES", "HPAGE_FRAG_CHECK_INTERVAL_MSEC",
           "COMPACT_PRIO_SYNC_FULL", "COMPACT_PRIO_SYNC_LIGHT", "COMPACT_PRIO_ASYNC",
           "MIN_COMPACT_PRIORITY", "MIN_COMPACT_COSTLY_PRIORITY", "DEF_COMPACT_PRIORITY",
           "INIT_COMPACT_PRIORITY", "COMPACT_RESULTS", "fragmentation_index",
           "extfrag_for_order", "fill_contig_page_info", "compact_gap"]

COMPACT_CLUSTER_MAX = SWAP_CLUSTER_MAX
COMPACT_MAX_DEFER_SHIFT = 6
MAX_COMPACT_RETRIES = 16
HPAGE_FRAG_CHECK_INTERVAL_MSEC = 500
COMPACTION_HPAGE_ORDER = 9             # HPAGE_PMD_ORDER with CONFIG_TRANSPARENT_HUGEPAGE
JIFFY_NS = 1_000_000                   # HZ = 1000

# enum compact_priority (include/linux/compaction.h)
COMPACT_PRIO_SYNC_FULL = 0
MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
COMPACT_PRIO_SYNC_LIGHT = 1
MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
COMPACT_PRIO_ASYNC = 2
INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC

# enum compact_result, in the kernel's order (try_to_compact_pages takes the max)
(COMPACT_NOT_SUITABLE_ZONE, COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_NO_SUITABLE_PAGE,
 COMPACT_CONTINUE, COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED, COMPACT_CONTENDED,
 COMPACT_SUCCESS) = range(9)
COMPACT_RESULTS = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page", "continue",
                   "complete", "partial_skipped", "contended", "success")

# isolate_migrate_t
ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS = range(3)

_GFP_IO = GFP["__GFP_IO"]
_GFP_FS = GFP["__GFP_FS"]


def _between(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be {lo}..{hi}, got {v}"


SYSCTL = (
    Field("vm.compaction_proactiveness", int, 20, check=_between(0, 100),
          doc="how hard kcompactd compacts in the background (mm/compaction.c; 0 turns "
              "proactive compaction off; the node score is kept at 100 - this)"),
    Field("vm.extfrag_threshold", int, 500, check=_between(0, 1000),
          doc="fragmentation index (0..1000) at or below which a costly-order failure is "
              "blamed on low memory, not fragmentation, and compaction is not tried"),
)
CONSTANTS = (
    Field("KCOMPACTD_AT_BOOT", bool, False,
          doc="start each node's kcompactd at boot, as the kernel does (needed for "
              "proactive compaction from the start); false starts it at the node's first "
              "wakeup_kcompactd, so runs that never compact keep their figures"),
)


def compact_gap(order: int) -> int:
    return 2 << order


def is_via_compact_memory(order: int) -> bool:
    return order == -1


def fill_contig_page_info(zone, suitable_order: int):
    """mm/vmstat.c fill_contig_page_info: (free_blocks_total, free_pages,
    free_blocks_suitable) from the buddy's nr_free counts."""
    total = free = suitable = 0
    for order, area in enumerate(zone.free_area):
        blocks = area.nr_free
        total += blocks
        free += blocks << order
        if order >= suitable_order:
            suitable += blocks << (order - suitable_order)
    return total, free, suitable


def fragmentation_index(zone, order: int) -> int:
    """mm/vmstat.c __fragmentation_index: -1000 if a block of ``order`` is
    free, else 0 (failure from lack of memory) .. 1000 (from fragmentation)."""
    total, free, suitable = fill_contig_page_info(zone, order)
    if not total:
        return 0
    if suitable:
        return -1000
    requested = 1 << order
    return 1000 - (1000 + free * 1000 // requested) // total


def extfrag_for_order(zone, order: int) -> int:
    """mm/vmstat.c extfrag_for_order: the percentage of free memory that is in
    blocks smaller than ``order``."""
    _, free, suitable = fill_contig_page_info(zone, order)
    if not free:
        return 0
    return (free - (suitable << order)) * 100 // free


class CompactControl:
    """struct compact_control (mm/internal.h)."""

    __slots__ = ("order", "search_order", "gfp_mask", "zone", "mode", "alloc_flags",
                 "highest_zoneidx", "direct_compaction", "whole_zone", "ignore_skip_hint",
                 "ignore_block_suitable", "proactive_compaction", "migratetype",
                 "migrate_pfn", "free_pfn", "nr_migratepages", "nr_freepages", "migratepages",
                 "freepages", "total_migrate_scanned", "total_free_scanned", "contended",
                 "finish_pageblock", "no_set_skip_hint", "fast_start_pfn", "fast_search_fail")

    def __init__(self, order: int, gfp_mask: int, mode: int, *, zone=None, alloc_flags: int = 0,
                 highest_zoneidx: int = MAX_NR_ZONES - 1, direct_compaction: bool = False,
                 whole_zone: bool = False, ignore_skip_hint: bool = False,
                 ignore_block_suitable: bool = False, proactive_compaction: bool = False):
        self.order = order
        self.search_order = order
        self.gfp_mask = gfp_mask
        self.zone = zone
        self.mode = mode
        self.alloc_flags = alloc_flags
        self.highest_zoneidx = highest_zoneidx
        self.direct_compaction = direct_compaction
        self.whole_zone = whole_zone
        self.ignore_skip_hint = ignore_skip_hint
        self.ignore_block_suitable = ignore_block_suitable
        self.proactive_compaction = proactive_compaction
        self.no_set_skip_hint = False
        self.migratetype = gfp_migratetype(gfp_mask)
        self.migrate_pfn = 0
        self.free_pfn = 0
        self.fast_start_pfn = 0
        self.fast_search_fail = 0
        self.reset()

    def reset(self):
        """compact_zone's per-zone initialisation."""
        self.nr_migratepages = 0
        self.nr_freepages = 0
        self.migratepages: list = []
        self.freepages = [deque() for _ in range(NR_PAGE_ORDERS)]
        self.total_migrate_scanned = 0
        self.total_free_scanned = 0
        self.contended = False
        self.finish_pageblock = False


class KcompactdNode:
    """pgdat's kcompactd fields: the actor, its wait queue, its requests."""

    def __init__(self, nid: int, nr_zones: int):
        self.nid = nid
        self.actor = None
        self.waiting = None                 # [actor, woken] while it sleeps
        self.kcompactd_max_order = 0
        self.kcompactd_highest_zoneidx = nr_zones - 1
        self.nr_zones = nr_zones
        self.proactive_compact_trigger = False
        self.state = "not started"
        self.wakeups = 0                    # wake_up_interruptible calls
        self.work_runs = 0                  # kcompactd_do_work runs
        self.proactive_runs = 0
        self.proactive_backoffs = 0
        self.scores: list = []              # (virtual ns, score before, score after)
        self.checks: list = []              # (virtual ns, node score) at each timed-out wait
        self.name = f"pgdat{nid}->kcompactd_wait"

    def holders(self):                      # nobody holds a wait queue (wait-for graph)
        return []


def pageblock_start_pfn(pfn: int) -> int:
    return pfn & ~(pageblock_nr_pages - 1)


def pageblock_end_pfn(pfn: int) -> int:
    return pageblock_start_pfn(pfn) + pageblock_nr_pages


def block_end_pfn(pfn: int, order: int) -> int:
    return (pfn + (1 << order)) & ~((1 << order) - 1)


class Compaction:
    """mm/compaction.c for one machine (built by the address-space side,
    which owns the LRU lists compaction isolates from)."""

    def __init__(self, sub, machine):
        self.sub = sub
        self.machine = machine
        self.engine = sub.engine
        self.costs = sub.engine.costs
        self.pa = sub.pa
        self.mem_map = sub.mem_map
        self.vmstat = sub.pa.vmstat
        self.migrate = Migrate(sub)
        sysctl = machine.sysctl if machine is not None else {}
        self.proactiveness = int(sysctl.get("vm.compaction_proactiveness", 20))
        self.extfrag_threshold = int(sysctl.get("vm.extfrag_threshold", 500))
        consts = machine.constants if machine is not None else {}
        self.at_boot = bool(consts.get("KCOMPACTD_AT_BOOT", False))
        # PB_migrate_skip, one byte per pageblock (the kernel's pageblock flags)
        self.skip = bytearray(max(1, self.mem_map.max_pfn >> pageblock_order))
        ev = self.vmstat.ev
        self.EV = {n: ev[n] for n in (
            "compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
            "compact_stall", "compact_fail", "compact_success", "compact_daemon_wake",
            "compact_daemon_migrate_scanned", "compact_daemon_free_scanned")}
        self.nodes = [KcompactdNode(pg.node_id, len(pg.node_zones)) for pg in self.pa.nodes]
        for z in self.pa.populated:
            self.reset_cached_positions(z)
            z.compact_init_migrate_pfn = z.zone_start_pfn
            z.compact_init_free_pfn = z.compact_cached_free_pfn
        self.results = [0] * len(COMPACT_RESULTS)    # compact_zone outcomes
        self.compact_zone_runs = 0
        self.compact_memory_runs = 0
        self.stall_ns = 0                            # time spent in direct compaction
        self.used = False

    # ---------------------------------------------------------- counters
    def count(self, me, name: str, n: int = 1):
        if n:
            self.vmstat.events[me.cpu][self.EV[name]] += n

    def event(self, name: str) -> int:
        return self.vmstat.event(name)

    # ----------------------------------------------------------- deferral
    @staticmethod
    def defer_compaction(zone, order: int):
        zone.compact_considered = 0
        zone.compact_defer_shift += 1
        if order < zone.compact_order_failed:
            zone.compact_order_failed = order
        if zone.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT:
            zone.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT

    @staticmethod
    def compaction_deferred(zone, order: int) -> bool:
        defer_limit = 1 << zone.compact_defer_shift
        if order < zone.compact_order_failed:
            return False
        zone.compact_considered += 1
        if zone.compact_considered >= defer_limit:
            zone.compact_considered = defer_limit
            return False
        return True

    @staticmethod
    def compaction_defer_reset(zone, order: int, alloc_success: bool):
        if alloc_success:
            zone.compact_considered = 0
            zone.compact_defer_shift = 0
        if order >= zone.compact_order_failed:
            zone.compact_order_failed = order + 1

    @staticmethod
    def compaction_restarting(zone, order: int) -> bool:
        if order < zone.compact_order_failed:
            return False
        return (zone.compact_defer_shift == COMPACT_MAX_DEFER_SHIFT
                and zone.compact_considered >= 1 << zone.compact_defer_shift)

    # --------------------------------------------------------- skip bits
    def isolation_suitable(self, cc, pfn: int) -> bool:
        return cc.ignore_skip_hint or not self.skip[pfn >> pageblock_order]

    @staticmethod
    def reset_cached_positions(zone):
        zone.compact_cached_migrate_pfn = [zone.zone_start_pfn, zone.zone_start_pfn]
        zone.compact_cached_free_pfn = pageblock_start_pfn(zone.end_pfn - 1)

    def _reset_isolation_pfn(self, zone, pfn: int, check_source: bool, check_target: bool) -> bool:
        """__reset_isolation_pfn: clear the block's skip bit; True if it holds
        what the scanner looks for (an LRU page for the source, a free page
        for the target).  Simplification: the kernel samples a few pages of
        the block; this looks at all of them."""
        b = pfn >> pageblock_order
        if not self.skip[b]:
            return False
        self.skip[b] = 0
        s = pageblock_start_pfn(pfn)
        fl = self.mem_map.flags[s:s + pageblock_nr_pages]
        if check_source and (fl & PG_lru).any():
            return True
        if check_target and (fl & PGTY_buddy).any():
            return True
        return False

    def __reset_isolation_suitable(self, zone):
        migrate_pfn = zone.zone_start_pfn
        free_pfn = zone.end_pfn - 1
        reset_migrate = free_pfn
        reset_free = migrate_pfn
        source_set = free_set = False
        if not zone.compact_blockskip_flush:
            return
        zone.compact_blockskip_flush = False
        while migrate_pfn < free_pfn:
            if self._reset_isolation_pfn(zone, migrate_pfn, True, source_set) \
                    and migrate_pfn < reset_migrate:
                source_set = True
                reset_migrate = migrate_pfn
                zone.compact_init_migrate_pfn = reset_migrate
                zone.compact_cached_migrate_pfn = [reset_migrate, reset_migrate]
            if self._reset_isolation_pfn(zone, free_pfn, free_set, True) and free_pfn > reset_free:
                free_set = True
                reset_free = free_pfn
                zone.compact_init_free_pfn = reset_free
                zone.compact_cached_free_pfn = reset_free
            migrate_pfn += pageblock_nr_pages
            free_pfn -= pageblock_nr_pages
        if reset_migrate >= reset_free:
            zone.compact_cached_migrate_pfn = [migrate_pfn, migrate_pfn]
            zone.compact_cached_free_pfn = free_pfn

    def reset_isolation_suitable(self, pgdat):
        """reset_isolation_suitable (kswapd, before it sleeps)."""
        for z in pgdat.node_zones:
            if z.populated():
                self.__reset_isolation_suitable(z)

    def test_and_set_skip(self, cc, pfn: int) -> bool:
        if cc.ignore_skip_hint:
            return False
        b = pfn >> pageblock_order
        skip = bool(self.skip[b])
        if not skip and not cc.no_set_skip_hint:
            self.skip[b] = 1
        return skip

    @staticmethod
    def update_cached_migrate(cc, pfn: int):
        zone = cc.zone
        if cc.no_set_skip_hint:
            return
        pfn = pageblock_end_pfn(pfn)
        c = zone.compact_cached_migrate_pfn
        if pfn > c[0]:
            c[0] = pfn
        if cc.mode != MIGRATE_ASYNC and pfn > c[1]:
            c[1] = pfn

    def update_pageblock_skip(self, cc, page_pfn: int, pfn: int):
        zone = cc.zone
        if cc.no_set_skip_hint:
            return
        self.skip[page_pfn >> pageblock_order] = 1
        if pfn < zone.compact_cached_free_pfn:
            zone.compact_cached_free_pfn = pfn

    # ------------------------------------------------------------- locks
    async def compact_lock_irqsave(self, lock, cc, site: str):
        """compact_lock_irqsave: async compaction tries once and marks the
        run contended; then (or in sync mode) it spins like anyone else."""
        from ..sync import irq as I
        eng = self.engine
        await eng.sync()
        me = eng.current
        flags = I.local_irq_save(me, site)
        if cc.mode == MIGRATE_ASYNC and not cc.contended:
            if await lock.trylock(site):
                return flags
            cc.contended = True
        await lock.lock(site)
        return flags

    @staticmethod
    def compact_unlock(lock, flags, site: str):
        from ..sync import irq as I
        lock.unlock(site)
        I.local_irq_restore(lock.engine.current, flags, site)

    # ------------------------------------------------------- free scanner
    def suitable_migration_target(self, cc, pfn: int) -> bool:
        mm = self.mem_map
        if mm.f[pfn] & PGTY_buddy:
            order = cc.order if cc.order > 0 else pageblock_order
            if mm.ord[pfn] >= order:
                return False
        if cc.ignore_block_suitable:
            return True
        return mm.pbmt[pfn >> pageblock_order] == MIGRATE_MOVABLE

    async def isolate_freepages_block(self, cc, start_pfn: int, end_pfn: int, stride: int, me):
        """isolate_freepages_block (not strict): (pages isolated, the pfn where
        it stopped)."""
        mm = self.mem_map
        f, ordv = mm.f, mm.ord
        pa = self.pa
        zone = cc.zone
        lock = zone.lock
        nr_scanned = total = 0
        locked = None
        blockpfn = start_pfn
        cpu = me.cpu
        cost = 0
        while blockpfn < end_pfn:
            if not blockpfn % COMPACT_CLUSTER_MAX:    # compact_unlock_should_abort
                if locked is not None:
                    me.debt += cost
                    cost = 0
                    await self.engine.spend(0)
                    self.compact_unlock(lock, locked, "isolate_freepages_block")
                    locked = None
                me.debt += cost
                cost = 0
                if me.debt:
                    await self.engine.sync()           # cond_resched
            nr_scanned += 1
            cost += pa._read_page(blockpfn, cpu)
            fl = f[blockpfn]
            if fl & PG_head and not fl & PGTY_buddy:  # PageCompound: skip the folio
                o = ordv[blockpfn]
                if blockpfn + (1 << o) <= end_pfn:
                    blockpfn += (1 << o) - 1
                    nr_scanned += (1 << o) - 1
                blockpfn += stride
                continue
            if not fl & PGTY_buddy:
                blockpfn += stride
                continue
            if locked is None:
                me.debt += cost
                cost = 0
                locked = await self.compact_lock_irqsave(lock, cc, "isolate_freepages_block")
                if not f[blockpfn] & PGTY_buddy:      # recheck under the lock
                    blockpfn += stride
                    continue
            order = ordv[blockpfn]
            isolated = self.isolate_free_page(zone, blockpfn, order, me)
            if not isolated:
                break
            cc.freepages[order].append(blockpfn)       # list_add_tail
            nr_scanned += isolated - 1
            total += isolated
            cc.nr_freepages += isolated
            if cc.nr_migratepages <= cc.nr_freepages:
                blockpfn += isolated
                break
            blockpfn += isolated - 1
            blockpfn += stride
        me.debt += cost
        if locked is not None:
            await self.engine.spend(0)
            self.compact_unlock(lock, locked, "isolate_freepages_block")
        if blockpfn > end_pfn:
            blockpfn = end_pfn
        cc.total_free_scanned += nr_scanned
        self.count(me, "compact_isolated", total)
        return total, blockpfn

    def isolate_free_page(self, zone, pfn: int, order: int, me) -> int:
        """__isolate_free_page (mm/page_alloc.c), zone->lock held: the order-0
        min watermark must hold after taking the block; a block of at least
        half a pageblock turns its pageblocks MOVABLE.  The block sits in
        ``pa.inflight`` while compaction holds it."""
        pa = self.pa
        mm = self.mem_map
        mt = mm.pbmt[pfn >> pageblock_order]
        watermark = zone._watermark[WMARK_MIN] + (1 << order)
        if not pa.zone_watermark_ok(zone, 0, watermark, 0, ALLOC_CMA):
            return 0
        pa._del_page_from_free_list(zone, pfn, order, mt, me)
        pa.account_freepages(zone, -(1 << order), mt, me)
        pa.inflight[pfn] = order
        if order >= pageblock_order - 1:
            end = pfn + (1 << order) - 1
            p = pfn
            while p < end:
                bmt = mm.pbmt[p >> pageblock_order]
                if migratetype_is_mergeable(bmt) and bmt != MIGRATE_MOVABLE:
                    r = pa.prep_move_freepages_block(zone, p, count=False)
                    if r is not None:
                        pa._move_freepages_block(zone, r[0], bmt, MIGRATE_MOVABLE, me)
                p += pageblock_nr_pages
        return 1 << order

    @staticmethod
    def freelist_scan_limit(cc) -> int:
        return (COMPACT_CLUSTER_MAX >> min(63, cc.fast_search_fail)) + 1

    @staticmethod
    def next_search_order(cc, order: int) -> int:
        order -= 1
        if order < 0:
            order = cc.order - 1
        if order == cc.search_order:
            cc.search_order -= 1
            if cc.search_order < 0:
                cc.search_order = cc.order - 1
            return -1
        return order

    async def fast_isolate_freepages(self, cc, me):
        """fast_isolate_freepages: look for a free block near the top of the
        zone on the MOVABLE free lists (below the target order, largest
        first) instead of scanning for one, then isolate around it.
        Simplification: move_freelist_head's rotation is not done."""
        if cc.order <= 0:
            return
        zone = cc.zone
        mm = self.mem_map
        limit = max(1, self.freelist_scan_limit(cc) >> 1)
        scan_start = False
        if cc.free_pfn >= zone.compact_init_free_pfn:
            limit = pageblock_nr_pages >> 1
            scan_start = True
        distance = cc.free_pfn - cc.migrate_pfn
        low_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 2))
        min_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 1))
        if min_pfn > low_pfn:
            low_pfn = min_pfn
        cc.search_order = min(cc.order - 1, cc.search_order)
        page = -1
        highest = 0
        nr_scanned = 0
        order = cc.search_order
        while page < 0 and order >= 0:
            area = zone.free_area[order]
            if area.nr_free:
                flags = await zone.lock.lock_irqsave("fast_isolate_freepages")
                order_scanned = 0
                high_pfn = 0
                for pfn in area.free_list[MIGRATE_MOVABLE]:    # from the tail
                    order_scanned += 1
                    nr_scanned += 1
                    me.debt += self.pa._read_page(pfn, me.cpu)
                    if pfn >= highest:
                        highest = max(pageblock_start_pfn(pfn), zone.zone_start_pfn)
                    if pfn >= low_pfn:
                        cc.fast_search_fail = 0
                        cc.search_order = order
                        page = pfn
                        break
                    if pfn >= min_pfn and pfn > high_pfn:
                        high_pfn = pfn
                        limit >>= 1
                    if order_scanned >= limit:
                        break
                if page < 0 and high_pfn:
                    page = high_pfn
                if page >= 0:
                    n = self.isolate_free_page(zone, page, order, me)
                    if n:
                        cc.freepages[order].append(page)
                        nr_scanned += n - 1
                        cc.nr_freepages += n
                        self.count(me, "compact_isolated", n)
                    else:
                        order = cc.search_order + 1
                        page = -1
                await self.engine.spend(0)
                zone.lock.unlock_irqrestore(flags, "fast_isolate_freepages")
                if cc.nr_freepages >= cc.nr_migratepages:
                    break
                if order_scanned >= limit:
                    limit = max(1, limit >> 1)
            order = self.next_search_order(cc, order)
        if page < 0:
            cc.fast_search_fail += 1
            if scan_start:
                if highest >= min_pfn:
                    page = highest
                    cc.free_pfn = highest
                elif cc.direct_compaction and min_pfn >= zone.zone_start_pfn:
                    page = min_pfn if self.suitable_migration_target(cc, min_pfn) else -1
                    cc.free_pfn = min_pfn
        if highest and highest >= zone.compact_cached_free_pfn:
            zone.compact_cached_free_pfn = highest - pageblock_nr_pages
        cc.total_free_scanned += nr_scanned
        if page < 0:
            return
        # fast_isolate_around: the rest of that pageblock, stride 1
        if cc.nr_freepages >= cc.nr_migratepages:
            return
        if cc.direct_compaction and cc.mode == MIGRATE_ASYNC:
            return
        start = max(pageblock_start_pfn(page), zone.zone_start_pfn)
        end = min(pageblock_end_pfn(page), zone.end_pfn)
        _, stop = await self.isolate_freepages_block(cc, start, end, 1, me)
        if stop == end and not cc.no_set_skip_hint:
            self.skip[start >> pageblock_order] = 1

    async def isolate_freepages(self, cc, me):
        """isolate_freepages: fast_isolate_freepages first, then walk down
        pageblock by pageblock from free_pfn."""
        zone = cc.zone
        await self.fast_isolate_freepages(cc, me)
        if cc.nr_freepages:
            return
        isolate_start_pfn = cc.free_pfn
        block_start = pageblock_start_pfn(isolate_start_pfn)
        block_end = min(block_start + pageblock_nr_pages, zone.end_pfn)
        low_pfn = pageblock_end_pfn(cc.migrate_pfn)
        stride = COMPACT_CLUSTER_MAX if cc.mode == MIGRATE_ASYNC else 1
        while block_start >= low_pfn:
            if block_start < zone.zone_start_pfn:
                break
            if self.suitable_migration_target(cc, block_start) and \
                    self.isolation_suitable(cc, block_start):
                nr_isolated, isolate_start_pfn = await self.isolate_freepages_block(
                    cc, isolate_start_pfn, block_end, stride, me)
                if isolate_start_pfn == block_end:
                    self.update_pageblock_skip(cc, block_start, block_start - pageblock_nr_pages)
                if cc.nr_freepages >= cc.nr_migratepages:
                    if isolate_start_pfn >= block_end:
                        isolate_start_pfn = block_start - pageblock_nr_pages
                    break
                elif isolate_start_pfn < block_end:
                    break
                stride = 1 if nr_isolated else min(COMPACT_CLUSTER_MAX, stride << 1)
            block_end = block_start
            block_start -= pageblock_nr_pages
            isolate_start_pfn = block_start
        cc.free_pfn = isolate_start_pfn

    async def release_free_list(self, cc, me) -> int:
        """release_free_list: the unused isolated free pages back to the
        buddy; returns the highest pfn released."""
        high = 0
        pa = self.pa
        for order, lst in enumerate(cc.freepages):
            while lst:
                pfn = lst.popleft()
                high = max(high, pfn)
                await pa.free_one_page(pa.zone_of(pfn), pfn, order, 0, me)
        cc.nr_freepages = 0
        return high

    def compaction_alloc(self, cc, me):
        """compaction_alloc / compaction_free as the callbacks migrate_pages takes."""
        mm = self.mem_map
        pa = self.pa

        async def get_new_folio(src: int) -> int:
            order = 0                                  # folio_order(src): order-0 only
            has_isolated = False
            while True:
                for start_order in range(order, NR_PAGE_ORDERS):
                    if cc.freepages[start_order]:
                        break
                else:
                    if has_isolated:
                        return -1
                    await self.isolate_freepages(cc, me)
                    has_isolated = True
                    continue
                break
            lst = cc.freepages[start_order]
            pfn = lst.popleft()                        # list_first_entry
            del pa.inflight[pfn]
            size = 1 << start_order
            while start_order > order:                 # split: upper halves to the lists
                start_order -= 1
                size >>= 1
                cc.freepages[start_order].appendleft(pfn + size)
                pa.inflight[pfn + size] = start_order
            # post_alloc_hook: a new page with one reference
            mm.ref[pfn] = 1
            mm.ord[pfn] = order
            mm.f[pfn] = 0
            me.debt += pa._touch(pfn, me.cpu)
            cc.nr_freepages -= 1 << order
            cc.nr_migratepages -= 1 << order
            return pfn

        async def put_new_folio(dst: int):
            """compaction_free: the unused target back on cc's free list."""
            if mm.ref[dst] == 1:                       # folio_put_testzero
                mm.ref[dst] = 0
                mm.f[dst] = 0
                self.sub.rmap.forget(dst)
                cc.freepages[0].appendleft(dst)
                pa.inflight[dst] = 0
                cc.nr_freepages += 1
            else:
                mm.ref[dst] -= 1
            cc.nr_migratepages += 1

        return get_new_folio, put_new_folio

    # ---------------------------------------------------- migrate scanner
    def suitable_migration_source(self, cc, pfn: int) -> bool:
        if cc.mode != MIGRATE_ASYNC or not cc.direct_compaction:
            return True
        block_mt = self.mem_map.pbmt[pfn >> pageblock_order]
        if cc.migratetype == MIGRATE_MOVABLE:
            return block_mt == MIGRATE_MOVABLE
        return block_mt == cc.migratetype

    @staticmethod
    def skip_isolation_on_order(order: int, target_order: int) -> bool:
        if not is_via_compact_memory(target_order) and order >= target_order:
            return True
        return order >= pageblock_order

    async def isolate_migratepages_block(self, cc, low_pfn: int, end_pfn: int, me) -> int:
        """isolate_migratepages_block: LRU folios of [low_pfn, end_pfn) onto
        cc.migratepages; returns 0 (or -EAGAIN when too many are isolated)."""
        sub = self.sub
        mm = self.mem_map
        f, ordv, ref = mm.f, mm.ord, mm.ref
        mc = sub.rmap.mc
        mapping_of = sub.rmap.mapping
        pa = self.pa
        mig = self.migrate
        eng = self.engine
        zone = cc.zone
        isolate_async = cc.mode != MIGRATE_SYNC        # ISOLATE_ASYNC_MIGRATE
        cc.migrate_pfn = low_pfn
        # too_many_isolated: more isolated than a half of the node's inactive+active
        if self._too_many_isolated(cc):
            if cc.nr_migratepages or cc.mode == MIGRATE_ASYNC:
                return -11
        nr_scanned = nr_isolated = 0
        locked = None                                   # (lruvec, flags)
        valid_page = -1
        skip_updated = False
        skip_on_failure = False
        next_skip_pfn = 0
        if cc.direct_compaction and cc.mode == MIGRATE_ASYNC:
            skip_on_failure = True
            next_skip_pfn = block_end_pfn(low_pfn, cc.order)
        cpu = me.cpu
        cost = 0
        while low_pfn < end_pfn:
            if skip_on_failure and low_pfn >= next_skip_pfn:
                if nr_isolated:
                    break
                next_skip_pfn = block_end_pfn(low_pfn, cc.order)
            if not low_pfn % COMPACT_CLUSTER_MAX:
                me.debt += cost
                cost = 0
                if locked is not None:
                    await eng.spend(0)
                    self.compact_unlock(locked[0].lru_lock, locked[1],
                                        "isolate_migratepages_block")
                    locked = None
                if me.debt:
                    await eng.sync()                   # cond_resched
            nr_scanned += 1
            pfn = low_pfn
            cost += pa._read_page(pfn, cpu)
            if valid_page < 0 and (not pfn & (pageblock_nr_pages - 1)
                                   or pfn == zone.zone_start_pfn):
                if not self.isolation_suitable(cc, pfn):
                    low_pfn = end_pfn
                    break
                valid_page = pfn
            fl = f[pfn]
            ok = False
            if fl & PGTY_buddy:                         # a free block: skip it
                o = ordv[pfn]
                if o > 0:
                    low_pfn += (1 << o) - 1
                    nr_scanned += (1 << o) - 1
                low_pfn += 1
                continue
            if fl & PG_head and ordv[pfn] > 0 and ref[pfn]:
                # A compound page is skipped whole, as 6.12 skips one when
                # skip_isolation_on_order(order, cc->order) (mm/compaction.c
                # isolate_migratepages_block's PageCompound test, rechecked under
                # lru_lock): order >= cc->order unless compact_memory, and always
                # order >= pageblock_order -- so a PMD THP (order 9) is never
                # migrated, whatever the target.  Simplification: a smaller
                # compound page below the target order is skipped too (6.12 steps
                # over a non-LRU one pfn by pfn and migrates an LRU one; the only
                # LRU large folios here are order-9 THPs, so none is missed).
                o = ordv[pfn]
                low_pfn += (1 << o) - 1
                nr_scanned += (1 << o) - 1
            elif fl & PG_lru and not fl & (PG_pcp | PG_reserved | PG_swapcache):
                m = mapping_of.get(pfn)
                anon = m is None or sub.rmap.folio_test_anon(pfn)
                if (anon and ref[pfn] > mc[pfn]) or (not anon and not cc.gfp_mask & _GFP_FS):
                    pass                                # pinned or extra references
                elif isolate_async and fl & PG_writeback:
                    pass
                elif isolate_async and fl & PG_dirty and fl & PG_locked:
                    pass                                # folio_trylock failed
                else:
                    lruvec = sub.lru.lruvec_of(pfn)
                    if locked is None or locked[0] is not lruvec:
                        if locked is not None:
                            self.compact_unlock(locked[0].lru_lock, locked[1],
                                                "isolate_migratepages_block")
                        me.debt += cost
                        cost = 0
                        flags = await self.compact_lock_irqsave(lruvec.lru_lock, cc,
                                                                "isolate_migratepages_block")
                        locked = (lruvec, flags)
                        if not skip_updated and valid_page >= 0:
                            skip_updated = True
                            if self.test_and_set_skip(cc, valid_page) and \
                                    not cc.finish_pageblock:
                                low_pfn = end_pfn
                                break
                    if mig.isolate_lru_folio_locked(pfn, lruvec, me):
                        cost += self.costs.atomic_rmw_ns + pa._touch(pfn, cpu)
                        cc.migratepages.append(pfn)
                        cc.nr_migratepages += 1
                        nr_isolated += 1
                        ok = True
                        if cc.nr_migratepages >= COMPACT_CLUSTER_MAX and \
                                not cc.finish_pageblock and not cc.contended:
                            low_pfn += 1
                            break
            if ok:
                low_pfn += 1
                continue
            # isolate_fail
            if skip_on_failure:
                if nr_isolated:
                    if locked is not None:
                        me.debt += cost
                        cost = 0
                        await eng.spend(0)
                        self.compact_unlock(locked[0].lru_lock, locked[1],
                                            "isolate_migratepages_block")
                        locked = None
                    await mig.putback_movable_pages(cc.migratepages, me)
                    cc.nr_migratepages = 0
                    nr_isolated = 0
                if low_pfn < next_skip_pfn:
                    low_pfn = next_skip_pfn - 1
                    next_skip_pfn += 1 << cc.order
            low_pfn += 1
        me.debt += cost
        if low_pfn > end_pfn:
            low_pfn = end_pfn
        if locked is not None:
            await eng.spend(0)
            self.compact_unlock(locked[0].lru_lock, locked[1], "isolate_migratepages_block")
        if low_pfn == end_pfn and (not nr_isolated or cc.finish_pageblock):
            if not cc.no_set_skip_hint and valid_page >= 0 and not skip_updated:
                self.skip[valid_page >> pageblock_order] = 1
            self.update_cached_migrate(cc, low_pfn)
        cc.total_migrate_scanned += nr_scanned
        self.count(me, "compact_isolated", nr_isolated)
        cc.migrate_pfn = low_pfn
        return 0

    def _too_many_isolated(self, cc) -> bool:
        """too_many_isolated (mm/compaction.c): isolated > (inactive + active) / 2."""
        sub = self.sub
        pgdat = cc.zone.zone_pgdat
        lv = sub.lru.lruvecs[pgdat.node_id]
        n = lv.nr_pages()
        active, inactive = n[1] + n[3], n[0] + n[2]
        isolated = sub.vmscan.node_isolated(pgdat, False) + sub.vmscan.node_isolated(pgdat, True)
        return isolated > (inactive + active) // 2

    async def isolate_migratepages(self, cc, me) -> int:
        """isolate_migratepages: the next suitable pageblock from migrate_pfn."""
        zone = cc.zone
        low_pfn = cc.migrate_pfn
        block_start = max(pageblock_start_pfn(low_pfn), zone.zone_start_pfn)
        block_end = pageblock_end_pfn(low_pfn)
        while block_end <= cc.free_pfn:
            if (not low_pfn & (pageblock_nr_pages - 1) or low_pfn == zone.zone_start_pfn) \
                    and not self.isolation_suitable(cc, block_start):
                pass
            elif not self.suitable_migration_source(cc, block_start):
                self.update_cached_migrate(cc, block_end)
            else:
                if await self.isolate_migratepages_block(cc, low_pfn, block_end, me):
                    return ISOLATE_ABORT
                break
            cc.migrate_pfn = low_pfn = block_end
            block_start = block_end
            block_end += pageblock_nr_pages
        return ISOLATE_SUCCESS if cc.nr_migratepages else ISOLATE_NONE

    # ------------------------------------------------------ compact_zone
    @staticmethod
    def compact_scanners_met(cc) -> bool:
        return (cc.free_pfn >> pageblock_order) <= (cc.migrate_pfn >> pageblock_order)

    def kswapd_is_running(self, pgdat) -> bool:
        kn = self.sub.vmscan.nodes[pgdat.node_id]
        return kn.actor is not None and kn.state == "running"

    def fragmentation_score_zone(self, zone) -> int:
        return extfrag_for_order(zone, COMPACTION_HPAGE_ORDER)

    def fragmentation_score_zone_weighted(self, zone) -> int:
        return zone.present_pages * self.fragmentation_score_zone(zone) // (
            zone.zone_pgdat.node_present_pages + 1)

    def fragmentation_score_node(self, pgdat) -> int:
        return sum(self.fragmentation_score_zone_weighted(z) for z in pgdat.node_zones
                   if z.populated())

    def fragmentation_score_wmark(self, low: bool) -> int:
        wmark_low = max(100 - self.proactiveness, 5)
        return wmark_low if low else min(wmark_low + 10, 100)

    def should_proactive_compact_node(self, pgdat) -> bool:
        if not self.proactiveness or self.kswapd_is_running(pgdat):
            return False
        return self.fragmentation_score_node(pgdat) > self.fragmentation_score_wmark(False)

    def __compact_finished(self, cc) -> int:
        pa = self.pa
        if self.compact_scanners_met(cc):
            self.reset_cached_positions(cc.zone)
            if cc.direct_compaction:
                cc.zone.compact_blockskip_flush = True
            return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
        if cc.proactive_compaction:
            if self.kswapd_is_running(cc.zone.zone_pgdat):
                return COMPACT_PARTIAL_SKIPPED
            ret = COMPACT_CONTINUE if self.fragmentation_score_zone(cc.zone) > \
                self.fragmentation_score_wmark(True) else COMPACT_SUCCESS
        elif is_via_compact_memory(cc.order):
            return COMPACT_CONTINUE
        elif cc.migrate_pfn & (pageblock_nr_pages - 1):
            return COMPACT_CONTINUE                    # finish the pageblock first
        else:
            ret = COMPACT_NO_SUITABLE_PAGE
            mt = cc.migratetype
            for order in range(cc.order, NR_PAGE_ORDERS):
                area = cc.zone.free_area[order]
                if area.free_list[mt]:
                    return COMPACT_SUCCESS
                if pa.find_suitable_fallback(area, order, mt, True)[0] != -1:
                    return COMPACT_SUCCESS
        if cc.contended:
            ret = COMPACT_CONTENDED
        return ret

    def compact_finished(self, cc) -> int:
        ret = self.__compact_finished(cc)
        return COMPACT_CONTINUE if ret == COMPACT_NO_SUITABLE_PAGE else ret

    def __compaction_suitable(self, zone, order: int, highest_zoneidx: int,
                              wmark_target: int) -> bool:
        watermark = zone.low_wmark_pages() if order > PAGE_ALLOC_COSTLY_ORDER \
            else zone.min_wmark_pages()
        watermark += compact_gap(order)
        return self.pa.zone_watermark_ok_free(zone, 0, watermark, highest_zoneidx, ALLOC_CMA,
                                              wmark_target)

    def compaction_suitable(self, zone, order: int, highest_zoneidx: int) -> bool:
        suitable = self.__compaction_suitable(zone, order, highest_zoneidx,
                                              self.vmstat.zone_page_state(zone, NR_FREE_PAGES))
        if suitable and order > PAGE_ALLOC_COSTLY_ORDER:
            fragindex = fragmentation_index(zone, order)
            if 0 <= fragindex <= self.extfrag_threshold:
                suitable = False
        return suitable

    def compaction_zonelist_suitable(self, ac, order: int, alloc_flags: int) -> bool:
        vmscan = self.sub.vmscan
        for z in ac.zonelist:
            if z.zone_idx > ac.highest_zoneidx:
                continue
            if ac.nodemask is not None and z.node not in ac.nodemask:
                continue
            available = vmscan.zone_reclaimable_pages(z) // order
            available += self.vmstat.zone_page_state_snapshot(z, NR_FREE_PAGES)
            if self.__compaction_suitable(z, order, ac.highest_zoneidx, available):
                return True
        return False

    def compaction_suit_allocation_order(self, zone, order: int, highest_zoneidx: int,
                                         alloc_flags: int) -> int:
        watermark = zone.wmark_pages(alloc_flags & ALLOC_WMARK_MASK)
        if self.pa.zone_watermark_ok(zone, order, watermark, highest_zoneidx, alloc_flags):
            return COMPACT_SUCCESS
        if not self.compaction_suitable(zone, order, highest_zoneidx):
            return COMPACT_SKIPPED
        return COMPACT_CONTINUE

    async def compact_zone(self, cc, me) -> int:
        """compact_zone: run both scanners over cc.zone until compact_finished."""
        sub = self.sub
        zone = cc.zone
        start_pfn, end_pfn = zone.zone_start_pfn, zone.end_pfn
        sync = cc.mode != MIGRATE_ASYNC
        self.used = True
        self.compact_zone_runs += 1
        cc.reset()
        cc.migratetype = gfp_migratetype(cc.gfp_mask)
        if not is_via_compact_memory(cc.order):
            ret = self.compaction_suit_allocation_order(zone, cc.order, cc.highest_zoneidx,
                                                        cc.alloc_flags)
            if ret != COMPACT_CONTINUE:
                self.results[ret] += 1
                return ret
        if self.compaction_restarting(zone, cc.order):
            self.__reset_isolation_suitable(zone)
        cc.fast_start_pfn = 0
        if cc.whole_zone:
            cc.migrate_pfn = start_pfn
            cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
        else:
            cc.migrate_pfn = zone.compact_cached_migrate_pfn[int(sync)]
            cc.free_pfn = zone.compact_cached_free_pfn
            if cc.free_pfn < start_pfn or cc.free_pfn >= end_pfn:
                cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
                zone.compact_cached_free_pfn = cc.free_pfn
            if cc.migrate_pfn < start_pfn or cc.migrate_pfn >= end_pfn:
                cc.migrate_pfn = start_pfn
                zone.compact_cached_migrate_pfn = [start_pfn, start_pfn]
            if cc.migrate_pfn <= zone.compact_init_migrate_pfn:
                cc.whole_zone = True
        last_migrated_pfn = 0
        c = zone.compact_cached_migrate_pfn
        update_cached = not sync and c[0] == c[1]
        await sub.lru.lru_add_drain(me)
        get_new, put_new = self.compaction_alloc(cc, me)
        mig = self.migrate
        while True:
            ret = self.compact_finished(cc)
            if ret != COMPACT_CONTINUE:
                break
            iteration_start_pfn = cc.migrate_pfn
            cc.finish_pageblock = pageblock_start_pfn(last_migrated_pfn) == \
                pageblock_start_pfn(iteration_start_pfn)
            while True:                                # rescan:
                r = await self.isolate_migratepages(cc, me)
                if r == ISOLATE_ABORT:
                    ret = COMPACT_CONTENDED
                    await mig.putback_movable_pages(cc.migratepages, me)
                    cc.nr_migratepages = 0
                    break
                if r == ISOLATE_NONE:
                    if update_cached:
                        c = zone.compact_cached_migrate_pfn
                        c[1] = c[0]
                    break
                update_cached = False
                last_migrated_pfn = max(zone.zone_start_pfn,
                                        pageblock_start_pfn(cc.migrate_pfn - 1))
                err, _ = await mig.migrate_pages(cc.migratepages, get_new, put_new, cc.mode,
                                                 MR_COMPACTION, me)
                cc.nr_migratepages = 0
                if err:
                    await mig.putback_movable_pages(cc.migratepages, me)
                    if err == ENOMEM and not self.compact_scanners_met(cc):
                        ret = COMPACT_CONTENDED
                        break
                    if cc.migrate_pfn & (pageblock_nr_pages - 1) and not cc.ignore_skip_hint \
                            and not cc.finish_pageblock and cc.mode < MIGRATE_SYNC:
                        cc.finish_pageblock = True
                        if cc.order == COMPACTION_HPAGE_ORDER:
                            last_migrated_pfn = 0
                        continue                       # goto rescan
                break
            if ret == COMPACT_CONTENDED:
                break
            # check_drain: free pages on this CPU's pcp lists merge into the buddy
            if cc.order > 0 and last_migrated_pfn:
                if last_migrated_pfn < cc.migrate_pfn & ~((1 << cc.order) - 1):
                    await sub.lru.lru_add_drain(me)    # lru_add_drain_cpu_zone
                    await self.pa.drain_local_pages(zone)
                    last_migrated_pfn = 0
        if cc.nr_freepages > 0:
            free_pfn = pageblock_start_pfn(await self.release_free_list(cc, me))
            if free_pfn > zone.compact_cached_free_pfn:
                zone.compact_cached_free_pfn = free_pfn
        self.count(me, "compact_migrate_scanned", cc.total_migrate_scanned)
        self.count(me, "compact_free_scanned", cc.total_free_scanned)
        self.results[ret] += 1
        return ret

    async def compact_zone_order(self, zone, order, gfp_mask, prio, alloc_flags,
                                 highest_zoneidx, me) -> int:
        cc = CompactControl(order, gfp_mask,
                            MIGRATE_ASYNC if prio == COMPACT_PRIO_ASYNC else MIGRATE_SYNC_LIGHT,
                            zone=zone, alloc_flags=alloc_flags, highest_zoneidx=highest_zoneidx,
                            direct_compaction=True, whole_zone=prio == MIN_COMPACT_PRIORITY,
                            ignore_skip_hint=prio == MIN_COMPACT_PRIORITY,
                            ignore_block_suitable=prio == MIN_COMPACT_PRIORITY)
        return await self.compact_zone(cc, me)

    async def try_to_compact_pages(self, gfp_mask: int, order: int, alloc_flags: int, ac,
                                   prio: int, me) -> int:
        """try_to_compact_pages: each zone of the zonelist until one succeeds."""
        if not gfp_mask & _GFP_IO:                     # gfp_compaction_allowed
            return COMPACT_SKIPPED
        rc = COMPACT_SKIPPED
        for zone in ac.zonelist:
            if zone.zone_idx > ac.highest_zoneidx:
                continue
            if ac.nodemask is not None and zone.node not in ac.nodemask:
                continue
            if prio > MIN_COMPACT_PRIORITY and self.compaction_deferred(zone, order):
                rc = max(COMPACT_DEFERRED, rc)
                continue
            status = await self.compact_zone_order(zone, order, gfp_mask, prio, alloc_flags,
                                                   ac.highest_zoneidx, me)
            rc = max(status, rc)
            if status == COMPACT_SUCCESS:
                self.compaction_defer_reset(zone, order, False)
                break
            if prio != COMPACT_PRIO_ASYNC and status in (COMPACT_COMPLETE,
                                                         COMPACT_PARTIAL_SKIPPED):
                self.defer_compaction(zone, order)
        return rc

    async def compact_node(self, pgdat, proactive: bool, me) -> None:
        cc = CompactControl(-1, GFP_KERNEL, MIGRATE_SYNC_LIGHT if proactive else MIGRATE_SYNC,
                            ignore_skip_hint=True, whole_zone=True,
                            proactive_compaction=proactive)
        for zone in pgdat.node_zones:
            if not zone.populated():
                continue
            cc.zone = zone
            cc.whole_zone = True
            await self.compact_zone(cc, me)
            if proactive:
                self.count(me, "compact_daemon_migrate_scanned", cc.total_migrate_scanned)
                self.count(me, "compact_daemon_free_scanned", cc.total_free_scanned)

    async def compact_nodes(self, me) -> None:
        """compact_nodes: ``echo 1 > /proc/sys/vm/compact_memory``."""
        self.compact_memory_runs += 1
        await self.sub.lru.lru_add_drain_all(me, getattr(self.pa, "queue_work_on", None))
        for pgdat in self.pa.nodes:
            await self.compact_node(pgdat, False, me)

    # ----------------------------------------------------------- kcompactd
    def kcompactd_work_requested(self, kn) -> bool:
        return kn.kcompactd_max_order > 0 or kn.proactive_compact_trigger

    def kcompactd_node_suitable(self, kn) -> bool:
        pgdat = self.pa.nodes[kn.nid]
        hz = kn.kcompactd_highest_zoneidx
        for z in pgdat.node_zones[:hz + 1]:
            if not z.populated():
                continue
            if self.compaction_suit_allocation_order(z, kn.kcompactd_max_order, hz,
                                                     ALLOC_WMARK_MIN) == COMPACT_CONTINUE:
                return True
        return False

    def wakeup_kcompactd(self, pgdat, order: int, highest_zoneidx: int):
        """wakeup_kcompactd (kswapd before it sleeps and after a boosted run;
        wakeup_kswapd on a balanced node for a non-direct-reclaim request)."""
        if not order:
            return
        kn = self.nodes[pgdat.node_id]
        if kn.kcompactd_max_order < order:
            kn.kcompactd_max_order = order
        if kn.kcompactd_highest_zoneidx > highest_zoneidx:
            kn.kcompactd_highest_zoneidx = highest_zoneidx
        if kn.actor is not None and kn.waiting is None:
            return                                     # !wq_has_sleeper: it is awake
        if not self.kcompactd_node_suitable(kn):
            return
        kn.wakeups += 1
        if kn.actor is None:
            self._start_kcompactd(kn)
        else:
            self._wake(kn)

    def _wake(self, kn):
        token = kn.waiting
        if token is None:
            return
        kn.waiting = None
        token[1] = True
        a = token[0]
        if a.state.value == "parked":
            self.engine.wake(a, self.engine.now + self.costs.wakeup_ns)

    def start(self):
        """At boot (KCOMPACTD_AT_BOOT): kcompactd_run for every node."""
        for kn in self.nodes:
            if kn.actor is None:
                self._start_kcompactd(kn)

    def _start_kcompactd(self, kn):
        pa = self.pa
        cpus = [c for c in range(pa.ncpus) if pa.node_of[c] == kn.nid]
        cpu = cpus[0] if cpus else 0
        kn.state = "running"

        async def body(a):
            await self.kcompactd(kn, a)
        if self.engine._nursery is None:               # at boot, before the run starts
            kn.actor = self.machine.add_kthread(f"kcompactd{kn.nid}", body, cpu) \
                if self.machine is not None else self.engine.add_actor(
                    f"kcompactd{kn.nid}", body, cpu=cpu, node=kn.nid)
        else:
            kn.actor = self.engine.spawn(f"kcompactd{kn.nid}", body, cpu=cpu, node=kn.nid)
        set_kthread(kn.actor)

    def _workloads_done(self) -> bool:
        return self.sub.vmscan._workloads_done()

    async def _sleep(self, kn, timeout_ns, me) -> bool:
        """wait_event_freezable_timeout(kcompactd_wait, work requested, timeout):
        True when woken (work requested), False on timeout.  The timeout is a
        timer actor that checks every jiffy whether the run's workloads have
        all finished, and then wakes kcompactd to end (kthread_should_stop)."""
        if self.kcompactd_work_requested(kn):
            return True
        eng = self.engine
        token = [me, False]
        kn.waiting = token
        deadline = None if timeout_ns is None else eng.now + timeout_ns

        async def timer(_a):
            while True:
                step = JIFFY_NS if deadline is None else min(JIFFY_NS, deadline - eng.now)
                if step > 0:
                    await eng.spend(step)
                if token[1]:                           # woken: nothing to do
                    return
                if self._workloads_done() or (deadline is not None and eng.now >= deadline):
                    if kn.waiting is token:
                        kn.waiting = None
                    if me.state.value == "parked":
                        eng.wake(me)
                    return
        eng.spawn(f"timer/kcompactd{kn.nid}", timer, cpu=me.cpu, node=me.node)
        kn.state = "sleeping"
        await eng.park(kn)
        kn.state = "running"
        return token[1]

    async def kcompactd(self, kn, me):
        """kcompactd(): the per-node compaction thread."""
        pgdat = self.pa.nodes[kn.nid]
        default_timeout = HPAGE_FRAG_CHECK_INTERVAL_MSEC * JIFFY_NS
        timeout = default_timeout
        first = kn.kcompactd_max_order > 0
        while True:
            if self._workloads_done():
                kn.state = "stopped"
                return
            if not self.proactiveness:
                timeout = None                         # MAX_SCHEDULE_TIMEOUT
            woken = True if first else await self._sleep(kn, timeout, me)
            first = False
            if self._workloads_done():
                kn.state = "stopped"
                return
            if woken and self.kcompactd_work_requested(kn) and not kn.proactive_compact_trigger:
                await self.kcompactd_do_work(kn, pgdat, me)
                timeout = default_timeout
                continue
            timeout = default_timeout
            kn.checks.append((self.engine.now, self.fragmentation_score_node(pgdat)))
            if self.should_proactive_compact_node(pgdat):
                prev = self.fragmentation_score_node(pgdat)
                kn.proactive_runs += 1
                await self.compact_node(pgdat, True, me)
                score = self.fragmentation_score_node(pgdat)
                kn.scores.append((self.engine.now, prev, score))
                if score >= prev:
                    kn.proactive_backoffs += 1
                    timeout = default_timeout << COMPACT_MAX_DEFER_SHIFT
            kn.proactive_compact_trigger = False

    async def kcompactd_do_work(self, kn, pgdat, me):
        order = kn.kcompactd_max_order
        hz = kn.kcompactd_highest_zoneidx
        kn.work_runs += 1
        self.count(me, "compact_daemon_wake")
        cc = CompactControl(order, GFP_KERNEL, MIGRATE_SYNC_LIGHT, highest_zoneidx=hz)
        for zone in pgdat.node_zones[:hz + 1]:
            if not zone.populated():
                continue
            if self.compaction_deferred(zone, order):
                continue
            if self.compaction_suit_allocation_order(zone, order, zone.zone_idx,
                                                     ALLOC_WMARK_MIN) != COMPACT_CONTINUE:
                continue
            cc.zone = zone
            cc.whole_zone = False
            status = await self.compact_zone(cc, me)
            if status == COMPACT_SUCCESS:
                self.compaction_defer_reset(zone, order, False)
            elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
                await self.pa.drain_all_pages(zone)
                self.defer_compaction(zone, order)
            self.count(me, "compact_daemon_migrate_scanned", cc.total_migrate_scanned)
            self.count(me, "compact_daemon_free_scanned", cc.total_free_scanned)
        if kn.kcompactd_max_order <= order:
            kn.kcompactd_max_order = 0
        if kn.kcompactd_highest_zoneidx >= hz:
            kn.kcompactd_highest_zoneidx = kn.nr_zones - 1

    # ------------------------------------------------------------ reports
    def to_json(self) -> dict:
        pa = self.pa
        zones = []
        for z in pa.populated:
            zones.append({
                "node": z.node, "zone": z.name,
                "fragmentation_score": self.fragmentation_score_zone(z),
                "fragmentation_index_order9": fragmentation_index(z, COMPACTION_HPAGE_ORDER),
                "compact_considered": z.compact_considered,
                "compact_defer_shift": z.compact_defer_shift,
                "compact_order_failed": z.compact_order_failed,
                "skip_blocks": sum(self.skip[z.zone_start_pfn >> pageblock_order:
                                             z.end_pfn >> pageblock_order]),
            })
        return {
            "compact_zone_runs": self.compact_zone_runs,
            "compact_memory_runs": self.compact_memory_runs,
            "results": {COMPACT_RESULTS[i]: n for i, n in enumerate(self.results) if n},
            "direct_compaction_ns": self.stall_ns,
            "zones": zones,
            "nodes": [{"node": kn.nid, "state": kn.state, "wakeups": kn.wakeups,
                       "work_runs": kn.work_runs, "proactive_runs": kn.proactive_runs,
                       "proactive_backoffs": kn.proactive_backoffs,
                       "proactive_checks": len(kn.checks),
                       "proactive_scores": [list(x) for x in kn.scores],
                       "score": self.fragmentation_score_node(self.pa.nodes[kn.nid])}
                      for kn in self.nodes],
            "migrate": self.migrate.to_json(),
        }

    def report(self, extra: dict):
        if self.used or any(kn.actor is not None for kn in self.nodes):
            extra["compaction"] = self.to_json()

    def _check(self):
        """No folio is left isolated and no free page held once compaction is idle."""
        for z in self.pa.populated:
            assert z.zone_start_pfn <= z.compact_cached_free_pfn < z.end_pfn or \
                z.compact_cached_free_pfn == pageblock_start_pfn(z.end_pfn - 1)
