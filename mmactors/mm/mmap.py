"""The mmap family of system calls: mmap, munmap, brk (mm/mmap.c, Linux 6.12).

The types they work on (mm_struct, vm_area_struct, mmap_lock, per-VMA locks)
are in :mod:`.mm_types` and re-exported here; the VMA surgery (split, merge,
the munmap core) is in :mod:`.vma`.
"""
from __future__ import annotations

from .mm_types import (MM, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, VM_ACCOUNT, VM_EXEC, VM_GROWSDOWN,
                       VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED,
                       VM_WRITE, VMA, page_align, vma_end_read, vma_start_read, vma_start_write)
from .vma import do_vmi_align_munmap, vma_link_file, vma_merge_new_range

__all__ = ["PAGE_SHIFT", "PAGE_SIZE", "VMA", "MM", "VM_READ", "VM_WRITE", "VM_EXEC",
           "VM_SHARED", "VM_MAYWRITE", "VM_GROWSDOWN", "VM_ACCOUNT", "page_align",
           "vma_start_read", "vma_end_read", "vma_start_write"]

# ------------------------------------------------------------ system calls
PROT_READ, PROT_WRITE, PROT_EXEC = 0x1, 0x2, 0x4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_POPULATE = 0x1, 0x2, 0x10, 0x20, 0x8000
EINVAL, ENOMEM = 22, 12


def calc_vm_flags(prot: int, flags: int) -> int:
    vm = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    if prot & PROT_READ:
        vm |= VM_READ
    if prot & PROT_WRITE:
        vm |= VM_WRITE
    if prot & PROT_EXEC:
        vm |= VM_EXEC
    if flags & MAP_SHARED:
        vm |= VM_SHARED | VM_MAYSHARE
    elif vm & VM_WRITE:
        vm |= VM_ACCOUNT                       # accountable_mapping: private writable
    return vm


async def do_mmap(sub, mm: MM, length: int, prot: int, flags: int, me, *, file=None,
                  pgoff: int = 0, addr: int = 0) -> int:
    """mmap(2): vm_mmap_pgoff -> do_mmap -> mmap_region.  Returns the address
    or a negative errno.  MAP_SHARED|MAP_ANONYMOUS gets a fresh tmpfs inode
    (shmem_zero_setup)."""
    eng = sub.engine
    if length <= 0:
        return -EINVAL
    length = page_align(length)
    eng.charge(eng.costs.syscall_ns)
    if flags & MAP_ANONYMOUS and flags & MAP_SHARED and file is None:
        file = sub.new_shmem_file(length >> PAGE_SHIFT)
        file.zero_setup = True                    # only the mappings hold it
    await mm.mmap_write_lock("vm_mmap_pgoff")
    if flags & MAP_FIXED:
        if addr % PAGE_SIZE or addr + length > TASK_SIZE:
            mm.mmap_write_unlock("vm_mmap_pgoff")
            return -EINVAL
        if mm.overlapping(addr, addr + length):   # MAP_FIXED replaces what was there
            await do_vmi_align_munmap(sub, mm, addr, addr + length, me, unlock=False)
    else:
        addr = mm.get_unmapped_area(length, file is None and not flags & MAP_SHARED)
        if addr is None:
            mm.mmap_write_unlock("vm_mmap_pgoff")
            return -ENOMEM
    vm_flags = calc_vm_flags(prot, flags)
    if file is None:
        pgoff = addr >> PAGE_SHIFT              # private anon: pgoff = addr >> PAGE_SHIFT
    vma = await vma_merge_new_range(sub, mm, addr, addr + length, vm_flags, file, pgoff)
    if vma is None:
        eng.charge(eng.costs.slab_alloc_ns * 2)   # vm_area_alloc + vma_lock
        vma = VMA(mm, addr, addr + length, vm_flags, pgoff, file)
        await vma_start_write(vma)
        mm.insert_vma(vma)
        await vma_link_file(vma)
    await eng.spend(mm.mt_line.write(me.cpu) + eng.costs.maple_store_ns)  # vma_iter_store
    mm.mmap_write_unlock("vm_mmap_pgoff")
    if flags & MAP_POPULATE:
        await mm_populate(sub, mm, addr, length, me)
    return addr


