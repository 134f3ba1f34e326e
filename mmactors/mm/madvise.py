"""madvise(2) MADV_DONTNEED (mm/madvise.c, Linux 6.12): under mmap_lock held
for *read* (``madvise_need_mmap_write`` is false), ``zap_page_range_single``
over each VMA: drain the LRU batch, zap (swap PTEs: free_swap_and_cache),
flush, free.  No VMA write lock, so
faults on the same VMA go on meanwhile.  Page tables are kept."""
from __future__ import annotations

from .mmap import EINVAL, PAGE_SIZE, page_align

__all__ = ["sys_madvise_dontneed", "MADV_DONTNEED"]

MADV_DONTNEED = 4


async def sys_madvise_dontneed(sub, mm, start: int, length: int, me) -> int:
    eng = sub.engine
    if start % PAGE_SIZE:
        return -EINVAL
    end = start + page_align(length)
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_read_lock("do_madvise")
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
