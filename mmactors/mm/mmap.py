"""Address spaces: mm_struct, vm_area_struct, mmap_lock and per-VMA locks.

Models mm/mmap.c, mm/vma.c, include/linux/mmap_lock.h and the per-VMA lock
helpers of include/linux/mm.h as of Linux 6.12 (CONFIG_PER_VMA_LOCK, merged
in 6.4 by Suren Baghdasaryan).

* ``mm.mmap_lock`` is an rw_semaphore (class ``&mm->mmap_lock``).
* Each VMA has ``vm_lock`` (an rw_semaphore, class ``&vma->vm_lock->lock``)
  and ``vm_lock_seq``; the mm has ``mm_lock_seq``.  ``vma_start_write`` (under
  mmap_lock held for write) sets ``vm_lock_seq = mm_lock_seq``, which makes
  every later ``vma_start_read`` fail; ``mmap_write_unlock`` increments
  ``mm_lock_seq`` (``vma_end_write_all``), unlocking every VMA at once.
* ``vma_start_read`` is the 6.12 sequence: compare the sequence numbers
  without the lock, ``down_read_trylock(&vma->vm_lock->lock)``, compare
  again (``smp_load_acquire(&mm->mm_lock_seq)``).
* VMAs live in a sortedcontainers ``SortedDict`` keyed by ``vm_start``: the
  maple tree's stand-in.  Simplification: the RCU walk of the maple tree
  (``mas_walk`` in ``lock_vma_under_rcu``) costs one cache-line read of the
  tree root, not a walk per level.
"""
from __future__ import annotations

from sortedcontainers import SortedDict

from ..costs import CacheLine
from ..sync import RWSemaphore, SpinLock

