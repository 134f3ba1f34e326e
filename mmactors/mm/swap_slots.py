"""The per-CPU swap slots cache: mm/swap_slots.c and include/linux/swap_slots.h (Linux 6.12).

Used by ``[constants] swap_allocator = "6.12"`` (and ``"6.14"``, which still had
it); removed in 6.15, where :meth:`~.swapfile.Swap.swap_alloc_fast` takes its
place.

* ``struct swap_slots_cache`` per CPU: ``slots[SWAP_SLOTS_CACHE_SIZE]`` with
  ``nr``/``cur`` under ``cache->alloc_lock`` (a mutex, class
  ``&cache->alloc_lock``: the refill may sleep), and ``slots_ret[]`` with
  ``n_ret`` under ``cache->free_lock`` (a spinlock taken with
  ``spin_lock_irq``, class ``&cache->free_lock``).  SWAP_SLOTS_CACHE_SIZE =
  SWAP_BATCH = 64.
* ``folio_alloc_swap``: ``check_cache_active()``, then under ``alloc_lock``
  take ``slots[cur++]``; an empty cache refills with ``get_swap_pages(64)``
  (one ``si->lock`` hold for up to 64 slots).  Inactive: ``get_swap_pages(1)``.
* ``free_swap_slot``: under ``free_lock`` append to ``slots_ret``; a full
  ``slots_ret`` (64) is first given back with ``swapcache_free_entries``
  (one ``si->lock`` hold per device).  Inactive: ``swapcache_free_entries(&entry, 1)``.
* ``check_cache_active``: reactivated when ``nr_swap_pages`` > 5 * 64 *
  ``num_online_cpus()``, deactivated below 2 * 64 * ``num_online_cpus()``
  (``deactivate_swap_slots_cache`` under ``swap_slots_cache_mutex`` drains
  every CPU's slots and slots_ret).  ``swap_slot_cache_active`` starts false
  (``enable_swap_slots_cache`` at swapon only sets ``enabled``), so the first
  ``folio_alloc_swap`` activates it when there is room.

Statistics (``swap_slots`` in the per-CPU cache table): an allocation served
from ``slots`` without a refill is a hit; one that refilled or went straight to
``get_swap_pages`` is a miss.  A free that stayed in ``slots_ret`` is a hit; one
that flushed 64 slots first, or freed directly, is a miss.  Refills count
``get_swap_pages`` batches; drains count ``swapcache_free_entries`` flushes.
Simplification: CPU hotplug (``alloc_swap_slot_cache``/``free_slot_cache``) and
``zswap_invalidate`` are not modelled; every CPU's cache exists from swapon.
"""
from __future__ import annotations

from ..sync import Mutex, SpinLock
from ._internal import CacheStats

__all__ = ["SwapSlots", "SwapSlotsCache", "SWAP_SLOTS_CACHE_SIZE",
           "THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE", "THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE"]

SWAP_SLOTS_CACHE_SIZE = 64                               # SWAP_BATCH
SWAP_HAS_CACHE = 0x40                                    # include/linux/swap.h
THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE = 5 * SWAP_SLOTS_CACHE_SIZE
THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE = 2 * SWAP_SLOTS_CACHE_SIZE


class SwapSlotsCache:
    """struct swap_slots_cache of one CPU."""

    __slots__ = ("alloc_lock", "slots", "cur", "free_lock", "slots_ret")

    def __init__(self, engine):
        self.alloc_lock = Mutex(engine, "&cache->alloc_lock")
        self.slots: list[int] = []          # slots[cur:] are the nr cached entries
        self.cur = 0
        self.free_lock = SpinLock(engine, "&cache->free_lock")
        self.slots_ret: list[int] = []

    @property
    def nr(self) -> int:
        return len(self.slots) - self.cur


