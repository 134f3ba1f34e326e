"""SLUB: cache geometry as the kernel computes it, fast and slow paths, balance."""
from __future__ import annotations

import pytest

from mmactors.mm.gfp import GFP_KERNEL, parse_gfp
from mmactors.mm.slub import (ALLOC_FASTPATH, FREE_FASTPATH, SlubBug, calculate_order,
                              kmalloc_index)

from helpers import run_checked, standalone


@pytest.mark.parametrize("name,align,order,objs,min_partial,cpu_partial,cpu_partial_slabs", [
    # 8 present CPUs: min_objects = 4 * (fls(8) + 1) = 20
    ("kmalloc-8", 8, 0, 512, 5, 120, 1),
    ("kmalloc-64", 64, 0, 64, 5, 120, 4),         # DIV_ROUND_UP(240, 64)
    ("kmalloc-96", 32, 0, 42, 5, 120, 6),         # 4096 % 96 = 64 <= 4096/16
    ("kmalloc-192", 64, 0, 21, 5, 120, 12),       # 4096 % 192 = 64
    ("kmalloc-256", 256, 1, 32, 5, 52, 4),        # get_order(20 * 256) = 1
    ("kmalloc-1k", 1024, 3, 32, 5, 24, 2),        # get_order(20 * 1024) = 3
    ("kmalloc-4k", 4096, 3, 8, 6, 6, 2),          # ilog2(4096)/2 = 6
    ("kmalloc-8k", 8192, 3, 4, 6, 6, 3),          # min_objects capped at 4 objects
])
def test_kmalloc_cache_geometry(name, align, order, objs, min_partial, cpu_partial,
                                cpu_partial_slabs):
    pm = standalone(cpus=8, memory_mib=256)
    s = pm.slub.caches[name]
    assert s.align == align and s.size == s.object_size
    assert (s.oo_order, s.oo_objects) == (order, objs)
    assert s.min_partial == min_partial
    assert (s.cpu_partial, s.cpu_partial_slabs) == (cpu_partial, cpu_partial_slabs)


def test_calculate_order_depends_on_cpus():
    assert calculate_order(256, 8) == 1
    assert calculate_order(256, 1) == 0          # 4 * (fls(1) + 1) = 8 objects: 2 KiB
    assert calculate_order(64, 64) == 0          # 4 * (7 + 1) = 32 objects fit in a page
    assert calculate_order(512, 64) == 2         # 32 * 512 = 16 KiB
    assert calculate_order(700, 8) == 2          # 20*700 -> order 2; 16384 % 700 = 284 <= 1024


@pytest.mark.parametrize("size,index", [(1, 3), (8, 3), (9, 4), (33, 6), (64, 6), (65, 1),
                                        (96, 1), (97, 7), (128, 7), (129, 2), (192, 2),
                                        (193, 8), (1024, 10), (1025, 11), (8192, 13)])
def test_kmalloc_index(size, index):
    assert kmalloc_index(size) == index


KMALLOC = """
[machine]
cpus = 8
memory_mib = 1024
[[workload]]
kind = "kmalloc"
cpus = "all"
size = 64
free_on = "{free_on}"
lifetime_ns = 1000               # about 20 objects in flight per CPU: they fit one
think_ns = 40                    # 64-object slab, so the cpu slab never runs dry
iterations = {it}
drain_at_end = {drain}
[run]
duration_ns = 1_000_000_000
"""


def _fast_rate(pm, name="kmalloc-64"):
    s = pm.slub.caches[name]
    ops = sum(c.stat[0] + c.stat[1] for c in s.cpu_slab)          # alloc fast + slow
    return s.stat(ALLOC_FASTPATH) / ops, s.stat(FREE_FASTPATH) / max(1, s.stat(2) + s.stat(3))


def test_same_cpu_kmalloc_takes_the_fast_path():
    res, m, pm = run_checked(KMALLOC.format(free_on="same", it=3000, drain="false"))
    a, f = _fast_rate(pm)
    assert a > 0.95 and f > 0.95, (a, f)
    assert res.extra["caches"]["slub:kmalloc-64"]["hit_rate"] > 0.99
    assert res.ops == 8 * 3000


def test_cross_cpu_frees_miss_the_fast_path():
    """Same working set as above, but 7 in 8 frees land on another CPU: they take
    __slab_free (a cmpxchg on the remote slab), never the fast path."""
    res_same, _, pm_same = run_checked(KMALLOC.format(free_on="same", it=3000, drain="false"))
    res_rnd, _, pm_rnd = run_checked(KMALLOC.format(free_on="random", it=3000, drain="false"))
    a_same, f_same = _fast_rate(pm_same)
    a_rnd, f_rnd = _fast_rate(pm_rnd)
    assert f_rnd < 0.2 and f_same > 0.95
    cj = res_rnd.extra["caches"]["slub:kmalloc-64"]
    assert cj["cpu_slab"]["hit_rate"] < 0.6
    assert cj["stats"]["FREE_FROZEN"] > 0 and cj["stats"]["ALLOC_REFILL"] > 0


