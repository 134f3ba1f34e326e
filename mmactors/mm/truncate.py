"""Truncating a file's page cache: mm/truncate.c (Linux 6.12),
``truncate_inode_pages_range`` as ``truncate_inode_pages_final`` (unlink ->
iput -> evict) and truncate(2) reach it; ``truncate_setsize`` /
``truncate_pagecache`` (truncate(2) to a size: fs/open.py's do_truncate
calls them) with mm/memory.c's ``unmap_mapping_range``.

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

``truncate_pagecache(inode, newsize)``: ``unmap_mapping_range`` from the
first page wholly past the new EOF (``round_up(newsize, PAGE_SIZE)``),
``truncate_inode_pages`` from there, ``unmap_mapping_range`` again (a private
mapping may have COWed a page meanwhile).  ``unmap_mapping_range`` walks
``mapping->i_mmap`` under ``i_mmap_rwsem`` (read) and zaps each VMA's part
of the range (``zap_page_range_single``: lru_add_drain, the PTEs cleared
under each table's PTL, then the TLB flush and the gathered folios freed).
Simplifications: the partial folio at the new EOF stays cached and mapped
with its tail not zeroed (``truncate_inode_partial_folio``'s folio_zero_range:
pages carry no data here); ``pagecache_isize_extended`` (growing: write-protect
the folio straddling the old EOF so page_mkwrite sees the new size) is not
modelled.
"""
from __future__ import annotations

from .filemap_core import filemap_remove_folio
from .page_writeback import folio_cancel_dirty, folio_wait_writeback

__all__ = ["truncate_inode_pages_range", "truncate_inode_pages", "unmap_mapping_range",
           "truncate_pagecache", "truncate_setsize"]

PAGEVEC_SIZE = 31
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


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


async def unmap_mapping_range(sub, mapping, holebegin: int, holelen: int, me) -> int:
    """unmap_mapping_range(mapping, holebegin, holelen, even_cows = 1)
    (mm/memory.c): zap the PTEs of every VMA that maps file pages
    [holebegin, holebegin + holelen) (holelen 0: to the end of the file),
    private COW copies included (even_cows; truncate's case, the only caller
    here).  Returns the PTEs cleared."""
    mem = sub.memory
    first = holebegin >> PAGE_SHIFT                            # unmap_mapping_pages
    last = first + ((holelen + PAGE_SIZE - 1) >> PAGE_SHIFT) - 1 if holelen else 1 << 62
    await mapping.i_mmap_rwsem.down_read("unmap_mapping_pages")    # i_mmap_lock_read
    cleared = 0
    for vma in list(mapping.i_mmap):                          # unmap_mapping_range_tree
        vba = vma.vm_pgoff
        vea = vba + ((vma.vm_end - vma.vm_start) >> PAGE_SHIFT) - 1
        zba, zea = max(first, vba), min(last, vea)
        if zba > zea:
            continue                                          # outside the interval
        start = ((zba - vba) << PAGE_SHIFT) + vma.vm_start
        end = ((zea - vba + 1) << PAGE_SHIFT) + vma.vm_start
        mm = vma.vm_mm
        # zap_page_range_single: lru_add_drain, tlb_gather_mmu, unmap_single_vma,
        # tlb_finish_mmu (flush the TLB if PTEs went, free the gathered folios)
        await sub.lru.lru_add_drain(me)
        gather: list[int] = []
        n = await mem.zap_range(mm, vma, start, end, gather, me)
        if n:
            await mem.flush_tlb_mm_range(mm, start, end, False, me)
        if gather:
            await mem.free_pages_and_swap_cache(gather, me)
        cleared += n
    mapping.i_mmap_rwsem.up_read("unmap_mapping_pages")
    return cleared


async def truncate_pagecache(sub, inode, newsize: int, me) -> None:
    """truncate_pagecache: unmap and drop the cache past ``newsize`` (the new
    i_size, already written).  The folio holding byte ``newsize - 1`` is
    kept (truncate_inode_pages rounds ``lstart`` up to a page)."""
    mapping = inode.i_mapping
    holebegin = (newsize + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)     # round_up
    await unmap_mapping_range(sub, mapping, holebegin, 0, me)
    await truncate_inode_pages_range(sub, mapping, holebegin >> PAGE_SHIFT, 1 << 62, me)
    await unmap_mapping_range(sub, mapping, holebegin, 0, me)


async def truncate_setsize(sub, inode, newsize: int, me) -> None:
    """truncate_setsize: i_size_write, then truncate_pagecache.  The caller
    holds i_rwsem (write) and the mapping's invalidate_lock (write), as a
    filesystem's ->setattr does (ext2_setsize)."""
    inode.i_size = newsize                                    # i_size_write
    await truncate_pagecache(sub, inode, newsize, me)
