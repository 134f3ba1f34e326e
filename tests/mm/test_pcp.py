"""Per-CPU page lists: known results of batch, high and the 6.7+ auto-tuning."""
from __future__ import annotations

import pytest

from mmactors.mm._internal import ZONE_DMA32
from mmactors.mm.gfp import GFP_KERNEL

from helpers import run_checked, standalone, zone_lock_acquisitions

PRODUCER_CONSUMER = """
[machine]
cpus = 8
memory_mib = 4096
[sysctl]
"vm.percpu_pagelist_high_fraction" = {frac}
[kconfig]
CONFIG_PCP_BATCH_SCALE_MAX = {scale}
[[workload]]
kind = "page-alloc"
cpus = [0, 1, 2, 3]            # allocate, never free
free_on = [4, 5, 6, 7]         # free, never allocate
lifetime_ns = 2000
think_ns = 50
iterations = {it}
drain_at_end = {drain}
[run]
duration_ns = 1_000_000_000
"""


def _pc(frac, scale, it=4000, drain="false"):
    return run_checked(PRODUCER_CONSUMER.format(frac=frac, scale=scale, it=it, drain=drain))


def test_producer_consumer_takes_zone_lock_twice_per_batch():
    """High fixed (fraction set) and CONFIG_PCP_BATCH_SCALE_MAX=0: every refill
    takes `batch` pages and every spill frees `batch`, so zone->lock is taken
    about 2 * pages / batch times."""
    res, m, pm = _pc(1000, 0)
    pages = res.ops
    assert pages == 16000
    batch = pm.pa.zones[ZONE_DMA32].pageset_batch
    assert batch == 63
    expected = 2 * pages / batch
    n = zone_lock_acquisitions(res)
    assert abs(n - expected) <= 0.05 * expected, (n, expected)
    # the producers never free, the consumers never allocate
    st = pm.pa.stats
    assert sum(st.free_hits[:4]) == sum(st.free_misses[:4]) == 0
    assert sum(st.alloc_hits[4:]) == sum(st.alloc_misses[4:]) == 0


@pytest.mark.parametrize("frac,limit", [(1000, 0.5), (100, 0.2)])
def test_default_scale_takes_zone_lock_far_less(frac, limit):
    """With CONFIG_PCP_BATCH_SCALE_MAX = 5, alloc_factor doubles refills (up to
    batch << 5, capped by high - count - batch) and free_count grows spills (up
    to high - batch)."""
    res0, _, _ = _pc(frac, 0)
    res5, m, pm = _pc(frac, 5)
    n0, n5 = zone_lock_acquisitions(res0), zone_lock_acquisitions(res5)
    assert n5 < limit * n0, (n0, n5)
    z = pm.pa.zones[ZONE_DMA32]
    assert max(z.per_cpu_pageset[c].alloc_factor for c in range(4)) >= 1
    assert max(z.per_cpu_pageset[c].free_count for c in range(4, 8)) > z.pageset_batch


def test_autotuning_grows_high_on_consecutive_frees():
    res, m, pm = _pc(0, 5)
    z = pm.pa.zones[ZONE_DMA32]
    consumers = [z.per_cpu_pageset[c] for c in range(4, 8)]
    assert all(p.high_min < p.high_max for p in consumers)
    assert max(p.high for p in consumers) > z.pageset_high_min


def test_same_cpu_alloc_free_hits_the_pcp():
    res, m, pm = run_checked("""
[machine]
cpus = 8
memory_mib = 4096
[[workload]]
kind = "page-alloc"
cpus = "all"
order = 0
gfp = "GFP_KERNEL"
free_on = "same"
lifetime_ns = 1000
iterations = 3000
[run]
duration_ns = 1_000_000_000
""")
    pcp = res.extra["caches"]["pcp"]
    assert pcp["hit_rate"] > 0.99
    assert all(c["hit_rate"] > 0.99 for c in pcp["per_cpu"])
    assert res.ops == 8 * 3000


@pytest.mark.parametrize("via", ["remote", "work"])
def test_freeing_everything_restores_the_initial_blocks(via):
    res, m, pm = run_checked(PRODUCER_CONSUMER.format(frac=0, scale=5, it=1500, drain="true")
                             .replace('drain_at_end = true', f'drain_at_end = true\ndrain_via = "{via}"'))
    for z in pm.pa.populated:
        assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks, z
        assert all(p.count == 0 for p in z.per_cpu_pageset)
    if via == "work":
        assert any(a.name.startswith("kworker/") for a in m.engine.actors)
    assert res.locks["pcpu_drain_mutex"]["acquisitions"] == 1


