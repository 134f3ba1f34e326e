"""Transparent huge pages: PMD-mapped anonymous folios (mm/huge_memory.c,
include/linux/huge_mm.h, the THP part of mm/memory.c; Linux 6.12).

Knobs, in ``[sysfs]`` under their paths below /sys (mm/huge_memory.c's
``hugepage_attr`` group):

* ``kernel/mm/transparent_hugepage/enabled``: always | madvise | never.  The
  default is mm/Kconfig's choice default, TRANSPARENT_HUGEPAGE_ALWAYS.
* ``kernel/mm/transparent_hugepage/defrag``: always | defer | defer+madvise
  | madvise | never (default madvise: ``TRANSPARENT_HUGEPAGE_DEFRAG_REQ_MADV_FLAG``
  in ``transparent_hugepage_flags``); it picks the gfp mask of a THP fault
  (:func:`vma_thp_gfp_mask`).
* ``kernel/mm/transparent_hugepage/use_zero_page``: 1 (a read fault maps the
  huge zero page).

Simplification: only the top-level ``enabled``; 6.12's per-size mTHP
directories (``hugepages-<size>kB/enabled``, default ``inherit``) are not
modelled, so the only THP order is HPAGE_PMD_ORDER.

Page tables: a PMD that maps a THP is a :class:`HugePmd` in
``mm.pmd_huge`` (keyed like ``mm.pgtables`` by ``addr >> PMD_SHIFT``; a key is
in at most one of the two).  It carries the deposited PTE table
(``pgtable_trans_huge_deposit``: x86 allocates it at fault time so that a
later split never needs memory).  The folio is one order-9 compound page
(``PG_head``, ``mem_map.ord[head] == 9``) on the LRU as one entry;
``rmap.mc[head]`` counts its PMD mappings (``_entire_mapcount``) and
``rss[MM_ANONPAGES]`` counts it as 512 pages.

The fault (``__handle_mm_fault`` -> ``create_huge_pmd`` ->
``do_huge_pmd_anonymous_page``): ``thp_vma_allowable_order`` (enabled mode,
VM_HUGEPAGE / VM_NOHUGEPAGE, the VMA covers the aligned 2 MiB),
``vmf_anon_prepare``, the huge zero page for a read, else an order-9
allocation with :func:`vma_thp_gfp_mask`'s gfp (``thp_fault_fallback`` when
it fails: the fault goes on with base pages), ``pte_alloc_one`` for the
deposit, ``folio_zero_user`` (512 x page_zero_ns), ``pmd_lock``, recheck
``pmd_none``, rmap, LRU (a large folio drains the CPU's lru_add batch at
once: ``folio_batch_add_and_move``), ``set_pmd_at``, ``thp_fault_alloc``.

Splitting (``__split_huge_pmd``, ``split_huge_page``).  Simplification: a
PMD split always splits the folio too (``split_folio`` right after), so a THP
is either PMD-mapped in every mm that maps it or 512 order-0 folios, and
PTE-mapped large folios do not exist here.  The split walks the folio's rmap
under ``anon_vma`` write lock (``unmap_folio`` with TTU_SPLIT_HUGE_PMD) and
turns every PMD mapping into 512 PTEs in its deposited table under
``pmd_lock``; the tails join the LRU after the head under ``lru_lock``
(``lru_add_split_folio``).  Counted: ``thp_split_pmd`` per PMD,
``thp_split_page`` per folio.

The deferred split queue (``deferred_split_folio``, ``deferred_split_scan``,
``deferred_split_count``; one :class:`DeferredSplit` per node, under its
``split_queue_lock``).  A partial munmap or MADV_DONTNEED of a PMD-mapped THP
only splits the PMD in the kernel: the folio stays whole, its unmapped pages
allocated, and ``deferred_split_folio(folio, true)`` queues it
(``thp_deferred_split_page``) until the "thp-deferred_split" shrinker
(mm/shrinker.py, from reclaim's ``shrink_node``) splits it and frees them.
Here the folio is split at once (above), but its pages stay the folio's:
each page whose last reference goes while the folio is queued is kept
(``PageAllocator.folio_parts``), and the kept pages go back to the buddy
allocator when the shrinker splits the folio (``folio_trylock``, then
``split_folio``: ``thp_split_page``, or ``thp_split_page_failed`` when a page
still mapped has an extra reference, ``can_split_folio``), or when the
folio's last mapped page goes too (the whole folio freed:
``folio_unqueue_deferred_split``).  Simplifications: the mapped part behaves
as 512 order-0 folios meanwhile (reclaim, migration and khugepaged handle
its pages one by one, and reclaim's "split partially mapped folios right
away" in ``shrink_folio_list`` does not arise); the queueing happens after
the split, not under the PTE lock.  6.12's ``shrink_underused`` (every new
THP queued with ``deferred_split_folio(folio, false)``, split by the shrinker
as ``thp_underused_split_page`` when more than ``max_ptes_none`` of its pages
are zero-filled) is not modelled: page contents are not tracked, and with the
default ``max_ptes_none`` of 511 ``thp_underused`` is false anyway (the
kernel's queue then also holds every fully mapped THP, which the shrinker
takes off again: ``deferred_split_count`` is larger there than here).

Who splits: a partial munmap/mprotect/mremap (``vma_adjust_trans_huge``), a
zap of part of a PMD (``zap_pmd_range``), a write fault on a shared or
huge-zero PMD (``do_huge_pmd_wp_page`` -> fallback), and reclaim: 6.12 tries
``add_to_swap`` of the whole folio (THP_SWAP) and on failure splits it
(``thp_swpout_fallback``); this model's swap allocator hands out order-0
slots only, so reclaim always takes the split (``split_folio_to_list``: the
tails join the list being reclaimed).
"""
from __future__ import annotations

