"""khugepaged: collapsing 512 base pages into a THP (mm/khugepaged.c, Linux 6.12).

One kernel thread (an actor, started when the first mm is registered:
``khugepaged_enter_vma`` from a THP fault, MADV_HUGEPAGE or mmap of an
eligible VMA; it ends once every workload has finished, so it never keeps a
run alive).  Knobs in ``[sysfs]`` under
``kernel/mm/transparent_hugepage/khugepaged/`` with the kernel's defaults:
``pages_to_scan`` 4096 (HPAGE_PMD_NR * 8), ``scan_sleep_millisecs`` 10000,
``alloc_sleep_millisecs`` 60000, ``max_ptes_none`` 511, ``max_ptes_swap`` 64,
``max_ptes_shared`` 256, ``defrag`` 1.

The loop (``khugepaged`` -> ``khugepaged_do_scan`` -> ``khugepaged_wait_work``):
each pass does ``lru_add_drain_all()`` (a work item on every CPU with
batched folios, flushed), then ``khugepaged_scan_mm_slot`` until
``pages_to_scan`` of progress: the mm slots in registration order, each mm
under ``mmap_read_trylock`` (a busy mm is skipped), every eligible VMA from
``khugepaged_scan.address`` in 2 MiB steps, 512 of progress per PMD; a slot
whose VMAs are all scanned (or whose mm exited) is left for the next, and
``full_scans`` counts passes over the whole list.
``hpage_collapse_scan_pmd`` reads the 512 PTEs under the PTE lock:
``thp_scan_exceed_none_pte`` above ``max_ptes_none`` none/zero PTEs,
``thp_scan_exceed_swap_pte`` above ``max_ptes_swap``, ``thp_scan_exceed_share_pte``
above ``max_ptes_shared`` shared folios; every folio anonymous, on the LRU,
unlocked, with no extra reference; at least one writable and one young PTE.
``collapse_huge_page`` in the kernel's order: ``mmap_read_unlock``, the
order-9 allocation (``GFP_TRANSHUGE`` with khugepaged/defrag, else
``GFP_TRANSHUGE_LIGHT``; ``thp_collapse_alloc`` / ``thp_collapse_alloc_failed``,
a failure sleeps ``alloc_sleep_millisecs`` once and ends the pass the second
time) without any lock, ``mmap_read_lock`` + revalidate + swap-in of the
swapped PTEs, ``mmap_write_lock``, revalidate, ``vma_start_write``,
``anon_vma_lock_write``, ``pmd_lock`` + ``pmdp_collapse_flush`` (TLB flush),
the PTE lock for ``__collapse_huge_page_isolate`` (each folio off the LRU and
locked), ``anon_vma_unlock_write``, ``__collapse_huge_page_copy`` (512 x
page_copy_ns, page_zero_ns for a none PTE), the old folios released,
``pmd_lock`` to install the PMD (the old PTE table becomes the deposit), and
``mmap_write_unlock``: the write hold is what faulting threads of the
process wait for (mmap_lock contention in lock_stat, site
``collapse_huge_page``).  Each hold is recorded (``mmap_lock_hold_ns``).

``khugepaged_mm_lock`` guards the slot list: taken by ``__khugepaged_enter``
(under the faulting or madvising task's mmap_lock or VMA lock) and around
each step of the scan over the list (dropped before ``mmap_read_trylock``).

Simplifications: one NUMA node's worth of target selection
(``hpage_collapse_find_target_node`` picks the local node), no file/shmem
collapse (``hpage_collapse_scan_file``), no MADV_COLLAPSE, no
``khugepaged_fork`` (a child registers at its own first THP fault or
MADV_HUGEPAGE).
"""
from __future__ import annotations

from ..schema import Field, between, one_of
from ._internal import HPAGE_PMD_ORDER, PG_lru
from .filemap import PG_swapcache
from .gfp import GFP_TRANSHUGE, GFP_TRANSHUGE_LIGHT
from .mm_types import PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT, PMD_SIZE, VM_WRITE, vma_start_write
from .sched_mm import set_kthread

