"""Page tables and page faults (mm/memory.c, arch/x86/mm/fault.c, mm/mmu_gather.c,
arch/x86/mm/tlb.c, the free_pages_and_swap_cache of mm/swap_state.c; Linux 6.12).

Page tables: one :class:`PageTable` per 2 MiB of address space (a PTE page
of 512 entries) with its split PTE lock (``ptlock_ptr(ptdesc)``); the levels
above are a dict keyed by ``addr >> PMD_SHIFT`` whose entries are installed
under the PMD table's split lock (``pmd_install``: lock, recheck ``pmd_none``,
``smp_wmb``, ``pmd_populate``).  Simplification: the p4d/pud/pmd tables
themselves are not allocated pages; a PTE table is a real page from the
page allocator.  PTEs are 64-bit words in an ``array('q')``::

    present:   pfn << 12 | _PAGE_PRESENT | _PAGE_RW? | _PAGE_ACCESSED | _PAGE_DIRTY? | _PAGE_SPECIAL?
    swap:      offset << 12 | type << 1 | _PAGE_SWP_EXCLUSIVE?   (present bit clear, non-zero)
    none:      0

``PageTable.nr_present`` counts present entries, ``nr_swap`` swap entries
(a table with either is populated: zap, fork and mprotect visit it).

The fault path is the 6.12 one: ``do_user_addr_fault`` tries
``lock_vma_under_rcu`` (per-VMA lock) and falls back to ``mmap_read_lock``
on failure or VM_FAULT_RETRY; ``handle_pte_fault`` dispatches to
``do_anonymous_page``, ``do_read_fault``/``do_cow_fault``/``do_shared_fault``
(tmpfs files) and ``do_wp_page``.  ``vmf_anon_prepare`` makes the first write
fault of a VMA without an anon_vma take ``mmap_read_trylock`` (RETRY if that
fails under the VMA lock).

Swap PTEs (issue 12): ``do_swap_page`` (the swap cache, zram's
skip-swapcache read pinned by ``swapcache_prepare``, ``swapin_readahead``,
``folio_lock_or_retry``, the ``pte_same`` recheck under the PTL, exclusive
reuse, ``swap_free`` and ``folio_free_swap``); zap frees them
(``free_swap_and_cache`` under the PTL) and gathered swap-cache folios leave
the cache once unmapped (``free_pages_and_swap_cache``); fork duplicates them
(``copy_nonpresent_pte``: ``swap_duplicate``, the exclusive bit cleared).
``pte_hw_access`` is the MMU's side: a present PTE gets its accessed/dirty
bits on a TLB miss, which reclaim's ``folio_referenced`` reads.

Teardown (``zap_pte_range`` + ``mmu_gather``): PTEs are cleared under the
PTE lock; the folios are gathered and freed after the TLB flush, in batches
of ``MAX_GATHER_BATCH`` pages (the 8 + 19 x 510 page batches of
``tlb_next_batch`` force a flush about every 9.7k pages).  A TLB flush of an
mm that other CPUs have run (``mm_cpumask``, never trimmed in 6.12) sends
them IPIs: the initiator waits ``tlb_ipi_ns``, each target is charged
``ipi_handle_ns``.
"""
from __future__ import annotations

from array import array

from ..sync import SpinLock
from .filemap import PG_dirty, PG_swapbacked, PG_swapcache, PG_uptodate
from ._internal import PG_lru
from .swapops import (_PAGE_SWP_EXCLUSIVE, is_migration_pte, is_swap_pte,
                      is_readable_exclusive_migration_entry, is_writable_migration_entry, make_readable_migration_entry,
                      pfn_swap_entry_to_pfn, pte_to_swp_entry, swp_entry_to_pte)
from .mm_types import (PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT, PTRS_PER_PTE, VM_EXEC, VM_LOCKED, VM_READ,
                       VM_SHARED, VM_WRITE)

__all__ = ["PageTable", "VM_FAULT_RETRY", "VM_FAULT_OOM", "VM_FAULT_SIGSEGV", "VM_FAULT_MAJOR",
           "pte_pfn", "pte_present", "pte_write", "mk_pte", "swp_entry_to_pte",
           "pte_to_swp_entry", "is_swap_pte"]

_PAGE_PRESENT = 0x1
_PAGE_RW = 0x2
_PAGE_USER = 0x4
_PAGE_ACCESSED = 0x20
_PAGE_DIRTY = 0x40
_PAGE_SPECIAL = 0x200

VM_FAULT_OOM = 0x1
VM_FAULT_SIGBUS = 0x2
VM_FAULT_MAJOR = 0x4
VM_FAULT_SIGSEGV = 0x40
VM_FAULT_NOPAGE = 0x100
VM_FAULT_LOCKED = 0x200
VM_FAULT_RETRY = 0x400
VM_FAULT_FALLBACK = 0x800                 # a huge-page fault falls back to PTEs
VM_FAULT_COMPLETED = 0x4000
VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV

# mmu_gather: MMU_GATHER_BUNDLE on-stack pages, then up to MAX_GATHER_BATCH_COUNT
# extra batches of MAX_GATHER_BATCH = (PAGE_SIZE - header) / sizeof(void *) pages.
MMU_GATHER_BUNDLE = 8
MAX_GATHER_BATCH = 510
MAX_GATHER_BATCH_COUNT = 10000 // MAX_GATHER_BATCH
GATHER_PAGES = MMU_GATHER_BUNDLE + MAX_GATHER_BATCH_COUNT * MAX_GATHER_BATCH
# flush_tlb_mm_range: above this many pages a full flush replaces invlpg
tlb_single_page_flush_ceiling = 33
FAULT_AROUND_PAGES = 65536 >> PAGE_SHIFT     # fault_around_bytes default


