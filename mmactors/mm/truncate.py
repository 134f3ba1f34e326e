"""Truncating a file's page cache: mm/truncate.c (Linux 6.12),
``truncate_inode_pages_range`` as ``truncate_inode_pages_final`` (unlink ->
iput -> evict) and truncate(2) reach it.

For each cached folio of the range, in index order and in batches of
PAGEVEC_SIZE (``find_lock_entries`` / ``find_get_entries``): take a
reference, ``folio_lock`` (sleeping if need be), ``folio_wait_writeback``,
``truncate_cleanup_folio`` (unmap it if mapped, ``folio_cancel_dirty``: a
dirty folio leaves without being written, NR_FILE_DIRTY down),
``filemap_remove_folio`` under ``xa_lock`` (no shadow: the data is gone),
unlock, and drop the references (the cache's and ours); the range's shadow
entries are erased (``truncate_folio_batch_exceptionals``).
Simplifications: the kernel's two passes (trylock first, then the
sleeping one) are one sleeping pass; a mapped folio is unmapped with
rmap's try_to_unmap (the kernel's ``unmap_mapping_folio`` zaps the range
under the PTE lock, to the same end); partial pages at the range's edges
are not zeroed (ranges are whole pages here).
"""
from __future__ import annotations

from .filemap_core import filemap_remove_folio
from .page_writeback import folio_cancel_dirty, folio_wait_writeback

__all__ = ["truncate_inode_pages_range", "truncate_inode_pages"]

PAGEVEC_SIZE = 31


async def truncate_inode_pages_range(sub, mapping, start: int, end: int, me) -> int:
    """Remove the folios of pages [start, end) from the cache; the number removed."""
    from .rmap import try_to_unmap
    locks = sub.folio_locks
    ref = sub.mem_map.ref
    removed = 0
    for idx in [i for i in mapping.shadows if start <= i < end]:
        del mapping.shadows[idx]                      # truncate_folio_batch_exceptionals
    while True:
        batch = [(i, p) for i, p in sorted(mapping.i_pages.items()) if start <= i < end]
        if not batch:
            return removed
        for index, pfn in batch[:PAGEVEC_SIZE]:
            ref[pfn] += 1                             # find_get_entries: folio_try_get
            me.debt += sub.mem_map_line(pfn, me)
            await locks.folio_lock(pfn, me)
            if mapping.i_pages.get(index) != pfn:     # reclaimed or truncated meanwhile
                locks.folio_unlock(pfn, me)
                await sub.lru.folios_put_refs([(pfn, 1)], me)
                continue
            await folio_wait_writeback(sub, pfn, me)
            if sub.rmap.folio_mapped(pfn):            # truncate_cleanup_folio
                await try_to_unmap(sub, pfn, me, False)
            folio_cancel_dirty(sub, pfn, mapping, me)
            await filemap_remove_folio(sub, mapping, pfn, me)   # drops the cache's reference
            locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)      # folio_batch_release: ours
            removed += 1
        await sub.engine.sync()                       # cond_resched


async def truncate_inode_pages(sub, mapping, me) -> int:
    """truncate_inode_pages(mapping, 0): the whole file."""
    return await truncate_inode_pages_range(sub, mapping, 0, 1 << 62, me)
