"""madvise(2) (mm/madvise.c, Linux 6.12): MADV_DONTNEED, MADV_PAGEOUT,
MADV_HUGEPAGE and MADV_NOHUGEPAGE.

Both run under mmap_lock held for *read* (``madvise_need_mmap_write`` is
false for them), so faults on the same VMA go on meanwhile.

* MADV_DONTNEED: ``zap_page_range_single`` over each VMA: drain the LRU
  batch, zap (swap PTEs: free_swap_and_cache), flush, free.  Page tables are
  kept.
* MADV_PAGEOUT (``madvise_pageout``): ``lru_add_drain``, then per PTE table
  (``madvise_cold_or_pageout_pte_range``, under its PTL) every present,
  exclusively mapped folio on the LRU loses PG_referenced (PG_active ones
  become PG_workingset) and is isolated (``folio_isolate_lru``); after the
  table's PTL is dropped, ``reclaim_pages`` hands the list to
  ``shrink_folio_list`` with ``ignore_references`` (may_writepage, may_unmap,
  may_swap) on the folios' node, PG_active cleared, and puts back what it
  kept (``folio_putback_lru``).  Anonymous folios go to swap: the way to swap
  out an exact range, which scenarios and tests use.  Simplification: no
  ``can_do_file_pageout`` filter (tmpfs folios here are the process's own);
  a PMD-mapped THP in the range is left alone (the kernel's
  ``madvise_cold_or_pageout_pte_range`` pages it out whole or splits it).
* MADV_HUGEPAGE / MADV_NOHUGEPAGE (``hugepage_madvise``): they change
  vm_flags, so mmap_lock is taken for *write*; ``madvise_update_vma`` splits
  the VMAs at the range's edges, write-locks them, sets VM_HUGEPAGE or
  VM_NOHUGEPAGE and merges again; MADV_HUGEPAGE registers the mm with
  khugepaged (``khugepaged_enter_vma``).
"""
from __future__ import annotations

from .filemap import PG_active, PG_referenced, PG_swapbacked
from .mmap import EINVAL, PAGE_SIZE, page_align

