"""SLUB with classic per-CPU slabs: mm/slub.c, mm/slab.h, mm/slab_common.c (Linux 6.12).

Lock order (mm/slub.c): 1. slab_mutex, 2. ``node->list_lock`` (a spinlock,
class ``&n->list_lock``), 3. ``kmem_cache->cpu_slab->lock`` (a local lock),
4. ``slab_lock`` (only without cmpxchg_double), 5. ``object_map_lock``.
Slab states: node partial = PG_workingset && !frozen; cpu partial =
!PG_workingset && !frozen (on a CPU's ``c->partial`` chain); cpu slab =
!PG_workingset && frozen; full = neither, on no list.

Modelled: ``struct kmem_cache`` (object_size, size, align, ``oo``/``min``
from ``calculate_order``, ``min_partial``, ``cpu_partial`` and
``cpu_partial_slabs`` from ``set_cpu_partial``), the kmalloc caches
kmalloc-8 .. kmalloc-8k (with kmalloc-96/-192; ``-rcl-``/``-cg-``/``dma-``
variants created on first use), ``struct kmem_cache_cpu`` (freelist, tid,
slab, partial, ``stat[]``), ``struct kmem_cache_node`` (list_lock,
nr_partial, partial), ``struct slab`` (freelist, inuse, objects, frozen).
Paths: the lockless fast paths (``slab_alloc_node``, ``do_slab_free``: one
``this_cpu_cmpxchg_double`` each, charged as an atomic RMW), ``___slab_alloc``
(ALLOC_REFILL from the cpu slab's own freelist, DEACTIVATE_BYPASS, cpu
partial, ``get_partial_node`` which also refills the cpu partial list up to
half of ``cpu_partial_slabs``, ``get_any_partial`` gated by
``remote_node_defrag_ratio``, ``new_slab`` with the NORETRY/``s->min``
ORDER_FALLBACK), ``deactivate_slab``, ``__slab_free`` (the cmpxchg loop that
takes ``n->list_lock`` only when a slab must move, remote frees onto the
slab's own freelist, ``put_cpu_partial`` with CPU_PARTIAL_DRAIN,
``__put_partials``, ``discard_slab``), ``flush_cpu_slab``/``flush_all``,
``kmem_cache_shrink``, ``kmalloc_large`` above KMALLOC_MAX_CACHE_SIZE.
Statistics are ``enum stat_item`` (what /sys/kernel/slab/<cache>/<stat>
shows with CONFIG_SLUB_STATS).

Costs: each slab's ``struct slab`` is a cache line (the cmpxchg of
``__slab_free``/``get_freelist`` moves it); each node list has a line beside
its lock; every free object remembers which CPU wrote its free pointer last
(encoded above bit 48 of its freelist entry), so allocating an object freed
by another CPU costs a line transfer.  A new slab costs ``page_zero_ns`` per
page for writing its freelist.

Simplifications: the object freelists are Python lists (the head is the
last entry) rather than pointers inside the objects; the fast paths are
atomic in virtual time (no tid retry, CMPXCHG_DOUBLE_CPU_FAIL stays 0);
no debugging (red zones, poisoning, tracking), no KFENCE, no memcg charging,
no pfmemalloc slabs; bulk alloc/free and ``kfree_rcu`` are absent.

Newer kernels differ: 6.18 adds opt-in per-CPU *sheaves* (arrays of object
pointers under ``local_trylock``, with a per-node *barn* of full and empty
sheaves) in front of this, and later kernels (7.0 cycle) enable sheaves for
nearly every cache and remove ``struct kmem_cache_cpu``, the tid/cmpxchg
fast path and CONFIG_SLUB_CPU_PARTIAL.
"""
from __future__ import annotations

import re
from collections import OrderedDict

from .._core.errors import SimulationError
from ..costs import CacheLine
from ..sync import SpinLock, call_site, lock_registry
from ._internal import (MAX_PAGE_ORDER, PAGE_ALLOC_COSTLY_ORDER, PAGE_SHIFT, PAGE_SIZE,
                        PGTY_slab, CacheStats)
from .gfp import GFP, gfp_zone
from .sched_mm import might_alloc
from .vmstat import NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B

__all__ = ["Slub", "KmemCache", "KmemCacheCpu", "KmemCacheNode", "Slab", "STAT_ITEMS",
           "calculate_order", "kmalloc_index", "KMALLOC_SIZES", "SlubBug"]

STAT_ITEMS = (
    "ALLOC_FASTPATH", "ALLOC_SLOWPATH", "FREE_FASTPATH", "FREE_SLOWPATH", "FREE_FROZEN",
    "FREE_ADD_PARTIAL", "FREE_REMOVE_PARTIAL", "ALLOC_FROM_PARTIAL", "ALLOC_SLAB",
    "ALLOC_REFILL", "ALLOC_NODE_MISMATCH", "FREE_SLAB", "CPUSLAB_FLUSH", "DEACTIVATE_FULL",
    "DEACTIVATE_EMPTY", "DEACTIVATE_TO_HEAD", "DEACTIVATE_TO_TAIL", "DEACTIVATE_REMOTE_FREES",
    "DEACTIVATE_BYPASS", "ORDER_FALLBACK", "CMPXCHG_DOUBLE_CPU_FAIL", "CMPXCHG_DOUBLE_FAIL",
    "CPU_PARTIAL_ALLOC", "CPU_PARTIAL_FREE", "CPU_PARTIAL_NODE", "CPU_PARTIAL_DRAIN")
(ALLOC_FASTPATH, ALLOC_SLOWPATH, FREE_FASTPATH, FREE_SLOWPATH, FREE_FROZEN, FREE_ADD_PARTIAL,
 FREE_REMOVE_PARTIAL, ALLOC_FROM_PARTIAL, ALLOC_SLAB, ALLOC_REFILL, ALLOC_NODE_MISMATCH,
 FREE_SLAB, CPUSLAB_FLUSH, DEACTIVATE_FULL, DEACTIVATE_EMPTY, DEACTIVATE_TO_HEAD,
 DEACTIVATE_TO_TAIL, DEACTIVATE_REMOTE_FREES, DEACTIVATE_BYPASS, ORDER_FALLBACK,
 CMPXCHG_DOUBLE_CPU_FAIL, CMPXCHG_DOUBLE_FAIL, CPU_PARTIAL_ALLOC, CPU_PARTIAL_FREE,
 CPU_PARTIAL_NODE, CPU_PARTIAL_DRAIN) = range(len(STAT_ITEMS))
