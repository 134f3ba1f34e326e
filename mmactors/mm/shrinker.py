"""Shrinkers: caches reclaim asks to give memory back (mm/shrinker.c,
include/linux/shrinker.h, the shrink_slab call of mm/vmscan.c; Linux 6.12).

A :class:`Shrinker` is what ``shrinker_alloc`` + ``shrinker_register`` make:
``count_objects(nid)`` and ``scan_objects(nid, nr_to_scan, me)`` (coroutines
of the cache that registers it), ``seeks`` (DEFAULT_SEEKS = 2), ``batch``
(0: SHRINK_BATCH = 128), SHRINKER_NUMA_AWARE (one ``nr_deferred`` per node).
:func:`shrink_slab` is called by ``shrink_node`` after ``shrink_lruvec``, for
the node being reclaimed at the reclaim's priority (kswapd and direct
reclaim alike); ``do_shrink_slab`` computes the work as the kernel does::

    delta      = (freeable >> priority) * 4 / seeks     # seeks 0: freeable / 2
    total_scan = min((nr_deferred >> priority) + delta, 2 * freeable)
    while total_scan >= batch or total_scan >= freeable:
        scan_objects(nr_to_scan = min(batch, total_scan)) ...
    nr_deferred = min(max(nr_deferred + delta - scanned, 0), 2 * freeable)

so a small cache is only scanned once reclaim's priority has dropped (the
work it was owed meanwhile is carried in ``nr_deferred``).  :func:`drop_slab`
is ``echo 2 > /proc/sys/vm/drop_caches`` (priority 0 on every node).  Counted:
``slabs_scanned``.  Simplifications: no memcg shrinkers (shrink_slab_memcg;
the model has no memory cgroups), no SRCU/refcount around the list (the list
is fixed once the machine is built), and the pages a shrinker frees are not
added to ``sc->nr_reclaimed`` (in the kernel only slab pages are, through
``current->reclaim_state``; the one shrinker here frees folio pages).
"""
from __future__ import annotations

__all__ = ["Shrinker", "shrinker_register", "shrinkers_of", "shrink_slab", "drop_slab",
           "SHRINK_STOP",
           "DEFAULT_SEEKS", "SHRINK_BATCH"]

DEFAULT_SEEKS = 2            # include/linux/shrinker.h
SHRINK_BATCH = 128           # mm/shrinker.c
SHRINK_STOP = -1             # (~0UL - 1) in the kernel: "stop scanning"
SHRINK_EMPTY = -2            # (~0UL - 2): count_objects says the cache is empty


class Shrinker:
    """struct shrinker."""

    __slots__ = ("name", "count_objects", "scan_objects", "seeks", "batch", "numa_aware",
                 "nr_deferred", "scanned", "freed", "calls")

    def __init__(self, name: str, count_objects, scan_objects, *, seeks: int = DEFAULT_SEEKS,
                 batch: int = 0, numa_aware: bool = True, nr_nodes: int = 1):
        self.name = name
        self.count_objects = count_objects
        self.scan_objects = scan_objects
        self.seeks = seeks
        self.batch = batch
        self.numa_aware = numa_aware
        self.nr_deferred = [0] * max(1, nr_nodes)   # per node (SHRINKER_NUMA_AWARE)
        self.scanned = 0                             # objects handed to scan_objects
        self.freed = 0                               # what scan_objects said it freed
        self.calls = 0                               # scan_objects calls


def shrinkers_of(sub) -> list:
    """The machine's shrinker_list (empty until a cache registers)."""
    lst = getattr(sub, "shrinkers", None)
    if lst is None:
        lst = sub.shrinkers = []
    return lst


def shrinker_register(sub, shrinker: Shrinker) -> Shrinker:
    shrinkers_of(sub).append(shrinker)
    return shrinker


async def do_shrink_slab(sub, shrinker: Shrinker, nid: int, priority: int, me) -> int:
    freeable = shrinker.count_objects(nid)
    if freeable <= 0:                                # 0 or SHRINK_EMPTY
        return 0
    i = nid if shrinker.numa_aware else 0
    nr = shrinker.nr_deferred[i]                     # xchg_nr_deferred
    shrinker.nr_deferred[i] = 0
    if shrinker.seeks:
        delta = (freeable >> priority) * 4 // shrinker.seeks
    else:
        delta = freeable // 2
    total_scan = (nr >> priority) + delta
    total_scan = min(total_scan, 2 * freeable)
    batch = shrinker.batch or SHRINK_BATCH
    freed = scanned = 0
    costs = sub.engine.costs
    while total_scan >= batch or total_scan >= freeable:
        nr_to_scan = min(batch, total_scan)
        ret, nr_scanned = await shrinker.scan_objects(nid, nr_to_scan, me)
        shrinker.calls += 1
        if ret == SHRINK_STOP:
            break
        freed += ret
        sub.vmstat.count_event(me.cpu, "slabs_scanned", nr_scanned)
        total_scan -= nr_scanned
        scanned += nr_scanned
        shrinker.scanned += nr_scanned
        await sub.engine.spend(costs.llc_hit_ns)    # cond_resched
    next_deferred = min(max(nr + delta - scanned, 0), 2 * freeable)
    shrinker.nr_deferred[i] += next_deferred        # add_nr_deferred
    shrinker.freed += freed
    return freed


async def shrink_slab(sub, gfp_mask: int, nid: int, priority: int, me) -> int:
    """shrink_slab (without memcg): every registered shrinker for node nid."""
    lst = getattr(sub, "shrinkers", None)
    if not lst:
        return 0
    freed = 0
    for s in lst:
        ret = await do_shrink_slab(sub, s, nid, priority, me)
        if ret == SHRINK_EMPTY:
            ret = 0
        freed += ret
    return freed


async def drop_slab(sub, me) -> None:
    """drop_slab (mm/vmscan.c, for ``echo 2 > /proc/sys/vm/drop_caches``):
    shrink_slab at priority 0 on every node (drop_slab_node), again while the
    round freed more than 1 << (its number) objects."""
    from .gfp import GFP_KERNEL
    shift = 0
    while True:
        freed = 0
        for pg in sub.pa.nodes:
            freed += await shrink_slab(sub, GFP_KERNEL, pg.node_id, 0, me)
        if not (freed >> shift) > 1:
            break
        shift += 1
