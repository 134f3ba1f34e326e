"""O_DIRECT I/O: fs/direct-io.c's ``__blockdev_direct_IO`` as the psync
path reaches it (Linux 6.12), reduced to one aligned extent.

Before the bio, ``kiocb_write_and_wait`` (reads) / ``kiocb_invalidate_pages``
(writes) make the page cache agree with the disk for the range: dirty
cached pages are written back and waited for (mm/page_writeback.py's
``filemap_write_and_wait_range`` once it exists; a read of a range with no
dirty page skips it).  Then one bio of the request at the file's block,
``REQ_SYNC`` (and ``REQ_FUA``-free: no O_DSYNC), and the task sleeps until
it ends (``dio_await_completion``).  The page cache is not touched.
Simplifications: the request is whole pages inside one extent (no
``dio_zero_block`` or sub-block I/O); no invalidation of clean cached pages
over a written range (the cached copies could go stale; the workload never
mixes buffered and direct I/O on one file).
"""
from __future__ import annotations

from ..block import REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC, Bio, submit_bio_wait

__all__ = ["blockdev_direct_IO"]

PAGE_SHIFT = 12
KIB_PER_PAGE = 4


async def blockdev_direct_IO(sub, file, pos: int, count: int, write: bool, me) -> int:
    """The bytes transferred, or a negative errno."""
    inode = file.f_inode
    if not write:
        if pos >= inode.i_size:
            return 0
        count = min(count, inode.i_size - pos)
    nr = (count + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    mapping = file.f_mapping
    index = pos >> PAGE_SHIFT
    if any(i in mapping.tags[0] for i in range(index, index + nr)):     # PAGECACHE_TAG_DIRTY
        from ..mm.page_writeback import filemap_write_and_wait_range
        await filemap_write_and_wait_range(sub, mapping, pos, pos + count - 1, me)
    op = (REQ_OP_WRITE if write else REQ_OP_READ) | REQ_SYNC
    bio = Bio(op, inode.bmap(index), nr)
    sub.vmstat.count_event(me.cpu, "pgpgout" if write else "pgpgin", KIB_PER_PAGE * nr)
    status = await submit_bio_wait(inode.i_sb.s_bdev, bio)
    if status:
        return -5                                     # -EIO
    if write and pos + count > inode.i_size:
        inode.i_size = pos + count
    return count