NR_SLUB_STAT_ITEMS = len(STAT_ITEMS)

MIN_PARTIAL = 5
MAX_PARTIAL = 10
MAX_OBJS_PER_PAGE = 32767
ARCH_KMALLOC_MINALIGN = 8
KMALLOC_SHIFT_LOW = 3
KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1
KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH          # 8 KiB
ZERO_SIZE_PTR = 16

# kmalloc_info[] indices 1 and 2 are 96 and 192; 3..13 are 8 .. 8k.
KMALLOC_SIZES = {1: 96, 2: 192, **{i: 1 << i for i in range(KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH + 1)}}
kmalloc_size_index = (3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2)

_GFP_RECLAIMABLE = GFP["__GFP_RECLAIMABLE"]
_GFP_ACCOUNT = GFP["__GFP_ACCOUNT"]
_GFP_DMA = GFP["__GFP_DMA"]
_GFP_COMP = GFP["__GFP_COMP"]
_GFP_NOWARN = GFP["__GFP_NOWARN"]
_GFP_NORETRY = GFP["__GFP_NORETRY"]
_GFP_NOFAIL = GFP["__GFP_NOFAIL"]
_GFP_NOMEMALLOC = GFP["__GFP_NOMEMALLOC"]
_GFP_DIRECT_RECLAIM = GFP["__GFP_DIRECT_RECLAIM"]
_GFP_RECLAIM = GFP["__GFP_RECLAIM"]
_GFP_THISNODE = GFP["__GFP_THISNODE"]
_GFP_ZERO = GFP["__GFP_ZERO"]
_GFP_NOWAIT = GFP["GFP_NOWAIT"]

_ADDR_BITS = 48
_ADDR_MASK = (1 << _ADDR_BITS) - 1

KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_CGROUP, KMALLOC_DMA = range(4)
_TYPE_PREFIX = {KMALLOC_NORMAL: "kmalloc-", KMALLOC_RECLAIM: "kmalloc-rcl-",
                KMALLOC_CGROUP: "kmalloc-cg-", KMALLOC_DMA: "dma-kmalloc-"}


class SlubBug(SimulationError):
    kind = "slub-bug"


def get_order(size: int) -> int:
    """include/asm-generic/getorder.h: the order of pages that holds ``size`` bytes."""
    if size <= PAGE_SIZE:
        return 0
    return ((size - 1) >> PAGE_SHIFT).bit_length()


def order_objects(order: int, size: int) -> int:
    return (PAGE_SIZE << order) // size


def calc_slab_order(size, min_order, max_order, fract_leftover):
    order = min_order
    while order <= max_order:
        slab_size = PAGE_SIZE << order
        if slab_size % size <= slab_size // fract_leftover:
            break
        order += 1
    return order


def calculate_order(size: int, nr_cpus: int, slub_min_order: int = 0,
                    slub_max_order: int = PAGE_ALLOC_COSTLY_ORDER, slub_min_objects: int = 0) -> int:
    """mm/slub.c calculate_order()."""
    min_objects = slub_min_objects
    if not min_objects:
        min_objects = 4 * (nr_cpus.bit_length() + 1)
    max_objects = max(order_objects(slub_max_order, size), 1)
    min_objects = min(min_objects, max_objects)
    min_order = max(slub_min_order, get_order(min_objects * size))
    if order_objects(min_order, size) > MAX_OBJS_PER_PAGE:
        return get_order(size * MAX_OBJS_PER_PAGE) - 1
    fraction = 16
    while fraction > 1:
        order = calc_slab_order(size, min_order, slub_max_order, fraction)
        if order <= slub_max_order:
            return order
        fraction //= 2
    order = get_order(size)
    if order <= MAX_PAGE_ORDER:
        return order
    raise ValueError(f"object size {size} cannot be placed in a slab")


