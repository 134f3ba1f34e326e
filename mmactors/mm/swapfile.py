"""Swap devices and the swap-slot allocator: mm/swapfile.c (Linux 6.12, and 6.14/6.15 by knob).

Lock ordering in this file (as mm/rmap.c writes its own)::

    6.12 ([constants] swap_allocator = "6.12", the default)
      &cache->alloc_lock          (mutex, mm/swap_slots.c: folio_alloc_swap refill)
      &cache->free_lock           (spinlock, mm/swap_slots.c: free_swap_slot flush)
        &p->lock                  (si->lock: get_swap_pages, swapcache_free_entries)
          &cluster_info[i].lock   (ci->lock: alloc_swap_scan_cluster, swap_entry_range_free)
            swap_avail_lock       (del_from_avail_list from swap_range_alloc)

    6.14 / 6.15 (Kairui Song, "mm, swap: rework of swap allocator locks":
                 3b644773eefd "mm, swap: reduce contention on device lock")
      &si->global_cluster_lock    (rotating disks only)
        &cluster_info[i].lock
          &p->lock                (move_cluster / isolate: only to move clusters between lists)
          swap_avail_lock         (swap_usage_add/sub when a device fills or frees up)
      isolate_lock_cluster takes &p->lock, then spin_trylock(&ci->lock): no edge.

Read 6.12 here: ``get_swap_pages`` takes ``swap_avail_lock`` only to walk the
priority list and *drops it* before ``si->lock``, so ``swap_avail_lock`` is not
outside ``si->lock``: ``swap_range_alloc``/``swap_range_free`` take it inside
``si->lock`` (and inside ``ci->lock`` on allocation), which is why it is a lock
of its own (the comment above ``swap_avail_heads``).

What is modelled, in the kernel's words
---------------------------------------
* ``struct swap_info_struct`` per ``[[swap]]`` device (swapon order = type),
  with ``si->lock`` (class ``&p->lock``: ``spin_lock_init(&p->lock)`` in
  ``alloc_swap_info``), ``swap_map`` (one byte per slot in a numpy array:
  counts, ``SWAP_HAS_CACHE``, ``SWAP_MAP_BAD`` for the header page 0),
  ``pages``/``max``/``inuse_pages``/``lowest_bit``/``highest_bit``, ``prio``
  (swapon without ``-p``: -2, -3, ... from ``least_priority``).
* ``struct swap_cluster_info`` per SWAPFILE_CLUSTER = 512 slots, with
  ``ci->lock`` (class ``&cluster_info[i].lock``, ``setup_clusters``),
  ``count``, ``flags``, ``order`` and the lists ``free_clusters``,
  ``nonfull_clusters[]``, ``frag_clusters[]`` + ``frag_cluster_nr[]``,
  ``full_clusters``; ``setup_clusters``' column order (SWAP_CLUSTER_COLS = 32)
  for the initial free list.  6.12 gives clusters only to non-rotational
  devices (ssd, zram); a ``hdd`` uses ``scan_swap_map_slots``' old path
  under ``si->lock``.  6.14+ gives every device clusters; rotating disks
  share one ``si->global_cluster`` under ``&si->global_cluster_lock``.
* ``percpu_cluster->next[order]`` per device and CPU (6.12, 6.14); the
  global ``percpu_swap_cluster`` {si, offset} per CPU of 6.15
  (``swap_alloc_fast``; the local_lock around it is not a lock_stat class and
  is not modelled).
* ``swap_avail_heads`` (a plist by priority; ``plist_requeue`` puts a device
  after its equal-priority siblings: round-robin among equal priorities,
  strict order otherwise) under ``swap_avail_lock``; ``nr_swap_pages`` and
  ``total_swap_pages`` (``nr_swap_pages`` is one shared cache line).
* ``get_swap_pages(n_goal, order)``, ``scan_swap_map_slots``,
  ``cluster_alloc_swap_entry``, ``alloc_swap_scan_cluster``,
  ``cluster_alloc_range``, ``swap_range_alloc``/``swap_range_free``,
  ``swapcache_free_entries``, ``swap_entry_range_free``,
  ``dec_cluster_info_page`` (6.12) / ``relocate_cluster``,
  ``partial_free_cluster``, ``move_cluster``, ``isolate_lock_cluster`` (6.14+),
  ``swap_duplicate``, ``swap_free``, ``put_swap_folio`` and ``free_swap_slot``
  (the per-CPU slots cache is :mod:`.swap_slots`).

Simplifications (each also said where it happens): order-0 entries only (THP
swap-out comes with reclaim); no discard (no ``SWP_PAGE_DISCARD``), no swap
count continuations (a count above SWAP_MAP_MAX is refused), no swapoff; a
``SWAP_HAS_CACHE``-only slot is always busy to the allocator (6.12's cluster
scan calls ``__try_to_reclaim_swap`` on such slots when ``vm_swap_full()``;
here only free_swap_and_cache and do_swap_page free swap-cache slots); every device has NUMA_NO_NODE, so the per-node
``swap_avail_heads`` are one list.  The 6.14/6.15 paths were modelled from the
series' patches as quoted on the mailing list (``relocate_cluster``,
``partial_free_cluster``, ``isolate_lock_cluster``) and the 6.15 structure
(``swap_alloc_fast``/``swap_alloc_slow``), not from a checked-out 6.15 tree.

Costs: the locks' own cache lines (lock_stat), ``llc_hit_ns`` per cluster
touched and ``l1_hit_ns`` per swap_map byte scanned, an atomic on the shared
``nr_swap_pages`` line.  Device latency/bandwidth are stored per device for the
block-device actor to come; nothing here does I/O.
"""
from __future__ import annotations

import numpy as np

from .._core.errors import SimulationError
from ..costs import CacheLine
from ..schema import Field, Section, Subsystem, check_table, one_of
from ..sync import SpinLock
from ._internal import CacheStats
from .swap_slots import SwapSlots

__all__ = ["SwapInfo", "SwapClusterInfo", "Swap", "SwapBug", "SUBSYSTEM", "SWAP_FIELDS", "CONSTANTS",
           "SWAPFILE_CLUSTER", "SWAP_BATCH", "SWAP_HAS_CACHE", "SWAP_MAP_BAD", "SWAP_MAP_MAX",
           "SWAP_MAP_SHMEM",
           "swp_entry", "swp_type", "swp_offset", "ALLOCATORS", "DEVICE_DEFAULTS"]

