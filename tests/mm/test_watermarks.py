"""Known results: zone_batchsize, zone_highsize, watermarks, lowmem reserves and
vmstat thresholds equal the kernel's formulas (values worked out by hand)."""
from __future__ import annotations

import pytest

from mmactors.mm.page_alloc import (calculate_min_free_kbytes, mult_frac, watermarks_for,
                                    zone_batchsize, zone_highsize)
from mmactors.mm.vmstat import calculate_normal_threshold

from helpers import standalone


@pytest.mark.parametrize("managed,batch", [
    # min(managed >> 10, 256) / 4, then rounddown_pow_of_two(b + b/2) - 1
    (1_028_096, 63),     # >= 1 GiB: 256/4 = 64 -> 96 -> 64 -> 63
    (262_144, 63),       # exactly 1 GiB: 256 -> 64 -> 63
    (131_072, 31),       # 512 MiB: 128/4 = 32 -> 48 -> 32 -> 31
    (65_536, 15),        # 256 MiB: 64/4 = 16 -> 24 -> 16 -> 15
    (16_384, 3),         # 64 MiB: 16/4 = 4 -> 6 -> 4 -> 3
    (3_840, 0),          # the DMA zone: 3/4 = 0 -> 1 -> 1 -> 0 (then max(1, .) = 1)
])
def test_zone_batchsize(managed, batch):
    assert zone_batchsize(managed) == batch


def test_mult_frac():
    assert mult_frac(1_028_096, 10, 10_000) == 1028          # 102*10 + (8096*10)//10000
    assert mult_frac(3840, 10, 10_000) == 3


def test_notes_example_zone():
    # 1,000,000-page zone of 2,000,000 lowmem pages, 8 CPUs on its node.
    mfk = calculate_min_free_kbytes(2_000_000)
    assert mfk == 11313                      # int_sqrt(8,000,000 * 16)
    wmin, low, high, promo = watermarks_for(1_000_000, 2_000_000, mfk)
    # pages_min = 11313 >> 2 = 2828; tmp = 2828 * 1e6 / 2e6 = 1414
    # delta = max(1414 >> 2 = 353, 1e6 * 10 / 10000 = 1000) = 1000
    assert (wmin, low, high, promo) == (1414, 2414, 3414, 4414)
    batch = zone_batchsize(1_000_000)
    assert batch == 63
    assert zone_highsize(1_000_000, low, batch, 8, 0, 0, 8) == 301       # 2414 / 8
    assert zone_highsize(1_000_000, low, batch, 8, 0, 8, 8) == 15625     # 1e6 / 8 / 8
    assert zone_highsize(1_000_000, low, batch, 8, 0, 100_000, 8) == 252  # batch << 2


def test_scale_factor_and_min_free_kbytes_sysctls():
    # watermark_scale_factor 100 (1%): delta = max(1414 >> 2, 10000) = 10000
    assert watermarks_for(1_000_000, 2_000_000, 11313, 100)[1:3] == (11414, 21414)
    # a user's min_free_kbytes wins when larger
    assert calculate_min_free_kbytes(2_000_000, user_min_free_kbytes=65536) == 65536
    # the clamp: tiny and huge machines
    assert calculate_min_free_kbytes(100) == 128
    assert calculate_min_free_kbytes(10**12) == 262144


def test_4g_machine_by_hand():
    """4096 MiB, 1 node, 8 CPUs: DMA managed 3840, DMA32 managed 1,028,096."""
    pm = standalone(cpus=8, memory_mib=4096)
    pa = pm.pa
    dma, dma32 = pa.zones[0], pa.zones[1]
    assert (dma.managed_pages, dma32.managed_pages) == (3840, 1_028_096)
    # lowmem_kbytes = 1,031,936 * 4; int_sqrt(4,127,744 * 16) = 8126
    assert pa.min_free_kbytes == 8126
    # pages_min = 8126 >> 2 = 2031
    # DMA:   tmp = 2031*3840/1031936 = 7;     delta = max(1, 3) = 3
    # DMA32: tmp = 2031*1028096/1031936 = 2023; delta = max(505, 1028) = 1028
    assert dma._watermark == [7, 10, 13, 16]
    assert dma32._watermark == [2023, 3051, 4079, 5107]
    # lowmem_reserve: DMA keeps DMA32/256 = 4016 pages from DMA32 allocations;
    # the empty Normal/Movable zones give 0 (6.12's "clear || empty")
    assert dma.lowmem_reserve == [0, 4016, 0, 0]
    assert dma32.lowmem_reserve == [0, 0, 0, 0]
    # pcp: batch 63; high_min = low / 8 CPUs = 381; high_max = managed / 8 / 8 = 16064
    assert (dma32.pageset_batch, dma32.pageset_high_min, dma32.pageset_high_max) == (63, 381, 16064)
    # DMA: batch max(1, 0) = 1; high_min = max(10 / 8, 1 << 2) = 4; high_max = 3840/64 = 60
    assert (dma.pageset_batch, dma.pageset_high_min, dma.pageset_high_max) == (1, 4, 60)
    # vmstat threshold: 2 * fls(8) * (1 + fls(1,028,096 >> 15 = 31)) = 2*4*6 = 48
    assert dma32.stat_threshold[0] == 48 == calculate_normal_threshold(1_028_096, 8)
    assert dma.stat_threshold[0] == 8                      # 2*4*(1 + fls(0))
    # percpu_drift_mark: max drift 8 * 48 = 384 < low - min = 1028: none
    assert dma32.percpu_drift_mark == 0
    # totalreserve = sum of min(managed, max reserve + high): DMA min(3840, 4016 + 13)
    assert pa.totalreserve_pages == 3840 + 4079


def test_fraction_sysctl_fixes_high():
    pm = standalone(cpus=8, memory_mib=4096,
                    sysctl={"vm.percpu_pagelist_high_fraction": 100})
    z = pm.pa.zones[1]
    # managed / 100 / 8 CPUs = 1285; auto-tuning off: high_min == high_max
    assert z.pageset_high_min == z.pageset_high_max == 1285
    pm.pa.set_percpu_pagelist_high_fraction(8)
    assert z.pageset_high_min == z.pageset_high_max == 16064
    pm.pa.set_percpu_pagelist_high_fraction(0)
    assert (z.pageset_high_min, z.pageset_high_max) == (381, 16064)
    with pytest.raises(ValueError):
        pm.pa.set_percpu_pagelist_high_fraction(4)


def test_two_nodes_split_high_over_node_cpus():
    pm = standalone(cpus=8, nodes=2, memory_mib=8192)
    n1 = pm.pa.nodes[1].node_zones[2]                 # Normal on node 1
    assert n1.managed_pages == (1 << 20) - (1 << 14)
    # 4 CPUs on node 1: high_max = managed / 8 / 4
    assert n1.pageset_high_max == n1.managed_pages // 8 // 4
    assert [z.name for z in pm.pa.nodes[1].node_zonelists] == ["Normal", "DMA32", "DMA"]
    assert [z.name for z in pm.pa.nodes[0].node_zonelists] == ["DMA32", "DMA", "Normal"]
