"""truncate(2) to a size: fs/open.c (Linux 6.12) ``do_truncate`` and the
filesystem's ``->setattr`` for ATTR_SIZE, shaped as fs/ext2/inode.c's
``ext2_setsize``.

``do_truncate(sub, inode, length, me)``: -EINVAL for a negative length;
``inode_lock`` (i_rwsem, write); ``notify_change`` -> ``->setattr``: when the
size changes, ``filemap_invalidate_lock`` (the mapping's invalidate_lock,
write: no fault or readahead adds folios meanwhile), ``truncate_setsize``
(mm/truncate.py: i_size_write, unmap the range past EOF from every mapping,
drop its folios, dirty ones unwritten), unlock both.  Reads past the new EOF
return 0 bytes (filemap_read stops at i_size) and a fault there fails
(filemap_fault's i_size check).
Simplifications: the syscall's permission, lease and s_maxbytes checks
(inode_newsize_ok: -EFBIG) are not modelled; the filesystem frees no blocks
(``__ext2_truncate_blocks``: fs/super.py never frees sectors), so a file
grown back reads its old blocks from the disk rather than a hole's zeroes;
``block_truncate_page`` (zeroing the tail of the block at the new EOF) and the
mtime/ctime update and ``mark_inode_dirty`` are not modelled.
"""
from __future__ import annotations

from ..mm.truncate import truncate_setsize

__all__ = ["do_truncate", "EINVAL"]

EINVAL = 22


async def do_truncate(sub, inode, length: int, me) -> int:
    """do_truncate: 0, or -EINVAL for a negative ``length``."""
    if length < 0:
        return -EINVAL
    eng = sub.engine
    eng.charge(eng.costs.syscall_ns)
    await inode.i_rwsem.down_write("do_truncate")             # inode_lock
    if length != inode.i_size:                               # ext2_setattr: ATTR_SIZE
        mapping = inode.i_mapping
        await mapping.invalidate_lock.down_write("ext2_setsize")   # filemap_invalidate_lock
        await truncate_setsize(sub, inode, length, me)
        mapping.invalidate_lock.up_write("ext2_setsize")
    inode.i_rwsem.up_write("do_truncate")
    return 0