# include/linux/swap.h, mm/swap.h (6.12)
SWAPFILE_CLUSTER = 512                   # HPAGE_PMD_NR with CONFIG_THP_SWAP
SWAP_BATCH = 64
SWAP_HAS_CACHE = 0x40
COUNT_CONTINUED = 0x80
SWAP_MAP_MAX = 0x3e
SWAP_MAP_BAD = 0x3f
SWAP_MAP_SHMEM = 0xbf                    # owned by shmem/tmpfs (swap_shmem_alloc)
SWAP_NEXT_INVALID = 0
SWAP_ADDRESS_SPACE_PAGES = 1 << 14
SWAP_CLUSTER_COLS = max(-(-64 // 24), SWAP_ADDRESS_SPACE_PAGES // SWAPFILE_CLUSTER)   # 32
SWP_TYPE_SHIFT = 58                      # BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT
MAX_SWAPFILES = 32 - 5                   # 1 << MAX_SWAPFILES_SHIFT, minus the special types (approx.)

# cluster flags: 6.12 bits (include/linux/swap.h); 0 = on no list (6.14's CLUSTER_FLAG_NONE,
# a cluster isolate_lock_cluster took off its list)
CLUSTER_FLAG_NONE = 0
CLUSTER_FLAG_FREE = 1
CLUSTER_FLAG_NONFULL = 2
CLUSTER_FLAG_FRAG = 4
CLUSTER_FLAG_FULL = 8
FLAG_NAMES = {0: "none", 1: "free", 2: "nonfull", 4: "frag", 8: "full"}

# si->flags
SWP_USED = 1 << 0
SWP_WRITEOK = 1 << 1
SWP_SOLIDSTATE = 1 << 4
SWP_SYNCHRONOUS_IO = 1 << 12     # the block device completes I/O before submit_bio returns (zram)
EEXIST = 17
ENOENT = 2

#: [constants] swap_allocator: which release's allocator, and what it has.
ALLOCATORS = {
    "6.12": dict(slots_cache=True, cluster_lock_first=False,
                 doc="mm/swap_slots.c per-CPU slots cache; si->lock around every scan"),
    "6.14": dict(slots_cache=True, cluster_lock_first=True,
                 doc="Kairui Song's lock rework: ci->lock first, si->lock only to move "
                     "clusters between lists; the slots cache still in front"),
    "6.15": dict(slots_cache=False, cluster_lock_first=True,
                 doc="the slots cache removed: the per-CPU percpu_swap_cluster fast path "
                     "(swap_alloc_fast), else swap_alloc_slow over the devices"),
}

#: Per device kind: rotational?, latency of a 4 KiB request (ns), bandwidth (MiB/s).
#: ssd's latency is the cost model's swap_io_ns; stored for the block-device actor to come.
DEVICE_DEFAULTS = {
    "ssd": dict(rotational=False, latency_ns=None, bandwidth_mib_s=2000),
    "zram": dict(rotational=False, latency_ns=3_000, bandwidth_mib_s=4000),
    "hdd": dict(rotational=True, latency_ns=8_000_000, bandwidth_mib_s=150),
}


class SwapBug(SimulationError, AssertionError):
    """The kernel reports a bad swap entry here ("swap_free: Unused swap offset
    entry", a count underflow): a BUG of the simulated kernel (exit status 6,
    as a race program's BUG_ON), with the time and a replay token."""

    exit_status = 6
    kind = "bug"


def swp_entry(type_: int, offset: int) -> int:
    return (type_ << SWP_TYPE_SHIFT) | offset


def swp_type(entry: int) -> int:
    return entry >> SWP_TYPE_SHIFT


def swp_offset(entry: int) -> int:
    return entry & ((1 << SWP_TYPE_SHIFT) - 1)


# ------------------------------------------------------------------ clusters
class SwapClusterInfo:
    """struct swap_cluster_info; its spinlock is made on first use (a 64 GiB
    device has 32,768 clusters, most never locked in a run)."""

    __slots__ = ("idx", "count", "flags", "order", "_lock", "_engine")

    def __init__(self, engine, idx: int):
        self._engine = engine
        self.idx = idx
        self.count = 0
        self.flags = CLUSTER_FLAG_NONE
        self.order = 0
        self._lock = None

    @property
    def lock(self) -> SpinLock:
        lk = self._lock
        if lk is None:
            lk = self._lock = SpinLock(self._engine, "&cluster_info[i].lock")
        return lk

    def __repr__(self):
        return f"<cluster {self.idx} count={self.count} {FLAG_NAMES.get(self.flags)}>"


class _List:
    """A list_head of clusters: insertion-ordered, O(1) move to the tail."""

    __slots__ = ("d",)

    def __init__(self):
        self.d: dict[int, None] = {}

    def add_tail(self, ci):
        self.d.pop(ci.idx, None)
        self.d[ci.idx] = None

    def delete(self, ci):
        del self.d[ci.idx]

    def first(self):
        return next(iter(self.d), None)

    def __len__(self):
        return len(self.d)

    def __contains__(self, ci):
        return ci.idx in self.d

    def __iter__(self):
        return iter(list(self.d))


class SwapInfo:
    """struct swap_info_struct of one device."""

    def __init__(self, engine, type_: int, spec: dict, ncpus: int, node_of, version: str,
                 prio: int):
        self.engine = engine
        self.type = type_
        self.device = spec["device"]
        dd = DEVICE_DEFAULTS[self.device]
        self.size_mib = spec["size_mib"]
        self.latency_ns = spec.get("latency_ns") or dd["latency_ns"] or engine.costs.swap_io_ns
        self.bandwidth_mib_s = spec.get("bandwidth_mib_s") or dd["bandwidth_mib_s"]
        self.prio = prio
        self.name = f"/dev/{self.device}{type_}"
        maxpages = self.size_mib * 256
        self.max = maxpages
        self.swap_map = np.zeros(maxpages, dtype=np.uint8)
        self.swap_map[0] = SWAP_MAP_BAD              # the swap header page
        self.pages = maxpages - 1
        self.inuse_pages = 0
        self.lowest_bit = 1
        self.highest_bit = maxpages - 1
        self.cluster_next = 1
        self.cluster_nr = SWAPFILE_CLUSTER
        self.flags = SWP_USED | SWP_WRITEOK
        if not dd["rotational"]:
            self.flags |= SWP_SOLIDSTATE
        self.lock = SpinLock(engine, "&p->lock")
        self.bdev = None             # the block device swapon opened (swapon() in build)
        self.bdev_rotational = bool(dd["rotational"])
        self.global_cluster_lock = None
        self.global_next = SWAP_NEXT_INVALID
        self.ncpus = ncpus
        self.percpu_next = [SWAP_NEXT_INVALID] * ncpus      # percpu_cluster->next[0]
        self.list_moves = 0          # clusters moved between lists (incl. isolations)
        self.cluster_info = None
        if (self.flags & SWP_SOLIDSTATE) or version != "6.12":
            self._setup_clusters(engine, maxpages)
            if not self.flags & SWP_SOLIDSTATE:
                self.global_cluster_lock = SpinLock(engine, "&si->global_cluster_lock")

    def _setup_clusters(self, engine, maxpages):
        nr = -(-maxpages // SWAPFILE_CLUSTER)
        self.cluster_info = [SwapClusterInfo(engine, i) for i in range(nr)]
        self.free_clusters = _List()
        self.full_clusters = _List()
        self.nonfull_clusters = [_List()]         # SWAP_NR_ORDERS: order 0 only here
        self.frag_clusters = [_List()]
        self.frag_cluster_nr = [0]
        ci = self.cluster_info
        ci[0].count += 1                          # inc_cluster_info_page(0): the header
        for i in range(maxpages, nr * SWAPFILE_CLUSTER):      # EOF part of the last cluster
            ci[i // SWAPFILE_CLUSTER].count += 1
        col = self.cluster_next // SWAPFILE_CLUSTER % SWAP_CLUSTER_COLS
        for k in range(SWAP_CLUSTER_COLS):
            j = (k + col) % SWAP_CLUSTER_COLS
            for i in range(-(-nr // SWAP_CLUSTER_COLS)):
                idx = i * SWAP_CLUSTER_COLS + j
                if idx >= nr:
                    continue
                c = ci[idx]
                if c.count:
                    c.flags = CLUSTER_FLAG_NONFULL
                    self.nonfull_clusters[0].add_tail(c)
                else:
                    c.flags = CLUSTER_FLAG_FREE
                    self.free_clusters.add_tail(c)

    def list_of(self, flags, order=0):
        return {CLUSTER_FLAG_FREE: self.free_clusters, CLUSTER_FLAG_FULL: self.full_clusters,
                CLUSTER_FLAG_NONFULL: self.nonfull_clusters[order],
                CLUSTER_FLAG_FRAG: self.frag_clusters[order]}.get(flags)

    def to_json(self) -> dict:
        d = {"type": self.type, "name": self.name, "device": self.device, "prio": self.prio,
             "size_mib": self.size_mib, "pages": self.pages, "inuse_pages": self.inuse_pages,
             "free_pages": self.pages - self.inuse_pages,
             "used_pct": round(100 * self.inuse_pages / self.pages, 3),
             "latency_ns": self.latency_ns, "bandwidth_mib_s": self.bandwidth_mib_s,
             "solidstate": bool(self.flags & SWP_SOLIDSTATE),
             "cluster_list_moves": self.list_moves}
        if self.cluster_info is not None:
            d["clusters"] = {"total": len(self.cluster_info),
                             "free": len(self.free_clusters),
                             "nonfull": len(self.nonfull_clusters[0]),
                             "frag": len(self.frag_clusters[0]),
                             "full": len(self.full_clusters)}
        return d

    def _check(self):
        """swap_map against inuse_pages; cluster counts and list membership."""
        m = self.swap_map
        used = int(np.count_nonzero(m[1:]))
        assert used == self.inuse_pages, f"{self.name}: {used} slots used, inuse_pages " \
                                         f"{self.inuse_pages}"
        assert 0 <= self.inuse_pages <= self.pages
        if self.inuse_pages < self.pages:
            free = np.flatnonzero(m == 0)
            assert self.lowest_bit <= free[0] and free[-1] <= self.highest_bit, \
                f"{self.name}: a free slot outside lowest_bit..highest_bit"
        if self.cluster_info is None:
            return
        seen = {}
        for flag in (CLUSTER_FLAG_FREE, CLUSTER_FLAG_NONFULL, CLUSTER_FLAG_FRAG,
                     CLUSTER_FLAG_FULL):
            for idx in self.list_of(flag).d:
                assert idx not in seen, f"cluster {idx} on two lists"
                seen[idx] = flag
        assert self.frag_cluster_nr[0] == len(self.frag_clusters[0]), "frag_cluster_nr"
        for ci in self.cluster_info:
            s = ci.idx * SWAPFILE_CLUSTER
            seg = m[s:s + SWAPFILE_CLUSTER]
            n = int(np.count_nonzero(seg)) + max(0, s + SWAPFILE_CLUSTER - self.max)
            assert n == ci.count, f"{ci}: {n} slots used"
            assert seen.get(ci.idx, CLUSTER_FLAG_NONE) == ci.flags, \
                f"{ci} listed as {FLAG_NAMES.get(seen.get(ci.idx))}"
            if ci.flags == CLUSTER_FLAG_FREE:
                assert ci.count == 0
            if ci.flags == CLUSTER_FLAG_FULL:
                assert ci.count == SWAPFILE_CLUSTER
            # an off-list cluster is only ever held (locked) by a CPU mid-allocation
            assert ci.flags != CLUSTER_FLAG_NONE, f"{ci} off every list"


# ---------------------------------------------------------------- the subsystem
class Swap:
    """Every swap device, the avail list, nr_swap_pages and the slots cache."""

    name = "swap"

    def __init__(self, engine, specs: list[dict], *, ncpus: int, node_of, version: str = "6.12"):
        self.engine = engine
        self.ncpus = ncpus
        self.node_of = node_of
        self.version = version
        mode = ALLOCATORS[version]
        self.cluster_lock_first = mode["cluster_lock_first"]
        self.swap_avail_lock = SpinLock(engine, "swap_avail_lock")
        least_priority = -1
        self.swap_info: list[SwapInfo] = []
        for i, spec in enumerate(specs):
            prio = spec.get("priority")
            if prio is None:                      # setup_swap_info: --least_priority
                least_priority -= 1
                prio = least_priority
            self.swap_info.append(SwapInfo(engine, i, spec, ncpus, node_of, version, prio))
        self.costs = engine.costs
        self.nr_swap_pages_line = CacheLine(engine.costs, node_of, "nr_swap_pages", clock=engine)
        self.total_swap_pages = sum(si.pages for si in self.swap_info)
        self.nr_swap_pages = self.total_swap_pages
        # swap_avail_heads: _enable_swap_info's plist_add in swapon order, by priority
        self.avail: list[SwapInfo] = []
        for si in self.swap_info:
            self._plist_add(si)
        # 6.15: DEFINE_PER_CPU(struct percpu_swap_cluster): {si, offset} per CPU
        self.pcp_si = [None] * ncpus
        self.pcp_offset = [SWAP_NEXT_INVALID] * ncpus
        self.slots = SwapSlots(self, engine, ncpus) if mode["slots_cache"] else None
        self.fast_stats = None if self.slots else CacheStats("percpu_swap_cluster", ncpus)
        self.driver = None
        self.swap_cache = None           # mm/swap_state.py's, once swapon joins address spaces

    # -------------------------------------------------------------- setup
    @classmethod
    def standalone(cls, devices: list[dict], *, cpus: int = 4, version: str = "6.12",
                   seed: int = 1, costs=None) -> "Swap":
        """Devices on their own engine with a SyncDriver (tests).  (mm/ does not
        import lockdep: a test attaches it and seeds
        ``hierarchy.swap_lock_order(version)`` itself.)"""
        from .._core import Engine
        from ._sync import SyncDriver
        node_of = [0] * cpus
        eng = Engine(seed=seed, trace=False, costs=costs, node_of=node_of)
        specs = [dict({"priority": None, "device": "ssd", "latency_ns": 0, "bandwidth_mib_s": 0}, **d)
                 for d in devices]
        sw = cls(eng, specs, ncpus=cpus, node_of=node_of, version=version)
        sw.driver = SyncDriver(eng, cpus, node_of)
        return sw

    def call(self, cpu: int, coro):
        return self.driver.call(cpu, coro)

    # ------------------------------------------------------- avail plist
    def _plist_add(self, si):
        """plist_add: after every node of the same or higher priority."""
        i = 0
        while i < len(self.avail) and self.avail[i].prio >= si.prio:
            i += 1
        self.avail.insert(i, si)

    def _plist_requeue(self, si):
        """plist_requeue: move si after its equal-priority siblings."""
        self.avail.remove(si)
        self._plist_add(si)

    def _next_in_list(self, si):
        a = self.avail
        if si not in a:
            return None
        i = a.index(si) + 1
        return a[i] if i < len(a) else None

    async def del_from_avail_list(self, si):
        await self.swap_avail_lock.lock()
        if si in self.avail:
            self.avail.remove(si)
        self.swap_avail_lock.unlock()

    async def add_to_avail_list(self, si):
        await self.swap_avail_lock.lock()
        if si not in self.avail:
            self._plist_add(si)
        self.swap_avail_lock.unlock()

    # ------------------------------------------------------------ helpers
    def _me(self):
        return self.engine.current

    async def _pay(self):
        me = self.engine.current
        if me.debt:
            await self.engine.sync()

    def _nr_swap_pages_add(self, n: int):
        me = self.engine.current
        me.debt += self.nr_swap_pages_line.write(me.cpu) + self.costs.atomic_rmw_ns
        self.nr_swap_pages += n

    def vm_swap_full(self) -> bool:
        return self.nr_swap_pages * 2 < self.total_swap_pages

    def has_usable_swap(self) -> bool:
        return bool(self.swap_info)

    # ======================================================= allocation
    async def folio_alloc_swap(self) -> int:
        """An order-0 swap entry with SWAP_HAS_CACHE set, or 0 (no swap)."""
        if self.slots is not None:                 # 6.12, 6.14: mm/swap_slots.c
            return await self.slots.folio_alloc_swap()
        cpu = self._me().cpu                       # 6.15: mm/swapfile.c
        e = await self.swap_alloc_fast()
        if e:
            self.fast_stats.alloc_hits[cpu] += 1
            return e
        self.fast_stats.alloc_misses[cpu] += 1
        return await self.swap_alloc_slow()

    async def get_swap_pages(self, n_goal: int, order: int = 0) -> list[int]:
        """mm/swapfile.c get_swap_pages (6.12 and 6.14): up to min(n_goal,
        SWAP_BATCH) entries from the highest-priority device that has them."""
        assert order == 0, "order-0 entries only (THP swap-out is not modelled yet)"
        avail = self.swap_avail_lock
        await avail.lock()
        avail_pgs = self.nr_swap_pages
        if avail_pgs <= 0:
            avail.unlock()
            return []
        n_goal = min(n_goal, SWAP_BATCH, avail_pgs)
        reserve = not self.cluster_lock_first      # 6.12 takes them out up front
        if reserve:
            self._nr_swap_pages_add(-n_goal)
        out: list[int] = []
        locked = True
        pos = self.avail[0] if self.avail else None
        # Simplification: a bounded walk (the kernel's plist_for_each_entry_safe with
        # requeue can revisit equal-priority devices that keep failing; here they cannot
        # fail while listed, and the bound only guards against a model bug).
        budget = 4 * len(self.swap_info) + 4
        while pos is not None and budget:
            budget -= 1
            si = pos
            nxt = self._next_in_list(si)
            self._plist_requeue(si)            # requeue si to after same-priority siblings
            avail.unlock()
            locked = False
            if not self.cluster_lock_first:
                await si.lock.lock()
                if not si.highest_bit or not si.flags & SWP_WRITEOK:
                    await avail.lock()
                    locked = True
                    if si in self.avail:
                        self.avail.remove(si)  # __del_from_avail_list
                    await self._pay()
                    si.lock.unlock()
                else:
                    await self.scan_swap_map_slots(si, n_goal, out)
                    await self._pay()
                    si.lock.unlock()
            else:
                for _ in range(n_goal):
                    off = await self.cluster_alloc_swap_entry(si, use_next=True)
                    if not off:
                        break
                    out.append(swp_entry(si.type, off))
            if out:
                break
            if not locked:
                await avail.lock()
                locked = True
            # nextsi: if next was taken off the list meanwhile, start over
            if nxt is not None and nxt not in self.avail:
                pos = self.avail[0] if self.avail else None
            else:
                pos = nxt
        if locked:
            avail.unlock()
        if reserve and len(out) < n_goal:
            self._nr_swap_pages_add(n_goal - len(out))
        return out

    async def swap_alloc_slow(self) -> int:
        """6.15 swap_alloc_slow: the avail list, cluster_alloc_swap_entry on each."""
        avail = self.swap_avail_lock
        await avail.lock()
        pos = self.avail[0] if self.avail else None
        # Simplification: a bounded walk (the kernel's plist_for_each_entry_safe with
        # requeue can revisit equal-priority devices that keep failing; here they cannot
        # fail while listed, and the bound only guards against a model bug).
        budget = 4 * len(self.swap_info) + 4
        while pos is not None and budget:
            budget -= 1
            si = pos
            nxt = self._next_in_list(si)
            self._plist_requeue(si)
            avail.unlock()
            off = await self.cluster_alloc_swap_entry(si, use_next=False)
            if off:
                return swp_entry(si.type, off)
            await avail.lock()
            if nxt is not None and nxt not in self.avail:
                pos = self.avail[0] if self.avail else None
            else:
                pos = nxt
        avail.unlock()
        return 0

    async def swap_alloc_fast(self) -> int:
        """6.15 swap_alloc_fast: this CPU's cluster, under its ci->lock only."""
        cpu = self._me().cpu
        si, offset = self.pcp_si[cpu], self.pcp_offset[cpu]
        if si is None or not offset or not si.flags & SWP_WRITEOK:
            return 0
        ci = si.cluster_info[offset // SWAPFILE_CLUSTER]
        await ci.lock.lock()
        if self._cluster_is_usable(ci):
            if not ci.count:
                offset = ci.idx * SWAPFILE_CLUSTER
            found = await self._scan_cluster_new(si, ci, offset)
            return swp_entry(si.type, found) if found else 0
        ci.lock.unlock()
        return 0

    # -------------------------------------------------- 6.12: under si->lock
    async def scan_swap_map_slots(self, si, nr: int, out: list) -> int:
        """scan_swap_map_slots with si->lock held: cluster_alloc_swap for
        devices with clusters, the old sequential scan for rotating disks."""
        n0 = len(out)
        if si.cluster_info is not None:
            while len(out) - n0 < nr:
                off = await self.cluster_alloc_swap_entry_612(si)
                if not off:
                    break
                out.append(swp_entry(si.type, off))
            return len(out) - n0
        # Simplification: the HDD path is a first-fit scan from cluster_next under
        # si->lock, without the "find an empty 512-slot run" step or dropping the lock.
        m = si.swap_map
        off = si.cluster_next if si.cluster_next <= si.highest_bit else si.lowest_bit
        scanned = 0
        while len(out) - n0 < nr and si.highest_bit:
            seg = m[off:si.highest_bit + 1]
            z = np.flatnonzero(seg == 0)
            if not len(z):
                seg = m[si.lowest_bit:off]
                z = np.flatnonzero(seg == 0)
                if not len(z):
                    break
                off = si.lowest_bit + int(z[0])
            else:
                off += int(z[0])
            scanned += int(z[0]) + 1
            m[off] = SWAP_HAS_CACHE
            await self.swap_range_alloc(si, off, 1)
            out.append(swp_entry(si.type, off))
            off += 1
            if off > si.highest_bit:
                off = si.lowest_bit
        si.cluster_next = off
        self.engine.charge(scanned * self.costs.l1_hit_ns)
        return len(out) - n0

    async def cluster_alloc_swap_entry_612(self, si) -> int:
        """6.12 cluster_alloc_swap_entry (order 0), si->lock held."""
        cpu = self._me().cpu
        found = 0
        offset = si.percpu_next[cpu]
        if offset:
            offset, found = await self._scan_cluster_612(si, offset)
        if not found:
            if len(si.free_clusters):
                ci = si.cluster_info[si.free_clusters.first()]
                offset, found = await self._scan_cluster_612(si, ci.idx * SWAPFILE_CLUSTER)
            else:
                # (vm_swap_full: swap_reclaim_full_clusters -- nothing to reclaim
                # without a swap cache, so it is left out)
                nonfull, frag = si.nonfull_clusters[0], si.frag_clusters[0]
                frags = 0
                while not found and len(nonfull):
                    ci = si.cluster_info[nonfull.first()]
                    nonfull.delete(ci)
                    frag.add_tail(ci)
                    ci.flags = CLUSTER_FLAG_FRAG
                    si.frag_cluster_nr[0] += 1
                    offset, found = await self._scan_cluster_612(si, ci.idx * SWAPFILE_CLUSTER)
                    frags += 1
                while not found and frags < si.frag_cluster_nr[0]:
                    ci = si.cluster_info[frag.first()]
                    frag.add_tail(ci)             # rotate the frag list
                    offset, found = await self._scan_cluster_612(si, ci.idx * SWAPFILE_CLUSTER)
                    frags += 1
        si.percpu_next[cpu] = offset
        return found

    async def _scan_cluster_612(self, si, offset) -> tuple[int, int]:
        """6.12 alloc_swap_scan_cluster: (next offset, found)."""
        start = offset & ~(SWAPFILE_CLUSTER - 1)
        end = min(start + SWAPFILE_CLUSTER, si.max) - 1
        ci = si.cluster_info[start // SWAPFILE_CLUSTER]
        await ci.lock.lock()
        found = 0
        if ci.count + 1 > SWAPFILE_CLUSTER:
            offset = SWAP_NEXT_INVALID
        else:
            off = self._first_free(si, offset, end)
            if off is None:
                offset = SWAP_NEXT_INVALID
            else:
                await self._cluster_alloc_range_612(si, ci, off)
                found = off
                offset = SWAP_NEXT_INVALID if ci.count == SWAPFILE_CLUSTER or off + 1 > end \
                    else off + 1
        await self._pay()
        ci.lock.unlock()
        return offset, found

    def _first_free(self, si, offset, end):
        """cluster_scan_range over offset..end: the first slot with map 0
        (a SWAP_HAS_CACHE slot is busy: the scan does not __try_to_reclaim_swap)."""
        seg = si.swap_map[offset:end + 1]
        z = np.flatnonzero(seg == 0)
        n = int(z[0]) + 1 if len(z) else len(seg)
        self.engine.charge(self.costs.llc_hit_ns + n * self.costs.l1_hit_ns)
        return offset + int(z[0]) if len(z) else None

    async def _cluster_alloc_range_612(self, si, ci, start):
        if ci.flags == CLUSTER_FLAG_FREE:
            si.free_clusters.delete(ci)
            si.nonfull_clusters[0].add_tail(ci)
            ci.flags = CLUSTER_FLAG_NONFULL
            ci.order = 0
        si.swap_map[start] = SWAP_HAS_CACHE
        await self.swap_range_alloc(si, start, 1)
        ci.count += 1
        if ci.count == SWAPFILE_CLUSTER:
            if ci.flags == CLUSTER_FLAG_FRAG:
                si.frag_cluster_nr[0] -= 1
            si.list_of(ci.flags).delete(ci)
            si.full_clusters.add_tail(ci)
            ci.flags = CLUSTER_FLAG_FULL

    # ---------------------------------------- 6.14 / 6.15: ci->lock first
    @staticmethod
    def _cluster_is_usable(ci) -> bool:
        return ci.flags in (CLUSTER_FLAG_NONE, CLUSTER_FLAG_FREE, CLUSTER_FLAG_NONFULL,
                            CLUSTER_FLAG_FRAG)

    async def _move_cluster(self, si, ci, flags):
        """move_cluster: ci->lock held; si->lock only for the list operation."""
        await si.lock.lock()
        old = si.list_of(ci.flags)
        if old is not None:
            old.delete(ci)
        si.list_of(flags).add_tail(ci)
        self.engine.charge(self.costs.llc_hit_ns)
        await self._pay()
        si.lock.unlock()
        si.list_moves += 1
        if ci.flags == CLUSTER_FLAG_FRAG:
            si.frag_cluster_nr[0] -= 1
        elif flags == CLUSTER_FLAG_FRAG:
            si.frag_cluster_nr[0] += 1
        ci.flags = flags

    async def _relocate_cluster(self, si, ci):
        if not ci.count:
            if ci.flags != CLUSTER_FLAG_FREE:
                await self._move_cluster(si, ci, CLUSTER_FLAG_FREE)   # free_cluster
                ci.order = 0
        elif ci.count != SWAPFILE_CLUSTER:
            if ci.flags != CLUSTER_FLAG_FRAG:
                await self._move_cluster(si, ci, CLUSTER_FLAG_FRAG)
        elif ci.flags != CLUSTER_FLAG_FULL:
            await self._move_cluster(si, ci, CLUSTER_FLAG_FULL)

    async def _isolate_lock_cluster(self, si, lst):
        """isolate_lock_cluster: under si->lock, spin_trylock each ci->lock;
        take the first it gets off the list (flags NONE), locked."""
        await si.lock.lock()
        found = None
        if si.flags & SWP_WRITEOK:
            for idx in lst:
                ci = si.cluster_info[idx]
                if not await ci.lock.trylock():
                    continue
                lst.delete(ci)
                if ci.flags == CLUSTER_FLAG_FRAG:
                    si.frag_cluster_nr[0] -= 1    # 6.15 decrements as it isolates
                ci.flags = CLUSTER_FLAG_NONE
                found = ci
                break
        self.engine.charge(self.costs.llc_hit_ns)
        await self._pay()
        si.lock.unlock()
        if found is not None:
            si.list_moves += 1
        return found

    async def _scan_cluster_new(self, si, ci, offset) -> int:
        """6.14+ alloc_swap_scan_cluster: ci->lock held on entry, released."""
        start = ci.idx * SWAPFILE_CLUSTER
        end = min(start + SWAPFILE_CLUSTER, si.max) - 1
        found = nxt = 0
        if ci.count + 1 <= SWAPFILE_CLUSTER:
            off = self._first_free(si, offset, end)
            if off is not None and si.flags & SWP_WRITEOK:
                if not ci.count:
                    ci.order = 0
                si.swap_map[off] = SWAP_HAS_CACHE
                await self.swap_range_alloc(si, off, 1)
                ci.count += 1
                found = off
                if ci.count < SWAPFILE_CLUSTER and off + 1 <= end:
                    nxt = off + 1
        await self._relocate_cluster(si, ci)
        await self._pay()
        ci.lock.unlock()
        cpu = self._me().cpu
        if not si.flags & SWP_SOLIDSTATE:
            si.global_next = nxt
        elif self.slots is None:                   # 6.15: percpu_swap_cluster
            self.pcp_si[cpu], self.pcp_offset[cpu] = si, nxt
        else:                                      # 6.14: si->percpu_cluster->next
            si.percpu_next[cpu] = nxt
        return found

    async def cluster_alloc_swap_entry(self, si, use_next: bool) -> int:
        """6.14/6.15 cluster_alloc_swap_entry (order 0): no si->lock around it."""
        cpu = self._me().cpu
        hdd = not si.flags & SWP_SOLIDSTATE
        found = 0
        if hdd:
            await si.global_cluster_lock.lock()   # serialise HDD allocation per device
        try:
            offset = si.global_next if hdd else (si.percpu_next[cpu] if use_next else 0)
            if offset:
                ci = si.cluster_info[offset // SWAPFILE_CLUSTER]
                await ci.lock.lock()
                if self._cluster_is_usable(ci):
                    if not ci.count:
                        offset = ci.idx * SWAPFILE_CLUSTER
                    found = await self._scan_cluster_new(si, ci, offset)
                else:
                    ci.lock.unlock()
                if found:
                    return found
            ci = await self._isolate_lock_cluster(si, si.free_clusters)
            if ci is not None:
                found = await self._scan_cluster_new(si, ci, ci.idx * SWAPFILE_CLUSTER)
                if found:
                    return found
            frags = 0
            while True:
                ci = await self._isolate_lock_cluster(si, si.nonfull_clusters[0])
                if ci is None:
                    break
                found = await self._scan_cluster_new(si, ci, ci.idx * SWAPFILE_CLUSTER)
                if found:
                    return found
                frags += 1
            existing = si.frag_cluster_nr[0]
            while frags < existing:
                ci = await self._isolate_lock_cluster(si, si.frag_clusters[0])
                if ci is None:
                    break
                found = await self._scan_cluster_new(si, ci, ci.idx * SWAPFILE_CLUSTER)
                if found:
                    return found
                frags += 1
            return 0
        finally:
            if hdd:
                await self._pay()
                si.global_cluster_lock.unlock()

    # ---------------------------------------------------- accounting
    async def swap_range_alloc(self, si, offset: int, nr: int):
        end = offset + nr - 1
        if offset == si.lowest_bit:
            si.lowest_bit += nr
        if end == si.highest_bit:
            si.highest_bit -= nr
        si.inuse_pages += nr
        if self.cluster_lock_first:               # 6.14+: nr_swap_pages drops here
            self._nr_swap_pages_add(-nr)
        if si.inuse_pages == si.pages:
            si.lowest_bit = si.max
            si.highest_bit = 0
            await self.del_from_avail_list(si)

    async def swap_range_free(self, si, offset: int, nr: int):
        end = offset + nr - 1
        if offset < si.lowest_bit:
            si.lowest_bit = offset
        if end > si.highest_bit:
            was_full = not si.highest_bit
            si.highest_bit = end
            if was_full and si.flags & SWP_WRITEOK:
                await self.add_to_avail_list(si)
        self._nr_swap_pages_add(nr)
        si.inuse_pages -= nr

    def _si(self, entry: int) -> SwapInfo:
        t = swp_type(entry)
        if not 0 <= t < len(self.swap_info):
            raise self._bug(f"Bad swap file entry {entry:#x}")
        si = self.swap_info[t]
        off = swp_offset(entry)
        if not 0 < off < si.max or not si.swap_map[off]:
            raise self._bug(f"swap_free: Unused swap offset entry {entry:#x}")
        return si

    def _bug(self, msg: str) -> SwapBug:
        eng = self.engine
        me = eng.current
        return SwapBug(msg, now=eng.now, token=eng.replay_token(),
                       actor=me.name if me is not None else None)

    def map_of(self, entry: int) -> int:
        """swap_map[offset] of an entry."""
        return int(self.swap_info[swp_type(entry)].swap_map[swp_offset(entry)])

    # ============================================================ freeing
    async def _lock_cluster_or_swap_info(self, si, offset):
        if si.cluster_info is not None:
            ci = si.cluster_info[offset // SWAPFILE_CLUSTER]
            await ci.lock.lock()
            return ci
        await si.lock.lock()
        return None

    async def _unlock_cluster_or_swap_info(self, si, ci):
        await self._pay()
        (ci.lock if ci is not None else si.lock).unlock()

    async def swap_duplicate(self, entry: int):
        """__swap_duplicate(entry, 1): one more swap PTE (count + 1)."""
        si = self._si(entry)
        off = swp_offset(entry)
        ci = await self._lock_cluster_or_swap_info(si, off)
        c = int(si.swap_map[off])
        if (c & ~SWAP_HAS_CACHE) >= SWAP_MAP_MAX:
            await self._unlock_cluster_or_swap_info(si, ci)
            raise AssertionError("swap count continuation is not modelled")
        si.swap_map[off] = c + 1
        await self._unlock_cluster_or_swap_info(si, ci)

    async def swap_shmem_alloc(self, entry: int):
        """swap_shmem_alloc(entry, 1) = __swap_duplicate(entry, SWAP_MAP_SHMEM):
        shmem_writepage hands the slot to a tmpfs file's page cache, whose
        xarray holds the entry (one owner, so the count is the marker
        SWAP_MAP_SHMEM, not 1)."""
        si = self._si(entry)
        off = swp_offset(entry)
        ci = await self._lock_cluster_or_swap_info(si, off)
        c = int(si.swap_map[off])
        assert c == SWAP_HAS_CACHE, f"swap_shmem_alloc: slot {entry:#x} map {c:#x}"
        si.swap_map[off] = c + SWAP_MAP_SHMEM
        await self._unlock_cluster_or_swap_info(si, ci)

    async def swapcache_prepare(self, entry: int) -> int:
        """swapcache_prepare(entry, 1) = __swap_duplicate(entry, SWAP_HAS_CACHE):
        take the slot's SWAP_HAS_CACHE (the swap-in "lock"); -EEXIST if it
        is taken, -ENOENT if no PTE references the slot any more."""
        t = swp_type(entry)
        off = swp_offset(entry)
        if not 0 <= t < len(self.swap_info) or not 0 < off < self.swap_info[t].max:
            return -ENOENT
        si = self.swap_info[t]
        ci = await self._lock_cluster_or_swap_info(si, off)
        c = int(si.swap_map[off])
        if not c & ~SWAP_HAS_CACHE:
            err = -ENOENT
        elif c & SWAP_HAS_CACHE:
            err = -EEXIST
        else:
            si.swap_map[off] = c | SWAP_HAS_CACHE
            err = 0
        await self._unlock_cluster_or_swap_info(si, ci)
        return err

    async def swapcache_clear(self, entry: int):
        """swapcache_clear (the skip-swapcache swap-in's end): drop SWAP_HAS_CACHE."""
        return await self._entry_free(entry, SWAP_HAS_CACHE)

    def swap_count(self, entry: int) -> int:
        """__swap_count: the slot's PTE count (without SWAP_HAS_CACHE)."""
        return self.map_of(entry) & ~SWAP_HAS_CACHE

    def slots_cache_enabled(self) -> bool:
        """swap_slot_cache_enabled: true from boot to swapoff (never off here)."""
        return True

    async def _entry_free(self, entry: int, usage: int):
        si = self._si(entry)
        off = swp_offset(entry)
        ci = await self._lock_cluster_or_swap_info(si, off)
        c = int(si.swap_map[off])
        has_cache, count = c & SWAP_HAS_CACHE, c & ~SWAP_HAS_CACHE
        if usage == SWAP_HAS_CACHE:
            assert has_cache, f"{entry:#x}: no SWAP_HAS_CACHE to drop"
            has_cache = 0
        elif count == SWAP_MAP_SHMEM:               # __swap_entry_free_locked
            count = 0
        else:
            if not count:
                raise self._bug(f"swap_free: swap count underflow on entry {entry:#x} "
                                "(a swap PTE freed twice)")
            count -= 1
        left = count | has_cache
        si.swap_map[off] = left if left else SWAP_HAS_CACHE
        if not left and self.slots is None:
            # 6.15: the last reference frees the slot under the same ci->lock
            await self.swap_entry_range_free(si, ci, off, 1)
            await self._unlock_cluster_or_swap_info(si, ci)
            return 0
        await self._unlock_cluster_or_swap_info(si, ci)
        if not left:
            await self.free_swap_slot(entry)
        return left

    async def swap_free(self, entry: int):
        """swap_free_nr(entry, 1): a swap PTE went away (count - 1)."""
        return await self._entry_free(entry, 1)

    async def put_swap_folio(self, entry: int):
        """put_swap_folio: the swap cache dropped the folio (SWAP_HAS_CACHE off)."""
        return await self._entry_free(entry, SWAP_HAS_CACHE)

    async def free_swap_slot(self, entry: int):
        if self.slots is not None:
            await self.slots.free_swap_slot(entry)
        else:
            await self.swapcache_free_entries([entry])

    async def swapcache_free_entries(self, entries: list[int]):
        """Give slots whose map is SWAP_HAS_CACHE back to the pool.  6.12: one
        si->lock hold per device run (entries sorted by type); 6.14: each under
        its ci->lock only."""
        if not entries:
            return
        if len(self.swap_info) > 1:
            entries = sorted(entries, key=swp_type)      # sort(): by type only
        if self.cluster_lock_first:
            for e in entries:
                si = self._si(e)
                off = swp_offset(e)
                ci = si.cluster_info[off // SWAPFILE_CLUSTER]
                await ci.lock.lock()
                await self.swap_entry_range_free(si, ci, off, 1)
                await self._pay()
                ci.lock.unlock()
            return
        prev = None
        for e in entries:
            si = self._si(e)
            if si is not prev:                     # swap_info_get_cont
                if prev is not None:
                    await self._pay()
                    prev.lock.unlock()
                await si.lock.lock()
                prev = si
            await self.swap_entry_range_free(si, None, swp_offset(e), 1)
        await self._pay()
        prev.lock.unlock()

    async def swap_entry_range_free(self, si, ci, offset: int, nr: int):
        """Drop the last SWAP_HAS_CACHE: 6.12 with si->lock held (takes
        ci->lock itself); 6.14+ with ci->lock held (``ci``)."""
        m = si.swap_map
        if not self.cluster_lock_first:
            cl = None
            if si.cluster_info is not None:
                cl = si.cluster_info[offset // SWAPFILE_CLUSTER]
                await cl.lock.lock()
            for o in range(offset, offset + nr):
                assert m[o] == SWAP_HAS_CACHE, f"{si.name}: slot {o} map {m[o]:#x}"
                m[o] = 0
            self.engine.charge(self.costs.llc_hit_ns)
            if cl is not None:
                self._dec_cluster_info_page(si, cl, nr)
                await self._pay()
                cl.lock.unlock()
            await self.swap_range_free(si, offset, nr)
            return
        for o in range(offset, offset + nr):
            assert m[o] == SWAP_HAS_CACHE, f"{si.name}: slot {o} map {m[o]:#x}"
            m[o] = 0
        self.engine.charge(self.costs.llc_hit_ns)
        await self.swap_range_free(si, offset, nr)
        ci.count -= nr
        if not ci.count:
            await self._relocate_cluster(si, ci)          # free_cluster
        elif ci.flags != CLUSTER_FLAG_NONFULL and ci.flags != CLUSTER_FLAG_NONE:
            await self._move_cluster(si, ci, CLUSTER_FLAG_NONFULL)   # partial_free_cluster
        elif ci.flags == CLUSTER_FLAG_NONE:
            pass          # isolated by an allocating CPU: it relocates the cluster itself

    def _dec_cluster_info_page(self, si, ci, nr):
        """6.12 dec_cluster_info_page (si->lock and ci->lock held)."""
        ci.count -= nr
        if not ci.count:                               # free_cluster -> __free_cluster
            if ci.flags == CLUSTER_FLAG_FRAG:
                si.frag_cluster_nr[0] -= 1
            lst = si.list_of(ci.flags)
            if lst is not None:
                lst.delete(ci)
            si.free_clusters.add_tail(ci)
            ci.flags = CLUSTER_FLAG_FREE
            ci.order = 0
            return
        if ci.flags != CLUSTER_FLAG_NONFULL:
            if ci.flags == CLUSTER_FLAG_FRAG:
                si.frag_cluster_nr[0] -= 1
            lst = si.list_of(ci.flags)
            if lst is not None:
                lst.delete(ci)
            si.nonfull_clusters[0].add_tail(ci)
            ci.flags = CLUSTER_FLAG_NONFULL

    # ============================================================ checks
    def cached_slots(self) -> set[int]:
        """Entries held by the slots cache (allocated to it, or returned to it)."""
        return self.slots.cached() if self.slots is not None else set()

    def _check(self):
        inuse = 0
        for si in self.swap_info:
            si._check()
            inuse += si.inuse_pages
        assert self.nr_swap_pages == self.total_swap_pages - inuse, \
            f"nr_swap_pages {self.nr_swap_pages} != {self.total_swap_pages} - {inuse}"
        for si in self.swap_info:
            listed = si in self.avail
            assert listed == bool(si.highest_bit), f"{si.name}: avail list membership"
        if self.slots is not None:
            self.slots._check()

    # ============================================================ report
    def caches(self) -> list[CacheStats]:
        return [self.slots.stats if self.slots is not None else self.fast_stats]

    def report(self, extra: dict):
        st = self.caches()[0]
        extra["swap"] = {
            "allocator": self.version, "doc": ALLOCATORS[self.version]["doc"],
            "nr_swap_pages": self.nr_swap_pages, "total_swap_pages": self.total_swap_pages,
            "devices": [si.to_json() for si in self.swap_info],
            "slots_cache": self.slots.to_json() if self.slots is not None else None,
            "swap_cache": self.swap_cache.to_json() if self.swap_cache is not None else None,
        }
        for si in self.swap_info:
            if si.bdev is not None and self.swap_cache is not None:
                extra["swap"]["devices"][si.type]["bdev_stat"] = si.bdev.stats.stat(self.engine.now)
        extra.setdefault("caches", {})[st.name] = st.to_json()


# ------------------------------------------------------------ the subsystem
def _size_check(v):
    return None if 1 <= v <= 1 << 24 else f"must be between 1 and {1 << 24} (MiB), got {v}"


SWAP_FIELDS = (
    Field("size_mib", int, required=True, check=_size_check,
          doc="size of the swap area in MiB (page 0 is the swap header)"),
    Field("priority", int, None,
          check=lambda v: None if -1 <= v <= 32767 else f"must be between -1 and 32767, got {v}",
          doc="swapon -p (0..32767); unset: -2, -3, ... in declaration order, as swapon "
              "without -p (-1 is swapon's 'no priority' too)"),
    Field("device", str, "ssd", check=one_of(*DEVICE_DEFAULTS),
          doc="ssd | zram (non-rotational: swap clusters) | hdd (rotational)"),
    Field("latency_ns", int, 0, check=lambda v: None if 0 <= v <= 10**9 else
          f"must be between 0 and 1,000,000,000 ns, got {v}",
          doc="latency of a 4 KiB request (0: the device kind's default; stored for the "
              "block-device model to come)"),
    Field("bandwidth_mib_s", int, 0, check=lambda v: None if v >= 0 else f"must be >= 0, got {v}",
          doc="bandwidth in MiB/s (0: the device kind's default)"),
    Field("bdev", str, "",
          doc="the [[block]] device to swap on, by name (empty: a device of its own of "
              "this kind, named <kind>swap<N>)"),
)

CONSTANTS = (
    Field("DO_SWAP_PAGE_PTE_SAME", bool, True,
          doc="do_swap_page()'s pte_same() recheck under the PTE lock (mm/memory.c); "
              "false injects the race it closes, for scenarios/races/swapin-reclaim-buggy.toml "
              "(not a kernel option: the line of code it names)"),
    Field("swap_allocator", str, "6.12", check=one_of(*ALLOCATORS),
          doc="the swap-slot allocator of that release: 6.12 (per-CPU swap slots cache, "
              "si->lock around cluster scans), 6.14 (cluster lock first, si->lock only "
              "to move clusters; slots cache kept), 6.15 (no slots cache: per-CPU cluster "
              "fast path)"),
)


def _validate(ctx, value, machine):
    if not isinstance(value, list):
        raise ctx.error(("swap",), None, "must be an array of tables: [[swap]]")
    out = []
    for i, t in enumerate(value):
        d = check_table(ctx, ("swap", i), t, SWAP_FIELDS)
        if d["priority"] == -1:
            d["priority"] = None
        out.append(d)
    if len(out) > MAX_SWAPFILES:
        raise ctx.error(("swap", MAX_SWAPFILES), None, f"at most {MAX_SWAPFILES} swap devices")
    return out


def swap_bdev(machine, si, spec):
    """The block device swapon opens for ``si``: the ``[[block]]`` device named
    by ``bdev``, else one of its own (``<kind>swap<type>``) of the swap
    device's kind, its latency and bandwidth from the [[swap]] table when set
    (else the cost model's blk_<kind>_* defaults)."""
    from ..block import block_of, make_device
    name = spec.get("bdev")
    if name:
        return block_of(machine)[name]
    dspec = {"name": f"{si.device}swap{si.type}", "kind": si.device}
    if si.device != "zram":
        if spec.get("latency_ns"):
            dspec["latency_ns"] = spec["latency_ns"]
        if spec.get("bandwidth_mib_s"):
            dspec["bandwidth_mbps"] = spec["bandwidth_mib_s"] * 1048576 // 1000000
    dev = make_device(machine.engine, dspec)
    dev.start(lambda n, body: machine.add_kthread(n, body, cpu=0))
    return dev


def build(machine) -> "Swap | None":
    """swapon for every [[swap]] device, in order; None without any.  With
    address spaces on the machine, each device gets its block device and
    the swap cache is set up (init_swap_address_space)."""
    specs = machine.scenario.sections.get("swap") or []
    if not specs:
        return None
    sw = Swap(machine.engine, specs, ncpus=machine.ncpus, node_of=machine.node_of,
              version=machine.constants.get("swap_allocator", "6.12"))
    sub = machine.subsystems.get("addrspace")
    if sub is not None:
        for si, spec in zip(sw.swap_info, specs):
            si.bdev = swap_bdev(machine, si, spec)
            si.bdev_rotational = bool(getattr(si.bdev, "rotational", False))
            if si.bdev.synchronous:
                si.flags |= SWP_SYNCHRONOUS_IO
        sc = sub.swapon(sw, machine.sysctl.get("vm.page-cluster", 3))
        sc.pte_same_recheck = bool(machine.constants.get("DO_SWAP_PAGE_PTE_SAME", True))
    return sw


SYSCTL = (
    Field("vm.page-cluster", int, 3,
          check=lambda v: None if 0 <= v <= 31 else f"must be between 0 and 31, got {v}",
          doc="swap-in readahead: 2^page-cluster slots (default 3: 8 pages; 0 disables it; "
              "VMA readahead caps the window at 2^5)"),
)

def _check_bdevs(ctx, parts):
    """A [[swap]] bdev must name a [[block]] device."""
    sections = parts["sections"]
    names = {b["name"] for b in sections.get("block") or []}
    for i, d in enumerate(sections.get("swap") or []):
        if d.get("bdev") and d["bdev"] not in names:
            raise ctx.error(("swap", i), "bdev", f"no [[block]] device named {d['bdev']!r}")


SUBSYSTEM = Subsystem("swap", constants=CONSTANTS, sysctl=SYSCTL, check=_check_bdevs,
                      sections=(Section("swap", _validate, list),), build=build,
                      doc="swap devices, the swap-slot allocator, the swap slots cache")
