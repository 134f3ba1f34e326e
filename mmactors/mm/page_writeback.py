"""Dirty page accounting, dirty throttling and writing folios back
(mm/page-writeback.c, Linux 6.12; the bio building of fs/mpage.c).

Dirtying
--------
:func:`folio_mark_dirty` -> ``filemap_dirty_folio``: PG_dirty test-and-set;
``__folio_mark_dirty`` under the mapping's ``xa_lock`` (irqsave):
``folio_account_dirtied`` (NR_FILE_DIRTY ``nr_dirty``, NR_ZONE_WRITE_PENDING,
NR_DIRTIED ``nr_dirtied``, the wb's WB_RECLAIMABLE and WB_DIRTIED,
``current->nr_dirtied``, this CPU's ``bdp_ratelimits``) and the
PAGECACHE_TAG_DIRTY mark; then ``__mark_inode_dirty(host, I_DIRTY_PAGES)``
(fs/fs_writeback.py: the inode onto ``wb->b_dirty`` under ``wb->list_lock``).

Throttling (the IO-less dirty throttling of Wu Fengguang, Linux 3.2, as 6.12 has it)
-------------------------------------------------------------------------------------
:func:`balance_dirty_pages_ratelimited` counts ``current->nr_dirtied``
against ``nr_dirtied_pause`` (32 pages at first, 8 while ``dirty_exceeded``)
and the per-CPU ``bdp_ratelimits`` against ``ratelimit_pages``
(``writeback_set_ratelimit``: dirty_thresh / (cpus * 32), at least 16), and
calls :func:`balance_dirty_pages` when either runs out.  That loop, as the kernel's:

* ``domain_dirty_avail`` / ``domain_dirty_limits``: dirtyable memory is free
  pages minus ``totalreserve_pages`` plus the file LRU
  (``global_dirtyable_memory``); ``thresh`` = dirty_ratio (20%) of it or
  dirty_bytes, ``bg_thresh`` = dirty_background_ratio (10%) or
  dirty_background_bytes (at most thresh / 2); dirty = NR_FILE_DIRTY +
  NR_WRITEBACK;
* background writeback is started above ``bg_thresh``; below ``freerun`` =
  (thresh + bg_thresh) / 2 nothing sleeps and ``nr_dirtied_pause`` becomes
  ``dirty_poll_interval`` (sqrt of the distance to thresh);
* above it: ``wb_dirty_limits`` (the wb's share of thresh from its share of
  recent writeout completions, lib/flex_proportions.c), ``wb_position_ratio``
  (the cubic global control line around ``setpoint`` = (freerun + limit) / 2
  and the linear wb line), ``__wb_update_bandwidth`` every BANDWIDTH_INTERVAL
  = 200 ms (``wb_update_write_bandwidth``, ``wb_update_dirty_ratelimit``,
  ``update_dirty_limit``), then ``task_ratelimit = dirty_ratelimit *
  pos_ratio``, the pause ``HZ * pages_dirtied / task_ratelimit`` less the
  think time since the last pause, bounded by ``wb_max_pause`` (at most
  MAX_PAUSE = HZ/5 = 200 ms) and skipped below ``wb_min_pause``; the task
  sleeps in TASK_KILLABLE (``io_schedule_timeout``, which flushes its plug).

Writing back
------------
:func:`do_writepages` (``wb_bandwidth_estimate_start``, ``a_ops->writepages``,
a bandwidth update every 200 ms) and :func:`mpage_writepages`: the
``writeback_iter`` loop (``range_cyclic`` from ``mapping->writeback_index``,
``tag_pages_for_writeback`` for WB_SYNC_ALL, ``folio_lock``,
``folio_prepare_writeback``, ``folio_clear_dirty_for_io`` with
``folio_mkclean``), :func:`folio_start_writeback` (NR_WRITEBACK, the
writeback tag, ``wb->writeback_inodes``), and bios of up to BIO_MAX_VECS =
256 contiguous blocks as fs/mpage.c builds them, submitted under the caller's
plug; their ``bi_end_io`` (BLOCK_SOFTIRQ) calls :func:`folio_end_writeback`
(PG_reclaim -> ``folio_rotate_reclaimable``, WB_WRITTEN and the writeout
completion, NR_WRITTEN ``nr_written``, the PG_writeback waiters; the
inode's last folio under writeback: ``wb_inode_writeback_end``, which queues
``wb->bw_dwork`` to refresh the bandwidth estimate 200 ms later).

Simplifications (each said again where it happens): jiffies are HZ = 250
(mm/vmscan.py's CONFIG_HZ_250); no memcg domain (``mdtc``), no strictlimit
(BDI_CAP_STRICTLIMIT, fuse), no laptop_mode, no ``dirty_throttle_leaks``, no
real-time task boost; file folios are order-0; wb statistics are exact
integers (percpu_counter batching is not modelled); the balance pause is the
task's clock moving forward (a TASK_KILLABLE sleep nobody wakes early);
NR_WRITEBACK counts file writeback only (swap writeback has its own counter
in mm/swap_state.py).
"""
from __future__ import annotations

from .._core import ActorState
from ..block import REQ_OP_WRITE, REQ_SYNC, Bio, submit_bio
from ..block.blk_core import blk_finish_plug, blk_flush_plug, blk_start_plug
from ..schema import Field
from .backing_dev import (BDI_CAP_WRITEBACK, BDI_CAP_WRITEBACK_ACCT, WB_DIRTIED, WB_RECLAIMABLE,
                          WB_WRITEBACK, WB_WRITTEN, WB_writeback_running, BackingDevInfo,
                          FpropGlobal, wb_stat_batch)
from .filemap import (PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_TOWRITE, PAGECACHE_TAG_WRITEBACK, PG_dirty,
                      PG_locked, PG_reclaim, PG_swapcache, PG_writeback)
from .page_io import _WritebackWait   # one PG_writeback wait type for swap and file folios
from .sched_mm import set_kthread
from .swap import LRU_ACTIVE_FILE, LRU_INACTIVE_FILE
from .vmscan import HZ, JIFFY_NS
from .vmstat import NODE_STAT_ITEMS, NR_FREE_PAGES, VM_STAT_ITEMS, ZONE_STAT_ITEMS

