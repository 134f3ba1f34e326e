"""submit_bio and submit_bio_wait (block/blk-core.c, block/bio.c, Linux 6.12).

``await submit_bio(bdev, bio)`` is called by an actor (a CPU's workload, a
kernel thread such as kswapd or the flusher).  On a blk-mq device it returns
once the request is handed to the device (it may first sleep for a tag);
the bio's ``bi_end_io`` runs later, in softirq context on this CPU.  On zram
it returns after ``bi_end_io`` has run, here.  ``submit_bio_wait`` sleeps on
a completion until the bio ends, as mm/page_io.c's synchronous paths do.

The plug (``blk_start_plug`` ... ``blk_finish_plug``, block/blk-core.c):
while an actor holds one, its bios for blk-mq devices are kept on the plug
and reach the device at ``blk_finish_plug``, at ``blk_flush_plug`` (the
kernel's schedule() calls it when the task sleeps; callers that sleep with a
plug call it here), or when BLK_MAX_REQUEST_COUNT = 32 are plugged
(``blk_add_rq_to_plug``).  Reclaim relies on it: shrink_lruvec plugs, so a
swap write usually ends after its folio is back on the LRU and
folio_rotate_reclaimable can find it.  Bio-based synchronous devices (zram)
are never plugged.  Simplifications: the request (and its tag) is allocated
at the flush, not before plugging; no merging of adjacent bios.
"""
from __future__ import annotations

from ..sync.completion import Completion
from .blk_types import Bio

__all__ = ["submit_bio", "submit_bio_wait", "blk_start_plug", "blk_finish_plug",
           "blk_flush_plug", "BLK_MAX_REQUEST_COUNT"]

BLK_MAX_REQUEST_COUNT = 32              # block/blk.h: requests a plug holds before a flush

def blk_start_plug(me) -> None:
    """blk_start_plug(): a nested plug is ignored, as the kernel's is.  The
    plug is the actor's (``current->plug``): a list of (bdev, bio) pairs in
    submission order, so nothing outlives the run that made it."""
    if me.plug is None:
        me.plug = []


async def blk_flush_plug(me) -> None:
    """blk_flush_plug(): send the plugged bios to their devices, in order;
    the plug stays in place."""
    lst = me.plug
    while lst:
        batch = lst[:]
        lst.clear()
        for bdev, bio in batch:
            await bdev.submit_bio(bio)


async def blk_finish_plug(me) -> None:
    """blk_finish_plug(): flush and remove the plug."""
    await blk_flush_plug(me)
    me.plug = None


async def submit_bio(bdev, bio: Bio) -> None:
    """Submit ``bio`` to ``bdev`` from the current actor."""
    eng = bdev.engine
    me = eng.current
    if me.debt:
        await eng.sync()
    bio.bi_bdev = bdev
    bio.cpu = me.cpu                   # rq->mq_ctx->cpu: the completion comes back here
    bio.submit_ns = eng.now
    plug = me.plug
    if plug is not None and not bdev.synchronous:
        plug.append((bdev, bio))           # blk_add_rq_to_plug
        if len(plug) >= BLK_MAX_REQUEST_COUNT:
            await blk_flush_plug(me)
        return
    await bdev.submit_bio(bio)


async def submit_bio_wait(bdev, bio: Bio) -> int:
    """submit_bio_wait(): submit and sleep until the bio ends; its status."""
    done = Completion(bdev.engine, f"submit_bio_wait({bdev.name})")
    bio.bi_private = done
    bio.bi_end_io = _submit_bio_wait_endio
    await submit_bio(bdev, bio)
    await done.wait()
    return bio.bi_status


def _submit_bio_wait_endio(bio: Bio) -> None:
    bio.bi_private.complete()
