"""tmpfs files (mm/shmem.c, Linux 6.12): the backing store of will-it-scale's
temporary files (``mkstemp`` in /tmp, which LKP mounts as tmpfs) and of
MAP_SHARED|MAP_ANONYMOUS mappings (``shmem_zero_setup``).

``shmem_get_folio_gfp`` (order 0, ``huge=never``): look the index up without
a lock (``filemap_get_entry``); on a hit lock the folio; on a miss allocate a
folio (GFP_HIGHUSER_MOVABLE), lock it, set swapbacked, add it to the page
cache under ``xa_lock`` (``shmem_add_to_page_cache``: the cache holds one
reference, NR_FILE_PAGES and NR_SHMEM count it), account it under
``info->lock``, put it on the LRU (swapbacked: the *anon* LRU), clear it and
mark it uptodate.  The folio is returned locked with the caller's reference.

Swap (``shmem_writepage``, ``shmem_swapin_folio``): reclaim writes a dirty,
unmapped tmpfs folio to swap through the page cache's ``->writepage``: a slot
from ``folio_alloc_swap``, the folio into the swap cache, ``info->swapped``
raised, the slot marked ``SWAP_MAP_SHMEM`` (``swap_shmem_alloc``: one owner,
the file), and the page-cache slot replaced by the swap entry
(``shmem_delete_from_page_cache``: NR_FILE_PAGES and NR_SHMEM down), all
under ``shmem_swaplist_mutex``; then ``swap_writepage``.  A lookup that
finds the swap entry swaps the folio in (``swap_cache_get_folio``, or on a
miss ``shmem_swapin_cluster``'s cluster readahead: a major fault, so a fault
(shmem_fault's ``fault_type``) gets VM_FAULT_MAJOR and PGMAJFAULT is counted
here, once; mm/memory.c's mm_account_fault counts only PGFAULT), locks it,
confirms the entry is still in the slot, waits for writeback, puts the
folio back in the page cache in the entry's place (NR_FILE_PAGES and
NR_SHMEM up), lowers ``info->swapped``, deletes it from the swap cache,
marks it dirty and frees the slot (``swap_free_nr``).  A clean tmpfs folio
(never written: its contents are zeroes) is simply dropped by
``__remove_mapping`` (no shadow: it is not on the file LRU), as in the
kernel; it and truncation leave the counters through mm/filemap.c's
``filemap_unaccount_folio`` (swap-backed: NR_SHMEM too).  Migration moves
no counter: the only migration here is compaction's, within a zone, and
``__folio_migrate_mapping`` moves NR_FILE_PAGES/NR_SHMEM only when the zone
changes.

Simplifications: the superblock's ``used_blocks`` percpu counter, quotas,
``shmem_swaplist`` itself (only swapoff's ``shmem_unuse`` walks it; no
swapoff here) are not modelled; no huge tmpfs folios (huge=never), so
NR_SHMEM_THPS (``nr_shmem_hugepages``) stays 0; the kernel keeps swap
entries in ``i_pages`` as value entries, this model in ``swap_entries``
beside it (as ``AddressSpace.shadows``), so that every ``i_pages`` lookup
stays a pfn lookup.  A tmpfs folio on its way to or from swap is, while in
the swap cache, in NR_FILE_PAGES (the swap cache's, ``add_to_swap_cache``
in mm/swap_state.py) and not in NR_SHMEM, as in the kernel.
"""
from __future__ import annotations

from ..sync import Mutex, SpinLock
from .filemap import PG_dirty, PG_swapbacked, PG_swapcache, PG_uptodate, \
    PG_writeback, AddressSpace
from .filemap_core import NR_FILE_PAGES, NR_SHMEM, lruvec_stat_mod_folio
from .filemap_core import __filemap_remove_folio as _filemap_remove_folio_locked
from .memory import VM_FAULT_MAJOR

__all__ = ["ShmemInode", "AOP_WRITEPAGE_ACTIVATE"]

AOP_WRITEPAGE_ACTIVATE = 0x80000        # include/linux/fs.h
EEXIST = 17


def _account_shmem_folio(sub, pfn: int, nr: int, me) -> None:
    """The page-cache counters of shmem_add_to_page_cache (nr = 1) and
    shmem_delete_from_page_cache (nr = -1), under xa_lock: NR_FILE_PAGES and
    NR_SHMEM.  Order 0 only (huge=never), so never NR_SHMEM_THPS."""
    lruvec_stat_mod_folio(sub, pfn, NR_FILE_PAGES, nr, me)
    lruvec_stat_mod_folio(sub, pfn, NR_SHMEM, nr, me)


