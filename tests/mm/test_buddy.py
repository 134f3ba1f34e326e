"""The buddy allocator: splitting, merging, fallback stealing, watermarks, failures."""
from __future__ import annotations

import pytest

from mmactors.mm._internal import (MIGRATE_HIGHATOMIC, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE,
                                   ZONE_DMA32, pageblock_order)
from mmactors.mm.gfp import GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_NOWAIT, parse_gfp
from mmactors.mm.page_alloc import MMBug

from helpers import standalone


def _blocks(z):
    return sorted((p, o) for p, o, _ in z.free_blocks())


def test_expand_keeps_the_lower_half():
    pm = standalone(cpus=1, memory_mib=64)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    # __rmqueue_smallest: the smallest order >= 4 with a free block.  On 64 MiB
    # that is the order-8 block left below the memmap reservation.
    src = min(o for o in range(4, 11) if z.free_area[o].nr_free)
    assert src == 8
    first = next(reversed(z.free_area[src].free_list[MIGRATE_MOVABLE]))
    pfn = pm.call(0, pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 4))   # order 4: not a pcp order
    assert pfn == first
    # expand(): the upper halves of order 7..4 went back on the free lists
    for o in range(4, src):
        assert first + (1 << o) in z.free_area[o].free_list[MIGRATE_MOVABLE]
    pm._check()
    pm.call(0, pa.free_pages(pfn, 4))
    pm._check()
    assert _blocks(z) == z.initial_blocks


@pytest.mark.parametrize("gfp", ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_ATOMIC",
                                 "GFP_KERNEL | __GFP_RECLAIMABLE", "GFP_DMA32 | __GFP_ZERO"])
def test_alloc_every_order_and_free_restores(gfp):
    pm = standalone(cpus=4, memory_mib=512)
    pa = pm.pa
    g = parse_gfp(gfp)
    held = []
    for i in range(200):
        order = [0, 0, 1, 0, 2, 3, 0, 5, 9, 10][i % 10]
        pfn = pm.call(i % 4, pa.alloc_pages(g, order))
        assert pfn >= 0
        held.append((pfn, order))
        if i % 37 == 0:
            pm._check()
    pm._check()
    # free in a scrambled order, from other CPUs
    for j, (pfn, order) in enumerate(held[::-1]):
        pm.call((j * 3) % 4, pa.free_pages(pfn, order))
    for cpu in range(4):
        pm.call(cpu, pa.drain_pages(cpu))
    pm._check()
    for z in pa.populated:
        assert _blocks(z) == z.initial_blocks, z


def test_unmovable_steals_whole_pageblocks_from_movable():
    pm = standalone(cpus=1, memory_mib=64)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    pb = pa.mem_map.pageblock_mt
    assert (pb == MIGRATE_UNMOVABLE).sum() == 0
    pfn = pm.call(0, pa.alloc_pages(GFP_KERNEL, 0))
    # __rmqueue_fallback took the largest MOVABLE block (order 10) and
    # change_pageblock_range() retagged both of its pageblocks
    assert pa.fallbacks == 1
    blk = pfn >> pageblock_order
    assert pb[blk] == MIGRATE_UNMOVABLE and pb[blk ^ 1] == MIGRATE_UNMOVABLE
    assert (pb == MIGRATE_UNMOVABLE).sum() == 2
    pm._check()
    pm.call(0, pa.free_pages(pfn, 0))
    pm.call(0, pa.drain_pages(0))
    pm._check()
    assert _blocks(z) == z.initial_blocks


def _all_unmovable(pm):
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    me = pm.driver.actors[0]
    pm.engine.current = me
    for o, area in enumerate(z.free_area):
        for pfn in list(area.free_list[MIGRATE_MOVABLE]):
            pa.move_to_free_list(z, pfn, o, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, me)
            for b in range(max(1, (1 << o) >> pageblock_order)):
                pa.mem_map.pageblock_mt[(pfn >> pageblock_order) + b] = MIGRATE_UNMOVABLE
    pm._check()
    return pa, z, me