__all__ = ["PAGE_SHIFT", "PAGE_SIZE", "VMA", "MM", "VM_READ", "VM_WRITE", "VM_EXEC",
           "VM_SHARED", "VM_MAYWRITE", "VM_GROWSDOWN", "VM_ACCOUNT", "page_align",
           "vma_start_read", "vma_end_read", "vma_start_write"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PMD_SHIFT = 21                      # one page-table page maps 2 MiB (512 PTEs)
PMD_SIZE = 1 << PMD_SHIFT
PTRS_PER_PTE = 512

# vm_flags (include/linux/mm.h)
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80
VM_GROWSDOWN = 0x100
VM_LOCKED = 0x2000
VM_DONTCOPY = 0x20000
VM_ACCOUNT = 0x100000
VM_NORESERVE = 0x200000

# x86-64: TASK_SIZE with 4-level paging, and the usual mmap_base below the stack gap.
TASK_SIZE = 0x7FFF_FFFF_F000
MMAP_BASE = 0x7F00_0000_0000
BRK_BASE = 0x5555_5555_0000


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class VMA:
    """struct vm_area_struct (the fields the simulator uses)."""

    __slots__ = ("vm_start", "vm_end", "vm_mm", "vm_flags", "vm_pgoff", "vm_file",
                 "anon_vma", "anon_vma_chain", "vm_lock", "vm_lock_seq", "detached", "id")

    def __init__(self, mm: "MM", start: int, end: int, flags: int, pgoff: int = 0,
                 file=None):
        self.vm_start = start
        self.vm_end = end
        self.vm_mm = mm
        self.vm_flags = flags
        self.vm_pgoff = pgoff
        self.vm_file = file
        self.anon_vma = None
        self.anon_vma_chain = []      # AnonVMAChain entries (mm/rmap.c)
        # 6.12: struct vma_lock { struct rw_semaphore lock; } allocated per VMA.
        self.vm_lock = RWSemaphore(mm.engine, "&vma->vm_lock->lock")
        self.vm_lock_seq = -1
        self.detached = False
        mm.vma_ids += 1
        self.id = mm.vma_ids

    def __repr__(self):
        return (f"<VMA {self.vm_start:#x}-{self.vm_end:#x} flags={self.vm_flags:#x}"
                f"{' file' if self.vm_file else ''}{' detached' if self.detached else ''}>")

    @property
    def is_anonymous(self) -> bool:
        return self.vm_file is None

    @property
    def pages(self) -> int:
        return (self.vm_end - self.vm_start) >> PAGE_SHIFT

    def linear_page_index(self, addr: int) -> int:
        return ((addr - self.vm_start) >> PAGE_SHIFT) + self.vm_pgoff


class MM:
    """struct mm_struct: the VMA tree, mmap_lock, page tables and RSS counters."""

    # RSS counter indices (enum in include/linux/mm_types_task.h)
    MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = range(4)

    def __init__(self, engine, mmid: int):
        self.engine = engine
        self.id = mmid
        self.mmap_lock = RWSemaphore(engine, "&mm->mmap_lock")
        self.mm_lock_seq = 0
        self.page_table_lock = SpinLock(engine, "&mm->page_table_lock")
        self.vmas: SortedDict = SortedDict()      # vm_start -> VMA (mm->mm_mt)
        self.mt_line = CacheLine(engine.costs, engine.node_of, "mm->mm_mt", clock=engine)
        self.vma_ids = 0
        self._last = None                         # find_vma's memo (see find_vma)
        self.map_count = 0
        self.pgtables: dict = {}                  # pmd index -> PageTable (memory.py)
        self.nr_ptes = 0
        self._pmd_locks: dict = {}                # pud index -> split PMD lock
        self.rss = [0, 0, 0, 0]
        self.cpumask = 0                          # mm_cpumask: CPUs that ran this mm
        self.mm_users = 1
        self.mmap_base = MMAP_BASE
        self.thp_align = True                     # CONFIG_TRANSPARENT_HUGEPAGE (get_unmapped_area)
        self.start_brk = self.brk = BRK_BASE
        self.exited = False

    def __repr__(self):
        return f"<MM {self.id}: {len(self.vmas)} VMAs>"

    def pmd_lock(self, addr: int):
        """The split PMD lock of the PMD table covering addr (1 GiB on x86-64)."""
        key = addr >> 30
        lk = self._pmd_locks.get(key)
        if lk is None:
            lk = self._pmd_locks[key] = SpinLock(self.engine, "ptlock_ptr(ptdesc)")
        return lk

    # -- the VMA tree -------------------------------------------------------
    def find_vma(self, addr: int) -> VMA | None:
        """The VMA containing addr, or None (vma_lookup)."""
        # Simulator shortcut, not the kernel's (which walks the maple tree every
        # time): remember the last hit; it is valid while it is still in the tree.
        last = self._last
        if last is not None and last.vm_start <= addr < last.vm_end \
                and self.vmas.get(last.vm_start) is last:
            return last
        v = self.vmas
        i = v.bisect_right(addr) - 1
        if i < 0:
            return None
        vma = v.peekitem(i)[1]
        if addr < vma.vm_end:
            self._last = vma
            return vma
        return None

    def overlapping(self, start: int, end: int) -> list[VMA]:
        v = self.vmas
        i = max(v.bisect_right(start) - 1, 0)
        out = []
        keys = v.keys()
        for k in keys[i:]:
            if k >= end:
                break
            vma = v[k]
            if vma.vm_end > start:
                out.append(vma)
        return out

    def get_unmapped_area(self, length: int, anon_private: bool = False) -> int | None:
        """__get_unmapped_area (mm/mmap.c, 6.12) for a hint-less mmap.

        Anonymous private mappings whose length is a multiple of PMD_SIZE are
        THP-aligned when CONFIG_TRANSPARENT_HUGEPAGE=y (efa7df3e3bb5, limited
        to PMD multiples by d4148aeab412): __thp_get_unmapped_area searches
        for length + PMD_SIZE and, top-down with the start already aligned,
        returns ret + PMD_SIZE (96204e15310c), so the mapping sits at the top
        of the gap, right below its upper neighbour, and can merge with it.
        File and shared mappings (tmpfs, huge=never) are not aligned."""
        if anon_private and self.thp_align and length % PMD_SIZE == 0:
            ret = self._topdown(length + PMD_SIZE)
            if ret is not None:
                off_sub = -ret & (PMD_SIZE - 1)
                return ret + PMD_SIZE if not off_sub else ret + off_sub
            # the padded search failed: the caller's plain search follows
        return self._topdown(length)

    def _topdown(self, length: int) -> int | None:
        """Top-down search below mmap_base (arch_get_unmapped_area_topdown)."""
        top = self.mmap_base
        for k in reversed(self.vmas.keys()):
            vma = self.vmas[k]
            if vma.vm_start >= top:
                continue
            if vma.vm_end <= top - length:
                return top - length
            top = min(top, vma.vm_start)
        if top - length >= self.brk:
            return top - length
        return None

    def insert_vma(self, vma: VMA):
        self.vmas[vma.vm_start] = vma
        self.map_count += 1

    def remove_vma(self, vma: VMA):
        del self.vmas[vma.vm_start]
        self.map_count -= 1
        vma.detached = True                   # vma_mark_detached

    def set_range(self, vma: VMA, start: int, end: int):
        """Change a VMA's range in the tree (vma_set_range + maple store)."""
        if start != vma.vm_start:
            del self.vmas[vma.vm_start]
            # vm_pgoff follows vm_start (file offset, or addr >> PAGE_SHIFT for anon)
            vma.vm_pgoff += (start - vma.vm_start) >> PAGE_SHIFT
            vma.vm_start = start
            self.vmas[start] = vma
        vma.vm_end = end

    def _check(self):
        """VMAs are page-aligned, non-empty and never overlap."""
        prev_end = -1
        for start, vma in self.vmas.items():
            assert start == vma.vm_start, vma
            assert vma.vm_start < vma.vm_end, vma
            assert vma.vm_start % PAGE_SIZE == 0 and vma.vm_end % PAGE_SIZE == 0, vma
            assert vma.vm_start >= prev_end, f"overlap at {vma}"
            assert not vma.detached, vma
            prev_end = vma.vm_end

    # -- mmap_lock (include/linux/mmap_lock.h) ------------------------------
    async def mmap_read_lock(self, site=None):
        await self.mmap_lock.down_read(site or "mmap_read_lock")

    async def mmap_read_trylock(self, site=None) -> bool:
        return await self.mmap_lock.down_read_trylock(site or "mmap_read_trylock")

    def mmap_read_unlock(self, site=None):
        self.mmap_lock.up_read(site or "mmap_read_unlock")

    async def mmap_write_lock(self, site=None):
        await self.mmap_lock.down_write(site or "mmap_write_lock")

    def mmap_write_unlock(self, site=None):
        # vma_end_write_all(): smp_store_release(&mm->mm_lock_seq, mm_lock_seq + 1)
        self.mm_lock_seq += 1
        self.mmap_lock.up_write(site or "mmap_write_unlock")

    def mmap_write_downgrade(self, site=None):
        self.mm_lock_seq += 1                 # mmap_write_downgrade ends VMA write locks too
        self.mmap_lock.downgrade_write(site or "mmap_write_downgrade")


# -- per-VMA locks (include/linux/mm.h, 6.12) --------------------------------
async def vma_start_read(vma: VMA) -> bool:
    """Try to read-lock ``vma`` without mmap_lock.  False: take the slow path."""
    mm = vma.vm_mm
    if vma.vm_lock_seq == mm.mm_lock_seq:     # write-locked in this mmap_lock cycle
        return False
    if not await vma.vm_lock.down_read_trylock("vma_start_read"):
        return False
    if vma.vm_lock_seq == mm.mm_lock_seq:     # recheck after acquiring (acquire load)
        vma.vm_lock.up_read("vma_start_read")
        return False
    return True


def vma_end_read(vma: VMA):
    vma.vm_lock.up_read("vma_end_read")


async def vma_start_write(vma: VMA):
    """Write-lock ``vma`` until mmap_write_unlock.  Caller holds mmap_lock for write."""
    mm = vma.vm_mm
    if vma.vm_lock_seq == mm.mm_lock_seq:     # __is_vma_write_locked
        return
    # Waits for readers that got in before us to finish their faults.
    await vma.vm_lock.down_write("vma_start_write")
    vma.vm_lock_seq = mm.mm_lock_seq
    vma.vm_lock.up_write("vma_start_write")


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
    from .vma import do_vmi_align_munmap, vma_link_file, vma_merge_new_range
    eng = sub.engine
    if length <= 0:
        return -EINVAL
    length = page_align(length)
    eng.charge(eng.costs.syscall_ns)
    if flags & MAP_ANONYMOUS and flags & MAP_SHARED and file is None:
        file = sub.new_shmem_file(length >> PAGE_SHIFT)
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
    from .vma import do_vmi_align_munmap
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
    from .vma import do_vmi_align_munmap
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
    if gather:
        await sub.lru.release_pages(gather, me)
    for pfn in tables:
        sub.nr_page_table_pages -= 1
        await sub.pa.free_pages(pfn, 0)
    for vma in vmas:
        sub.remove_vma(vma)
    mm.exited = True
    mm.mmap_write_unlock("exit_mmap")