TURNOVER = """
[machine]
cpus = 8
memory_mib = 1024
[[workload]]
kind = "kmalloc"
cpus = "all"
size = 192                       # 21 objects a slab, ~120 in flight per CPU:
free_on = "{free_on}"            # slabs keep moving through the partial lists
lifetime_ns = 5000
think_ns = 40
iterations = 3000
[run]
duration_ns = 1_000_000_000
"""


def test_cross_cpu_frees_raise_list_lock_contention():
    res_same, _, pm_same = run_checked(TURNOVER.format(free_on="same"))
    res_rnd, _, pm_rnd = run_checked(TURNOVER.format(free_on="random"))
    lk_same = res_same.locks["&n->list_lock"]
    lk_rnd = res_rnd.locks["&n->list_lock"]
    assert lk_rnd["acquisitions"] > 2 * lk_same["acquisitions"]
    assert lk_rnd["contentions"] > 2 * lk_same["contentions"]
    s_same = res_same.extra["caches"]["slub:kmalloc-192"]
    s_rnd = res_rnd.extra["caches"]["slub:kmalloc-192"]
    assert s_rnd["cpu_slab"]["hit_rate"] < s_same["cpu_slab"]["hit_rate"]
    assert s_rnd["misses"] > s_same["misses"]
    assert s_rnd["stats"]["CPU_PARTIAL_FREE"] > 0 and s_rnd["stats"]["CPU_PARTIAL_DRAIN"] > 0


def test_everything_freed_and_shrunk_returns_all_pages():
    res, m, pm = run_checked(KMALLOC.format(free_on="random", it=2000, drain="true"))
    s = pm.slub.caches["kmalloc-64"]
    assert s.live == 0
    assert not s.slabs
    for z in pm.pa.populated:
        assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks
    assert res.extra["vmstat"]["nr_slab_unreclaimable"] == 0


def test_mixed_sizes_large_and_dedicated_cache():
    res, m, pm = run_checked("""
[machine]
cpus = 4
memory_mib = 512
[[workload]]
kind = "kmalloc"
cpus = [0, 1]
sizes = [8, 100, 3000, 20000]
weights = [1, 1, 1, 1]
free_on = [1, 0]
lifetime_ns = 3000
iterations = 1500
drain_at_end = true
[[workload]]
kind = "kmalloc"
cpus = [2, 3]
cache = "my_objs"
size = 200
free_on = "same"
iterations = 1000
[run]
duration_ns = 1_000_000_000
""")
    sl = pm.slub
    assert sl.large_count > 0 and not sl.large          # kmalloc_large, all freed
    for name in ("kmalloc-8", "kmalloc-128", "kmalloc-4k"):
        assert sl.caches[name].stat(ALLOC_FASTPATH) > 0
    assert sl.caches["my_objs"].object_size == 200
    assert res.extra["workload_details"][1]["cache"] == "my_objs"


def test_kfree_of_a_bad_address_is_a_bug():
    pm = standalone(cpus=2, memory_mib=64)
    a = pm.call(0, pm.slub.kmalloc(64, GFP_KERNEL))
    with pytest.raises(SlubBug):
        pm.call(0, pm.slub.kfree(a + 8))
    with pytest.raises(SlubBug):
        pm.call(0, pm.slub.kfree(123 << 12))
    pm.call(1, pm.slub.kfree(a))
    pm._check()


def test_rcl_and_cg_variants():
    pm = standalone(cpus=2, memory_mib=64)
    a = pm.call(0, pm.slub.kmalloc(64, parse_gfp("GFP_KERNEL | __GFP_RECLAIMABLE")))
    b = pm.call(0, pm.slub.kmalloc(64, parse_gfp("GFP_KERNEL_ACCOUNT")))
    assert pm.slub.slab_map[a >> 12].cache.name == "kmalloc-rcl-64"
    assert pm.slub.slab_map[b >> 12].cache.name == "kmalloc-cg-64"
    snap = pm.vmstat.snapshot()
    assert snap["nr_slab_reclaimable"] == 1 and snap["nr_slab_unreclaimable"] == 1
    # the reclaimable slab came from a RECLAIMABLE pageblock
    assert pm.pa.mem_map.pageblock_mt[a >> 21] == 2
    pm._check()
