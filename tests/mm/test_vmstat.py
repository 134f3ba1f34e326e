"""vmstat: per-CPU diffs, thresholds, folding, and the global sums."""
from __future__ import annotations

from mmactors.mm.gfp import GFP_KERNEL
from mmactors.mm.vmstat import (NR_FREE_PAGES, calculate_normal_threshold,
                                calculate_pressure_threshold, vm_event_items)

from helpers import standalone


def test_thresholds():
    assert calculate_normal_threshold(1_000_000, 8) == 48     # mem 30 -> fls 5 -> 2*4*6
    assert calculate_normal_threshold(64 << 18, 64) == 125    # capped
    assert calculate_normal_threshold(0, 1) == 2
    assert calculate_pressure_threshold(2414, 1414, 8) == 125
    assert calculate_pressure_threshold(10, 7, 8) == 1


def test_event_names_follow_the_configured_zones():
    ev = vm_event_items([0, 1, 2, 3])
    assert ev[:8] == ("pgpgin", "pgpgout", "pswpin", "pswpout", "pgalloc_dma",
                      "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable")
    assert "allocstall_dma32" in ev and "pgskip_movable" in ev and "pgfree" in ev
    assert "pgalloc_dma" not in vm_event_items([1, 2, 3])
    assert "thp_fault_alloc" not in vm_event_items([1, 2, 3], thp=False)


def test_mod_folds_without_overstep_and_inc_with_overstep():
    pm = standalone(cpus=2, memory_mib=4096)
    vm = pm.vmstat
    z = pm.pa.zones[1]
    me = pm.driver.actors[0]
    t = z.stat_threshold[0]
    base = z.vm_stat[NR_FREE_PAGES]
    vm.mod_zone_page_state(z, NR_FREE_PAGES, -t, me)          # |x| == t: stays per-CPU
    assert z.vm_stat_diff[0][NR_FREE_PAGES] == -t and z.vm_stat[NR_FREE_PAGES] == base
    vm.mod_zone_page_state(z, NR_FREE_PAGES, -1, me)          # passes: fold, diff 0
    assert z.vm_stat_diff[0][NR_FREE_PAGES] == 0
    assert z.vm_stat[NR_FREE_PAGES] == base - t - 1
    assert vm.vm_zone_stat[NR_FREE_PAGES] == sum(x.vm_stat[NR_FREE_PAGES] for x in pm.pa.zones)
    # __inc_zone_state: past the threshold, fold v + t/2 and leave -t/2
    item = 1
    for _ in range(t + 1):
        vm.inc_zone_state(z, item, me)
    assert z.vm_stat[item] == t + 1 + t // 2
    assert z.vm_stat_diff[0][item] == -(t // 2)
    vm._check()
    assert vm.zone_page_state_snapshot(z, item) == t + 1


def test_fold_makes_globals_exact():
    pm = standalone(cpus=4, memory_mib=256)
    pa = pm.pa
    held = [pm.call(i % 4, pa.alloc_pages(GFP_KERNEL, 0)) for i in range(500)]
    for i, p in enumerate(held[:300]):
        pm.call((i + 2) % 4, pa.free_pages(p, 0))
    vm = pm.vmstat
    assert any(vm.need_update(c) for c in range(4))
    snap = vm.snapshot()
    free_real = sum(pa.nr_free_pages(z) for z in pa.populated)
    assert snap["nr_free_pages"] == free_real
    for c in range(4):
        pm.call(c, pa.refresh_cpu_vm_stats(False))
    assert not any(vm.need_update(c) for c in range(4))
    assert vm.global_zone_page_state(NR_FREE_PAGES) == free_real
    assert all(z.vm_stat[NR_FREE_PAGES] == pa.nr_free_pages(z) for z in pa.populated)
    vm._check()
    assert vm.snapshot() == snap
    assert snap["pgalloc_dma32"] == 500 and snap["pgfree"] == 300
    st = vm.stats.to_json()
    assert st["hits"] > st["misses"] > 0 and st["drains"] > 0


def test_slab_pages_are_node_items_in_pages():
    pm = standalone(cpus=2, memory_mib=64)
    # 2 CPUs: min_objects = 4 * (fls(2) + 1) = 12 -> 12 KiB -> an order-2 slab
    a = pm.call(0, pm.slub.kmalloc(1024, GFP_KERNEL))
    assert pm.slub.caches["kmalloc-1k"].oo_order == 2
    assert pm.vmstat.snapshot()["nr_slab_unreclaimable"] == 4
    big = pm.call(0, pm.slub.kmalloc(40000, GFP_KERNEL))        # kmalloc_large, order 4
    assert pm.vmstat.snapshot()["nr_slab_unreclaimable"] == 4 + 16
    pm.call(1, pm.slub.kfree(big))
    pm.call(1, pm.slub.kfree(a))
    assert pm.vmstat.snapshot()["nr_slab_unreclaimable"] == 4   # the empty slab stays (min_partial)
    pm._check()
