"""Swap I/O: mm/page_io.c (Linux 6.12), and the writeback end of mm/filemap.c
(``folio_end_writeback``, ``folio_wait_writeback``) that it completes into.

* :func:`swap_writepage` is the swap cache's ``a_ops->writepage`` that
  reclaim's ``pageout()`` calls with the folio locked (and dirty bit already
  cleared by ``folio_clear_dirty_for_io``): a folio whose slot no PTE uses
  any more just leaves the swap cache (``folio_free_swap``); otherwise
  ``__swap_writepage``: ``pswpout``, ``folio_start_writeback``,
  ``folio_unlock`` and a one-page write bio (REQ_OP_WRITE | REQ_SWAP) at
  sector ``offset << 3`` of the device's block device.  On a blk-mq device
  ``submit_bio`` returns once the request is queued and
  ``end_swap_bio_write`` runs later in the submitting CPU's BLOCK_SOFTIRQ;
  on zram (SWP_SYNCHRONOUS_IO) ``swap_writepage_bdev_sync`` waits for it.
  Simplifications: no zeromap (every page is written; ``swpout_zero`` stays
  0), no zswap, no blk_plug/swap_iocb batching.
* :func:`folio_end_writeback` (interrupt context): PG_reclaim cleared and
  the folio handed to ``folio_rotate_reclaimable`` (the tail of the inactive
  list: reclaim frees it on its next pass), PG_writeback cleared, the
  ``folio_wait_writeback`` waiters woken.
* :func:`swap_read_folio` (the folio locked, in the swap cache or, for the
  skip-swapcache path, with ``folio->swap`` set): ``pswpin``, a read bio;
  ``end_swap_bio_read`` marks the folio uptodate and unlocks it (in softirq
  for blk-mq, in the caller for zram).  The kernel's PG_locked has no owner:
  the completion releases the lock the submitter took.
* ``pgpgin``/``pgpgout`` are counted at submission as block/blk-core.c's
  ``submit_bio`` does; /proc/vmstat shows them in KiB (sectors / 2), and so
  are they counted here (4 per page).
"""
from __future__ import annotations

from ..block import REQ_OP_READ, REQ_OP_WRITE, REQ_SWAP, Bio, submit_bio, submit_bio_wait
from .filemap import PG_dirty, PG_locked, PG_reclaim, PG_uptodate, PG_writeback
from .swapfile import SWP_SYNCHRONOUS_IO, swp_offset, swp_type

__all__ = ["swap_writepage", "swap_read_folio", "folio_end_writeback", "folio_start_writeback",
           "folio_wait_writeback", "AOP_WRITEPAGE_ACTIVATE"]

AOP_WRITEPAGE_ACTIVATE = 0x80000
PAGE_SECTORS_SHIFT = 3              # PAGE_SHIFT - SECTOR_SHIFT
KIB_PER_PAGE = 4


class _WritebackWait:
    """The folio's PG_writeback wait (folio_wait_bit on the hashed queue)."""

    __slots__ = ("name", "actors")

    def __init__(self, pfn: int):
        self.name = f"folio_wait_writeback({pfn:#x})"
        self.actors: list = []

    def holders(self):
        return []                     # the I/O, not a task, ends it


def _count(sub, cpu: int, name: str, n: int = 1):
    sub.vmstat.count_event(cpu, name, n)


def _si(sub, entry: int):
    return sub.swap.swap_info[swp_type(entry)]


def folio_start_writeback(sub, pfn: int):
    """__folio_start_writeback: PG_writeback set (nr_writeback + 1)."""
    f = sub.mem_map.f
    assert not f[pfn] & PG_writeback, f"folio {pfn:#x} already under writeback"
    f[pfn] |= PG_writeback
    sub.swap_cache.nr_writeback += 1


def folio_end_writeback(sub, pfn: int, me):
    """folio_end_writeback: may run in interrupt context, never waits."""
    f = sub.mem_map.f
    if f[pfn] & PG_reclaim:
        f[pfn] &= ~PG_reclaim
        rot = getattr(sub.lru, "folio_rotate_reclaimable", None)
        if rot is not None:
            rot(pfn)
    assert f[pfn] & PG_writeback, f"folio_end_writeback: {pfn:#x} not under writeback"
    f[pfn] &= ~PG_writeback
    sc = sub.swap_cache
    sc.nr_writeback -= 1
    w = sc._wait.pop(pfn, None)                       # folio_wake_bit(PG_writeback)
    if w is not None:
        eng = sub.engine
        for a in w.actors:
            eng.wake(a, eng.now + eng.costs.wakeup_ns)


