"""mprotect(2) (mm/mprotect.c, Linux 6.12): split the VMAs at the range's
edges, write-lock them, change vm_flags, write-protect present PTEs when
write permission goes (``change_protection`` under each PTE lock, then one
TLB flush), and merge with compatible neighbours again."""
from __future__ import annotations

from .memory import _PAGE_PRESENT, _PAGE_RW, populated_ptes
from .mmap import (EINVAL, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, VM_EXEC, VM_READ,
                   VM_SHARED, VM_WRITE, page_align, vma_start_write)
from .vma import is_mergeable, split_vma

__all__ = ["sys_mprotect"]


async def sys_mprotect(sub, mm, start: int, length: int, prot: int, me) -> int:
    eng = sub.engine
    if start % PAGE_SIZE:
        return -EINVAL
    end = start + page_align(length)
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_write_lock("do_mprotect_pkey")
    vmas = mm.overlapping(start, end)
    # the range must be fully mapped (else -ENOMEM), as the kernel checks
    cur = start
    for v in vmas:
        if v.vm_start > cur:
            break
        cur = v.vm_end
    if not vmas or cur < end:
        mm.mmap_write_unlock("do_mprotect_pkey")
        return -12
    want = ((VM_READ if prot & PROT_READ else 0) | (VM_WRITE if prot & PROT_WRITE else 0)
            | (VM_EXEC if prot & PROT_EXEC else 0))
    if vmas[0].vm_start < start:
        await split_vma(sub, mm, vmas[0], start, new_below=True)
    vmas = mm.overlapping(start, end)
    if vmas[-1].vm_end > end:
        await split_vma(sub, mm, vmas[-1], end, new_below=False)
    vmas = mm.overlapping(start, end)
    flushed = False
    for vma in vmas:
        await vma_start_write(vma)
        old = vma.vm_flags
        vma.vm_flags = (old & ~(VM_READ | VM_WRITE | VM_EXEC)) | want
        if old & VM_WRITE and not want & VM_WRITE:
            flushed |= await _wrprotect(sub, mm, vma, me)
    if flushed:
        await sub.memory.flush_tlb_mm_range(mm, start, end, False, me)
    await _merge_around(sub, mm, start, end)
    mm.mmap_write_unlock("do_mprotect_pkey")
    return 0


async def _wrprotect(sub, mm, vma, me) -> bool:
    """change_pte_range: clear the write bit of every present PTE (a swap
    PTE has no write bit: its type field sits there; swap-in decides then)."""
    changed = False
    if mm.pmd_huge:                                   # change_huge_pmd
        changed = await sub.thp.change_huge_pmds(mm, vma.vm_start, vma.vm_end, False, me)
    for pt, _, i0, i1 in populated_ptes(mm, vma.vm_start, vma.vm_end):
        await pt.ptl.lock("change_pte_range")
        for i in range(i0, i1):
            v = pt.ptes[i]
            if v & _PAGE_PRESENT and v & _PAGE_RW:
                pt.ptes[i] = v & ~_PAGE_RW
                changed = True
        await sub.engine.spend(sub.engine.costs.l1_hit_ns * (i1 - i0))
        pt.ptl.unlock("change_pte_range")
    return changed


async def _merge_around(sub, mm, start: int, end: int):
    """vma_merge_existing_range: fold VMAs of [start, end) into equal neighbours."""
    changed = True
    while changed:
        changed = False
        for vma in mm.overlapping(start - 1, end + 1):
            nxt = mm.vmas.get(vma.vm_end)
            if nxt is None or nxt.vm_flags & VM_SHARED or vma.vm_flags & VM_SHARED:
                continue
            if not is_mergeable(nxt, vma.vm_flags, vma.vm_file, vma.anon_vma):
                continue
            if vma.vm_pgoff + vma.pages != nxt.vm_pgoff:
                continue
            if vma.anon_vma is not None and nxt.anon_vma is not None \
                    and vma.anon_vma is not nxt.anon_vma:
                continue
            await vma_start_write(nxt)
            if vma.anon_vma is None and nxt.anon_vma is not None:
                vma.anon_vma, vma.anon_vma_chain = nxt.anon_vma, nxt.anon_vma_chain
                for avc in vma.anon_vma_chain:
                    avc.vma = vma
            elif nxt.anon_vma_chain:
                for avc in nxt.anon_vma_chain:
                    avc.anon_vma.chains.remove(avc)
                if nxt.anon_vma is not None:
                    nxt.anon_vma.num_active_vmas -= 1
            nxt.anon_vma_chain, nxt.anon_vma = [], None
            mm.remove_vma(nxt)
            vma.vm_end = nxt.vm_end
            sub.remove_vma(nxt)
            changed = True
            break
