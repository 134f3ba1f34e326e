"""Constants, enums and control structs shared by the physical-memory models.

Mirrors what Linux 6.12 keeps in include/linux/mmzone.h (orders, migratetypes,
zone types, ``per_cpu_pages`` sizes), include/linux/page-flags.h (the few page
flags the simulator tracks), mm/internal.h (``ALLOC_*`` flags, ``struct
alloc_context``) and include/linux/pageblock-flags.h.  Values are the x86-64
ones (4 KiB pages, ``pageblock_order`` 9, ``MAX_PAGE_ORDER`` 10).

Also here: :class:`CacheStats`, the simulator's per-CPU cache counters (hits,
misses, refills, drains per CPU) that every per-CPU cache of the mm models
keeps (pcp lists, SLUB cpu slabs and cpu partials, vmstat diffs).
"""
from __future__ import annotations

# ---------------------------------------------------------------- page sizes
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_PAGE_ORDER = 10                      # include/linux/mmzone.h (x86: CONFIG_ARCH_FORCE_MAX_ORDER unset)
NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1
MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER
pageblock_order = 9                      # min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER)
pageblock_nr_pages = 1 << pageblock_order
PAGE_ALLOC_COSTLY_ORDER = 3
HPAGE_PMD_ORDER = 9
SWAP_CLUSTER_MAX = 32
STRUCT_PAGE_SIZE = 64                    # sizeof(struct page) on x86-64: sizes the memmap reservation

# ------------------------------------------------------------- migratetypes
MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3
MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES
# Simplification: CONFIG_CMA and CONFIG_MEMORY_ISOLATION are not modelled, so
# MIGRATE_CMA and MIGRATE_ISOLATE do not exist and MIGRATE_TYPES is 4.
MIGRATE_TYPES = 4
migratetype_names = ("Unmovable", "Movable", "Reclaimable", "HighAtomic")

fallbacks = (                            # mm/page_alloc.c fallbacks[][]
    (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),      # UNMOVABLE
    (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),    # MOVABLE
    (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),        # RECLAIMABLE
)


def migratetype_is_mergeable(mt: int) -> bool:
    return mt < MIGRATE_PCPTYPES


# ------------------------------------------------------------------- zones
ZONE_DMA = 0
ZONE_DMA32 = 1
ZONE_NORMAL = 2
ZONE_MOVABLE = 3
MAX_NR_ZONES = 4                         # Simplification: no ZONE_DEVICE, no HIGHMEM (x86-64)
zone_names = ("DMA", "DMA32", "Normal", "Movable")
zone_suffix = ("dma", "dma32", "normal", "movable")   # TEXTS_FOR_ZONES in mm/vmstat.c
MAX_DMA_PFN = (16 << 20) >> PAGE_SHIFT   # arch/x86/include/asm/dma.h: 16 MiB
MAX_DMA32_PFN = (4 << 30) >> PAGE_SHIFT  # 4 GiB

# watermarks (enum zone_watermarks)
WMARK_MIN = 0
WMARK_LOW = 1
WMARK_HIGH = 2
WMARK_PROMO = 3
NR_WMARK = 4

# zone->flags bits (enum zone_flags)
ZONE_BOOSTED_WATERMARK = 1 << 0
ZONE_RECLAIM_ACTIVE = 1 << 1
ZONE_BELOW_HIGH = 1 << 2

# ---------------------------------------------------------- per_cpu_pages
NR_PCP_THP = 2                           # with CONFIG_TRANSPARENT_HUGEPAGE
NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)   # 12
PCPF_PREV_FREE_HIGH_ORDER = 1 << 0
PCPF_FREE_HIGH_BATCH = 1 << 1
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8
BOOT_PAGESET_HIGH = 0
BOOT_PAGESET_BATCH = 1

# ------------------------------------------------------ alloc_flags (mm/internal.h)
ALLOC_WMARK_MIN = WMARK_MIN
ALLOC_WMARK_LOW = WMARK_LOW
ALLOC_WMARK_HIGH = WMARK_HIGH
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_NON_BLOCK = 0x10
ALLOC_MIN_RESERVE = 0x20                 # == __GFP_HIGH
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_HIGHATOMIC = 0x200
ALLOC_KSWAPD = 0x800                     # == __GFP_KSWAPD_RECLAIM
ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM
MAX_RECLAIM_RETRIES = 16

# FPI flags (mm/page_alloc.c)
FPI_NONE = 0
FPI_SKIP_REPORT_NOTIFY = 1 << 0
FPI_TO_TAIL = 1 << 1