async def mm_populate(sub, mm: MM, start: int, length: int, me):
    """__mm_populate: fault every page in under mmap_lock held for read."""
    await mm.mmap_read_lock("__mm_populate")
    addr = start
    end = start + length
    while addr < end:
        vma = mm.find_vma(addr)
        if vma is None:
            break
        # populate_vma_page_range: write faults for private writable mappings
        write = (vma.vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE
        stop = min(end, vma.vm_end)
        while addr < stop:
            await sub.memory.handle_mm_fault(vma, addr, write, False, me)
            addr += PAGE_SIZE
    mm.mmap_read_unlock("__mm_populate")


async def vm_munmap(sub, mm: MM, start: int, length: int, me) -> int:
    """munmap(2): write lock, detach, downgrade, zap, unlock (6.12)."""
    eng = sub.engine
    if start % PAGE_SIZE or length <= 0:
        return -EINVAL
    eng.charge(eng.costs.syscall_ns)
    end = start + page_align(length)
    await mm.mmap_write_lock("__vm_munmap")
    if not mm.overlapping(start, end):
        mm.mmap_write_unlock("__vm_munmap")
        return 0
    await do_vmi_align_munmap(sub, mm, start, end, me, unlock=True)
    return 0


async def sys_brk(sub, mm: MM, brk: int, me) -> int:
    """brk(2): grow by expanding the brk VMA in place, shrink by munmap of the tail."""
    eng = sub.engine
    eng.charge(eng.costs.syscall_ns)
    await mm.mmap_write_lock("brk")
    if brk < mm.start_brk:
        mm.mmap_write_unlock("brk")
        return mm.brk
    newbrk, oldbrk = page_align(brk), page_align(mm.brk)
    if newbrk == oldbrk:
        mm.brk = brk
        mm.mmap_write_unlock("brk")
        return brk
    if brk <= mm.brk:                            # shrink: munmap [newbrk, oldbrk)
        mm.brk = brk
        await do_vmi_align_munmap(sub, mm, newbrk, oldbrk, me, unlock=True)
        return brk
    nxt = mm.overlapping(oldbrk, newbrk + PAGE_SIZE)
    if nxt:                                      # would collide with a mapping
        mm.mmap_write_unlock("brk")
        return mm.brk
    flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT
    brkvma = mm.find_vma(oldbrk - 1) if oldbrk > mm.start_brk else None
    if brkvma is not None and brkvma.vm_end == oldbrk and brkvma.vm_file is None \
            and brkvma.vm_flags == flags:       # do_brk_flags: expand in place
        await vma_start_write(brkvma)
        brkvma.vm_end = newbrk
    else:
        eng.charge(eng.costs.slab_alloc_ns * 2)
        vma = VMA(mm, oldbrk, newbrk, flags, oldbrk >> PAGE_SHIFT)
        await vma_start_write(vma)
        mm.insert_vma(vma)
    await eng.spend(mm.mt_line.write(me.cpu) + eng.costs.maple_store_ns)
    mm.brk = brk
    mm.mmap_write_unlock("brk")
    return brk


async def exit_mmap(sub, mm: MM, me):
    """exit_mmap: zap everything under the read lock, then free tables and VMAs."""
    await mm.mmap_read_lock("exit_mmap")
    vmas = list(mm.vmas.values())
    await sub.lru.lru_add_drain(me)
    gather: list[int] = []
    for vma in vmas:
        await sub.memory.zap_range(mm, vma, vma.vm_start, vma.vm_end, gather, me)
    mm.mmap_read_unlock("exit_mmap")
    await mm.mmap_write_lock("exit_mmap")
    for vma in vmas:
        mm.remove_vma(vma)
    tables = await sub.memory.free_pgtables(mm, vmas, me)
    # tlb_finish_mmu with fullmm: the mm is dead, no IPIs needed
    if gather:                                  # free_pages_and_swap_cache
        await sub.memory.free_pages_and_swap_cache(gather, me)
    for pfn in tables:
        sub.nr_page_table_pages -= 1
        await sub.pa.free_pages(pfn, 0)
    for vma in vmas:
        sub.remove_vma(vma)
    mm.exited = True
    mm.mmap_write_unlock("exit_mmap")
