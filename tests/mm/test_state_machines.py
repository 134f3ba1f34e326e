"""Hypothesis rule-based state machines over the page allocator and SLUB.

Every step is one kernel operation run to completion on a standalone
PhysMem (``pm.call(cpu, coro)``); after every step the invariants hold:
every frame is in exactly one place, free counts agree with the lists, no
free block has a free buddy of its order, vmstat's global counters are the
sums of the zone/node ones, and SLUB's object counts balance.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmactors.mm.gfp import parse_gfp
from mmactors.mm.physmem import PhysMem

NCPU = 3
GFPS = [parse_gfp(g) for g in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_ATOMIC",
                               "GFP_KERNEL | __GFP_RECLAIMABLE", "GFP_NOWAIT", "GFP_DMA",
                               "GFP_KERNEL | __GFP_COMP | __GFP_ZERO")]
ORDERS = [0, 0, 0, 0, 1, 2, 3, 4, 6, 9, 10]
SETTINGS = settings(max_examples=25, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class PageAllocMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pm = PhysMem.standalone(cpus=NCPU, memory_mib=64,
                                     kconfig={"CONFIG_PCP_BATCH_SCALE_MAX": 2})
        self.pa = self.pm.pa
        self.held = []

    @rule(cpu=st.integers(0, NCPU - 1), order=st.sampled_from(ORDERS),
          gfp=st.sampled_from(GFPS))
    def alloc(self, cpu, order, gfp):
        pfn = self.pm.call(cpu, self.pa.alloc_pages(gfp, order))
        if pfn >= 0:
            assert pfn % (1 << order) == 0
            self.held.append((pfn, order))

    @rule(cpu=st.integers(0, NCPU - 1), n=st.integers(1, 300))
    def alloc_many(self, cpu, n):
        for _ in range(n):
            pfn = self.pm.call(cpu, self.pa.alloc_pages(GFPS[0], 0))
            if pfn < 0:
                break
            self.held.append((pfn, 0))

    @precondition(lambda self: self.held)
    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def free(self, data, cpu):
        i = data.draw(st.integers(0, len(self.held) - 1))
        pfn, order = self.held.pop(i)
        self.pm.call(cpu, self.pa.free_pages(pfn, order))

    @precondition(lambda self: self.held)
    @rule(cpu=st.integers(0, NCPU - 1), frac=st.floats(0.1, 1.0))
    def free_many(self, cpu, frac):
        k = max(1, int(len(self.held) * frac))
        for pfn, order in self.held[:k]:
            self.pm.call(cpu, self.pa.free_pages(pfn, order))
        del self.held[:k]

    @precondition(lambda self: self.held)
    @rule(holder=st.integers(0, NCPU - 1), victim=st.integers(0, NCPU - 1),
          order=st.sampled_from([0, 1, 3]))
    def contended_pcp(self, holder, victim, order):
        """While another CPU holds the victim's pcp->lock (a remote drain), the
        victim's allocations and frees fall back to the buddy."""
        if holder == victim:
            return
        z = self.pa.zones[1]
        pcp = z.per_cpu_pageset[victim]
        eng = self.pm.engine
        eng.current = self.pm.driver.actors[holder]
        assert pcp.lock.trylock_now(eng.current, "test")
        try:
            pfn = self.pm.call(victim, self.pa.alloc_pages(GFPS[1], order))
            if pfn >= 0:
                self.pm.call(victim, self.pa.free_pages(pfn, order))
            pfn, o = self.held.pop()
            self.pm.call(victim, self.pa.free_pages(pfn, o))
        finally:
            eng.current = self.pm.driver.actors[holder]
            pcp.lock.unlock("test")

    @rule(cpu=st.integers(0, NCPU - 1))
    def drain_cpu(self, cpu):
        self.pm.call(cpu, self.pa.drain_pages(cpu))

    @rule(cpu=st.integers(0, NCPU - 1))
    def drain_all(self, cpu):
        self.pm.call(cpu, self.pa.drain_all_pages())

    @rule(cpu=st.integers(0, NCPU - 1))
    def vmstat_update(self, cpu):
        self.pm.call(cpu, self.pa.refresh_cpu_vm_stats(True))

    @rule(frac=st.sampled_from([0, 8, 100, 10000]))
    def set_high_fraction(self, frac):
        self.pa.set_percpu_pagelist_high_fraction(frac)

    @invariant()
    def invariants(self):
        self.pm._check()

    def teardown(self):
        for i, (pfn, order) in enumerate(self.held):
            self.pm.call(i % NCPU, self.pa.free_pages(pfn, order))
        self.held = []
        self.pm.call(0, self.pa.drain_all_pages())
        self.pm._check()
        self.pm.vmstat.fold_all()
        self.pm.vmstat._check()
        for z in self.pa.populated:
            assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks, z
            assert z.vm_stat[0] == z.managed_pages


TestPageAlloc = PageAllocMachine.TestCase
TestPageAlloc.settings = SETTINGS

SIZES = [8, 24, 64, 100, 192, 256, 700, 1024, 3000, 8192, 12000]


class SlubMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pm = PhysMem.standalone(cpus=NCPU, memory_mib=64)
        self.slub = self.pm.slub
        self.objs = []

    @rule(cpu=st.integers(0, NCPU - 1), size=st.sampled_from(SIZES), n=st.integers(1, 80),
          gfp=st.sampled_from(GFPS[:4]))
    def kmalloc(self, cpu, size, n, gfp):
        for _ in range(n):
            a = self.pm.call(cpu, self.slub.kmalloc(size, gfp))
            if not a:
                break
            self.objs.append(a)

    @precondition(lambda self: self.objs)
    @rule(cpu=st.integers(0, NCPU - 1), data=st.data())
    def kfree(self, cpu, data):
        n = data.draw(st.integers(1, len(self.objs)))
        idx = sorted(set(data.draw(st.lists(st.integers(0, len(self.objs) - 1),
                                            min_size=1, max_size=n))), reverse=True)
        for i in idx:
            self.pm.call(cpu, self.slub.kfree(self.objs.pop(i)))

    @rule(cpu=st.integers(0, NCPU - 1), name=st.sampled_from(["kmalloc-64", "kmalloc-1k",
                                                              "kmalloc-8", "kmalloc-192"]))
    def flush_cpu_slab(self, cpu, name):
        self.pm.call(cpu, self.slub.flush_cpu_slab(self.slub.caches[name]))

    @rule(cpu=st.integers(0, NCPU - 1), name=st.sampled_from(["kmalloc-64", "kmalloc-1k"]))
    def shrink(self, cpu, name):
        self.pm.call(cpu, self.slub.kmem_cache_shrink(self.slub.caches[name], flush=False))

    @invariant()
    def invariants(self):
        self.pm._check()
        live = sum(s.live for s in self.slub.caches.values())
        assert live + len(self.slub.large) == len([a for a in self.objs if a > 16])

    def teardown(self):
        for i, a in enumerate(self.objs):
            self.pm.call(i % NCPU, self.slub.kfree(a))
        self.objs = []
        for s in self.slub.caches.values():
            for cpu in range(NCPU):
                self.pm.call(cpu, self.slub.flush_cpu_slab(s))
            self.pm.call(0, self.slub.kmem_cache_shrink(s, flush=False))
            assert s.live == 0 and not s.slabs, s.name
        self.pm.call(0, self.pm.pa.drain_all_pages())
        self.pm._check()
        for z in self.pm.pa.populated:
            assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks


TestSlub = SlubMachine.TestCase
TestSlub.settings = SETTINGS
