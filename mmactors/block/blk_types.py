"""struct bio and the request operations (include/linux/blk_types.h, Linux 6.12).

A :class:`Bio` is what a submitter hands to :func:`~mmactors.block.submit_bio`:
an operation (``REQ_OP_READ`` or ``REQ_OP_WRITE``, with flags such as
``REQ_SYNC`` or'ed into ``bi_opf``), a start sector, a size, and the
``bi_end_io`` callback the block layer calls once, at completion.  On a blk-mq
device ``bi_end_io`` runs in softirq context (BLOCK_SOFTIRQ) on the CPU that
submitted the bio, so it must not sleep: it is a plain function, called as
``bi_end_io(bio)`` with ``bio.bi_status`` set (mm/page_io.c's
``end_swap_bio_write`` ends writeback there, ``end_swap_bio_read`` unlocks
the folio).  On zram it runs in the submitter's own context, before
``submit_bio`` returns (drivers/block/zram/zram_drv.c).

Simplification: one bio is one contiguous range (no bio_vec list); its size
is counted in pages, as the mm callers think of it, and in bytes
(``bi_size``) and 512-byte sectors as the block layer does.
"""
from __future__ import annotations

__all__ = ["Bio", "REQ_OP_READ", "REQ_OP_WRITE", "REQ_OP_MASK", "REQ_SYNC", "REQ_META",
           "REQ_FUA", "REQ_RAHEAD", "REQ_SWAP", "SECTOR_SHIFT", "SECTOR_SIZE", "PAGE_SECTORS", "BLK_STS_OK",
           "BLK_STS_IOERR", "op_is_write", "op_name"]

# enum req_op (include/linux/blk_types.h): the low REQ_OP_BITS of bi_opf.
REQ_OP_READ = 0
REQ_OP_WRITE = 1
REQ_OP_BITS = 8
REQ_OP_MASK = (1 << REQ_OP_BITS) - 1
# enum req_flag_bits, the ones callers here set (their bit numbers follow 6.12's enum).
REQ_FAILFAST_DEV = 1 << (REQ_OP_BITS + 0)
REQ_SYNC = 1 << (REQ_OP_BITS + 3)
REQ_META = 1 << (REQ_OP_BITS + 4)
REQ_FUA = 1 << (REQ_OP_BITS + 9)
REQ_RAHEAD = 1 << (REQ_OP_BITS + 11)          # readahead (mm/readahead.c)
REQ_SWAP = 1 << (REQ_OP_BITS + 16)            # swap I/O (mm/page_io.c)

SECTOR_SHIFT = 9
SECTOR_SIZE = 1 << SECTOR_SHIFT
PAGE_SIZE = 4096
PAGE_SECTORS = PAGE_SIZE >> SECTOR_SHIFT       # 8

BLK_STS_OK = 0
BLK_STS_IOERR = 10


def op_is_write(opf: int) -> bool:
    """op_is_write(): odd operations write (REQ_OP_WRITE = 1)."""
    return bool(opf & 1)


def op_name(opf: int) -> str:
    return "write" if op_is_write(opf) else "read"


class Bio:
    """struct bio, reduced to what the model needs.

    ``bi_opf``      the operation and flags (``REQ_OP_WRITE | REQ_SYNC``)
    ``bi_sector``   the start, in 512-byte sectors (bi_iter.bi_sector)
    ``nr_pages``    the size in 4 KiB pages (``bi_size`` gives bytes)
    ``bi_end_io``   ``fn(bio)``, called exactly once at completion (may be None)
    ``bi_private``  the submitter's cookie (a folio, a completion)
    ``bi_status``   BLK_STS_OK once completed
    The rest is bookkeeping the model fills in: ``bi_bdev`` (set by
    submit_bio), the submitting CPU, and when it was submitted and ended.
    """

    __slots__ = ("bi_opf", "bi_sector", "nr_pages", "bi_end_io", "bi_private", "bi_status",
                 "bi_bdev", "cpu", "submit_ns", "end_ns", "end_context", "ended")

    def __init__(self, opf: int, sector: int, nr_pages: int = 1, bi_end_io=None,
                 bi_private=None):
        if nr_pages < 1:
            raise ValueError(f"a bio of {nr_pages} pages")
        if sector < 0:
            raise ValueError(f"a bio at sector {sector}")
        self.bi_opf = opf
        self.bi_sector = sector
        self.nr_pages = nr_pages
        self.bi_end_io = bi_end_io
        self.bi_private = bi_private
        self.bi_status = None
        self.bi_bdev = None
        self.cpu = -1
        self.submit_ns = -1
        self.end_ns = -1
        self.end_context = None        # the context bio_endio ran in (tests check it)
        self.ended = 0                 # bio_endio calls: must end up exactly 1

    @property
    def bi_size(self) -> int:
        """Bytes (bi_iter.bi_size)."""
        return self.nr_pages * PAGE_SIZE

    @property
    def nr_sectors(self) -> int:
        return self.nr_pages * PAGE_SECTORS

    @property
    def op(self) -> int:
        return self.bi_opf & REQ_OP_MASK

    def __repr__(self):
        return (f"<bio {op_name(self.bi_opf)} sector {self.bi_sector} "
                f"+{self.nr_sectors} on {getattr(self.bi_bdev, 'name', None)}>")


def bio_endio(bio: Bio, actor, status: int = BLK_STS_OK) -> None:
    """bio_endio() (block/bio.c): record the status and call ``bi_end_io``
    once, from ``actor`` (whose context is where the callback runs)."""
    if bio.ended:
        raise RuntimeError(f"{bio!r} completed twice")
    bio.ended += 1
    bio.bi_status = status
    bio.end_ns = actor.engine.now
    bio.end_context = actor.context
    if bio.bi_end_io is not None:
        bio.bi_end_io(bio)
