"""VMA surgery: split, merge, and the munmap core (mm/vma.c, Linux 6.12).

* ``split_vma`` (``__split_vma``): write-lock the VMA, allocate the new part
  (born write-locked: its ``vm_lock_seq`` is the current ``mm_lock_seq``),
  clone the anon_vma chains, link a file VMA into ``i_mmap``.
* ``vma_merge_new_range``: a new mapping adjacent to a compatible VMA
  expands that VMA instead (``is_mergeable_vma`` + ``is_mergeable_anon_vma``).
* ``do_vmi_align_munmap``: under mmap_lock for write, split at the edges,
  ``vma_start_write`` every VMA in the range (waiting for faults already
  inside them) and detach it; then *downgrade to read* (6.12's
  ``vms_complete_munmap_vmas``), zap the PTEs, free page tables, flush the
  TLB, free the folios, and drop the lock.
"""
from __future__ import annotations

from .mm_types import PAGE_SHIFT, VMA, vma_start_write
from .rmap import anon_vma_clone

__all__ = ["split_vma", "vma_merge_new_range", "do_vmi_align_munmap", "vma_link_file",
           "is_mergeable"]


async def vma_link_file(vma):
    """Insert a file VMA into its mapping's i_mmap under i_mmap_rwsem."""
    if vma.vm_file is None:
        return
    mapping = vma.vm_file.mapping
    await mapping.i_mmap_rwsem.down_write("vma_link_file")
    mapping.i_mmap.append(vma)
    mapping.i_mmap_rwsem.up_write("vma_link_file")


async def split_vma(sub, mm, vma: VMA, addr: int, new_below: bool) -> VMA:
    """Split vma at addr; return the new VMA (below addr if new_below)."""
    eng = sub.engine
    await vma_start_write(vma)
    # vma_adjust_trans_huge: a huge PMD across the new boundary is split first
    await sub.thp.vma_adjust_trans_huge(vma, addr, addr, eng.current)
    eng.charge(eng.costs.slab_alloc_ns)           # vm_area_dup
    if new_below:
        new = VMA(mm, vma.vm_start, addr, vma.vm_flags, vma.vm_pgoff, vma.vm_file)
    else:
        new = VMA(mm, addr, vma.vm_end, vma.vm_flags,
                  vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT), vma.vm_file)
    new.vm_lock_seq = mm.mm_lock_seq                   # vma_start_write(new)
    if vma.anon_vma_chain:
        new.anon_vma = vma.anon_vma                    # vm_area_dup copies it
        await anon_vma_clone(new, vma)
    # __split_vma: the new VMA is on the anon_vma chains before the old one
    # shrinks (vma_prepare/vma_complete), so an rmap walk (remove_migration_ptes,
    # try_to_unmap) always finds a VMA covering each of the folio's addresses.
    if new_below:
        mm.set_range(vma, addr, vma.vm_end)
    else:
        vma.vm_end = addr
    mm.insert_vma(new)
    await eng.spend(mm.mt_line.write(eng.current.cpu) + eng.costs.maple_store_ns)
    await vma_link_file(new)
    return new


def is_mergeable(a: VMA, flags: int, file, anon_vma) -> bool:
    """is_mergeable_vma + is_mergeable_anon_vma (no vm_ops, no userfaultfd here)."""
    if a.vm_flags != flags or a.vm_file is not file:
        return False
    if anon_vma is None or a.anon_vma is None:
        return len(a.anon_vma_chain) <= 1
    return a.anon_vma is anon_vma


