"""Page reclaim: shrink_node, kswapd, direct reclaim (mm/vmscan.c, Linux 6.12, classic LRU).

Lock order here (mm/rmap.c's comment, lru_lock innermost)::

    folio_lock -> anon_vma->rwsem / i_mmap_rwsem (folio_referenced, try_to_unmap)
      -> pte lock -> swap_info->lock ... -> i_pages xa_lock (__remove_mapping)
      -> lruvec->lru_lock (never held across any of the above)

What is modelled, in the kernel's words
---------------------------------------
* ``struct scan_control`` (:class:`ScanControl`), ``shrink_zones`` ->
  ``shrink_node`` (``prepare_scan_control``: ``may_deactivate``,
  ``cache_trim_mode``, ``file_is_tiny``) -> ``shrink_lruvec`` with
  ``get_scan_count`` (``vm.swappiness`` = 60, SCAN_EQUAL/FRACT/ANON/FILE,
  ``scan = lruvec_size >> priority``, anon only while swap space is free), the
  proportional cut once ``nr_to_reclaim`` is met, and the anon aging at the end.
* ``shrink_active_list`` and ``shrink_inactive_list``: ``lru_add_drain()``,
  ``isolate_lru_folios`` of at most SWAP_CLUSTER_MAX = 32 folios under
  ``spin_lock_irq(&lruvec->lru_lock)``, unlock, ``shrink_folio_list``, relock
  for ``move_folios_to_lru``: two lru_lock holds per 32 folios scanned.
* ``shrink_folio_list``: ``folio_trylock``, the three PG_writeback cases,
  ``folio_check_references`` (rmap ``folio_referenced``), ``add_to_swap``,
  ``try_to_unmap``, ``pageout`` -> ``swap_writepage``, ``__remove_mapping``
  under the swap address space's xa_lock with a workingset shadow, frees in
  batches (``free_unref_folios``), PGACTIVATE for the activated.
* ``too_many_isolated`` and ``reclaim_throttle`` with 6.12's reasons and
  timeouts (WRITEBACK HZ/10, ISOLATED HZ/50, NOPROGRESS and CONGESTED one
  jiffy; ``skip_throttle_noprogress``), ``consider_reclaim_throttle``.
* ``try_to_free_pages`` -> ``do_try_to_free_pages`` (ALLOCSTALL in the
  reclaim_idx zone, DEF_PRIORITY = 12 down to 0, ``may_writepage`` below
  DEF_PRIORITY - 2, the ``force_deactivate`` retry).
* kswapd, one actor per node: ``wakeup_kswapd`` (order and highest_zoneidx
  max-merged; a no-op unless kswapd sleeps; wakes kcompactd instead when the
  node is balanced or kswapd has failed MAX_RECLAIM_RETRIES = 16 times),
  ``balance_pgdat`` (watermark boost reclaim, the priority loop from 12 to 1,
  ``kswapd_shrink_node`` reclaiming max(high, 32) per zone, ``pgdat_balanced``
  at the high watermark, ZONE_RECLAIM_ACTIVE, ``kswapd_failures``),
  ``kswapd_try_to_sleep`` (the HZ/10 nap, ``kswapd_low_wmark_hit_quickly`` /
  ``kswapd_high_wmark_hit_quickly``, the vmstat pressure threshold while
  awake), and ``wakeup_kcompactd`` as an explicit, counted call site
  (mm/compaction.py's kcompactd).

Counters as /proc/vmstat names them: pgscan_kswapd/direct, pgsteal_kswapd/
direct, pgscan_anon/file, pgsteal_anon/file, pgrefill, pgactivate,
pgdeactivate, pgrotated (mm/swap.py), pageoutrun, allocstall_*,
kswapd_low/high_wmark_hit_quickly, pgskip_*, nr_vmscan_write,
nr_vmscan_immediate_reclaim, nr_isolated_anon/file, oom_kill (mm/oom_kill.py,
reached through ``alloc_pages_may_oom``).

kswapd is started on its first real wake-up (a run that never wakes it is
unchanged), on the first CPU of its node; it ends instead of sleeping for
good once every workload actor has finished, so it never keeps a run alive.

Simplifications (each also said where it happens): no memcg, no MGLRU, no
unevictable/mlock handling beyond VM_LOCKED activation, no demotion, no
slab shrinkers (``shrink_slab`` runs the registered ones, mm/shrinker.py: the
THP deferred split queue's), no laptop_mode, HZ = 250 (CONFIG_HZ_250); clean
page-cache folios of regular files (mm/filemap_core.py) are reclaimed by
``__remove_mapping`` with a workingset shadow; dirty ones are not written
by reclaim (kswapd only with PGDAT_DIRTY and PG_reclaim, and then pageout
finds no ->writepage, as on ext4/xfs): they get PG_reclaim
(nr_vmscan_immediate_reclaim) and are rotated to the tail when their
writeback ends; ``wakeup_flusher_threads(WB_REASON_VMSCAN)`` when every
isolated folio was dirty and unqueued, and ``reclaim_throttle`` on
VMSCAN_THROTTLE_WRITEBACK (woken by ``acct_reclaim_writeback`` after
SWAP_CLUSTER_MAX folios per sleeper were written);
dirty tmpfs folios go to swap through pageout -> shmem_writepage
(mm/shmem.py), clean ones (never written) are dropped;
``throttle_direct_reclaim``: a direct reclaimer (not a kernel thread, not
killed) whose first usable node has at most half its pfmemalloc reserve
free (``allow_direct_reclaim``: the min watermarks of the zones up to
ZONE_NORMAL that have reclaimable pages) counts pgscan_direct_throttle and
sleeps on ``pgdat->pfmemalloc_wait`` (killable; a second at most without
__GFP_FS), waking kswapd; kswapd wakes the sleepers once the reserve is
back (after each ``kswapd_shrink_node``) and before it sleeps.
``should_continue_reclaim`` (reclaim/compaction) is modelled too;
``zone_reclaimable_pages`` splits the node's LRU over its zones by managed
size (one lruvec per node, no per-zone LRU counters).
"""
from __future__ import annotations

import math

from ..schema import Field
from ._internal import (MAX_NR_ZONES, MAX_RECLAIM_RETRIES, PAGE_ALLOC_COSTLY_ORDER, PG_head,
                        PG_workingset, SWAP_CLUSTER_MAX, ZONE_NORMAL, ZONE_RECLAIM_ACTIVE,
                        pageblock_order)
from .filemap import (PG_active, PG_dirty, PG_reclaim, PG_referenced, PG_swapbacked, PG_swapcache,
                      PG_writeback)
from .filemap_core import __filemap_remove_folio as _filemap_remove_folio_locked
from .gfp import GFP, GFP_KERNEL, gfp_zone
from .mm_types import VM_EXEC, VM_LOCKED
from .oom_kill import OomKiller
from .sched_mm import (PF_KSWAPD, PF_KTHREAD, PF_MEMALLOC, current_flags, fs_reclaim_map_acquire,
                       fs_reclaim_map_release, memalloc_flags_save, set_kthread)
from .shrinker import shrink_slab
from .swap import (LRU_ACTIVE, LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_FILE, LRU_INACTIVE_ANON,
                   LRU_INACTIVE_FILE, folio_is_file_lru)
from .vmstat import (NODE_STAT_ITEMS, NR_FREE_PAGES, ZONE_STAT_ITEMS,
                     calculate_normal_threshold,
                     calculate_pressure_threshold)
from .workingset import workingset_eviction

__all__ = ["VmScan", "ScanControl", "SYSCTL", "DEF_PRIORITY", "HZ", "VMSCAN_THROTTLE_WRITEBACK",
           "VMSCAN_THROTTLE_ISOLATED", "VMSCAN_THROTTLE_NOPROGRESS", "VMSCAN_THROTTLE_CONGESTED",
           "inactive_is_low"]

DEF_PRIORITY = 12
MAX_SWAPPINESS = 200
HZ = 250                                     # CONFIG_HZ_250 (a typical distribution kernel)
JIFFY_NS = 1_000_000_000 // HZ
# enum vmscan_throttle_state
VMSCAN_THROTTLE_WRITEBACK, VMSCAN_THROTTLE_ISOLATED, VMSCAN_THROTTLE_NOPROGRESS, \
    VMSCAN_THROTTLE_CONGESTED = range(4)
THROTTLE_NAMES = ("writeback", "isolated", "noprogress", "congested")
# enum folio_references
FOLIOREF_RECLAIM, FOLIOREF_RECLAIM_CLEAN, FOLIOREF_KEEP, FOLIOREF_ACTIVATE = range(4)
# enum scan_balance
SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE = range(4)
DEACTIVATE_ANON, DEACTIVATE_FILE = 1, 2
_GFP_IO = GFP["__GFP_IO"]
_GFP_FS = GFP["__GFP_FS"]
_GFP_DIRECT_RECLAIM = GFP["__GFP_DIRECT_RECLAIM"]
_NR_ISOLATED_ANON = NODE_STAT_ITEMS.index("nr_isolated_anon")
_NR_VMSCAN_WRITE = NODE_STAT_ITEMS.index("nr_vmscan_write")
_NR_VMSCAN_IMMEDIATE = NODE_STAT_ITEMS.index("nr_vmscan_immediate_reclaim")
_NR_THROTTLED_WRITTEN = NODE_STAT_ITEMS.index("nr_throttled_written")
_NR_ZONE_WRITE_PENDING = ZONE_STAT_ITEMS.index("nr_zone_write_pending")
_ACTIVATE_ANON = NODE_STAT_ITEMS.index("workingset_activate_anon")