async def folio_wait_writeback(sub, pfn: int, me):
    """folio_wait_writeback: sleep until PG_writeback is clear."""
    f = sub.mem_map.f
    sc = sub.swap_cache
    while f[pfn] & PG_writeback:
        w = sc._wait.get(pfn)
        if w is None:
            w = sc._wait[pfn] = _WritebackWait(pfn)
        w.actors.append(me)
        await sub.engine.park(w)


def __end_swap_bio_write(sub, pfn: int, status: int):
    me = sub.engine.current
    if status:                                        # a write error: keep the data
        sub.mem_map.f[pfn] |= PG_dirty
        sub.mem_map.f[pfn] &= ~PG_reclaim
    folio_end_writeback(sub, pfn, me)


def _end_swap_bio_write(bio):
    """end_swap_bio_write: bi_end_io of an async swap write (softirq)."""
    sub, pfn = bio.bi_private
    __end_swap_bio_write(sub, pfn, bio.bi_status)


def __end_swap_bio_read(sub, pfn: int, status: int):
    me = sub.engine.current
    if not status:
        sub.mem_map.f[pfn] |= PG_uptodate             # folio_mark_uptodate
    sub.folio_locks.locker[pfn] = me                  # PG_locked has no owner (see above)
    sub.folio_locks.folio_unlock(pfn, me)


def _end_swap_bio_read(bio):
    """end_swap_bio_read: bi_end_io of an async swap read (softirq)."""
    sub, pfn = bio.bi_private
    __end_swap_bio_read(sub, pfn, bio.bi_status)


async def swap_writepage(sub, pfn: int, me) -> int:
    """swap_writepage(folio, wbc): 0 (the folio is unlocked, under writeback
    or gone from the swap cache), as the kernel returns."""
    sc = sub.swap_cache
    f = sub.mem_map.f
    assert f[pfn] & PG_locked, f"swap_writepage: folio {pfn:#x} not locked"
    if await sc.folio_free_swap(pfn, me):
        sub.folio_locks.folio_unlock(pfn, me)
        return 0
    await __swap_writepage(sub, pfn, me)
    return 0


async def __swap_writepage(sub, pfn: int, me):
    entry = sub.swap_cache.folio_swap[pfn]
    si = _si(sub, entry)
    f = sub.mem_map.f
    f[pfn] &= ~PG_dirty               # pageout's folio_clear_dirty_for_io, if not done yet
    bio = Bio(REQ_OP_WRITE | REQ_SWAP, swp_offset(entry) << PAGE_SECTORS_SHIFT, 1,
              bi_private=(sub, pfn))
    _count(sub, me.cpu, "pswpout")                    # count_swpout_vm_event
    folio_start_writeback(sub, pfn)
    sub.folio_locks.folio_unlock(pfn, me)
    _count(sub, me.cpu, "pgpgout", KIB_PER_PAGE)      # submit_bio
    sc = sub.swap_cache
    sc.writes[si.type] += 1
    if si.flags & SWP_SYNCHRONOUS_IO:                 # swap_writepage_bdev_sync
        status = await submit_bio_wait(si.bdev, bio)
        __end_swap_bio_write(sub, pfn, status)
    else:                                             # swap_writepage_bdev_async
        bio.bi_end_io = _end_swap_bio_write
        await submit_bio(si.bdev, bio)


async def swap_read_folio(sub, pfn: int, me, entry: int = 0):
    """swap_read_folio(folio, plug): read a locked, !uptodate folio from its
    slot (``entry`` for the skip-swapcache path, else folio->swap)."""
    f = sub.mem_map.f
    assert f[pfn] & PG_locked and not f[pfn] & PG_uptodate, \
        f"swap_read_folio: folio {pfn:#x} unlocked or uptodate"
    if not entry:
        entry = sub.swap_cache.folio_swap[pfn]
    si = _si(sub, entry)
    bio = Bio(REQ_OP_READ, swp_offset(entry) << PAGE_SECTORS_SHIFT, 1, bi_private=(sub, pfn))
    _count(sub, me.cpu, "pswpin")
    _count(sub, me.cpu, "pgpgin", KIB_PER_PAGE)
    sub.swap_cache.reads[si.type] += 1
    if si.flags & SWP_SYNCHRONOUS_IO:                 # swap_read_folio_bdev_sync
        status = await submit_bio_wait(si.bdev, bio)
        __end_swap_bio_read(sub, pfn, status)
    else:                                             # swap_read_folio_bdev_async
        bio.bi_end_io = _end_swap_bio_read
        # the lock now belongs to the I/O (no task to blame in a wait-for graph)
        sub.folio_locks.locker.pop(pfn, None)
        await submit_bio(si.bdev, bio)