__all__ = ["SYSCTL", "PageWriteback", "writeback_of", "folio_mark_dirty", "filemap_dirty_folio",
           "folio_account_cleaned", "folio_cancel_dirty", "folio_clear_dirty_for_io",
           "folio_start_writeback", "folio_end_writeback", "folio_wait_writeback",
           "balance_dirty_pages_ratelimited", "balance_dirty_pages", "WritebackControl",
           "do_writepages", "mpage_writepages", "filemap_fdatawrite_wbc",
           "filemap_fdatawait_range", "DirtyThrottleControl", "pos_ratio_polynom",
           "WB_SYNC_NONE", "WB_SYNC_ALL", "PAGECACHE_TAG_DIRTY", "PAGECACHE_TAG_WRITEBACK",
           "PAGECACHE_TAG_TOWRITE", "MAX_PAUSE", "BANDWIDTH_INTERVAL", "RATELIMIT_CALC_SHIFT",
           "I_DIRTY_SYNC", "I_DIRTY_DATASYNC", "I_DIRTY_PAGES", "I_DIRTY_INODE", "I_DIRTY",
           "I_SYNC", "I_SYNC_QUEUED", "I_DIRTY_TIME", "I_DIRTY_ALL", "I_FREEING",
           "generic_writepages", "generic_dirty_folio", "filemap_write_and_wait_range"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# include/linux/fs.h: inode->i_state bits (the ones writeback uses)
I_DIRTY_SYNC = 1 << 0
I_DIRTY_DATASYNC = 1 << 1
I_DIRTY_PAGES = 1 << 2
I_NEW = 1 << 3
I_WILL_FREE = 1 << 4
I_FREEING = 1 << 5
I_SYNC = 1 << 7
I_DIRTY_TIME = 1 << 11
I_SYNC_QUEUED = 1 << 17
I_DIRTY_INODE = I_DIRTY_SYNC | I_DIRTY_DATASYNC
I_DIRTY = I_DIRTY_INODE | I_DIRTY_PAGES
I_DIRTY_ALL = I_DIRTY | I_DIRTY_TIME


# include/linux/writeback.h: enum writeback_sync_modes
WB_SYNC_NONE, WB_SYNC_ALL = 0, 1

MAX_PAUSE = max(HZ // 5, 1)                      # 200 ms
DIRTY_POLL_THRESH = 128 >> (PAGE_SHIFT - 10)     # 32 pages
BANDWIDTH_INTERVAL = max(HZ // 5, 1)             # 200 ms
RATELIMIT_CALC_SHIFT = 10
VM_COMPLETIONS_PERIOD_LEN = 3 * HZ
WB_BANDWIDTH_IDLE_JIF = HZ
BDI_RATIO_SCALE = 10000
BIO_MAX_VECS = 256                               # include/linux/bio.h
PAGE_SECTORS_SHIFT = PAGE_SHIFT - 9
KIB_PER_PAGE = PAGE_SIZE // 1024

NR_FILE_DIRTY = NODE_STAT_ITEMS.index("nr_dirty")
NR_WRITEBACK = NODE_STAT_ITEMS.index("nr_writeback")
NR_DIRTIED = NODE_STAT_ITEMS.index("nr_dirtied")
NR_WRITTEN = NODE_STAT_ITEMS.index("nr_written")
NR_THROTTLED_WRITTEN = NODE_STAT_ITEMS.index("nr_throttled_written")
NR_ZONE_WRITE_PENDING = ZONE_STAT_ITEMS.index("nr_zone_write_pending")
_NR_DIRTY_THRESHOLD = VM_STAT_ITEMS.index("nr_dirty_threshold")
_NR_DIRTY_BG_THRESHOLD = VM_STAT_ITEMS.index("nr_dirty_background_threshold")


def _pct(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be {lo}..{hi}, got {v}"


def _bytes_ok(v):
    if v == 0 or v >= 2 * PAGE_SIZE:
        return None
    return f"must be 0 (use the ratio) or at least {2 * PAGE_SIZE} (two pages), got {v}"


# The vm_page_writeback_sysctls table of mm/page-writeback.c.  Setting a
# *_bytes knob overrides its *_ratio (as the sysctl handlers zero the other).
SYSCTL = (
    Field("vm.dirty_background_ratio", int, 10, check=_pct(0, 100),
          doc="background writeback starts above this % of dirtyable memory (mm/page-writeback.c)"),
    Field("vm.dirty_background_bytes", int, 0, check=_bytes_ok,
          doc="the background threshold in bytes; non-zero overrides dirty_background_ratio"),
    Field("vm.dirty_ratio", int, 20, check=_pct(0, 100),
          doc="dirty throttling limit, % of dirtyable memory (mm/page-writeback.c)"),
    Field("vm.dirty_bytes", int, 0, check=_bytes_ok,
          doc="the dirty limit in bytes; non-zero overrides dirty_ratio"),
    Field("vm.dirty_expire_centisecs", int, 3000, check=_pct(0, 10**7),
          doc="dirty data older than this is written by the periodic (kupdate) flush"),
    Field("vm.dirty_writeback_centisecs", int, 500, check=_pct(0, 10**7),
          doc="interval of the flusher's periodic (kupdate) wake-ups; 0 disables them"),
)


def ilog2(x: int) -> int:
    return max(x, 1).bit_length() - 1


def roundup_pow_of_two(x: int) -> int:
    return 1 << (x - 1).bit_length() if x > 1 else 1


def _irange(tag, lo: int, hi: int):
    """The indices of a tag in [lo, hi], ascending (xas_for_each_marked)."""
    irange = getattr(tag, "irange", None)
    if irange is not None:
        return irange(lo, hi)
    return sorted(i for i in tag if lo <= i <= hi)


def _div_s(a: int, b: int) -> int:
    """div64_s64: C division, truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def pos_ratio_polynom(setpoint: int, dirty: int, limit: int) -> int:
    """pos_ratio_polynom: 1 + ((setpoint - dirty) / (limit - setpoint))^3 in
    1/1024 units, clamped to [0, 2.0]: f(freerun) = 2, f(setpoint) = 1,
    f(limit) = 0."""
    x = _div_s((setpoint - dirty) << RATELIMIT_CALC_SHIFT, (limit - setpoint) | 1)
    pos_ratio = x
    pos_ratio = pos_ratio * x >> RATELIMIT_CALC_SHIFT
    pos_ratio = pos_ratio * x >> RATELIMIT_CALC_SHIFT
    pos_ratio += 1 << RATELIMIT_CALC_SHIFT
    return min(max(pos_ratio, 0), 2 << RATELIMIT_CALC_SHIFT)


def dirty_freerun_ceiling(thresh: int, bg_thresh: int) -> int:
    return (thresh + bg_thresh) // 2


def dirty_poll_interval(dirty: int, thresh: int) -> int:
    """After how many dirtied pages to look again: sqrt of the safety margin."""
    if thresh > dirty:
        return 1 << (ilog2(thresh - dirty) >> 1)
    return 1


class DirtyThrottleControl:
    """struct dirty_throttle_control (the global domain's; no memcg)."""

    __slots__ = ("wb", "avail", "dirty", "thresh", "bg_thresh", "wb_dirty", "wb_thresh",
                 "wb_bg_thresh", "pos_ratio", "freerun", "dirty_exceeded")

    def __init__(self, wb):
        self.wb = wb
        self.avail = self.dirty = self.thresh = self.bg_thresh = 0
        self.wb_dirty = self.wb_thresh = self.wb_bg_thresh = 0
        self.pos_ratio = 0
        self.freerun = False
        self.dirty_exceeded = False


class WbDomain:
    """struct wb_domain (global_wb_domain): the writeout completions that
    share thresh among wbs, and ``dirty_limit``, the limit that follows
    thresh up at once and down slowly (``update_dirty_limit``)."""

    def __init__(self, engine):
        self.lock = None                           # &dom->lock, made on first use
        self.engine = engine
        self.completions = FpropGlobal()
        self.period_time = 0                       # 0: the period timer is off
        self.dirty_limit_tstamp = 0
        self.dirty_limit = 0

    def reflect_period(self, jiffies: int) -> None:
        """writeout_period, applied lazily: the history halves once per
        VM_COMPLETIONS_PERIOD_LEN elapsed, and the timer stops when idle."""
        # one fprop_new_period per elapsed period, as the timer fires: the
        # history halves each time and stops ageing at one event (a single
        # catch-up of n periods would shift it to zero)
        while self.period_time and jiffies >= self.period_time:
            if self.completions.new_period(1):
                self.period_time += VM_COMPLETIONS_PERIOD_LEN
            else:
                self.period_time = 0


class _TaskDirty:
    """The task_struct fields of dirty throttling."""

    __slots__ = ("nr_dirtied", "nr_dirtied_pause", "dirty_paused_when", "wb_started")

    def __init__(self):
        self.wb_started = 0                                # folios this task put under writeback
        self.nr_dirtied = 0
        self.nr_dirtied_pause = 128 >> (PAGE_SHIFT - 10)   # INIT_TASK: 32 pages
        self.dirty_paused_when = 0


class WritebackControl:
    """struct writeback_control."""

    __slots__ = ("nr_to_write", "pages_skipped", "range_start", "range_end", "sync_mode",
                 "for_kupdate", "for_background", "for_sync", "for_reclaim", "range_cyclic",
                 "tagged_writepages", "index", "saved_err", "reason")

    def __init__(self, *, sync_mode: int = WB_SYNC_NONE, nr_to_write: int = 1 << 62,
                 range_start: int = 0, range_end: int = (1 << 63) - 1,
                 range_cyclic: bool = False, for_kupdate: bool = False,
                 for_background: bool = False, for_sync: bool = False,
                 tagged_writepages: bool = False, reason: str = "sync"):
        self.nr_to_write = nr_to_write
        self.pages_skipped = 0
        self.range_start = range_start
        self.range_end = range_end
        self.sync_mode = sync_mode
        self.for_kupdate = for_kupdate
        self.for_background = for_background
        self.for_sync = for_sync
        self.for_reclaim = False
        self.range_cyclic = range_cyclic
        self.tagged_writepages = tagged_writepages
        self.index = 0
        self.saved_err = 0
        self.reason = reason


class _BwDwork:
    """wb->bw_dwork (mm/backing-dev.c: ``wb_update_bandwidth_workfn`` on
    bdi_wq): queued by ``wb_inode_writeback_end`` BANDWIDTH_INTERVAL ahead,
    no change while pending.  One actor is its timer and its kworker: it
    sleeps until the expiry and runs ``wb_update_bandwidth`` (the timer's
    kworker wake-up, ``wakeup_ns``, included in the delay)."""

    __slots__ = ("wb", "due", "actor", "runs", "name")

    def __init__(self, wb):
        self.wb = wb
        self.due = None               # expiry (ns) while pending
        self.actor = None
        self.runs = 0
        self.name = f"{wb.bdi.name}: bw_dwork"

    def holders(self):
        return []


class PageWriteback:
    """The machine's dirty-page state: the vm.dirty_* knobs, global_wb_domain,
    ratelimit_pages and the per-CPU bdp_ratelimits, the bdi list, and the
    figures the report shows.  Made on first use by :func:`writeback_of`."""

    MAX_SAMPLES = 512

    def __init__(self, sub, machine=None):
        self.sub = sub
        self.engine = sub.engine
        self.pa = sub.pa
        self.vmstat = sub.physmem.vmstat
        self.mem_map = sub.mem_map
        self.machine = machine
        sysctl = machine.sysctl if machine is not None else {}
        self.dirty_background_ratio = int(sysctl.get("vm.dirty_background_ratio", 10))
        self.dirty_background_bytes = int(sysctl.get("vm.dirty_background_bytes", 0))
        self.vm_dirty_ratio = int(sysctl.get("vm.dirty_ratio", 20))
        self.vm_dirty_bytes = int(sysctl.get("vm.dirty_bytes", 0))
        self.dirty_expire_interval = int(sysctl.get("vm.dirty_expire_centisecs", 3000))
        self.dirty_writeback_interval = int(sysctl.get("vm.dirty_writeback_centisecs", 500))
        self.ncpus = sub.ncpus
        self.dom = WbDomain(self.engine)
        self.bdi_list: list[BackingDevInfo] = []
        self.bdp_ratelimits = [0] * self.ncpus
        self.ratelimit_pages = 32
        self.fs = None            # fs/fs_writeback.py's FsWriteback (mm does not import fs)
        self.end_io_lock_busy = 0  # completions that found the mapping's xa_lock held
        self._wait: dict[int, _WritebackWait] = {}
        self._bw_dwork: dict = {}           # wb -> _BwDwork, made on first queueing
        # figures for the report
        self.bdp_calls = 0        # balance_dirty_pages() entries
        self.bdp_freerun = 0      # of which left at once (below freerun)
        self.pauses = 0
        self.pause_ns = 0
        self.max_pause_ns = 0
        self.pause_hist = [0, 0, 0, 0, 0]   # <=10, <=50, <=100, <=200, >200 ms
        self.last_trace = None    # the last trace_balance_dirty_pages fields
        self.samples: list = []
        self._sample_every = 10_000_000     # 10 ms, doubled whenever MAX_SAMPLES is reached
        self._next_sample = 0
        self.writeback_set_ratelimit()

    # ------------------------------------------------------------- clocks
    def jiffies(self) -> int:
        return self.engine.now // JIFFY_NS

    def task(self, me) -> _TaskDirty:
        t = me.data.get("bdp")
        if t is None:
            t = me.data["bdp"] = _TaskDirty()
        return t

    # ----------------------------------------------------------- counters
    def global_node(self, item: int) -> int:
        return self.vmstat.global_node_page_state(item)

    def nr_dirty(self) -> int:
        return self.global_node(NR_FILE_DIRTY)

    def nr_writeback(self) -> int:
        return self.global_node(NR_WRITEBACK)

    def _mod(self, pfn: int, node_item: int, delta: int, me, zone_too: bool = True):
        zone = self.pa.zone_of(pfn)
        self.vmstat.mod_node_page_state(zone.zone_pgdat, node_item, delta, me)
        if zone_too:
            self.vmstat.mod_zone_page_state(zone, NR_ZONE_WRITE_PENDING, delta, me)

    # -------------------------------------------------------------- limits
    def global_dirtyable_memory(self) -> int:
        """global_dirtyable_memory: free - totalreserve + file LRU, plus one."""
        x = self.vmstat.global_zone_page_state(NR_FREE_PAGES)
        x -= min(x, self.pa.totalreserve_pages)
        for lv in self.sub.lru.lruvecs:
            x += lv.lru_size(LRU_INACTIVE_FILE) + lv.lru_size(LRU_ACTIVE_FILE)
        return x + 1

    def domain_dirty_limits(self, dtc: DirtyThrottleControl) -> None:
        """domain_dirty_limits: thresh and bg_thresh of dtc->avail."""
        avail = dtc.avail
        ratio = (self.vm_dirty_ratio * PAGE_SIZE) // 100
        bg_ratio = (self.dirty_background_ratio * PAGE_SIZE) // 100
        if self.vm_dirty_bytes:
            thresh = -(-self.vm_dirty_bytes // PAGE_SIZE)
        else:
            thresh = (ratio * avail) // PAGE_SIZE
        if self.dirty_background_bytes:
            bg_thresh = -(-self.dirty_background_bytes // PAGE_SIZE)
        else:
            bg_thresh = (bg_ratio * avail) // PAGE_SIZE
        # (rt_or_dl_task's quarter more is not modelled: no real-time tasks)
        thresh = min(thresh, (1 << 32) - 1)
        if bg_thresh >= thresh:
            bg_thresh = thresh // 2
        dtc.thresh = thresh
        dtc.bg_thresh = bg_thresh

    def domain_dirty_avail(self, dtc: DirtyThrottleControl, include_writeback: bool) -> None:
        dtc.avail = self.global_dirtyable_memory()
        dtc.dirty = self.nr_dirty()
        if include_writeback:
            dtc.dirty += self.nr_writeback()

    def global_dirty_limits(self) -> tuple[int, int]:
        """global_dirty_limits: (background, dirty) thresholds now."""
        dtc = DirtyThrottleControl(None)
        dtc.avail = self.global_dirtyable_memory()
        self.domain_dirty_limits(dtc)
        return dtc.bg_thresh, dtc.thresh

    def writeback_set_ratelimit(self) -> None:
        """writeback_set_ratelimit (page_writeback_init, CPU hotplug): at most
        3% (1/32) over the limits when every CPU dirties at once."""
        _, dirty_thresh = self.global_dirty_limits()
        self.dom.dirty_limit = dirty_thresh
        self.ratelimit_pages = max(dirty_thresh // (self.ncpus * 32), 16)

    def hard_dirty_limit(self, thresh: int) -> int:
        return max(thresh, self.dom.dirty_limit)

    def wb_stat_error(self) -> int:
        return self.ncpus * wb_stat_batch(self.ncpus)

    def _wb_calc_thresh(self, dtc: DirtyThrottleControl, thresh: int) -> int:
        """__wb_calc_thresh: the wb's share of thresh by its share of recent
        writeout completions, within the bdi's min/max ratios."""
        wb = dtc.wb
        self.dom.reflect_period(self.jiffies())
        num, den = wb.completions.fraction(self.dom.completions)
        bdi = wb.bdi
        bdi_min_ratio = sum(b.min_ratio for b in self.bdi_list) * BDI_RATIO_SCALE
        wb_thresh = (thresh * (100 * BDI_RATIO_SCALE - bdi_min_ratio)) // (100 * BDI_RATIO_SCALE)
        wb_thresh = wb_thresh * num // den
        wb_min = bdi.min_ratio * BDI_RATIO_SCALE
        wb_max = bdi.max_ratio * BDI_RATIO_SCALE
        wb_thresh += (thresh * wb_min) // (100 * BDI_RATIO_SCALE)
        cap = (thresh * wb_max) // (100 * BDI_RATIO_SCALE)
        return min(wb_thresh, cap)

    def wb_calc_thresh(self, wb, thresh: int) -> int:
        dtc = DirtyThrottleControl(wb)
        return self._wb_calc_thresh(dtc, thresh)

    def wb_dirty_limits(self, dtc: DirtyThrottleControl) -> None:
        wb = dtc.wb
        dtc.wb_thresh = self._wb_calc_thresh(dtc, dtc.thresh)
        dtc.wb_bg_thresh = dtc.wb_thresh * dtc.bg_thresh // dtc.thresh if dtc.thresh else 0
        dtc.wb_dirty = wb.stat[WB_RECLAIMABLE] + wb.stat[WB_WRITEBACK]

    def wb_position_ratio(self, dtc: DirtyThrottleControl) -> None:
        """wb_position_ratio: the global cubic control line times the wb's
        linear one (strictlimit is not modelled)."""
        wb = dtc.wb
        write_bw = wb.avg_write_bandwidth
        freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
        limit = self.hard_dirty_limit(dtc.thresh)
        wb_thresh = dtc.wb_thresh
        dtc.pos_ratio = 0
        if dtc.dirty >= limit:
            return
        setpoint = (freerun + limit) // 2
        pos_ratio = pos_ratio_polynom(setpoint, dtc.dirty, limit)
        if wb_thresh > dtc.thresh:
            wb_thresh = dtc.thresh
        wb_thresh = max(wb_thresh, (limit - dtc.dirty) // 8)
        x = (wb_thresh << 16) // (dtc.thresh | 1)
        wb_setpoint = setpoint * x >> 16
        span = (dtc.thresh - wb_thresh + 8 * write_bw) * x >> 16
        x_intercept = wb_setpoint + span
        if dtc.wb_dirty < x_intercept - span // 4:
            pos_ratio = (pos_ratio * (x_intercept - dtc.wb_dirty)
                         // ((x_intercept - wb_setpoint) | 1))
        else:
            pos_ratio //= 4
        x_intercept = wb_thresh // 2
        if dtc.wb_dirty < x_intercept:
            if dtc.wb_dirty > x_intercept // 8:
                pos_ratio = pos_ratio * x_intercept // dtc.wb_dirty
            else:
                pos_ratio *= 8
        dtc.pos_ratio = pos_ratio

    # ---------------------------------------------------- bandwidth estimation
    def wb_update_write_bandwidth(self, wb, elapsed: int, written: int) -> None:
        period = roundup_pow_of_two(3 * HZ)
        avg = wb.avg_write_bandwidth
        old = wb.write_bandwidth
        bw = written - min(written, wb.written_stamp)
        bw *= HZ
        if elapsed > period:
            bw = bw // elapsed
            avg = bw
        else:
            bw += old * (period - elapsed)
            bw >>= ilog2(period)
            if avg > old and old >= bw:          # one more level of smoothing
                avg -= (avg - old) >> 3
            if avg < old and old <= bw:
                avg += (old - avg) >> 3
        avg = max(avg, 1)
        if wb.has_dirty_io():
            wb.bdi.tot_write_bandwidth += avg - wb.avg_write_bandwidth
        wb.write_bandwidth = bw
        wb.avg_write_bandwidth = avg

    def update_dirty_limit(self, dtc: DirtyThrottleControl) -> None:
        dom = self.dom
        thresh = dtc.thresh
        limit = dom.dirty_limit
        if limit < thresh:                       # follow up in one step
            dom.dirty_limit = thresh
            return
        thresh = max(thresh, dtc.dirty)          # follow down slowly
        if limit > thresh:
            dom.dirty_limit = limit - ((limit - thresh) >> 5)

    async def domain_update_dirty_limit(self, dtc: DirtyThrottleControl, now: int, me) -> None:
        dom = self.dom
        if now < dom.dirty_limit_tstamp + BANDWIDTH_INTERVAL:
            return
        if dom.lock is None:
            from ..sync import SpinLock
            dom.lock = SpinLock(self.engine, "&dom->lock")
        await dom.lock.lock("domain_update_dirty_limit")
        if now >= dom.dirty_limit_tstamp + BANDWIDTH_INTERVAL:
            self.update_dirty_limit(dtc)
            dom.dirty_limit_tstamp = now
        dom.lock.unlock("domain_update_dirty_limit")

    def wb_update_dirty_ratelimit(self, dtc: DirtyThrottleControl, dirtied: int,
                                  elapsed: int) -> None:
        """wb_update_dirty_ratelimit: the balanced rate write_bw / N estimated
        from the measured dirty rate, followed in damped steps."""
        wb = dtc.wb
        dirty = dtc.dirty
        freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
        limit = self.hard_dirty_limit(dtc.thresh)
        setpoint = (freerun + limit) // 2
        write_bw = wb.avg_write_bandwidth
        dirty_ratelimit = wb.dirty_ratelimit
        dirty_rate = (dirtied - wb.dirtied_stamp) * HZ // elapsed
        task_ratelimit = (dirty_ratelimit * dtc.pos_ratio >> RATELIMIT_CALC_SHIFT) + 1
        balanced = task_ratelimit * write_bw // (dirty_rate | 1)
        if balanced > write_bw:
            balanced = write_bw
        step = 0
        if dirty < setpoint:
            x = min(wb.balanced_dirty_ratelimit, balanced, task_ratelimit)
            if dirty_ratelimit < x:
                step = x - dirty_ratelimit
        else:
            x = max(wb.balanced_dirty_ratelimit, balanced, task_ratelimit)
            if dirty_ratelimit > x:
                step = dirty_ratelimit - x
        shift = dirty_ratelimit // (2 * step + 1)
        if shift < 64:
            step = -(-(step >> shift) // 8)
        else:
            step = 0
        if dirty_ratelimit < balanced:
            dirty_ratelimit += step
        else:
            dirty_ratelimit -= step
        wb.dirty_ratelimit = max(dirty_ratelimit, 1)
        wb.balanced_dirty_ratelimit = balanced
        wb.last_dirty_rate = dirty_rate          # trace_bdi_dirty_ratelimit's dirty_rate

    async def _wb_update_bandwidth(self, gdtc, update_ratelimit: bool, me) -> None:
        wb = gdtc.wb
        now = self.jiffies()
        await wb.list_lock.lock("__wb_update_bandwidth")
        elapsed = max(now - wb.bw_time_stamp, 1)
        dirtied = wb.stat[WB_DIRTIED]
        written = wb.stat[WB_WRITTEN]
        if update_ratelimit:
            await self.domain_update_dirty_limit(gdtc, now, me)
            self.wb_update_dirty_ratelimit(gdtc, dirtied, elapsed)
        self.wb_update_write_bandwidth(wb, elapsed, written)
        wb.dirtied_stamp = dirtied
        wb.written_stamp = written
        wb.bw_time_stamp = now
        wb.list_lock.unlock("__wb_update_bandwidth")

    async def wb_update_bandwidth(self, wb, me) -> None:
        await self._wb_update_bandwidth(DirtyThrottleControl(wb), False, me)

    async def wb_bandwidth_estimate_start(self, wb, me) -> None:
        """Restart the estimate after an idle second (no inode under writeback)."""
        now = self.jiffies()
        if now - wb.bw_time_stamp > WB_BANDWIDTH_IDLE_JIF and not wb.writeback_inodes:
            await wb.list_lock.lock("wb_bandwidth_estimate_start")
            wb.dirtied_stamp = wb.stat[WB_DIRTIED]
            wb.written_stamp = wb.stat[WB_WRITTEN]
            wb.bw_time_stamp = now
            wb.list_lock.unlock("wb_bandwidth_estimate_start")

    def wb_inode_writeback_end(self, wb) -> None:
        """wb_inode_writeback_end: one inode fewer under writeback, and
        wb->bw_dwork queued BANDWIDTH_INTERVAL ahead (queue_delayed_work: no
        change while pending) so that the write bandwidth estimate is
        refreshed after writeback completes, inodes ending together batched
        into one update."""
        wb.writeback_inodes -= 1
        dw = self._bw_dwork.get(wb)
        if dw is None:
            dw = self._bw_dwork[wb] = _BwDwork(wb)
        if dw.due is not None:
            return
        eng = self.engine
        dw.due = eng.now + BANDWIDTH_INTERVAL * JIFFY_NS + eng.costs.wakeup_ns
        if dw.actor is None:
            pw = self

            async def bw_dwork(a):
                while True:
                    dw.due = None             # the work runs: no longer pending
                    dw.runs += 1
                    await pw.wb_update_bandwidth(wb, a)   # wb_update_bandwidth_workfn
                    if dw.due is None:
                        await eng.park(dw)
                    elif dw.due > eng.now:    # queued again while it ran
                        await eng.spend(dw.due - eng.now)
            dw.actor = eng.spawn(f"kworker/u:bw-{wb.bdi.name}", bw_dwork, at_ns=dw.due)
            set_kthread(dw.actor)
        elif dw.actor.state is ActorState.PARKED:
            eng.wake(dw.actor, dw.due)
        # else: it is running the work; it sleeps to the new expiry after it

    # --------------------------------------------------------------- pauses
    def wb_max_pause(self, wb, wb_dirty: int) -> int:
        """wb_max_pause: do not let a small dirty pool drain while tasks sleep."""
        bw = wb.avg_write_bandwidth
        t = wb_dirty // (1 + bw // roundup_pow_of_two(1 + HZ // 8))
        t += 1
        return min(t, MAX_PAUSE)

    def wb_min_pause(self, wb, max_pause: int, task_ratelimit: int,
                     dirty_ratelimit: int) -> tuple[int, int]:
        """wb_min_pause: (min pause in jiffies, nr_dirtied_pause)."""
        hi = ilog2(wb.avg_write_bandwidth)
        lo = ilog2(wb.dirty_ratelimit)
        t = max(1, HZ // 100)                    # 10 ms for one dirtier
        if hi > lo:
            t += (hi - lo) * (10 * HZ) // 1024   # N * 10 ms for 2^N dirtiers
        t = min(t, 1 + max_pause // 2)
        hz2 = roundup_pow_of_two(HZ)
        pages = dirty_ratelimit * t // hz2
        if pages < DIRTY_POLL_THRESH:
            t = max_pause
            pages = dirty_ratelimit * t // hz2
            if pages > DIRTY_POLL_THRESH:
                pages = DIRTY_POLL_THRESH
                t = HZ * DIRTY_POLL_THRESH // dirty_ratelimit
        pause = HZ * pages // (task_ratelimit + 1)
        if pause > max_pause:
            t = max_pause
            pages = task_ratelimit * t // hz2
        return (1 + t // 2 if pages >= DIRTY_POLL_THRESH else t), pages

    def writeback_in_progress(self, wb) -> bool:
        return WB_writeback_running in wb.state

    def wb_start_background_writeback(self, wb) -> None:
        if self.fs is not None:
            self.fs.wb_start_background_writeback(wb)

    # ------------------------------------------------- background threshold
    def wb_over_bg_thresh(self, wb) -> bool:
        """wb_over_bg_thresh: the flusher's background writeback goes on while
        the dirty pages (writeback not counted) are above bg_thresh, or the
        wb's above its share of it."""
        dtc = DirtyThrottleControl(wb)
        self.domain_dirty_avail(dtc, False)
        self.domain_dirty_limits(dtc)
        if dtc.dirty > dtc.bg_thresh:
            return True
        dtc.wb_bg_thresh = self._wb_calc_thresh(dtc, dtc.bg_thresh)
        dtc.wb_dirty = wb.stat[WB_RECLAIMABLE]
        return dtc.wb_dirty > dtc.wb_bg_thresh

    # --------------------------------------------------------------- report
    def maybe_sample(self, force: bool = False, dtc: DirtyThrottleControl | None = None):
        """Dirty and writeback pages against the thresholds, at most once per
        sampling interval, taken where dirtying and writeback happen (no timer
        of its own); every other sample is dropped and the interval doubles
        when MAX_SAMPLES are kept."""
        now = self.engine.now
        if now < self._next_sample and not force:
            return
        if dtc is None or dtc.thresh == 0:
            dtc = DirtyThrottleControl(None)
            dtc.avail = self.global_dirtyable_memory()
            self.domain_dirty_limits(dtc)
        freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
        limit = self.hard_dirty_limit(dtc.thresh)
        wb = self.bdi_list[0].wb if self.bdi_list else None
        tr = self.engine.trace
        if tr is not None:                     # counter tracks beside the table
            for key, v in (("nr_dirty", self.nr_dirty()), ("nr_writeback", self.nr_writeback()),
                           ("setpoint", (freerun + limit) // 2)):
                tr.counter(0, "writeback", key, now, v)
        self.samples.append((now, self.nr_dirty(), self.nr_writeback(), dtc.bg_thresh,
                             dtc.thresh, (freerun + limit) // 2,
                             wb.dirty_ratelimit if wb else 0,
                             wb.avg_write_bandwidth if wb else 0))
        if len(self.samples) >= self.MAX_SAMPLES:
            self.samples = self.samples[::2]
            self._sample_every *= 2
        self._next_sample = now + self._sample_every

    def _wb_json(self, wb) -> dict:
        d = wb.to_json()
        dw = self._bw_dwork.get(wb)
        d["bw_dwork_runs"] = dw.runs if dw is not None else 0    # wb_update_bandwidth_workfn
        return d

    def to_json(self) -> dict:
        bg, th = self.global_dirty_limits()
        freerun = dirty_freerun_ceiling(th, bg)
        limit = self.hard_dirty_limit(th)
        out = {
            "sysctl": {"dirty_ratio": self.vm_dirty_ratio, "dirty_bytes": self.vm_dirty_bytes,
                       "dirty_background_ratio": self.dirty_background_ratio,
                       "dirty_background_bytes": self.dirty_background_bytes,
                       "dirty_expire_centisecs": self.dirty_expire_interval,
                       "dirty_writeback_centisecs": self.dirty_writeback_interval},
            "dirtyable_pages": self.global_dirtyable_memory(),
            "nr_dirty_threshold": th, "nr_dirty_background_threshold": bg,
            "freerun": freerun, "dirty_limit": limit, "setpoint": (freerun + limit) // 2,
            "ratelimit_pages": self.ratelimit_pages,
            "nr_dirty": self.nr_dirty(), "nr_writeback": self.nr_writeback(),
            "balance_dirty_pages": {
                "calls": self.bdp_calls, "freerun": self.bdp_freerun, "pauses": self.pauses,
                "pause_ms_total": round(self.pause_ns / 1e6, 3),
                "pause_ms_max": round(self.max_pause_ns / 1e6, 3),
                "pause_hist_ms": dict(zip(("<=10", "<=50", "<=100", "<=200", ">200"),
                                          self.pause_hist)),
                "last": self.last_trace},
            "bdi": {b.name: self._wb_json(b.wb) for b in self.bdi_list},
            "samples": {"every_ns": self._sample_every,
                        "fields": ["ns", "nr_dirty", "nr_writeback", "bg_thresh", "thresh",
                                   "setpoint", "dirty_ratelimit", "avg_write_bandwidth"],
                        "rows": [list(s) for s in self.samples]},
        }
        if self.fs is not None:
            out["flusher"] = self.fs.to_json()
        return out

    def report(self, extra: dict) -> None:
        """The "writeback" section, and the /proc/vmstat thresholds (computed
        when read, as vmstat_start does)."""
        self.vmstat.vm_stat[_NR_DIRTY_THRESHOLD] = 0
        bg, th = self.global_dirty_limits()
        self.vmstat.vm_stat[_NR_DIRTY_THRESHOLD] = th
        self.vmstat.vm_stat[_NR_DIRTY_BG_THRESHOLD] = bg
        extra["writeback"] = self.to_json()

    def _check(self) -> None:
        for b in self.bdi_list:
            b.wb._check()
        f = self.mem_map.f
        for pfn in self._wait:
            assert f[pfn] & PG_writeback, f"writeback waiters on {pfn:#x}, not under writeback"


def writeback_of(sub) -> PageWriteback:
    """The machine's PageWriteback on the address-space side ``sub``, made on
    first use (a run without files never makes one)."""
    pw = getattr(sub, "writeback", None)
    if pw is None:
        pw = PageWriteback(sub, getattr(sub, "machine", None))
        sub.writeback = pw
    return pw


# ---------------------------------------------------------------- dirtying
def _inode_to_wb(mapping):
    return mapping.host.i_sb.s_bdi.wb


def mapping_can_writeback(mapping) -> bool:
    host = getattr(mapping, "host", None)
    return host is not None and bool(host.i_sb.s_bdi.capabilities & BDI_CAP_WRITEBACK)


def folio_account_dirtied(pw: PageWriteback, pfn: int, mapping, me) -> None:
    """folio_account_dirtied (the caller holds the mapping's xa_lock)."""
    wb = _inode_to_wb(mapping)
    pw._mod(pfn, NR_FILE_DIRTY, 1, me)
    pw._mod(pfn, NR_DIRTIED, 1, me, zone_too=False)
    wb.stat[WB_RECLAIMABLE] += 1
    wb.stat[WB_DIRTIED] += 1
    pw.task(me).nr_dirtied += 1
    pw.bdp_ratelimits[me.cpu] += 1


def folio_account_cleaned(sub, pfn: int, mapping, me) -> None:
    """folio_account_cleaned: a dirty folio leaves without writeback (truncate,
    ``__folio_cancel_dirty``)."""
    pw = writeback_of(sub)
    pw._mod(pfn, NR_FILE_DIRTY, -1, me)
    _inode_to_wb(mapping).stat[WB_RECLAIMABLE] -= 1


def folio_cancel_dirty(sub, pfn: int, mapping, me) -> None:
    """__folio_cancel_dirty: clear PG_dirty and undo the accounting (the
    dirty tag stays, as the kernel leaves it)."""
    f = sub.mem_map.f
    if f[pfn] & PG_dirty:
        f[pfn] &= ~PG_dirty
        if mapping_can_writeback(mapping):
            folio_account_cleaned(sub, pfn, mapping, me)


async def filemap_dirty_folio(sub, pfn: int, mapping, me) -> bool:
    """filemap_dirty_folio: True if the folio was newly dirtied."""
    f = sub.mem_map.f
    if f[pfn] & PG_dirty:                      # folio_test_set_dirty
        return False
    f[pfn] |= PG_dirty
    pw = writeback_of(sub)
    eng = sub.engine
    eng.charge(eng.costs.atomic_rmw_ns)
    # __folio_mark_dirty
    flags = await mapping.xa_lock.lock_irqsave("__folio_mark_dirty")
    m = sub.rmap.mapping.get(pfn)
    if m is not None and m[0] is mapping:      # folio->mapping: no race with truncate
        folio_account_dirtied(pw, pfn, mapping, me)
        mapping.tags[PAGECACHE_TAG_DIRTY].add(m[1])
        me.debt += mapping.line.write(me.cpu)
    mapping.xa_lock.unlock_irqrestore(flags, "__folio_mark_dirty")
    if mapping.host is not None and pw.fs is not None:
        await pw.fs.mark_inode_dirty(mapping.host, I_DIRTY_PAGES, me)
    return True


async def folio_mark_dirty(sub, pfn: int, mapping, me) -> bool:
    """folio_mark_dirty (the folio locked, or its PTE lock held): clears a
    stale PG_reclaim, then the mapping's dirty_folio (filemap_dirty_folio)."""
    f = sub.mem_map.f
    if f[pfn] & PG_reclaim:
        f[pfn] &= ~PG_reclaim
    if not mapping_can_writeback(mapping):     # noop_dirty_folio (tmpfs, swap)
        if f[pfn] & PG_dirty:
            return False
        f[pfn] |= PG_dirty
        return True
    return await filemap_dirty_folio(sub, pfn, mapping, me)


# ------------------------------------------------------------- throttling
async def balance_dirty_pages_ratelimited(sub, mapping, me) -> int:
    """balance_dirty_pages_ratelimited(mapping): called after each newly
    dirtied folio; throttles when this task or this CPU ran out of its
    ratelimit.  Returns the pause taken in ns (0 if none)."""
    host = getattr(mapping, "host", None)
    if host is None:
        return 0
    bdi = host.i_sb.s_bdi
    if not bdi.capabilities & BDI_CAP_WRITEBACK:
        return 0
    pw = writeback_of(sub)
    wb = bdi.wb
    t = pw.task(me)
    ratelimit = t.nr_dirtied_pause
    if wb.dirty_exceeded:
        ratelimit = min(ratelimit, 32 >> (PAGE_SHIFT - 10))
    # preempt_disable: this CPU's bdp_ratelimits (a this_cpu op)
    me.debt += sub.engine.costs.l1_hit_ns
    cpu = me.cpu
    if t.nr_dirtied >= ratelimit:
        pw.bdp_ratelimits[cpu] = 0
    elif pw.bdp_ratelimits[cpu] >= pw.ratelimit_pages:
        pw.bdp_ratelimits[cpu] = 0
        ratelimit = 0
    # (dirty_throttle_leaks of exited tasks: not modelled, tasks do not exit mid-run)
    if t.nr_dirtied >= ratelimit:
        return await balance_dirty_pages(pw, wb, t.nr_dirtied, me)
    return 0


async def balance_dirty_pages(pw: PageWriteback, wb, pages_dirtied: int, me) -> int:
    """balance_dirty_pages (mm/page-writeback.c): see the module docstring.
    Returns the time slept, in ns."""
    eng = pw.engine
    vs = pw.vmstat
    t = pw.task(me)
    bdi = wb.bdi
    start_time = pw.jiffies()
    slept = 0
    gdtc = DirtyThrottleControl(wb)
    pw.bdp_calls += 1
    while True:
        if me.debt:
            await eng.sync()
        now = pw.jiffies()
        # global_node_page_state and the free count: the global vmstat lines
        me.debt += vs.global_line.read(me.cpu)
        nr_dirty = pw.nr_dirty()
        # balance_domain_limits
        pw.domain_dirty_avail(gdtc, True)
        pw.domain_dirty_limits(gdtc)
        gdtc.freerun = gdtc.dirty <= dirty_freerun_ceiling(gdtc.thresh, gdtc.bg_thresh)
        pw.maybe_sample(dtc=gdtc)
        if nr_dirty > gdtc.bg_thresh and not pw.writeback_in_progress(wb):
            pw.wb_start_background_writeback(wb)          # (not laptop_mode)
        if gdtc.freerun:
            pw.bdp_freerun += 1
            _free_running(t, gdtc, now)
            break
        if not pw.writeback_in_progress(wb):
            pw.wb_start_background_writeback(wb)
        # balance_wb_limits (no PF_LOCAL_THROTTLE: the wb is never in freerun here)
        gdtc.freerun = False
        pw.wb_dirty_limits(gdtc)
        gdtc.dirty_exceeded = gdtc.wb_dirty > gdtc.wb_thresh and gdtc.dirty > gdtc.thresh
        pw.wb_position_ratio(gdtc)
        sdtc = gdtc
        wb.dirty_exceeded = gdtc.dirty_exceeded
        if now > wb.bw_time_stamp + BANDWIDTH_INTERVAL:
            await pw._wb_update_bandwidth(gdtc, True, me)   # __wb_update_bandwidth
        dirty_ratelimit = wb.dirty_ratelimit
        task_ratelimit = dirty_ratelimit * sdtc.pos_ratio >> RATELIMIT_CALC_SHIFT
        max_pause = pw.wb_max_pause(wb, sdtc.wb_dirty)
        min_pause, nr_dirtied_pause = pw.wb_min_pause(wb, max_pause, task_ratelimit,
                                                      dirty_ratelimit)
        if task_ratelimit == 0:
            period = max_pause
            pause = max_pause
        else:
            period = HZ * pages_dirtied // task_ratelimit
            pause = period
            if t.dirty_paused_when:
                pause -= now - t.dirty_paused_when
            if pause < min_pause:
                pw.last_trace = _trace(pw, sdtc, dirty_ratelimit, task_ratelimit, pages_dirtied,
                                       period, min(pause, 0), now - start_time)
                if pause < -HZ:
                    t.dirty_paused_when = now
                    t.nr_dirtied = 0
                elif period:
                    t.dirty_paused_when += period
                    t.nr_dirtied = 0
                elif t.nr_dirtied_pause <= pages_dirtied:
                    t.nr_dirtied_pause += pages_dirtied
                break
            if pause > max_pause:                # for an occasional dropped task_ratelimit
                now += min(pause - max_pause, max_pause)
                pause = max_pause
        pw.last_trace = _trace(pw, sdtc, dirty_ratelimit, task_ratelimit, pages_dirtied, period,
                               pause, now - start_time)
        # __set_current_state(TASK_KILLABLE); io_schedule_timeout(pause)
        bdi.last_bdp_sleep = pw.jiffies()
        await blk_flush_plug(me)                 # io_schedule_prepare
        ns = pause * JIFFY_NS
        pw.pauses += 1
        pw.pause_ns += ns
        pw.max_pause_ns = max(pw.max_pause_ns, ns)
        ms = pause * 1000 // HZ
        pw.pause_hist[0 if ms <= 10 else 1 if ms <= 50 else 2 if ms <= 100 else
                      3 if ms <= 200 else 4] += 1
        # Simplification: the sleep is the task's clock moving on (nothing
        # wakes a TASK_KILLABLE sleeper early here: no signals).
        if eng.trace is not None:              # the pause as a span on the task's track
            eng.trace.span(me.id, "balance_dirty_pages", "writeback", eng.now, eng.now + ns)
        await eng.spend(ns)
        slept += ns
        t.dirty_paused_when = now + pause
        t.nr_dirtied = 0
        t.nr_dirtied_pause = nr_dirtied_pause
        if task_ratelimit:
            break
        if sdtc.wb_dirty <= pw.wb_stat_error():
            break
    return slept


def _free_running(t: _TaskDirty, gdtc: DirtyThrottleControl, now: int) -> None:
    t.dirty_paused_when = now
    t.nr_dirtied = 0
    t.nr_dirtied_pause = dirty_poll_interval(gdtc.dirty, gdtc.thresh)


def _trace(pw, dtc, dirty_ratelimit, task_ratelimit, dirtied, period, pause, paused) -> dict:
    """trace_balance_dirty_pages's fields (rates in KB/s, times in ms)."""
    freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
    limit = pw.hard_dirty_limit(dtc.thresh)
    return {"limit": limit, "setpoint": (freerun + limit) // 2,
            "dirty": dtc.dirty, "bdi_setpoint": dtc.wb_thresh, "bdi_dirty": dtc.wb_dirty,
            "dirty_ratelimit": dirty_ratelimit * 4, "task_ratelimit": task_ratelimit * 4,
            "dirtied": dirtied, "period_ms": period * 1000 // HZ,
            "pause_ms": pause * 1000 // HZ, "paused_ms": paused * 1000 // HZ,
            "pos_ratio": dtc.pos_ratio}


# ----------------------------------------------------- writeback of folios
async def folio_clear_dirty_for_io(sub, pfn: int, mapping, me) -> bool:
    """folio_clear_dirty_for_io (the folio locked): folio_mkclean moves PTE
    dirty bits into the folio, then PG_dirty is cleared with the accounting.
    The xarray dirty tag stays until folio_start_writeback."""
    f = sub.mem_map.f
    assert f[pfn] & PG_locked, f"folio_clear_dirty_for_io: {pfn:#x} not locked"
    if not mapping_can_writeback(mapping):
        was = bool(f[pfn] & PG_dirty)
        f[pfn] &= ~PG_dirty
        return was
    if sub.rmap.folio_mapped(pfn):
        from .rmap import folio_mkclean
        if await folio_mkclean(sub, pfn, me):
            await folio_mark_dirty(sub, pfn, mapping, me)
    if f[pfn] & PG_dirty:
        f[pfn] &= ~PG_dirty
        pw = writeback_of(sub)
        pw._mod(pfn, NR_FILE_DIRTY, -1, me)
        _inode_to_wb(mapping).stat[WB_RECLAIMABLE] -= 1
        return True
    return False


async def folio_start_writeback(sub, pfn: int, mapping, me, keep_write: bool = False) -> None:
    """__folio_start_writeback of a file folio (locked, dirty bit cleared)."""
    f = sub.mem_map.f
    assert not f[pfn] & PG_writeback, f"folio {pfn:#x} already under writeback"
    pw = writeback_of(sub)
    index = sub.rmap.mapping[pfn][1]
    flags = await mapping.xa_lock.lock_irqsave("__folio_start_writeback")
    f[pfn] |= PG_writeback
    tags = mapping.tags
    on_wblist = bool(tags[PAGECACHE_TAG_WRITEBACK])
    tags[PAGECACHE_TAG_WRITEBACK].add(index)
    wb = _inode_to_wb(mapping)
    if wb.bdi.capabilities & BDI_CAP_WRITEBACK_ACCT:
        wb.stat[WB_WRITEBACK] += 1
        if not on_wblist:
            wb.writeback_inodes += 1              # wb_inode_writeback_start
    if not f[pfn] & PG_dirty:
        tags[PAGECACHE_TAG_DIRTY].discard(index)
    if not keep_write:
        tags[PAGECACHE_TAG_TOWRITE].discard(index)
    me.debt += mapping.line.write(me.cpu)
    mapping.xa_lock.unlock_irqrestore(flags, "__folio_start_writeback")
    pw._mod(pfn, NR_WRITEBACK, 1, me)
    pw.task(me).wb_started += 1


def folio_end_writeback(sub, pfn: int, mapping, me) -> None:
    """folio_end_writeback of a file folio, in the I/O's completion
    (softirq: never waits).  Simplification: the mapping's xa_lock is taken
    as a zero-length hold when free (``try_pass``); a bi_end_io callback
    cannot spin in virtual time, so contention on it is only counted."""
    f = sub.mem_map.f
    pw = writeback_of(sub)
    if f[pfn] & PG_reclaim:
        f[pfn] &= ~PG_reclaim
        sub.lru.folio_rotate_reclaimable(pfn, me)
    assert f[pfn] & PG_writeback, f"folio_end_writeback: {pfn:#x} not under writeback"
    # __folio_end_writeback
    if not mapping.xa_lock.try_pass(me, "__folio_end_writeback"):
        pw.end_io_lock_busy += 1
    f[pfn] &= ~PG_writeback
    m = sub.rmap.mapping.get(pfn)
    tags = mapping.tags
    if m is not None:
        tags[PAGECACHE_TAG_WRITEBACK].discard(m[1])
    wb = _inode_to_wb(mapping)
    if wb.bdi.capabilities & BDI_CAP_WRITEBACK_ACCT:
        wb.stat[WB_WRITEBACK] -= 1
        # __wb_writeout_add: WB_WRITTEN and the domain's completions
        wb.stat[WB_WRITTEN] += 1
        dom = pw.dom
        j = pw.jiffies()
        dom.reflect_period(j)
        wb.completions.inc(dom.completions)
        if not dom.period_time:
            dom.period_time = (j + VM_COMPLETIONS_PERIOD_LEN) | 1     # wp_next_time
        if not tags[PAGECACHE_TAG_WRITEBACK]:
            pw.wb_inode_writeback_end(wb)
    pw._mod(pfn, NR_WRITEBACK, -1, me)
    pw._mod(pfn, NR_WRITTEN, 1, me, zone_too=False)
    w = pw._wait.pop(pfn, None)                   # folio_wake_bit(PG_writeback)
    if w is not None:
        eng = sub.engine
        for a in w.actors:
            eng.wake(a, eng.now + eng.costs.wakeup_ns)
    if pw.fs is not None:
        pw.fs.acct_reclaim_writeback(pfn, me)


async def folio_wait_writeback(sub, pfn: int, me) -> None:
    """folio_wait_writeback: sleep until PG_writeback is clear (file or swap folio)."""
    f = sub.mem_map.f
    if f[pfn] & PG_swapcache:
        from .page_io import folio_wait_writeback as swap_wait
        await swap_wait(sub, pfn, me)
        return
    pw = writeback_of(sub)
    while f[pfn] & PG_writeback:
        w = pw._wait.get(pfn)
        if w is None:
            w = pw._wait[pfn] = _WritebackWait(pfn)
        w.actors.append(me)
        await blk_flush_plug(me)                  # io_schedule: the plug goes out first
        await sub.engine.park(w)


async def filemap_fdatawait_range(sub, mapping, start: int, end: int, me) -> None:
    """__filemap_fdatawait_range: wait on every folio tagged writeback in [start, end]."""
    tags = mapping.tags[PAGECACHE_TAG_WRITEBACK]
    for index in list(_irange(tags, start, end)):
        pfn = mapping.i_pages.get(index)
        if pfn is not None:
            await folio_wait_writeback(sub, pfn, me)


def _end_bio_write(bio) -> None:
    """mpage_write_end_io: each folio's writeback ends (BLOCK_SOFTIRQ)."""
    sub, mapping, pfns = bio.bi_private
    me = sub.engine.current
    f = sub.mem_map.f
    for pfn in pfns:
        if bio.bi_status:                          # mapping_set_error; the data stays dirty
            f[pfn] |= PG_dirty
        folio_end_writeback(sub, pfn, mapping, me)


class _Mpage:
    """struct mpage_data: the bio being built and the block after its end."""

    __slots__ = ("pfns", "sector", "next_sector", "opf")

    def __init__(self, opf: int):
        self.pfns: list = []
        self.sector = -1
        self.next_sector = -1
        self.opf = opf


async def _mpage_bio_submit(sub, mapping, mpd: _Mpage, me) -> None:
    if not mpd.pfns:
        return
    n = len(mpd.pfns)
    bio = Bio(mpd.opf, mpd.sector, n, bi_end_io=_end_bio_write,
              bi_private=(sub, mapping, mpd.pfns))
    mpd.pfns = []
    vs = sub.vmstat
    i = vs.ev.get("pgpgout")
    if i is not None:
        vs.count_vm_events(me.cpu, i, n * KIB_PER_PAGE)   # submit_bio: count_vm_events(PGPGOUT)
    await submit_bio(mapping.host.i_sb.s_bdev, bio)


async def mpage_writepages(sub, mapping, wbc: WritebackControl, me) -> int:
    """mpage_writepages (fs/mpage.c) over writeback_iter / write_cache_pages
    (mm/page-writeback.c): folios in index order, each locked, prepared,
    under writeback and unlocked, gathered into bios of contiguous blocks
    (at most BIO_MAX_VECS pages), all under one plug."""
    f = sub.mem_map.f
    locks = sub.folio_locks
    eng = sub.engine
    inode = mapping.host
    opf = REQ_OP_WRITE | (REQ_SYNC if wbc.sync_mode == WB_SYNC_ALL else 0)  # wbc_to_write_flags
    mpd = _Mpage(opf)
    blk_start_plug(me)
    # writeback_iter: the start
    if wbc.range_cyclic:
        index = mapping.writeback_index
        end = (1 << 63) - 1
    else:
        index = wbc.range_start >> PAGE_SHIFT
        end = wbc.range_end >> PAGE_SHIFT
    tags = mapping.tags
    if wbc.sync_mode == WB_SYNC_ALL or wbc.tagged_writepages:
        tag = PAGECACHE_TAG_TOWRITE
        # tag_pages_for_writeback
        await mapping.xa_lock.lock_irq("tag_pages_for_writeback")
        marked = list(_irange(tags[PAGECACHE_TAG_DIRTY], index, end))
        tags[PAGECACHE_TAG_TOWRITE].update(marked)
        await eng.spend(len(marked) * eng.costs.l1_hit_ns + mapping.line.write(me.cpu))
        mapping.xa_lock.unlock_irq("tag_pages_for_writeback")
    else:
        tag = PAGECACHE_TAG_DIRTY
    batch_size = sub.lru.PAGEVEC_SIZE
    done = False
    last = None
    while not done:
        # filemap_get_folios_tag: a batch of tagged folios under RCU
        batch = []
        for i in _irange(tags[tag], index, end):
            pfn = mapping.i_pages.get(i)
            if pfn is not None:
                batch.append((i, pfn))
            if len(batch) >= batch_size:
                break
        if not batch:
            break
        await eng.spend(len(batch) * eng.costs.llc_hit_ns)
        index = batch[-1][0] + 1
        for idx, pfn in batch:
            await locks.folio_lock(pfn, me)
            # folio_prepare_writeback
            m = sub.rmap.mapping.get(pfn)
            ok = m is not None and m[0] is mapping and bool(f[pfn] & PG_dirty)
            if ok and f[pfn] & PG_writeback:
                if wbc.sync_mode == WB_SYNC_NONE:
                    ok = False
                else:
                    await folio_wait_writeback(sub, pfn, me)
            if ok:
                ok = await folio_clear_dirty_for_io(sub, pfn, mapping, me)
            if not ok:
                locks.folio_unlock(pfn, me)
                continue
            # the writepage of fs/mpage.c (__mpage_writepage): map the block
            sector = inode.bmap(idx)
            if mpd.pfns and (sector != mpd.next_sector or len(mpd.pfns) >= BIO_MAX_VECS):
                await _mpage_bio_submit(sub, mapping, mpd, me)
            await folio_start_writeback(sub, pfn, mapping, me)
            locks.folio_unlock(pfn, me)
            if not mpd.pfns:
                mpd.sector = sector
            mpd.pfns.append(pfn)
            mpd.next_sector = sector + (1 << PAGE_SECTORS_SHIFT)
            last = idx
            wbc.nr_to_write -= 1
            if wbc.sync_mode == WB_SYNC_NONE and wbc.nr_to_write <= 0:
                done = True
                break
    if wbc.range_cyclic:
        mapping.writeback_index = last + 1 if done and last is not None else 0
    await _mpage_bio_submit(sub, mapping, mpd, me)
    await blk_finish_plug(me)
    return 0


async def do_writepages(sub, mapping, wbc: WritebackControl, me) -> int:
    """do_writepages: the mapping's writepages, and a bandwidth update every
    BANDWIDTH_INTERVAL while writeback is being submitted."""
    if wbc.nr_to_write <= 0:
        return 0
    pw = writeback_of(sub)
    wb = _inode_to_wb(mapping)
    await pw.wb_bandwidth_estimate_start(wb, me)
    a_ops = mapping.a_ops
    if a_ops is not None and getattr(a_ops, "writepages", None) is not None:
        ret = await a_ops.writepages(mapping, wbc, me)
    else:
        ret = await mpage_writepages(sub, mapping, wbc, me)
    if pw.jiffies() > wb.bw_time_stamp + BANDWIDTH_INTERVAL:
        await pw.wb_update_bandwidth(wb, me)
    return ret


async def filemap_fdatawrite_wbc(sub, mapping, wbc: WritebackControl, me) -> int:
    """filemap_fdatawrite_wbc: do_writepages if the mapping has dirty folios."""
    if not mapping_can_writeback(mapping) or not mapping.tags[PAGECACHE_TAG_DIRTY]:
        return 0
    return await do_writepages(sub, mapping, wbc, me)


def _sub_of(mapping):
    return mapping.host.i_sb.machine.subsystems["addrspace"]


async def generic_writepages(mapping, wbc: WritebackControl, me) -> int:
    """``a_ops->writepages`` of the simple filesystem: :func:`mpage_writepages`."""
    return await mpage_writepages(_sub_of(mapping), mapping, wbc, me)


async def generic_dirty_folio(mapping, pfn: int, me) -> bool:
    """``a_ops->dirty_folio`` of the simple filesystem: :func:`filemap_dirty_folio`."""
    return await filemap_dirty_folio(_sub_of(mapping), pfn, mapping, me)


async def filemap_write_and_wait_range(sub, mapping, lstart: int, lend: int, me) -> int:
    """filemap_write_and_wait_range (mm/filemap.c): WB_SYNC_ALL writeback of
    the bytes [lstart, lend] and a wait on their folios' writeback (what
    O_DIRECT and fsync do before touching the disk themselves)."""
    if lend < lstart or not mapping.nrpages:
        return 0
    wbc = WritebackControl(sync_mode=WB_SYNC_ALL, nr_to_write=(1 << 63) - 1,
                           range_start=lstart, range_end=lend, reason="fsync")
    ret = await filemap_fdatawrite_wbc(sub, mapping, wbc, me)
    await filemap_fdatawait_range(sub, mapping, lstart >> PAGE_SHIFT, lend >> PAGE_SHIFT, me)
    return ret