def mk_pte(pfn: int, write: bool, dirty: bool = False, special: bool = False) -> int:
    v = (pfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED
    if write:
        v |= _PAGE_RW
    if dirty:
        v |= _PAGE_DIRTY
    if special:
        v |= _PAGE_SPECIAL
    return v


def pte_present(v: int) -> bool:
    return bool(v & _PAGE_PRESENT)


def pte_pfn(v: int) -> int:
    return v >> PAGE_SHIFT


def pte_write(v: int) -> bool:
    return bool(v & _PAGE_RW)


def pte_hw_access(mm, addr: int, write: bool) -> bool:
    """The MMU's page walk on a TLB miss: a present PTE that allows the
    access gets its accessed bit (and dirty bit on a write) set by hardware,
    as x86 does, and needs no fault (True); anything else faults (False).
    The bits are what folio_referenced and try_to_unmap read."""
    pt = mm.pgtables.get(addr >> PMD_SHIFT)
    if pt is None:
        if mm.pmd_huge:                               # a huge PMD ends the walk
            hp = mm.pmd_huge.get(addr >> PMD_SHIFT)
            if hp is not None:
                if write and not hp.rw:
                    return False
                hp.young = True
                hp.dirty = hp.dirty or write
                return True
        return False
    i = (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
    v = pt.ptes[i]
    if not v & _PAGE_PRESENT or (write and not v & _PAGE_RW):
        return False
    pt.ptes[i] = v | _PAGE_ACCESSED | (_PAGE_DIRTY if write else 0)
    return True


def access_error(vma, write: bool) -> bool:
    """arch/x86/mm/fault.c access_error: a write needs VM_WRITE, a read any access."""
    if write:
        return not vma.vm_flags & VM_WRITE
    return not vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)


async def vma_alloc_folio(sub, gfp: int, order: int = 0) -> int:
    """vma_alloc_folio() (mm/mempolicy.c): a folio for a user mapping.
    Simplification: no NUMA memory policies, the local node's zonelist."""
    return await sub.pa.alloc_pages(gfp, order)


def _fault_error(err: int) -> int:
    """vm_ops->fault's failure as a VM_FAULT code: -2 is filemap_fault's
    FAULT_SIGBUS (beyond EOF, an I/O error), anything else (-1: shmem or the
    page cache found no memory) VM_FAULT_OOM."""
    return VM_FAULT_SIGBUS if err == -2 else VM_FAULT_OOM


class PageTable:
    """One PTE page: 512 entries, its split lock and the frame it lives in."""

    __slots__ = ("ptes", "ptl", "pfn", "nr_present", "nr_swap")

    def __init__(self, engine, pfn: int):
        self.ptes = array("q", bytes(8 * PTRS_PER_PTE))
        self.ptl = SpinLock(engine, "ptlock_ptr(ptdesc)")
        self.pfn = pfn
        self.nr_present = 0
        self.nr_swap = 0


def populated_ptes(mm, start: int, end: int):
    """The pmd-level loop of zap_pte_range/copy_pte_range/change_pte_range:
    for each PTE table of [start, end) with a present entry, yield (table,
    address of its first entry in range, first index, index end).  Tables are
    looked up as the walk reaches them."""
    addr = start
    while addr < end:
        key = addr >> PMD_SHIFT
        nxt = min(end, (key + 1) << PMD_SHIFT)
        pt = mm.pgtables.get(key)
        if pt is not None and (pt.nr_present or pt.nr_swap):
            i0 = (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
            yield pt, addr, i0, i0 + ((nxt - addr) >> PAGE_SHIFT)
        addr = nxt


class Fault:
    """struct vm_fault: the state of one fault."""

    __slots__ = ("vma", "address", "write", "vma_locked", "pt", "idx", "orig_pte", "fault_type")

    def __init__(self, vma, address: int, write: bool, vma_locked: bool):
        self.vma = vma
        self.address = address & ~(PAGE_SIZE - 1)
        self.write = write
        self.vma_locked = vma_locked
        self.pt = None
        self.idx = (address >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
        self.orig_pte = 0
        self.fault_type = 0         # shmem_fault's ret, which shmem_swapin_folio ORs into

class Memory:
    """The fault, zap, copy and TLB paths; one per machine (owned by MMSub)."""

    def __init__(self, sub):
        self.sub = sub
        self.engine = sub.engine
        self.costs = sub.engine.costs
        self.thp = sub.thp                              # mm/huge_memory.py
        self.thp_on = sub.thp.enabled != "never"

    # ----------------------------------------------------------- page tables
    async def pte_alloc(self, mm, addr: int, me) -> PageTable | None:
        """pte_alloc: the PTE table for addr, allocating and installing it if needed."""
        key = addr >> PMD_SHIFT
        pt = mm.pgtables.get(key)
        if pt is not None:
            return pt
        sub = self.sub
        pfn = await sub.pa.alloc_pages(sub.GFP_PGTABLE_USER, 0)   # pte_alloc_one
        if pfn < 0:
            return None
        sub.nr_page_table_pages += 1
        new = PageTable(self.engine, pfn)
        pmdl = mm.pmd_lock(addr)
        await pmdl.lock("pmd_install")
        pt = mm.pgtables.get(key)
        if pt is None and key in mm.pmd_huge:          # a THP was mapped meanwhile
            pmdl.unlock("pmd_install")
            sub.nr_page_table_pages -= 1
            await sub.pa.free_pages(new.pfn, 0)
            return None
        if pt is None:                                 # pmd_none: we install ours
            mm.pgtables[key] = new
            mm.nr_ptes += 1
            pt = new
            new = None
        pmdl.unlock("pmd_install")
        if new is not None:                            # another thread won: pte_free
            sub.nr_page_table_pages -= 1
            await sub.pa.free_pages(new.pfn, 0)
        return pt

    async def _pte_table(self, vmf: "Fault", me):
        """The fault's PTE table, allocated (pte_alloc) on the first touch of its 2 MiB."""
        if vmf.pt is None:
            vmf.pt = await self.pte_alloc(vmf.vma.vm_mm, vmf.address, me)
        return vmf.pt

    # ----------------------------------------------------------------- faults
    async def do_user_addr_fault(self, mm, addr: int, write: bool, me) -> int:
        """arch/x86/mm/fault.c: the per-VMA lock first, then mmap_lock."""
        sub = self.sub
        me.debt += self.costs.exception_ns            # paid at the next scheduling point
        cpu = me.cpu
        if sub.per_vma_lock:
            vma = await self.lock_vma_under_rcu(mm, addr, me)
            if vma is not None:
                if access_error(vma, write):
                    vma.vm_lock.up_read("bad_area_access_error")
                    sub.count(cpu, "vma_lock_success")
                    return VM_FAULT_SIGSEGV
                # handle_mm_fault, inlined (one coroutine frame less per fault)
                ret = await self.handle_pte_fault(Fault(vma, addr, write, True), me)
                if not ret & (VM_FAULT_RETRY | VM_FAULT_COMPLETED):
                    vma.vm_lock.up_read("vma_end_read")
                if not ret & VM_FAULT_RETRY:
                    sub.count_fault(cpu, True)         # pgfault, vma_lock_success
                    return ret
                sub.count(cpu, "vma_lock_retry")
        # lock_mmap: lock_mm_and_find_vma (trylock first, as the kernel does)
        tried = False
        while True:
            if not await mm.mmap_lock.down_read_trylock("lock_mm_and_find_vma"):
                await mm.mmap_lock.down_read("lock_mm_and_find_vma")
            vma = mm.find_vma(addr)
            if vma is None or access_error(vma, write):
                mm.mmap_lock.up_read("bad_area")
                if tried:
                    me.data.pop("fault_tried", None)
                return VM_FAULT_SIGSEGV
            ret = await self.handle_pte_fault(Fault(vma, addr, write, False), me)
            if not ret & VM_FAULT_RETRY:               # handle_mm_fault, inlined
                sub.count_fault(cpu, False)            # pgfault
            if ret & VM_FAULT_RETRY:
                mm.mmap_lock.up_read("do_user_addr_fault")
                # folio_lock_or_retry's wait, after mmap_lock is dropped
                # (release_fault_lock, folio_wait_locked); then FAULT_FLAG_TRIED
                pfn = me.data.pop("fault_wait_folio", None)
                if pfn is not None:
                    await sub.folio_locks.folio_lock(pfn, me)
                    sub.folio_locks.folio_unlock(pfn, me)
                    await sub.lru.folios_put_refs([(pfn, 1)], me)
                tried = True
                me.data["fault_tried"] = True
                continue
            mm.mmap_lock.up_read("do_user_addr_fault")
            if tried:
                me.data.pop("fault_tried", None)
            return ret

    async def lock_vma_under_rcu(self, mm, addr: int, me):
        sub = self.sub
        # mas_walk under RCU: read the tree's root and leaf lines (lockless: no
        # scheduling point of its own; the cost is paid with the next one)
        me.debt += mm.mt_line.read(me.cpu) + self.costs.llc_hit_ns
        vma = mm.find_vma(addr)
        if vma is None:
            sub.count(me.cpu, "vma_lock_abort")
            return None
        if vma.vm_lock_seq == mm.mm_lock_seq:          # vma_start_read pre-check
            sub.count(me.cpu, "vma_lock_abort")
            return None
        locked = await vma.vm_lock.down_read_trylock("vma_start_read")
        if sub.prefetchw_mmap_lock:
            # exc_page_fault's prefetchw(&current->mm->mmap_lock) (until 6.16): every
            # fault pulls mmap_lock's line over, per-VMA or not, without waiting for it.
            # Simplification: issued here, where the fault first pays its pending costs,
            # not at exception entry; on the mmap_lock path it is not modelled (the
            # trylock that follows fetches the same line anyway).
            mm.mmap_lock.line.prefetchw(me.cpu)
        if not locked:
            sub.count(me.cpu, "vma_lock_abort")
            return None
        if vma.vm_lock_seq == mm.mm_lock_seq:          # recheck (acquire)
            vma.vm_lock.up_read("vma_start_read")
            sub.count(me.cpu, "vma_lock_abort")
            return None
        if vma.detached:
            vma.vm_lock.up_read("vma_end_read")
            sub.count(me.cpu, "vma_lock_miss")
            return await self.lock_vma_under_rcu(mm, addr, me)
        return vma

    async def handle_mm_fault(self, vma, addr: int, write: bool, vma_locked: bool, me) -> int:
        """For callers that keep their lock (populate): no retry, a folio lock
        is waited for in place (as with FAULT_FLAG_TRIED)."""
        vmf = Fault(vma, addr, write, vma_locked)
        tried = me.data.get("fault_tried")
        me.data["fault_tried"] = True
        ret = await self.handle_pte_fault(vmf, me)
        if not tried:
            me.data.pop("fault_tried", None)
        if not ret & VM_FAULT_RETRY:
            self.sub.count(me.cpu, "pgfault")          # mm_account_fault
        return ret

    def handle_pte_fault(self, vmf: Fault, me, fallback: bool = False):
        """handle_pte_fault: the handler for the PTE's state.  A plain function
        that returns the handler's coroutine for the caller to await (``await
        self.handle_pte_fault(vmf, me)``): one coroutine frame less per fault."""
        vma = vmf.vma
        pt = vma.vm_mm.pgtables.get(vmf.address >> PMD_SHIFT)
        vmf.pt = pt
        if pt is None:
            # __handle_mm_fault's PMD level: a huge PMD, or create_huge_pmd
            if vma.vm_mm.pmd_huge:
                hp = vma.vm_mm.pmd_huge.get(vmf.address >> PMD_SHIFT)
                if hp is not None:
                    return self.huge_pmd_fault(vmf, hp, me)
            if self.thp_on and not fallback and vma.vm_file is None \
                    and self.thp.thp_vma_allowable(vma):
                return self.create_huge_pmd(vmf, me)
        else:
            vmf.orig_pte = pt.ptes[vmf.idx]            # ptep_get_lockless
        if pt is None or vmf.orig_pte == 0:
            if vmf.vma.vm_file is None:
                return self.do_anonymous_page(vmf, me)
            return self.do_fault(vmf, me)
        if not vmf.orig_pte & _PAGE_PRESENT:
            return self.do_swap_page(vmf, me)
        return self._handle_present_pte(vmf, me)

    async def create_huge_pmd(self, vmf: Fault, me) -> int:
        """create_huge_pmd -> do_huge_pmd_anonymous_page (mm/huge_memory.py);
        on VM_FAULT_FALLBACK the fault goes on at the PTE level."""
        ret = await self.thp.do_huge_pmd_anonymous_page(self, vmf, me)
        if not ret & VM_FAULT_FALLBACK:
            return ret
        return await self.handle_pte_fault(Fault(vmf.vma, vmf.address, vmf.write,
                                                 vmf.vma_locked), me, True)

    async def huge_pmd_fault(self, vmf: Fault, hp, me) -> int:
        """A fault on a present huge PMD: wp_huge_pmd or huge_pmd_set_accessed;
        after a split (VM_FAULT_FALLBACK) the PTE level handles it."""
        ret = await self.thp.huge_pmd_fault(self, vmf, hp, me)
        if not ret & VM_FAULT_FALLBACK:
            return ret
        return await self.handle_pte_fault(Fault(vmf.vma, vmf.address, vmf.write,
                                                 vmf.vma_locked), me, True)

    async def _handle_present_pte(self, vmf: Fault, me) -> int:
        """handle_pte_fault's end for a present PTE: recheck under the PTE lock,
        then do_wp_page or just mark the entry young (and dirty)."""
        pt = vmf.pt
        await pt.ptl.lock("handle_pte_fault")
        cur = pt.ptes[vmf.idx]
        if cur != vmf.orig_pte:                        # !pte_same: someone else fixed it
            pt.ptl.unlock("handle_pte_fault")
            return 0
        if vmf.write and not cur & _PAGE_RW:
            return await self.do_wp_page(vmf, me)      # drops the ptl
        pt.ptes[vmf.idx] = cur | _PAGE_ACCESSED | (_PAGE_DIRTY if vmf.write else 0)
        pt.ptl.unlock("handle_pte_fault")
        return 0

    async def vmf_anon_prepare(self, vmf: Fault, me) -> int:
        vma = vmf.vma
        if vma.anon_vma is not None:
            return 0
        from .rmap import anon_vma_prepare
        mm = vma.vm_mm
        if vmf.vma_locked:
            if not await mm.mmap_lock.down_read_trylock("__vmf_anon_prepare"):
                vma.vm_lock.up_read("vmf_anon_prepare")
                return VM_FAULT_RETRY
        await anon_vma_prepare(self.sub, vma, me)
        if vmf.vma_locked:
            mm.mmap_lock.up_read("__vmf_anon_prepare")
        return 0

    async def do_swap_page(self, vmf: Fault, me) -> int:
        """do_swap_page (6.12, order-0 folios): the swap cache first; on a
        miss either the SWP_SYNCHRONOUS_IO skip-swapcache read (zram, a slot
        only this PTE uses: swapcache_prepare pins the slot) or
        swapin_readahead, counted as a major fault; the folio lock (or
        VM_FAULT_RETRY after waiting for it, under the per-VMA lock); the
        pte_same recheck under the PTL; swap_free, folio_free_swap when swap
        is half full or a write finds the folio exclusive; the rmap and the
        PTE (writable if exclusive); do_wp_page for a write otherwise."""
        from .page_io import swap_read_folio
        from .swap_state import JIFFY_NS
        from .swapfile import SWP_SYNCHRONOUS_IO, swp_type
        sub = self.sub
        orig = vmf.orig_pte
        if is_migration_pte(orig):                     # is_migration_entry (mm/migrate.py)
            return await self.migration_fault(vmf, me)
        sc = sub.swap_cache
        vma = vmf.vma
        mm = vma.vm_mm
        if sc is None:
            return VM_FAULT_SIGBUS                     # print_bad_pte: no such swap device
        swap = sc.swap
        entry = pte_to_swp_entry(orig)
        si = swap.swap_info[swp_type(entry)]           # get_swap_device
        locks = sub.folio_locks
        lru = sub.lru
        pfn = sc.swap_cache_get_folio(entry, vma, vmf.address, me)
        swapcache = pfn
        need_clear_cache = False
        ret = 0
        if pfn < 0:
            if si.flags & SWP_SYNCHRONOUS_IO and swap.swap_count(entry) == 1:
                pfn = await vma_alloc_folio(sub, sub.GFP_HIGHUSER_MOVABLE)   # alloc_swap_folio
                if pfn >= 0:
                    locks.folio_trylock(pfn, me)       # __folio_set_locked
                    sub.mem_map.f[pfn] |= PG_swapbacked
                    if await swap.swapcache_prepare(entry):
                        # a racing swap-in holds the slot: wait a jiffy and refault
                        await self.engine.spend(JIFFY_NS)
                        locks.folio_unlock(pfn, me)
                        await lru.folios_put_refs([(pfn, 1)], me)
                        return 0
                    need_clear_cache = True
                    sc.pinned.add(entry)
                    shadow = sc.get_shadow_from_swap_cache(entry)
                    if shadow is not None:
                        from .workingset import workingset_refault
                        workingset_refault(sub, pfn, shadow, me)
                    await lru.folio_add_lru(pfn, False, me)
                    await swap_read_folio(sub, pfn, me, entry)    # unlocks it (sync)
            else:
                pfn = await sc.swapin_readahead(entry, vmf, me)
                swapcache = pfn
            if pfn < 0:
                pt = vmf.pt
                await pt.ptl.lock("do_swap_page")
                if pt.ptes[vmf.idx] == orig:
                    ret = VM_FAULT_OOM
                pt.ptl.unlock("do_swap_page")
                if need_clear_cache:
                    sc.pinned.discard(entry)
                    await swap.swapcache_clear(entry)
                return ret
            ret = VM_FAULT_MAJOR
            vs = sub.vmstat                            # count_vm_event(PGMAJFAULT)
            vs.count_vm_events(me.cpu, vs.ev["pgmajfault"])
        # folio_lock_or_retry
        if locks.folio_trylock(pfn, me):
            self.engine.charge(self.costs.atomic_rmw_ns)
        elif vmf.vma_locked:
            # release_fault_lock, folio_wait_locked, VM_FAULT_RETRY.
            # Simplification: the wait is a lock and unlock of the folio.
            vma.vm_lock.up_read("folio_lock_or_retry")
            await locks.folio_lock(pfn, me)
            locks.folio_unlock(pfn, me)
            await lru.folios_put_refs([(pfn, 1)], me)
            if need_clear_cache:
                sc.pinned.discard(entry)
                await swap.swapcache_clear(entry)
            return ret | VM_FAULT_RETRY
        elif not me.data.get("fault_tried"):
            # the first attempt under mmap_lock: the caller drops mmap_lock,
            # waits for the folio lock and retries with FAULT_FLAG_TRIED
            me.data["fault_wait_folio"] = pfn          # with the lookup's reference
            if need_clear_cache:
                sc.pinned.discard(entry)
                await swap.swapcache_clear(entry)
            return ret | VM_FAULT_RETRY
        else:
            await locks.folio_lock(pfn, me)            # FAULT_FLAG_TRIED: __folio_lock
        f = sub.mem_map.f
        if swapcache >= 0:
            if not f[pfn] & PG_swapcache or sc.folio_swap.get(pfn) != entry:
                locks.folio_unlock(pfn, me)            # out_page: reclaimed meanwhile
                await lru.folios_put_refs([(pfn, 1)], me)
                return ret
            if vmf.write and not f[pfn] & PG_lru:
                await lru.lru_add_drain(me)
        pt = vmf.pt
        await pt.ptl.lock("do_swap_page")
        if not self.swapin_pte_same(pt, vmf, orig) or not f[pfn] & PG_uptodate:
            if pt.ptes[vmf.idx] == orig:               # !uptodate: a read error
                ret = VM_FAULT_SIGBUS
            else:
                sc.pte_changed += 1                    # another fault got there first
            pt.ptl.unlock("do_swap_page")              # out_nomap
            locks.folio_unlock(pfn, me)
            await lru.folios_put_refs([(pfn, 1)], me)
            if need_clear_cache:
                sc.pinned.discard(entry)
                await swap.swapcache_clear(entry)
            return ret
        exclusive = bool(orig & _PAGE_SWP_EXCLUSIVE) or swapcache < 0
        await swap.swap_free(entry)                    # swap_free_nr
        if f[pfn] & PG_swapcache and (
                swap.vm_swap_full() or vma.vm_flags & VM_LOCKED
                or (vmf.write and sub.mem_map.ref[pfn] == 2)):   # should_try_to_free_swap
            await sc.folio_free_swap(pfn, me)
        mm.rss[mm.MM_ANONPAGES] += 1
        mm.rss[mm.MM_SWAPENTS] -= 1
        writable = dirty = False
        write_done = False
        if exclusive or sub.mem_map.ref[pfn] == 1:
            if vma.vm_flags & VM_WRITE:
                writable = True
                if vmf.write:
                    dirty = write_done = True
            exclusive = True                           # RMAP_EXCLUSIVE
        rmap = sub.rmap
        assert vma.anon_vma is not None, "do_swap_page: a swap PTE in a VMA without anon_vma"
        if not rmap.folio_test_anon(pfn):
            rmap.folio_add_new_anon_rmap(pfn, vma, vmf.address)
            if not exclusive:
                # __folio_set_anon: a folio not exclusive to this VMA takes the
                # oldest anon_vma (the root), which every sharer's VMA reaches
                rmap.anon_exclusive.discard(pfn)
                rmap.mapping[pfn] = (vma.anon_vma.root, rmap.mapping[pfn][1])
        else:
            rmap.folio_add_file_rmap_pte(pfn)          # folio_add_anon_rmap_ptes: _mapcount + 1
            if exclusive:
                rmap.anon_exclusive.add(pfn)
        await self.engine.spend(sub.mem_map_line(pfn, me))
        # the lookup's reference becomes the mapping's (folio_ref_add(folio, nr - 1))
        new = mk_pte(pfn, writable, dirty=dirty)
        pt.ptes[vmf.idx] = new
        pt.nr_swap -= 1
        pt.nr_present += 1
        locks.folio_unlock(pfn, me)
        if vmf.write and not write_done:
            vmf.orig_pte = new
            ret |= await self.do_wp_page(vmf, me)      # drops the ptl
            if ret & VM_FAULT_ERROR:
                ret &= VM_FAULT_ERROR
        else:
            pt.ptl.unlock("do_swap_page")
        if need_clear_cache:
            sc.pinned.discard(entry)
            await swap.swapcache_clear(entry)          # after the PTL, as 6.12 does
        return ret

    async def migration_fault(self, vmf: Fault, me) -> int:
        """do_swap_page on a migration entry: migration_entry_wait, then the
        access is retried, as the CPU retries the faulting instruction (the
        MMU's walk; a refault if the new PTE does not allow the access)."""
        await self.sub.compaction.migrate.migration_entry_wait(vmf, me)
        if pte_hw_access(vmf.vma.vm_mm, vmf.address, vmf.write):
            return 0
        return await self.handle_pte_fault(Fault(vmf.vma, vmf.address, vmf.write,
                                                 vmf.vma_locked), me)

    def swapin_pte_same(self, pt, vmf: Fault, orig: int) -> bool:
        """do_swap_page's pte_same(ptep_get(vmf->pte), vmf->orig_pte) under the
        PTL ([constants] DO_SWAP_PAGE_PTE_SAME = false skips it: the buggy race
        variant, where a second faulter maps the folio over the first one's PTE)."""
        return pt.ptes[vmf.idx] == orig or not self.sub.swap_cache.pte_same_recheck

    async def do_anonymous_page(self, vmf: Fault, me) -> int:
        # The usual case (PTE table present, anon_vma set, a pcp hit, room in
        # the LRU batch) runs without a coroutine call of its own: each helper
        # that may wait is called only when its synchronous test says it must.
        sub = self.sub
        vma = vmf.vma
        pt = vmf.pt
        if pt is None:
            pt = await self._pte_table(vmf, me)
            if pt is None:
                # pte_alloc lost to a huge PMD: return, the access refaults on it
                return 0 if vmf.address >> PMD_SHIFT in vma.vm_mm.pmd_huge else VM_FAULT_OOM
        idx = vmf.idx
        ptes = pt.ptes
        ptl = pt.ptl
        if not vmf.write:                              # map the shared zero page
            await ptl.lock("do_anonymous_page")
            if ptes[idx] == 0:
                ptes[idx] = mk_pte(sub.zero_pfn, False, special=True)
                pt.nr_present += 1
            ptl.unlock("do_anonymous_page")
            return 0
        if vma.anon_vma is None:                       # vmf_anon_prepare's own test
            ret = await self.vmf_anon_prepare(vmf, me)
            if ret:
                return ret
        # vma_alloc_zeroed_movable_folio: a pcp hit needs no wait (alloc_pages_nowait)
        gfp = sub.GFP_HIGHUSER_MOVABLE_ZERO
        pfn = sub.pa.alloc_pages_nowait(gfp)
        if pfn is None:
            pfn = await vma_alloc_folio(sub, gfp)
        if pfn < 0:
            sub.count(me.cpu, "fault_oom")
            return VM_FAULT_OOM
        await ptl.lock("do_anonymous_page")
        if ptes[idx] != 0:                             # vmf_pte_changed: lost the race
            ptl.unlock("do_anonymous_page")
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return 0
        mm = vma.vm_mm
        mm.rss[mm.MM_ANONPAGES] += 1                   # percpu counter: CPU-local
        sub.rmap.folio_add_new_anon_rmap(pfn, vma, vmf.address)
        lru = sub.lru
        fb = lru.folio_add_lru_nowait(pfn, False, me)
        if fb is not None:                             # a full batch: takes lru_lock under the ptl
            await lru.folio_batch_move_lru(fb, me)
        # mk_pte(pfn, vma writable, dirty=True), spelt out: this is the hottest caller
        ptes[idx] = ((pfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED
                     | _PAGE_DIRTY | (_PAGE_RW if vma.vm_flags & VM_WRITE else 0))
        pt.nr_present += 1
        ptl.unlock("do_anonymous_page")
        return 0

    async def do_fault(self, vmf: Fault, me) -> int:
        vma = vmf.vma
        if not vmf.write:
            return await self.do_read_fault(vmf, me)
        if not vma.vm_flags & VM_SHARED:
            return await self.do_cow_fault(vmf, me)
        return await self.do_shared_fault(vmf, me)

    async def _shmem_fault(self, vmf: Fault, me) -> int:
        """vma->vm_ops->fault (__do_fault): a locked page-cache folio with a
        reference.  shmem_fault also leaves VM_FAULT_MAJOR in
        ``vmf.fault_type`` when it read the folio from swap; the do_*_fault
        callers return it, as the kernel's return __do_fault's ret."""
        inode = vmf.vma.vm_file
        index = vmf.vma.linear_page_index(vmf.address)
        if inode.mapping.shmem is not None:            # shmem_fault
            return await inode.get_folio(index, me, vmf)
        return await inode.get_folio(index, me)        # filemap_fault

    async def do_read_fault(self, vmf: Fault, me) -> int:
        sub = self.sub
        if await self._pte_table(vmf, me) is None:
            return VM_FAULT_OOM
        if await self.do_fault_around(vmf, me):
            return 0
        pfn = await self._shmem_fault(vmf, me)
        if pfn < 0:
            return _fault_error(pfn)
        await self.finish_fault(vmf, pfn, False, me)
        sub.folio_locks.folio_unlock(pfn, me)
        return vmf.fault_type

    async def do_fault_around(self, vmf: Fault, me) -> bool:
        """filemap_map_pages over the fault-around window: map cached, uptodate,
        unlocked folios read-only under one PTE lock.  True if vmf's page got mapped."""
        sub = self.sub
        vma = vmf.vma
        inode = vma.vm_file
        pt = vmf.pt
        start = max(vmf.idx & ~(FAULT_AROUND_PAGES - 1),
                    vmf.idx - ((vmf.address - vma.vm_start) >> PAGE_SHIFT))
        end = min(start + FAULT_AROUND_PAGES, PTRS_PER_PTE,
                  vmf.idx + ((vma.vm_end - vmf.address) >> PAGE_SHIFT))
        base = vmf.address - (vmf.idx << PAGE_SHIFT)
        got = False
        f = sub.mem_map.f
        from .filemap import PG_locked, PG_readahead, PG_uptodate
        await pt.ptl.lock("filemap_map_pages")
        for i in range(start, end):
            if pt.ptes[i]:
                continue
            index = vma.linear_page_index(base + (i << PAGE_SHIFT))
            pfn = inode.mapping.i_pages.get(index)
            # next_uptodate_folio: skip locked, !uptodate and PG_readahead
            # folios (a fault on the marked one starts async readahead)
            if pfn is None or f[pfn] & (PG_locked | PG_readahead) or not f[pfn] & PG_uptodate:
                continue
            sub.mem_map.ref[pfn] += 1
            sub.rmap.folio_add_file_rmap_pte(pfn)
            vma.vm_mm.rss[vma.vm_mm.mm_counter_file(f[pfn])] += 1
            pt.ptes[i] = mk_pte(pfn, False)
            pt.nr_present += 1
            if i == vmf.idx:
                got = True
        await self.engine.spend((end - start) * self.costs.l1_hit_ns * 4)
        pt.ptl.unlock("filemap_map_pages")
        return got

    async def do_cow_fault(self, vmf: Fault, me) -> int:
        sub = self.sub
        ret = await self.vmf_anon_prepare(vmf, me)
        if ret:
            return ret
        new = await vma_alloc_folio(sub, sub.GFP_HIGHUSER_MOVABLE)    # folio_prealloc
        if new < 0:
            return VM_FAULT_OOM
        old = await self._shmem_fault(vmf, me)
        if old < 0:
            await sub.lru.folios_put_refs([(new, 1)], me)
            return _fault_error(old)
        self.engine.charge(self.costs.page_copy_ns)   # copy_mc_user_highpage
        await self.finish_fault(vmf, new, True, me)
        sub.folio_locks.folio_unlock(old, me)
        await sub.lru.folios_put_refs([(old, 1)], me)
        return vmf.fault_type

    @staticmethod
    def _page_mkwrite(vma) -> bool:
        """vma->vm_ops->page_mkwrite: a disk file's generic_file_vm_ops has
        filemap_page_mkwrite; shmem_vm_ops has none."""
        return getattr(vma.vm_file, "i_sb", None) is not None

    async def do_page_mkwrite(self, vmf: Fault, pfn: int, me) -> bool:
        """do_page_mkwrite -> filemap_page_mkwrite (mm/filemap.c): relock the
        folio, give up if truncated meanwhile (VM_FAULT_NOPAGE), mark it dirty
        (folio_mark_dirty: the accounting, the dirty tag, __mark_inode_dirty)
        and return with it locked (VM_FAULT_LOCKED).  folio_wait_stable waits
        for nothing: no device here needs stable pages during writeback."""
        from .page_writeback import folio_mark_dirty
        sub = self.sub
        mapping = vmf.vma.vm_file.mapping
        await sub.folio_locks.folio_lock(pfn, me)
        m = sub.rmap.mapping.get(pfn)
        if m is None or m[0] is not mapping:
            sub.folio_locks.folio_unlock(pfn, me)
            return False
        await folio_mark_dirty(sub, pfn, mapping, me)
        return True

    async def fault_dirty_shared_page(self, vmf: Fault, pfn: int, me) -> None:
        """fault_dirty_shared_page for a mapping with page_mkwrite: mark the
        (locked) folio dirty, unlock it, balance_dirty_pages_ratelimited."""
        from .page_writeback import balance_dirty_pages_ratelimited, folio_mark_dirty
        sub = self.sub
        mapping = vmf.vma.vm_file.mapping
        await folio_mark_dirty(sub, pfn, mapping, me)
        sub.folio_locks.folio_unlock(pfn, me)
        await balance_dirty_pages_ratelimited(sub, mapping, me)

    async def do_shared_fault(self, vmf: Fault, me) -> int:
        sub = self.sub
        pfn = await self._shmem_fault(vmf, me)
        if pfn < 0:
            return _fault_error(pfn)
        if self._page_mkwrite(vmf.vma):                # a disk file: filemap_page_mkwrite
            sub.folio_locks.folio_unlock(pfn, me)
            if not await self.do_page_mkwrite(vmf, pfn, me):
                await sub.lru.folios_put_refs([(pfn, 1)], me)
                return 0                               # VM_FAULT_NOPAGE: retried
            ok = await self.finish_fault(vmf, pfn, False, me)
            if not ok:
                sub.folio_locks.folio_unlock(pfn, me)
                await sub.lru.folios_put_refs([(pfn, 1)], me)
                return 0
            await self.fault_dirty_shared_page(vmf, pfn, me)
            return 0
        ok = await self.finish_fault(vmf, pfn, False, me)
        if not ok:
            sub.folio_locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return vmf.fault_type
        sub.mem_map.f[pfn] |= PG_dirty                 # fault_dirty_shared_page
        sub.folio_locks.folio_unlock(pfn, me)
        return vmf.fault_type

    async def finish_fault(self, vmf: Fault, pfn: int, is_cow: bool, me) -> bool:
        """Map pfn at vmf.address; the caller's reference becomes the PTE's."""
        sub = self.sub
        vma = vmf.vma
        mm = vma.vm_mm
        pt = await self._pte_table(vmf, me)
        if pt is None:
            return False
        await pt.ptl.lock("finish_fault")
        if pt.ptes[vmf.idx] != 0:                      # vmf_pte_changed
            pt.ptl.unlock("finish_fault")
            if is_cow:
                await sub.lru.folios_put_refs([(pfn, 1)], me)
            return False
        writable = vmf.write and bool(vma.vm_flags & VM_WRITE)
        if is_cow:
            sub.rmap.folio_add_new_anon_rmap(pfn, vma, vmf.address)
            await sub.lru.folio_add_lru(pfn, False, me)
            mm.rss[mm.MM_ANONPAGES] += 1
        else:
            sub.rmap.folio_add_file_rmap_pte(pfn)
            await self.engine.spend(sub.mem_map_line(pfn, me))     # atomic on _mapcount
            mm.rss[mm.mm_counter_file(sub.mem_map.f[pfn])] += 1
            writable = writable and bool(vma.vm_flags & VM_SHARED)
        pt.ptes[vmf.idx] = mk_pte(pfn, writable, dirty=vmf.write)
        pt.nr_present += 1
        pt.ptl.unlock("finish_fault")
        return True

    async def do_wp_page(self, vmf: Fault, me) -> int:
        """A write to a present read-only PTE; entered with the PTE lock held."""
        sub = self.sub
        vma = vmf.vma
        pt = vmf.pt
        cur = pt.ptes[vmf.idx]
        pfn = pte_pfn(cur)
        special = bool(cur & _PAGE_SPECIAL)
        if vma.vm_flags & VM_SHARED and not special and self._page_mkwrite(vma):
            return await self.wp_page_shared_mkwrite(vmf, cur, pfn, me)
        if vma.vm_flags & VM_SHARED and not special:   # wp_page_shared (tmpfs: no mkwrite)
            pt.ptes[vmf.idx] = cur | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED
            pt.ptl.unlock("wp_page_shared")
            sub.mem_map.f[pfn] |= PG_dirty
            return 0
        rmap = sub.rmap
        if not special and pfn in rmap.anon_exclusive or (
                not special and self._can_reuse(pfn)):
            rmap.anon_exclusive.add(pfn)
            rmap.folio_move_anon_rmap(pfn, vma)
            pt.ptes[vmf.idx] = cur | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED   # wp_page_reuse
            pt.ptl.unlock("wp_page_reuse")
            sub.count(me.cpu, "pgreuse")
            return 0
        if not special:
            sub.mem_map.ref[pfn] += 1                  # folio_get before dropping the lock
        pt.ptl.unlock("do_wp_page")
        return await self.wp_page_copy(vmf, cur, me)

    async def wp_page_shared_mkwrite(self, vmf: Fault, cur: int, pfn: int, me) -> int:
        """wp_page_shared with page_mkwrite (a disk file's folio that writeback
        write-protected with folio_mkclean, or first mapped read-only):
        folio_get, drop the PTE lock, do_page_mkwrite, finish_mkwrite_fault
        (relock, give up if the PTE changed), wp_page_reuse, then
        fault_dirty_shared_page."""
        sub = self.sub
        pt = vmf.pt
        sub.mem_map.ref[pfn] += 1                      # folio_get
        pt.ptl.unlock("wp_page_shared")
        if not await self.do_page_mkwrite(vmf, pfn, me):
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return 0
        await pt.ptl.lock("finish_mkwrite_fault")
        if pt.ptes[vmf.idx] != cur:                    # !pte_same: someone else got there
            pt.ptl.unlock("finish_mkwrite_fault")
            sub.folio_locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return 0
        pt.ptes[vmf.idx] = cur | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED   # wp_page_reuse
        pt.ptl.unlock("finish_mkwrite_fault")
        await self.fault_dirty_shared_page(vmf, pfn, me)
        await sub.lru.folios_put_refs([(pfn, 1)], me)  # folio_put
        return 0

    def _can_reuse(self, pfn: int) -> bool:
        """wp_can_reuse_anon_folio: an anon folio nobody else references."""
        sub = self.sub
        if not sub.rmap.folio_test_anon(pfn):
            return False
        ref = sub.mem_map.ref[pfn]
        if pfn in sub.lru.in_batches():
            ref -= 1                                   # lru_add_drain would drop the batch ref
        return ref == 1

    async def wp_page_copy(self, vmf: Fault, orig: int, me) -> int:
        sub = self.sub
        vma = vmf.vma
        mm = vma.vm_mm
        old = pte_pfn(orig)
        special = bool(orig & _PAGE_SPECIAL)
        ret = await self.vmf_anon_prepare(vmf, me)
        if ret:
            if not special:
                await sub.lru.folios_put_refs([(old, 1)], me)
            return ret
        gfp = sub.GFP_HIGHUSER_MOVABLE_ZERO if special else sub.GFP_HIGHUSER_MOVABLE
        new = await vma_alloc_folio(sub, gfp)                   # folio_prealloc
        if new < 0:
            if not special:
                await sub.lru.folios_put_refs([(old, 1)], me)
            return VM_FAULT_OOM
        if not special:
            self.engine.charge(self.costs.page_copy_ns)
        pt = vmf.pt
        await pt.ptl.lock("wp_page_copy")
        if pt.ptes[vmf.idx] == orig:
            if special:
                mm.rss[mm.MM_ANONPAGES] += 1
            elif not sub.rmap.folio_test_anon(old):
                mm.rss[mm.mm_counter_file(sub.mem_map.f[old])] -= 1
                mm.rss[mm.MM_ANONPAGES] += 1
            pt.ptes[vmf.idx] = 0                       # ptep_clear_flush
            await self.flush_tlb_mm_range(mm, vmf.address, vmf.address + PAGE_SIZE, False, me)
            sub.rmap.folio_add_new_anon_rmap(new, vma, vmf.address)
            await sub.lru.folio_add_lru(new, False, me)
            pt.ptes[vmf.idx] = mk_pte(new, bool(vma.vm_flags & VM_WRITE), dirty=True)
            put = []
            if not special:
                sub.rmap.folio_remove_rmap_pte(old)
                put.append((old, 2))                   # the mapping's and our reference
            pt.ptl.unlock("wp_page_copy")
            if put:
                await sub.lru.folios_put_refs(put, me)
            return 0
        pt.ptl.unlock("wp_page_copy")
        put = [(new, 1)] + ([] if special else [(old, 1)])
        await sub.lru.folios_put_refs(put, me)
        return 0

    # ------------------------------------------------------------------ TLB
    async def flush_tlb_mm_range(self, mm, start: int, end: int, freed_tables: bool, me):
        """x86 flush_tlb_mm_range: IPIs to the other CPUs in mm_cpumask."""
        sub = self.sub
        costs = self.costs
        others = mm.cpumask & ~(1 << me.cpu)
        pages = (end - start) >> PAGE_SHIFT
        local = costs.tlb_flush_page_ns * min(pages, tlb_single_page_flush_ceiling)
        if others:
            n = 0
            for cpu in sub.cpus_in(others):
                n += 1
                for a in sub.cpu_actors.get(cpu, ()):
                    a.debt += costs.ipi_handle_ns     # flush_tlb_func in the IPI handler
            sub.count(me.cpu, "nr_tlb_remote_flush")
            sub.count(me.cpu, "nr_tlb_remote_flush_received", n)
            await self.engine.spend(costs.tlb_ipi_ns + local)
        else:
            sub.count(me.cpu, "nr_tlb_local_flush_all" if pages > tlb_single_page_flush_ceiling
                      else "nr_tlb_local_flush_one")
            await self.engine.spend(local)

    # ------------------------------------------------------------------ zap
    async def zap_range(self, mm, vma, start: int, end: int, gather: list, me):
        """unmap_single_vma/zap_pte_range: clear PTEs in [start, end) of vma.
        Folios go to ``gather`` (pfn list, one reference each); a full gather
        is flushed (TLB + release) on the way."""
        sub = self.sub
        rmap = sub.rmap
        zero = sub.zero_pfn
        total = 0
        if mm.pmd_huge:                                 # zap_pmd_range's huge PMDs
            total = await self.thp.zap_huge_pmds(self, mm, vma, start, end, gather, me)
        for pt, _, i0, i1 in populated_ptes(mm, start, end):
            await pt.ptl.lock("zap_pte_range")
            ptes = pt.ptes
            cleared = 0
            for i in range(i0, i1):
                v = ptes[i]
                if not v:
                    continue
                ptes[i] = 0
                if not v & _PAGE_PRESENT:               # zap_nonpresent_ptes: a swap entry
                    pt.nr_swap -= 1
                    if is_migration_pte(v):             # the page being migrated: its RSS
                        pfn = pfn_swap_entry_to_pfn(pte_to_swp_entry(v))
                        mm.rss[mm.MM_ANONPAGES if rmap.folio_test_anon(pfn)
                               else mm.mm_counter_file(sub.mem_map.f[pfn])] -= 1
                        continue
                    mm.rss[mm.MM_SWAPENTS] -= 1
                    await sub.swap_cache.free_swap_and_cache(pte_to_swp_entry(v), me)
                    continue
                cleared += 1
                pfn = v >> PAGE_SHIFT
                if v & _PAGE_SPECIAL or pfn == zero:
                    continue
                if rmap.folio_test_anon(pfn):
                    mm.rss[mm.MM_ANONPAGES] -= 1
                else:
                    mm.rss[mm.mm_counter_file(sub.mem_map.f[pfn])] -= 1
                    if v & _PAGE_DIRTY:
                        sub.mem_map.f[pfn] |= PG_dirty
                rmap.folio_remove_rmap_pte(pfn)
                gather.append(pfn)
            pt.nr_present -= cleared
            total += cleared
            # clearing a PTE and dropping _mapcount: an atomic per page
            await self.engine.spend(cleared * (self.costs.atomic_rmw_ns + self.costs.l1_hit_ns))
            pt.ptl.unlock("zap_pte_range")
            if len(gather) >= GATHER_PAGES:
                await self.tlb_flush_mmu(mm, start, end, gather, False, me)
        return total

    async def tlb_flush_mmu(self, mm, start, end, gather: list, freed_tables: bool, me):
        await self.flush_tlb_mm_range(mm, start, end, freed_tables, me)
        pfns = list(gather)
        gather.clear()
        await self.free_pages_and_swap_cache(pfns, me)

    async def free_pages_and_swap_cache(self, pfns: list, me):
        """free_pages_and_swap_cache (mm/swap_state.c): a gathered folio that
        is in the swap cache and no longer mapped leaves it (free_swap_cache:
        folio_trylock, folio_free_swap), then the folios are released."""
        sub = self.sub
        sc = sub.swap_cache
        if sc is not None and sc.nr_swapcached:
            f = sub.mem_map.f
            locks = sub.folio_locks
            for pfn in pfns:
                if f[pfn] & PG_swapcache and not sub.rmap.mc[pfn] and \
                        locks.folio_trylock(pfn, me):
                    await sc.folio_free_swap(pfn, me)
                    locks.folio_unlock(pfn, me)
        await sub.lru.release_pages(pfns, me)

    async def free_pgtables(self, mm, vmas: list, me):
        """Unlink the VMAs from the rmap and free PTE tables no VMA still covers."""
        from .rmap import unlink_anon_vmas
        from .vma import unlink_file_vma
        for vma in vmas:
            await unlink_anon_vmas(vma)
            await unlink_file_vma(vma)
        freed = []
        for vma in vmas:
            k0 = vma.vm_start >> PMD_SHIFT
            k1 = (vma.vm_end - 1) >> PMD_SHIFT
            for key in range(k0, k1 + 1):
                pt = mm.pgtables.get(key)
                if pt is None or pt.nr_present or pt.nr_swap:
                    continue
                lo, hi = key << PMD_SHIFT, (key + 1) << PMD_SHIFT
                if any(v.vm_start < hi and v.vm_end > lo for v in mm.overlapping(lo, hi)):
                    continue                          # still used by a live VMA
                del mm.pgtables[key]
                mm.nr_ptes -= 1
                freed.append(pt.pfn)
        return freed

    async def unmap_region(self, mm, vmas: list, start: int, end: int, me, fullmm=False):
        """vms_clear_ptes: lru_add_drain, zap, free_pgtables, tlb_finish_mmu."""
        sub = self.sub
        await sub.lru.lru_add_drain(me)
        gather: list[int] = []
        cleared = 0
        for vma in vmas:
            cleared += await self.zap_range(mm, vma, max(start, vma.vm_start),
                                            min(end, vma.vm_end), gather, me)
        tables = await self.free_pgtables(mm, vmas, me)
        # tlb_flush_mmu_tlbonly returns early unless PTEs were cleared or tables freed
        if cleared or tables or fullmm:
            await self.flush_tlb_mm_range(mm, start, end, bool(tables), me)
        if gather:
            await self.free_pages_and_swap_cache(gather, me)
        for pfn in tables:                             # tlb_remove_table
            sub.nr_page_table_pages -= 1
            await sub.pa.free_pages(pfn, 0)

    # ----------------------------------------------------------------- fork
    async def copy_page_range(self, dst_vma, src_vma, me):
        """fork: share the parent's pages, write-protecting private ones (COW)."""
        sub = self.sub
        src_mm, dst_mm = src_vma.vm_mm, dst_vma.vm_mm
        if src_vma.anon_vma is None:                   # vma_needs_copy: refault in the child
            return True
        cow = not src_vma.vm_flags & VM_SHARED
        rmap = sub.rmap
        ref = sub.mem_map.ref
        if src_mm.pmd_huge and not await self.thp.copy_huge_pmds(dst_vma, src_vma, me):
            return False
        for spt, addr, i0, i1 in populated_ptes(src_mm, src_vma.vm_start, src_vma.vm_end):
            dpt = await self.pte_alloc(dst_mm, addr, me)
            if dpt is None:
                return False
            await dpt.ptl.lock("copy_pte_range")
            await spt.ptl.lock("copy_pte_range", 1)    # spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)
            n = 0
            for i in range(i0, i1):
                v = spt.ptes[i]
                if not v & _PAGE_PRESENT:
                    if v and is_migration_pte(v):      # copy_nonpresent_pte: migration entry
                        e = pte_to_swp_entry(v)
                        if cow and (is_writable_migration_entry(e)
                                    or is_readable_exclusive_migration_entry(e)):
                            v = swp_entry_to_pte(make_readable_migration_entry(
                                pfn_swap_entry_to_pfn(e)))
                            spt.ptes[i] = v
                        dpt.ptes[i] = v
                        dpt.nr_swap += 1
                        mp = pfn_swap_entry_to_pfn(e)
                        dst_mm.rss[dst_mm.MM_ANONPAGES if rmap.folio_test_anon(mp)
                                   else dst_mm.mm_counter_file(sub.mem_map.f[mp])] += 1
                    elif v:                            # copy_nonpresent_pte: a swap entry
                        await sub.swap.swap_duplicate(pte_to_swp_entry(v))
                        if v & _PAGE_SWP_EXCLUSIVE:   # now shared: pte_swp_clear_exclusive
                            v &= ~_PAGE_SWP_EXCLUSIVE
                            spt.ptes[i] = v
                        dpt.ptes[i] = v
                        dpt.nr_swap += 1
                        dst_mm.rss[dst_mm.MM_SWAPENTS] += 1
                    continue
                pfn = v >> PAGE_SHIFT
                if not v & _PAGE_SPECIAL:
                    ref[pfn] += 1                      # folio_get
                    rmap.folio_dup_rmap_pte(pfn)
                    if rmap.folio_test_anon(pfn):
                        dst_mm.rss[dst_mm.MM_ANONPAGES] += 1
                    else:
                        dst_mm.rss[dst_mm.mm_counter_file(sub.mem_map.f[pfn])] += 1
                if cow and v & _PAGE_RW:
                    v &= ~_PAGE_RW                     # wrprotect_ptes(src) + pte_wrprotect
                    spt.ptes[i] = v
                dpt.ptes[i] = v & ~_PAGE_ACCESSED      # pte_mkold
                dpt.nr_present += 1
                n += 1
            await self.engine.spend(n * (self.costs.atomic_rmw_ns + 2 * self.costs.l1_hit_ns))
            spt.ptl.unlock("copy_pte_range")
            dpt.ptl.unlock("copy_pte_range")
        return True