def test_movable_fallback_claims_a_whole_large_block():
    pm = standalone(cpus=1, memory_mib=64)
    pa, z, me = _all_unmovable(pm)
    # Under zone->lock (the sync layer): the largest fallback block is order 10,
    # >= pageblock_order, so even a MOVABLE request takes ownership of it.
    p1 = pa.rmqueue_fallback(z, 3, MIGRATE_MOVABLE, 0x800, me)
    pa.prep_new_page(p1, 3, GFP_HIGHUSER_MOVABLE, 0, me)
    assert p1 % 1024 == 0
    pb = pa.mem_map.pageblock_mt
    assert pb[p1 >> 9] == MIGRATE_MOVABLE and pb[(p1 >> 9) + 1] == MIGRATE_MOVABLE
    assert z.watermark_boost == 0                 # no boost when claiming >= a pageblock
    pm._check()


def test_movable_fallback_prefers_the_smallest_block():
    """When no fallback block can be stolen whole (all below order 4), a MOVABLE
    request takes the smallest one (find_smallest) as a single page, leaves the
    block type alone and boosts the watermark."""
    pm = standalone(cpus=1, memory_mib=64)
    pa, z, me = _all_unmovable(pm)
    p0 = pa.rmqueue_smallest(z, 1, MIGRATE_UNMOVABLE, me)      # splits the order-8 block
    pa.prep_new_page(p0, 1, GFP_KERNEL, 0, me)
    for o in range(10, 3, -1):                                 # take away every big block
        while z.free_area[o].nr_free:
            q = pa.rmqueue_smallest(z, o, MIGRATE_UNMOVABLE, me)
            pa.prep_new_page(q, o, GFP_KERNEL, 0, me)
    assert [z.free_area[o].nr_free for o in range(4)] == [0, 1, 1, 1]
    before = pa.mem_map.pageblock_mt.copy()
    p1 = pa.rmqueue_fallback(z, 1, MIGRATE_MOVABLE, 0x800, me)
    pa.prep_new_page(p1, 1, GFP_HIGHUSER_MOVABLE, 0, me)
    assert p1 == p0 + 2                           # the order-1 buddy, not the order-3 block
    assert (pa.mem_map.pageblock_mt == before).all()
    assert z.watermark_boost == 512               # boost_watermark on a fragmenting fallback
    assert z.flags & 1                            # ZONE_BOOSTED_WATERMARK (ALLOC_KSWAPD)
    pm._check()


def test_boosted_watermark_wakes_kswapd_once():
    pm = standalone(cpus=1, memory_mib=64)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    z.flags |= 1
    pm.call(0, pa.alloc_pages(GFP_KERNEL, 0))
    assert pa.kswapd_wakeups == 1 and not z.flags & 1


def test_watermark_failure_is_clean_and_counted():
    pm = standalone(cpus=2, memory_mib=64)
    pa = pm.pa
    held = []
    while True:
        pfn = pm.call(0, pa.alloc_pages(GFP_KERNEL, 0))
        if pfn < 0:
            break
        held.append(pfn)
        assert len(held) < 20000
    pm._check()
    assert sum(pa.failures.values()) == 1
    assert pa.failure_lines and "page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)" \
        in pa.failure_lines[0]
    # direct reclaim was entered (and reclaimed nothing): allocstall in the gfp_zone zone
    assert pm.vmstat.event("allocstall_normal") >= 1
    # what is left is below the min watermarks (GFP_KERNEL may not dip into them)
    free = sum(pa.nr_free_pages(z) for z in pa.populated)
    assert free <= sum(z.min_wmark_pages() + max(z.lowmem_reserve) for z in pa.populated) + 64
    # GFP_ATOMIC may use part of the reserve below min
    got = 0
    while pm.call(1, pa.alloc_pages(GFP_ATOMIC, 0)) >= 0:
        got += 1
        assert got < 5000
    assert got > 0
    pm._check()
    # GFP_NOWAIT has no reserve access: it fails right away now
    assert pm.call(1, pa.alloc_pages(GFP_NOWAIT, 0)) < 0
    pm._check()


