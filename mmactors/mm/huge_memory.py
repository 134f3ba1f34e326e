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
``thp_split_page`` per folio.  Because the folio is split at once, the
deferred split queue never holds a folio: a partial unmap that would queue it
(``deferred_split_folio(folio, true)``) is only counted
(``thp_deferred_split_page``), and the unmapped part is freed at once where
the kernel frees it when its shrinker runs.  The whole-folio queueing of
6.12's ``split_underused_thp`` at fault time changes nothing with the default
``max_ptes_none`` of 511 (``thp_underused`` is false) and is not modelled.

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

__all__ = ["SYSFS", "HugePmd", "Thp", "vma_thp_gfp_mask", "VM_HUGEPAGE", "VM_NOHUGEPAGE",
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
        self.split_queue_len = 0           # ds_queue->split_queue_len (never non-zero: see above)
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
            self.khugepaged.khugepaged_enter_vma(vma)
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
                    self.count(me.cpu, "thp_deferred_split_page")   # deferred_split_folio(, true)
                await self.split_huge_pmd(vma, haddr, me)
                continue
            cleared += await self.zap_huge_pmd(mm, key, gather, me)
        return cleared

    def count_partial_unmap(self, mm, start: int, end: int, me):
        """thp_deferred_split_page for each THP that [start, end) unmaps in part
        (once per folio: __folio_set_partially_mapped is tested first)."""
        for addr in sorted({a & HPAGE_PMD_MASK for a in (start, end) if a & (PMD_SIZE - 1)}):
            hp = mm.pmd_huge.get(addr >> PMD_SHIFT)
            if hp is not None and not hp.zero:
                self.count(me.cpu, "thp_deferred_split_page")

    async def zap_huge_pmd(self, mm, key: int, gather: list, me) -> int:
        sub = self.sub
        haddr = key << PMD_SHIFT
        ptl = mm.pmd_lock(haddr)
        await ptl.lock("zap_huge_pmd")
        hp = mm.pmd_huge.pop(key, None)                         # pmdp_huge_get_and_clear_full
        if hp is None:
            ptl.unlock("zap_huge_pmd")
            return 0
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
        await self.split_folio(hp.pfn, me)

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
        if not f[head] & PG_head or mem_map.ord[head] != HPAGE_PMD_ORDER:
            return False
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
        self.count(me.cpu, "thp_split_page")
        # a tail nobody maps (an unmapped range of a partially unmapped folio) is freed
        free = [(head + i, 1) for i in range(1, HPAGE_PMD_NR) if ref[head + i] == 0]
        if free:
            for p, _ in free:
                ref[p] = 1
            await sub.lru.folios_put_refs(free, me)
        return True

    # -------------------------------------------------------------- madvise
    def hugepage_madvise(self, vma, advice: int) -> int:
        """hugepage_madvise: the new vm_flags for MADV_HUGEPAGE / MADV_NOHUGEPAGE."""
        flags = vma.vm_flags
        if advice == MADV_HUGEPAGE:
            return (flags | VM_HUGEPAGE) & ~VM_NOHUGEPAGE
        return (flags | VM_NOHUGEPAGE) & ~VM_HUGEPAGE

    # -------------------------------------------------------------- report
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
        return out

    def active(self) -> bool:
        """Whether anything THP happened (the report is left out otherwise, so
        runs without THP report exactly what they did before)."""
        return any(self.event(n) for n in ("thp_fault_alloc", "thp_fault_fallback",
                                           "thp_zero_page_alloc", "thp_split_page",
                                           "thp_collapse_alloc")) or (
            self.khugepaged is not None and self.khugepaged.actor is not None)


MADV_HUGEPAGE = 14                        # include/uapi/asm-generic/mman-common.h
MADV_NOHUGEPAGE = 15
