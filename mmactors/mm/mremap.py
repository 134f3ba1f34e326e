"""mremap(2) (mm/mremap.c, Linux 6.12), under mmap_lock held for write:
shrinking unmaps the tail; growing expands in place when the range above is
free (``vma_merge_extend``), else, with MREMAP_MAYMOVE, ``copy_vma`` makes a
new VMA elsewhere and ``move_page_tables`` moves the PTEs (both PTE locks
held), then the old range is unmapped (nothing left to free there)."""
from __future__ import annotations

from .mm_types import (PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT, PTRS_PER_PTE, VMA, page_align,
                       vma_start_write)
from .mmap import EINVAL, ENOMEM
from .rmap import anon_vma_clone
from .swapops import _PAGE_PRESENT
from .vma import detach_range, vma_link_file

__all__ = ["sys_mremap", "MREMAP_MAYMOVE"]

MREMAP_MAYMOVE = 1


async def sys_mremap(sub, mm, old_addr: int, old_len: int, new_len: int, flags: int, me) -> int:
    eng = sub.engine
    if old_addr % PAGE_SIZE or new_len <= 0:
        return -EINVAL
    old_len, new_len = page_align(old_len), page_align(new_len)
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_write_lock("mremap")
    vma = mm.find_vma(old_addr)
    if vma is None or old_addr + old_len > vma.vm_end:
        mm.mmap_write_unlock("mremap")
        return -14                                     # -EFAULT
    try:
        if new_len <= old_len:
            if new_len < old_len:
                vmas = await detach_range(sub, mm, old_addr + new_len, old_addr + old_len)
                await sub.memory.unmap_region(mm, vmas, old_addr + new_len,
                                              old_addr + old_len, me)
                for v in vmas:
                    sub.remove_vma(v)
            return old_addr
        end = old_addr + new_len
        if old_addr + old_len == vma.vm_end and not mm.overlapping(vma.vm_end, end) \
                and end <= mm.mmap_base:
            await vma_start_write(vma)                 # vma_merge_extend
            vma.vm_end = end
            return old_addr
        if not flags & MREMAP_MAYMOVE:
            return -ENOMEM
        new_addr = mm.get_unmapped_area(new_len, vma.vm_file is None)
        if new_addr is None:
            return -ENOMEM
        return await _move_vma(sub, mm, vma, old_addr, old_len, new_addr, new_len, me)
    finally:
        mm.mmap_write_unlock("mremap")


async def _move_vma(sub, mm, vma, old_addr, old_len, new_addr, new_len, me) -> int:
    eng = sub.engine
    await vma_start_write(vma)
    pgoff = vma.vm_pgoff + ((old_addr - vma.vm_start) >> PAGE_SHIFT)
    eng.charge(eng.costs.slab_alloc_ns * 2)       # copy_vma
    new = VMA(mm, new_addr, new_addr + new_len, vma.vm_flags, pgoff, vma.vm_file)
    new.vm_lock_seq = mm.mm_lock_seq
    if vma.anon_vma_chain:
        new.anon_vma = vma.anon_vma                    # copy_vma: vm_area_dup copies it
        await anon_vma_clone(new, vma)
    mm.insert_vma(new)
    await vma_link_file(new)
    await move_page_tables(sub, mm, old_addr, new_addr, old_len, me)
    vmas = await detach_range(sub, mm, old_addr, old_addr + old_len)
    await sub.memory.unmap_region(mm, vmas, old_addr, old_addr + old_len, me)
    for v in vmas:
        sub.remove_vma(v)
    return new_addr


async def move_page_tables(sub, mm, old_addr: int, new_addr: int, length: int, me):
    """Move every PTE of [old_addr, +length) to new_addr (move_ptes)."""
    memory = sub.memory
    moved = 0
    if mm.pmd_huge:
        # Simplification: move_huge_pmd (an aligned PMD moved whole) is not
        # modelled; huge PMDs in the source are split (split_huge_pmd) and move as PTEs.
        await sub.thp.split_range(mm, old_addr, old_addr + length, me)
    for off in range(0, length, PAGE_SIZE):
        src_key = (old_addr + off) >> PMD_SHIFT
        spt = mm.pgtables.get(src_key)
        if spt is None:
            continue
        si = ((old_addr + off) >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
        v = spt.ptes[si]
        if not v:
            continue
        dpt = await memory.pte_alloc(mm, new_addr + off, me)
        di = ((new_addr + off) >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
        await spt.ptl.lock("move_ptes")
        if dpt is not spt:
            await dpt.ptl.lock("move_ptes", 1)         # spin_lock_nested(new_ptl, SINGLE_DEPTH_NESTING)
        spt.ptes[si] = 0
        dpt.ptes[di] = v
        if v & _PAGE_PRESENT:
            spt.nr_present -= 1
            dpt.nr_present += 1
        else:                                          # a swap PTE moves as it is
            spt.nr_swap -= 1
            dpt.nr_swap += 1
        if dpt is not spt:
            dpt.ptl.unlock("move_ptes")
        spt.ptl.unlock("move_ptes")
        moved += 1
        # the folio's index follows the new address (anon: linear_page_index)
    if moved:
        await memory.flush_tlb_mm_range(mm, old_addr, old_addr + length, False, me)