# The /proc/vmstat events of reclaim (the report's list).
RECLAIM_EVENTS = ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
                  "pgscan_anon", "pgscan_file", "pgsteal_anon", "pgsteal_file", "pgrefill",
                  "pgactivate", "pgdeactivate", "pgrotated", "pageoutrun",
                  "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                  "pgscan_direct_throttle", "oom_kill")

SYSCTL = (
    Field("vm.swappiness", int, 60,
          check=lambda v: None if 0 <= v <= MAX_SWAPPINESS else f"must be 0..200, got {v}",
          doc="relative I/O cost of swapping anon vs dropping file pages (mm/vmscan.c; "
              "0..200, default 60)"),
)


def int_sqrt(x: int) -> int:
    """lib/math/int_sqrt.c: the integer square root, rounded down."""
    return math.isqrt(x)


def _blk_plug_api():
    """(blk_start_plug(actor), async blk_finish_plug(actor)) if the block
    layer models the plug, else None (then writes go out at once)."""
    from ..block import blk_core
    start = getattr(blk_core, "blk_start_plug", None)
    finish = getattr(blk_core, "blk_finish_plug", None)
    return (start, finish) if start is not None and finish is not None else None


def inactive_is_low(lruvec, inactive_lru: int) -> bool:
    """inactive_is_low: inactive * inactive_ratio < active, ratio sqrt(10 * GB)."""
    inactive = lruvec.lru_size(inactive_lru)
    active = lruvec.lru_size(inactive_lru + LRU_ACTIVE)
    gb = (inactive + active) >> (30 - 12)
    ratio = int_sqrt(10 * gb) if gb else 1
    return inactive * ratio < active


class ScanControl:
    """struct scan_control (the fields this model uses)."""

    __slots__ = ("nr_to_reclaim", "nodemask", "gfp_mask", "order", "priority", "reclaim_idx",
                 "may_writepage", "may_unmap", "may_swap", "may_deactivate",
                 "force_deactivate", "skipped_deactivate", "cache_trim_mode", "file_is_tiny",
                 "no_cache_trim_mode", "cache_trim_mode_failed", "anon_cost", "file_cost",
                 "nr_scanned", "nr_reclaimed", "nr", "compaction_ready", "kswapd")

    def __init__(self, gfp_mask: int, order: int, *, nr_to_reclaim: int = SWAP_CLUSTER_MAX,
                 reclaim_idx: int = MAX_NR_ZONES - 1, priority: int = DEF_PRIORITY,
                 may_writepage: bool = True, may_unmap: bool = True, may_swap: bool = True,
                 kswapd: bool = False, nodemask=None):
        self.nr_to_reclaim = nr_to_reclaim
        self.nodemask = nodemask
        self.gfp_mask = gfp_mask
        self.order = order
        self.priority = priority
        self.reclaim_idx = reclaim_idx
        self.may_writepage = may_writepage
        self.may_unmap = may_unmap
        self.may_swap = may_swap
        self.may_deactivate = 0
        self.force_deactivate = False
        self.skipped_deactivate = False
        self.cache_trim_mode = False
        self.file_is_tiny = False
        self.no_cache_trim_mode = False
        self.cache_trim_mode_failed = False
        self.anon_cost = 0
        self.file_cost = 0
        self.nr_scanned = 0
        self.nr_reclaimed = 0
        self.nr = dict.fromkeys(("dirty", "unqueued_dirty", "congested", "writeback",
                                 "immediate", "file_taken", "taken"), 0)
        self.compaction_ready = False
        self.kswapd = kswapd


class ReclaimStat:
    """struct reclaim_stat."""

    __slots__ = ("nr_dirty", "nr_unqueued_dirty", "nr_congested", "nr_writeback",
                 "nr_immediate", "nr_pageout", "nr_activate", "nr_ref_keep", "nr_unmap_fail")

    def __init__(self):
        self.nr_dirty = self.nr_unqueued_dirty = self.nr_congested = 0
        self.nr_writeback = self.nr_immediate = self.nr_pageout = 0
        self.nr_activate = [0, 0]
        self.nr_ref_keep = self.nr_unmap_fail = 0


class _WaitList:
    """A wait_queue_head_t: actors parked until woken (or their timer fires)."""

    def __init__(self, name: str):
        self.name = name
        self.waiters: list = []

    def holders(self):
        return []

    def __repr__(self):
        return self.name


class KswapdNode:
    """The per-node kswapd fields of ``pg_data_t`` and the actor's state."""

    def __init__(self, nid: int):
        self.nid = nid
        self.actor = None
        self.kswapd_order = 0
        self.kswapd_highest_zoneidx = MAX_NR_ZONES      # "none requested"
        self.kswapd_wait = _WaitList(f"pgdat{nid}->kswapd_wait")
        self.pfmemalloc_wait = _WaitList(f"pgdat{nid}->pfmemalloc_wait")
        self.reclaim_wait = [_WaitList(f"pgdat{nid}->reclaim_wait[{n}]") for n in THROTTLE_NAMES]
        self.state = "not started"      # not started | running | napping | sleeping | stopped
        self.flags = set()              # PGDAT_WRITEBACK, PGDAT_DIRTY, LRUVEC_NODE_CONGESTED
        self.refaults = [0, 0]          # lruvec->refaults[WORKINGSET_ANON/FILE]
        self.wakeups = 0                # real wake-ups (wake_up_interruptible)
        self.runs = 0                   # balance_pgdat calls
        self.kcompactd_wakeups = 0      # wakeup_kcompactd call sites reached
        self.nr_reclaimed = 0
        self.throttled = [0] * 4        # reclaim_throttle calls per reason
        self.throttled_ns = [0] * 4     # time slept in reclaim_throttle per reason
        self.pfmemalloc_throttled = 0       # throttle_direct_reclaim sleeps
        self.pfmemalloc_throttled_ns = 0    # and their time
        self.nr_writeback_throttled = 0     # pgdat->nr_writeback_throttled
        self.nr_reclaim_start = 0           # pgdat->nr_reclaim_start
        self.first_nap_ns = None        # the first nap after reclaiming something (warm-up)


