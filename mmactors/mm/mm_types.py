"""The address-space types: mm_struct, vm_area_struct, mmap_lock and the
per-VMA locks (include/linux/mm_types.h, include/linux/mmap_lock.h and the
per-VMA lock helpers of include/linux/mm.h, Linux 6.12).

They live apart from the system calls (mm/mmap.c, mm/vma.c) for the reason
the kernel keeps them in mm_types.h: every mm file uses them, so mmap.py and
vma.py can both import them without importing each other.

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
from .filemap import PG_swapbacked

__all__ = ["PAGE_SHIFT", "PAGE_SIZE", "PMD_SHIFT", "PMD_SIZE", "PTRS_PER_PTE", "VMA", "MM",
           "page_align", "vma_start_read", "vma_end_read", "vma_start_write", "TASK_SIZE",
           "MMAP_BASE", "BRK_BASE"]

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

    @staticmethod
    def mm_counter_file(flags: int) -> int:
        """include/linux/mm.h mm_counter_file: a swap-backed (shmem/tmpfs)
        folio counts in MM_SHMEMPAGES, a disk file's in MM_FILEPAGES."""
        return 3 if flags & PG_swapbacked else 0      # MM_SHMEMPAGES, MM_FILEPAGES

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
        self.pmd_huge: dict = {}                  # pmd index -> HugePmd (huge_memory.py)
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