async def vma_merge_new_range(sub, mm, start: int, end: int, flags: int, file, pgoff: int):
    """Expand an adjacent compatible VMA over [start, end); None if none fits."""
    prev = mm.find_vma(start - 1)
    if prev is not None and prev.vm_end != start:
        prev = None
    nxt = mm.vmas.get(end)
    if prev is not None and not (is_mergeable(prev, flags, file, None) and
                                 prev.vm_pgoff + prev.pages == pgoff):
        prev = None
    if nxt is not None and not (is_mergeable(nxt, flags, file, None) and
                                nxt.vm_pgoff == pgoff + ((end - start) >> PAGE_SHIFT)):
        nxt = None
    if prev is not None and nxt is not None and prev.anon_vma is not None \
            and nxt.anon_vma is not None and prev.anon_vma is not nxt.anon_vma:
        nxt = None
    if prev is not None:
        await vma_start_write(prev)
        if nxt is not None:                            # prev swallows [start, nxt.vm_end)
            await vma_start_write(nxt)
            new_end = nxt.vm_end
            if prev.anon_vma is None and nxt.anon_vma is not None:
                prev.anon_vma = nxt.anon_vma
                prev.anon_vma_chain = nxt.anon_vma_chain
                for avc in prev.anon_vma_chain:
                    avc.vma = prev
                nxt.anon_vma_chain = []
                nxt.anon_vma = None
            mm.remove_vma(nxt)
            await unlink_file_vma(nxt)
            prev.vm_end = new_end
        else:
            prev.vm_end = end
        return prev
    if nxt is not None:
        await vma_start_write(nxt)
        mm.set_range(nxt, start, nxt.vm_end)
        return nxt
    return None


async def unlink_file_vma(vma):
    """Take the VMA off its file's i_mmap under i_mmap_rwsem (mm/mmap.c)."""
    if vma.vm_file is not None:
        mapping = vma.vm_file.mapping
        await mapping.i_mmap_rwsem.down_write("unlink_file_vma")
        if vma in mapping.i_mmap:
            mapping.i_mmap.remove(vma)
        mapping.i_mmap_rwsem.up_write("unlink_file_vma")
        shmem = getattr(mapping, "shmem", None)
        if shmem is not None and not mapping.i_mmap:      # remove_vma's fput, the last
            await shmem.evict_if_unused(shmem.mm_sub.engine.current)


async def detach_range(sub, mm, start: int, end: int) -> list[VMA]:
    """vms_gather_munmap_vmas: split at the edges, write-lock and detach."""
    vmas = mm.overlapping(start, end)
    if not vmas:
        return []
    if mm.pmd_huge:
        # a THP the unmap cuts in two: the kernel queues it for deferred split
        # once the range's PTEs are zapped (deferred_split_folio(folio, true));
        # here it is split at once and queued with its pages (mm/huge_memory.py)
        sub.thp.count_partial_unmap(mm, start, end, sub.engine.current)
    first = vmas[0]
    if first.vm_start < start:
        await split_vma(sub, mm, first, start, new_below=True)
    vmas = mm.overlapping(start, end)
    last = vmas[-1]
    if last.vm_end > end:
        await split_vma(sub, mm, last, end, new_below=False)
    vmas = mm.overlapping(start, end)
    for vma in vmas:
        await vma_start_write(vma)                     # waits for VMA-locked faults in it
        mm.remove_vma(vma)
    eng = sub.engine                                   # vma_iter_clear_gfp
    await eng.spend(mm.mt_line.write(eng.current.cpu) + eng.costs.maple_store_ns)
    return vmas


async def do_vmi_align_munmap(sub, mm, start: int, end: int, me, unlock: bool = True):
    """munmap's core; entered with mmap_lock held for write.  With ``unlock``,
    downgrades to read for the teardown and releases the lock at the end."""
    vmas = await detach_range(sub, mm, start, end)
    if unlock:
        mm.mmap_write_downgrade("vms_complete_munmap_vmas")
    if vmas:
        await sub.memory.unmap_region(mm, vmas, start, end, me)
        for vma in vmas:
            sub.remove_vma(vma)                        # vm_area_free (RCU)
    if unlock:
        mm.mmap_read_unlock("vms_complete_munmap_vmas")
    return len(vmas)
