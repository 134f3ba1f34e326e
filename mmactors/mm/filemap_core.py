"""The page cache's insertion, removal and folio waits: the core of
mm/filemap.c (Linux 6.12) that mm/readahead.py and the read/write paths
(mm/filemap_io.py) share.  Split from filemap.py (the structures and page
flags) because these call into the LRU and mm/workingset.c, which import
filemap.py's flags: one kernel file, three modules, no import cycle.

* :func:`filemap_add_folio`: ``__folio_set_locked``, the cache's reference
  (``folio_ref_add``), ``xas_lock_irq`` (``xa_lock``, class
  ``&xa->xa_lock``, taken with IRQs off), ``-EEXIST`` if a folio is already
  there, else store it (taking over a shadow entry), ``nrpages`` and
  NR_FILE_PAGES up; after the unlock ``workingset_refault`` if a shadow was
  there (and the allocation is not ``__GFP_WRITE``), and ``folio_add_lru``:
  a page-cache folio of a regular file is not swap-backed, so it joins the
  *file* LRU.
* :func:`__filemap_remove_folio` (caller holds ``xa_lock``): the slot takes
  the shadow (or is erased), tags cleared, ``nrpages`` and NR_FILE_PAGES
  down (``filemap_unaccount_folio``: NR_SHMEM too for a swap-backed, i.e.
  tmpfs, folio), ``folio->mapping`` cleared.  tmpfs folios enter the cache
  through mm/shmem.py's ``shmem_add_to_page_cache``, which counts both.
* :func:`folio_wait_locked` (``folio_wait_bit(PG_locked)``), where readers
  wait for read I/O to end.  Simplification: the kernel's shared (non
  exclusive) wait is modelled as a lock hand-off followed at once by an
  unlock, so several waiters of one folio wake one after another (each a
  ``wakeup_ns`` later), not together.
"""
from __future__ import annotations

from .filemap import PG_locked, PG_swapbacked, PG_uptodate
from .gfp import __GFP_NORETRY, __GFP_NOWARN, __GFP_WRITE, GFP_HIGHUSER_MOVABLE
from .vmstat import NODE_STAT_ITEMS
from .workingset import workingset_refault

__all__ = ["filemap_add_folio", "filemap_alloc_folio", "__filemap_remove_folio",
           "filemap_remove_folio", "folio_wait_locked", "readahead_gfp_mask",
           "mapping_gfp_mask", "lruvec_stat_mod_folio", "filemap_unaccount_folio", "EEXIST",
           "ENOMEM", "EIO", "NR_FILE_PAGES", "NR_SHMEM"]

EEXIST = 17
ENOMEM = 12
EIO = 5
NR_FILE_PAGES = NODE_STAT_ITEMS.index("nr_file_pages")
NR_SHMEM = NODE_STAT_ITEMS.index("nr_shmem")


def mapping_gfp_mask(mapping) -> int:
    """mapping_gfp_mask: inode_init_always sets GFP_HIGHUSER_MOVABLE."""
    return GFP_HIGHUSER_MOVABLE


def readahead_gfp_mask(mapping) -> int:
    """readahead_gfp_mask: readahead gives up rather than reclaim hard."""
    return mapping_gfp_mask(mapping) | __GFP_NORETRY | __GFP_NOWARN


async def filemap_alloc_folio(sub, gfp: int) -> int:
    """filemap_alloc_folio (order 0): a pfn, or -1."""
    return await sub.pa.alloc_pages(gfp, 0)


def lruvec_stat_mod_folio(sub, pfn: int, item: int, delta: int, me):
    """__lruvec_stat_mod_folio: the folio's node counter (no memcg here)."""
    sub.vmstat.mod_node_page_state(sub.pa.nodes[sub.pa.pfn_node(pfn)], item, delta, me)


def filemap_unaccount_folio(sub, pfn: int, me) -> None:
    """filemap_unaccount_folio's counters (order 0): NR_FILE_PAGES, and
    NR_SHMEM for a swap-backed (tmpfs) folio."""
    lruvec_stat_mod_folio(sub, pfn, NR_FILE_PAGES, -1, me)
    if sub.mem_map.f[pfn] & PG_swapbacked:
        lruvec_stat_mod_folio(sub, pfn, NR_SHMEM, -1, me)


async def filemap_add_folio(sub, mapping, pfn: int, index: int, gfp: int, me) -> int:
    """filemap_add_folio: 0 with the folio locked in the cache (and on its
    way to the file LRU), or -EEXIST (the caller puts its reference)."""
    f = sub.mem_map.f
    locks = sub.folio_locks
    assert not f[pfn] & PG_swapbacked, f"filemap_add_folio: folio {pfn:#x} swap-backed"
    locks.folio_trylock(pfn, me)                      # __folio_set_locked
    sub.mem_map.ref[pfn] += 1                         # folio_ref_add: the cache's reference
    xa = mapping.xa_lock
    await xa.lock_irq("__filemap_add_folio")
    if index in mapping.i_pages:                      # xas_for_each_conflict: a folio
        xa.unlock_irq("__filemap_add_folio")
        sub.mem_map.ref[pfn] -= 1
        locks.folio_unlock(pfn, me)                   # __folio_clear_locked
        return -EEXIST
    shadow = mapping.shadows.pop(index, None)
    mapping.i_pages[index] = pfn
    mapping.nrpages += 1
    sub.rmap.mapping[pfn] = (mapping, index)          # folio->mapping, folio->index
    lruvec_stat_mod_folio(sub, pfn, NR_FILE_PAGES, 1, me)
    await sub.engine.spend(mapping.line.write(me.cpu))
    xa.unlock_irq("__filemap_add_folio")
    if shadow is not None and not gfp & __GFP_WRITE:
        workingset_refault(sub, pfn, shadow, me)
    await sub.lru.folio_add_lru(pfn, True, me)
    return 0


def __filemap_remove_folio(sub, mapping, pfn: int, shadow, me) -> None:
    """__filemap_remove_folio -> page_cache_delete (xa_lock held): the slot
    keeps ``shadow`` (None: erased), marks cleared, counters down."""
    index = sub.rmap.mapping[pfn][1]
    del mapping.i_pages[index]
    if shadow is not None:
        mapping.shadows[index] = shadow
    for tag in mapping.tags:
        tag.discard(index)
    mapping.nrpages -= 1
    sub.rmap.mapping.pop(pfn, None)                   # folio->mapping = NULL
    filemap_unaccount_folio(sub, pfn, me)


async def filemap_remove_folio(sub, mapping, pfn: int, me) -> None:
    """filemap_remove_folio (truncation): remove under xa_lock, no shadow,
    then drop the cache's reference (filemap_free_folio)."""
    await mapping.xa_lock.lock_irq("filemap_remove_folio")
    __filemap_remove_folio(sub, mapping, pfn, None, me)
    await sub.engine.spend(mapping.line.write(me.cpu))
    mapping.xa_lock.unlock_irq("filemap_remove_folio")
    await sub.lru.folios_put_refs([(pfn, 1)], me)


async def folio_wait_locked(sub, pfn: int, me) -> None:
    """folio_wait_locked: sleep until PG_locked is clear (read I/O ends)."""
    locks = sub.folio_locks
    if not sub.mem_map.f[pfn] & PG_locked:
        return
    await locks.folio_lock(pfn, me)
    locks.folio_unlock(pfn, me)


def folio_test_uptodate(sub, pfn: int) -> bool:
    return bool(sub.mem_map.f[pfn] & PG_uptodate)