def kmalloc_index(size: int) -> int:
    """kmalloc_slab(): the kmalloc_caches[] index for ``size`` (1..8192)."""
    if size <= 192:
        return kmalloc_size_index[(size - 1) // 8]
    return (size - 1).bit_length()


def kmalloc_type(gfp: int) -> int:
    if not (gfp & (_GFP_DMA | _GFP_RECLAIMABLE | _GFP_ACCOUNT)):
        return KMALLOC_NORMAL
    if gfp & _GFP_DMA:
        return KMALLOC_DMA
    if gfp & _GFP_RECLAIMABLE:
        return KMALLOC_RECLAIM
    return KMALLOC_CGROUP


def _ffs(x: int) -> int:
    return (x & -x).bit_length()


# -------------------------------------------------------------------- structs
class Slab:
    """struct slab: the ``struct page`` of a slab's head, seen as a slab."""

    __slots__ = ("pfn", "order", "cache", "node", "objects", "inuse", "frozen", "freelist",
                 "next", "slabs", "on_node_partial", "line", "ver", "cpu_partial_cpu")

    def __init__(self, cache, pfn: int, order: int, node: int, objects: int, line):
        self.cache = cache
        self.pfn = pfn
        self.order = order
        self.node = node
        self.objects = objects
        self.inuse = 0
        self.frozen = 0
        self.freelist: list = []
        self.next = None                 # cpu partial chain
        self.slabs = 0                   # chain length, kept in the chain's head
        self.on_node_partial = False     # PG_workingset
        self.line = line
        self.ver = 0                     # bumped on every freelist/counters change (cmpxchg)
        self.cpu_partial_cpu = -1        # simulator: whose cpu partial chain it is on

    def __repr__(self):
        return f"<slab {self.cache.name} pfn {self.pfn} {self.inuse}/{self.objects}>"


class KmemCacheCpu:
    """struct kmem_cache_cpu."""

    __slots__ = ("freelist", "tid", "slab", "partial", "stat", "cpu")

    def __init__(self, cpu: int, tid_step: int):
        self.cpu = cpu
        self.freelist: list = []
        self.tid = cpu                   # init_tid
        self.slab = None
        self.partial = None
        self.stat = [0] * NR_SLUB_STAT_ITEMS


class KmemCacheNode:
    """struct kmem_cache_node (with CONFIG_SLUB_DEBUG's counters)."""

    __slots__ = ("node", "list_lock", "nr_partial", "partial", "nr_slabs", "total_objects",
                 "line")

    def __init__(self, engine, node: int, line):
        self.node = node
        self.list_lock = SpinLock(engine, "&n->list_lock")
        self.nr_partial = 0
        self.partial: OrderedDict = OrderedDict()     # first entry = list head
        self.nr_slabs = 0
        self.total_objects = 0
        self.line = line


class KmemCache:
    """struct kmem_cache."""

    def __init__(self, slub, name: str, size: int, align: int, flags_reclaim: bool = False,
                 flags_dma: bool = False):
        self.slub = slub
        self.name = name
        self.object_size = size
        self.align = max(align, ARCH_KMALLOC_MINALIGN)
        self.size = -(-size // self.align) * self.align
        self.offset = (self.object_size // 2) & ~7      # free pointer in the middle
        self.reclaim = flags_reclaim
        order = calculate_order(self.size, slub.ncpus, slub.slub_min_order,
                                slub.slub_max_order, slub.slub_min_objects)
        self.oo_order, self.oo_objects = order, order_objects(order, self.size)
        mo = get_order(self.size)
        self.min_order, self.min_objects = mo, order_objects(mo, self.size)
        self.min_partial = max(MIN_PARTIAL, min(MAX_PARTIAL, (self.size.bit_length() - 1) // 2))
        self.remote_node_defrag_ratio = 1000
        self.allocflags = _GFP_COMP | (_GFP_RECLAIMABLE if flags_reclaim else 0) \
            | (_GFP_DMA if flags_dma else 0)
        self.set_cpu_partial(slub.cpu_partial_enabled)
        self.cpu_slab = [KmemCacheCpu(c, slub.tid_step) for c in range(slub.ncpus)]
        self.node = [KmemCacheNode(slub.engine, n, slub.line(f"{name}.node{n}"))
                     for n in range(slub.nnodes)]
        self.stats = CacheStats(f"slub:{name}", slub.ncpus)
        self.slabs: dict = {}            # head pfn -> Slab, every slab of this cache
        self.live = 0                    # objects handed out and not freed
        self.transit: set = set()        # slabs between lists while their actor waits

    def set_cpu_partial(self, enabled: bool):
        if not enabled:
            nr = 0
        elif self.size >= PAGE_SIZE:
            nr = 6
        elif self.size >= 1024:
            nr = 24
        elif self.size >= 256:
            nr = 52
        else:
            nr = 120
        self.cpu_partial = nr
        self.cpu_partial_slabs = -(-(nr * 2) // self.oo_objects) if nr else 0

    def has_cpu_partial(self) -> bool:
        return self.cpu_partial_slabs > 0 or self.cpu_partial > 0

    def stat(self, item: int) -> int:
        return sum(c.stat[item] for c in self.cpu_slab)

    def info(self) -> dict:
        return {"object_size": self.object_size, "size": self.size, "align": self.align,
                "order": self.oo_order, "objs_per_slab": self.oo_objects,
                "min_order": self.min_order, "min_partial": self.min_partial,
                "cpu_partial": self.cpu_partial, "cpu_partial_slabs": self.cpu_partial_slabs,
                "slabs": len(self.slabs), "total_objects": sum(s.objects for s in self.slabs.values()),
                "active_objs": self.live,
                "partial": [n.nr_partial for n in self.node]}


# ---------------------------------------------------------------------- SLUB
class Slub:
    """The slab allocator of one machine, on top of a :class:`PageAllocator`."""

    def __init__(self, pa, vmstat, *, constants: dict, kconfig: dict, queue_work_on=None):
        self.pa = pa
        self.vmstat = vmstat
        self.engine = pa.engine
        self.costs = pa.costs
        self.ncpus = pa.ncpus
        self.nnodes = len(pa.nodes)
        self.node_of = pa.node_of
        self.queue_work_on = queue_work_on
        self.slub_min_order = int(constants.get("slub_min_order", 0))
        self.slub_max_order = int(constants.get("slub_max_order", PAGE_ALLOC_COSTLY_ORDER))
        self.slub_min_objects = int(constants.get("slub_min_objects", 0))
        self.cpu_partial_enabled = bool(kconfig.get("CONFIG_SLUB_CPU_PARTIAL", True))
        self.freelist_random = bool(kconfig.get("CONFIG_SLAB_FREELIST_RANDOM", False))
        self.init_on_alloc = bool(kconfig.get("CONFIG_INIT_ON_ALLOC_DEFAULT_ON", False))
        self.tid_step = 1 << max(0, (self.ncpus - 1).bit_length())    # roundup_pow_of_two(NR_CPUS)
        self.caches: dict[str, KmemCache] = {}
        self.kmalloc_caches = {t: {} for t in _TYPE_PREFIX}
        self.slab_map: dict = {}         # pfn of every slab page -> Slab
        self.large: dict = {}            # kmalloc_large head pfn -> order
        self.large_count = 0
        self.failures = 0
        for idx in sorted(KMALLOC_SIZES):
            self.kmalloc_cache(KMALLOC_NORMAL, idx)
        self._xfer_local = self.costs.line_transfer_ns
        self._xfer_remote = self.costs.line_transfer_remote_ns
        self._reg = lock_registry(self.engine)        # the validators (might_alloc)

    def line(self, name):
        return CacheLine(self.costs, self.node_of, name, clock=self.engine)

    def kmalloc_cache(self, ktype: int, idx: int) -> KmemCache:
        c = self.kmalloc_caches[ktype].get(idx)
        if c is None:
            size = KMALLOC_SIZES[idx]
            name = _TYPE_PREFIX[ktype] + (f"{size >> 10}k" if size >= 1024 else str(size))
            align = max(ARCH_KMALLOC_MINALIGN, 1 << (_ffs(size) - 1))
            c = KmemCache(self, name, size, align, flags_reclaim=ktype == KMALLOC_RECLAIM,
                          flags_dma=ktype == KMALLOC_DMA)
            self.kmalloc_caches[ktype][idx] = c
            self.caches[name] = c
        return c

    def kmem_cache_create(self, name: str, size: int, align: int = 8) -> KmemCache:
        if name in self.caches:
            raise ValueError(f"kmem_cache {name!r} exists")
        c = KmemCache(self, name, size, align)
        self.caches[name] = c
        return c

    def kmalloc_slab(self, size: int, gfp: int) -> KmemCache:
        return self.kmalloc_cache(kmalloc_type(gfp), kmalloc_index(size))

    # ---------------------------------------------------------------- costs
    def _obj_cost(self, entry: int, cpu: int) -> int:
        w = entry >> _ADDR_BITS
        if not w or w == cpu + 1:
            return self.costs.l1_hit_ns
        nof = self.node_of
        return self._xfer_local if nof[w - 1] == nof[cpu] else self._xfer_remote

    # ================================================================ kmalloc
    async def kmalloc(self, size: int, gfp: int, node: int = -1) -> int:
        """``kmalloc_node``: an object address, ``ZERO_SIZE_PTR`` for 0, 0 on failure."""
        if size == 0:
            return ZERO_SIZE_PTR
        if size > KMALLOC_MAX_CACHE_SIZE:
            return await self.kmalloc_large(size, gfp, node)
        s = self.kmalloc_slab(size, gfp)
        return await self.slab_alloc_node(s, gfp, node, size)

    async def kfree(self, addr: int) -> None:
        if addr <= ZERO_SIZE_PTR:
            return
        pfn = addr >> PAGE_SHIFT
        slab = self.slab_map.get(pfn)
        if slab is None:
            order = self.large.get(pfn)
            if order is None:
                me = self.engine.current
                raise SlubBug(f"kfree of {addr:#x}, which kmalloc did not return",
                              now=self.engine.now, actor=me.name if me else None)
            await self.free_large_kmalloc(pfn, order)
            return
        await self.slab_free(slab.cache, slab, addr)

    async def kmalloc_large(self, size: int, gfp: int, node: int = -1) -> int:
        order = get_order(size)
        me = self.engine.current
        pfn = await self.pa.alloc_pages(gfp | _GFP_COMP, order, node)
        if pfn < 0:
            self.failures += 1
            return 0
        self.large[pfn] = order
        self.large_count += 1
        self.vmstat.mod_node_page_state(self.pa.nodes[self.pa.pfn_node(pfn)],
                                        NR_SLAB_UNRECLAIMABLE_B, 1 << order, me)
        return pfn << PAGE_SHIFT

    async def free_large_kmalloc(self, pfn: int, order: int):
        me = self.engine.current
        del self.large[pfn]
        self.vmstat.mod_node_page_state(self.pa.nodes[self.pa.pfn_node(pfn)],
                                        NR_SLAB_UNRECLAIMABLE_B, -(1 << order), me)
        await self.pa.free_pages(pfn, order)

    # ============================================================ allocation
    async def kmem_cache_alloc(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        return await self.slab_alloc_node(s, gfp, node, s.object_size)

    async def slab_alloc_node(self, s: KmemCache, gfp: int, node: int, orig_size: int) -> int:
        reg = self._reg
        if reg.on_map_acquire or reg.on_might_sleep:
            # slab_pre_alloc_hook's might_alloc(flags): fs_reclaim for
            # lockdep, whether or not the cpu slab serves the object
            might_alloc(self.engine.current, gfp, call_site(1))
        addr = self.slab_alloc_fast(s, gfp, node)
        if addr is not None:
            return addr
        me = self.engine.current
        addr = await self.slab_alloc_slow(s, gfp, node, s.cpu_slab[me.cpu], me)
        if addr and (gfp & _GFP_ZERO or self.init_on_alloc):
            me.debt += max(1, (self.costs.page_zero_ns * s.object_size) >> PAGE_SHIFT)
        return addr

    def slab_alloc_fast(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        """The lockless fast path of ``slab_alloc_node``: an address, or None
        (nothing done) when ``___slab_alloc`` must run."""
        me = self.engine.current
        cpu = me.cpu
        c = s.cpu_slab[cpu]
        fl = c.freelist
        slab = c.slab
        if not fl or slab is None or (node >= 0 and slab.node != node):
            return None
        e = fl.pop()                                       # this_cpu_cmpxchg_double
        c.tid += self.tid_step
        c.stat[ALLOC_FASTPATH] += 1
        s.stats.alloc_hits[cpu] += 1
        s.live += 1
        cost = self.costs.atomic_rmw_ns + self._obj_cost(e, cpu)
        if gfp & _GFP_ZERO or self.init_on_alloc:
            cost += max(1, (self.costs.page_zero_ns * s.object_size) >> PAGE_SHIFT)
        me.debt += cost
        return e & _ADDR_MASK

    def kfree_fast(self, addr: int) -> bool:
        """do_slab_free's fast path: True when the object went onto this CPU's
        cpu-slab freelist; False (nothing done) when :meth:`kfree` must run."""
        slab = self.slab_map.get(addr >> PAGE_SHIFT)
        if slab is None:
            return addr <= ZERO_SIZE_PTR
        me = self.engine.current
        cpu = me.cpu
        s = slab.cache
        c = s.cpu_slab[cpu]
        if slab is not c.slab:
            return False
        off = addr - (slab.pfn << PAGE_SHIFT)
        if off % s.size:
            return False                                   # the slow path reports it
        self._free_to_cpu_slab(s, c, addr, cpu, me)
        return True

    def _free_to_cpu_slab(self, s, c, addr, cpu, me):
        """do_slab_free's fast path: the object goes on the CPU slab's freelist
        (this_cpu_cmpxchg_double of freelist and tid)."""
        c.freelist.append(addr)
        c.tid += self.tid_step
        c.stat[FREE_FASTPATH] += 1
        s.stats.free_hits[cpu] += 1
        s.live -= 1
        me.debt += self.costs.atomic_rmw_ns + self.costs.l1_hit_ns

    def get_freelist(self, s, slab, me) -> list:
        """Take the slab's freelist (remote frees); frozen if there was one."""
        fl = slab.freelist
        slab.freelist = []
        slab.inuse = slab.objects
        slab.frozen = 1 if fl else 0
        slab.ver += 1
        me.debt += slab.line.write(me.cpu) + self.costs.atomic_rmw_ns
        return fl

    def freeze_slab(self, s, slab, me) -> list:
        fl = slab.freelist
        slab.freelist = []
        slab.inuse = slab.objects
        slab.frozen = 1
        slab.ver += 1
        me.debt += slab.line.write(me.cpu) + self.costs.atomic_rmw_ns
        return fl

    def _load_freelist(self, s, c, freelist, me) -> int:
        e = freelist.pop()
        c.freelist = freelist
        c.tid += self.tid_step
        s.live += 1
        me.debt += self._obj_cost(e, me.cpu)
        return e & _ADDR_MASK

    async def slab_alloc_slow(self, s, gfp, node, c, me) -> int:
        """___slab_alloc."""
        cpu = me.cpu
        c.stat[ALLOC_SLOWPATH] += 1
        st = s.stats
        slab = c.slab
        if slab is not None:
            if node >= 0 and slab.node != node:
                c.stat[ALLOC_NODE_MISMATCH] += 1
                freelist = c.freelist
                c.slab = None
                c.freelist = []
                c.tid += self.tid_step
                await self.deactivate_slab(s, slab, freelist, me)
            else:
                if c.freelist:
                    st.alloc_hits[cpu] += 1
                    return self._load_freelist(s, c, c.freelist, me)
                freelist = self.get_freelist(s, slab, me)
                if freelist:
                    c.stat[ALLOC_REFILL] += 1
                    st.alloc_hits[cpu] += 1
                    return self._load_freelist(s, c, freelist, me)
                c.slab = None
                c.tid += self.tid_step
                c.stat[DEACTIVATE_BYPASS] += 1
        # new_slab:
        while c.partial is not None:
            slab = c.partial
            c.partial = slab.next
            if c.partial is not None:
                c.partial.slabs = slab.slabs - 1
            slab.next = None
            slab.cpu_partial_cpu = -1
            if node >= 0 and slab.node != node:
                await self.put_partials(s, slab, me)
                continue
            c.slab = slab
            freelist = self.get_freelist(s, slab, me)
            c.stat[CPU_PARTIAL_ALLOC] += 1
            st.alloc_hits[cpu] += 1
            if not freelist:                   # cannot happen: a cpu partial slab has frees
                c.slab = None
                continue
            return self._load_freelist(s, c, freelist, me)
        # new_objects:
        slab = await self.get_partial(s, node, gfp, me)
        if slab is not None:
            freelist = self.freeze_slab(s, slab, me)
            st.alloc_misses[cpu] += 1
            st.refills[cpu] += 1
            st.refill_objs[cpu] += len(freelist)
        else:
            slab = await self.new_slab(s, gfp, node, me)
            if slab is None:
                self.failures += 1
                st.alloc_misses[cpu] += 1
                return 0
            c.stat[ALLOC_SLAB] += 1
            st.alloc_misses[cpu] += 1
            st.refills[cpu] += 1
            st.refill_objs[cpu] += slab.objects
            freelist = slab.freelist
            slab.freelist = []
            slab.inuse = slab.objects
            slab.frozen = 1
        # retry_load_slab:
        while c.slab is not None:
            await self._flush_slab(s, c, me)
        c.slab = slab
        s.transit.discard(slab)
        return self._load_freelist(s, c, freelist, me)

    async def get_partial(self, s, node, gfp, me):
        searchnode = node if node >= 0 else self.node_of[me.cpu]
        slab = await self.get_partial_node(s, s.node[searchnode], me)
        if slab is not None or (node >= 0 and gfp & _GFP_THISNODE):
            return slab
        return await self.get_any_partial(s, gfp, me)

    async def get_any_partial(self, s, gfp, me):
        if self.nnodes == 1 or not s.remote_node_defrag_ratio:
            return None
        if self.engine.random.randrange(1024) > s.remote_node_defrag_ratio:   # get_cycles() % 1024
            return None
        hz = gfp_zone(gfp)
        seen = set()
        for z in self.pa.nodes[self.node_of[me.cpu]].node_zonelists:
            if z.zone_idx > hz or z.node in seen:
                continue
            seen.add(z.node)
            n = s.node[z.node]
            if n.nr_partial > s.min_partial:
                slab = await self.get_partial_node(s, n, me)
                if slab is not None:
                    return slab
        return None

    async def get_partial_node(self, s, n, me):
        if n is None or not n.nr_partial:          # racy check without the lock
            return None
        eng = self.engine
        if me.debt and n.list_lock.is_locked():
            await eng.spend(0)
        flags = await n.list_lock.lock_irqsave("get_partial_node")
        me.debt += n.line.write(me.cpu)
        partial = None
        partial_slabs = 0
        c = s.cpu_slab[me.cpu]
        while n.partial:
            slab = next(iter(n.partial))
            self.remove_partial(n, slab, me)
            if partial is None:
                partial = slab
                s.transit.add(slab)                  # until it becomes our cpu slab
                c.stat[ALLOC_FROM_PARTIAL] += 1
                if not s.cpu_partial_slabs:
                    break
            else:
                self.put_cpu_partial_nodrain(s, slab, me)
                c.stat[CPU_PARTIAL_NODE] += 1
                partial_slabs += 1
                if partial_slabs > s.cpu_partial_slabs // 2:
                    break
        await eng.spend(0)
        n.list_lock.unlock_irqrestore(flags, "get_partial_node")
        return partial

    async def new_slab(self, s, flags, node, me):
        """allocate_slab: the preferred order with NORETRY, else ``s->min``."""
        pa = self.pa
        flags = (flags & ~_GFP_ZERO) | s.allocflags
        alloc_gfp = (flags | _GFP_NOWARN | _GFP_NORETRY) & ~_GFP_NOFAIL
        if flags & _GFP_DIRECT_RECLAIM and s.oo_order > s.min_order:
            alloc_gfp = (alloc_gfp | _GFP_NOMEMALLOC) & ~_GFP_RECLAIM
        order, objects = s.oo_order, s.oo_objects
        pfn = await pa.alloc_pages(alloc_gfp, order, node)
        if pfn < 0:
            if (order, objects) == (s.min_order, s.min_objects):
                return None
            order, objects = s.min_order, s.min_objects
            pfn = await pa.alloc_pages(flags, order, node)
            if pfn < 0:
                return None
            s.cpu_slab[me.cpu].stat[ORDER_FALLBACK] += 1
        nid = pa.pfn_node(pfn)
        slab = Slab(s, pfn, order, nid, objects, self.line(f"slab{pfn}"))
        slab.line.write(me.cpu)
        base = pfn << PAGE_SHIFT
        enc = (me.cpu + 1) << _ADDR_BITS
        fl = [enc | (base + i * s.size) for i in range(objects - 1, -1, -1)]
        if self.freelist_random:
            self.engine.random.shuffle(fl)
        slab.freelist = fl
        s.slabs[pfn] = slab
        s.transit.add(slab)
        for p in range(pfn, pfn + (1 << order)):
            self.slab_map[p] = slab
        pa.mem_map.f[pfn] |= PGTY_slab
        n = s.node[nid]
        n.nr_slabs += 1
        n.total_objects += objects
        item = NR_SLAB_RECLAIMABLE_B if s.reclaim else NR_SLAB_UNRECLAIMABLE_B
        self.vmstat.mod_node_page_state(pa.nodes[nid], item, 1 << order, me)
        me.debt += self.costs.page_zero_ns << order     # writing the freelist through the slab
        return slab

    # ---------------------------------------------------------- list helpers
    def add_partial(self, n, slab, tail: int, me):
        n.nr_partial += 1
        n.partial[slab] = None
        if tail == DEACTIVATE_TO_HEAD:
            n.partial.move_to_end(slab, last=False)
        slab.on_node_partial = True
        me.debt += n.line.write(me.cpu)

    def remove_partial(self, n, slab, me):
        del n.partial[slab]
        n.nr_partial -= 1
        slab.on_node_partial = False
        me.debt += n.line.write(me.cpu)

    async def discard_slab(self, s, slab, me):
        """discard_slab -> free_slab -> __free_pages."""
        n = s.node[slab.node]
        n.nr_slabs -= 1
        n.total_objects -= slab.objects
        del s.slabs[slab.pfn]
        s.transit.discard(slab)
        for p in range(slab.pfn, slab.pfn + (1 << slab.order)):
            del self.slab_map[p]
        pa = self.pa
        pa.mem_map.f[slab.pfn] &= ~PGTY_slab
        item = NR_SLAB_RECLAIMABLE_B if s.reclaim else NR_SLAB_UNRECLAIMABLE_B
        self.vmstat.mod_node_page_state(pa.nodes[slab.node], item, -(1 << slab.order), me)
        await pa.free_pages(slab.pfn, slab.order)

    async def _flush_slab(self, s, c, me):
        """flush_slab: take the CPU slab away (new tid) and deactivate it."""
        slab, freelist = c.slab, c.freelist
        c.slab = None
        c.freelist = []
        c.tid += self.tid_step
        s.transit.add(slab)
        await self.deactivate_slab(s, slab, freelist, me)
        s.transit.discard(slab)
        c.stat[CPUSLAB_FLUSH] += 1

    async def deactivate_slab(self, s, slab, freelist, me):
        """Return a cpu slab (and what is left of its cpu freelist) to the lists."""
        n = s.node[slab.node]
        c = s.cpu_slab[me.cpu]
        tail = DEACTIVATE_TO_HEAD
        if slab.freelist:
            c.stat[DEACTIVATE_REMOTE_FREES] += 1
            tail = DEACTIVATE_TO_TAIL
        # stage two: one cmpxchg unfreezes and splices the cpu freelist in front
        if freelist:
            slab.freelist = slab.freelist + freelist
        slab.inuse -= len(freelist)
        slab.frozen = 0
        slab.ver += 1
        me.debt += slab.line.write(me.cpu) + self.costs.atomic_rmw_ns
        st = s.stats
        st.drains[me.cpu] += 1
        st.drain_objs[me.cpu] += len(freelist)
        # stage three
        if not slab.inuse and n.nr_partial >= s.min_partial:
            c.stat[DEACTIVATE_EMPTY] += 1
            await self.discard_slab(s, slab, me)
            c.stat[FREE_SLAB] += 1
        elif slab.freelist:
            s.transit.add(slab)
            if me.debt and n.list_lock.is_locked():
                await self.engine.spend(0)
            flags = await n.list_lock.lock_irqsave("deactivate_slab")
            self.add_partial(n, slab, tail, me)
            s.transit.discard(slab)
            await self.engine.spend(0)
            n.list_lock.unlock_irqrestore(flags, "deactivate_slab")
            c.stat[tail] += 1
        else:
            c.stat[DEACTIVATE_FULL] += 1

    def put_cpu_partial_nodrain(self, s, slab, me):
        """put_cpu_partial(s, slab, 0): push onto this CPU's partial chain."""
        c = s.cpu_slab[me.cpu]
        old = c.partial
        slab.slabs = (old.slabs if old is not None else 0) + 1
        slab.next = old
        slab.cpu_partial_cpu = me.cpu
        c.partial = slab

    async def put_cpu_partial(self, s, slab, drain: int, me):
        c = s.cpu_slab[me.cpu]
        old = c.partial
        slab_to_put = None
        if drain and old is not None and old.slabs >= s.cpu_partial_slabs:
            slab_to_put = old
            old = None
            c.partial = None
            p = slab_to_put
            while p is not None:
                p.cpu_partial_cpu = -1
                s.transit.add(p)
                p = p.next
        slab.slabs = (old.slabs if old is not None else 0) + 1
        slab.next = old
        slab.cpu_partial_cpu = me.cpu
        c.partial = slab
        if slab_to_put is not None:
            await self.put_partials(s, slab_to_put, me)
            c.stat[CPU_PARTIAL_DRAIN] += 1

    async def put_partials(self, s, partial_slab, me):
        """__put_partials: a detached chain to the node lists (empty ones discarded)."""
        eng = self.engine
        n = None
        discard = []
        moved = 0
        c = s.cpu_slab[me.cpu]
        while partial_slab is not None:
            slab = partial_slab
            partial_slab = slab.next
            slab.next = None
            slab.cpu_partial_cpu = -1
            s.transit.add(slab)
            n2 = s.node[slab.node]
            if n2 is not n:
                if n is not None:
                    await eng.spend(0)
                    n.list_lock.unlock_irqrestore(flags, "__put_partials")
                n = n2
                if me.debt and n.list_lock.is_locked():
                    await eng.spend(0)
                flags = await n.list_lock.lock_irqsave("__put_partials")
            if not slab.inuse and n.nr_partial >= s.min_partial:
                discard.append(slab)
            else:
                self.add_partial(n, slab, DEACTIVATE_TO_TAIL, me)
                s.transit.discard(slab)
                c.stat[FREE_ADD_PARTIAL] += 1
            moved += 1
        if n is not None:
            await eng.spend(0)
            n.list_lock.unlock_irqrestore(flags, "__put_partials")
        s.stats.drains[me.cpu] += 1
        s.stats.drain_objs[me.cpu] += moved
        for slab in discard:
            c.stat[DEACTIVATE_EMPTY] += 1
            await self.discard_slab(s, slab, me)
            c.stat[FREE_SLAB] += 1

    # ================================================================== free
    async def kmem_cache_free(self, s, addr: int):
        slab = self.slab_map.get(addr >> PAGE_SHIFT)
        if slab is None or slab.cache is not s:
            raise SlubBug(f"kmem_cache_free({s.name}) of {addr:#x}, not from this cache",
                          now=self.engine.now)
        await self.slab_free(s, slab, addr)

    async def slab_free(self, s, slab, addr: int):
        """do_slab_free: the fast path when the object's slab is our cpu slab."""
        me = self.engine.current
        cpu = me.cpu
        off = addr - (slab.pfn << PAGE_SHIFT)
        if off % s.size or off >= slab.objects * s.size:
            raise SlubBug(f"kfree({addr:#x}): not an object boundary of {s.name}",
                          now=self.engine.now, actor=me.name)
        c = s.cpu_slab[cpu]
        if slab is c.slab:
            self._free_to_cpu_slab(s, c, addr, cpu, me)
            return
        await self.slab_free_slow(s, slab, addr, me)

    async def slab_free_slow(self, s, slab, addr, me):
        """__slab_free: a remote or non-cpu-slab free, lockless unless the slab
        must move between lists."""
        eng = self.engine
        cpu = me.cpu
        c = s.cpu_slab[cpu]
        c.stat[FREE_SLOWPATH] += 1
        has_cpu_partial = s.cpu_partial_slabs > 0
        n = None
        while True:
            if n is not None:
                n.list_lock.unlock_irqrestore(flags, "__slab_free")
                n = None
            prior = bool(slab.freelist)
            ver = slab.ver
            was_frozen = slab.frozen
            new_inuse = slab.inuse - 1
            on_node_partial = False
            if (not new_inuse or not prior) and not was_frozen:
                if not has_cpu_partial or prior:
                    n = s.node[slab.node]
                    if me.debt and n.list_lock.is_locked():
                        await eng.spend(0)
                    flags = await n.list_lock.lock_irqsave("__slab_free")
                    on_node_partial = slab.on_node_partial
            if slab.ver != ver:                          # the cmpxchg failed: retry
                c.stat[CMPXCHG_DOUBLE_FAIL] += 1
                continue
            slab.freelist.append(((cpu + 1) << _ADDR_BITS) | addr)
            slab.inuse = new_inuse
            slab.ver += 1
            s.live -= 1
            me.debt += slab.line.write(cpu) + self.costs.atomic_rmw_ns
            break
        st = s.stats
        if n is None:
            st.free_hits[cpu] += 1
            if was_frozen:
                c.stat[FREE_FROZEN] += 1
            elif has_cpu_partial and not prior:
                await self.put_cpu_partial(s, slab, 1, me)
                c.stat[CPU_PARTIAL_FREE] += 1
            return
        st.free_misses[cpu] += 1
        if prior and not on_node_partial:
            await eng.spend(0)
            n.list_lock.unlock_irqrestore(flags, "__slab_free")
            return
        if not new_inuse and n.nr_partial >= s.min_partial:
            if prior:
                self.remove_partial(n, slab, me)
                c.stat[FREE_REMOVE_PARTIAL] += 1
            s.transit.add(slab)
            await eng.spend(0)
            n.list_lock.unlock_irqrestore(flags, "__slab_free")
            c.stat[FREE_SLAB] += 1
            await self.discard_slab(s, slab, me)
            return
        if not has_cpu_partial and not prior:
            self.add_partial(n, slab, DEACTIVATE_TO_TAIL, me)
            c.stat[FREE_ADD_PARTIAL] += 1
        await eng.spend(0)
        n.list_lock.unlock_irqrestore(flags, "__slab_free")

    # ============================================================== flushing
    async def flush_cpu_slab(self, s):
        """flush_cpu_slab (the per-CPU work of flush_all): flush_slab + put_partials."""
        me = self.engine.current
        c = s.cpu_slab[me.cpu]
        if c.slab is not None:
            await self._flush_slab(s, c, me)
        if c.partial is not None:
            chain = c.partial
            c.partial = None
            p = chain
            while p is not None:
                p.cpu_partial_cpu = -1
                s.transit.add(p)
                p = p.next
            await self.put_partials(s, chain, me)
        if me.debt:
            await self.engine.spend(0)

    async def flush_all(self, s):
        """flush_all(): flush_cpu_slab on every CPU with a cpu slab or partials,
        as work on each CPU's kworker (slub_flushwq), and wait for them."""
        works = []
        for cpu, c in enumerate(s.cpu_slab):
            if c.slab is None and c.partial is None:
                continue
            async def fn(kw, _s=s):
                await self.flush_cpu_slab(_s)
            works.append(self.queue_work_on(cpu, fn, "flush_cpu_slab"))
        for w in works:
            await w.done.wait()

    async def kmem_cache_shrink(self, s, flush: bool = True):
        """__kmem_cache_do_shrink: discard empty node-partial slabs (after
        flush_all when ``flush`` and there are kworkers)."""
        me = self.engine.current
        if flush and self.queue_work_on is not None:
            await self.flush_all(s)
        for n in s.node:
            if me.debt and n.list_lock.is_locked():
                await self.engine.spend(0)
            flags = await n.list_lock.lock_irqsave("__kmem_cache_do_shrink")
            empty = [sl for sl in n.partial if not sl.inuse]
            for sl in empty:
                self.remove_partial(n, sl, me)
                s.transit.add(sl)
            # promote the fullest slabs to the head (SHRINK_PROMOTE_MAX buckets)
            rest = sorted(n.partial, key=lambda sl: sl.objects - sl.inuse)
            n.partial = OrderedDict((sl, None) for sl in rest)
            await self.engine.spend(0)
            n.list_lock.unlock_irqrestore(flags, "__kmem_cache_do_shrink")
            for sl in empty:
                await self.discard_slab(s, sl, me)

    # ================================================================ checks
    def _check(self) -> None:
        """Object counts balance; every slab is in the state its lists say."""
        for s in self.caches.values():
            on_cpu = {}
            cpu_free = 0
            for cpu, c in enumerate(s.cpu_slab):
                if c.slab is not None:
                    assert c.slab.frozen, f"{s.name}: cpu{cpu} slab not frozen"
                    assert c.slab.pfn in s.slabs, f"{s.name}: cpu{cpu} slab unknown"
                    on_cpu[c.slab] = cpu
                    cpu_free += len(c.freelist)
                else:
                    assert not c.freelist, f"{s.name}: cpu{cpu} freelist without a slab"
                p, k = c.partial, 0
                head_slabs = p.slabs if p is not None else 0
                while p is not None:
                    assert not p.frozen and not p.on_node_partial, f"{s.name}: {p} bad cpu partial"
                    assert p.cpu_partial_cpu == cpu, f"{s.name}: {p} on cpu{cpu}'s chain"
                    k += 1
                    p = p.next
                assert k == head_slabs, f"{s.name}: cpu{cpu} partial chain {k} != {head_slabs}"
            for nid, n in enumerate(s.node):
                assert n.nr_partial == len(n.partial), f"{s.name}: node{nid} nr_partial"
                for sl in n.partial:
                    assert sl.on_node_partial and not sl.frozen, f"{s.name}: {sl} on node list"
                    assert sl.node == nid
                nsl = [sl for sl in s.slabs.values() if sl.node == nid]
                assert n.nr_slabs == len(nsl), f"{s.name}: node{nid} nr_slabs"
                assert n.total_objects == sum(sl.objects for sl in nsl)
            used = 0
            for pfn, sl in s.slabs.items():
                assert sl.pfn == pfn
                assert len(sl.freelist) == len({e & _ADDR_MASK for e in sl.freelist})
                base = pfn << PAGE_SHIFT
                for e in sl.freelist:
                    a = (e & _ADDR_MASK) - base
                    assert 0 <= a < sl.objects * s.size and a % s.size == 0, \
                        f"{s.name}: freelist entry {e & _ADDR_MASK:#x} outside {sl}"
                assert sl.objects - sl.inuse == len(sl.freelist), \
                    f"{s.name}: {sl} inuse {sl.inuse} but {len(sl.freelist)} free"
                free = len(sl.freelist)
                if sl in on_cpu:
                    free += len(s.cpu_slab[on_cpu[sl]].freelist)
                used += sl.objects - free
                if sl in s.transit:
                    continue
                listed = sl.on_node_partial or sl.cpu_partial_cpu >= 0 or sl in on_cpu
                if not listed:
                    assert not sl.frozen and not sl.freelist, f"{s.name}: {sl} lost"
            assert used == s.live, f"{s.name}: {used} objects in use, {s.live} handed out"


# ------------------------------------------------------------------ reports
def cache_sort_key(name: str):
    """kmalloc-8 < kmalloc-16 < ... < kmalloc-8k: caches in size order."""
    m = re.match(r"(.*?)(\d+)(k?)$", name)
    if not m:
        return (name, 0)
    return (m.group(1), int(m.group(2)) * (1024 if m.group(3) else 1))


def _rate(h, m):
    return CacheStats.rate(h, m)


def _level(cache, hits_of, misses_of, refills_of=None, drains_of=None) -> dict:
    per = []
    H = M = R = D = 0
    for c in cache.cpu_slab:
        h, m = hits_of(c.stat), misses_of(c.stat)
        r = refills_of(c.stat) if refills_of else 0
        d = drains_of(c.stat) if drains_of else 0
        H, M, R, D = H + h, M + m, R + r, D + d
        per.append({"cpu": c.cpu, "hits": h, "misses": m, "hit_rate": _rate(h, m),
                    "refills": r, "drains": d})
    return {"hits": H, "misses": M, "hit_rate": _rate(H, M), "refills": R, "drains": D,
            "per_cpu": per}


def cache_json(cache) -> dict:
    """One cache's per-CPU hit figures (cpu slab and cpu partial levels) and
    its CONFIG_SLUB_STATS counters, as /sys/kernel/slab/<cache>/ shows them."""
    d = cache.stats.to_json()
    d["cpu_slab"] = _level(cache, lambda s: s[ALLOC_FASTPATH] + s[FREE_FASTPATH],
                           lambda s: s[ALLOC_SLOWPATH] + s[FREE_SLOWPATH])
    d["cpu_partial"] = _level(
        cache, lambda s: s[CPU_PARTIAL_ALLOC],
        lambda s: max(0, s[ALLOC_SLOWPATH] - s[CPU_PARTIAL_ALLOC] - s[ALLOC_REFILL]),
        lambda s: s[CPU_PARTIAL_NODE] + s[CPU_PARTIAL_FREE], lambda s: s[CPU_PARTIAL_DRAIN])
    d["stats"] = {k: cache.stat(i) for i, k in enumerate(STAT_ITEMS)}
    return d
