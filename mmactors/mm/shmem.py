"""tmpfs files (mm/shmem.c, Linux 6.12): the backing store of will-it-scale's
temporary files (``mkstemp`` in /tmp, which LKP mounts as tmpfs).

``shmem_get_folio_gfp`` (order 0, ``huge=never``): look the index up without
a lock (``filemap_get_entry``); on a hit lock the folio; on a miss allocate a
folio (GFP_HIGHUSER_MOVABLE), lock it, set swapbacked, add it to the page
cache under ``xa_lock`` (``shmem_add_to_page_cache``: the cache holds one
reference), account it under ``info->lock``, put it on the LRU (swapbacked:
the *anon* LRU), clear it and mark it uptodate.  The folio is returned locked
with the caller's reference.  Simplification: the superblock's
``used_blocks`` percpu counter and quotas are not modelled.
"""
from __future__ import annotations

from ..sync import SpinLock
from .filemap import PG_swapbacked, PG_uptodate, AddressSpace

__all__ = ["ShmemInode"]


class ShmemInode:
    """A tmpfs inode: its address_space, ``shmem_inode_info->lock`` and size."""

    def __init__(self, mm_sub, ino: int, size_pages: int):
        eng = mm_sub.engine
        self.mm_sub = mm_sub
        self.ino = ino
        self.mapping = AddressSpace(eng, ino, f"shmem:{ino}")
        self.info_lock = SpinLock(eng, "&info->lock")
        self.alloced = 0
        self.size_pages = size_pages

    def __repr__(self):
        return f"<shmem inode {self.ino}: {self.mapping.nrpages} pages>"

    async def get_folio(self, index: int, me) -> int:
        """shmem_get_folio_gfp(SGP_CACHE): a locked folio with a reference, or -1 (OOM)."""
        sub = self.mm_sub
        eng = sub.engine
        mapping = self.mapping
        ref = sub.mem_map.ref
        while True:
            pfn = mapping.i_pages.get(index)           # filemap_get_entry: RCU load
            await eng.spend(mapping.line.read(me.cpu))
            if pfn is None:
                break
            ref[pfn] += 1                              # folio_try_get
            await sub.folio_locks.folio_lock(pfn, me)
            if mapping.i_pages.get(index) == pfn:      # folio->mapping recheck
                return pfn
            sub.folio_locks.folio_unlock(pfn, me)      # truncated meanwhile: retry
            await sub.lru.folios_put_refs([(pfn, 1)], me)
        # shmem_alloc_and_add_folio
        pfn = await sub.pa.alloc_pages(sub.GFP_HIGHUSER_MOVABLE, 0)  # shmem_alloc_folio
        if pfn < 0:
            return -1
        f = sub.mem_map.f
        sub.folio_locks.folio_trylock(pfn, me)         # __folio_set_locked
        f[pfn] |= PG_swapbacked
        ref[pfn] += 1                                  # the page cache's reference
        await mapping.xa_lock.lock("shmem_add_to_page_cache")
        if index in mapping.i_pages:                   # lost a race: another task added it
            mapping.xa_lock.unlock("shmem_add_to_page_cache")
            ref[pfn] -= 1
            sub.folio_locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return await self.get_folio(index, me)
        mapping.i_pages[index] = pfn
        mapping.nrpages += 1
        sub.rmap.mapping[pfn] = (mapping, index)
        await eng.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock("shmem_add_to_page_cache")
        await self.info_lock.lock("shmem_recalc_inode")
        self.alloced += 1
        self.info_lock.unlock("shmem_recalc_inode")
        await sub.lru.folio_add_lru(pfn, False, me)    # swapbacked: the anon LRU
        eng.charge(eng.costs.page_zero_ns)             # clear_highpage
        f[pfn] |= PG_uptodate
        return pfn

    async def truncate(self, me):
        """shmem_truncate_range over the whole file: drop the cache's references."""
        sub = self.mm_sub
        mapping = self.mapping
        pfns = []
        await mapping.xa_lock.lock("shmem_undo_range")
        for idx in sorted(mapping.i_pages):
            pfns.append(mapping.i_pages.pop(idx))
        mapping.nrpages = 0
        mapping.xa_lock.unlock("shmem_undo_range")
        self.alloced = 0
        if pfns:
            await sub.lru.release_pages(pfns, me)
