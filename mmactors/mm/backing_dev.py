"""struct backing_dev_info and struct bdi_writeback (mm/backing-dev.c,
include/linux/backing-dev-defs.h, include/linux/backing-dev.h, Linux 6.12).

One :class:`BackingDevInfo` per super_block's device (``sb->s_bdi``): its
readahead size (``ra_pages`` = VM_READAHEAD_PAGES = 32, /sys/class/bdi/<dev>/
read_ahead_kb 128), its capabilities, and its root ``bdi_writeback``.

A :class:`BdiWriteback` (``bdi->wb``; no cgroup writeback, so the only one)
holds what fs/fs-writeback.c and mm/page-writeback.c share:

* ``list_lock`` (class ``&wb->list_lock``) guarding the inode lists
  ``b_dirty`` (dirtied, oldest at the tail), ``b_io`` (queued for writeback),
  ``b_more_io`` (to retry after b_io) and ``b_dirty_time`` (lazytime inodes);
* ``work_lock`` (``&wb->work_lock``) guarding ``work_list``, the queued
  ``wb_writeback_work`` items (sync, fsync-free flushes, reclaim's start-all);
* the per-wb statistics ``stat[WB_RECLAIMABLE/WB_WRITEBACK/WB_DIRTIED/
  WB_WRITTEN]`` (percpu_counters in the kernel: exact integers here, so
  ``wb_stat`` and ``wb_stat_sum`` agree; ``wb_stat_error`` is still the
  kernel's ``nr_cpu_ids * WB_STAT_BATCH`` where balance_dirty_pages uses it);
* the bandwidth estimation fields (``bw_time_stamp``, ``dirtied_stamp``,
  ``written_stamp``, ``write_bandwidth``, ``avg_write_bandwidth``,
  ``dirty_ratelimit``, ``balanced_dirty_ratelimit``, all in pages per second,
  starting at INIT_BW = 100 MB/s as ``wb_init`` sets them);
* ``completions``: this wb's share of the domain's writeout completions
  (lib/flex_proportions.c, see :class:`FpropLocal`).

Lists are insertion-ordered dicts of inodes: the first key is the list's
tail (``list->prev``, the oldest), ``list_move(inode, head)`` re-inserts the
inode at the end.  Iteration order is therefore the kernel's and never
depends on object ids.
"""
from __future__ import annotations

from ..sync import SpinLock

__all__ = ["BackingDevInfo", "BdiWriteback", "FpropLocal", "FpropGlobal", "INIT_BW",
           "VM_READAHEAD_PAGES", "BDI_CAP_WRITEBACK", "BDI_CAP_WRITEBACK_ACCT",
           "BDI_CAP_STRICTLIMIT", "WB_RECLAIMABLE", "WB_WRITEBACK", "WB_DIRTIED", "WB_WRITTEN",
           "WB_STAT_NAMES", "wb_stat_batch"]

PAGE_SHIFT = 12
INIT_BW = 100 << (20 - PAGE_SHIFT)          # mm/backing-dev.c: 100 MB/s in pages/s
VM_READAHEAD_PAGES = (128 * 1024) >> PAGE_SHIFT   # include/linux/pagemap.h: SZ_128K / PAGE_SIZE

# include/linux/backing-dev-defs.h
BDI_CAP_WRITEBACK = 1 << 0
BDI_CAP_WRITEBACK_ACCT = 1 << 1
BDI_CAP_STRICTLIMIT = 1 << 2

# enum wb_stat_item
WB_RECLAIMABLE, WB_WRITEBACK, WB_DIRTIED, WB_WRITTEN = range(4)
WB_STAT_NAMES = ("reclaimable", "writeback", "dirtied", "written")

# enum wb_state bits (a set of names here)
WB_registered = "WB_registered"
WB_writeback_running = "WB_writeback_running"
WB_has_dirty_io = "WB_has_dirty_io"
WB_start_all = "WB_start_all"


def wb_stat_batch(nr_cpu_ids: int) -> int:
    """WB_STAT_BATCH = 8 * (1 + ilog2(nr_cpu_ids))."""
    return 8 * (1 + (max(nr_cpu_ids, 1).bit_length() - 1))


class FpropGlobal:
    """struct fprop_global (lib/flex_proportions.c): the domain's event count
    and its period.  ``writeout_period`` (every VM_COMPLETIONS_PERIOD_LEN =
    3 s while completions happen) halves the history: ``fprop_new_period``."""

    __slots__ = ("events", "period")

    def __init__(self):
        self.events = 0
        self.period = 0

    def new_period(self, periods: int = 1) -> bool:
        """fprop_new_period: nothing to age with at most one event (False)."""
        if self.events <= 1:
            return False
        self.events >>= min(periods, 63)
        self.period += periods
        return True


class FpropLocal:
    """struct fprop_local_percpu: one wb's events, aged lazily to the global
    period (``fprop_reflect_period_percpu``: halved once per elapsed period)."""

    __slots__ = ("events", "period")

    def __init__(self):
        self.events = 0
        self.period = 0

    def _reflect(self, g: FpropGlobal) -> None:
        if self.period != g.period:
            self.events >>= min(g.period - self.period, 63)
            self.period = g.period

    def inc(self, g: FpropGlobal, n: int = 1) -> None:
        """__fprop_add_percpu_max (max_frac 100%): one writeout completion."""
        self._reflect(g)
        self.events += n
        g.events += n

    def fraction(self, g: FpropGlobal) -> tuple[int, int]:
        """fprop_fraction_percpu: (numerator, denominator); (0, 1) with no history."""
        self._reflect(g)
        den = g.events
        num = self.events
        if den <= num:
            num = den
        if den == 0:
            return 0, 1
        return num, den


