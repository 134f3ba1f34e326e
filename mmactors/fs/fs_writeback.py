"""Inode writeback and the flusher (fs/fs-writeback.c, Linux 6.12).

Dirty inodes
------------
:meth:`FsWriteback.mark_inode_dirty` is ``__mark_inode_dirty``: a lockless
``i_state`` test first; then ``inode->i_lock``, and for an inode that was
clean ``locked_inode_to_wb_and_lock_list`` (``wb->list_lock`` then
``i_lock`` again: the order of mm/rmap.c's comment, list_lock -> i_lock),
``dirtied_when = jiffies`` and the inode at the head of ``wb->b_dirty``.
The first dirty inode of a wb arms the flusher's delayed work
(``wb_wakeup_delayed``: ``dirty_writeback_interval`` from now).

The flusher
-----------
One actor per backing device stands for ``wb->dwork`` running ``wb_workfn``
on bdi_wq (the kernel's ``kworker/uN:M-flush-<dev>``).  It is started on the
first wake-up (a run without dirty files never starts one) and ends instead
of idling for good once every workload actor has finished.  Its delayed
work is a timer actor that sleeps until the deadline (one engine event per
period: a kupdate pass every 5 virtual seconds costs nothing in between);
``mod_delayed_work(0)`` wakes the flusher at once.

``wb_workfn`` -> ``wb_do_writeback``: queued works first (``sync``'s
WB_SYNC_ALL work with its ``wb_completion``), then ``wb_check_start_all``
(``wakeup_flusher_threads``: reclaim's WB_REASON_VMSCAN, sync's
WB_REASON_SYNC), ``wb_check_old_data_flush`` (kupdate: every
``dirty_writeback_interval``, inodes dirtied more than
``dirty_expire_interval`` ago) and ``wb_check_background_flush`` (while
``wb_over_bg_thresh``).  ``wb_writeback`` loops ``queue_io``
(``move_expired_inodes`` from b_dirty to b_io, b_more_io back first) and
``writeback_sb_inodes``: per inode ``I_SYNC``, ``writeback_chunk_size``
(``min(avg_write_bandwidth / 2, dirty_limit / DIRTY_SCOPE)`` rounded to
MIN_WRITEBACK_PAGES = 1024 pages), ``__writeback_single_inode``
(``do_writepages``), ``requeue_inode`` (b_more_io when the slice ran out,
b_dirty via ``redirty_tail`` otherwise, off the lists when clean), giving
up the list after HZ/10 to recheck the background threshold.

Simplifications: one super_block per bdi (``super_trylock_shared`` and
``s_umount`` are not modelled); no inode metadata (``write_inode`` is never
needed: nothing sets I_DIRTY_SYNC); lazytime (``b_dirty_time``) lists exist
but nothing puts inodes there; no cgroup writeback (one wb per bdi);
``get_nr_dirty_pages`` counts pages only (no dirty inodes).
"""
from __future__ import annotations

from .._core import ActorState
from ..mm.backing_dev import (WB_has_dirty_io, WB_registered, WB_start_all,
                              WB_writeback_running, BackingDevInfo)
from ..mm.page_writeback import (I_DIRTY, I_DIRTY_ALL, I_DIRTY_INODE, I_DIRTY_PAGES,
                                 I_DIRTY_TIME, I_FREEING, I_NEW, I_SYNC, I_SYNC_QUEUED,
                                 I_WILL_FREE, PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK,
                                 WB_SYNC_ALL, WB_SYNC_NONE,
                                 WritebackControl, do_writepages, filemap_fdatawait_range,
                                 filemap_write_and_wait_range, writeback_of)
from ..mm.sched_mm import set_kthread
from ..mm.vmscan import HZ

__all__ = ["FsWriteback", "Flusher", "WbWritebackWork", "bdi_register", "vfs_fsync_range",
           "sync_inodes_sb", "ksys_sync", "wakeup_flusher_threads", "WB_REASONS",
           "WB_REASON_BACKGROUND", "WB_REASON_VMSCAN", "WB_REASON_SYNC", "WB_REASON_PERIODIC",
           "WB_REASON_FSYNC"]

