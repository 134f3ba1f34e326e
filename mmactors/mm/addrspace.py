"""Address spaces as a machine subsystem: the glue between the mm modules.

No single kernel file: this holds what the kernel keeps in globals and per-CPU
variables for the virtual-memory side (the mm_structs, the rmap and LRU
state, the folio wait table, the zero page) and the counters, checks and
reports of that side.  The paths themselves live in the modules named after
their kernel files: mmap.py, vma.py, memory.py, rmap.py, swap.py,
filemap.py, shmem.py, mprotect.py, mremap.py, madvise.py, fork.py.

Knobs: ``[kconfig] CONFIG_PER_VMA_LOCK`` (default true, as on x86-64 SMP
since 6.4), ``[constants] PAGEVEC_SIZE`` (31; 15 before 6.9) and
``[constants] PREFETCHW_MMAP_LOCK`` (true: the fault entry's prefetchw of
mmap_lock, removed in 6.16; not a kernel symbol but the line of code it names).  Counters
named as /proc/vmstat names them: ``pgfault``, ``pgreuse``, and, as with
CONFIG_PER_VMA_LOCK_STATS=y, ``vma_lock_success``, ``vma_lock_abort``,
``vma_lock_retry``, ``vma_lock_miss``; the TLB ones as with
CONFIG_DEBUG_TLBFLUSH=y (``nr_tlb_remote_flush`` ...).
"""
from __future__ import annotations

from ..schema import Field, Subsystem
from .filemap import FolioLocks
from .huge_memory import HPAGE_PMD_NR, SYSFS as THP_SYSFS, Thp
from .khugepaged import SYSFS as KHUGEPAGED_SYSFS, Khugepaged
from .gfp import __GFP_ZERO, GFP_HIGHUSER_MOVABLE, GFP_KERNEL
from .memory import Memory, pte_pfn, _PAGE_PRESENT, _PAGE_SPECIAL
from .mm_types import MM, PAGE_SHIFT, PMD_SHIFT
from .rmap import Rmap
from .shmem import ShmemInode
from .swap import LRU, LRU_NAMES
from .compaction import CONSTANTS as COMPACTION_CONSTANTS, SYSCTL as COMPACTION_SYSCTL, Compaction
from .page_writeback import SYSCTL as PAGE_WRITEBACK_SYSCTL
from .vmscan import SYSCTL as VMSCAN_SYSCTL, VmScan

__all__ = ["AddrSpace", "addrspace_of", "SUBSYSTEM", "KCONFIG", "CONSTANTS"]

KCONFIG = (
    Field("CONFIG_PER_VMA_LOCK", bool, True,
          doc="per-VMA locks for page faults (6.4+); false: every fault takes mmap_lock"),
)
CONSTANTS = (
    Field("PREFETCHW_MMAP_LOCK", bool, True,
          doc="x86 exc_page_fault()'s prefetchw(&current->mm->mmap_lock) on every "
              "fault, per-VMA or not (until 6.16: 1701771d3069); false models 6.16+"),
    Field("PAGEVEC_SIZE", int, 31,
          check=lambda v: None if 1 <= v <= 255 else f"must be between 1 and 255, got {v}",
          doc="folio batch size of the per-CPU LRU batches (31 since 6.9, 15 before)"),
)

# __GFP_ACCOUNT is not modelled (no memcg): GFP_PGTABLE_USER = GFP_KERNEL | __GFP_ZERO here.
GFP_PGTABLE_USER = GFP_KERNEL | __GFP_ZERO
GFP_HIGHUSER_MOVABLE_ZERO = GFP_HIGHUSER_MOVABLE | __GFP_ZERO   # vma_alloc_zeroed_movable_folio

EVENTS = ("pgfault", "pgreuse", "vma_lock_success", "vma_lock_abort", "vma_lock_retry",
          "vma_lock_miss", "nr_tlb_remote_flush", "nr_tlb_remote_flush_received",
          "nr_tlb_local_flush_all", "nr_tlb_local_flush_one", "fault_oom")