__all__ = ["SYSFS", "Khugepaged"]

_K = "kernel/mm/transparent_hugepage/khugepaged/"
HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER
MSEC = 1_000_000

SYSFS = (
    Field(_K + "pages_to_scan", int, 8 * HPAGE_PMD_NR, check=between(1, 1 << 31),
          doc="PTEs scanned per pass (default HPAGE_PMD_NR * 8 = 4096)"),
    Field(_K + "scan_sleep_millisecs", int, 10000, check=between(0, 1 << 31),
          doc="sleep between passes in ms"),
    Field(_K + "alloc_sleep_millisecs", int, 60000, check=between(0, 1 << 31),
          doc="sleep after a failed huge-page allocation in ms"),
    Field(_K + "max_ptes_none", int, HPAGE_PMD_NR - 1, check=between(0, HPAGE_PMD_NR - 1),
          doc="none or zero-page PTEs a collapse may fill (default 511)"),
    Field(_K + "max_ptes_swap", int, HPAGE_PMD_NR // 8, check=between(0, HPAGE_PMD_NR - 1),
          doc="swap PTEs a collapse may swap in (default 64)"),
    Field(_K + "max_ptes_shared", int, HPAGE_PMD_NR // 2, check=between(0, HPAGE_PMD_NR - 1),
          doc="PTEs of shared folios a collapse may copy (default 256)"),
    Field(_K + "defrag", int, 1, check=one_of(0, 1),
          doc="1: khugepaged's allocation may reclaim and compact (GFP_TRANSHUGE)"),
)

# enum scan_result (mm/khugepaged.c), the ones this model can produce
SCAN_FAIL, SCAN_SUCCEED, SCAN_PMD_NULL, SCAN_PMD_MAPPED = "fail", "succeed", "pmd_null", \
    "pmd_mapped"
SCAN_EXCEED_NONE_PTE, SCAN_EXCEED_SWAP_PTE, SCAN_EXCEED_SHARED_PTE = \
    "exceed_none_pte", "exceed_swap_pte", "exceed_shared_pte"
SCAN_PAGE_RO, SCAN_LACK_REFERENCED_PAGE, SCAN_PAGE_NULL, SCAN_PAGE_ANON = \
    "page_ro", "lack_referenced_page", "page_null", "page_anon"
SCAN_PAGE_LRU, SCAN_PAGE_LOCK, SCAN_PAGE_COUNT, SCAN_VMA_CHECK = \
    "page_lru", "page_lock", "page_count", "vma_check"
SCAN_ALLOC_HUGE_PAGE_FAIL, SCAN_ANY_PROCESS = "alloc_huge_page_fail", "any_process"

_PAGE_PRESENT, _PAGE_RW, _PAGE_ACCESSED, _PAGE_SPECIAL = 0x1, 0x2, 0x20, 0x200