from ..schema import Field, one_of
from ._internal import HPAGE_PMD_ORDER, PG_head, PG_lru
from .filemap import PG_locked
from .gfp import (GFP, GFP_TRANSHUGE, GFP_TRANSHUGE_LIGHT, __GFP_DIRECT_RECLAIM,
                  __GFP_KSWAPD_RECLAIM, __GFP_NORETRY, __GFP_ZERO)
from .memory import VM_FAULT_FALLBACK, VM_FAULT_OOM, PageTable
from .mm_types import PAGE_SHIFT, PMD_SHIFT, PMD_SIZE, VM_SHARED, VM_WRITE

__all__ = ["SYSFS", "HugePmd", "Thp", "DeferredSplit", "vma_thp_gfp_mask", "VM_HUGEPAGE", "VM_NOHUGEPAGE",
           "VM_FAULT_FALLBACK", "HPAGE_PMD_NR", "THP_ENABLED", "THP_DEFRAG"]

# module-level aliases: a double-underscore name inside a class body is mangled
_GFP_ZERO = __GFP_ZERO
_GFP_MOVABLE = GFP["__GFP_MOVABLE"]

HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER
HPAGE_PMD_MASK = ~(PMD_SIZE - 1)
VM_HUGEPAGE = 0x20000000                  # include/linux/mm.h
VM_NOHUGEPAGE = 0x40000000
_VM_FAULT_OOM = VM_FAULT_OOM

THP_ENABLED = ("always", "madvise", "never")
THP_DEFRAG = ("always", "defer", "defer+madvise", "madvise", "never")
_P = "kernel/mm/transparent_hugepage/"

SYSFS = (
    Field(_P + "enabled", str, "always", check=one_of(*THP_ENABLED),
          doc="THP for anonymous faults: always, madvise (MADV_HUGEPAGE regions only) or "
              "never (mm/Kconfig: TRANSPARENT_HUGEPAGE_ALWAYS is the default)"),
    Field(_P + "defrag", str, "madvise", check=one_of(*THP_DEFRAG),
          doc="how hard a THP fault's allocation tries: always (direct reclaim/compaction), "
              "defer (wake kswapd/kcompactd), defer+madvise, madvise (direct for "
              "MADV_HUGEPAGE only), never"),
    Field(_P + "use_zero_page", int, 1, check=one_of(0, 1),
          doc="1: a read fault on an empty huge-page range maps the huge zero page"),
)

# _PAGE_* bits (memory.py has the same, arch/x86/include/asm/pgtable_types.h)
_PAGE_PRESENT, _PAGE_RW, _PAGE_USER = 0x1, 0x2, 0x4
_PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_SPECIAL = 0x20, 0x40, 0x200


class HugePmd:
    """A PMD entry mapping a THP (``pmd_trans_huge``) or the huge zero page."""

    __slots__ = ("pfn", "rw", "young", "dirty", "zero", "pgtable")

    def __init__(self, pfn: int, rw: bool, dirty: bool, zero: bool, pgtable: int):
        self.pfn = pfn
        self.rw = rw
        self.young = True                 # mk_huge_pmd: _PAGE_ACCESSED
        self.dirty = dirty
        self.zero = zero
        self.pgtable = pgtable            # the deposited PTE table's frame


def vma_thp_gfp_mask(defrag: str, vma) -> int:
    """vma_thp_gfp_mask() (mm/huge_memory.c): the gfp of a THP fault for the
    defrag mode and whether the VMA is madvised (VM_HUGEPAGE)."""
    madvised = bool(vma is not None and vma.vm_flags & VM_HUGEPAGE)
    if defrag == "always":                 # always do synchronous compaction
        return GFP_TRANSHUGE | (0 if madvised else __GFP_NORETRY)
    if defrag == "defer":                  # kick kcompactd and fail quickly
        return GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM
    if defrag == "defer+madvise":          # synchronous if madvised, else kick kcompactd
        return GFP_TRANSHUGE_LIGHT | (__GFP_DIRECT_RECLAIM if madvised else __GFP_KSWAPD_RECLAIM)
    if defrag == "madvise":                # synchronous compaction only if madvised
        return GFP_TRANSHUGE_LIGHT | (__GFP_DIRECT_RECLAIM if madvised else 0)
    return GFP_TRANSHUGE_LIGHT


