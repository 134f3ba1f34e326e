"""The rmap walks reclaim uses (mm/rmap.c folio_referenced, try_to_unmap) and
the swap cache (mm/swap_state.c), on a standalone machine whose operations
run one at a time through the SyncDriver."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from mmactors.mm import mmap as M
from mmactors.mm.addrspace import AddrSpace
from mmactors.mm.fork import dup_mmap
from mmactors.mm.memory import _PAGE_ACCESSED, pte_pfn, pte_present
from mmactors.mm.mm_types import PAGE_SHIFT, PMD_SHIFT, PTRS_PER_PTE, VM_WRITE
from mmactors.mm.physmem import PhysMem
from mmactors.mm.rmap import folio_referenced

PAGE = 4096
RW = M.PROT_READ | M.PROT_WRITE


# Calls run one at a time outside a scheduled run (SyncDriver): a THP fault
# starts khugepaged, an actor a stand-in CPU cannot wait for, and these
# machines model 4 KiB PTEs.  THPs have their own tests (test_huge_memory.py).
NO_THP = {"kernel/mm/transparent_hugepage/enabled": "never"}


class Box:
    """A standalone PhysMem + AddrSpace (+ swap when asked) on one engine."""

    def __init__(self, cpus=2, memory_mib=64, swap=None):
        self.pm = pm = PhysMem.standalone(cpus=cpus, memory_mib=memory_mib)
        shim = SimpleNamespace(engine=pm.engine, ncpus=cpus, nnodes=1, kconfig=pm.kconfig,
                               constants=pm.constants, sysctl=getattr(pm, "sysctl", {}),
                               sysfs=NO_THP)
        self.sub = AddrSpace(shim, pm)
        self.cpus = cpus
        if swap is not None:
            from mmactors.mm.swap_state import swapon_standalone
            swapon_standalone(self.sub, swap)
        self.mm = self.new_mm()

    def new_mm(self):
        mm = self.sub.new_mm()
        for a in self.pm.driver.actors:
            self.sub.attach(a, mm)
        return mm

    def me(self, cpu=0):
        return self.pm.driver.actors[cpu]

    def call(self, coro, cpu=0):
        return self.pm.call(cpu, coro)

    def mmap(self, pages, flags=M.MAP_PRIVATE | M.MAP_ANONYMOUS, mm=None):
        return self.call(M.do_mmap(self.sub, mm or self.mm, pages * PAGE, RW, flags, self.me()))

    def touch(self, addr, write=True, mm=None, cpu=0):
        return self.call(self.sub.memory.do_user_addr_fault(mm or self.mm, addr, write,
                                                            self.me(cpu)), cpu)

    def pte(self, addr, mm=None):
        pt = (mm or self.mm).pgtables.get(addr >> PMD_SHIFT)
        return pt.ptes[(addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)] if pt else 0

    def pfn(self, addr, mm=None):
        v = self.pte(addr, mm)
        assert pte_present(v)
        return pte_pfn(v)


def test_folio_referenced_clears_young_ptes():
    """folio_referenced_one: ptep_clear_flush_young on each mapping; the count
    is of mappings found young, vm_flags the union of theirs (mm/rmap.c)."""
    b = Box()
    a = b.mmap(4)
    b.touch(a)
    pfn = b.pfn(a)
    assert b.pte(a) & _PAGE_ACCESSED
    n, flags = b.call(folio_referenced(b.sub, pfn, b.me()))
    assert n == 1 and flags & VM_WRITE
    assert not b.pte(a) & _PAGE_ACCESSED
    assert b.call(folio_referenced(b.sub, pfn, b.me())) == (0, 0)
    b.touch(a, write=False)                    # a read of a present PTE marks it young again
    assert b.call(folio_referenced(b.sub, pfn, b.me()))[0] == 1


def test_folio_referenced_walks_every_mapping_after_fork():
    b = Box()
    a = b.mmap(1)
    b.touch(a)
    pfn = b.pfn(a)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    assert b.pfn(a, child) == pfn
    assert not b.pte(a, child) & _PAGE_ACCESSED            # copy_present_pte: pte_mkold
    assert b.call(folio_referenced(b.sub, pfn, b.me()))[0] == 1
    b.touch(a, write=False, mm=child)
    b.touch(a, write=False)
    assert b.call(folio_referenced(b.sub, pfn, b.me()))[0] == 2


def test_folio_referenced_contended_rmap_lock_is_minus_one():
    """rwc.try_lock: a contended anon_vma rwsem ends the walk with -1."""
    b = Box()
    a = b.mmap(1)
    b.touch(a)
    pfn = b.pfn(a)
    root = b.sub.rmap.mapping[pfn][0].root
    b.call(root.rwsem.down_write("test"), cpu=1)
    assert b.call(folio_referenced(b.sub, pfn, b.me())) == (-1, 0)

    async def release():
        root.rwsem.up_write("test")
    b.call(release(), cpu=1)
    assert b.call(folio_referenced(b.sub, pfn, b.me()))[0] == 1


def test_folio_referenced_unmapped_is_zero():
    b = Box()
    a = b.mmap(1)
    b.touch(a)
    pfn = b.pfn(a)
    b.call(M.vm_munmap(b.sub, b.mm, a, PAGE, b.me()))
    assert b.call(folio_referenced(b.sub, pfn, b.me())) == (0, 0)


# ------------------------------------------------------------------ swap
async def reclaim_async(sub, pfn, me, shadow=None, strict=True):
    """What shrink_folio_list does to one mapped anonymous folio: isolate it,
    lock it, add_to_swap, try_to_unmap, pageout (swap_writepage unlocks it),
    wait for the write, relock, __remove_mapping (the swap address space's
    xa_lock, the refcount frozen at isolation + cache, the shadow left in
    the slot), put_swap_folio, free.  Returns the entry."""
    from mmactors.mm._internal import PG_lru
    from mmactors.mm.filemap import PG_writeback
    from mmactors.mm.page_io import folio_wait_writeback, swap_writepage
    from mmactors.mm.rmap import try_to_unmap, try_to_unmap_flush
    sc = sub.swap_cache
    f = sub.mem_map.f
    ref = sub.mem_map.ref
    await sub.lru.lru_add_drain(me)
    lv = sub.lru.lruvec_of(pfn)
    await lv.lru_lock.lock_irq("isolate")
    lv.delete(pfn)
    f[pfn] &= ~PG_lru
    ref[pfn] += 1                                   # isolation's reference
    lv.lru_lock.unlock_irq("isolate")
    assert sub.folio_locks.folio_trylock(pfn, me)
    from mmactors.mm.filemap import PG_swapcache
    if not f[pfn] & PG_swapcache:
        assert await sc.add_to_swap(pfn, me)
    unmapped = await try_to_unmap(sub, pfn, me)
    assert unmapped or not strict
    await try_to_unmap_flush(sub, me)
    assert await swap_writepage(sub, pfn, me) == 0
    await folio_wait_writeback(sub, pfn, me)
    assert not f[pfn] & PG_writeback
    assert sub.folio_locks.folio_trylock(pfn, me)
    entry = sc.folio_swap_entry(pfn)
    space = sc.swap_address_space(entry)
    await space.xa_lock.lock_irq("__remove_mapping")
    if ref[pfn] != 2 or sub.rmap.mc[pfn]:         # folio_ref_freeze failed: keep it
        space.xa_lock.unlock_irq("__remove_mapping")
        assert not strict, f"pfn {pfn:#x}: refcount {ref[pfn]} at the freeze"
        sub.folio_locks.folio_unlock(pfn, me)
        await sub.lru.folio_add_lru(pfn, False, me)         # folio_putback_lru
        await sub.lru.folios_put_refs([(pfn, 1)], me)
        return 0
    sc.delete_from_swap_cache_locked(pfn, entry, shadow)
    space.xa_lock.unlock_irq("__remove_mapping")
    await sub.swap.put_swap_folio(entry)
    sub.folio_locks.folio_unlock(pfn, me)
    ref[pfn] = 1
    await sub.lru.folios_put_refs([(pfn, 1)], me)
    return entry


def reclaim_one(b, pfn, shadow=None):
    return b.call(reclaim_async(b.sub, pfn, b.me(), shadow))


def swapbox(**kw):
    return Box(swap=[{"size_mib": 16}], **kw)


def vm(b, name):
    return b.sub.vmstat.event(name)


def test_swap_out_and_in_roundtrip_skip_swapcache():
    """zram (SWP_SYNCHRONOUS_IO) and a slot only one PTE uses: do_swap_page
    reads into a new folio without the swap cache (6.12), a major fault."""
    b = swapbox()
    a = b.mmap(2)
    b.touch(a)
    pfn = b.pfn(a)
    entry = reclaim_one(b, pfn)
    v = b.pte(a)
    from mmactors.mm.swapops import is_swap_pte, pte_to_swp_entry, pte_swp_exclusive
    assert is_swap_pte(v) and pte_to_swp_entry(v) == entry and pte_swp_exclusive(v)
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 1 and b.mm.rss[b.mm.MM_ANONPAGES] == 0
    assert b.sub.swap.swap_count(entry) == 1
    assert vm(b, "pswpout") == 1
    b.sub._check()
    b.sub.swap_cache._check()
    from mmactors.mm.memory import VM_FAULT_MAJOR
    assert b.touch(a, write=False) & VM_FAULT_MAJOR
    assert vm(b, "pswpin") == 1 and vm(b, "pgmajfault") == 1
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 0 and b.mm.rss[b.mm.MM_ANONPAGES] == 1
    assert b.sub.swap.map_of(entry) == 0 or entry in b.sub.swap.cached_slots()
    assert b.pte(a) & 0x2                       # exclusive: mapped writable
    b.sub._check()
    b.sub.swap_cache._check()
    b.sub.swap._check()


# ------------------------------------------- a state machine over swap
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402


class SwapMachine(RuleBasedStateMachine):
    """Processes write, fork, swap out (reclaim of one folio), swap in (read
    or write faults), unmap and exit, in any order; after every step the
    swap accounting holds (swap_map counts = swap PTEs, SWAP_HAS_CACHE only on
    cached or slots-cache slots, MM_SWAPENTS, the swap cache against the
    folios) with the address-space invariants, and at the end no frame or
    slot is left."""

    PAGES = 12

    def __init__(self):
        super().__init__()
        self.b = Box(swap=[{"size_mib": 4}, {"size_mib": 4, "priority": 100}])
        self.procs = [(self.b.mm, self.b.mmap(self.PAGES))]

    def _proc(self, data):
        return self.procs[data.draw(st.integers(0, len(self.procs) - 1), label="proc")]

    @rule(data=st.data(), page=st.integers(0, PAGES - 1), write=st.booleans())
    def touch(self, data, page, write):
        mm, a = self._proc(data)
        self.b.touch(a + page * PAGE, write=write, mm=mm)

    @rule(data=st.data(), page=st.integers(0, PAGES - 1))
    def swap_out(self, data, page):
        from mmactors.mm.memory import _PAGE_SPECIAL
        mm, a = self._proc(data)
        v = self.b.pte(a + page * PAGE, mm)
        if not v & 1 or v & _PAGE_SPECIAL or not self.b.sub.rmap.folio_test_anon(v >> 12):
            return
        self.b.call(reclaim_async(self.b.sub, v >> 12, self.b.me(), strict=False))

    @rule(data=st.data())
    def fork(self, data):
        if len(self.procs) >= 3:
            return
        mm, a = self._proc(data)
        from mmactors.mm.fork import dup_mmap
        child = self.b.call(dup_mmap(self.b.sub, mm, self.b.me()))
        for act in self.b.pm.driver.actors:
            self.b.sub.attach(act, child)
        self.procs.append((child, a))

    @rule(data=st.data(), first=st.integers(0, PAGES - 1), n=st.integers(1, 4))
    def dontneed(self, data, first, n):
        from mmactors.mm.madvise import sys_madvise_dontneed
        mm, a = self._proc(data)
        n = min(n, self.PAGES - first)
        self.b.call(sys_madvise_dontneed(self.b.sub, mm, a + first * PAGE, n * PAGE, self.b.me()))

    @rule(data=st.data())
    def exit(self, data):
        if len(self.procs) < 2:
            return
        i = data.draw(st.integers(0, len(self.procs) - 1), label="exit")
        mm, _ = self.procs.pop(i)
        self.b.call(M.exit_mmap(self.b.sub, mm, self.b.me()))

    @invariant()
    def accounting(self):
        self.b.sub._check()                  # includes SwapCache._check and its accounting
        self.b.sub.swap._check()

    def teardown(self):
        for mm, _ in self.procs:
            self.b.call(M.exit_mmap(self.b.sub, mm, self.b.me()))
        self.b.call(self.b.sub.lru.lru_add_drain(self.b.me()))
        sub = self.b.sub
        sub._check()
        sw = sub.swap
        assert sub.swap_cache.nr_swapcached == 0
        assert sw.nr_swap_pages + len(sw.cached_slots()) == sw.total_swap_pages


TestSwapMachine = SwapMachine.TestCase
TestSwapMachine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