class VmScan:
    """The machine's reclaim: kswapd per node, direct reclaim, shrink_node."""

    def __init__(self, sub, machine=None):
        self.sub = sub
        self.engine = sub.engine
        self.pa = sub.pa
        self.lru = sub.lru
        self.vmstat = sub.physmem.vmstat
        self.mem_map = sub.mem_map
        self.machine = machine
        sysctl = machine.sysctl if machine is not None else {}
        self.swappiness = int(sysctl.get("vm.swappiness", 60))
        self.nodes = [KswapdNode(n) for n in range(len(self.pa.nodes))]
        self.ev = self.vmstat.ev
        self.oom = OomKiller(sub, HZ)              # mm/oom_kill.c
        self.direct_reclaims = 0
        self.flusher_wakeups = 0         # wakeup_flusher_threads(WB_REASON_VMSCAN) calls
        self.first_direct_ns = None      # virtual time of the first and last direct reclaim
        self.last_direct_ns = None
        self.direct_reclaimed = 0
        self.samples: list = []          # (ns, [free pages per node]) for the report chart
        self._sample_every = 1_000_000   # 1 ms, doubled whenever MAX_SAMPLES is reached
        self._next_sample = 0
        self._pressure = False           # any kswapd woken (the report appears)

    # ----------------------------------------------------------------- helpers
    def count(self, cpu: int, name: str, n: int = 1):
        if n:
            self.vmstat.events[cpu][self.ev[name]] += n

    def total_swap_pages(self) -> int:
        sw = self.sub.swap
        return sw.total_swap_pages if sw is not None else 0

    def nr_swap_pages(self) -> int:
        sw = self.sub.swap
        return sw.nr_swap_pages if sw is not None else 0

    def can_reclaim_anon_pages(self) -> bool:
        """can_reclaim_anon_pages (no memcg, no demotion): free swap space."""
        return self.nr_swap_pages() > 0

    def zone_reclaimable_pages(self, zone) -> int:
        """zone_reclaimable_pages: file LRU pages, plus anon with free swap.
        Simplification: one lruvec per node, so a zone's share is the node's
        pages times the zone's part of the node's managed pages."""
        pgdat = zone.zone_pgdat
        lv = self.lru.lruvecs[pgdat.node_id]
        n = lv.nr_pages()
        nr = n[LRU_INACTIVE_FILE] + n[LRU_ACTIVE_FILE]
        if self.can_reclaim_anon_pages():
            nr += n[LRU_INACTIVE_ANON] + n[LRU_ACTIVE_ANON]
        managed = sum(z.managed_pages for z in pgdat.node_zones)
        return nr * zone.managed_pages // managed if managed else 0

    def can_age_anon_pages(self) -> bool:
        return self.total_swap_pages() > 0

    def _workloads_done(self) -> bool:
        m = self.machine
        if m is None:
            return False
        from .._core import ActorState
        return all(a.state is ActorState.DONE for a in m._cpu_actors)

    async def schedule_timeout(self, wl: _WaitList, ns: int, me) -> int:
        """prepare_to_wait + schedule_timeout(ns) on ``wl``: park until woken
        or until a timer fires; returns the time remaining (0: timed out).
        The timer is a one-shot actor (the hrtimer softirq)."""
        eng = self.engine
        deadline = eng.now + ns
        token = [me, False]                          # [actor, woken]
        wl.waiters.append(token)

        async def timer(_a):
            await eng.spend(max(0, deadline - eng.now))
            if any(t is token for t in wl.waiters):  # nobody woke it: time out
                wl.waiters[:] = [t for t in wl.waiters if t is not token]
                if me.state.value == "parked":
                    eng.wake(me)
        eng.spawn(f"timer/{wl.name}", timer, cpu=me.cpu, node=me.node)
        await eng.park(wl)
        return max(0, deadline - eng.now) if token[1] else 0

    def wake_up(self, wl: _WaitList, at: int | None = None) -> int:
        """wake_up_all of ``wl``: the parked waiters run again."""
        eng = self.engine
        n = 0
        for token in list(wl.waiters):
            a = token[0]
            wl.waiters.remove(token)
            token[1] = True
            if a.state.value == "parked":
                eng.wake(a, eng.now + eng.costs.wakeup_ns if at is None else at)
                n += 1
        return n

    # ------------------------------------------------------------- watermarks
    def managed_zones(self, pgdat, highest_zoneidx: int):
        return [z for z in pgdat.node_zones[:highest_zoneidx + 1] if z.managed_pages]

    def pgdat_balanced(self, pgdat, order: int, highest_zoneidx: int) -> bool:
        """pgdat_balanced: any eligible zone meets its high watermark."""
        mark = -1
        for z in self.managed_zones(pgdat, highest_zoneidx):
            mark = z.high_wmark_pages()
            if self.pa.zone_watermark_ok_safe(z, order, mark, highest_zoneidx):
                return True
        return mark == -1

    def pgdat_watermark_boosted(self, pgdat, highest_zoneidx: int) -> bool:
        return any(z.watermark_boost for z in self.managed_zones(pgdat, highest_zoneidx))

    def set_pgdat_percpu_threshold(self, pgdat, pressure: bool):
        """set_pgdat_percpu_threshold: the vmstat diff thresholds of the node's
        zones, calculate_pressure_threshold while kswapd is awake."""
        ncpus = self.pa.ncpus
        for z in pgdat.node_zones:
            if not z.per_cpu_pageset:
                continue
            if pressure:
                t = calculate_pressure_threshold(z._watermark[1], z._watermark[0], ncpus)
            else:
                t = calculate_normal_threshold(z.managed_pages, ncpus)
            for cpu in range(ncpus):
                z.stat_threshold[cpu] = t

    # ------------------------------------------------------------ throttling
    def skip_throttle_noprogress(self, pgdat) -> bool:
        """skip_throttle_noprogress: kswapd has given up, or at most half the
        reclaimable pages are dirty or under writeback (they will throttle
        on writeback at the LRU tail instead)."""
        if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
            return True
        reclaimable = write_pending = 0
        for z in pgdat.node_zones:
            if not z.managed_pages:
                continue
            reclaimable += self.zone_reclaimable_pages(z)
            write_pending += self.vmstat.zone_page_state_snapshot(z, _NR_ZONE_WRITE_PENDING)
        return 2 * write_pending <= reclaimable

    async def reclaim_throttle(self, pgdat, reason: int, me):
        """reclaim_throttle: sleep on pgdat->reclaim_wait[reason] for 6.12's
        timeout (or until woken); kthreads other than kswapd only yield."""
        kn = self.nodes[pgdat.node_id]
        fl = current_flags(me)
        if fl & PF_KTHREAD and not fl & PF_KSWAPD:
            # kthreads other than kswapd (khugepaged, kworkers) may be what
            # reclaim needs to progress: they do not sleep here
            await self.engine.spend(self.engine.costs.context_switch_ns)   # cond_resched
            return
        if reason == VMSCAN_THROTTLE_WRITEBACK:
            timeout = HZ // 10
        elif reason in (VMSCAN_THROTTLE_CONGESTED, VMSCAN_THROTTLE_NOPROGRESS):
            if self.skip_throttle_noprogress(pgdat):
                await self.engine.spend(self.engine.costs.context_switch_ns)   # cond_resched
                return
            timeout = 1
        else:
            timeout = HZ // 50
        kn.throttled[reason] += 1
        if reason == VMSCAN_THROTTLE_WRITEBACK:
            kn.nr_writeback_throttled += 1
            if kn.nr_writeback_throttled == 1:
                kn.nr_reclaim_start = self.node_state(pgdat, _NR_THROTTLED_WRITTEN)
        plug = _blk_plug_api()
        if plug is not None:                   # schedule() -> sched_submit_work -> blk_flush_plug
            from ..block.blk_core import blk_flush_plug
            await blk_flush_plug(me)
        t0 = self.engine.now
        await self.schedule_timeout(kn.reclaim_wait[reason], timeout * JIFFY_NS, me)
        kn.throttled_ns[reason] += self.engine.now - t0
        if reason == VMSCAN_THROTTLE_WRITEBACK:
            kn.nr_writeback_throttled -= 1

    def node_state(self, pgdat, item: int) -> int:
        """node_page_state: the node's folded counter (per-CPU diffs not summed)."""
        return max(pgdat.vm_stat[item], 0)

    def acct_reclaim_writeback(self, pfn: int, me) -> None:
        """acct_reclaim_writeback / __acct_reclaim_writeback: a folio's
        writeback ended while reclaimers sleep on VMSCAN_THROTTLE_WRITEBACK;
        once SWAP_CLUSTER_MAX folios per sleeper were written, wake them."""
        pgdat = self.pa.zone_of(pfn).zone_pgdat
        kn = self.nodes[pgdat.node_id]
        nr_throttled = kn.nr_writeback_throttled
        if nr_throttled <= 0:
            return
        self.vmstat.mod_node_page_state(pgdat, _NR_THROTTLED_WRITTEN, 1, me)
        nr_written = self.node_state(pgdat, _NR_THROTTLED_WRITTEN) - kn.nr_reclaim_start
        if nr_written > SWAP_CLUSTER_MAX * nr_throttled:
            wl = kn.reclaim_wait[VMSCAN_THROTTLE_WRITEBACK]
            if wl.waiters:
                self.wake_up(wl)

    def node_isolated(self, pgdat, file: bool) -> int:
        v = pgdat.vm_stat[_NR_ISOLATED_ANON + file] + sum(
            d[_NR_ISOLATED_ANON + file] for d in pgdat.vm_node_stat_diff)
        return max(v, 0)

    def too_many_isolated(self, pgdat, file: bool, sc: ScanControl) -> bool:
        """too_many_isolated: direct reclaimers wait while more folios are
        isolated than sit on the inactive list (an eighth of it for GFP_IO|FS)."""
        if sc.kswapd:
            return False
        lruvec = self.lru.lruvecs[pgdat.node_id]
        inactive = lruvec.lru_size(LRU_INACTIVE_FILE if file else LRU_INACTIVE_ANON)
        isolated = self.node_isolated(pgdat, file)
        if sc.gfp_mask & (_GFP_IO | _GFP_FS) == (_GFP_IO | _GFP_FS):
            inactive >>= 3
        too_many = isolated > inactive
        if not too_many:                               # wake_throttle_isolated
            wl = self.nodes[pgdat.node_id].reclaim_wait[VMSCAN_THROTTLE_ISOLATED]
            if wl.waiters:
                self.wake_up(wl)
        return too_many

    # ----------------------------------------------------------- the scanning
    def _zone_ok(self, sc):
        idx = sc.reclaim_idx
        return lambda z: z.zone_idx <= idx

    async def shrink_inactive_list(self, nr_to_scan: int, lruvec, sc: ScanControl, lru: int,
                                   me) -> int:
        pgdat = self.pa.nodes[lruvec.nid]
        file = lru >= LRU_INACTIVE_FILE
        stalled = False
        while self.too_many_isolated(pgdat, file, sc):
            if stalled:
                return 0
            stalled = True
            await self.reclaim_throttle(pgdat, VMSCAN_THROTTLE_ISOLATED, me)
        await self.lru.lru_add_drain(me)
        lk = lruvec.lru_lock
        await lk.lock_irq("shrink_inactive_list")
        taken, nr_scanned, skipped, total = self.lru.isolate_lru_folios(
            lruvec, nr_to_scan, lru, self._zone_ok(sc))
        await self.engine.spend(total * self.engine.costs.llc_hit_ns)
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + file, len(taken), me)
        cpu = me.cpu
        self.count(cpu, "pgscan_kswapd" if sc.kswapd else "pgscan_direct", nr_scanned)
        self.count(cpu, "pgscan_file" if file else "pgscan_anon", nr_scanned)
        for zi, n in skipped.items():
            self.count(cpu, f"pgskip_{('dma', 'dma32', 'normal', 'movable')[zi]}", n)
        lk.unlock_irq("shrink_inactive_list")
        if not taken:
            return 0
        stat = ReclaimStat()
        nr_reclaimed, keep = await self.shrink_folio_list(taken, pgdat, sc, stat, me)
        await lk.lock_irq("shrink_inactive_list")
        _, free = self.lru.move_folios_to_lru(lruvec, keep)
        await self.engine.spend(len(keep) * self.engine.costs.llc_hit_ns)
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + file, -len(taken), me)
        self.count(cpu, "pgsteal_kswapd" if sc.kswapd else "pgsteal_direct", nr_reclaimed)
        self.count(cpu, "pgsteal_file" if file else "pgsteal_anon", nr_reclaimed)
        lk.unlock_irq("shrink_inactive_list")
        for pfn in free:                               # free_unref_folios after unlocking
            await self._free_folio(pfn)
        await self.lru.lru_note_cost(lruvec, file, stat.nr_pageout,
                                     nr_scanned - nr_reclaimed, me)
        if stat.nr_unqueued_dirty == len(taken):
            # the flushers are not keeping up: wakeup_flusher_threads(WB_REASON_VMSCAN)
            # (fs/fs_writeback.py, reached through the machine's writeback
            # state); writeback_throttling_sane() holds without memcg v1, so
            # no reclaim_throttle here
            self.flusher_wakeups += 1
            pw = getattr(self.sub, "writeback", None)
            if pw is not None and pw.fs is not None:
                await pw.fs.wakeup_flusher_threads("vmscan", me)
        for k, v in (("dirty", stat.nr_dirty), ("congested", stat.nr_congested),
                     ("unqueued_dirty", stat.nr_unqueued_dirty),
                     ("writeback", stat.nr_writeback), ("immediate", stat.nr_immediate),
                     ("taken", len(taken))):
            sc.nr[k] += v
        if file:
            sc.nr["file_taken"] += len(taken)
        return nr_reclaimed

    async def shrink_active_list(self, nr_to_scan: int, lruvec, sc: ScanControl, lru: int, me):
        from .rmap import folio_referenced
        pgdat = self.pa.nodes[lruvec.nid]
        file = lru >= LRU_INACTIVE_FILE
        await self.lru.lru_add_drain(me)
        lk = lruvec.lru_lock
        await lk.lock_irq("shrink_active_list")
        taken, nr_scanned, skipped, total = self.lru.isolate_lru_folios(
            lruvec, nr_to_scan, lru, self._zone_ok(sc))
        await self.engine.spend(total * self.engine.costs.llc_hit_ns)
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + file, len(taken), me)
        self.count(me.cpu, "pgrefill", nr_scanned)
        lk.unlock_irq("shrink_active_list")
        f = self.mem_map.f
        l_active, l_inactive = [], []
        nr_rotated = 0
        for pfn in taken:
            referenced, vm_flags = await folio_referenced(self.sub, pfn, me, False)
            if referenced and vm_flags & VM_EXEC and folio_is_file_lru(f[pfn]):
                nr_rotated += 1
                l_active.append(pfn)
                continue
            f[pfn] = (f[pfn] & ~PG_active) | PG_workingset        # deactivating
            l_inactive.append(pfn)
        await lk.lock_irq("shrink_active_list")
        _, free1 = self.lru.move_folios_to_lru(lruvec, l_active)
        nr_deactivate, free2 = self.lru.move_folios_to_lru(lruvec, l_inactive)
        await self.engine.spend(len(taken) * self.engine.costs.llc_hit_ns)
        self.count(me.cpu, "pgdeactivate", nr_deactivate)
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + file, -len(taken), me)
        lk.unlock_irq("shrink_active_list")
        for pfn in free1 + free2:
            await self._free_folio(pfn)
        if nr_rotated:
            await self.lru.lru_note_cost(lruvec, file, 0, nr_rotated, me)

    async def _free_folio(self, pfn: int):
        """The last reference of an isolated folio went away while reclaim
        held it: it is freed (rmap forgotten, back to the page allocator)."""
        self.sub.rmap.forget(pfn)
        mem = self.mem_map
        await self.pa.free_pages(pfn, mem.ord[pfn] if mem.f[pfn] & PG_head else 0)

    async def folio_check_references(self, pfn: int, sc: ScanControl, me) -> int:
        from .rmap import folio_referenced
        f = self.mem_map.f
        referenced_ptes, vm_flags = await folio_referenced(self.sub, pfn, me, True)
        referenced_folio = bool(f[pfn] & PG_referenced)
        f[pfn] &= ~PG_referenced                     # folio_test_clear_referenced
        if vm_flags & VM_LOCKED:
            return FOLIOREF_ACTIVATE
        if referenced_ptes == -1:
            return FOLIOREF_KEEP
        if referenced_ptes:
            f[pfn] |= PG_referenced
            if referenced_folio or referenced_ptes > 1:
                return FOLIOREF_ACTIVATE
            if vm_flags & VM_EXEC and folio_is_file_lru(f[pfn]):
                return FOLIOREF_ACTIVATE
            return FOLIOREF_KEEP
        if referenced_folio and folio_is_file_lru(f[pfn]):
            return FOLIOREF_RECLAIM_CLEAN
        return FOLIOREF_RECLAIM

    async def shrink_folio_list(self, folios: list, pgdat, sc: ScanControl, stat: ReclaimStat,
                                me, ignore_references: bool = False) -> tuple[int, list]:
        """shrink_folio_list: returns (pages reclaimed, folios to put back).
        ``ignore_references`` (reclaim_pages, MADV_PAGEOUT) skips
        folio_check_references: every folio is a FOLIOREF_RECLAIM."""
        sub = self.sub
        f = self.mem_map.f
        rmap = sub.rmap
        locks = sub.folio_locks
        costs = self.engine.costs
        sc_ = sub.swap_cache
        ret, free_batch = [], []
        nr_reclaimed = 0
        pgactivate = 0
        is_kswapd = sc.kswapd
        kn = self.nodes[pgdat.node_id]
        flushed_dirty = False
        for pfn in folios:
            await self.engine.spend(costs.llc_hit_ns)     # cond_resched + the folio's line
            if not locks.folio_trylock(pfn, me):
                ret.append(pfn)
                continue
            sc.nr_scanned += 1
            if not sc.may_unmap and rmap.folio_mapped(pfn):
                locks.folio_unlock(pfn, me)
                ret.append(pfn)
                continue
            fl = f[pfn]
            file = folio_is_file_lru(fl)
            anon = not file
            dirty = bool(fl & PG_dirty) and file     # folio_check_dirty_writeback:
            writeback = bool(fl & PG_writeback)      # anon dirtiness does not stall
            if dirty or writeback:
                stat.nr_dirty += 1
            if dirty and not writeback:
                stat.nr_unqueued_dirty += 1
            if writeback and fl & PG_reclaim:
                stat.nr_congested += 1
            activate = False
            if writeback:
                if is_kswapd and fl & PG_reclaim and "PGDAT_WRITEBACK" in kn.flags:
                    stat.nr_immediate += 1                            # case 1
                else:
                    f[pfn] |= PG_reclaim                              # case 2
                    stat.nr_writeback += 1
                # case 3 (legacy memcg waits on writeback) does not arise: no memcg v1
                activate = True
            if not activate and not ignore_references:
                refs = await self.folio_check_references(pfn, sc, me)
                if refs == FOLIOREF_ACTIVATE:
                    activate = True
                elif refs == FOLIOREF_KEEP:
                    stat.nr_ref_keep += 1
                    locks.folio_unlock(pfn, me)
                    ret.append(pfn)
                    continue
            if not activate and anon and f[pfn] & PG_swapbacked \
                    and rmap.folio_test_anon(pfn) and not f[pfn] & PG_swapcache:
                if not sc.gfp_mask & _GFP_IO or sc_ is None:
                    locks.folio_unlock(pfn, me)
                    ret.append(pfn)
                    continue
                if f[pfn] & PG_head:
                    # add_to_swap of a THP: this swap allocator has order-0 slots
                    # only, so 6.12's fallback: split_folio_to_list onto this
                    # list (mm/huge_memory.py), thp_swpout_fallback, swap the head
                    n0 = len(folios)
                    if await sub.thp.split_folio(pfn, me, folios):
                        sub.thp.count(me.cpu, "thp_swpout_fallback")
                        # the tails joined the isolated list, which the caller
                        # takes off nr_isolated_anon by its length
                        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON,
                                                        len(folios) - n0, me)
                    else:
                        activate = True
                if not activate and not await sc_.add_to_swap(pfn, me):
                    activate = True                  # activate_locked_split
            if not activate and rmap.folio_mapped(pfn):
                from .rmap import try_to_unmap
                await try_to_unmap(sub, pfn, me, True)
                if rmap.folio_mapped(pfn):
                    stat.nr_unmap_fail += 1
                    activate = True
            if not activate and f[pfn] & PG_dirty:
                if file and (not is_kswapd or not f[pfn] & PG_reclaim
                             or "PGDAT_DIRTY" not in kn.flags):
                    self.vmstat.mod_node_page_state(pgdat, _NR_VMSCAN_IMMEDIATE, 1, me)
                    f[pfn] |= PG_reclaim
                    activate = True
                elif not sc.may_writepage or (not f[pfn] & PG_swapcache
                                              and not sc.gfp_mask & _GFP_FS):   # may_enter_fs
                    locks.folio_unlock(pfn, me)
                    ret.append(pfn)
                    continue
                else:
                    if not flushed_dirty:
                        from .rmap import try_to_unmap_flush_dirty
                        await try_to_unmap_flush_dirty(sub, me)
                        flushed_dirty = True
                    res = await self.pageout(pfn, me, pgdat)
                    if res == "keep":
                        locks.folio_unlock(pfn, me)
                        ret.append(pfn)
                        continue
                    if res == "activate":
                        activate = True
                    elif res == "success":
                        stat.nr_pageout += 1
                        if f[pfn] & (PG_writeback | PG_dirty):
                            ret.append(pfn)           # keep: the I/O owns the unlock
                            continue
                        if not locks.folio_trylock(pfn, me):
                            ret.append(pfn)
                            continue
                        if f[pfn] & (PG_writeback | PG_dirty):
                            locks.folio_unlock(pfn, me)
                            ret.append(pfn)
                            continue
            if not activate:
                if not await self.remove_mapping(pfn, me):
                    locks.folio_unlock(pfn, me)
                    ret.append(pfn)
                    continue
                locks.folio_unlock(pfn, me)
                nr_reclaimed += 1
                free_batch.append(pfn)
                if len(free_batch) >= self.lru.PAGEVEC_SIZE:      # folio_batch_add == 0
                    await self._free_batch(free_batch, me)
                    free_batch = []
                continue
            # activate_locked:
            if f[pfn] & PG_swapcache and sc_ is not None \
                    and self.nr_swap_pages() * 2 < self.total_swap_pages():
                await sc_.folio_free_swap(pfn, me)    # mem_cgroup_swap_full: vm_swap_full
            f[pfn] |= PG_active
            stat.nr_activate[int(folio_is_file_lru(f[pfn]))] += 1
            pgactivate += 1
            locks.folio_unlock(pfn, me)
            ret.append(pfn)
        if free_batch:
            await self._free_batch(free_batch, me)
        else:
            await self._flush(me)
        self.count(me.cpu, "pgactivate", pgactivate)
        return nr_reclaimed, ret

    async def _flush(self, me):
        if self.sub.swap_cache is not None:
            from .rmap import try_to_unmap_flush
            await try_to_unmap_flush(self.sub, me)

    async def _free_batch(self, pfns: list, me):
        """try_to_unmap_flush + free_unref_folios of a batch: the folios hold
        only the isolation reference (frozen to 0 by __remove_mapping)."""
        await self._flush(me)
        ref = self.mem_map.ref
        for pfn in pfns:
            ref[pfn] = 1                              # free_pages drops it
            await self._free_folio(pfn)

    async def pageout(self, pfn: int, me, pgdat) -> str:
        """pageout: a_ops->writepage (swap_writepage for swap-cache folios);
        'keep' | 'activate' | 'success' | 'clean'."""
        f = self.mem_map.f
        shmem = None
        if not f[pfn] & PG_swapcache:
            mapping = self.sub.rmap.mapping.get(pfn, (None,))[0]
            shmem = getattr(mapping, "shmem", None)
            if shmem is None:
                # A disk file's folio: like ext4 and xfs in 6.12 the filesystem
                # has no ->writepage, so pageout returns PAGE_ACTIVATE (the
                # flusher writes it); other folios have no writepage here.
                return "activate" if getattr(mapping, "host", None) is not None else "keep"
            if self.mem_map.ref[pfn] != 2:            # !is_page_cache_freeable
                return "keep"
        from .page_io import swap_writepage
        f[pfn] &= ~PG_dirty                           # folio_clear_dirty_for_io
        f[pfn] |= PG_reclaim
        if shmem is not None:
            rc = await shmem.writepage(pfn, me)       # mapping->a_ops->writepage
        else:
            rc = await swap_writepage(self.sub, pfn, me)
        if rc:                                        # AOP_WRITEPAGE_ACTIVATE or error
            f[pfn] &= ~PG_reclaim
            return "activate"
        if not f[pfn] & PG_writeback:
            f[pfn] &= ~PG_reclaim
        self.vmstat.mod_node_page_state(pgdat, _NR_VMSCAN_WRITE, 1, me)
        return "success"

    async def remove_mapping(self, pfn: int, me) -> bool:
        """__remove_mapping(reclaimed=true): under the owning address space's
        xa_lock, freeze the refcount at 2 (the cache's and the isolation's),
        leave a workingset shadow in the slot and take the folio out of the
        cache: for a swap-cache folio then put_swap_folio, for a page-cache
        folio of a regular file __filemap_remove_folio (the shadow only for
        file-LRU folios, as the kernel's ``folio_is_file_lru`` test).  False
        if someone else holds a reference or the folio was redirtied."""
        f = self.mem_map.f
        ref = self.mem_map.ref
        sc_ = self.sub.swap_cache
        if not f[pfn] & PG_swapcache or sc_ is None:
            return await self._remove_file_mapping(pfn, me)
        entry = sc_.folio_swap_entry(pfn)
        space = sc_.swap_address_space(entry)
        await space.xa_lock.lock_irq("__remove_mapping")
        if ref[pfn] != 2 or f[pfn] & PG_dirty:        # folio_ref_freeze(folio, 2) failed
            space.xa_lock.unlock_irq("__remove_mapping")
            return False
        ref[pfn] = 0                                  # frozen
        shadow = workingset_eviction(self.sub, pfn)
        sc_.delete_from_swap_cache_locked(pfn, entry, shadow)
        await self.engine.spend(space.line.write(me.cpu))
        space.xa_lock.unlock_irq("__remove_mapping")
        await sc_.put_swap_folio(pfn, entry)
        return True

    async def _remove_file_mapping(self, pfn: int, me) -> bool:
        """__remove_mapping's page-cache branch (mm/vmscan.c): a clean,
        unmapped folio of a regular file leaves i_pages, a shadow in its slot."""
        f = self.mem_map.f
        ref = self.mem_map.ref
        m = self.sub.rmap.mapping.get(pfn)
        mapping = m[0] if m is not None else None
        if mapping is not None and mapping.shmem is not None:
            return await self._remove_shmem_mapping(pfn, mapping, m[1], me)
        if mapping is None or getattr(mapping, "host", None) is None \
                or mapping.invalidate_lock is None:   # not a disk file's page cache
            return False
        await mapping.xa_lock.lock_irq("__remove_mapping")
        if ref[pfn] != 2 or f[pfn] & (PG_dirty | PG_writeback):   # folio_ref_freeze(folio, 2)
            mapping.xa_lock.unlock_irq("__remove_mapping")
            return False
        ref[pfn] = 0                                  # frozen
        shadow = workingset_eviction(self.sub, pfn) if folio_is_file_lru(f[pfn]) else None
        _filemap_remove_folio_locked(self.sub, mapping, pfn, shadow, me)
        await self.engine.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock_irq("__remove_mapping")
        return True

    async def _remove_shmem_mapping(self, pfn: int, mapping, index: int, me) -> bool:
        """__remove_mapping of a clean tmpfs folio (never written: zeroes):
        out of i_pages with no shadow (not on the file LRU); info->alloced
        catches up at the inode's next shmem_recalc_inode."""
        f = self.mem_map.f
        ref = self.mem_map.ref
        await mapping.xa_lock.lock_irq("__remove_mapping")
        if ref[pfn] != 2 or f[pfn] & (PG_dirty | PG_writeback) \
                or mapping.i_pages.get(index) != pfn:
            mapping.xa_lock.unlock_irq("__remove_mapping")
            return False
        ref[pfn] = 0                                  # frozen
        _filemap_remove_folio_locked(self.sub, mapping, pfn, None, me)   # NR_SHMEM down
        await self.engine.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock_irq("__remove_mapping")
        return True

    # ------------------------------------------------------------ shrink_node
    def prepare_scan_control(self, pgdat, sc: ScanControl):
        lruvec = self.lru.lruvecs[pgdat.node_id]
        kn = self.nodes[pgdat.node_id]
        sc.anon_cost = lruvec.anon_cost
        sc.file_cost = lruvec.file_cost
        if not sc.force_deactivate:
            ws = pgdat.vm_stat
            if ws[_ACTIVATE_ANON] != kn.refaults[0] or inactive_is_low(lruvec, LRU_INACTIVE_ANON):
                sc.may_deactivate |= DEACTIVATE_ANON
            else:
                sc.may_deactivate &= ~DEACTIVATE_ANON
            if ws[_ACTIVATE_ANON + 1] != kn.refaults[1] or \
                    inactive_is_low(lruvec, LRU_INACTIVE_FILE):
                sc.may_deactivate |= DEACTIVATE_FILE
            else:
                sc.may_deactivate &= ~DEACTIVATE_FILE
        else:
            sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE
        file = lruvec.lru_size(LRU_INACTIVE_FILE)
        sc.cache_trim_mode = bool(file >> sc.priority and not sc.may_deactivate & DEACTIVATE_FILE
                                  and not sc.no_cache_trim_mode)
        free = sum(self.vmstat.zone_page_state(z, NR_FREE_PAGES) for z in pgdat.node_zones)
        file = lruvec.lru_size(LRU_ACTIVE_FILE) + lruvec.lru_size(LRU_INACTIVE_FILE)
        total_high = sum(z.high_wmark_pages() for z in pgdat.node_zones if z.managed_pages)
        anon = lruvec.lru_size(LRU_INACTIVE_ANON)
        sc.file_is_tiny = (file + free <= total_high and not sc.may_deactivate & DEACTIVATE_ANON
                           and bool(anon >> sc.priority))

    def get_scan_count(self, lruvec, sc: ScanControl) -> list[int]:
        swappiness = self.swappiness
        fraction = [0, 0]
        denominator = 1
        if not sc.may_swap or not self.can_reclaim_anon_pages():
            balance = SCAN_FILE
        elif not sc.priority and swappiness:
            balance = SCAN_EQUAL
        elif sc.file_is_tiny:
            balance = SCAN_ANON
        elif sc.cache_trim_mode:
            balance = SCAN_FILE
        else:
            balance = SCAN_FRACT
            total = sc.anon_cost + sc.file_cost
            anon_cost = total + sc.anon_cost
            file_cost = total + sc.file_cost
            total = anon_cost + file_cost
            ap = swappiness * (total + 1) // (anon_cost + 1)
            fp = (MAX_SWAPPINESS - swappiness) * (total + 1) // (file_cost + 1)
            fraction = [ap, fp]
            denominator = ap + fp
        nr = [0] * 4
        for lru in range(4):
            file = lru >= LRU_FILE
            size = lruvec.lru_size(lru)
            scan = size >> sc.priority
            # (the "!scan && !mem_cgroup_online" minimum is for offline
            # memcgs only; the root is always online)
            if balance == SCAN_FRACT:
                scan = scan * fraction[file] // denominator if denominator else 0
            elif balance in (SCAN_FILE, SCAN_ANON) and (balance == SCAN_FILE) != file:
                scan = 0
            nr[lru] = scan
        return nr

    async def shrink_list(self, lru: int, nr_to_scan: int, lruvec, sc, me) -> int:
        if lru & LRU_ACTIVE:
            if sc.may_deactivate & (1 << (lru >= LRU_FILE)):
                await self.shrink_active_list(nr_to_scan, lruvec, sc, lru, me)
            else:
                sc.skipped_deactivate = True
            return 0
        return await self.shrink_inactive_list(nr_to_scan, lruvec, sc, lru, me)

    async def shrink_lruvec(self, lruvec, sc: ScanControl, me):
        nr = self.get_scan_count(lruvec, sc)
        targets = list(nr)
        proportional = not sc.kswapd and sc.priority == DEF_PRIORITY
        nr_to_reclaim = sc.nr_to_reclaim
        # blk_start_plug(&plug): swap writes are held until blk_finish_plug
        # (or until the reclaimer sleeps), so they usually end after the
        # folios are back on the LRU and folio_rotate_reclaimable finds them.
        # Used when the block layer provides the plug (block/blk_core.py).
        plug = _blk_plug_api()
        if plug is not None:
            plug[0](me)
        try:
            await self._shrink_lruvec_loop(lruvec, sc, me, nr, targets, proportional,
                                           nr_to_reclaim)
        finally:
            if plug is not None:
                await plug[1](me)
        if self.can_age_anon_pages() and inactive_is_low(lruvec, LRU_INACTIVE_ANON):
            await self.shrink_active_list(SWAP_CLUSTER_MAX, lruvec, sc, LRU_ACTIVE_ANON, me)

    async def _shrink_lruvec_loop(self, lruvec, sc, me, nr, targets, proportional,
                                  nr_to_reclaim):
        nr_reclaimed = 0
        while nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE] or nr[LRU_INACTIVE_FILE]:
            for lru in range(4):
                if nr[lru]:
                    n = min(nr[lru], SWAP_CLUSTER_MAX)
                    nr[lru] -= n
                    nr_reclaimed += await self.shrink_list(lru, n, lruvec, sc, me)
            if nr_reclaimed < nr_to_reclaim or proportional:
                continue
            nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE]
            nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON]
            if not nr_file or not nr_anon:
                break
            if nr_file > nr_anon:
                lru = 0
                percentage = nr_anon * 100 // (targets[0] + targets[1] + 1)
            else:
                lru = LRU_FILE
                percentage = nr_file * 100 // (targets[2] + targets[3] + 1)
            nr[lru] = nr[lru + LRU_ACTIVE] = 0
            lru = 0 if lru == LRU_FILE else LRU_FILE
            for x in (lru, lru + LRU_ACTIVE):
                scanned = targets[x] - nr[x]
                nr[x] = targets[x] * (100 - percentage) // 100
                nr[x] -= min(nr[x], scanned)
        sc.nr_reclaimed += nr_reclaimed

    async def shrink_node(self, pgdat, sc: ScanControl, me):
        lruvec = self.lru.lruvecs[pgdat.node_id]
        kn = self.nodes[pgdat.node_id]
        while True:                                   # again:
            sc.nr = dict.fromkeys(sc.nr, 0)
            nr_reclaimed, nr_scanned = sc.nr_reclaimed, sc.nr_scanned
            await lruvec.lru_lock.lock_irq("prepare_scan_control")
            self.prepare_scan_control(pgdat, sc)
            lruvec.lru_lock.unlock_irq("prepare_scan_control")
            await self.shrink_lruvec(lruvec, sc, me)
            # shrink_node_memcgs: shrink_slab for this node (mm/shrinker.py)
            await shrink_slab(self.sub, sc.gfp_mask, pgdat.node_id, sc.priority, me)
            nr_node_reclaimed = sc.nr_reclaimed - nr_reclaimed
            if sc.kswapd:
                if sc.nr["writeback"] and sc.nr["writeback"] == sc.nr["taken"]:
                    kn.flags.add("PGDAT_WRITEBACK")
                if sc.nr["unqueued_dirty"] == sc.nr["file_taken"]:
                    kn.flags.add("PGDAT_DIRTY")
                if sc.nr["immediate"]:
                    await self.reclaim_throttle(pgdat, VMSCAN_THROTTLE_WRITEBACK, me)
            if sc.nr["dirty"] and sc.nr["dirty"] == sc.nr["congested"] and sc.kswapd:
                kn.flags.add("LRUVEC_NODE_CONGESTED")
            if not sc.kswapd and "LRUVEC_NODE_CONGESTED" in kn.flags:
                await self.reclaim_throttle(pgdat, VMSCAN_THROTTLE_CONGESTED, me)
            if nr_node_reclaimed:
                pgdat.kswapd_failures = 0             # reclaimable: kswapd may run again
            del nr_scanned
            if not self.should_continue_reclaim(pgdat, nr_node_reclaimed, sc):
                return

    def in_reclaim_compaction(self, sc: ScanControl) -> bool:
        """in_reclaim_compaction: a high-order request that may compact
        (gfp_compaction_allowed: __GFP_IO), costly or past two priorities."""
        return bool(sc.gfp_mask & _GFP_IO and sc.order
                    and (sc.order > PAGE_ALLOC_COSTLY_ORDER or sc.priority < DEF_PRIORITY - 2))

    def should_continue_reclaim(self, pgdat, nr_reclaimed: int, sc: ScanControl) -> bool:
        """should_continue_reclaim (mm/vmscan.c): reclaim/compaction goes
        round shrink_node again until the allocation could succeed, or
        compaction could go ahead, or the inactive lists hold no more than
        compact_gap(order) pages; never after a pass that reclaimed nothing."""
        if not self.in_reclaim_compaction(sc) or not nr_reclaimed:
            return False
        compaction = self.sub.compaction
        for z in pgdat.node_zones:
            if z.zone_idx > sc.reclaim_idx or not z.managed_pages:
                continue
            if self.pa.zone_watermark_ok(z, sc.order, z.min_wmark_pages(), sc.reclaim_idx, 0):
                return False
            if compaction.compaction_suitable(z, sc.order, sc.reclaim_idx):
                return False
        lruvec = self.lru.lruvecs[pgdat.node_id]
        inactive = lruvec.lru_size(LRU_INACTIVE_FILE)
        if self.can_reclaim_anon_pages():
            inactive += lruvec.lru_size(LRU_INACTIVE_ANON)
        return inactive > 2 << sc.order                # compact_gap

    async def shrink_zones(self, zonelist, sc: ScanControl, me):
        last = first = None
        for z in zonelist:
            if z.zone_idx > sc.reclaim_idx or not z.managed_pages:
                continue
            if sc.nodemask is not None and z.node not in sc.nodemask:
                continue
            pgdat = z.zone_pgdat
            if first is None:
                first = pgdat
            if pgdat is last:
                continue
            last = pgdat
            await self.shrink_node(pgdat, sc, me)
        if first is not None:
            await self.consider_reclaim_throttle(first, sc, me)

    async def consider_reclaim_throttle(self, pgdat, sc: ScanControl, me):
        if sc.nr_reclaimed > (sc.nr_scanned >> 3):
            wl = self.nodes[pgdat.node_id].reclaim_wait[VMSCAN_THROTTLE_NOPROGRESS]
            if wl.waiters:
                self.wake_up(wl)
            return
        if sc.kswapd:
            return
        if sc.priority == 1 and not sc.nr_reclaimed:
            await self.reclaim_throttle(pgdat, VMSCAN_THROTTLE_NOPROGRESS, me)

    def snapshot_refaults(self, pgdat):
        kn = self.nodes[pgdat.node_id]
        kn.refaults = [pgdat.vm_stat[_ACTIVATE_ANON], pgdat.vm_stat[_ACTIVATE_ANON + 1]]

    # ---------------------------------------------------------- direct reclaim
    # ------------------------------------------------------------ the OOM killer
    def current_is_oom_victim(self, me) -> bool:
        """tsk_is_oom_victim(current): ``me`` runs in a killed mm (an mm's
        CPUs stand for its tasks here: mm_cpumask)."""
        if not self.oom.kills:
            return False
        bit = 1 << me.cpu
        return any(getattr(mm, "oom_victim", False) and not mm.exited and mm.cpumask & bit
                   for mm in self.sub.mms)

    async def alloc_pages_may_oom(self, me) -> tuple[bool, bool]:
        """__alloc_pages_may_oom's locking: (oom_lock taken, progress).  A
        caller that loses the trylock sleeps a jiffy and reports progress."""
        if not await self.oom.oom_lock.trylock("__alloc_pages_may_oom"):
            await self.engine.spend(JIFFY_NS)          # schedule_timeout_uninterruptible(1)
            return False, True
        return True, False

    async def try_to_free_pages(self, zonelist, order: int, gfp: int, nodemask, me) -> int:
        """try_to_free_pages -> do_try_to_free_pages: SWAP_CLUSTER_MAX pages
        at most, from DEF_PRIORITY down to 0; ALLOCSTALL in the reclaim_idx zone."""
        self._pressure = True
        sc = ScanControl(gfp, order, nr_to_reclaim=SWAP_CLUSTER_MAX,
                         reclaim_idx=gfp_zone(gfp, self.pa.zone_dma), nodemask=nodemask,
                         may_writepage=True, may_unmap=True, may_swap=True)
        if await self.throttle_direct_reclaim(gfp, zonelist, nodemask, me):
            return 1          # killed while throttled: no reclaim, and no OOM kill for it
        self.direct_reclaims += 1
        self.last_direct_ns = self.engine.now
        if self.first_direct_ns is None:
            self.first_direct_ns = self.engine.now
        self.maybe_sample()
        initial = sc.priority
        vs = self.vmstat
        while True:                                   # retry:
            ev = vs.ALLOCSTALL
            vs.events[me.cpu][ev.get(sc.reclaim_idx, ev[max(ev)])] += 1
            while True:
                sc.nr_scanned = 0
                await self.shrink_zones(zonelist, sc, me)
                if sc.nr_reclaimed >= sc.nr_to_reclaim:
                    break
                if sc.priority < DEF_PRIORITY - 2:
                    sc.may_writepage = True
                sc.priority -= 1
                if sc.priority < 0:
                    break
            last = None
            for z in zonelist:
                if z.zone_idx <= sc.reclaim_idx and z.zone_pgdat is not last:
                    last = z.zone_pgdat
                    self.snapshot_refaults(last)
            if sc.nr_reclaimed:
                break
            if sc.skipped_deactivate:
                sc.priority = initial
                sc.force_deactivate = True
                sc.skipped_deactivate = False
                continue
            break
        self.direct_reclaimed += sc.nr_reclaimed
        return sc.nr_reclaimed

    def allow_direct_reclaim(self, pgdat) -> bool:
        """allow_direct_reclaim: more than half the pfmemalloc reserve (the
        min watermarks of the zones up to ZONE_NORMAL that have reclaimable
        pages) is free, or kswapd has given up on the node.  When it is not,
        a sleeping kswapd is woken (for zones up to ZONE_NORMAL)."""
        if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
            return True
        reserve = free = 0
        snapshot = self.vmstat.zone_page_state_snapshot
        for z in pgdat.node_zones[:ZONE_NORMAL + 1]:
            if not z.managed_pages or not self.zone_reclaimable_pages(z):
                continue
            reserve += z.min_wmark_pages()
            free += snapshot(z, NR_FREE_PAGES)
        if not reserve:
            return True                               # no reserves: do not throttle
        ok = free > reserve // 2
        kn = self.nodes[pgdat.node_id]
        if not ok and kn.actor is not None and kn.kswapd_wait.waiters:
            if kn.kswapd_highest_zoneidx > ZONE_NORMAL:   # MAX_NR_ZONES ("none") included
                kn.kswapd_highest_zoneidx = ZONE_NORMAL
            self.wake_up(kn.kswapd_wait)              # wake_up_interruptible
        return ok

    async def throttle_direct_reclaim(self, gfp: int, zonelist, nodemask, me) -> bool:
        """throttle_direct_reclaim: True if a fatal signal came while throttled
        (the caller then reports progress without reclaiming)."""
        if current_flags(me) & PF_KTHREAD or self.current_is_oom_victim(me):
            return False           # kernel threads may be cleaning pages; the killed exit
        highest = gfp_zone(gfp, self.pa.zone_dma)
        pgdat = None
        for z in zonelist:                            # for_each_zone_zonelist_nodemask
            if z.zone_idx > highest or (nodemask is not None and z.node not in nodemask):
                continue
            if z.zone_idx > ZONE_NORMAL:
                continue
            pgdat = z.zone_pgdat                      # throttle on the first usable node
            if self.allow_direct_reclaim(pgdat):
                return False
            break
        if pgdat is None:
            return False
        self.count(me.cpu, "pgscan_direct_throttle")
        kn = self.nodes[pgdat.node_id]
        kn.pfmemalloc_throttled += 1
        t0 = self.engine.now
        if not gfp & _GFP_FS:
            # it may hold an FS lock kswapd waits for: a second at most
            await self._wait_event(kn.pfmemalloc_wait, lambda: self.allow_direct_reclaim(pgdat),
                                   me, HZ * JIFFY_NS)
        else:
            await self._wait_event(kn.pfmemalloc_wait, lambda: self.allow_direct_reclaim(pgdat),
                                   me)                # wait_event_killable: until kswapd wakes it
        kn.pfmemalloc_throttled_ns += self.engine.now - t0
        return self.current_is_oom_victim(me)

    async def _wait_event(self, wl: _WaitList, cond, me, timeout_ns: int | None = None):
        """wait_event_killable(wl, cond()) or, with ``timeout_ns``,
        wait_event_interruptible_timeout: ``cond`` is tested after each
        wake-up (and once more when the time is up); a killed task (the OOM
        killer's SIGKILL, see ``wake_killed``) stops waiting."""
        left = timeout_ns
        while not cond():
            if self.current_is_oom_victim(me):
                return
            if left is None:
                wl.waiters.append([me, False])
                await self.engine.park(wl)
                continue
            left = await self.schedule_timeout(wl, left, me)
            if not left:
                cond()                                # ___wait_cond_timeout's last test
                return

    def wake_killed(self, mm):
        """A SIGKILL wakes the killed mm's tasks from killable sleeps: here the
        pfmemalloc_wait sleepers on its CPUs (mm_cpumask)."""
        for kn in self.nodes:
            wl = kn.pfmemalloc_wait
            mine = [t for t in wl.waiters if mm.cpumask & (1 << t[0].cpu)]
            for token in mine:
                a = token[0]
                wl.waiters.remove(token)
                token[1] = True
                if a.state.value == "parked":
                    self.engine.wake(a, self.engine.now + self.engine.costs.wakeup_ns)

    # ------------------------------------------------------------------ kswapd
    def wakeup_kswapd(self, zone, gfp: int, order: int, highest_zoneidx: int):
        """wakeup_kswapd (the allocator's wake_all_kswapds and rmqueue's boost)."""
        if not zone.managed_pages:
            return
        if self._pressure:
            self.maybe_sample()
        pgdat = zone.zone_pgdat
        kn = self.nodes[pgdat.node_id]
        cur = kn.kswapd_highest_zoneidx
        if cur == MAX_NR_ZONES or cur < highest_zoneidx:
            kn.kswapd_highest_zoneidx = highest_zoneidx
        if kn.kswapd_order < order:
            kn.kswapd_order = order
        if kn.actor is not None and not kn.kswapd_wait.waiters:
            return                                    # !waitqueue_active: kswapd is awake
        if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES or (
                self.pgdat_balanced(pgdat, order, highest_zoneidx)
                and not self.pgdat_watermark_boosted(pgdat, highest_zoneidx)):
            if not gfp & _GFP_DIRECT_RECLAIM:
                self.wakeup_kcompactd(pgdat, order, highest_zoneidx)
            return
        kn.wakeups += 1
        self._pressure = True
        self.maybe_sample(True)                       # free pages when kswapd wakes
        if kn.actor is None:
            self._start_kswapd(kn)
        else:
            self.wake_up(kn.kswapd_wait)

    def wakeup_kcompactd(self, pgdat, order: int, highest_zoneidx: int):
        """wakeup_kcompactd (mm/compaction.py), counted at its call sites here."""
        self.nodes[pgdat.node_id].kcompactd_wakeups += 1
        comp = getattr(self.sub, "compaction", None)
        if comp is not None:
            comp.wakeup_kcompactd(pgdat, order, highest_zoneidx)

    def _start_kswapd(self, kn: KswapdNode):
        cpus = [c for c in range(self.pa.ncpus) if self.pa.node_of[c] == kn.nid]
        cpu = cpus[0] if cpus else 0
        kn.state = "running"
        async def body(a):
            await self.kswapd(kn, a)
        kn.actor = self.engine.spawn(f"kswapd{kn.nid}", body, cpu=cpu, node=kn.nid)
        set_kthread(kn.actor)

    async def kswapd(self, kn: KswapdNode, me):
        """kswapd(): the per-node reclaim thread (PF_MEMALLOC | PF_KSWAPD)."""
        memalloc_flags_save(me, PF_MEMALLOC | PF_KSWAPD)
        pgdat = self.pa.nodes[kn.nid]
        self.set_pgdat_percpu_threshold(pgdat, True)
        highest = MAX_NR_ZONES - 1
        first = True
        while True:
            alloc_order = reclaim_order = kn.kswapd_order
            highest = self._highest(kn, highest)
            while True:                               # kswapd_try_sleep:
                if not first:
                    if await self.kswapd_try_to_sleep(kn, pgdat, alloc_order, reclaim_order,
                                                      highest, me):
                        kn.state = "stopped"
                        return
                first = False                         # the wake-up that started it
                alloc_order = kn.kswapd_order
                highest = self._highest(kn, highest)
                kn.kswapd_order = 0
                kn.kswapd_highest_zoneidx = MAX_NR_ZONES
                kn.state = "running"
                kn.runs += 1
                # balance_pgdat holds fs_reclaim from its start to its end
                # (__fs_reclaim_acquire/release, mm/vmscan.c; dropped only
                # around kthread_freezable_should_stop): taken here around it.
                fs_reclaim_map_acquire(me, "balance_pgdat (mm/vmscan.c)")
                reclaim_order = await self.balance_pgdat(pgdat, alloc_order, highest, me)
                fs_reclaim_map_release(me, "balance_pgdat (mm/vmscan.c)")
                if reclaim_order < alloc_order:
                    continue
                break

    @staticmethod
    def _highest(kn, prev: int) -> int:
        cur = kn.kswapd_highest_zoneidx
        return prev if cur == MAX_NR_ZONES else cur

    def prepare_kswapd_sleep(self, kn, pgdat, order: int, highest: int) -> bool:
        if kn.pfmemalloc_wait.waiters:                # no one sleeps there while kswapd does
            self.wake_up(kn.pfmemalloc_wait)
        if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
            return True
        if self.pgdat_balanced(pgdat, order, highest):
            kn.flags.clear()                          # clear_pgdat_congested
            return True
        return False

    async def kswapd_try_to_sleep(self, kn, pgdat, alloc_order, reclaim_order, highest,
                                  me) -> bool:
        """The nap, then the full sleep.  True when kswapd should end (every
        workload has finished: nothing can wake it any more)."""
        remaining = 0
        if self.prepare_kswapd_sleep(kn, pgdat, reclaim_order, highest):
            self.maybe_sample(True)                   # free pages when kswapd naps
            if kn.first_nap_ns is None and kn.nr_reclaimed:
                kn.first_nap_ns = self.engine.now
            comp = getattr(self.sub, "compaction", None)
            if comp is not None:
                comp.reset_isolation_suitable(pgdat)
            self.wakeup_kcompactd(pgdat, alloc_order, highest)
            kn.state = "napping"
            remaining = await self.schedule_timeout(kn.kswapd_wait, (HZ // 10) * JIFFY_NS, me)
            kn.state = "running"
            if remaining:
                kn.kswapd_highest_zoneidx = self._highest(kn, highest)
                if kn.kswapd_order < reclaim_order:
                    kn.kswapd_order = reclaim_order
        if not remaining and self.prepare_kswapd_sleep(kn, pgdat, reclaim_order, highest):
            self.maybe_sample(True)                   # free pages when kswapd sleeps
            self.set_pgdat_percpu_threshold(pgdat, False)
            if self._workloads_done():
                return True
            kn.state = "sleeping"
            kn.kswapd_wait.waiters.append([me, False])
            await self.engine.park(kn.kswapd_wait)
            kn.state = "running"
            self.set_pgdat_percpu_threshold(pgdat, True)
        else:
            self.count(me.cpu, "kswapd_low_wmark_hit_quickly" if remaining
                       else "kswapd_high_wmark_hit_quickly")
        return False

    def update_reclaim_active(self, pgdat, highest: int, active: bool):
        for z in self.managed_zones(pgdat, highest):
            if active:
                z.flags |= ZONE_RECLAIM_ACTIVE
            else:
                z.flags &= ~ZONE_RECLAIM_ACTIVE

    async def balance_pgdat(self, pgdat, order: int, highest: int, me) -> int:
        sc = ScanControl(GFP_KERNEL, order, may_unmap=True, kswapd=True)
        kn = self.nodes[pgdat.node_id]
        self.count(me.cpu, "pageoutrun")
        zones = self.managed_zones(pgdat, highest)
        zone_boosts = {z.zone_idx: z.watermark_boost for z in zones}
        nr_boost_reclaim = sum(zone_boosts.values())
        boosted = bool(nr_boost_reclaim)
        while True:                                   # restart:
            self.update_reclaim_active(pgdat, highest, True)
            sc.priority = DEF_PRIORITY
            balanced_out = False
            while True:
                nr_reclaimed = sc.nr_reclaimed
                raise_priority = True
                sc.reclaim_idx = highest
                balanced = self.pgdat_balanced(pgdat, sc.order, highest)
                if not balanced and nr_boost_reclaim:
                    nr_boost_reclaim = 0
                    break                             # goto restart
                if not nr_boost_reclaim and balanced:
                    balanced_out = True
                    break
                if nr_boost_reclaim and sc.priority == DEF_PRIORITY - 2:
                    raise_priority = False
                sc.may_writepage = not nr_boost_reclaim
                sc.may_swap = not nr_boost_reclaim
                lruvec = self.lru.lruvecs[pgdat.node_id]
                if self.can_age_anon_pages() and inactive_is_low(lruvec, LRU_INACTIVE_ANON):
                    await self.shrink_active_list(SWAP_CLUSTER_MAX, lruvec, sc,
                                                  LRU_ACTIVE_ANON, me)   # kswapd_age_node
                if sc.priority < DEF_PRIORITY - 2:
                    sc.may_writepage = True
                sc.nr_scanned = 0
                if await self.kswapd_shrink_node(pgdat, sc, me):
                    raise_priority = False
                if kn.pfmemalloc_wait.waiters and self.allow_direct_reclaim(pgdat):
                    self.wake_up(kn.pfmemalloc_wait)  # the reserve is back: the throttled go on
                self.maybe_sample()
                got = sc.nr_reclaimed - nr_reclaimed
                nr_boost_reclaim -= min(nr_boost_reclaim, got)
                if nr_boost_reclaim and not got:
                    balanced_out = None
                    break
                if raise_priority or not got:
                    sc.priority -= 1
                if sc.priority < 1:
                    balanced_out = None
                    break
            if balanced_out is False:                 # restart without the boost
                continue
            break
        if balanced_out is None and not sc.nr_reclaimed:
            pgdat.kswapd_failures += 1
        self.update_reclaim_active(pgdat, highest, False)
        if boosted:
            for z in zones:
                b = zone_boosts[z.zone_idx]
                if not b:
                    continue
                flags = await z.lock.lock_irqsave("balance_pgdat")
                z.watermark_boost -= min(z.watermark_boost, b)
                z.lock.unlock_irqrestore(flags, "balance_pgdat")
            self.wakeup_kcompactd(pgdat, pageblock_order, highest)
        self.snapshot_refaults(pgdat)
        kn.nr_reclaimed += sc.nr_reclaimed
        return sc.order

    async def kswapd_shrink_node(self, pgdat, sc: ScanControl, me) -> bool:
        nr_reclaimed = sc.nr_reclaimed
        sc.nr_to_reclaim = sum(max(z.high_wmark_pages(), SWAP_CLUSTER_MAX)
                               for z in self.managed_zones(pgdat, sc.reclaim_idx))
        await self.shrink_node(pgdat, sc, me)
        if sc.order and sc.nr_reclaimed >= (2 << sc.order):       # compact_gap
            sc.order = 0
        return max(sc.nr_scanned, sc.nr_reclaimed - nr_reclaimed) >= sc.nr_to_reclaim

    # ------------------------------------------------------------------ report
    MAX_SAMPLES = 256

    def maybe_sample(self, force: bool = False):
        """Free pages per node, at most once per sampling interval, taken
        where reclaim happens (wake-ups, kswapd's loop, direct reclaim): no
        timer of its own, deterministic, O(zones).  When MAX_SAMPLES are kept
        every other one is dropped and the interval doubles."""
        now = self.engine.now
        if now < self._next_sample and not force:
            return
        if force and self.samples and self.samples[-1][0] == now:
            return
        vs = self.vmstat
        self.samples.append((now, [sum(vs.zone_page_state(z, NR_FREE_PAGES)
                                       for z in pg.node_zones) for pg in self.pa.nodes]))
        if len(self.samples) >= self.MAX_SAMPLES:
            self.samples = self.samples[::2]
            self._sample_every *= 2
        self._next_sample = now + self._sample_every

    def used(self) -> bool:
        return self._pressure

    def to_json(self) -> dict:
        pa = self.pa
        out = {"swappiness": self.swappiness, "direct_reclaims": self.direct_reclaims,
               "direct_reclaimed": self.direct_reclaimed,
               "direct_reclaim_first_ns": self.first_direct_ns,
               "direct_reclaim_last_ns": self.last_direct_ns, "kswapd": []}
        if self.flusher_wakeups:                 # only in runs with dirty file folios
            out["wakeup_flusher_threads"] = self.flusher_wakeups
        for kn, pg in zip(self.nodes, pa.nodes):
            zs = [z for z in pg.node_zones if z.managed_pages]
            out["kswapd"].append({
                "node": kn.nid, "state": kn.state, "wakeups": kn.wakeups, "runs": kn.runs,
                "nr_reclaimed": kn.nr_reclaimed, "kswapd_failures": pg.kswapd_failures,
                "first_nap_ns": kn.first_nap_ns,
                "kcompactd_wakeups": kn.kcompactd_wakeups,
                "throttled": dict(zip(THROTTLE_NAMES, kn.throttled)),
                **({"throttled_ms": {n: round(v / 1e6, 3)
                                     for n, v in zip(THROTTLE_NAMES, kn.throttled_ns) if v}}
                   if any(kn.throttled_ns[i] for i in (VMSCAN_THROTTLE_WRITEBACK,)) else {}),
                "watermarks": {"min": sum(z.min_wmark_pages() for z in zs),
                               "low": sum(z.low_wmark_pages() for z in zs),
                               "high": sum(z.high_wmark_pages() for z in zs)},
            })
        out["free_samples"] = {"every_ns": self._sample_every,
                               "samples": [[t] + v for t, v in self.samples]}
        vs = self.vmstat
        out["vmstat"] = {n: vs.event(n) for n in RECLAIM_EVENTS}
        out["vmstat"]["allocstall"] = sum(vs.event(n) for n in vs.ev if n.startswith("allocstall_"))
        return out

    def report(self, extra: dict):
        if self.used():
            extra["reclaim"] = self.to_json()
            extra["reclaim"]["oom"] = self.oom.to_json()

    def _check(self):
        """No folio stays isolated when reclaim is idle: nr_isolated_* are 0
        and every frame with PG_lru is listed (swap.py's LRU._check)."""
        for pg in self.pa.nodes:
            for file in (0, 1):
                v = pg.vm_stat[_NR_ISOLATED_ANON + file] + sum(
                    d[_NR_ISOLATED_ANON + file] for d in pg.vm_node_stat_diff)
                assert v >= 0, f"node {pg.node_id}: nr_isolated below 0"
