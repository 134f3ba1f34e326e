"""fork's address-space copy: dup_mmap (kernel/fork.c, Linux 6.12).

``mmap_write_lock(oldmm)``, then the child's lock (``mmap_write_lock_nested``);
every parent VMA is write-locked (``vma_start_write``: parent threads fall
back to mmap_lock until the fork ends), duplicated, linked to the anon_vma
tree (``anon_vma_fork``) or the file's ``i_mmap``, and its PTEs are copied
(``copy_page_range``: private writable PTEs become read-only in both, for
COW).  Then ``flush_tlb_mm(oldmm)``: the parent's other CPUs get IPIs.
"""
from __future__ import annotations

from .mm_types import MM, VM_DONTCOPY, VMA, vma_start_write
from .rmap import anon_vma_fork
from .vma import vma_link_file

__all__ = ["dup_mmap"]


async def dup_mmap(sub, oldmm: MM, me) -> MM:
    eng = sub.engine
    mm = sub.new_mm()
    mm.start_brk, mm.brk, mm.mmap_base = oldmm.start_brk, oldmm.brk, oldmm.mmap_base
    await oldmm.mmap_write_lock("dup_mmap")
    await mm.mmap_lock.down_write("dup_mmap", subclass=1)   # mmap_write_lock_nested(SINGLE_DEPTH_NESTING)
    for mpnt in list(oldmm.vmas.values()):
        await vma_start_write(mpnt)
        if mpnt.vm_flags & VM_DONTCOPY:
            continue
        eng.charge(eng.costs.slab_alloc_ns * 2)   # vm_area_dup
        tmp = VMA(mm, mpnt.vm_start, mpnt.vm_end, mpnt.vm_flags, mpnt.vm_pgoff, mpnt.vm_file)
        tmp.vm_lock_seq = mm.mm_lock_seq
        await anon_vma_fork(sub, tmp, mpnt)
        mm.insert_vma(tmp)
        await vma_link_file(tmp)
        await sub.memory.copy_page_range(tmp, mpnt, me)
    mm.mmap_write_unlock("dup_mmap")
    await sub.memory.flush_tlb_mm_range(oldmm, 0, 1 << 47, False, me)   # flush_tlb_mm
    oldmm.mmap_write_unlock("dup_mmap")
    return mm