class BdiWriteback:
    """struct bdi_writeback (the bdi's root wb; no cgroup writeback)."""

    def __init__(self, engine, bdi: "BackingDevInfo", now_jiffies: int):
        self.bdi = bdi
        self.engine = engine
        name = bdi.name
        self.list_lock = SpinLock(engine, "&wb->list_lock")
        self.work_lock = SpinLock(engine, "&wb->work_lock")
        self.b_dirty: dict = {}
        self.b_io: dict = {}
        self.b_more_io: dict = {}
        self.b_dirty_time: dict = {}
        self.work_list: list = []
        self.state: set = {WB_registered}
        self.start_all_reason = None
        self.last_old_flush = now_jiffies
        self.writeback_inodes = 0                # inodes with folios under writeback
        self.stat = [0, 0, 0, 0]                 # WB_RECLAIMABLE .. WB_WRITTEN
        self.bw_time_stamp = now_jiffies
        self.dirtied_stamp = 0
        self.written_stamp = 0
        self.write_bandwidth = INIT_BW
        self.avg_write_bandwidth = INIT_BW
        self.dirty_ratelimit = INIT_BW
        self.balanced_dirty_ratelimit = INIT_BW
        self.dirty_exceeded = False
        self.last_dirty_rate = 0                 # trace_bdi_dirty_ratelimit's dirty_rate
        self.completions = FpropLocal()
        self.flusher = None                      # fs/fs_writeback.py's Flusher (wb->dwork)
        self.name = f"wb({name})"

    def __repr__(self):
        return f"<bdi_writeback {self.bdi.name}>"

    def has_dirty_io(self) -> bool:
        """wb_has_dirty_io: WB_has_dirty_io is set."""
        return WB_has_dirty_io in self.state

    def io_lists_populated(self) -> bool:
        """wb_io_lists_populated: set WB_has_dirty_io; True if it was clear
        (the bdi's tot_write_bandwidth gains this wb's bandwidth)."""
        if WB_has_dirty_io in self.state:
            return False
        self.state.add(WB_has_dirty_io)
        self.bdi.tot_write_bandwidth += self.avg_write_bandwidth
        return True

    def io_lists_depopulated(self) -> None:
        """wb_io_lists_depopulated: clear WB_has_dirty_io once b_dirty, b_io
        and b_more_io are all empty."""
        if WB_has_dirty_io in self.state and not self.b_dirty and not self.b_io \
                and not self.b_more_io:
            self.state.discard(WB_has_dirty_io)
            self.bdi.tot_write_bandwidth -= self.avg_write_bandwidth

    def lists(self):
        return (("b_dirty", self.b_dirty), ("b_io", self.b_io), ("b_more_io", self.b_more_io),
                ("b_dirty_time", self.b_dirty_time))

    def list_of(self, inode):
        for name, lst in self.lists():
            if inode in lst:
                return name
        return None

    def _check(self) -> None:
        seen = {}
        for name, lst in self.lists():
            for inode in lst:
                assert inode not in seen, f"{inode!r} on {seen.get(inode)} and {name}"
                seen[inode] = name
        assert all(v >= 0 for v in self.stat[:2]), f"{self}: negative wb stat {self.stat}"
        populated = bool(self.b_dirty or self.b_io or self.b_more_io)
        if populated:
            assert self.has_dirty_io(), f"{self}: inodes listed but WB_has_dirty_io clear"

    def to_json(self) -> dict:
        return {"stat": dict(zip(WB_STAT_NAMES, self.stat)),
                "write_bandwidth_kbps": self.write_bandwidth * 4,
                "avg_write_bandwidth_kbps": self.avg_write_bandwidth * 4,
                "dirty_ratelimit_kbps": self.dirty_ratelimit * 4,
                "balanced_dirty_ratelimit_kbps": self.balanced_dirty_ratelimit * 4,
                "b_dirty": len(self.b_dirty), "b_io": len(self.b_io),
                "b_more_io": len(self.b_more_io), "b_dirty_time": len(self.b_dirty_time),
                "writeback_inodes": self.writeback_inodes}


class BackingDevInfo:
    """struct backing_dev_info of one block device (``bdi_alloc`` defaults)."""

    def __init__(self, engine, name: str, bdev=None, now_jiffies: int = 0):
        self.name = name                          # bdi_dev_name
        self.dev_name = name
        self.bdev = bdev
        self.ra_pages = VM_READAHEAD_PAGES        # read_ahead_kb 128 (bdi_alloc)
        # io_pages: max_sectors_kb in pages (blk_apply_bdi_limits), the default
        # BLK_DEF_MAX_SECTORS_CAP of 2560 sectors = 1280 KiB
        self.io_pages = 2560 * 512 >> PAGE_SHIFT
        self.capabilities = BDI_CAP_WRITEBACK | BDI_CAP_WRITEBACK_ACCT
        self.min_ratio = 0                        # /sys/class/bdi/<dev>/min_ratio (0%)
        self.max_ratio = 100                      # max_ratio (100%)
        self.tot_write_bandwidth = 0
        self.last_bdp_sleep = now_jiffies
        self.wb = BdiWriteback(engine, self, now_jiffies)

    def __repr__(self):
        return f"<backing_dev_info {self.name}>"

    def has_dirty_io(self) -> bool:
        """bdi_has_dirty_io (one wb)."""
        return self.wb.has_dirty_io()