# enum wb_reason (include/linux/writeback.h), by its trace name
WB_REASON_BACKGROUND = "background"
WB_REASON_VMSCAN = "vmscan"
WB_REASON_SYNC = "sync"
WB_REASON_PERIODIC = "periodic"
WB_REASON_LAPTOP_TIMER = "laptop_timer"
WB_REASON_FS_FREE_SPACE = "fs_free_space"
WB_REASON_FORKER_THREAD = "forker_thread"
WB_REASON_FOREIGN_FLUSH = "foreign_flush"
WB_REASON_FSYNC = "fsync"       # not a wb_reason: the pages fsync itself writes
WB_REASONS = (WB_REASON_BACKGROUND, WB_REASON_VMSCAN, WB_REASON_SYNC, WB_REASON_PERIODIC,
              WB_REASON_LAPTOP_TIMER, WB_REASON_FS_FREE_SPACE, WB_REASON_FORKER_THREAD,
              WB_REASON_FOREIGN_FLUSH, WB_REASON_FSYNC)

MIN_WRITEBACK_PAGES = 4096 >> (12 - 10)          # 1024 pages (4 MiB)
DIRTY_SCOPE = 8
LONG_MAX = (1 << 63) - 1
DIRTYTIME_EXPIRE_INTERVAL = 12 * 60 * 60         # seconds (dirtytime_expire_interval)
_PARKED = ActorState.PARKED
_DONE = ActorState.DONE


class WbCompletion:
    """struct wb_completion: a count of unfinished works and their waiters."""

    def __init__(self, name: str = "wb_completion"):
        self.cnt = 1                               # DEFINE_WB_COMPLETION: the initial count
        self.name = name
        self.waiters: list = []

    def holders(self):
        return []


class WbWritebackWork:
    """struct wb_writeback_work."""

    __slots__ = ("nr_pages", "sb", "sync_mode", "tagged_writepages", "for_kupdate",
                 "range_cyclic", "for_background", "for_sync", "auto_free", "reason", "done")

    def __init__(self, nr_pages: int, reason: str, *, sb=None, sync_mode: int = WB_SYNC_NONE,
                 tagged_writepages: bool = False, for_kupdate: bool = False,
                 range_cyclic: bool = True, for_background: bool = False,
                 for_sync: bool = False, done: WbCompletion | None = None):
        self.nr_pages = nr_pages
        self.sb = sb
        self.sync_mode = sync_mode
        self.tagged_writepages = tagged_writepages
        self.for_kupdate = for_kupdate
        self.range_cyclic = range_cyclic
        self.for_background = for_background
        self.for_sync = for_sync
        self.auto_free = True
        self.reason = reason
        self.done = done


class _Idle:
    """What an idle flusher or timer waits on (no holder: a work item)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def holders(self):
        return []


class Flusher:
    """``wb->dwork`` and the worker that runs ``wb_workfn`` for one wb."""

    def __init__(self, fs: "FsWriteback", wb, cpu: int):
        self.fs = fs
        self.wb = wb
        self.engine = fs.engine
        self.cpu = cpu
        self.name = f"flush-{wb.bdi.name}"
        self.actor = None
        self.timer = None
        self.due = None               # the delayed work's expiry (ns), None: not pending
        self.idle = _Idle(f"{self.name}: idle")
        self.timer_idle = _Idle(f"{self.name}: timer")
        self.parked = False
        self.timer_parked = False
        self.state = "not started"    # not started | running | idle | stopped
        # figures
        self.wakeups = 0              # wb_workfn runs
        self.works = 0                # queued works done
        self.kupdate_passes = 0       # wb_check_old_data_flush that wrote
        self.background_passes = 0    # wb_check_background_flush that wrote
        self.start_all_passes = 0
        self.written = dict.fromkeys(WB_REASONS, 0)   # pages, by the work's reason
        self.first_write_ns = {}      # reason -> virtual time of its first page

    # ------------------------------------------------------------ queueing
    def _start(self) -> None:
        eng = self.engine
        self.state = "running"

        async def body(a):
            await self._worker(a)

        async def timer(a):
            await self._timer(a)
        node = eng.node_of[self.cpu] if eng.node_of else 0
        self.actor = eng.spawn(f"kworker/u:{self.name}", body, cpu=self.cpu, node=node)
        set_kthread(self.actor)
        self.timer = eng.spawn(f"timer/{self.name}", timer, cpu=self.cpu, node=node)
        self.timer_parked = False

    def mod_delayed_work_now(self) -> None:
        """mod_delayed_work(bdi_wq, &wb->dwork, 0): run wb_workfn now."""
        eng = self.engine
        self.due = eng.now
        if self.actor is None:
            self._start()
        elif self.parked:
            self.parked = False
            eng.wake(self.actor, eng.now + eng.costs.wakeup_ns)

    def queue_delayed_work(self, delay_ns: int) -> None:
        """queue_delayed_work: no change when already pending."""
        if self.due is not None:
            return
        eng = self.engine
        self.due = eng.now + delay_ns
        if self.actor is None:
            self._start()
        elif self.timer_parked:
            self.timer_parked = False
            eng.wake(self.timer, self.due)

    async def _timer(self, me) -> None:
        """The delayed work's timer: sleeps to the expiry, then queues the work."""
        eng = self.engine
        while True:
            d = self.due
            if d is not None and d > eng.now:
                await eng.spend(d - eng.now)
                continue
            if d is not None and self.parked:      # expired: the work runs
                self.parked = False
                eng.wake(self.actor, eng.now + eng.costs.wakeup_ns)
            if self.fs.workloads_done() and (self.actor is None or self.actor.state is _DONE):
                return
            self.timer_parked = True
            await eng.park(self.timer_idle)

    async def _worker(self, me) -> None:
        eng = self.engine
        while True:
            d = self.due
            if d is not None and d <= eng.now:
                self.due = None
                self.state = "running"
                await self.fs.wb_workfn(self.wb, me)
                continue
            if self.fs.workloads_done():
                self.state = "stopped"
                if self.timer_parked:
                    self.timer_parked = False
                    eng.wake(self.timer, eng.now)
                return
            self.state = "idle"
            self.parked = True
            await eng.park(self.idle)

    def to_json(self) -> dict:
        return {"state": self.state, "cpu": self.cpu, "runs": self.wakeups, "works": self.works,
                "kupdate_passes": self.kupdate_passes,
                "background_passes": self.background_passes,
                "start_all_passes": self.start_all_passes,
                "written": {k: v for k, v in self.written.items() if v},
                "first_write_ns": dict(self.first_write_ns)}


