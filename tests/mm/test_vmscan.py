"""LRU aging (mm/swap.c), page reclaim and kswapd (mm/vmscan.c), Linux 6.12.

Unit tests drive the LRU of a standalone machine one operation at a time;
the known results run small scenarios (64 MiB, an SSD swap device, mm-ops
programs) and read the /proc/vmstat counters and lock_stat."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from helpers import thp_sysfs
from mmactors import Machine, parse_scenario
from mmactors.mm._internal import MAX_RECLAIM_RETRIES, PG_lru
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.filemap import PG_active, PG_referenced, PG_swapbacked
from mmactors.mm.gfp import GFP_HIGHUSER_MOVABLE
from mmactors.mm.physmem import PhysMem, physmem_of
from mmactors.mm.rmap import Rmap
from mmactors.mm.swap import (LRU, LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, folio_lru_list)
from mmactors.mm.vmscan import inactive_is_low


# ------------------------------------------------------------------ helpers
class _LRUBench:
    """An LRU on a standalone PhysMem (2 CPUs), driven one call at a time."""

    def __init__(self):
        self.pm = PhysMem.standalone(cpus=2, memory_mib=64)
        eng = self.pm.engine if hasattr(self.pm, "engine") else self.pm.pa.engine
        self.eng = eng
        self.pa = self.pm.pa
        self.lru = LRU(eng, self.pa, Rmap(eng, self.pa.mem_map.max_pfn, self.pa.mem_map.f), 2, 1, 31)
        self.me = self.pm.driver.actors

    def call(self, cpu, coro):
        return self.pm.call(cpu, coro)

    def new_folio(self, cpu=0) -> int:
        pfn = self.call(cpu, self.pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0))
        assert pfn >= 0
        self.call(cpu, self.lru.folio_add_lru(pfn, False, self.me[cpu]))
        return pfn

    def events(self, name):
        return self.pa.vmstat.event(name)


def _where(lru, pfn):
    for i, lst in enumerate(lru.lruvecs[0].lists):
        if pfn in lst:
            return i
    return None


# ------------------------------------------------------------------ unit tests
def test_lru_add_puts_anon_on_inactive_anon_and_marks_swapbacked():
    """lru_add: a new anon folio goes to the inactive anon list (folio_lru_list)."""
    b = _LRUBench()
    pfn = b.new_folio()
    b.call(0, b.lru.lru_add_drain(b.me[0]))
    f = b.pa.mem_map.f
    assert f[pfn] & PG_swapbacked and f[pfn] & PG_lru
    assert _where(b.lru, pfn) == LRU_INACTIVE_ANON
    b.lru._check()


def test_folio_mark_accessed_referenced_then_active():
    """mm/swap.c folio_mark_accessed: the first call sets PG_referenced, the
    second queues activation (lru_activate batch) and clears it; the batch
    moves the folio to the active list at the next drain, counting PGACTIVATE."""
    b = _LRUBench()
    pfn = b.new_folio()
    b.call(0, b.lru.lru_add_drain(b.me[0]))
    f = b.pa.mem_map.f
    b.lru.folio_mark_accessed(pfn, b.me[0])
    assert f[pfn] & PG_referenced and not f[pfn] & PG_active
    age = b.lru.lruvecs[0].nonresident_age
    b.lru.folio_mark_accessed(pfn, b.me[0])
    assert not f[pfn] & PG_referenced
    assert not f[pfn] & PG_lru                  # queued: test_clear_lru, still listed
    assert _where(b.lru, pfn) == LRU_INACTIVE_ANON
    assert b.lru.lruvecs[0].nonresident_age == age + 1      # workingset_activation
    b.lru._check()
    before = b.events("pgactivate")
    b.call(0, b.lru.lru_add_drain(b.me[0]))
    assert _where(b.lru, pfn) == LRU_ACTIVE_ANON and f[pfn] & PG_active and f[pfn] & PG_lru
    assert b.events("pgactivate") == before + 1
    assert b.pa.mem_map.ref[pfn] == 1            # the batch's reference was dropped
    b.lru._check()


def test_folio_mark_accessed_on_batched_folio_sets_active_directly():
    """__lru_cache_activate_folio: a folio still in the lru_add batch gets
    PG_active and lands on the active list when the batch drains."""
    b = _LRUBench()
    pfn = b.new_folio()
    b.lru.folio_mark_accessed(pfn, b.me[0])
    b.lru.folio_mark_accessed(pfn, b.me[0])
    b.call(0, b.lru.lru_add_drain(b.me[0]))
    assert _where(b.lru, pfn) == LRU_ACTIVE_ANON


def test_folio_rotate_reclaimable_moves_to_the_tail():
    """folio_rotate_reclaimable -> lru_move_tail: the folio becomes the next
    one reclaim isolates (the list's tail), PGROTATED counted."""
    b = _LRUBench()
    pfns = [b.new_folio() for _ in range(5)]
    b.call(0, b.lru.lru_add_drain(b.me[0]))
    lst = b.lru.lruvecs[0].lists[LRU_INACTIVE_ANON]
    assert next(iter(lst)) == pfns[0]
    b.lru.folio_rotate_reclaimable(pfns[3], b.me[1])
    b.call(1, b.lru.lru_add_drain(b.me[1]))
    assert next(iter(lst)) == pfns[3]
    assert b.events("pgrotated") == 1
    taken, scanned, _, _ = b.lru.isolate_lru_folios(b.lru.lruvecs[0], 2, LRU_INACTIVE_ANON,
                                                    lambda z: True)
    assert taken == [pfns[3], pfns[0]] and scanned == 2
    b.lru.move_folios_to_lru(b.lru.lruvecs[0], taken)
    b.lru._check()


def test_inactive_is_low_ratio():
    """inactive_is_low: ratio 1 below 1 GiB, int_sqrt(10 * GB) above."""
    class LV:
        def __init__(self, ina, act):
            self.n = {LRU_INACTIVE_ANON: ina, LRU_ACTIVE_ANON: act}

        def lru_size(self, lru):
            return self.n[lru]
    assert inactive_is_low(LV(10, 11), LRU_INACTIVE_ANON)
    assert not inactive_is_low(LV(11, 11), LRU_INACTIVE_ANON)
    gb4 = 4 << 18                                 # 4 GiB of pages: ratio int_sqrt(40) = 6
    assert inactive_is_low(LV(gb4 // 8, gb4 - gb4 // 8), LRU_INACTIVE_ANON)
    assert not inactive_is_low(LV(gb4 // 6, gb4 - gb4 // 6), LRU_INACTIVE_ANON)


# ------------------------------------------------------- the LRU state machine
class LRUMachine(RuleBasedStateMachine):
    """Every folio is, at every step, exactly one of: on one LRU list (the
    one its flags name, PG_lru set unless a move batch holds it), in an
    lru_add batch, or isolated by us; refcounts add up."""

    @initialize()
    def setup(self):
        self.b = _LRUBench()
        self.owned: list[int] = []        # folios we hold one reference to (the "mapping")
        self.isolated: list[int] = []

    @rule(cpu=st.integers(0, 1))
    def add(self, cpu):
        if len(self.owned) < 200:
            self.owned.append(self.b.new_folio(cpu))

    @rule(cpu=st.integers(0, 1))
    def drain(self, cpu):
        self.b.call(cpu, self.b.lru.lru_add_drain(self.b.me[cpu]))

    @rule(i=st.integers(0, 10**6), cpu=st.integers(0, 1))
    def mark_accessed(self, i, cpu):
        if self.owned:
            p = self.owned[i % len(self.owned)]
            if p not in self.isolated:
                self.b.lru.folio_mark_accessed(p, self.b.me[cpu])

    @rule(i=st.integers(0, 10**6), cpu=st.integers(0, 1))
    def rotate(self, i, cpu):
        if self.owned:
            p = self.owned[i % len(self.owned)]
            if p not in self.isolated:
                self.b.lru.folio_rotate_reclaimable(p, self.b.me[cpu])

    @rule(n=st.integers(1, 40), active=st.booleans())
    def isolate(self, n, active):
        lv = self.b.lru.lruvecs[0]
        taken, scanned, _, _ = self.b.lru.isolate_lru_folios(
            lv, n, LRU_ACTIVE_ANON if active else LRU_INACTIVE_ANON, lambda z: True)
        assert len(taken) <= scanned <= n
        self.isolated.extend(taken)

    @rule(deactivate=st.booleans())
    def putback(self, deactivate):
        f = self.b.pa.mem_map.f
        if deactivate:
            for p in self.isolated:
                f[p] &= ~PG_active
        moved, free = self.b.lru.move_folios_to_lru(self.b.lru.lruvecs[0], self.isolated)
        assert not free                     # we still hold a reference to each
        assert moved == len(self.isolated)
        self.isolated = []

    @rule(i=st.integers(0, 10**6), cpu=st.integers(0, 1))
    def put(self, i, cpu):
        """The owner drops its reference (munmap): freed unless a batch or
        the isolation holds it."""
        cand = [p for p in self.owned if p not in self.isolated]
        if cand:
            p = cand[i % len(cand)]
            self.owned.remove(p)
            self.b.call(cpu, self.b.lru.folios_put_refs([(p, 1)], self.b.me[cpu]))

    @invariant()
    def consistent(self):
        b = self.b
        b.lru._check()
        listed = {p for lst in b.lru.lruvecs[0].lists for p in lst}
        batched = [p for fb in b.lru.fbatches for p, _ in fb.lru_add]
        moving = [p for fb in b.lru.fbatches for p in fb.lru_activate + fb.lru_move_tail]
        ref = b.pa.mem_map.ref
        for p in self.owned:
            places = (p in listed) + (p in batched) + (p in self.isolated)
            assert places == 1, f"pfn {p:#x} in {places} places"
            assert ref[p] == 1 + batched.count(p) + moving.count(p) + (p in self.isolated)
        for p in self.isolated:
            assert not b.pa.mem_map.f[p] & PG_lru
        for p in listed:
            assert p in self.owned or p in moving


TestLRUMachine = LRUMachine.TestCase
TestLRUMachine.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


# -------------------------------------------------------------- scenarios
def _scenario(steps, *, cpus=1, memory_mib=64, swap_mib=256, extra="", thp="never"):
    """``thp``: transparent_hugepage/enabled (these tests count 4 KiB pages
    unless they say otherwise)."""
    swap = f'[[swap]]\nsize_mib = {swap_mib}\ndevice = "ssd"\n' if swap_mib else ""
    extra = thp_sysfs(thp) + extra
    st_ = ", ".join('"' + s + '"' for s in steps)
    return f"""
name = "reclaim-test"
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
{swap}{extra}
[[workload]]
kind = "mm-ops"
cpus = {list(range(cpus))}
steps = [{st_}]
[run]
duration_ns = 5_000_000_000
seed = 1
"""


def _run(text, patch=None):
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


def _check_no_leak(m):
    """Every frame free, on one LRU list or in a batch, or owned elsewhere
    (page tables, swap cache, slab): the subsystems' own checks."""
    physmem_of(m)._check()
    sub = addrspace_of(m)
    sub._check()
    sub.vmscan._check()


def test_no_pressure_no_kswapd():
    """A run that never reaches the low watermark never starts kswapd and
    has no "reclaim" section."""
    m, res = _run(_scenario(["mmap buf 4M rw anon,private", "touch buf write"]))
    vs = addrspace_of(m).vmscan
    assert all(k.actor is None and k.state == "not started" for k in vs.nodes)
    assert "reclaim" not in res.to_json()


def test_direct_reclaim_storm_lru_lock_twice_per_32():
    """Demand above kswapd's rate (two CPUs touching 40 MiB of a 64 MiB
    machine back to back): direct reclaim runs (allocstall > 0,
    pgscan_direct > 0) and shrink_inactive_list takes lru_lock twice per
    batch of at most SWAP_CLUSTER_MAX = 32 folios (mm/vmscan.c: isolate
    under lru_lock, unlock, shrink_folio_list, relock for
    move_folios_to_lru)."""
    from mmactors.mm.vmscan import VmScan
    from mmactors.sync.spinlock import _Spin
    takes = {"n": 0, "calls": 0}
    orig = _Spin.lock_irq
    orig_sil = VmScan.shrink_inactive_list

    async def counting(self, site=None, subclass=0):
        if site == "shrink_inactive_list":
            takes["n"] += 1
        return await orig(self, site, subclass)

    async def sil(self, *a, **kw):
        takes["calls"] += 1
        return await orig_sil(self, *a, **kw)
    _Spin.lock_irq = counting
    VmScan.shrink_inactive_list = sil
    try:
        m, res = _run(_scenario(["mmap buf 40M rw anon,private", "touch buf write"], cpus=2))
    finally:
        _Spin.lock_irq = orig
        VmScan.shrink_inactive_list = orig_sil
    j = res.to_json()["reclaim"]
    ev = j["vmstat"]
    assert ev["allocstall"] > 0 and ev["pgscan_direct"] > 0 and ev["pgsteal_direct"] > 0
    scanned = ev["pgscan_kswapd"] + ev["pgscan_direct"]
    # two holds per call that isolated something (isolate, then putback),
    # one for a call that found nothing to isolate
    assert takes["calls"] <= takes["n"] <= 2 * takes["calls"]
    per32 = takes["n"] / (scanned / 32)
    # "about twice per 32": batches are smaller than 32 when size >> priority is
    assert 2.0 <= per32 <= 3.0, (takes["n"], scanned, per32)
    lk = res.locks["&lruvec->lru_lock"]
    assert lk["contentions"] > 0
    assert dict(lk["contention_points"]).get("shrink_inactive_list", 0) > 0
    _check_no_leak(m)


def test_kswapd_keeps_up_below_its_rate():
    """Demand below kswapd's reclaim rate (one CPU touching 128 KiB per ms
    of a 96 MiB buffer on a 64 MiB machine with SSD swap): after warm-up
    there is no direct reclaim; kswapd stops each run at the high mark, free
    pages stay above min; demand re-crossing low within the HZ/10 nap raises
    kswapd_low_wmark_hit_quickly (mm/vmscan.c kswapd_try_to_sleep)."""
    steps = ["mmap buf 96M rw anon,private"]
    for off in range(0, 96 * 1024, 128):
        steps += [f"touch buf write {off}K 128K", "delay 1000000"]
    m, res = _run(_scenario(steps))
    j = res.to_json()["reclaim"]
    ev = j["vmstat"]
    k = j["kswapd"][0]
    assert k["runs"] > 10 and k["nr_reclaimed"] > 5000
    assert ev["kswapd_low_wmark_hit_quickly"] > 0
    # warm-up (until kswapd's first balancing ends): the first crossing of
    # the min mark may reclaim directly (every PTE is still young, so that
    # reclaimer walks the priorities down); afterwards there is none
    assert j["direct_reclaims"] <= 1
    assert j["direct_reclaim_last_ns"] is None or j["direct_reclaim_last_ns"] < k["first_nap_ns"]
    wm = k["watermarks"]
    samples = j["free_samples"]["samples"]
    assert samples and all(s[1] >= wm["min"] for s in samples[1:])
    _check_no_leak(m)


def test_no_swap_kswapd_gives_up_after_max_reclaim_retries():
    """No swap, anon demand above memory: kswapd can reclaim nothing; each
    balance_pgdat without progress increments kswapd_failures, and from
    MAX_RECLAIM_RETRIES = 16 on wakeup_kswapd no longer wakes it (pageoutrun
    stops at 16).  The allocations fail after should_reclaim_retry gives up
    (no reclaimable pages: anon without swap is not counted); no frame leaks."""
    m, res = _run(_scenario(["mmap buf 80M rw anon,private", "touch buf write"], swap_mib=0))
    sub = addrspace_of(m)
    pg = sub.pa.nodes[0]
    assert pg.kswapd_failures == MAX_RECLAIM_RETRIES
    j = res.to_json()["reclaim"]
    assert j["vmstat"]["pageoutrun"] == MAX_RECLAIM_RETRIES
    assert j["vmstat"]["pgsteal_kswapd"] == 0 and j["vmstat"]["allocstall"] > 0
    assert sub.pa.oom_reached > 0
    assert sub.event("fault_oom") > 0
    _check_no_leak(m)


def test_should_reclaim_retry_counts_no_progress_loops():
    """should_reclaim_retry (mm/page_alloc.c): with reclaimable pages that
    would lift the zone over its min mark, retries go on without progress
    until no_progress_loops exceeds MAX_RECLAIM_RETRIES; progress at order 0
    resets the count."""
    pm = PhysMem.standalone(cpus=1, memory_mib=64)
    pa = pm.pa

    class Reclaim:
        def zone_reclaimable_pages(self, zone):
            return zone.managed_pages
    pa.reclaim = Reclaim()
    ac, flags = pa.prepare_alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0)
    loops, retries = 0, 0
    while True:
        loops, retry = pm.call(0, pa.should_reclaim_retry_progress(
            GFP_HIGHUSER_MOVABLE, 0, ac, flags, False, loops, pm.driver.actors[0]))
        if not retry:
            break
        retries += 1
    assert retries == MAX_RECLAIM_RETRIES and loops == MAX_RECLAIM_RETRIES + 1
    loops, retry = pm.call(0, pa.should_reclaim_retry_progress(
        GFP_HIGHUSER_MOVABLE, 0, ac, flags, True, 7, pm.driver.actors[0]))
    assert loops == 0 and retry


@pytest.mark.parametrize("flags,lru", [(0, 2), (PG_swapbacked, 0), (PG_swapbacked | PG_active, 1),
                                       (PG_active, 3)])
def test_folio_lru_list(flags, lru):
    """include/linux/mm_inline.h folio_lru_list: swap-backed -> anon lists."""
    assert folio_lru_list(flags) == lru


# ------------------------------------------------------- property: any pressure
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cpus=st.integers(1, 2), mib=st.integers(20, 56), swap=st.sampled_from([0, 128]),
       passes=st.integers(0, 1), seed=st.integers(1, 1000))
def test_reclaim_invariants_under_any_pressure(cpus, mib, swap, passes, seed):
    """Whatever the pressure: every frame is free, on exactly one LRU list or
    in a batch, or owned elsewhere (the subsystems' checks); no folio stays
    isolated once the workloads are done; the counters agree
    (pgscan_anon + pgscan_file = pgscan_kswapd + pgscan_direct, the same for
    pgsteal, and nothing is stolen that was not scanned)."""
    steps = [f"mmap buf {mib}M rw anon,private", "touch buf write"]
    if passes:
        steps.append("retouch buf read 1")
    # THP on (the kernel's default): reclaim splits the THPs it meets
    text = _scenario(steps, cpus=cpus, memory_mib=48, swap_mib=swap, thp="always").replace(
        "seed = 1", f"seed = {seed}")
    m, res = _run(text)
    _check_no_leak(m)
    vs = physmem_of(m).vmstat
    ev = vs.event
    assert ev("pgscan_anon") + ev("pgscan_file") == ev("pgscan_kswapd") + ev("pgscan_direct")
    assert ev("pgsteal_anon") + ev("pgsteal_file") == ev("pgsteal_kswapd") + ev("pgsteal_direct")
    assert ev("pgsteal_kswapd") + ev("pgsteal_direct") <= ev("pgscan_kswapd") + ev("pgscan_direct")
    from mmactors._core import ActorState
    if all(a.state is ActorState.DONE for a in m._cpu_actors):
        snap = vs.snapshot()
        assert snap["nr_isolated_anon"] == 0 and snap["nr_isolated_file"] == 0
    lru = addrspace_of(m).lru
    listed = sum(len(lst) for lv in lru.lruvecs for lst in lv.lists)
    assert listed == sum(lv.nr_pages()[i] for lv in lru.lruvecs for i in range(5))


def test_plugged_swap_writes_end_after_putback_so_written_folios_are_stolen():
    """Regression: without shrink_lruvec's blk_plug (mm/vmscan.c), a swap write
    to an SSD completed while its folio was still isolated, folio_end_writeback's
    folio_rotate_reclaimable found it off the LRU (as 6.12 would), and the folio
    waited a whole inactive-list cycle: 16 CPUs of usemem wrote 6,118 pages and
    reclaim freed 866.  With the plug the bios reach the device after
    move_folios_to_lru, the completions rotate the folios to the tail, and the
    next scan frees them (4,662 of 6,293 here)."""
    from mmactors import Machine, parse_scenario
    text = """
[machine]
cpus = 16
memory_mib = 64
""" + thp_sysfs("never") + """
[[swap]]
size_mib = 256
device = "ssd"
[[workload]]
kind = "usemem"
cpus = "all"
size = "6M"
sleep_ns = -1
[run]
duration_ns = 50_000_000
seed = 1
"""
    d = Machine(parse_scenario(text), trace=False).run().extra["vmstat_delta"]
    stolen = d["pgsteal_kswapd"] + d["pgsteal_direct"]
    assert d["pswpout"] > 4000
    assert stolen > d["pswpout"] // 2
    assert d["pgrotated"] > d["pswpout"] // 2