def test_double_free_is_a_bug():
    pm = standalone(cpus=1, memory_mib=64)
    pfn = pm.call(0, pm.pa.alloc_pages(GFP_KERNEL, 0))
    pm.call(0, pm.pa.free_pages(pfn, 0))
    with pytest.raises(MMBug):
        pm.call(0, pm.pa.free_pages(pfn, 0))
    pfn = pm.call(0, pm.pa.alloc_pages(GFP_KERNEL, 2))
    with pytest.raises(MMBug):
        pm.call(0, pm.pa.free_pages(pfn, 1))


def test_highatomic_reserve_and_unreserve():
    pm = standalone(cpus=1, memory_mib=256)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    me = pm.driver.actors[0]
    pfn = pm.call(0, pa.alloc_pages(GFP_ATOMIC, 1))
    pm.call(0, pa.reserve_highatomic_pageblock(pfn, 1, z, me))
    assert z.nr_reserved_highatomic == 512
    assert pa.mem_map.pageblock_mt[pfn >> 9] == MIGRATE_HIGHATOMIC
    assert 0 < z.nr_free_highatomic < 512
    pm._check()
    ac, _ = pa.prepare_alloc_pages(GFP_KERNEL, 0, 0)
    assert pm.call(0, pa.unreserve_highatomic_pageblock(ac, True, me))
    assert z.nr_reserved_highatomic == 0
    assert z.nr_free_highatomic == 0
    pm._check()
    pm.call(0, pa.free_pages(pfn, 1))
    pm.call(0, pa.drain_pages(0))
    pm._check()
    assert _blocks(z) == z.initial_blocks


def test_pcp_trylock_failure_falls_back_to_the_buddy():
    pm = standalone(cpus=2, memory_mib=64)
    pa = pm.pa
    eng = pm.engine
    z = pa.zones[ZONE_DMA32]
    a0, a1 = pm.driver.actors
    pcp0 = z.per_cpu_pageset[0]
    eng.current = a1                       # cpu1 drains cpu0's pcp: it holds cpu0's pcp->lock
    assert pcp0.lock.trylock_now(a1, "test")
    pfn = pm.call(0, pa.alloc_pages(GFP_KERNEL, 0))
    assert pfn >= 0 and pa.pcp_trylock_fail[0] == 1 and pa.buddy_allocs == 1
    assert pcp0.count == 0                 # nothing went through the pcp
    pm.call(0, pa.free_pages(pfn, 0))      # the free falls back to free_one_page too
    assert pa.pcp_trylock_fail[0] == 2 and pcp0.count == 0
    eng.current = a1
    pcp0.lock.unlock("test")
    pm._check()
    assert _blocks(z) == z.initial_blocks


def test_remote_node_and_nofragment():
    pm = standalone(cpus=4, nodes=2, memory_mib=8192)
    pa = pm.pa
    # CPU 3 is on node 1, whose only zone is Normal: ALLOC_NOFRAGMENT (DMA32 is
    # empty on node 1 and there are 2 nodes: no NOFRAGMENT)
    ac, flags = pa.prepare_alloc_pages(GFP_KERNEL, 0, 1)
    assert ac.preferred_zoneref.name == "Normal"
    assert not flags & 0x100
    # node 0's preferred zone for GFP_KERNEL is DMA32 (no Normal on node 0)
    ac0, f0 = pa.prepare_alloc_pages(GFP_KERNEL, 0, 0)
    assert ac0.preferred_zoneref.name == "DMA32" and not f0 & 0x100
    pfn = pm.call(3, pa.alloc_pages(GFP_KERNEL, 0))
    assert pa.pfn_node(pfn) == 1
    pfn0 = pm.call(3, pa.alloc_pages(GFP_KERNEL, 0, nid=0))
    assert pa.pfn_node(pfn0) == 0
    snap = pm.vmstat.snapshot()
    assert snap["numa_hit"] == 2 and snap["numa_other"] == 1 and snap["numa_local"] == 1
    pm._check()