class SwapSlots:
    """The per-CPU caches and the global switches of mm/swap_slots.c."""

    def __init__(self, swap, engine, ncpus: int):
        self.swap = swap                    # the allocator: get_swap_pages, swapcache_free_entries
        self.engine = engine
        self.ncpus = ncpus
        self.caches = [SwapSlotsCache(engine) for _ in range(ncpus)]
        self.swap_slots_cache_mutex = Mutex(engine, "swap_slots_cache_mutex")
        self.swap_slot_cache_enabled = swap.has_usable_swap()   # enable_swap_slots_cache
        self.swap_slot_cache_active = False
        self.stats = CacheStats("swap_slots", ncpus)
        self.activations = 0
        self.deactivations = 0

    @property
    def use_swap_slot_cache(self) -> bool:
        return self.swap_slot_cache_active and self.swap_slot_cache_enabled

    # ------------------------------------------------------ the switch
    async def check_cache_active(self) -> bool:
        if not self.swap_slot_cache_enabled:
            return False
        pages = self.swap.nr_swap_pages               # get_nr_swap_pages(): a plain read
        if not self.swap_slot_cache_active:
            if pages > self.ncpus * THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE:
                await self.swap_slots_cache_mutex.lock()     # reactivate_swap_slots_cache
                self.swap_slot_cache_active = True
                self.activations += 1
                self.swap_slots_cache_mutex.unlock()
            return self.swap_slot_cache_active
        if pages < self.ncpus * THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE:
            await self.deactivate_swap_slots_cache()
        return self.swap_slot_cache_active

    async def deactivate_swap_slots_cache(self):
        await self.swap_slots_cache_mutex.lock()
        self.swap_slot_cache_active = False
        self.deactivations += 1
        for cpu in range(self.ncpus):                 # __drain_swap_slots_cache
            await self.drain_slots_cache_cpu(cpu)
        self.swap_slots_cache_mutex.unlock()

    async def drain_slots_cache_cpu(self, cpu: int):
        c = self.caches[cpu]
        await c.alloc_lock.lock()
        rest = c.slots[c.cur:]
        c.slots, c.cur = [], 0
        if rest:
            self.stats.drains[self.engine.current.cpu] += 1
            self.stats.drain_objs[self.engine.current.cpu] += len(rest)
        await self.swap.swapcache_free_entries(rest)
        c.alloc_lock.unlock()
        await c.free_lock.lock_irq()
        ret, c.slots_ret = c.slots_ret, []
        await self.swap.swapcache_free_entries(ret)
        await self._pay()
        c.free_lock.unlock_irq()

    async def _pay(self):
        if self.engine.current.debt:
            await self.engine.sync()

    # ------------------------------------------------------ allocation
    async def refill_swap_slots_cache(self, c: SwapSlotsCache) -> int:
        """With alloc_lock held."""
        if not self.use_swap_slot_cache:
            return 0
        c.cur = 0
        c.slots = await self.swap.get_swap_pages(SWAP_SLOTS_CACHE_SIZE)
        cpu = self.engine.current.cpu
        self.stats.refills[cpu] += 1
        self.stats.refill_objs[cpu] += len(c.slots)
        return len(c.slots)

    async def folio_alloc_swap(self) -> int:
        """mm/swap_slots.c folio_alloc_swap (order 0): an entry, or 0."""
        cpu = self.engine.current.cpu
        c = self.caches[cpu]
        entry = 0
        if await self.check_cache_active():
            await c.alloc_lock.lock()
            refilled = False
            while True:
                if c.nr:
                    entry = c.slots[c.cur]
                    c.cur += 1
                    break
                if not await self.refill_swap_slots_cache(c):
                    break
                refilled = True
            self.engine.charge(self.engine.costs.l1_hit_ns)
            await self._pay()
            c.alloc_lock.unlock()
            if entry:
                if refilled:
                    self.stats.alloc_misses[cpu] += 1
                else:
                    self.stats.alloc_hits[cpu] += 1
                return entry
        self.stats.alloc_misses[cpu] += 1
        got = await self.swap.get_swap_pages(1)
        return got[0] if got else 0

    # ------------------------------------------------------------ freeing
    async def free_swap_slot(self, entry: int):
        cpu = self.engine.current.cpu
        c = self.caches[cpu]
        if self.use_swap_slot_cache:
            await c.free_lock.lock_irq()
            if self.use_swap_slot_cache:             # may be deactivated meanwhile
                miss = len(c.slots_ret) >= SWAP_SLOTS_CACHE_SIZE
                if miss:
                    ret, c.slots_ret = c.slots_ret, []
                    self.stats.drains[cpu] += 1
                    self.stats.drain_objs[cpu] += len(ret)
                    await self.swap.swapcache_free_entries(ret)
                    self.stats.free_misses[cpu] += 1
                else:
                    self.stats.free_hits[cpu] += 1
                c.slots_ret.append(entry)
                self.engine.charge(self.engine.costs.l1_hit_ns)
                await self._pay()
                c.free_lock.unlock_irq()
                return
            await self._pay()
            c.free_lock.unlock_irq()
        self.stats.free_misses[cpu] += 1                # direct_free
        await self.swap.swapcache_free_entries([entry])

    # ------------------------------------------------------- checks
    def cached(self) -> set[int]:
        out = set()
        for c in self.caches:
            out.update(c.slots[c.cur:])
            out.update(c.slots_ret)
        return out

    def _check(self):
        seen = set()
        for c in self.caches:
            for e in c.slots[c.cur:] + c.slots_ret:
                assert e not in seen, f"swap entry {e:#x} cached twice"
                seen.add(e)
                m = self.swap.map_of(e)
                assert m == SWAP_HAS_CACHE, f"cached swap entry {e:#x} has map {m:#x}"
            assert len(c.slots_ret) <= SWAP_SLOTS_CACHE_SIZE
            assert c.nr <= SWAP_SLOTS_CACHE_SIZE

    def to_json(self) -> dict:
        return {"enabled": self.swap_slot_cache_enabled, "active": self.swap_slot_cache_active,
                "activations": self.activations, "deactivations": self.deactivations,
                "activate_above": self.ncpus * THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE,
                "deactivate_below": self.ncpus * THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE,
                "cached_alloc": sum(c.nr for c in self.caches),
                "cached_free": sum(len(c.slots_ret) for c in self.caches)}