class AddrSpace:
    """The virtual-memory side of a machine."""

    name = "addrspace"

    def __init__(self, machine, physmem):
        self.machine = machine
        self.engine = machine.engine
        self.physmem = physmem
        self.pa = physmem.pa
        self.mem_map = physmem.pa.mem_map
        self.ncpus = machine.ncpus
        self.per_vma_lock = bool(machine.kconfig.get("CONFIG_PER_VMA_LOCK", True))
        self.prefetchw_mmap_lock = bool(machine.constants.get("PREFETCHW_MMAP_LOCK", True))
        self.GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER_MOVABLE
        self.GFP_HIGHUSER_MOVABLE_ZERO = GFP_HIGHUSER_MOVABLE_ZERO
        self.GFP_PGTABLE_USER = GFP_PGTABLE_USER
        self.rmap = Rmap(self.engine, self.mem_map.max_pfn, self.mem_map.f)
        self.lru = LRU(self.engine, self.pa, self.rmap, machine.ncpus, machine.nnodes,
                       machine.constants.get("PAGEVEC_SIZE", 31))
        self.folio_locks = FolioLocks(self.engine, self.mem_map)
        self.vmstat = physmem.vmstat
        self.mms: list[MM] = []
        self.thp = Thp(self, machine)                 # mm/huge_memory.py
        if self.thp.config:                           # mm/khugepaged.py
            self.thp.khugepaged = Khugepaged(self.thp, machine)
        self.memory = Memory(self)
        # swapon (swapfile.build) sets these: the swap devices and the swap cache
        self.swap = None
        self.swap_cache = None
        # mm/vmscan.c: kswapd per node and direct reclaim, on this side's LRU
        self.vmscan = VmScan(self, machine)
        self.pa.reclaim = self.vmscan
        # mm/compaction.c (kcompactd per node, direct compaction) and mm/migrate.c
        self.compaction = Compaction(self, machine)
        self.pa.compaction = self.compaction
        if self.compaction.at_boot:
            self.compaction.start()
        # mm/page-writeback.c's state, made by the first mounted filesystem
        # (page_writeback.writeback_of): None in a run without files
        self.writeback = None
        self.files: list[ShmemInode] = []
        self.cpu_actors: dict[int, list] = {}
        self.events = {e: [0] * machine.ncpus for e in EVENTS}
        self.nr_page_table_pages = 0
        self.vmas_freed = 0
        self._ids = 0
        # The shared zero page: a reserved frame (the kernel's lives in its image).
        self.zero_pfn = self._reserved_pfn()
        self._ev_pgfault = self.vmstat.ev.get("pgfault")
        self._pgfault = self.events["pgfault"]            # count_fault's counters, looked up once
        self._vma_lock_success = self.events["vma_lock_success"]
        self._ev_pgreuse = self.vmstat.ev.get("pgreuse")

    def _reserved_pfn(self) -> int:
        from ._internal import PG_reserved
        f = self.mem_map.f
        for pfn in range(1, min(256, self.mem_map.max_pfn)):
            if f[pfn] & PG_reserved:
                return pfn
        return 0

    # -- objects ------------------------------------------------------------
    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def new_mm(self) -> MM:
        mm = MM(self.engine, len(self.mms))
        mm.thp_align = self.pa.thp              # CONFIG_TRANSPARENT_HUGEPAGE
        self.mms.append(mm)
        return mm

    def new_shmem_file(self, size_pages: int) -> ShmemInode:
        f = ShmemInode(self, len(self.files) + 1, size_pages)
        self.files.append(f)
        return f

    def swapon(self, swap, page_cluster: int = 3):
        """Swap devices join the address spaces: the swap cache (mm/swap_state.py)."""
        from .swap_state import swapon
        return swapon(self, swap, page_cluster)

    def remove_vma(self, vma):
        self.vmas_freed += 1

    def attach(self, actor, mm: MM):
        """The actor runs in mm on its CPU (switch_mm: sets the mm_cpumask bit)."""
        mm.cpumask |= 1 << actor.cpu
        lst = self.cpu_actors.setdefault(actor.cpu, [])
        if actor not in lst:
            lst.append(actor)

    def cpus_in(self, mask: int):
        cpu = 0
        while mask:
            if mask & 1:
                yield cpu
            mask >>= 1
            cpu += 1

    # -- accounting ---------------------------------------------------------
    def count_fault(self, cpu: int, vma_locked: bool):
        """A completed fault (mm_account_fault), and a VMA_LOCK_SUCCESS if it ran
        under the VMA lock: count("pgfault") and count("vma_lock_success") in one."""
        self._pgfault[cpu] += 1
        if vma_locked:
            self._vma_lock_success[cpu] += 1
        if self._ev_pgfault is not None:
            self.vmstat.events[cpu][self._ev_pgfault] += 1

    def count(self, cpu: int, name: str, n: int = 1):
        self.events[name][cpu] += n
        if name == "pgfault" and self._ev_pgfault is not None:
            self.vmstat.count_vm_events(cpu, self._ev_pgfault, n)
        elif name == "pgreuse" and self._ev_pgreuse is not None:
            self.vmstat.count_vm_events(cpu, self._ev_pgreuse, n)

    def event(self, name: str) -> int:
        return sum(self.events[name])

    def mem_map_line(self, pfn: int, me) -> int:
        """The cost of an atomic on a folio's struct page from me's CPU."""
        return self.pa._touch(pfn, me.cpu) + self.engine.costs.atomic_rmw_ns

    # -- reports ------------------------------------------------------------
    def report(self, extra: dict):
        ev = {e: self.event(e) for e in EVENTS if e != "fault_oom"}
        vm = extra.setdefault("vmstat", {})
        for k, v in ev.items():
            vm[k] = v
        caches = extra.setdefault("caches", {})
        caches["lru_add"] = self.lru.stats.to_json()
        self.vmscan.report(extra)                # "reclaim", if kswapd or direct reclaim ran
        self.compaction.report(extra)            # "compaction", if it ran
        if self.thp.active():
            extra["thp"] = self.thp.report()
        if self.writeback is not None:           # "writeback", if a filesystem is mounted
            self.writeback.report(extra)
        extra["mm"] = {
            "mms": len(self.mms), "vmas": sum(len(m.vmas) for m in self.mms),
            "faults": self.event("pgfault"), "fault_oom": self.event("fault_oom"),
            "per_vma_lock": self.per_vma_lock, "PAGEVEC_SIZE": self.lru.PAGEVEC_SIZE,
            "nr_page_table_pages": self.nr_page_table_pages,
            "lru": {LRU_NAMES[i]: sum(lv.nr_pages()[i] for lv in self.lru.lruvecs)
                    for i in range(5)},
            "rss": [{"mm": m.id, "anon": m.rss[m.MM_ANONPAGES], "file": m.rss[m.MM_FILEPAGES],
                     "shmem": m.rss[m.MM_SHMEMPAGES]}
                    for m in self.mms],
        }

    # -- invariants -----------------------------------------------------------
    def _check(self):
        """VMAs never overlap; every present PTE is counted by its frame's
        mapcount; no frame is free while mapped, cached or on the LRU; RSS
        counters agree with the PTEs; every anonymous folio's anon_vma reaches
        every VMA that maps it."""
        from ._internal import PG_head, PG_pcp, PGTY_buddy
        from .filemap import PG_locked, PG_swapbacked
        # A PTE table whose lock another task holds is mid-update (wp_page_copy
        # clears a PTE and flushes the TLB before the new one goes in): the
        # invariants hold only when no table is being changed.
        me = self.engine.current
        if any(pt.ptl.owner is not None and pt.ptl.owner is not me
               for mm in self.mms for pt in mm.pgtables.values()):
            return
        from .swapops import is_migration_pte, pfn_swap_entry_to_pfn, pte_to_swp_entry
        rmap, mem = self.rmap, self.mem_map
        maps: dict[int, int] = {}
        for mm in self.mms:
            mm._check()
            anon = shm = filep = 0
            for key, pt in mm.pgtables.items():
                present = 0
                for i, v in enumerate(pt.ptes):
                    if not v & _PAGE_PRESENT:
                        if is_migration_pte(v):   # a folio being migrated: locked, RSS kept
                            pfn = pfn_swap_entry_to_pfn(pte_to_swp_entry(v))
                            assert mem.f[pfn] & PG_locked, \
                                f"mm{mm.id}: migration entry for unlocked pfn {pfn:#x}"
                            assert mem.ref[pfn] and not mem.f[pfn] & (PGTY_buddy | PG_pcp), \
                                f"mm{mm.id}: migration entry for free pfn {pfn:#x}"
                            if rmap.folio_test_anon(pfn):
                                anon += 1
                            elif mem.f[pfn] & PG_swapbacked:
                                shm += 1
                            else:
                                filep += 1
                        continue
                    present += 1
                    if v & _PAGE_SPECIAL:
                        continue
                    addr = (key << PMD_SHIFT) | (i << PAGE_SHIFT)
                    vma = mm.find_vma(addr)
                    assert vma is not None, f"mm{mm.id}: PTE at {addr:#x} outside every VMA"
                    pfn = pte_pfn(v)
                    maps[pfn] = maps.get(pfn, 0) + 1
                    m = rmap.mapping.get(pfn)
                    assert m is not None, f"pfn {pfn:#x} mapped at {addr:#x} has no mapping"
                    if rmap.folio_test_anon(pfn):
                        anon += 1
                        assert vma in m[0].vmas(), (
                            f"anon folio {pfn:#x}: its anon_vma does not reach {vma} (mm{mm.id})")
                    elif mem.f[pfn] & PG_swapbacked:
                        shm += 1
                    else:
                        filep += 1
                assert present == pt.nr_present, f"mm{mm.id}: nr_present drifted"
            for key, hp in mm.pmd_huge.items():       # PMD-mapped THPs (huge_memory.py)
                assert key not in mm.pgtables, f"mm{mm.id}: pmd {key:#x} both huge and a table"
                addr = key << PMD_SHIFT
                vma = mm.find_vma(addr)
                assert vma is not None and vma.vm_start <= addr and \
                    addr + (HPAGE_PMD_NR << PAGE_SHIFT) <= vma.vm_end, \
                    f"mm{mm.id}: huge PMD at {addr:#x} not inside one VMA"
                if hp.zero:
                    continue
                maps[hp.pfn] = maps.get(hp.pfn, 0) + 1
                anon += HPAGE_PMD_NR
                assert mem.ord[hp.pfn] == 9 and mem.f[hp.pfn] & PG_head, \
                    f"huge PMD at {addr:#x} maps pfn {hp.pfn:#x}, not a THP head"
                assert vma in rmap.mapping[hp.pfn][0].vmas(), \
                    f"THP {hp.pfn:#x}: its anon_vma does not reach {vma} (mm{mm.id})"
            assert anon == mm.rss[mm.MM_ANONPAGES], \
                f"mm{mm.id}: MM_ANONPAGES {mm.rss[mm.MM_ANONPAGES]} but {anon} anon PTEs"
            assert shm == mm.rss[mm.MM_SHMEMPAGES], \
                f"mm{mm.id}: MM_SHMEMPAGES {mm.rss[mm.MM_SHMEMPAGES]} but {shm} shmem PTEs"
            assert filep == mm.rss[mm.MM_FILEPAGES], \
                f"mm{mm.id}: MM_FILEPAGES {mm.rss[mm.MM_FILEPAGES]} but {filep} file PTEs"
        import numpy as np
        for pfn in set(maps) | {int(p) for p in np.nonzero(rmap._mc)[0]}:
            assert rmap.mc[pfn] == maps.get(pfn, 0), \
                f"pfn {pfn:#x}: mapcount {rmap.mc[pfn]} but {maps.get(pfn, 0)} PTEs"
            assert mem.ref[pfn] >= rmap.mc[pfn], f"pfn {pfn:#x}: refcount below mapcount"
            assert not mem.f[pfn] & (PGTY_buddy | PG_pcp), f"pfn {pfn:#x} mapped but free"
        cached = {}
        for f in self.files:
            for idx, pfn in f.mapping.i_pages.items():
                assert pfn not in cached, f"pfn {pfn:#x} cached twice"
                cached[pfn] = f
                assert mem.ref[pfn] >= 1 + rmap.mc[pfn], f"cached pfn {pfn:#x} under-referenced"
            if self.swap_cache is not None:
                f._check()                         # its swap entries and info->swapped
        # NR_SHMEM counts exactly the tmpfs folios in page caches (mm/shmem.c
        # shmem_add_to_page_cache / shmem_delete_from_page_cache, mm/filemap.c
        # filemap_unaccount_folio); NR_FILE_PAGES counts them too, beside the
        # disk files' (fs/super.py checks those, when there are filesystems)
        # and the swap cache's (mm/swap_state.c add_to_swap_cache).
        from .filemap_core import NR_FILE_PAGES, NR_SHMEM
        from .swap_state import NR_SWAPCACHE
        vs = self.vmstat
        nr_shmem, nr_file, nr_swapcache = (vs.vm_node_stat[i] + sum(d[i] for p in vs.nodes
                                                                    for d in p.vm_node_stat_diff)
                                           for i in (NR_SHMEM, NR_FILE_PAGES, NR_SWAPCACHE))
        shmem = sum(f.mapping.nrpages for f in self.files if f.mapping.shmem is not None)
        assert nr_shmem == shmem, f"nr_shmem {nr_shmem} but {shmem} tmpfs pages cached"
        if getattr(self.machine, "subsystems", {}).get("fs") is None:
            assert nr_file == nr_shmem + nr_swapcache, \
                f"nr_file_pages {nr_file} but nr_shmem {nr_shmem}, nr_swapcached {nr_swapcache}, no files"
        self.lru._check()
        self.thp._check_deferred()                 # the deferred split queues
        if self.swap_cache is not None:            # swap_map against PTEs and the swap cache
            self.swap_cache._check()
        batched = self.lru.in_batches()
        for lv in self.lru.lruvecs:
            for lst in lv.lists:
                for pfn in lst:
                    assert pfn in cached or rmap.mc[pfn] or pfn in batched or mem.ref[pfn], \
                        f"pfn {pfn:#x} on the LRU with no user"


def addrspace_of(machine) -> AddrSpace | None:
    return machine.subsystems.get("addrspace")


def build(machine) -> AddrSpace | None:
    """The virtual-memory side, built on the machine's physical memory when a
    workload needs address spaces."""
    if "addrspace" not in machine.scenario.needs:
        return None
    return AddrSpace(machine, machine.subsystems["physmem"])


SUBSYSTEM = Subsystem("addrspace", kconfig=KCONFIG, constants=CONSTANTS + COMPACTION_CONSTANTS,
                      sysctl=VMSCAN_SYSCTL + PAGE_WRITEBACK_SYSCTL + COMPACTION_SYSCTL,
                      sysfs=THP_SYSFS + KHUGEPAGED_SYSFS, build=build,
                      doc="mm_structs, VMAs, page tables, faults, rmap, LRU batches")