# ------------------------------------------------------------- page flags
# Only what the simulator needs, in one uint32 per frame.  The kernel keeps
# PageBuddy/PageSlab as page types (page->page_type), PageTail in
# compound_head bit 0, and has no flag for "on a pcp list"; here they are bits.
PG_reserved = 1 << 0
PG_head = 1 << 1
PG_tail = 1 << 2                         # PageTail (compound_head & 1 in the kernel)
PG_workingset = 1 << 3                   # SLUB: slab on a node partial list
PG_pcp = 1 << 8                          # simulator: on a per_cpu_pages list
PGTY_buddy = 1 << 9                      # page_type: free, on a buddy free list (head)
PGTY_slab = 1 << 10                      # page_type: a slab page (head)
PG_lru = 1 << 4                          # on an LRU list (set by the LRU model, later)
PG_movable = 1 << 5                      # __PageMovable (non-LRU movable), set by its owner


# ------------------------------------------------------------ alloc_context
class AllocContext:
    """struct alloc_context (mm/internal.h): the zonelist walk of one allocation."""

    __slots__ = ("zonelist", "nodemask", "preferred_zoneref", "migratetype",
                 "highest_zoneidx", "spread_dirty_pages")

    def __init__(self, zonelist, nodemask, migratetype, highest_zoneidx):
        self.zonelist = zonelist             # zones of the preferred node's fallback list
        self.nodemask = nodemask
        self.migratetype = migratetype
        self.highest_zoneidx = highest_zoneidx
        self.spread_dirty_pages = False
        # first_zones_zonelist(): the first zone <= highest_zoneidx
        self.preferred_zoneref = None
        for z in zonelist:
            if z.zone_idx <= highest_zoneidx and (nodemask is None or z.node in nodemask):
                self.preferred_zoneref = z
                break


# --------------------------------------------------------- per-CPU caches
class CacheStats:
    """Hit/miss counters of one per-CPU cache, per CPU.

    *hits* were served CPU-locally; *misses* had to go to the shared
    structure under its lock (zone->lock, n->list_lock, the zone/node/global
    vmstat counters); *refills* move objects from the shared structure into
    the per-CPU cache, *drains* move them back.  ``alloc_*``/``free_*`` split
    hits and misses by direction where the cache has one.
    """

    __slots__ = ("name", "ncpus", "alloc_hits", "alloc_misses", "free_hits",
                 "free_misses", "refills", "refill_objs", "drains", "drain_objs")

    def __init__(self, name: str, ncpus: int):
        self.name = name
        self.ncpus = ncpus
        z = [0] * ncpus
        self.alloc_hits = list(z)
        self.alloc_misses = list(z)
        self.free_hits = list(z)
        self.free_misses = list(z)
        self.refills = list(z)
        self.refill_objs = list(z)
        self.drains = list(z)
        self.drain_objs = list(z)

    def hits(self, cpu=None) -> int:
        if cpu is None:
            return sum(self.alloc_hits) + sum(self.free_hits)
        return self.alloc_hits[cpu] + self.free_hits[cpu]

    def misses(self, cpu=None) -> int:
        if cpu is None:
            return sum(self.alloc_misses) + sum(self.free_misses)
        return self.alloc_misses[cpu] + self.free_misses[cpu]

    def used(self) -> bool:
        return bool(self.hits() or self.misses() or sum(self.refills) or sum(self.drains))

    @staticmethod
    def rate(h: int, m: int):
        return round(h / (h + m), 6) if h + m else None

    def to_json(self) -> dict:
        h, m = self.hits(), self.misses()
        per = []
        for c in range(self.ncpus):
            hc, mc = self.hits(c), self.misses(c)
            per.append({"cpu": c, "hits": hc, "misses": mc, "hit_rate": self.rate(hc, mc),
                        "alloc_hits": self.alloc_hits[c], "alloc_misses": self.alloc_misses[c],
                        "free_hits": self.free_hits[c], "free_misses": self.free_misses[c],
                        "refills": self.refills[c], "drains": self.drains[c]})
        ah, am = sum(self.alloc_hits), sum(self.alloc_misses)
        fh, fm = sum(self.free_hits), sum(self.free_misses)
        return {"hits": h, "misses": m, "hit_rate": self.rate(h, m),
                "refills": sum(self.refills), "refill_objects": sum(self.refill_objs),
                "drains": sum(self.drains), "drain_objects": sum(self.drain_objs),
                "alloc": {"hits": ah, "misses": am, "hit_rate": self.rate(ah, am)},
                "free": {"hits": fh, "misses": fm, "hit_rate": self.rate(fh, fm)},
                "per_cpu": per}