__all__ = ["sys_madvise_dontneed", "sys_madvise_pageout", "sys_madvise_hugepage",
           "MADV_DONTNEED", "MADV_PAGEOUT", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE"]

MADV_DONTNEED = 4
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_PAGEOUT = 21


async def _do_madvise_begin(eng, mm, start: int, length: int) -> int:
    """do_madvise's common entry: the alignment check, the syscall's cost and
    mmap_read_lock (both behaviours here take it for read).  Returns the
    range's end, or -EINVAL (no lock taken)."""
    if start % PAGE_SIZE:
        return -EINVAL
    end = start + page_align(length)
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_read_lock("do_madvise")
    return end


async def sys_madvise_dontneed(sub, mm, start: int, length: int, me) -> int:
    eng = sub.engine
    end = await _do_madvise_begin(eng, mm, start, length)
    if end < 0:
        return end
    for vma in mm.overlapping(start, end):
        s, e = max(start, vma.vm_start), min(end, vma.vm_end)
        await sub.lru.lru_add_drain(me)
        gather: list[int] = []
        cleared = await sub.memory.zap_range(mm, vma, s, e, gather, me)
        if cleared:
            await sub.memory.flush_tlb_mm_range(mm, s, e, False, me)
        if gather:                                     # tlb_finish_mmu
            await sub.memory.free_pages_and_swap_cache(gather, me)
    mm.mmap_read_unlock("do_madvise")
    return 0


async def sys_madvise_pageout(sub, mm, start: int, length: int, me) -> int:
    """madvise(start, length, MADV_PAGEOUT): the number of pages reclaimed is
    not returned by the kernel (0 on success); it is kept in
    ``sub.vmscan`` counters (pgsteal_*) like any reclaim."""
    from ._internal import PG_lru, PG_workingset
    from .memory import _PAGE_PRESENT, _PAGE_SPECIAL, populated_ptes
    eng = sub.engine
    end = await _do_madvise_begin(eng, mm, start, length)
    if end < 0:
        return end
    await sub.lru.lru_add_drain(me)
    f = sub.mem_map.f
    ref = sub.mem_map.ref
    rmap = sub.rmap
    zero = sub.zero_pfn
    for vma in mm.overlapping(start, end):
        s, e = max(start, vma.vm_start), min(end, vma.vm_end)
        for pt, _, i0, i1 in populated_ptes(mm, s, e):
            folios = []
            await pt.ptl.lock("madvise_cold_or_pageout_pte_range")
            for i in range(i0, i1):
                v = pt.ptes[i]
                if not v & _PAGE_PRESENT or v & _PAGE_SPECIAL:
                    continue
                pfn = v >> 12
                if pfn == zero or not f[pfn] & PG_lru or rmap.mc[pfn] != 1:
                    continue                          # not on the LRU, or mapped elsewhere too
                fl = f[pfn] & ~PG_referenced          # folio_clear_referenced
                if fl & PG_active:
                    fl |= PG_workingset                      # folio_set_workingset
                f[pfn] = fl
                # folio_isolate_lru: lru_lock nests inside the PTL
                lv = sub.lru.lruvec_of(pfn)
                await lv.lru_lock.lock_irq("folio_isolate_lru")
                if f[pfn] & PG_lru:
                    f[pfn] &= ~PG_lru
                    lv.delete(pfn)
                    ref[pfn] += 1
                    folios.append(pfn)
                lv.lru_lock.unlock_irq("folio_isolate_lru")
            await eng.spend((i1 - i0) * eng.costs.l1_hit_ns)
            pt.ptl.unlock("madvise_cold_or_pageout_pte_range")
            if folios:
                await reclaim_pages(sub, folios, me)
    mm.mmap_read_unlock("do_madvise")
    return 0


async def sys_madvise_hugepage(sub, mm, start: int, length: int, advice: int, me) -> int:
    """madvise(start, length, MADV_HUGEPAGE | MADV_NOHUGEPAGE): 0, -EINVAL for
    a misaligned start, -ENOMEM when part of the range is unmapped (the
    mapped parts are changed anyway, as madvise_walk_vmas does)."""
    from .mprotect import _merge_around
    from .vma import split_vma
    from .mm_types import vma_start_write
    eng = sub.engine
    if start % PAGE_SIZE:
        return -EINVAL
    end = start + page_align(length)
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_write_lock("do_madvise")            # madvise_need_mmap_write
    unmapped = False
    cur = start
    for vma in mm.overlapping(start, end):
        if vma.vm_start > cur:
            unmapped = True
        cur = vma.vm_end
        new_flags = sub.thp.hugepage_madvise(vma, advice)
        if new_flags == vma.vm_flags:
            continue
        if vma.vm_start < start:                      # madvise_update_vma: split_vma
            await split_vma(sub, mm, vma, start, new_below=True)
        if vma.vm_end > end:
            await split_vma(sub, mm, vma, end, new_below=False)
        await vma_start_write(vma)
        vma.vm_flags = new_flags
        if advice == MADV_HUGEPAGE and sub.thp.khugepaged is not None:
            await sub.thp.khugepaged.khugepaged_enter_vma(vma)
    if cur < end:
        unmapped = True
    await _merge_around(sub, mm, start, end)
    mm.mmap_write_unlock("do_madvise")
    return -12 if unmapped else 0


async def reclaim_pages(sub, folios: list, me) -> int:
    """reclaim_pages (mm/vmscan.c): per node, shrink_folio_list with
    ignore_references, then folio_putback_lru of what it kept."""
    from .gfp import GFP_KERNEL
    from .vmscan import ReclaimStat, ScanControl
    f = sub.mem_map.f
    pa = sub.pa
    by_node: dict[int, list] = {}
    for pfn in folios:                                # in list order, node by node
        f[pfn] &= ~PG_active                          # folio_clear_active
        by_node.setdefault(pa.pfn_node(pfn), []).append(pfn)
    total = 0
    for nid in sorted(by_node):
        sc = ScanControl(GFP_KERNEL, 0, may_writepage=True, may_unmap=True, may_swap=True)
        nr, keep = await sub.vmscan.shrink_folio_list(by_node[nid], pa.nodes[nid], sc,
                                                      ReclaimStat(), me, ignore_references=True)
        total += nr
        for pfn in keep:                              # folio_putback_lru
            await sub.lru.folio_add_lru(pfn, not f[pfn] & PG_swapbacked, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
    return total