class FsWriteback:
    """The machine's fs-writeback side: flushers and the inode lists' logic."""

    def __init__(self, pw):
        self.pw = pw
        self.sub = pw.sub
        self.engine = pw.engine
        self.machine = pw.machine
        self.flushers: list[Flusher] = []
        self._sync_wait: dict = {}        # inode -> actors in inode_sleep_on_writeback

    def workloads_done(self) -> bool:
        m = self.machine
        if m is None:
            return False
        acts = getattr(m, "_cpu_actors", None)
        return bool(acts) and all(a.state is _DONE for a in acts)

    def jiffies(self) -> int:
        return self.pw.jiffies()

    # ------------------------------------------------------------ wake-ups
    def wb_wakeup(self, wb) -> None:
        if WB_registered in wb.state:
            wb.flusher.mod_delayed_work_now()

    def wb_wakeup_delayed(self, wb) -> None:
        """wb_wakeup_delayed: the flusher in dirty_writeback_interval."""
        if WB_registered in wb.state:
            wb.flusher.queue_delayed_work(self.pw.dirty_writeback_interval * 10_000_000)

    def wb_start_background_writeback(self, wb) -> None:
        self.wb_wakeup(wb)

    def wb_start_writeback(self, wb, reason: str) -> None:
        """wb_start_writeback: one start-all request pending at a time."""
        if not wb.has_dirty_io():
            return
        if WB_start_all in wb.state:
            return
        wb.state.add(WB_start_all)
        wb.start_all_reason = reason
        self.wb_wakeup(wb)

    async def wakeup_flusher_threads(self, reason: str, me) -> None:
        """wakeup_flusher_threads: submit our plugged I/O, then every bdi with
        dirty inodes starts writing all of them."""
        from ..block.blk_core import blk_flush_plug
        await blk_flush_plug(me)
        for bdi in self.pw.bdi_list:
            if bdi.has_dirty_io():
                self.wb_start_writeback(bdi.wb, reason)

    # ----------------------------------------------------------- the lists
    def inode_io_list_move_locked(self, inode, wb, head: dict) -> bool:
        """inode_io_list_move_locked: list_move to ``head``'s head; True if
        the wb just became one with dirty I/O."""
        cur = inode.i_io_list
        if cur is not None:
            del cur[inode]
        head[inode] = None
        inode.i_io_list = head
        inode.i_wb = wb
        if head is not wb.b_dirty_time:
            return wb.io_lists_populated()
        wb.io_lists_depopulated()
        return False

    def inode_cgwb_move_to_attached(self, inode, wb) -> None:
        """Off the writeback lists (no cgroup writeback: list_del_init)."""
        inode.i_state &= ~I_SYNC_QUEUED
        cur = inode.i_io_list
        if cur is not None:
            del cur[inode]
            inode.i_io_list = None
        wb.io_lists_depopulated()

    def redirty_tail_locked(self, inode, wb) -> None:
        """redirty_tail_locked: back to b_dirty's head, dirtied_when no older
        than the newest there (keeps b_dirty ordered by time)."""
        inode.i_state &= ~I_SYNC_QUEUED
        if inode.i_state & I_FREEING:
            self.inode_cgwb_move_to_attached(inode, wb)
            return
        if wb.b_dirty:
            newest = next(reversed(wb.b_dirty))
            if inode.dirtied_when < newest.dirtied_when:
                inode.dirtied_when = self.jiffies()
        self.inode_io_list_move_locked(inode, wb, wb.b_dirty)

    def requeue_io(self, inode, wb) -> None:
        self.inode_io_list_move_locked(inode, wb, wb.b_more_io)

    def inode_sync_complete(self, inode) -> None:
        """I_SYNC cleared, its waiters woken (inode_wake_up_bit(__I_SYNC))."""
        inode.i_state &= ~I_SYNC
        ws = self._sync_wait.pop(inode, None)
        if ws:
            eng = self.engine
            for a in ws:
                eng.wake(a, eng.now + eng.costs.wakeup_ns)

    async def inode_sleep_on_writeback(self, inode, me) -> None:
        """Sleep until the inode's current writeback (I_SYNC) finishes."""
        if inode.i_state & I_SYNC:
            self._sync_wait.setdefault(inode, []).append(me)
            await self.engine.park(_Idle(f"inode {inode.i_ino} I_SYNC"))

    def move_expired_inodes(self, delaying: dict, dispatch: dict, dirtied_before: int) -> int:
        """move_expired_inodes: from the delaying queue's tail (the oldest),
        every inode dirtied at or before ``dirtied_before``, onto the
        dispatch queue's head, oldest first.  (One super_block per bdi: the
        per-sb sort is never needed.)"""
        moved = []
        for inode in delaying:
            if inode.dirtied_when > dirtied_before:        # inode_dirtied_after
                break
            moved.append(inode)
        for inode in moved:
            del delaying[inode]
            inode.i_state |= I_SYNC_QUEUED
            dispatch[inode] = None
            inode.i_io_list = dispatch
        return len(moved)

    def queue_io(self, wb, work: WbWritebackWork, dirtied_before: int) -> None:
        """queue_io (wb->list_lock held): b_more_io, then the expired inodes, onto b_io."""
        for inode in list(wb.b_more_io):
            del wb.b_more_io[inode]
            wb.b_io[inode] = None
            inode.i_io_list = wb.b_io
        moved = self.move_expired_inodes(wb.b_dirty, wb.b_io, dirtied_before)
        expire = dirtied_before if work.for_sync else \
            self.jiffies() - DIRTYTIME_EXPIRE_INTERVAL * HZ
        moved += self.move_expired_inodes(wb.b_dirty_time, wb.b_io, expire)
        if moved:
            wb.io_lists_populated()

    # --------------------------------------------------------- dirty inodes
    async def mark_inode_dirty(self, inode, flags: int, me) -> None:
        """__mark_inode_dirty(inode, flags) (see the module docstring)."""
        eng = self.engine
        dirtytime = 0
        if flags & I_DIRTY_INODE:
            # ->dirty_inode is not modelled (no metadata); I_DIRTY_INODE supersedes I_DIRTY_TIME
            if inode.i_state & I_DIRTY_TIME:
                await inode.i_lock.lock("__mark_inode_dirty")
                if inode.i_state & I_DIRTY_TIME:
                    inode.i_state &= ~I_DIRTY_TIME
                inode.i_lock.unlock("__mark_inode_dirty")
            flags &= ~I_DIRTY_TIME
        else:
            dirtytime = flags & I_DIRTY_TIME
        me.debt += eng.costs.l1_hit_ns          # smp_mb + the lockless i_state test
        if inode.i_state & flags == flags:
            return
        await inode.i_lock.lock("__mark_inode_dirty")
        wb = None
        if inode.i_state & flags != flags:
            was_dirty = inode.i_state & I_DIRTY
            inode.i_state |= flags
            if not was_dirty:
                # locked_inode_to_wb_and_lock_list: i_lock dropped, list_lock, i_lock again
                wb = inode.i_sb.s_bdi.wb
                inode.i_lock.unlock("__mark_inode_dirty")
                await wb.list_lock.lock("__mark_inode_dirty")
                await inode.i_lock.lock("__mark_inode_dirty")
            if not inode.i_state & (I_SYNC_QUEUED | I_FREEING) and not was_dirty:
                inode.dirtied_when = self.jiffies()
                if dirtytime:
                    inode.dirtied_time_when = inode.dirtied_when
                dirty_list = wb.b_dirty if inode.i_state & I_DIRTY else wb.b_dirty_time
                wakeup_bdi = self.inode_io_list_move_locked(inode, wb, dirty_list)
                wb.list_lock.unlock("__mark_inode_dirty")
                inode.i_lock.unlock("__mark_inode_dirty")
                if wakeup_bdi:
                    self.wb_wakeup_delayed(wb)
                return
        if wb is not None:
            wb.list_lock.unlock("__mark_inode_dirty")
        inode.i_lock.unlock("__mark_inode_dirty")

    # ------------------------------------------------------------ writeback
    def writeback_chunk_size(self, wb, work: WbWritebackWork) -> int:
        if work.sync_mode == WB_SYNC_ALL or work.tagged_writepages:
            return LONG_MAX
        pages = min(wb.avg_write_bandwidth // 2, self.pw.dom.dirty_limit // DIRTY_SCOPE)
        pages = min(pages, work.nr_pages)
        return (pages + MIN_WRITEBACK_PAGES) // MIN_WRITEBACK_PAGES * MIN_WRITEBACK_PAGES

    async def __writeback_single_inode(self, inode, wbc: WritebackControl, me) -> int:
        mapping = inode.i_mapping
        ret = await do_writepages(self.sub, mapping, wbc, me)
        if wbc.sync_mode == WB_SYNC_ALL and not wbc.for_sync:
            await filemap_fdatawait_range(self.sub, mapping, 0, LONG_MAX, me)
        await inode.i_lock.lock("__writeback_single_inode")
        dirty = inode.i_state & I_DIRTY
        inode.i_state &= ~dirty
        if mapping.tags[PAGECACHE_TAG_DIRTY]:
            inode.i_state |= I_DIRTY_PAGES
        inode.i_lock.unlock("__writeback_single_inode")
        # (write_inode for dirty & ~I_DIRTY_PAGES: no inode metadata is modelled)
        return ret

    def requeue_inode(self, inode, wb, wbc: WritebackControl, dirtied_before: int) -> None:
        """requeue_inode (list_lock and i_lock held): where the inode goes next."""
        if inode.i_state & I_FREEING:
            return
        if inode.i_state & I_DIRTY and (wbc.sync_mode == WB_SYNC_ALL or wbc.tagged_writepages):
            inode.dirtied_when = self.jiffies()
        if wbc.pages_skipped:
            if inode.i_state & I_DIRTY_ALL:
                self.redirty_tail_locked(inode, wb)
            else:
                self.inode_cgwb_move_to_attached(inode, wb)
            return
        if inode.i_mapping.tags[PAGECACHE_TAG_DIRTY]:
            if wbc.nr_to_write <= 0 and not inode.dirtied_when > dirtied_before:
                self.requeue_io(inode, wb)                 # slice used up
            else:
                self.redirty_tail_locked(inode, wb)
        elif inode.i_state & I_DIRTY:
            self.redirty_tail_locked(inode, wb)
        elif inode.i_state & I_DIRTY_TIME:
            inode.dirtied_when = self.jiffies()
            self.inode_io_list_move_locked(inode, wb, wb.b_dirty_time)
            inode.i_state &= ~I_SYNC_QUEUED
        else:
            self.inode_cgwb_move_to_attached(inode, wb)

    async def writeback_sb_inodes(self, sb, wb, work: WbWritebackWork, me) -> int:
        """writeback_sb_inodes (entered and left with wb->list_lock held)."""
        wbc = WritebackControl(sync_mode=work.sync_mode, tagged_writepages=work.tagged_writepages,
                               for_kupdate=work.for_kupdate, for_background=work.for_background,
                               for_sync=work.for_sync, range_cyclic=work.range_cyclic,
                               reason=work.reason)
        start_time = self.jiffies()
        total_wrote = 0
        dirtied_before = self.jiffies()
        if work.for_kupdate:
            dirtied_before -= self.pw.dirty_expire_interval * HZ // 100
        flusher = wb.flusher
        while wb.b_io:
            inode = next(iter(wb.b_io))                     # wb_inode(wb->b_io.prev)
            if inode.i_sb is not sb:
                if work.sb is not None:
                    await inode.i_lock.lock("writeback_sb_inodes")
                    self.redirty_tail_locked(inode, wb)
                    inode.i_lock.unlock("writeback_sb_inodes")
                    continue
                break
            await inode.i_lock.lock("writeback_sb_inodes")
            if inode.i_state & (I_NEW | I_FREEING | I_WILL_FREE):
                self.redirty_tail_locked(inode, wb)
                inode.i_lock.unlock("writeback_sb_inodes")
                continue
            if inode.i_state & I_SYNC and wbc.sync_mode != WB_SYNC_ALL:
                self.requeue_io(inode, wb)
                inode.i_lock.unlock("writeback_sb_inodes")
                continue
            wb.list_lock.unlock("writeback_sb_inodes")
            if inode.i_state & I_SYNC:
                inode.i_lock.unlock("writeback_sb_inodes")
                await self.inode_sleep_on_writeback(inode, me)
                await wb.list_lock.lock("writeback_sb_inodes")
                continue
            inode.i_state |= I_SYNC
            inode.i_lock.unlock("writeback_sb_inodes")     # wbc_attach_and_unlock_inode
            write_chunk = self.writeback_chunk_size(wb, work)
            wbc.nr_to_write = write_chunk
            wbc.pages_skipped = 0
            await self.__writeback_single_inode(inode, wbc, me)
            pages = write_chunk - wbc.nr_to_write
            work.nr_pages -= pages
            wrote = max(pages - wbc.pages_skipped, 0)
            total_wrote += wrote
            if pages > 0 and flusher is not None and me is flusher.actor:
                flusher.written[work.reason] += pages
                flusher.first_write_ns.setdefault(work.reason, self.engine.now)
            await wb.list_lock.lock("writeback_sb_inodes")   # inode_to_wb_and_lock_list
            await inode.i_lock.lock("writeback_sb_inodes")
            if not inode.i_state & I_DIRTY_ALL:
                total_wrote += 1
            self.requeue_inode(inode, wb, wbc, dirtied_before)
            self.inode_sync_complete(inode)
            inode.i_lock.unlock("writeback_sb_inodes")
            if total_wrote:
                if self.jiffies() >= start_time + HZ // 10:
                    break
                if work.nr_pages <= 0:
                    break
        return total_wrote

    async def __writeback_inodes_wb(self, wb, work: WbWritebackWork, me) -> int:
        start_time = self.jiffies()
        wrote = 0
        while wb.b_io:
            sb = next(iter(wb.b_io)).i_sb
            wrote += await self.writeback_sb_inodes(sb, wb, work, me)
            if wrote:
                if self.jiffies() >= start_time + HZ // 10:
                    break
                if work.nr_pages <= 0:
                    break
        return wrote

    async def wb_writeback(self, wb, work: WbWritebackWork, me) -> int:
        """wb_writeback: write until the work's pages are done, the background
        threshold is met (for_background) or nothing is left."""
        from ..block.blk_core import blk_finish_plug, blk_start_plug
        pw = self.pw
        nr_pages = work.nr_pages
        dirtied_before = self.jiffies()
        blk_start_plug(me)
        while True:
            if work.nr_pages <= 0:
                break
            if (work.for_background or work.for_kupdate) and wb.work_list:
                break
            if work.for_background and not pw.wb_over_bg_thresh(wb):
                break
            await wb.list_lock.lock("wb_writeback")
            queued = False
            if not wb.b_io:
                if work.for_kupdate:
                    dirtied_before = self.jiffies() - pw.dirty_expire_interval * HZ // 100
                elif work.for_background:
                    dirtied_before = self.jiffies()
                self.queue_io(wb, work, dirtied_before)
                queued = True
            if work.sb is not None:
                progress = await self.writeback_sb_inodes(work.sb, wb, work, me)
            else:
                progress = await self.__writeback_inodes_wb(wb, work, me)
            pw.maybe_sample()
            if progress or not queued:
                wb.list_lock.unlock("wb_writeback")
                continue
            if not wb.b_more_io:
                wb.list_lock.unlock("wb_writeback")
                break
            inode = next(iter(wb.b_more_io))
            wb.list_lock.unlock("wb_writeback")
            await self.inode_sleep_on_writeback(inode, me)
        await blk_finish_plug(me)
        return nr_pages - work.nr_pages

    async def get_next_work_item(self, wb):
        await wb.work_lock.lock_irq("get_next_work_item")
        work = wb.work_list.pop(0) if wb.work_list else None
        wb.work_lock.unlock_irq("get_next_work_item")
        return work

    def finish_writeback_work(self, work: WbWritebackWork) -> None:
        done = work.done
        if done is not None:
            done.cnt -= 1
            if done.cnt == 0:
                eng = self.engine
                for a in done.waiters:
                    eng.wake(a, eng.now + eng.costs.wakeup_ns)
                done.waiters = []

    async def wb_queue_work(self, wb, work: WbWritebackWork) -> None:
        if work.done is not None:
            work.done.cnt += 1
        await wb.work_lock.lock_irq("wb_queue_work")
        if WB_registered in wb.state:
            wb.work_list.append(work)
            wb.flusher.mod_delayed_work_now()
        else:
            self.finish_writeback_work(work)
        wb.work_lock.unlock_irq("wb_queue_work")

    async def wb_wait_for_completion(self, done: WbCompletion, me) -> None:
        done.cnt -= 1                                   # the initial count
        while done.cnt:
            done.waiters.append(me)
            await self.engine.park(done)

    def get_nr_dirty_pages(self) -> int:
        return self.pw.nr_dirty()

    async def wb_check_background_flush(self, wb, me) -> int:
        if self.pw.wb_over_bg_thresh(wb):
            work = WbWritebackWork(LONG_MAX, WB_REASON_BACKGROUND, for_background=True)
            n = await self.wb_writeback(wb, work, me)
            wb.flusher.background_passes += 1
            return n
        return 0

    async def wb_check_old_data_flush(self, wb, me) -> int:
        """kupdate: once per dirty_writeback_interval, the expired inodes."""
        pw = self.pw
        if not pw.dirty_writeback_interval:
            return 0
        expired = wb.last_old_flush + pw.dirty_writeback_interval * HZ // 100
        if self.jiffies() < expired:
            return 0
        wb.last_old_flush = self.jiffies()
        nr_pages = self.get_nr_dirty_pages()
        if nr_pages:
            work = WbWritebackWork(nr_pages, WB_REASON_PERIODIC, for_kupdate=True)
            n = await self.wb_writeback(wb, work, me)
            wb.flusher.kupdate_passes += 1
            return n
        return 0

    async def wb_check_start_all(self, wb, me) -> int:
        if WB_start_all not in wb.state:
            return 0
        nr_pages = self.get_nr_dirty_pages()
        if nr_pages:
            work = WbWritebackWork(nr_pages, wb.start_all_reason)   # wb_split_bdi_pages: one wb
            nr_pages = await self.wb_writeback(wb, work, me)
            wb.flusher.start_all_passes += 1
        wb.state.discard(WB_start_all)
        return nr_pages

    async def wb_do_writeback(self, wb, me) -> int:
        wrote = 0
        wb.state.add(WB_writeback_running)
        while True:
            work = await self.get_next_work_item(wb)
            if work is None:
                break
            wrote += await self.wb_writeback(wb, work, me)
            wb.flusher.works += 1
            self.finish_writeback_work(work)
        wrote += await self.wb_check_start_all(wb, me)
        wrote += await self.wb_check_old_data_flush(wb, me)
        wrote += await self.wb_check_background_flush(wb, me)
        wb.state.discard(WB_writeback_running)
        return wrote

    async def wb_workfn(self, wb, me) -> None:
        """wb_workfn: write until the work list is empty, then re-arm."""
        wb.flusher.wakeups += 1
        while True:
            await self.wb_do_writeback(wb, me)
            if not wb.work_list:
                break
        if wb.work_list:
            self.wb_wakeup(wb)
        elif wb.has_dirty_io() and self.pw.dirty_writeback_interval:
            self.wb_wakeup_delayed(wb)

    # ------------------------------------------------------------- reclaim
    def acct_reclaim_writeback(self, pfn: int, me) -> None:
        """acct_reclaim_writeback (mm/internal.h): wakes reclaimers throttled
        on writeback (mm/vmscan.py keeps the count)."""
        vmscan = getattr(self.sub, "vmscan", None)
        acct = getattr(vmscan, "acct_reclaim_writeback", None)
        if acct is not None:
            acct(pfn, me)

    def to_json(self) -> dict:
        return {f.wb.bdi.name: f.to_json() for f in self.flushers}


def _fs_of(sub) -> FsWriteback:
    pw = writeback_of(sub)
    if pw.fs is None:
        pw.fs = FsWriteback(pw)
    return pw.fs


def bdi_register(sub, name: str, bdev, ra_pages: int | None = None,
                 io_pages: int | None = None) -> BackingDevInfo:
    """bdi_alloc + bdi_register (mm/backing-dev.c) with the wb's dwork set to
    wb_workfn (``wb_init``): the backing_dev_info of a mounted device."""
    fs = _fs_of(sub)
    pw = fs.pw
    bdi = BackingDevInfo(sub.engine, name, bdev, pw.jiffies())
    if ra_pages is not None:
        bdi.ra_pages = ra_pages
    if io_pages is not None:
        bdi.io_pages = io_pages
    pw.bdi_list.append(bdi)
    # bdi_wq is unbound: its kworker runs on some CPU; the flusher of the
    # n-th bdi is put on CPU n (its completions interrupt that CPU).
    cpu = (len(pw.bdi_list) - 1) % max(pw.ncpus, 1)
    f = Flusher(fs, bdi.wb, cpu)
    bdi.wb.flusher = f
    fs.flushers.append(f)
    return bdi


async def wakeup_flusher_threads(sub, reason: str, me) -> None:
    """wakeup_flusher_threads(reason): every bdi with dirty inodes writes them all."""
    pw = getattr(sub, "writeback", None)
    if pw is None or pw.fs is None:
        return
    await pw.fs.wakeup_flusher_threads(reason, me)


async def vfs_fsync_range(inode, me, start: int = 0, end: int = LONG_MAX,
                          datasync: bool = False) -> int:
    """vfs_fsync_range -> ->fsync -> file_write_and_wait_range (mm/filemap.c):
    WB_SYNC_ALL writeback of [start, end] and a wait on every folio under
    writeback there.  (No inode metadata is written: sync_inode_metadata has
    nothing to do in this filesystem.)"""
    sub = inode.i_sb.machine.subsystems["addrspace"]
    mapping = inode.i_mapping
    task = writeback_of(sub).task(me)
    before = task.wb_started
    ret = await filemap_write_and_wait_range(sub, mapping, start, end, me)
    f = inode.i_sb.s_bdi.wb.flusher
    if f is not None and task.wb_started > before:
        f.written[WB_REASON_FSYNC] += task.wb_started - before
        f.first_write_ns.setdefault(WB_REASON_FSYNC, me.engine.now)
    return ret


async def sync_inodes_sb(sb, me) -> None:
    """sync_inodes_sb: a WB_SYNC_ALL work for the flusher, waited for, then
    wait_sb_inodes (every inode's folios under writeback)."""
    sub = sb.machine.subsystems["addrspace"]
    fs = _fs_of(sub)
    wb = sb.s_bdi.wb
    if not sb.s_bdi.has_dirty_io() and \
            not any(i.i_mapping.tags[PAGECACHE_TAG_WRITEBACK] for i in sb.s_inodes):
        return
    done = WbCompletion(f"sync_inodes_sb({sb.s_id})")
    work = WbWritebackWork(LONG_MAX, WB_REASON_SYNC, sb=sb, sync_mode=WB_SYNC_ALL,
                           range_cyclic=False, for_sync=True, done=done)
    work.auto_free = False
    await fs.wb_queue_work(wb, work)
    await fs.wb_wait_for_completion(done, me)
    for inode in sb.s_inodes:                           # wait_sb_inodes
        await filemap_fdatawait_range(sub, inode.i_mapping, 0, LONG_MAX, me)


async def ksys_sync(machine, me) -> None:
    """sync(2): wake every flusher (WB_REASON_SYNC), then sync_inodes_sb per
    mounted filesystem (the data part of ksys_sync; no sync_fs)."""
    sub = machine.subsystems["addrspace"]
    await wakeup_flusher_threads(sub, WB_REASON_SYNC, me)
    fsys = machine.subsystems.get("fs")
    if fsys is not None:
        for sb in fsys.mounts.values():
            await sync_inodes_sb(sb, me)
