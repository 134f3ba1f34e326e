"""Reading a disk file's folios: fs/mpage.c (Linux 6.12), the
``->readahead`` and ``->read_folio`` of block-mapped filesystems (ext2's
``ext2_readahead`` / ``ext2_read_folio`` call ``mpage_readahead`` /
``mpage_read_folio``).

``mpage_readahead(rac, me)``: the folios of the readahead batch are in the
page cache, locked and !uptodate (mm/readahead.py added them); each is
mapped with ``bmap`` and consecutive blocks go into one bio
(``do_mpage_readpage`` keeps adding to the bio while the next block follows
the last), submitted as ``REQ_OP_READ | REQ_RAHEAD``.  ``mpage_read_folio``
reads one folio with a plain REQ_OP_READ.  The caller holds a block plug
(``read_pages``), so the bios reach the device at ``blk_finish_plug``.

``mpage_read_end_io`` (softirq on the submitting CPU, or inline on zram):
``folio_end_read`` for every folio of the bio: PG_uptodate set on success,
then the folio lock released and its waiters woken.  The kernel's PG_locked
has no owner; the model's lock-owner map hands it to the completing context.

``pgpgin`` is counted in KiB per bio at submission, as block/blk-core.c's
``submit_bio`` counts it (``count_vm_events(PGPGIN, bio_sectors(bio))``
shows sectors / 2 in /proc/vmstat).  Simplifications: a bio is at most
BIO_MAX_VECS = 256 pages; no holes (every block of a file is allocated), no
buffer_heads.
"""
from __future__ import annotations

from ..block import REQ_OP_READ, REQ_RAHEAD, Bio, submit_bio
from ..mm.filemap import PG_locked, PG_uptodate

__all__ = ["mpage_readahead", "mpage_read_folio", "BIO_MAX_VECS"]

BIO_MAX_VECS = 256
KIB_PER_PAGE = 4


def mpage_read_end_io(bio: Bio):
    """mpage_read_end_io -> folio_end_read for each folio of the bio."""
    sub, pfns = bio.bi_private
    eng = sub.engine
    me = eng.current
    f = sub.mem_map.f
    locks = sub.folio_locks
    ok = not bio.bi_status
    for pfn in pfns:
        if ok:
            f[pfn] |= PG_uptodate
        locks.locker[pfn] = me                    # PG_locked has no owner
        locks.folio_unlock(pfn, me)


async def _submit(sub, inode, opf: int, run: list, me):
    """One bio over the (index, pfn) run, consecutive on disk."""
    bio = Bio(opf, inode.bmap(run[0][0]), len(run), bi_end_io=mpage_read_end_io,
              bi_private=(sub, [pfn for _, pfn in run]))
    sub.vmstat.count_event(me.cpu, "pgpgin", KIB_PER_PAGE * len(run))
    pop = sub.folio_locks.locker.pop
    for _, pfn in run:
        pop(pfn, None)                            # the lock now belongs to the I/O
    await submit_bio(inode.i_sb.s_bdev, bio)


async def mpage_readahead(sub, rac, me):
    """mpage_readahead: bios over the readahead batch's locked folios."""
    inode = rac.mapping.host
    f = sub.mem_map.f
    run: list = []
    for index, pfn in rac.folios:
        assert f[pfn] & PG_locked and not f[pfn] & PG_uptodate, \
            f"mpage_readahead: folio {pfn:#x} unlocked or uptodate"
        if run and (index != run[-1][0] + 1 or len(run) >= BIO_MAX_VECS):
            await _submit(sub, inode, REQ_OP_READ | REQ_RAHEAD, run, me)
            run = []
        run.append((index, pfn))
    if run:
        await _submit(sub, inode, REQ_OP_READ | REQ_RAHEAD, run, me)


async def mpage_read_folio(sub, mapping, index: int, pfn: int, me):
    """mpage_read_folio: read one locked, !uptodate folio; returns 0 (the
    completion unlocks it)."""
    f = sub.mem_map.f
    assert f[pfn] & PG_locked and not f[pfn] & PG_uptodate, \
        f"mpage_read_folio: folio {pfn:#x} unlocked or uptodate"
    await _submit(sub, mapping.host, REQ_OP_READ, [(index, pfn)], me)
    return 0
