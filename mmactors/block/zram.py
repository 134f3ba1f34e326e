"""zram: a compressed RAM disk that completes every bio synchronously
(drivers/block/zram/zram_drv.c, Linux 6.12).

zram is a bio-based driver (``zram_submit_bio``), not blk-mq: no request
queue, no tags, no device actor and no interrupt.  ``zram_bio_write``
compresses each page on the submitting CPU and ``zram_bio_read``
decompresses it there, between ``bio_start_io_acct`` and
``bio_end_io_acct``, and ``bio_endio`` runs before ``submit_bio`` returns, in
the submitter's own (process) context.  The disk sets BLK_FEAT_SYNCHRONOUS,
which is why mm/page_io.c's swap paths see SWP_SYNCHRONOUS_IO and why
``do_swap_page`` skips the swap cache for it.
Simplification: compression is a fixed CPU cost per page
(``blk_zram_compress_ns``, ``blk_zram_decompress_ns``); zram's memory use,
its per-slot locks and same-filled pages are not modelled.
"""
from __future__ import annotations

from .blk_types import Bio, bio_endio, op_is_write
from .genhd import DiskStats

__all__ = ["Zram"]


class Zram:
    """A zram device: ``await dev.submit_bio(bio)`` ends the bio before it returns."""

    synchronous = True                  # BLK_FEAT_SYNCHRONOUS
    kind = "zram"

    def __init__(self, engine, name: str, *, compress_ns: int, decompress_ns: int):
        self.engine = engine
        self.name = name
        self.compress_ns = compress_ns
        self.decompress_ns = decompress_ns
        self.stats = DiskStats()
        self.completed = 0
        self.actor = None               # no device actor: the submitter does the work

    def __repr__(self):
        return f"<Zram {self.name}>"

    def start(self, add_actor=None) -> None:
        """Nothing to start (a blk-mq device starts its actor here)."""

    async def submit_bio(self, bio: Bio) -> None:
        """zram_submit_bio -> zram_bio_read / zram_bio_write, then bio_endio."""
        eng = self.engine
        me = eng.current
        sgrp = 1 if op_is_write(bio.bi_opf) else 0
        start = eng.now
        self.stats.account_io_start(sgrp, start)          # bio_start_io_acct
        per_page = self.compress_ns if sgrp else self.decompress_ns
        await eng.spend(per_page * bio.nr_pages)
        self.stats.account_io_done(sgrp, bio.nr_sectors, start, eng.now)   # bio_end_io_acct
        self.completed += 1
        bio_endio(bio, me)

    def _check(self) -> None:
        self.stats._check()

    def info(self) -> dict:
        return {"kind": "zram", "compress_ns": self.compress_ns,
                "decompress_ns": self.decompress_ns, "synchronous": True}