class Thp:
    """The THP state of a machine's address spaces (``sub.thp``)."""

    def __init__(self, sub, machine):
        self.sub = sub
        self.engine = sub.engine
        self.costs = sub.engine.costs
        sysfs = getattr(machine, "sysfs", {})   # a test's stand-in machine may have none
        self.config = bool(sub.pa.thp)     # CONFIG_TRANSPARENT_HUGEPAGE
        self.enabled = sysfs.get(_P + "enabled", "always") if self.config else "never"
        self.defrag = sysfs.get(_P + "defrag", "madvise")
        self.use_zero_page = bool(sysfs.get(_P + "use_zero_page", 1))
        self.huge_zero_pfn = -1            # huge_zero_folio (allocated on first use)
        from .shrinker import Shrinker, shrinker_register
        nodes = sub.pa.nodes
        self.ds_queues = [DeferredSplit(sub.engine, pg.node_id) for pg in nodes]
        self.ds_queued = 0                 # folios ever queued (the report's section shows then)
        self._partial: set[int] = set()    # THP heads a partial unmap is about to split
        sub.pa.folio_part_put = self._folio_part_put
        # thp_shrinker_init: SHRINKER_NUMA_AWARE | SHRINKER_MEMCG_AWARE | SHRINKER_NONSLAB
        self.deferred_split_shrinker = shrinker_register(sub, Shrinker(
            "thp-deferred_split", self.deferred_split_count, self.deferred_split_scan,
            numa_aware=True, nr_nodes=len(nodes)))
        self.khugepaged = None             # mm/khugepaged.py's, set by addrspace.py
        #                                    (its actor starts on demand)
        ev = sub.vmstat.ev
        self._ev = {n: ev[n] for n in ev if n.startswith("thp_")}

    def count(self, cpu: int, name: str, n: int = 1):
        i = self._ev.get(name)
        if i is not None:
            self.sub.vmstat.count_vm_events(cpu, i, n)

    def event(self, name: str) -> int:
        i = self._ev.get(name)
        if i is None:
            return 0
        return sum(ev[i] for ev in self.sub.vmstat.events)

    # ------------------------------------------------------------ policy
    def thp_vma_allowable(self, vma, in_pf: bool = True, enforce_sysfs: bool = True) -> bool:
        """thp_vma_allowable_order(vma, vm_flags, TVA_IN_PF | TVA_ENFORCE_SYSFS,
        PMD_ORDER) for anonymous private VMAs, and thp_vma_suitable_order
        for the faulting address is checked by the caller."""
        if vma.vm_file is not None or vma.vm_flags & (VM_NOHUGEPAGE | VM_SHARED):
            return False
        if enforce_sysfs:
            if self.enabled == "never":
                return False
            if self.enabled == "madvise" and not vma.vm_flags & VM_HUGEPAGE:
                return False
        if vma.vm_end - vma.vm_start < PMD_SIZE:
            return False
        if not in_pf and vma.anon_vma is None:   # khugepaged: nothing to collapse yet
            return False
        return True

    @staticmethod
    def suitable(vma, addr: int) -> bool:
        """thp_vma_suitable_order: the aligned 2 MiB around addr lies in the VMA."""
        haddr = addr & HPAGE_PMD_MASK
        return haddr >= vma.vm_start and haddr + PMD_SIZE <= vma.vm_end

    # ------------------------------------------------------------- faults
    async def do_huge_pmd_anonymous_page(self, mem, vmf, me) -> int:
        """do_huge_pmd_anonymous_page / __do_huge_pmd_anonymous_page."""
        sub = self.sub
        vma = vmf.vma
        mm = vma.vm_mm
        haddr = vmf.address & HPAGE_PMD_MASK
        key = haddr >> PMD_SHIFT
        if not self.suitable(vma, haddr):
            return VM_FAULT_FALLBACK
        ret = await mem.vmf_anon_prepare(vmf, me)
        if ret:
            return ret
        if self.khugepaged is not None:
            await self.khugepaged.khugepaged_enter_vma(vma)
        if not vmf.write and self.use_zero_page:
            return await self._huge_zero_fault(mem, vmf, key, me)
        gfp = vma_thp_gfp_mask(self.defrag, vma)
        pfn = await sub.pa.alloc_pages(gfp, HPAGE_PMD_ORDER)    # vma_alloc_folio
        if pfn < 0:
            self.count(me.cpu, "thp_fault_fallback")
            return VM_FAULT_FALLBACK
        # mem_cgroup_charge: no memcg here, so no thp_fault_fallback_charge
        pgtable = await sub.pa.alloc_pages(sub.GFP_PGTABLE_USER, 0)   # pte_alloc_one
        if pgtable < 0:
            await sub.pa.free_pages(pfn, HPAGE_PMD_ORDER)
            return _VM_FAULT_OOM
        # folio_zero_user: clear_user_highpage on each of the 512 subpages
        await self.engine.spend(self.costs.page_zero_ns << HPAGE_PMD_ORDER)
        ptl = mm.pmd_lock(haddr)
        await ptl.lock("__do_huge_pmd_anonymous_page")
        if key in mm.pgtables or key in mm.pmd_huge:            # !pmd_none
            ptl.unlock("__do_huge_pmd_anonymous_page")
            await sub.pa.free_pages(pgtable, 0)
            await sub.pa.free_pages(pfn, HPAGE_PMD_ORDER)
            return 0
        sub.rmap.folio_add_new_anon_rmap(pfn, vma, haddr)
        lru = sub.lru
        fb = lru.folio_add_lru_nowait(pfn, False, me)           # folio_add_lru_vma
        await lru.folio_batch_move_lru(fb if fb is not None else lru.fbatches[me.cpu], me)
        sub.nr_page_table_pages += 1                            # pgtable_trans_huge_deposit
        mm.pmd_huge[key] = HugePmd(pfn, bool(vma.vm_flags & VM_WRITE), True, False, pgtable)
        mm.rss[mm.MM_ANONPAGES] += HPAGE_PMD_NR
        mm.nr_ptes += 1                                         # mm_inc_nr_ptes
        ptl.unlock("__do_huge_pmd_anonymous_page")
        self.count(me.cpu, "thp_fault_alloc")
        return 0

    async def mm_get_huge_zero_folio(self, me) -> int:
        """get_huge_zero_page: allocated once (GFP_TRANSHUGE | __GFP_ZERO without
        __GFP_MOVABLE), thp_zero_page_alloc / thp_zero_page_alloc_failed.
        Simplification: kept for the whole run (no shrinker frees it)."""
        if self.huge_zero_pfn < 0:
            gfp = (GFP_TRANSHUGE | _GFP_ZERO) & ~_GFP_MOVABLE
            pfn = await self.sub.pa.alloc_pages(gfp, HPAGE_PMD_ORDER)
            if pfn < 0:
                self.count(me.cpu, "thp_zero_page_alloc_failed")
                return -1
            if self.huge_zero_pfn >= 0:                         # lost the cmpxchg race
                await self.sub.pa.free_pages(pfn, HPAGE_PMD_ORDER)
            else:
                self.huge_zero_pfn = pfn
                self.count(me.cpu, "thp_zero_page_alloc")
        return self.huge_zero_pfn

    async def _huge_zero_fault(self, mem, vmf, key: int, me) -> int:
        sub = self.sub
        mm = vmf.vma.vm_mm
        pgtable = await sub.pa.alloc_pages(sub.GFP_PGTABLE_USER, 0)   # pte_alloc_one
        if pgtable < 0:
            return _VM_FAULT_OOM
        zero = await self.mm_get_huge_zero_folio(me)
        if zero < 0:
            await sub.pa.free_pages(pgtable, 0)
            self.count(me.cpu, "thp_fault_fallback")
            return VM_FAULT_FALLBACK
        haddr = key << PMD_SHIFT
        ptl = mm.pmd_lock(haddr)
        await ptl.lock("do_huge_pmd_anonymous_page")
        if key in mm.pgtables or key in mm.pmd_huge:
            ptl.unlock("do_huge_pmd_anonymous_page")
            await sub.pa.free_pages(pgtable, 0)
            return 0
        sub.nr_page_table_pages += 1                            # set_huge_zero_folio
        mm.pmd_huge[key] = HugePmd(zero, False, False, True, pgtable)
        mm.nr_ptes += 1
        ptl.unlock("do_huge_pmd_anonymous_page")
        return 0

    async def huge_pmd_fault(self, mem, vmf, hp: HugePmd, me) -> int:
        """__handle_mm_fault on a trans-huge PMD: do_huge_pmd_wp_page for a
        write to a read-only one, else huge_pmd_set_accessed.  A split
        returns VM_FAULT_FALLBACK: the caller goes on at PTE level."""
        mm = vmf.vma.vm_mm
        haddr = vmf.address & HPAGE_PMD_MASK
        key = haddr >> PMD_SHIFT
        ptl = mm.pmd_lock(haddr)
        await ptl.lock("huge_pmd_set_accessed")
        if mm.pmd_huge.get(key) is not hp:                      # !pmd_same: retry
            ptl.unlock("huge_pmd_set_accessed")
            return 0
        if not vmf.write or hp.rw:
            hp.young = True
            if vmf.write:
                hp.dirty = True
            ptl.unlock("huge_pmd_set_accessed")
            return 0
        # do_huge_pmd_wp_page: reuse an exclusive anon folio, else split and fall back
        sub = self.sub
        if not hp.zero and vmf.vma.vm_flags & VM_WRITE and (
                hp.pfn in sub.rmap.anon_exclusive or
                (sub.rmap.mc[hp.pfn] == 1 and sub.mem_map.ref[hp.pfn] == 1)):
            sub.rmap.anon_exclusive.add(hp.pfn)
            sub.rmap.folio_move_anon_rmap(hp.pfn, vmf.vma)
            hp.rw = hp.young = hp.dirty = True                 # maybe_pmd_mkwrite
            ptl.unlock("do_huge_pmd_wp_page")
            sub.count(me.cpu, "pgreuse")
            return 0
        ptl.unlock("do_huge_pmd_wp_page")
        await self.split_huge_pmd(vmf.vma, haddr, me)
        return VM_FAULT_FALLBACK

    def pmd_hw_access(self, hp: HugePmd, write: bool) -> bool:
        """The MMU's walk ending at a huge PMD (pte_hw_access's PMD case)."""
        if write and not hp.rw:
            return False
        hp.young = True
        if write:
            hp.dirty = True
        return True

    # ------------------------------------------------------------- zap
    async def zap_huge_pmds(self, mem, mm, vma, start: int, end: int, gather: list, me) -> int:
        """zap_pmd_range's huge-PMD cases for [start, end) of vma: a PMD the
        range covers is zapped whole (zap_huge_pmd), one it covers in part is
        split first (__split_huge_pmd) and left to zap_pte_range.  Returns
        the pages cleared."""
        keys = [k for k in mm.pmd_huge if start < (k + 1) << PMD_SHIFT and k << PMD_SHIFT < end]
        cleared = 0
        for key in sorted(keys):
            haddr = key << PMD_SHIFT
            if haddr < start or haddr + PMD_SIZE > end:
                hp = mm.pmd_huge.get(key)
                if hp is not None and not hp.zero:
                    self._partial.add(hp.pfn)         # deferred_split_folio(, true) after the split
                await self.split_huge_pmd(vma, haddr, me)
                continue
            cleared += await self.zap_huge_pmd(mm, key, gather, me)
        return cleared

    def count_partial_unmap(self, mm, start: int, end: int, me):
        """Mark each THP that [start, end) unmaps in part: the split that the
        unmap's split_vma makes of it queues it for deferred split."""
        for addr in sorted({a & HPAGE_PMD_MASK for a in (start, end) if a & (PMD_SIZE - 1)}):
            hp = mm.pmd_huge.get(addr >> PMD_SHIFT)
            if hp is not None and not hp.zero:
                self._partial.add(hp.pfn)

    async def zap_huge_pmd(self, mm, key: int, gather: list, me) -> int:
        sub = self.sub
        haddr = key << PMD_SHIFT
        ptl = mm.pmd_lock(haddr)
        await ptl.lock("zap_huge_pmd")
        hp = mm.pmd_huge.pop(key, None)                         # pmdp_huge_get_and_clear_full
        if hp is None:
            ptl.unlock("zap_huge_pmd")
            return 0
        self._partial.discard(hp.pfn)
        mm.nr_ptes -= 1                                         # zap_deposited_table
        sub.nr_page_table_pages -= 1
        if not hp.zero:
            mm.rss[mm.MM_ANONPAGES] -= HPAGE_PMD_NR
            sub.rmap.folio_remove_rmap_pte(hp.pfn)              # folio_remove_rmap_pmd
            gather.append(hp.pfn)                               # tlb_remove_page_size
        await self.engine.spend(self.costs.atomic_rmw_ns + self.costs.l1_hit_ns)
        ptl.unlock("zap_huge_pmd")
        await sub.pa.free_pages(hp.pgtable, 0)                  # pte_free
        return HPAGE_PMD_NR

    # ------------------------------------------------------------- fork
    async def copy_huge_pmds(self, dst_vma, src_vma, me) -> bool:
        """copy_huge_pmd for every huge PMD of src_vma: the child maps the same
        folio (folio_try_dup_anon_rmap_pmd: no longer exclusive), both
        write-protected, a PTE table deposited in the child; the huge zero
        page is shared as it is."""
        sub = self.sub
        src_mm, dst_mm = src_vma.vm_mm, dst_vma.vm_mm
        keys = sorted(k for k in src_mm.pmd_huge
                      if src_vma.vm_start <= k << PMD_SHIFT < src_vma.vm_end)
        for key in keys:
            haddr = key << PMD_SHIFT
            pgtable = await sub.pa.alloc_pages(sub.GFP_PGTABLE_USER, 0)   # pte_alloc_one
            if pgtable < 0:
                return False
            dst_ptl = dst_mm.pmd_lock(haddr)
            src_ptl = src_mm.pmd_lock(haddr)
            await dst_ptl.lock("copy_huge_pmd")
            await src_ptl.lock("copy_huge_pmd", 1)              # spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)
            hp = src_mm.pmd_huge.get(key)
            if hp is None:                                       # split meanwhile
                src_ptl.unlock("copy_huge_pmd")
                dst_ptl.unlock("copy_huge_pmd")
                await sub.pa.free_pages(pgtable, 0)
                continue
            if not hp.zero:
                sub.mem_map.ref[hp.pfn] += 1                     # folio_get
                sub.rmap.folio_dup_rmap_pte(hp.pfn)              # folio_try_dup_anon_rmap_pmd
                dst_mm.rss[dst_mm.MM_ANONPAGES] += HPAGE_PMD_NR
                hp.rw = False                                    # pmdp_set_wrprotect
            sub.nr_page_table_pages += 1
            dst_mm.nr_ptes += 1
            new = HugePmd(hp.pfn, False, hp.dirty, hp.zero, pgtable)
            new.young = False                                    # pmd_mkold
            dst_mm.pmd_huge[key] = new
            await self.engine.spend(self.costs.atomic_rmw_ns + 2 * self.costs.l1_hit_ns)
            src_ptl.unlock("copy_huge_pmd")
            dst_ptl.unlock("copy_huge_pmd")
        return True

    # --------------------------------------------------------- mprotect
    async def change_huge_pmds(self, mm, start: int, end: int, writable: bool, me) -> bool:
        """change_pmd_range's huge case: a PMD inside [start, end) changes whole
        (change_huge_pmd); vma_adjust_trans_huge split the ones across the
        edges before.  Returns whether a write bit went (a flush is due)."""
        changed = False
        for key in sorted(k for k in mm.pmd_huge if start <= k << PMD_SHIFT < end):
            haddr = key << PMD_SHIFT
            if haddr + PMD_SIZE > end:
                continue
            ptl = mm.pmd_lock(haddr)
            await ptl.lock("change_huge_pmd")
            hp = mm.pmd_huge.get(key)
            if hp is not None and hp.rw and not writable:
                hp.rw = False
                changed = True
            ptl.unlock("change_huge_pmd")
        return changed

    async def vma_adjust_trans_huge(self, vma, start: int, end: int, me):
        """vma_adjust_trans_huge: a VMA boundary about to fall inside a huge
        PMD (split_vma at start or end) splits it (split_huge_pmd_if_needed)."""
        mm = vma.vm_mm
        if not mm.pmd_huge:
            return
        for addr in (start, end):
            if addr & (PMD_SIZE - 1):
                key = addr >> PMD_SHIFT
                if key in mm.pmd_huge:
                    await self.split_huge_pmd(vma, key << PMD_SHIFT, me)

    async def split_range(self, mm, start: int, end: int, me):
        """Split every huge PMD overlapping [start, end) (mremap's move_page_tables:
        simplification, move_huge_pmd is not modelled)."""
        for key in sorted(k for k in mm.pmd_huge
                          if start < (k + 1) << PMD_SHIFT and k << PMD_SHIFT < end):
            vma = mm.find_vma(key << PMD_SHIFT)
            if vma is not None:
                await self.split_huge_pmd(vma, key << PMD_SHIFT, me)

    # ----------------------------------------------------------- splitting
    async def split_huge_pmd(self, vma, haddr: int, me):
        """__split_huge_pmd (and, see the module docstring, the folio's split)."""
        mm = vma.vm_mm
        key = haddr >> PMD_SHIFT
        hp = mm.pmd_huge.get(key)
        if hp is None:
            return
        if hp.zero:
            ptl = mm.pmd_lock(haddr)
            await ptl.lock("__split_huge_pmd")
            if mm.pmd_huge.get(key) is hp:
                self._pmd_to_ptes(mm, key, hp, me)              # __split_huge_zero_page_pmd
                self.count(me.cpu, "thp_split_pmd")
                await self.engine.spend(HPAGE_PMD_NR * self.costs.l1_hit_ns)
            ptl.unlock("__split_huge_pmd")
            return
        # The folio's split happens here (the simplification above), and
        # split_huge_page's caller holds the folio lock: take a reference and
        # the lock as do_huge_pmd_wp_page does (folio_get, folio_lock), so that
        # reclaim, which splits a THP it holds locked, and this path never
        # split one folio twice; then recheck the PMD, which may have been
        # split (or zapped) while this task slept.
        head = hp.pfn
        mem_map = self.sub.mem_map
        locks = self.sub.folio_locks
        mem_map.ref[head] += 1                                  # folio_get
        await locks.folio_lock(head, me)
        hp = mm.pmd_huge.get(key)
        if hp is not None and hp.pfn == head:
            await self.split_folio(head, me)
        locks.folio_unlock(head, me)
        await self.sub.lru.folios_put_refs([(head, 1)], me)     # folio_put

    def _pmd_to_ptes(self, mm, key: int, hp: HugePmd, me):
        """__split_huge_pmd_locked: the deposited table, filled with 512 PTEs
        carrying the PMD's write, young and dirty bits, replaces the PMD."""
        del mm.pmd_huge[key]
        pt = PageTable(self.engine, hp.pgtable)                 # pgtable_trans_huge_withdraw
        if hp.zero:
            v0 = ((self.sub.zero_pfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_USER
                  | _PAGE_ACCESSED | _PAGE_SPECIAL)
            for i in range(HPAGE_PMD_NR):
                pt.ptes[i] = v0
        else:
            bits = (_PAGE_PRESENT | _PAGE_USER | (_PAGE_ACCESSED if hp.young else 0)
                    | (_PAGE_DIRTY if hp.dirty else 0) | (_PAGE_RW if hp.rw else 0))
            for i in range(HPAGE_PMD_NR):
                pt.ptes[i] = ((hp.pfn + i) << PAGE_SHIFT) | bits
        pt.nr_present = HPAGE_PMD_NR
        mm.pgtables[key] = pt                                   # pmd_populate

    async def split_folio(self, head: int, me, folio_list: list | None = None) -> bool:
        """split_huge_page_to_list_to_order(folio, list, 0): every PMD mapping
        becomes 512 PTEs (unmap_folio with TTU_SPLIT_HUGE_PMD, under the
        anon_vma write lock), then the folio becomes 512 order-0 folios
        (__split_huge_page under lru_lock: the tails get the head's flags,
        mapping, index + i, their mapping references, and join the LRU after
        the head, or ``folio_list`` when reclaim isolated the head, with an
        isolation reference each).  Simplification: no migration entries
        (remap_page is immediate) and no refcount freeze (the folio has no
        GUP pins here)."""
        from .rmap import AnonVMA, rmap_walk_vmas
        sub = self.sub
        mem_map = sub.mem_map
        f = mem_map.f
        deferred = head in self._partial                # a partial unmap's split (see above)
        if deferred:
            self._partial.discard(head)
        if not f[head] & PG_head or mem_map.ord[head] != HPAGE_PMD_ORDER:
            return False
        assert f[head] & PG_locked, f"split_folio: THP {head:#x} not locked"  # VM_BUG_ON_FOLIO
        rmap = sub.rmap
        m = rmap.mapping.get(head)
        if m is None or type(m[0]) is not AnonVMA:
            return False
        anon_vma, index = m
        root = anon_vma.root
        await root.rwsem.down_write("split_huge_page")         # anon_vma_lock_write
        nmaps = 0
        for vma, addr in rmap_walk_vmas(sub, head):
            mm = vma.vm_mm
            key = addr >> PMD_SHIFT
            ptl = mm.pmd_lock(addr)
            await ptl.lock("__split_huge_pmd")
            hp = mm.pmd_huge.get(key)
            if hp is not None and hp.pfn == head and not hp.zero:
                self._pmd_to_ptes(mm, key, hp, me)
                await sub.memory.flush_tlb_mm_range(mm, addr, addr + PMD_SIZE, False, me)
                self.count(me.cpu, "thp_split_pmd")
                nmaps += 1
                await self.engine.spend(HPAGE_PMD_NR * self.costs.l1_hit_ns)
            ptl.unlock("__split_huge_pmd")
        exclusive = head in rmap.anon_exclusive
        lv = sub.lru.lruvec_of(head)
        await lv.lru_lock.lock_irq("__split_huge_page")
        fl = f[head] & ~PG_head
        tail_fl = fl & ~PG_locked                               # only the head stays locked
        on_lru = bool(fl & PG_lru)
        lru_list = None
        if on_lru:
            for i, lst in enumerate(lv.lists):
                if head in lst:
                    lru_list = i
                    break
        ref = mem_map.ref
        order = mem_map.ord
        f[head] = fl
        order[head] = 0
        for i in range(1, HPAGE_PMD_NR):
            t = head + i
            f[t] = tail_fl                                      # __split_huge_page_tail
            order[t] = 0          # a tail's order field held whatever it last had
            ref[t] = nmaps + (1 if folio_list is not None else 0)
            rmap.mc[t] = nmaps
            rmap.mapping[t] = (anon_vma, index + i)
            if exclusive:
                rmap.anon_exclusive.add(t)
            if on_lru and lru_list is not None:                 # lru_add_split_folio
                lv.add(t, lru_list)
            elif folio_list is not None:
                folio_list.append(t)
        # the head keeps its own references; its mapcount is now one per PTE mapping
        await self.engine.spend(HPAGE_PMD_NR * 2 * self.costs.l1_hit_ns)
        lv.lru_lock.unlock_irq("__split_huge_page")
        root.rwsem.up_write("split_huge_page")
        if not deferred:                    # else the kernel split only the PMD: counted later
            self.count(me.cpu, "thp_split_page")
        # a tail nobody maps (an unmapped range of a partially unmapped folio) is freed
        free = [(head + i, 1) for i in range(1, HPAGE_PMD_NR) if ref[head + i] == 0]
        if free:
            for p, _ in free:
                ref[p] = 1
            await sub.lru.folios_put_refs(free, me)
        if deferred:
            await self.deferred_split_folio(head, root, me)
        return True

    # ------------------------------------------------- deferred split queue
    def _queue_of(self, pfn: int) -> "DeferredSplit":
        pa = self.sub.pa
        return self.ds_queues[pa.zones[self.sub.mem_map.zid[pfn]].node]

    async def deferred_split_folio(self, head: int, root, me):
        """deferred_split_folio(folio, true): the folio (its pages still in use)
        onto its node's queue under split_queue_lock, thp_deferred_split_page."""
        ref = self.sub.mem_map.ref
        e = _DsFolio(head, root, [p for p in range(head, head + HPAGE_PMD_NR) if ref[p] > 0])
        if not e.alive:
            return
        parts = self.sub.pa.folio_parts
        for p in e.alive:
            parts[p] = e
        q = self._queue_of(head)
        flags = await q.split_queue_lock.lock_irqsave("deferred_split_folio")
        q.split_queue.append(e)
        e.queued = True
        q.split_queue_len += 1
        self.count(me.cpu, "thp_deferred_split_page")
        self.ds_queued += 1
        q.split_queue_lock.unlock_irqrestore(flags, "deferred_split_folio")

    def _folio_part_put(self, pfn: int):
        """The last put of a queued folio's page (PageAllocator.free_pages_nowait):
        the page stays the folio's (refcount 1, the folio's) while another of
        its pages is in use or the shrinker holds the folio; the last one
        frees the folio: its pages together."""
        e = self.sub.pa.folio_parts.pop(pfn)
        e.alive.discard(pfn)
        e.held.append(pfn)
        if e.alive or e.pinned:
            return None
        return self._folio_free_nowait(e)

    def _folio_free_nowait(self, e: "_DsFolio"):
        """__folio_put of a queued folio: folio_unqueue_deferred_split (under
        split_queue_lock), then every page back to the page allocator.  Done
        at once when the lock is free (the caller may be inside a page table
        update that does not wait here: spin_lock_irqsave of a free lock
        taken as a trylock, the simulator's shortcut); else returns the
        coroutine that waits for it."""
        q = self._queue_of(e.head)
        me = self.engine.current
        if e.queued:
            lk = q.split_queue_lock
            if not lk.trylock_now(me, "__folio_unqueue_deferred_split"):
                return self._folio_free(e)
            self._unqueue(q, e)
            lk.unlock("__folio_unqueue_deferred_split")
        return self._free_held(e)

    @staticmethod
    def _unqueue(q, e):
        if e.queued:
            q.split_queue.remove(e)
            e.queued = False
            q.split_queue_len -= 1

    def _free_held(self, e: "_DsFolio"):
        """The kept pages to the page allocator; a coroutine for the ones that
        must wait (zone->lock), else None."""
        held, e.held = e.held, []
        pa = self.sub.pa
        rest = []
        for i, p in enumerate(sorted(held)):
            cont = pa.free_pages_nowait(p, 0)
            if cont is not None:
                rest = sorted(held)[i + 1:]
                return self._free_rest(cont, rest)
        return None

    async def _free_rest(self, cont, rest):
        await cont
        pa = self.sub.pa
        for p in rest:
            await pa.free_pages(p, 0)

    async def _folio_free(self, e: "_DsFolio"):
        q = self._queue_of(e.head)
        if e.queued:
            flags = await q.split_queue_lock.lock_irqsave("__folio_unqueue_deferred_split")
            self._unqueue(q, e)
            q.split_queue_lock.unlock_irqrestore(flags, "__folio_unqueue_deferred_split")
        cont = self._free_held(e)
        if cont is not None:
            await cont

    def deferred_split_count(self, nid: int) -> int:
        """deferred_split_count: READ_ONCE(ds_queue->split_queue_len)."""
        return self.ds_queues[nid].split_queue_len

    async def deferred_split_scan(self, nid: int, nr_to_scan: int, me) -> tuple[int, int]:
        """deferred_split_scan: up to nr_to_scan folios off the queue under
        split_queue_lock (each pinned, folio_try_get; one whose last page went
        meanwhile is dropped), then, unlocked, folio_trylock and split_folio
        each; the ones not split go back to the queue's tail.  Returns (folios
        split or SHRINK_STOP, nr_scanned)."""
        q = self.ds_queues[nid]
        q.scanning += 1
        try:
            return await self._deferred_split_scan(q, nr_to_scan, me)
        finally:
            q.scanning -= 1

    async def _deferred_split_scan(self, q, nr_to_scan: int, me) -> tuple[int, int]:
        from .shrinker import SHRINK_STOP
        lock = q.split_queue_lock
        flags = await lock.lock_irqsave("deferred_split_scan")
        batch = []
        n = nr_to_scan
        while q.split_queue and n:
            e = q.split_queue.pop(0)
            e.queued = False
            if e.alive:                                 # folio_try_get (refcount not zero)
                e.pinned = True
                batch.append(e)
            else:                                       # lost the race with folio_put
                q.split_queue_len -= 1
            n -= 1
        await self.engine.spend(len(batch) * self.costs.atomic_rmw_ns)
        lock.unlock_irqrestore(flags, "deferred_split_scan")
        split = 0
        back = []
        locks = self.sub.folio_locks
        for e in batch:
            did_split = False
            # only partially mapped folios are queued here (see the module docstring)
            mapped_head = e.head in e.alive
            if not mapped_head or locks.folio_trylock(e.head, me):
                if await self._split_queued(e, q, me):
                    did_split = True
                    split += 1
                if mapped_head:
                    locks.folio_unlock(e.head, me)
            e.pinned = False                            # folio_put
            if did_split:
                continue
            if not e.alive:                             # the pin was the last reference
                q.split_queue_len -= 1
                await self._folio_free(e)
                continue
            back.append(e)
        flags = await lock.lock_irqsave("deferred_split_scan")
        for e in back:                                  # list_splice_tail
            e.queued = True
            q.split_queue.append(e)
        lock.unlock_irqrestore(flags, "deferred_split_scan")
        if not split and not q.split_queue:
            return SHRINK_STOP, nr_to_scan
        return split, nr_to_scan

    async def _split_queued(self, e: "_DsFolio", q, me) -> bool:
        """split_folio of a queued (partially mapped) folio: can_split_folio
        (each page still mapped has no reference but its mappings', its swap
        cache's and an LRU batch's), anon_vma_lock_write, unmap_folio and
        remap (a walk of the mapped pages), split_queue_lock (off the queue,
        the freeze), __split_huge_page; the kept pages are freed."""
        sub = self.sub
        ref, f = sub.mem_map.ref, sub.mem_map.f
        mc = sub.rmap.mc
        from .filemap import PG_swapcache
        batched = sub.lru.in_batches() if any(not f[p] & PG_lru for p in e.alive) else ()
        for p in e.alive:
            extra = ref[p] - mc[p] - (1 if f[p] & PG_swapcache else 0) - (1 if p in batched else 0)
            if extra:
                self.count(me.cpu, "thp_split_page_failed")
                return False
        costs = self.costs
        await e.root.rwsem.down_write("split_huge_page")          # anon_vma_lock_write
        # unmap_folio + remap_page over the mapped pages, __split_huge_page_tail x 511
        await self.engine.spend(len(e.alive) * 2 * costs.l1_hit_ns
                                + HPAGE_PMD_NR * 2 * costs.l1_hit_ns)
        await q.split_queue_lock.lock_irq("split_huge_page")      # folio_ref_freeze
        q.split_queue_len -= 1                                    # list_del_init
        q.split_queue_lock.unlock_irq("split_huge_page")
        e.root.rwsem.up_write("split_huge_page")
        parts = sub.pa.folio_parts
        for p in e.alive:                                         # now folios of their own
            parts.pop(p, None)
        e.alive.clear()
        held, e.held = e.held, []
        pa = sub.pa
        for p in sorted(held):
            await pa.free_pages(p, 0)
        self.count(me.cpu, "thp_split_page")
        return True

    def _check_deferred(self):
        """The queue's invariants: its length, the pages each folio keeps."""
        from ._internal import PG_pcp, PGTY_buddy
        mem = self.sub.mem_map
        parts = self.sub.pa.folio_parts
        if any(q.scanning for q in self.ds_queues):
            return                          # folios off the queue on a scan's own list
        alive = 0
        for q in self.ds_queues:
            assert q.split_queue_len == len(q.split_queue), \
                f"node {q.nid}: split_queue_len {q.split_queue_len}, {len(q.split_queue)} queued"
            for e in q.split_queue:
                assert e.queued and not e.pinned and (e.alive or e.held)
                for p in e.alive:
                    assert parts.get(p) is e and mem.ref[p] > 0, f"pfn {p:#x}: not in use"
                    alive += 1
                for p in e.held:
                    assert p not in parts and mem.ref[p] == 1 and not self.sub.rmap.mc[p] \
                        and not mem.f[p] & (PG_lru | PGTY_buddy | PG_pcp), \
                        f"pfn {p:#x} kept for THP {e.head:#x} is in use or free"
        assert alive == len(parts), "a page is the part of a folio no longer queued"

    # -------------------------------------------------------------- madvise
    def hugepage_madvise(self, vma, advice: int) -> int:
        """hugepage_madvise: the new vm_flags for MADV_HUGEPAGE / MADV_NOHUGEPAGE."""
        flags = vma.vm_flags
        if advice == MADV_HUGEPAGE:
            return (flags | VM_HUGEPAGE) & ~VM_NOHUGEPAGE
        return (flags | VM_NOHUGEPAGE) & ~VM_HUGEPAGE

    # -------------------------------------------------------------- report
    def report_deferred(self) -> dict:
        sh = self.deferred_split_shrinker
        return {"split_queue_len": [q.split_queue_len for q in self.ds_queues],
                "pages_kept": sum(len(e.held) for q in self.ds_queues for e in q.split_queue),
                "thp_split_page_failed": self.event("thp_split_page_failed"),
                "shrinker": {"calls": sh.calls, "scanned": sh.scanned, "split": sh.freed,
                             "nr_deferred": list(sh.nr_deferred)}}

    def report(self) -> dict:
        names = ("thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge",
                 "thp_split_pmd", "thp_split_page", "thp_deferred_split_page",
                 "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_swpout_fallback",
                 "thp_collapse_alloc", "thp_collapse_alloc_failed",
                 "thp_scan_exceed_none_pte", "thp_scan_exceed_swap_pte",
                 "thp_scan_exceed_share_pte")
        out = {"enabled": self.enabled, "defrag": self.defrag,
               "vmstat": {n: self.event(n) for n in names},
               "pmd_mapped": sum(1 for mm in self.sub.mms for hp in mm.pmd_huge.values()
                                 if not hp.zero),
               "huge_zero_page": self.huge_zero_pfn >= 0}
        if self.khugepaged is not None and self.khugepaged.actor is not None:
            out["khugepaged"] = self.khugepaged.report()
        if self.ds_queued:
            out["deferred_split"] = self.report_deferred()
        return out

    def active(self) -> bool:
        """Whether anything THP happened (the report is left out otherwise, so
        runs without THP report exactly what they did before)."""
        return any(self.event(n) for n in ("thp_fault_alloc", "thp_fault_fallback",
                                           "thp_zero_page_alloc", "thp_split_page",
                                           "thp_collapse_alloc")) or (
            self.khugepaged is not None and self.khugepaged.actor is not None)


class _DsFolio:
    """A THP on a deferred split queue (its ``_deferred_list`` entry): the
    pages still in use (``alive``) and the ones kept for it (``held``)."""

    __slots__ = ("head", "root", "alive", "held", "queued", "pinned")

    def __init__(self, head: int, root, alive: list[int]):
        self.head = head
        self.root = root                   # the anon_vma root split_huge_page locks
        self.alive = set(alive)
        self.held: list[int] = []
        self.queued = False
        self.pinned = False                # deferred_split_scan's folio_try_get


class DeferredSplit:
    """struct deferred_split (pgdat->deferred_split_queue)."""

    def __init__(self, engine, nid: int):
        from ..sync import SpinLock
        self.nid = nid
        self.split_queue_lock = SpinLock(engine, "&ds_queue->split_queue_lock")
        self.split_queue: list[_DsFolio] = []
        self.split_queue_len = 0
        self.scanning = 0                  # deferred_split_scan calls in progress


MADV_HUGEPAGE = 14                        # include/uapi/asm-generic/mman-common.h
MADV_NOHUGEPAGE = 15