def test_decay_pcp_high_from_vmstat_update():
    """vmstat_update (every vm.stat_interval) decays pcp->high by 1/8 towards
    high_min and frees what is above it."""
    res, m, pm = run_checked(PRODUCER_CONSUMER.format(frac=0, scale=5, it=1500, drain="false")
                             .replace("[sysctl]", '[sysctl]\n"vm.stat_interval" = 0.00002')
                             .replace("duration_ns = 1_000_000_000", "duration_ns = 3_000_000"))
    z = pm.pa.zones[ZONE_DMA32]
    assert pm.vmstat_updates > 0
    assert res.locks["&zone->lock"]["contention_points"] is not None
    consumers = [z.per_cpu_pageset[c] for c in range(4, 8)]
    # long after the traffic stopped, high has decayed back to high_min and the
    # lists were trimmed to it
    assert all(p.high == p.high_min for p in consumers), [p.high for p in consumers]
    assert all(p.count <= p.high for p in consumers)
    assert pm.vmstat.stats.to_json()["drains"] > 0       # vmstat folds by refresh_cpu_vm_stats


def test_nr_pcp_alloc_and_free_sizes():
    pm = standalone(cpus=2, memory_mib=4096)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    pcp = z.per_cpu_pageset[0]
    # first refill of an auto-tuned pcp: batch << alloc_factor(0), high grows by it
    assert z.pageset_high_min == 3051 // 2              # low watermark over 2 CPUs
    assert pa.nr_pcp_alloc(pcp, z, 0) == 63 and pcp.alloc_factor == 1
    assert pcp.high == z.pageset_high_min + 63
    assert pa.nr_pcp_alloc(pcp, z, 0) == 126 and pcp.alloc_factor == 2
    # order 3: batch >> 3 = 7
    assert pa.nr_pcp_alloc(pcp, z, 3) == 7
    pcp.free_count = 5000
    assert pa.nr_pcp_free(pcp, 63, 1000, False) == 1000 - 63
    assert pa.nr_pcp_free(pcp, 63, 30, False) == 1
    pcp.count = 4000
    assert pa.nr_pcp_free(pcp, 63, 1000, True) == 63 << 5


def test_drain_all_pages_empties_every_pcp():
    pm = standalone(cpus=4, memory_mib=256)
    pa = pm.pa
    held = [pm.call(c % 4, pa.alloc_pages(GFP_KERNEL, 0)) for c in range(40)]
    for i, p in enumerate(held):
        pm.call((i + 1) % 4, pa.free_pages(p, 0))
    assert sum(p.count for z in pa.populated for p in z.per_cpu_pageset) > 0
    pm.call(0, pa.drain_all_pages())
    assert sum(p.count for z in pa.populated for p in z.per_cpu_pageset) == 0
    pm._check()
    for z in pa.populated:
        assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks


@pytest.mark.parametrize("slice_kib,flag", [(2048, True), (256, False)])
def test_consecutive_high_order_frees_do_not_pile_up(slice_kib, flag):
    """free_high: a run of order-1..3 frees without allocations spills the list
    (PCPF_PREV_FREE_HIGH_ORDER); with PCPF_FREE_HIGH_BATCH (a big enough cache
    slice) a batch of pages stays on the list."""
    pm = standalone(cpus=2, memory_mib=4096, cpu_data_slice_kib=slice_kib)
    pa = pm.pa
    z = pa.zones[ZONE_DMA32]
    pcp0 = z.per_cpu_pageset[0]
    assert bool(pcp0.flags & 2) == flag                 # 512 pages > 3 * 63; 64 pages are not
    blocks = [pm.call(1, pa.alloc_pages(GFP_KERNEL, 2)) for _ in range(300)]
    most = 0
    for b in blocks:
        pm.call(0, pa.free_pages(b, 2))
        most = max(most, pcp0.count)
    assert most <= 63 + 4                              # never more than a batch and a block
    assert pcp0.high == z.pageset_high_min
    pm._check()
