"""Memory layout, the memmap and the page allocator's boot: mm/mm_init.c,
arch/x86/mm/init.c, mm/memblock.c and build_all_zonelists() of mm/page_alloc.c (6.12).

The machine's ``memory_mib`` is split evenly over its NUMA nodes, node ``i``
owning one contiguous pfn range.  Zones are the x86-64 ones
(``zone_sizes_init``): ZONE_DMA below 16 MiB (with CONFIG_ZONE_DMA),
ZONE_DMA32 below 4 GiB, ZONE_NORMAL above; ZONE_MOVABLE is carved from the
top of each node by ``find_zone_movable_pfns_for_nodes`` when
``movablecore_mib`` is set (``movablecore=``), its start rounded up to
MAX_ORDER_NR_PAGES.

``present`` pages are the spanned ones (simplification: no e820 holes, no PCI
hole below 4 GiB).  ``managed`` pages are present minus memblock
reservations, of which two are modelled: the first 1 MiB (x86 reserves it
since 5.13) and each node's memmap (64-byte ``struct page`` per frame,
allocated top-down in its node by the vmemmap code).  Simplification: the
kernel image, initrd, page tables and the per-CPU areas are not reserved.
``memblock_free_all`` then frees every unreserved range in naturally aligned
blocks of at most MAX_PAGE_ORDER with FPI_TO_TAIL, lowest pfn first, so the
head of each free list is the lowest block; every pageblock starts
MIGRATE_MOVABLE (``memmap_init_range``).

:class:`MemMap` holds the per-frame state in numpy arrays (12 bytes a frame;
the pageblock migratetypes add 1 byte per 512 frames); hot paths use
``memoryview``s of the same buffers, which read and write Python ints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._internal import (MAX_DMA32_PFN, MAX_DMA_PFN, MAX_NR_ZONES, MAX_ORDER_NR_PAGES,
                        MAX_PAGE_ORDER, MIGRATE_MOVABLE, MIGRATE_TYPES, PAGE_SHIFT, PG_reserved,
                        PGTY_buddy, STRUCT_PAGE_SIZE, ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE,
                        ZONE_NORMAL, pageblock_nr_pages, pageblock_order)
from .page_alloc import PageAllocator
from .vmstat import NR_FREE_PAGES

__all__ = ["MemMap", "ZoneSpan", "NodeSpan", "plan_layout", "LayoutError", "aligned_blocks",
           "mm_core_init"]

PAGES_PER_MIB = (1 << 20) >> PAGE_SHIFT
FIRST_RESERVED_PFN_END = (1 << 20) >> PAGE_SHIFT      # the first 1 MiB


class LayoutError(ValueError):
    pass


@dataclass
class ZoneSpan:
    node: int
    zone_idx: int
    start_pfn: int
    end_pfn: int
    reserved: list = field(default_factory=list)      # [start, end) ranges inside the zone

    @property
    def spanned(self) -> int:
        return self.end_pfn - self.start_pfn

    @property
    def present(self) -> int:
        return self.spanned

    @property
    def managed(self) -> int:
        return self.present - sum(e - s for s, e in self.reserved)

    def free_ranges(self):
        """[start, end) ranges of the zone that memblock_free_all frees."""
        return free_ranges(self.start_pfn, self.end_pfn, self.reserved)


def free_ranges(start: int, end: int, reserved):
    """The [s, e) ranges of [start, end) outside the ``reserved`` ranges."""
    cur = start
    for s, e in sorted(reserved):
        if s > cur:
            yield cur, s
        cur = max(cur, e)
    if cur < end:
        yield cur, end


@dataclass
class NodeSpan:
    nid: int
    start_pfn: int
    end_pfn: int
    zones: list                                      # MAX_NR_ZONES ZoneSpans (possibly empty)
    memmap_pages: int = 0


def aligned_blocks(start: int, end: int, max_order: int = MAX_PAGE_ORDER):
    """``__free_pages_memory``: the naturally aligned blocks covering [start, end)."""
    while start < end:
        order = min(max_order, (start & -start).bit_length() - 1) if start else max_order
        while start + (1 << order) > end:
            order -= 1
        yield start, order
        start += 1 << order


def plan_layout(memory_mib: int, nnodes: int, movablecore_mib: int = 0,
                zone_dma: bool = True) -> list[NodeSpan]:
    """Nodes, zones and reservations for ``memory_mib`` split over ``nnodes``."""
    if memory_mib % nnodes:
        raise LayoutError(f"{memory_mib} MiB does not split evenly over {nnodes} nodes")
    node_mib = memory_mib // nnodes
    if node_mib % 4:
        raise LayoutError(f"each node gets {node_mib} MiB, which is not a multiple of 4 MiB "
                          "(MAX_ORDER_NR_PAGES, the largest buddy block)")
    if node_mib < 32:
        raise LayoutError(f"each node gets {node_mib} MiB; at least 32 MiB per node are needed")
    node_pages = node_mib * PAGES_PER_MIB
    total = node_pages * nnodes
    # arch_zone_{lowest,highest}_possible_pfn
    lo = [0] * MAX_NR_ZONES
    hi = [0] * MAX_NR_ZONES
    if zone_dma:
        lo[ZONE_DMA], hi[ZONE_DMA] = 0, min(MAX_DMA_PFN, total)
    lo[ZONE_DMA32], hi[ZONE_DMA32] = (hi[ZONE_DMA] if zone_dma else 0), min(MAX_DMA32_PFN, total)
    lo[ZONE_NORMAL], hi[ZONE_NORMAL] = min(MAX_DMA32_PFN, total), total
    if hi[ZONE_DMA32] < lo[ZONE_DMA32]:
        hi[ZONE_DMA32] = lo[ZONE_DMA32]
    # find_usable_zone_for_movable: the highest populated non-movable zone
    movable_zone = ZONE_NORMAL if hi[ZONE_NORMAL] > lo[ZONE_NORMAL] else ZONE_DMA32
    zmp = _find_zone_movable_pfns(nnodes, node_pages, movablecore_mib * PAGES_PER_MIB,
                                  lo[movable_zone], total)
    nodes = []
    for nid in range(nnodes):
        ns, ne = nid * node_pages, (nid + 1) * node_pages
        zones = []
        for zi in range(MAX_NR_ZONES):
            if zi == ZONE_MOVABLE:
                if zmp[nid]:
                    s, e = zmp[nid], min(ne, hi[movable_zone])
                else:
                    s = e = ne
            elif zi == ZONE_DMA and not zone_dma:
                s = e = ns
            else:
                s, e = max(ns, lo[zi]), min(ne, hi[zi])
                if e <= s:
                    s = e = min(max(ns, lo[zi]), ne)
                # adjust_zone_range_for_zone_movable
                if zmp[nid]:
                    if s < zmp[nid] < e:
                        e = zmp[nid]
                    elif s >= zmp[nid]:
                        s = e
            zones.append(ZoneSpan(nid, zi, s, max(s, e)))
        memmap = (node_pages * STRUCT_PAGE_SIZE + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
        reserved = [(ne - memmap, ne)]
        if nid == 0:
            reserved.append((0, FIRST_RESERVED_PFN_END))
        for z in zones:
            for rs, re_ in reserved:
                s, e = max(rs, z.start_pfn), min(re_, z.end_pfn)
                if s < e:
                    z.reserved.append((s, e))
        nodes.append(NodeSpan(nid, ns, ne, zones, memmap))
    return nodes


def _find_zone_movable_pfns(nnodes, node_pages, movablecore, usable_startpfn, totalpages):
    """find_zone_movable_pfns_for_nodes() for one contiguous range per node."""
    zmp = [0] * nnodes
    if not movablecore:
        return zmp
    required_movablecore = -(-movablecore // MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES
    required_movablecore = min(totalpages, required_movablecore)
    required_kernelcore = totalpages - required_movablecore
    if not required_kernelcore or required_kernelcore >= totalpages:
        return zmp
    usable_nodes = nnodes
    while True:                                          # restart:
        kernelcore_node = required_kernelcore // usable_nodes
        for nid in range(nnodes):
            if required_kernelcore < kernelcore_node:
                kernelcore_node = required_kernelcore // usable_nodes
            kernelcore_remaining = kernelcore_node
            start_pfn, end_pfn = nid * node_pages, (nid + 1) * node_pages
            start_pfn = max(start_pfn, zmp[nid])
            if start_pfn >= end_pfn or not kernelcore_remaining:
                continue
            if start_pfn < usable_startpfn:
                kernel_pages = min(end_pfn, usable_startpfn) - start_pfn
                kernelcore_remaining -= min(kernel_pages, kernelcore_remaining)
                required_kernelcore -= min(kernel_pages, required_kernelcore)
                if end_pfn <= usable_startpfn:
                    zmp[nid] = end_pfn
                    continue
                start_pfn = usable_startpfn
            size_pages = min(end_pfn - start_pfn, kernelcore_remaining)
            zmp[nid] = start_pfn + size_pages
            kernelcore_remaining -= size_pages
            required_kernelcore -= min(required_kernelcore, size_pages)
        usable_nodes -= 1
        if usable_nodes and required_kernelcore > usable_nodes:
            continue
        break
    for nid in range(nnodes):
        zmp[nid] = -(-zmp[nid] // MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES
        if zmp[nid] >= (nid + 1) * node_pages:
            zmp[nid] = 0
    return zmp


class MemMap:
    """``struct page`` for every frame, one numpy array per field.

    ``flags`` (uint32, the PG_*/PGTY_* bits of :mod:`._internal`),
    ``refcount`` (int32), ``order`` (uint8: buddy order of a free block's head,
    allocation order of an allocated block's head, block order on a pcp list),
    ``zone`` (uint8: ``nid * MAX_NR_ZONES + zone_idx``), ``owner`` (int16: 1 +
    the CPU whose cache last wrote the struct page, 0 if none; it prices the
    cache-line transfer of touching it).  Pageblock migratetypes are one
    uint8 per ``pageblock_nr_pages`` frames.
    """

    BYTES_PER_FRAME = 4 + 4 + 1 + 1 + 2

    def __init__(self, max_pfn: int):
        self.max_pfn = max_pfn
        self.flags = np.zeros(max_pfn, np.uint32)
        self.refcount = np.zeros(max_pfn, np.int32)
        self.order = np.zeros(max_pfn, np.uint8)
        self.zone = np.zeros(max_pfn, np.uint8)
        self.owner = np.zeros(max_pfn, np.int16)
        self.pageblock_mt = np.zeros(max(1, max_pfn >> pageblock_order), np.uint8)
        # memoryviews for scalar access from Python (much cheaper than numpy scalars)
        self.f = memoryview(self.flags)
        self.ref = memoryview(self.refcount)
        self.ord = memoryview(self.order)
        self.zid = memoryview(self.zone)
        self.own = memoryview(self.owner)
        self.pbmt = memoryview(self.pageblock_mt)

    @property
    def nbytes(self) -> int:
        return (self.flags.nbytes + self.refcount.nbytes + self.order.nbytes + self.zone.nbytes
                + self.owner.nbytes + self.pageblock_mt.nbytes)

    def bytes_per_frame(self) -> float:
        return self.nbytes / self.max_pfn


# ------------------------------------------------------------------ boot
def mm_core_init(engine, ncpus: int, node_of: list, layout, **kw):
    """The page allocator of a machine, booted as the kernel boots it: the
    memmap (``memmap_init``), the zonelists, ``memblock_free_all``, the
    watermarks and pcp sizes (``init_per_zone_wmark_min``), the pcp cache
    sizes and mobility grouping.  ``kw`` goes to :class:`PageAllocator`."""
    pa = PageAllocator(engine, ncpus, node_of, layout, MemMap(layout[-1].end_pfn), **kw)
    memmap_init(pa)
    build_all_zonelists(pa)
    memblock_free_all(pa)
    pa.init_per_zone_wmark_min()
    pa.setup_pcp_cacheinfo()
    set_mobility_grouping(pa)
    return pa


def memmap_init(pa):
    """memmap_init(): every frame's zone, the reserved ranges, pageblocks MOVABLE."""
    mm = pa.mem_map
    for z in pa.zones:
        if z.spanned_pages:
            mm.zone[z.zone_start_pfn:z.end_pfn] = z.zid
        for s, e in z.reserved_ranges:
            mm.flags[s:e] |= PG_reserved
            mm.refcount[s:e] = 1
    mm.pageblock_mt[:] = MIGRATE_MOVABLE      # memmap_init_range: every block MOVABLE


def build_all_zonelists(pa):
    """build_zonelists(): node order by distance (local 10, remote 20; nodes
    after the local one first, as find_next_best_node's penalty does), zones
    highest first, populated zones only."""
    n = len(pa.nodes)
    for pg in pa.nodes:
        order = [pg.node_id] + sorted((m for m in range(n) if m != pg.node_id),
                                      key=lambda m: (m < pg.node_id, m))
        zl = []
        for m in order:
            for z in reversed(pa.nodes[m].node_zones):
                if z.populated():
                    zl.append(z)
        pg.node_zonelists = zl


def memblock_free_all(pa):
    """memblock_free_all: free every unreserved range, lowest first, to the tail."""
    mm = pa.mem_map
    for z in pa.populated:
        blocks = []
        for s, e in free_ranges(z.zone_start_pfn, z.end_pfn, z.reserved_ranges):
            blocks.extend(aligned_blocks(s, e))
        z.managed_pages = sum(1 << o for _, o in blocks)
        z.initial_blocks = sorted(blocks)
        # FPI_TO_TAIL in ascending pfn order == head is the lowest block.
        for pfn, o in reversed(blocks):
            area = z.free_area[o]
            area.free_list[MIGRATE_MOVABLE][pfn] = None
            area.nr_free += 1
        if blocks:
            heads = np.array([p for p, _ in blocks], dtype=np.int64)
            orders = np.array([o for _, o in blocks], dtype=np.uint8)
            mm.flags[heads] |= PGTY_buddy
            mm.order[heads] = orders
        z.vm_stat[NR_FREE_PAGES] = z.managed_pages
        pa.vmstat.vm_zone_stat[NR_FREE_PAGES] += z.managed_pages


def set_mobility_grouping(pa):
    """build_all_zonelists: page_group_by_mobility_disabled when there are
    fewer than pageblock_nr_pages * MIGRATE_TYPES pages above the high marks."""
    total = 0
    for z in pa.nodes[0].node_zonelists:
        if z.managed_pages > z.high_wmark_pages():
            total += z.managed_pages - z.high_wmark_pages()
    pa.page_group_by_mobility_disabled = total < pageblock_nr_pages * MIGRATE_TYPES
