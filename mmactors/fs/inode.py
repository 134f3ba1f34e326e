"""struct inode and struct file of a disk-backed regular file (fs/inode.c,
include/linux/fs.h, Linux 6.12).

* :class:`Inode`: ``i_ino``, ``i_size`` (bytes), ``i_rwsem`` (an
  rw_semaphore of lock class ``&sb->s_type->i_mutex_key``: the kernel's
  inode_init_always gives i_rwsem its filesystem type's key), ``i_lock``
  (class ``&sb->s_type->i_lock_key``: guards ``i_state``), ``i_mapping`` (its
  :class:`~mmactors.mm.filemap.AddressSpace`, ``host`` pointing back here,
  with the ``invalidate_lock``, class ``mapping.invalidate_lock``, that
  readahead and truncate take),
  ``i_sb`` (:class:`~mmactors.fs.super.SuperBlock`), and the writeback
  fields fs/fs-writeback.c keeps: ``i_state`` (I_DIRTY_* bits),
  ``dirtied_when``, ``dirtied_time_when``, ``i_io_list`` (which of the
  bdi_writeback lists holds the inode, None when clean) and ``i_wb``.
* ``bmap(index)``: the block mapping.  The filesystem allocates each file
  one contiguous extent at creation (fs/super.py); page ``index`` of the
  file is at sector ``i_start + index * 8``.  Simplification: no indirect
  blocks or extent trees, so no metadata reads.
* :class:`File` (``struct file``): ``f_inode``, ``f_mapping``, ``f_pos``,
  ``f_flags`` (O_DIRECT) and ``f_ra`` (mm/readahead.py's file_ra_state,
  initialised from the bdi's ``ra_pages`` by ``file_ra_state_init`` as
  ``do_dentry_open`` does).
"""
from __future__ import annotations

from ..mm.filemap import AddressSpace
from ..mm.readahead import FileRaState, file_ra_state_init
from ..sync import RWSemaphore, SpinLock

__all__ = ["Inode", "File", "O_DIRECT", "O_SYNC", "I_DIRTY_SYNC", "I_DIRTY_DATASYNC",
           "I_DIRTY_PAGES", "I_DIRTY_INODE", "I_DIRTY", "I_SYNC", "I_DIRTY_TIME",
           "PAGE_SIZE", "PAGE_SHIFT", "PAGE_SECTORS"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_SECTORS = PAGE_SIZE >> 9

# include/uapi/asm-generic/fcntl.h (x86-64)
O_DIRECT = 0o40000
O_SYNC = 0o4010000

# include/linux/fs.h, i_state bits (6.12 numbering)
I_DIRTY_SYNC = 1 << 0
I_DIRTY_DATASYNC = 1 << 1
I_DIRTY_PAGES = 1 << 2
I_SYNC = 1 << 7
I_DIRTY_TIME = 1 << 11
I_DIRTY_INODE = I_DIRTY_SYNC | I_DIRTY_DATASYNC
I_DIRTY = I_DIRTY_INODE | I_DIRTY_PAGES


class Inode:
    """struct inode of a regular file on a disk filesystem."""

    def __init__(self, sb, ino: int, size: int, start_sector: int, a_ops=None):
        eng = sb.engine
        self.i_sb = sb
        self.i_ino = ino
        self.i_size = size
        self.i_start = start_sector                  # the file's extent on sb.s_bdev
        self.i_rwsem = RWSemaphore(eng, "&sb->s_type->i_mutex_key")
        self.i_lock = SpinLock(eng, "&sb->s_type->i_lock_key")   # inode_init_always: lockdep_set_class
        self.i_mapping = AddressSpace(eng, ino, f"{sb.s_id}:{ino}", host=self, a_ops=a_ops)
        # mapping->invalidate_lock (inode_init_always: class "mapping.invalidate_lock")
        self.i_mapping.invalidate_lock = RWSemaphore(eng, "mapping.invalidate_lock")
        # fs/fs-writeback.c's fields (maintained by __mark_inode_dirty and the flusher)
        self.i_state = 0
        self.dirtied_when = 0
        self.dirtied_time_when = 0
        self.i_io_list = None
        self.i_wb = None
        # Simplification: mmap faults use one file_ra_state per inode (the
        # kernel's is vma->vm_file->f_ra, one per open file).
        self.i_mmap_ra = FileRaState()
        file_ra_state_init(self.i_mmap_ra, self.i_mapping)

    async def get_folio(self, index: int, me) -> int:
        """vm_ops->fault = filemap_fault (mm/memory.py's file faults call
        this): a locked, uptodate folio with a reference, or -1."""
        from ..mm.filemap_io import filemap_fault
        sub = self.i_sb.machine.subsystems["addrspace"]
        return await filemap_fault(sub, self.i_mapping, self.i_mmap_ra, index, me)

    @property
    def mapping(self) -> AddressSpace:
        """The name mm/memory.py's file faults use for ``vma->vm_file->f_mapping``."""
        return self.i_mapping

    def bmap(self, index: int) -> int:
        """bmap(): the device sector holding page ``index`` of the file."""
        return self.i_start + index * PAGE_SECTORS

    def nr_pages(self) -> int:
        """Pages spanned by i_size (the last one partial)."""
        return -(-self.i_size // PAGE_SIZE)

    def __repr__(self):
        return f"<inode {self.i_sb.s_id}:{self.i_ino} size {self.i_size}>"


class File:
    """struct file: an open file description."""

    __slots__ = ("f_inode", "f_mapping", "f_pos", "f_flags", "f_ra")

    def __init__(self, inode: Inode, flags: int = 0):
        self.f_inode = inode
        self.f_mapping = inode.i_mapping
        self.f_pos = 0
        self.f_flags = flags
        self.f_ra = FileRaState()
        file_ra_state_init(self.f_ra, self.f_mapping)

    def __repr__(self):
        return f"<file {self.f_inode!r} pos {self.f_pos}>"