class Khugepaged:
    """The khugepaged thread and its mm slots (``khugepaged_scan``)."""

    def __init__(self, thp, machine):
        from .vmscan import _WaitList
        from ..sync import SpinLock
        self.thp = thp
        self.sub = thp.sub
        self.engine = thp.engine
        self.costs = thp.costs
        s = getattr(machine, "sysfs", {})
        self.pages_to_scan = s.get(_K + "pages_to_scan", 4096)
        self.scan_sleep_ns = s.get(_K + "scan_sleep_millisecs", 10000) * MSEC
        self.alloc_sleep_ns = s.get(_K + "alloc_sleep_millisecs", 60000) * MSEC
        self.max_ptes_none = s.get(_K + "max_ptes_none", 511)
        self.max_ptes_swap = s.get(_K + "max_ptes_swap", 64)
        self.max_ptes_shared = s.get(_K + "max_ptes_shared", 256)
        self.defrag = bool(s.get(_K + "defrag", 1))
        self.mm_head: list = []            # khugepaged_scan.mm_head (mm slots, in order)
        self.scan_mm = None                # khugepaged_scan.mm_slot
        self.address = 0                   # khugepaged_scan.address
        self.mm_lock = SpinLock(self.engine, "khugepaged_mm_lock")
        self.mmf_vm_hugepage: set[int] = set()   # ids of mms with MMF_VM_HUGEPAGE set
        self.wait = _WaitList("khugepaged_wait")
        self.actor = None
        self.pages_collapsed = 0           # sysfs khugepaged/pages_collapsed
        self.full_scans = 0                # sysfs khugepaged/full_scans
        self.passes = 0
        self.pass_times: list[int] = []    # virtual time of each pass's start
        self.ptes_scanned = 0              # PTEs read by hpage_collapse_scan_pmd
        self.pass_progress: list[int] = []
        self.pass_ptes: list[int] = []     # PTEs read in each pass
        self.results: dict[str, int] = {}
        self.hold_ns: list[tuple[int, int]] = []   # (mmap write-lock hold, none PTEs)

    # ------------------------------------------------------------ registration
    def hugepage_pmd_enabled(self) -> bool:
        return self.thp.enabled != "never"

    async def khugepaged_enter_vma(self, vma):
        """khugepaged_enter_vma: register the mm (MMF_VM_HUGEPAGE) once its VMA
        is eligible: __khugepaged_enter puts its slot on the list under
        khugepaged_mm_lock (the caller holds mmap_lock or the VMA lock: that
        order is in the lock-order data); the thread starts, or is woken,
        when the list was empty."""
        mm = vma.vm_mm
        if not self.hugepage_pmd_enabled() or mm.exited or mm.id in self.mmf_vm_hugepage:
            return
        if not self.thp.thp_vma_allowable(vma, in_pf=False):    # TVA_ENFORCE_SYSFS:
            return                                                 # needs an anon_vma
        self.mmf_vm_hugepage.add(mm.id)                # test_and_set_bit(MMF_VM_HUGEPAGE)
        await self.mm_lock.lock("__khugepaged_enter")
        was_empty = not self.mm_head
        self.mm_head.append(mm)                        # list_add_tail(&slot->mm_node, ...)
        self.mm_lock.unlock("__khugepaged_enter")
        if self.actor is None:
            cpu = 0
            async def body(a):
                await self.khugepaged(a)
            self.actor = self.engine.spawn("khugepaged", body, cpu=cpu, node=0)
            set_kthread(self.actor)
        elif was_empty:
            self.sub.vmscan.wake_up(self.wait)

    # ------------------------------------------------------------------ thread
    def _done(self) -> bool:
        return self.sub.vmscan._workloads_done()

    async def _sleep(self, ns: int, me) -> bool:
        """wait_event_freezable_timeout; False when every workload has ended
        (nothing is left to collapse for: the thread ends, the run may end).
        Slept in slices of at most 100 ms so that the end is noticed."""
        eng = self.engine
        end = eng.now + ns
        while eng.now < end:
            if self._done():
                return False
            await self.sub.vmscan.schedule_timeout(self.wait, min(end - eng.now, 100 * MSEC), me)
        return not self._done()

    async def khugepaged(self, me):
        while True:
            await self.khugepaged_do_scan(me)
            if not await self.khugepaged_wait_work(me):
                return

    async def khugepaged_wait_work(self, me) -> bool:
        if self.mm_head and self.hugepage_pmd_enabled():          # khugepaged_has_work
            if not self.scan_sleep_ns:
                return not self._done()
            return await self._sleep(self.scan_sleep_ns, me)
        while not self.mm_head:                                    # khugepaged_wait_event
            if not await self._sleep(100 * MSEC, me):
                return False
        return True

    async def khugepaged_do_scan(self, me):
        eng = self.engine
        self.passes += 1
        self.pass_times.append(eng.now)
        progress = 0
        pass_through_head = 0
        pages = self.pages_to_scan
        ptes0 = self.ptes_scanned
        wait = True
        sub = self.sub
        await sub.lru.lru_add_drain_all(me, getattr(sub.pa, "queue_work_on", None))
        while True:
            await eng.spend(self.costs.llc_hit_ns)                # cond_resched
            await self.mm_lock.lock("khugepaged_do_scan")
            if self.scan_mm is None:
                pass_through_head += 1
            result = SCAN_FAIL
            if self.mm_head and self.hugepage_pmd_enabled() and pass_through_head < 2:
                n, result = await self.khugepaged_scan_mm_slot(pages - progress, me)
                progress += n
            else:
                progress = pages
            self.mm_lock.unlock("khugepaged_do_scan")
            if progress >= pages:
                break
            if result == SCAN_ALLOC_HUGE_PAGE_FAIL:
                if not wait:
                    break
                wait = False
                if not await self._sleep(self.alloc_sleep_ns, me):  # khugepaged_alloc_sleep
                    break
        self.pass_progress.append(progress)
        self.pass_ptes.append(self.ptes_scanned - ptes0)

    async def khugepaged_scan_mm_slot(self, pages: int, me) -> tuple[int, str]:
        """Entered and left with khugepaged_mm_lock held; drops it meanwhile."""
        thp = self.thp
        if self.scan_mm is None:
            self.scan_mm = self.mm_head[0]
            self.address = 0
        mm = self.scan_mm
        self.mm_lock.unlock("khugepaged_scan_mm_slot")
        result = SCAN_FAIL
        progress = 0
        vma = None
        locked = await mm.mmap_read_trylock("khugepaged_scan_mm_slot")
        if locked:
            progress += 1
            if not mm.exited:
                vmas = [v for v in mm.vmas.values() if v.vm_end > self.address]
                for vma in vmas + [None]:
                    if vma is None:
                        break
                    if vma.detached or not thp.thp_vma_allowable(vma, in_pf=False):
                        progress += 1
                        continue
                    hstart = -(-vma.vm_start // PMD_SIZE) * PMD_SIZE
                    hend = vma.vm_end // PMD_SIZE * PMD_SIZE
                    if self.address > hend:
                        progress += 1
                        continue
                    if self.address < hstart:
                        self.address = hstart
                    stop = False
                    while self.address < hend:
                        await self.engine.spend(self.costs.llc_hit_ns)   # cond_resched
                        if mm.exited:
                            stop = True
                            break
                        result, still_locked = await self.hpage_collapse_scan_pmd(
                            mm, vma, self.address, me)
                        self.results[result] = self.results.get(result, 0) + 1
                        if result == SCAN_SUCCEED:
                            self.pages_collapsed += 1
                        self.address += PMD_SIZE
                        progress += HPAGE_PMD_NR
                        if not still_locked:
                            locked = False
                            stop = True
                            break
                        if progress >= pages:
                            stop = True
                            break
                    if stop:
                        break
            if locked:
                mm.mmap_read_unlock("khugepaged_scan_mm_slot")   # breakouterloop
        await self.mm_lock.lock("khugepaged_scan_mm_slot")
        if mm.exited or vma is None:
            # this mm is done: on to the next slot, or a full scan ends
            i = self.mm_head.index(mm) if mm in self.mm_head else -1
            if 0 <= i < len(self.mm_head) - 1:
                self.scan_mm = self.mm_head[i + 1]
                self.address = 0
            else:
                self.scan_mm = None
                self.full_scans += 1
            if mm.exited and mm in self.mm_head:                   # collect_mm_slot
                self.mm_head.remove(mm)
        return progress, result

    # ------------------------------------------------------------------ scan
    async def hpage_collapse_scan_pmd(self, mm, vma, address: int, me) -> tuple[str, bool]:
        """Returns (result, mmap_lock still held for read)."""
        sub = self.sub
        thp = self.thp
        key = address >> PMD_SHIFT
        if key in mm.pmd_huge:
            return SCAN_PMD_MAPPED, True
        pt = mm.pgtables.get(key)
        if pt is None or not (pt.nr_present or pt.nr_swap):
            return SCAN_PMD_NULL, True
        rmap = sub.rmap
        f = sub.mem_map.f
        ref = sub.mem_map.ref
        zero = sub.zero_pfn
        result = SCAN_SUCCEED
        none_or_zero = unmapped = shared = referenced = 0
        writable = False
        await pt.ptl.lock("hpage_collapse_scan_pmd")
        n = 0
        for i in range(HPAGE_PMD_NR):
            n += 1
            v = pt.ptes[i]
            if v and not v & _PAGE_PRESENT:               # is_swap_pte
                unmapped += 1
                if unmapped > self.max_ptes_swap:
                    result = SCAN_EXCEED_SWAP_PTE
                    thp.count(me.cpu, "thp_scan_exceed_swap_pte")
                    break
                continue
            if not v or v >> PAGE_SHIFT == zero:
                none_or_zero += 1
                if none_or_zero > self.max_ptes_none:
                    result = SCAN_EXCEED_NONE_PTE
                    thp.count(me.cpu, "thp_scan_exceed_none_pte")
                    break
                continue
            if v & _PAGE_RW:
                writable = True
            pfn = v >> PAGE_SHIFT
            if v & _PAGE_SPECIAL:
                result = SCAN_PAGE_NULL
                break
            if not rmap.folio_test_anon(pfn):
                result = SCAN_PAGE_ANON
                break
            if rmap.mc[pfn] > 1:                          # folio_likely_mapped_shared
                shared += 1
                if shared > self.max_ptes_shared:
                    result = SCAN_EXCEED_SHARED_PTE
                    thp.count(me.cpu, "thp_scan_exceed_share_pte")
                    break
            if not f[pfn] & PG_lru:
                result = SCAN_PAGE_LRU
                break
            if sub.folio_locks.locker.get(pfn) is not None:
                result = SCAN_PAGE_LOCK
                break
            if ref[pfn] != rmap.mc[pfn] + (1 if f[pfn] & PG_swapcache else 0):
                result = SCAN_PAGE_COUNT                   # is_refcount_suitable
                break
            if v & _PAGE_ACCESSED:
                referenced += 1
        # ptep_get and the tests per entry: a line of 8 PTEs, the struct page
        await self.engine.spend(n * self.costs.l1_hit_ns * 4)
        pt.ptl.unlock("hpage_collapse_scan_pmd")
        self.ptes_scanned += n
        if result == SCAN_SUCCEED:
            if not writable:
                result = SCAN_PAGE_RO
            elif not referenced or (unmapped and referenced < HPAGE_PMD_NR // 2):
                result = SCAN_LACK_REFERENCED_PAGE
        if result != SCAN_SUCCEED:
            return result, True
        return await self.collapse_huge_page(mm, address, unmapped, me), False

    def _revalidate(self, mm, address: int):
        """hugepage_vma_revalidate: the VMA still there, eligible and covering the PMD."""
        vma = mm.find_vma(address)
        if mm.exited or vma is None or not self.thp.thp_vma_allowable(vma, in_pf=False) \
                or not self.thp.suitable(vma, address):
            return None
        return vma

    async def collapse_huge_page(self, mm, address: int, unmapped: int, me) -> str:
        """collapse_huge_page: entered with mmap_lock held for read, left without it."""
        from .huge_memory import HugePmd
        sub = self.sub
        thp = self.thp
        eng = self.engine
        costs = self.costs
        mm.mmap_read_unlock("collapse_huge_page")
        gfp = GFP_TRANSHUGE if self.defrag else GFP_TRANSHUGE_LIGHT   # alloc_hugepage_khugepaged_gfpmask
        new = await sub.pa.alloc_pages(gfp, HPAGE_PMD_ORDER)          # alloc_charge_folio
        if new < 0:
            thp.count(me.cpu, "thp_collapse_alloc_failed")
            return SCAN_ALLOC_HUGE_PAGE_FAIL
        thp.count(me.cpu, "thp_collapse_alloc")
        key = address >> PMD_SHIFT
        await mm.mmap_read_lock("collapse_huge_page")
        vma = self._revalidate(mm, address)
        if vma is None or key in mm.pmd_huge or key not in mm.pgtables:
            mm.mmap_read_unlock("collapse_huge_page")
            await sub.pa.free_pages(new, HPAGE_PMD_ORDER)
            return SCAN_VMA_CHECK
        if unmapped:                                                  # __collapse_huge_page_swapin
            pt = mm.pgtables[key]
            for i in range(HPAGE_PMD_NR):
                v = pt.ptes[i]
                if v and not v & _PAGE_PRESENT:
                    await sub.memory.handle_mm_fault(vma, address + i * PAGE_SIZE, False,
                                                     False, me)
            if mm.pgtables.get(key) is not pt:
                mm.mmap_read_unlock("collapse_huge_page")
                await sub.pa.free_pages(new, HPAGE_PMD_ORDER)
                return SCAN_FAIL
        mm.mmap_read_unlock("collapse_huge_page")
        await mm.mmap_write_lock("collapse_huge_page")
        t0 = eng.now
        result, nones = await self._collapse_locked(mm, address, new, me)
        mm.mmap_write_unlock("collapse_huge_page")
        self.hold_ns.append((eng.now - t0, nones))
        if result != SCAN_SUCCEED:
            await sub.pa.free_pages(new, HPAGE_PMD_ORDER)
        return result

    async def _collapse_locked(self, mm, address: int, new: int, me) -> tuple[str, int]:
        """collapse_huge_page under mmap_lock held for write."""
        from .huge_memory import HugePmd
        sub = self.sub
        eng = self.engine
        costs = self.costs
        key = address >> PMD_SHIFT
        vma = self._revalidate(mm, address)
        pt = mm.pgtables.get(key)
        if vma is None or pt is None or key in mm.pmd_huge:          # check_pmd_still_valid
            return SCAN_VMA_CHECK, 0
        await vma_start_write(vma)
        root = vma.anon_vma.root
        await root.rwsem.down_write("collapse_huge_page")            # anon_vma_lock_write
        pmd_ptl = mm.pmd_lock(address)
        await pmd_ptl.lock("collapse_huge_page")
        del mm.pgtables[key]                                          # pmdp_collapse_flush
        await sub.memory.flush_tlb_mm_range(mm, address, address + PMD_SIZE, True, me)
        pmd_ptl.unlock("collapse_huge_page")
        # __collapse_huge_page_isolate under the PTE lock
        rmap = sub.rmap
        f = sub.mem_map.f
        ref = sub.mem_map.ref
        locks = sub.folio_locks
        zero = sub.zero_pfn
        await pt.ptl.lock("__collapse_huge_page_isolate")
        isolated = []
        result = SCAN_SUCCEED
        nones = 0
        for i in range(HPAGE_PMD_NR):
            v = pt.ptes[i]
            if not v or v >> PAGE_SHIFT == zero:
                nones += 1
                continue
            pfn = v >> PAGE_SHIFT
            if not v & _PAGE_PRESENT or not rmap.folio_test_anon(pfn) or not f[pfn] & PG_lru \
                    or ref[pfn] != rmap.mc[pfn] + (1 if f[pfn] & PG_swapcache else 0) \
                    or not locks.folio_trylock(pfn, me):
                result = SCAN_PAGE_LRU if v & _PAGE_PRESENT and not f[pfn] & PG_lru \
                    else SCAN_PAGE_COUNT
                break
            lv = sub.lru.lruvec_of(pfn)                               # folio_isolate_lru
            await lv.lru_lock.lock_irq("folio_isolate_lru")
            f[pfn] &= ~PG_lru
            lv.delete(pfn)
            ref[pfn] += 1
            lv.lru_lock.unlock_irq("folio_isolate_lru")
            isolated.append(pfn)
        pt.ptl.unlock("__collapse_huge_page_isolate")
        if result != SCAN_SUCCEED:
            for pfn in isolated:                                      # release_pte_pages
                locks.folio_unlock(pfn, me)
                await sub.lru.folio_add_lru(pfn, False, me)           # folio_putback_lru
                await sub.lru.folios_put_refs([(pfn, 1)], me)
            await pmd_ptl.lock("collapse_huge_page")
            mm.pgtables[key] = pt                                     # pmd_populate: put back
            pmd_ptl.unlock("collapse_huge_page")
            root.rwsem.up_write("collapse_huge_page")
            return result, nones
        root.rwsem.up_write("collapse_huge_page")
        # __collapse_huge_page_copy: copy each page, clear for a none PTE
        await eng.spend(nones * costs.page_zero_ns + (HPAGE_PMD_NR - nones) * costs.page_copy_ns)
        # __collapse_huge_page_copy_succeeded: the PTEs cleared, the old folios released
        await pt.ptl.lock("__collapse_huge_page_copy_succeeded")
        for i in range(HPAGE_PMD_NR):
            pt.ptes[i] = 0
        pt.nr_present = 0
        pt.nr_swap = 0
        for pfn in isolated:
            rmap.folio_remove_rmap_pte(pfn)
        mm.rss[mm.MM_ANONPAGES] += nones                              # the none PTEs' pages
        await eng.spend(len(isolated) * (costs.atomic_rmw_ns + costs.l1_hit_ns))
        pt.ptl.unlock("__collapse_huge_page_copy_succeeded")
        put = []
        for pfn in isolated:                                          # release_pte_folio
            locks.folio_unlock(pfn, me)
            put.append((pfn, 2))                  # the isolation's and the mapping's reference
        await sub.lru.folios_put_refs(put, me)
        # install the PMD; the old PTE table is the deposit
        await pmd_ptl.lock("collapse_huge_page")
        rmap.folio_add_new_anon_rmap(new, vma, address)
        lru = sub.lru
        fb = lru.folio_add_lru_nowait(new, False, me)                 # folio_add_lru_vma
        await lru.folio_batch_move_lru(fb if fb is not None else lru.fbatches[me.cpu], me)
        mm.pmd_huge[key] = HugePmd(new, bool(vma.vm_flags & VM_WRITE), True, False, pt.pfn)
        pmd_ptl.unlock("collapse_huge_page")
        return SCAN_SUCCEED, nones

    # ------------------------------------------------------------------ report
    def report(self) -> dict:
        holds = sorted(h for h, _ in self.hold_ns)
        return {
            "pages_to_scan": self.pages_to_scan,
            "scan_sleep_millisecs": self.scan_sleep_ns // MSEC,
            "alloc_sleep_millisecs": self.alloc_sleep_ns // MSEC,
            "max_ptes_none": self.max_ptes_none, "max_ptes_swap": self.max_ptes_swap,
            "max_ptes_shared": self.max_ptes_shared,
            "pages_collapsed": self.pages_collapsed, "full_scans": self.full_scans,
            "passes": self.passes, "ptes_scanned": self.ptes_scanned,
            "max_ptes_per_pass": max(self.pass_ptes, default=0),
            "mm_slots": len(self.mm_head),
            "scan_results": dict(sorted(self.results.items())),
            "mmap_lock_hold_ns": {"count": len(holds),
                                  "max": holds[-1] if holds else 0,
                                  "mean": sum(holds) // len(holds) if holds else 0},
        }
