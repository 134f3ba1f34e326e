"""submit_bio and submit_bio_wait (block/blk-core.c, block/bio.c, Linux 6.12).

``await submit_bio(bdev, bio)`` is called by an actor (a CPU's workload, a
kernel thread such as kswapd or the flusher).  On a blk-mq device it returns
once the request is handed to the device (it may first sleep for a tag);
the bio's ``bi_end_io`` runs later, in softirq context on this CPU.  On zram
it returns after ``bi_end_io`` has run, here.  ``submit_bio_wait`` sleeps on
a completion until the bio ends, as mm/page_io.c's synchronous paths do.

Simplification: no blk_plug.  A plug (blk_start_plug ... blk_finish_plug,
up to BLK_MAX_REQUEST_COUNT = 32 requests, block/blk.h) batches dispatch
and lets adjacent bios merge; without merging it would change only when
requests reach the device, so it is left for when merging is modelled.
"""
from __future__ import annotations

from ..sync.completion import Completion
from .blk_types import Bio

__all__ = ["submit_bio", "submit_bio_wait"]


async def submit_bio(bdev, bio: Bio) -> None:
    """Submit ``bio`` to ``bdev`` from the current actor."""
    eng = bdev.engine
    me = eng.current
    if me.debt:
        await eng.sync()
    bio.bi_bdev = bdev
    bio.cpu = me.cpu                   # rq->mq_ctx->cpu: the completion comes back here
    bio.submit_ns = eng.now
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