def _swaplist_mutex(sub) -> Mutex:
    """shmem_swaplist_mutex (mm/shmem.c: one for the whole system)."""
    m = getattr(sub, "_shmem_swaplist_mutex", None)
    if m is None:
        m = sub._shmem_swaplist_mutex = Mutex(sub.engine, "shmem_swaplist_mutex")
    return m


class ShmemInode:
    """A tmpfs inode: its address_space, ``shmem_inode_info->lock`` and size."""

    def __init__(self, mm_sub, ino: int, size_pages: int):
        eng = mm_sub.engine
        self.mm_sub = mm_sub
        self.ino = ino
        self.mapping = AddressSpace(eng, ino, f"shmem:{ino}")
        self.mapping.shmem = self                      # a_ops = shmem_aops
        self.info_lock = SpinLock(eng, "&info->lock")
        self.alloced = 0                               # info->alloced
        self.swapped = 0                               # info->swapped
        self.swap_entries: dict[int, int] = {}         # index -> swap entry (xa_value in i_pages)
        self.size_pages = size_pages
        # shmem_zero_setup's file (MAP_SHARED|MAP_ANONYMOUS): only its mappings
        # hold it, so it is evicted when the last one goes (evict_if_unused);
        # other tmpfs files here stand for files a descriptor keeps open.
        self.zero_setup = False
        self.evicted = False

    def __repr__(self):
        return (f"<shmem inode {self.ino}: {self.mapping.nrpages} pages, "
                f"{self.swapped} swapped>")

    async def shmem_recalc_inode(self, alloced: int, swapped: int):
        """shmem_recalc_inode under info->lock: pages neither cached nor
        swapped any more (reclaimed clean, or truncated) leave ``alloced``."""
        await self.info_lock.lock("shmem_recalc_inode")
        self.alloced += alloced
        self.swapped += swapped
        freed = self.alloced - self.swapped - self.mapping.nrpages
        if swapped > 0:             # shmem_writepage raises swapped before nrpages drops
            freed += swapped
        if freed > 0:
            self.alloced -= freed
        self.info_lock.unlock("shmem_recalc_inode")

    async def get_folio(self, index: int, me, vmf=None) -> int:
        """shmem_get_folio_gfp(SGP_CACHE): a locked folio with a reference, or
        -1 (OOM).  ``vmf`` is shmem_fault's (its ``fault_type`` the kernel's
        ``*fault_type``): a swap-in from the device ORs in VM_FAULT_MAJOR."""
        sub = self.mm_sub
        eng = sub.engine
        mapping = self.mapping
        ref = sub.mem_map.ref
        while True:
            pfn = mapping.i_pages.get(index)           # filemap_get_entry: RCU load
            await eng.spend(mapping.line.read(me.cpu))
            if pfn is None:
                entry = self.swap_entries.get(index)
                if entry is None:
                    break
                pfn = await self.shmem_swapin_folio(index, entry, me, vmf)
                if pfn == -EEXIST:
                    continue                           # the slot changed: repeat
                return pfn
            ref[pfn] += 1                              # folio_try_get
            await sub.folio_locks.folio_lock(pfn, me)
            if mapping.i_pages.get(index) == pfn:      # folio->mapping recheck
                return pfn
            sub.folio_locks.folio_unlock(pfn, me)      # truncated or swapped meanwhile: retry
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
        if index in mapping.i_pages or index in self.swap_entries:
            # lost a race: another task added it (or it went to swap meanwhile)
            mapping.xa_lock.unlock("shmem_add_to_page_cache")
            ref[pfn] -= 1
            sub.folio_locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return await self.get_folio(index, me, vmf)
        mapping.i_pages[index] = pfn
        mapping.nrpages += 1
        sub.rmap.mapping[pfn] = (mapping, index)
        _account_shmem_folio(sub, pfn, 1, me)
        await eng.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock("shmem_add_to_page_cache")
        await self.shmem_recalc_inode(1, 0)
        await sub.lru.folio_add_lru(pfn, False, me)    # swapbacked: the anon LRU
        eng.charge(eng.costs.page_zero_ns)             # clear_highpage
        f[pfn] |= PG_uptodate
        return pfn

    # ------------------------------------------------------------------ swap
    async def writepage(self, pfn: int, me) -> int:
        """shmem_writepage (wbc->for_reclaim): 0 when the folio went to swap
        (swap_writepage unlocked it), AOP_WRITEPAGE_ACTIVATE (still locked,
        redirtied) when no slot could be had."""
        sub = self.mm_sub
        eng = sub.engine
        f = sub.mem_map.f
        sc_ = sub.swap_cache
        if sc_ is None or not sc_.swap.has_usable_swap():   # !total_swap_pages
            f[pfn] |= PG_dirty                             # redirty
            return AOP_WRITEPAGE_ACTIVATE
        f[pfn] |= PG_uptodate            # a tmpfs folio is uptodate once added (no fallocate)
        entry = await sc_.swap.folio_alloc_swap()
        if not entry:
            f[pfn] |= PG_dirty
            return AOP_WRITEPAGE_ACTIVATE
        mapping = self.mapping
        index = sub.rmap.mapping[pfn][1]
        mutex = _swaplist_mutex(sub)
        await mutex.lock("shmem_writepage")
        await sc_.add_to_swap_cache(pfn, entry, me)        # this model's never fails
        await self.shmem_recalc_inode(0, 1)
        await sc_.swap.swap_shmem_alloc(entry)
        # shmem_delete_from_page_cache: the swap entry takes the folio's slot
        await mapping.xa_lock.lock_irq("shmem_delete_from_page_cache")
        assert mapping.i_pages.get(index) == pfn, \
            f"shmem_writepage: {self.mapping.name}[{index}] does not hold {pfn:#x}"
        del mapping.i_pages[index]
        self.swap_entries[index] = entry
        sub.rmap.mapping.pop(pfn)                          # folio->mapping = NULL
        mapping.nrpages -= 1
        _account_shmem_folio(sub, pfn, -1, me)
        await eng.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock_irq("shmem_delete_from_page_cache")
        sub.mem_map.ref[pfn] -= 1                          # folio_put_refs: the cache's
        mutex.unlock("shmem_writepage")
        assert not sub.rmap.folio_mapped(pfn), f"shmem_writepage: {pfn:#x} still mapped"
        from .page_io import swap_writepage
        return await swap_writepage(sub, pfn, me)

    async def shmem_swapin_folio(self, index: int, entry: int, me, vmf=None) -> int:
        """shmem_swapin_folio: the folio back in the page cache, locked with
        the caller's reference; -EEXIST when the slot changed meanwhile (the
        caller repeats its lookup), -1 when no memory is left.  A swap-cache
        miss is a major fault when a fault asked (``vmf``, shmem_fault's
        ``fault_type``): VM_FAULT_MAJOR and PGMAJFAULT, counted here, before
        the read, as the kernel does (so also when the read then fails)."""
        sub = self.mm_sub
        eng = sub.engine
        sc_ = sub.swap_cache
        locks = sub.folio_locks
        f = sub.mem_map.f
        pfn = sc_.swap_cache_get_folio(entry, None, 0, me)
        if pfn < 0:
            if vmf is not None:                            # if (fault_type)
                vmf.fault_type |= VM_FAULT_MAJOR
                vs = sub.vmstat                            # count_vm_event(PGMAJFAULT)
                vs.count_vm_events(me.cpu, vs.ev["pgmajfault"])
            pfn = await sc_.swap_cluster_readahead(entry, me)   # shmem_swapin_cluster
            if pfn < 0:
                return -EEXIST if self.swap_entries.get(index) != entry else -1
        await locks.folio_lock(pfn, me)
        if not f[pfn] & PG_swapcache or sc_.folio_swap.get(pfn) != entry \
                or self.swap_entries.get(index) != entry:  # shmem_confirm_swap
            locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return -EEXIST
        assert f[pfn] & PG_uptodate, f"shmem_swapin_folio: {pfn:#x} not uptodate (no I/O errors)"
        if f[pfn] & PG_writeback:
            from .page_io import folio_wait_writeback
            await folio_wait_writeback(sub, pfn, me)
        # shmem_add_to_page_cache(folio, mapping, index, expected=swap)
        mapping = self.mapping
        await mapping.xa_lock.lock_irq("shmem_add_to_page_cache")
        if self.swap_entries.get(index) != entry:          # xas_find_conflict
            mapping.xa_lock.unlock_irq("shmem_add_to_page_cache")
            locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return -EEXIST
        sub.mem_map.ref[pfn] += 1                          # folio_ref_add: the cache's
        del self.swap_entries[index]
        mapping.i_pages[index] = pfn
        mapping.nrpages += 1
        sub.rmap.mapping[pfn] = (mapping, index)
        _account_shmem_folio(sub, pfn, 1, me)
        await eng.spend(mapping.line.write(me.cpu))
        mapping.xa_lock.unlock_irq("shmem_add_to_page_cache")
        await self.shmem_recalc_inode(0, -1)
        await sc_.delete_from_swap_cache(pfn, me)
        f[pfn] |= PG_dirty                                 # folio_mark_dirty
        await sc_.swap.swap_free(entry)                    # swap_free_nr: the file's count
        return pfn

    # -------------------------------------------------------------- truncate
    async def truncate(self, me):
        """shmem_truncate_range(inode, 0, -1) -> shmem_undo_range over the
        whole file: each swap entry freed (shmem_free_swap: taken out under
        xa_lock, then free_swap_and_cache_nr), each cached folio locked,
        rechecked and taken out of the page cache (truncate_inode_folio),
        then info->alloced/swapped recalculated.  Repeated until nothing is
        left: a folio reclaim was writing to swap meanwhile leaves its entry
        for the next round.  Simplification: the whole file (no partial
        range, no i_size change)."""
        sub = self.mm_sub
        eng = sub.engine
        mapping = self.mapping
        locks = sub.folio_locks
        ref = sub.mem_map.ref
        while mapping.i_pages or self.swap_entries:
            await mapping.xa_lock.lock_irq("shmem_free_swap")
            swaps = [self.swap_entries.pop(i) for i in sorted(self.swap_entries)]
            mapping.xa_lock.unlock_irq("shmem_free_swap")
            for entry in swaps:
                await sub.swap_cache.free_swap_and_cache(entry, me)
            for idx in sorted(mapping.i_pages):
                pfn = mapping.i_pages.get(idx)
                if pfn is None:
                    continue
                ref[pfn] += 1                              # find_lock_entries
                await locks.folio_lock(pfn, me)
                if mapping.i_pages.get(idx) == pfn:        # still this file's
                    await mapping.xa_lock.lock_irq("filemap_remove_folio")
                    # page_cache_delete + filemap_unaccount_folio (NR_SHMEM too)
                    _filemap_remove_folio_locked(sub, mapping, pfn, None, me)
                    await eng.spend(mapping.line.write(me.cpu))
                    mapping.xa_lock.unlock_irq("filemap_remove_folio")
                    ref[pfn] -= 1                          # the page cache's reference
                locks.folio_unlock(pfn, me)
                await sub.lru.folios_put_refs([(pfn, 1)], me)
            await self.shmem_recalc_inode(0, -len(swaps))

    async def evict_if_unused(self, me):
        """The last mapping of a shmem_zero_setup file went: its only
        references were the VMAs' (vm_file), so __fput -> iput ->
        shmem_evict_inode truncates it.  Simplification: done at once, under
        the unmapper's mmap_lock; the kernel defers __fput to task_work."""
        if self.zero_setup and not self.evicted and not self.mapping.i_mmap:
            self.evicted = True
            await self.truncate(me)

    def _check(self):
        """Each swap entry's slot is SWAP_MAP_SHMEM (the file's only count);
        swapped counts them; no index is both cached and swapped."""
        from .swapfile import SWAP_HAS_CACHE, SWAP_MAP_SHMEM
        assert len(self.swap_entries) == self.swapped, \
            f"{self}: info->swapped {self.swapped} but {len(self.swap_entries)} swap entries"
        assert not self.swap_entries.keys() & self.mapping.i_pages.keys(), \
            f"{self}: an index both cached and swapped"
        assert self.mapping.nrpages == len(self.mapping.i_pages)
        sc_ = self.mm_sub.swap_cache
        for e in self.swap_entries.values():
            assert sc_.swap.map_of(e) & ~SWAP_HAS_CACHE == SWAP_MAP_SHMEM, \
                f"{self}: slot {e:#x} map {sc_.swap.map_of(e):#x}, not SWAP_MAP_SHMEM"
