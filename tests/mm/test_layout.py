"""Memory layout: nodes, zones, memblock reservations, the memmap arrays."""
from __future__ import annotations

import pytest

from mmactors.mm._internal import MAX_NR_ZONES, ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL
from mmactors.mm.mm_init import LayoutError, MemMap, aligned_blocks, plan_layout

from helpers import standalone


def test_4g_one_node_zones():
    (node,) = plan_layout(4096, 1)
    dma, dma32, normal, movable = node.zones
    assert (dma.start_pfn, dma.end_pfn) == (0, 4096)
    assert (dma32.start_pfn, dma32.end_pfn) == (4096, 1 << 20)
    assert normal.spanned == 0 and movable.spanned == 0
    # first 1 MiB reserved; the memmap (64 B per 4 KiB frame = 1/64) at the top
    assert dma.managed == 4096 - 256
    assert node.memmap_pages == (1 << 20) // 64 == 16384
    assert dma32.managed == (1 << 20) - 4096 - 16384


def test_8g_two_nodes_split_at_4g():
    n0, n1 = plan_layout(8192, 2)
    assert (n0.start_pfn, n0.end_pfn) == (0, 1 << 20)
    assert n0.zones[ZONE_NORMAL].spanned == 0
    assert (n1.zones[ZONE_NORMAL].start_pfn, n1.zones[ZONE_NORMAL].end_pfn) == (1 << 20, 2 << 20)
    assert n1.zones[ZONE_DMA].spanned == n1.zones[ZONE_DMA32].spanned == 0
    assert n1.zones[ZONE_NORMAL].managed == (1 << 20) - (1 << 20) // 64


def test_movablecore_carves_the_top_of_each_node():
    # 16 GiB over 2 nodes, 4 GiB movable: kernelcore 12 GiB spread 6 GiB a node.
    n0, n1 = plan_layout(16384, 2, movablecore_mib=4096)
    gib = 1 << 18
    # node 0: DMA/DMA32 (4 GiB, below usable_startpfn) count as kernelcore, then
    # 2 GiB of Normal; the rest of node 0 is movable.
    assert n0.zones[ZONE_NORMAL].start_pfn == 4 * gib
    assert n0.zones[ZONE_MOVABLE].start_pfn == 6 * gib
    assert n0.zones[ZONE_NORMAL].end_pfn == 6 * gib
    assert n0.zones[ZONE_MOVABLE].end_pfn == 8 * gib
    assert n1.zones[ZONE_MOVABLE].start_pfn == 14 * gib
    total_movable = n0.zones[ZONE_MOVABLE].spanned + n1.zones[ZONE_MOVABLE].spanned
    assert total_movable == 4 * gib
    pm = standalone(cpus=4, nodes=2, memory_mib=16384, movablecore_mib=4096)
    pm._check()
    mv = pm.pa.nodes[0].node_zones[ZONE_MOVABLE]
    assert mv.populated()
    # movable zones get min = clamp(managed / 1024, 32, 128)
    assert mv._watermark[0] == 128


@pytest.mark.parametrize("mib,nodes", [(100, 3), (4097, 1), (16, 1), (8, 2)])
def test_bad_sizes(mib, nodes):
    with pytest.raises(LayoutError):
        plan_layout(mib, nodes)


def test_aligned_blocks_cover_exactly():
    for s, e in [(0, 4096), (256, 4096), (4096, 1032192), (3, 1000), (1023, 1025)]:
        blocks = list(aligned_blocks(s, e))
        assert sum(1 << o for _, o in blocks) == e - s
        for p, o in blocks:
            assert p % (1 << o) == 0 and o <= 10
        assert blocks == sorted(blocks)


def test_memmap_budget_64g():
    # 64 GiB = 16 Mi frames: at most 16 bytes a frame, under 300 MiB in all.
    mm = MemMap(16 << 20)
    assert mm.nbytes / mm.max_pfn <= 16
    assert mm.nbytes < 300 << 20
    assert MemMap.BYTES_PER_FRAME <= 16


def test_boot_free_lists_are_the_maximal_blocks():
    pm = standalone(cpus=2, memory_mib=64)
    z = pm.pa.zones[ZONE_DMA32]
    assert sorted((p, o) for p, o, _ in z.free_blocks()) == z.initial_blocks
    # FPI_TO_TAIL in pfn order: the head of each list is its lowest block
    for area in z.free_area:
        for lst in area.free_list:
            if lst:
                assert next(reversed(lst)) == min(lst)
    pm._check()
    assert len(pm.pa.zones) == MAX_NR_ZONES
