"""LRU lists and the per-CPU folio batches (mm/swap.c, Linux 6.12).

Despite its name mm/swap.c is where the kernel batches LRU operations, and
so is this module (the kernel's names, even where they surprise).

* One ``lruvec`` per node (no memcg: ``&pgdat->__lruvec``) with the five
  lists of ``enum lru_list`` and ``lruvec->lru_lock`` (an engine spinlock, so
  it shows in lock_stat).
* ``struct cpu_fbatches`` per CPU: ``lru_add``, ``lru_deactivate_file``,
  ``lru_deactivate``, ``lru_lazyfree``, ``lru_activate``, ``lru_move_tail``,
  each a folio batch of ``PAGEVEC_SIZE`` entries ([constants] PAGEVEC_SIZE =
  31 since 9cecde80aae0 "mm: increase folio batch size", 6.9; 15 before).
  ``folio_add_lru`` takes a reference and adds to ``lru_add``; a full batch
  is moved to the lists under one ``lru_lock`` hold (``folio_batch_move_lru``),
  which then drops the batch's references.
* ``folios_put_refs`` (the munmap free path, via ``release_pages``) takes
  ``lru_lock`` once per batch of up to PAGEVEC_SIZE folios to take them off
  the LRU, then frees them to the page allocator (``free_unref_folios``).
* Per-CPU cache statistics ``lru_add``: an add absorbed by the batch is a hit;
  the add that fills the batch and takes ``lru_lock`` is a miss (a drain of
  the batch's folios).  Drains by ``lru_add_drain`` count as drains.
"""
from __future__ import annotations

from ..sync import SpinLock
from ._internal import PG_lru, CacheStats

__all__ = ["LRU", "Lruvec", "LRU_INACTIVE_ANON", "LRU_ACTIVE_ANON", "LRU_INACTIVE_FILE",
           "LRU_ACTIVE_FILE", "LRU_UNEVICTABLE", "LRU_NAMES"]

LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE, LRU_UNEVICTABLE = range(5)
LRU_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")


class Lruvec:
    """struct lruvec of one node: five lists (ordered dicts pfn -> None) and lru_lock."""

    def __init__(self, engine, nid: int):
        self.nid = nid
        self.lists = [dict() for _ in range(5)]
        self.lru_lock = SpinLock(engine, "&lruvec->lru_lock")

    def add(self, pfn: int, lru: int):
        self.lists[lru][pfn] = None

    def delete(self, pfn: int) -> bool:
        for lst in self.lists:
            if pfn in lst:
                del lst[pfn]
                return True
        return False

    def nr_pages(self) -> list[int]:
        return [len(x) for x in self.lists]


class CpuFbatches:
    """struct cpu_fbatches of one CPU."""

    __slots__ = ("lru_add", "lru_deactivate_file", "lru_deactivate", "lru_lazyfree",
                 "lru_activate", "lru_move_tail")

    def __init__(self):
        self.lru_add: list[tuple[int, int]] = []      # (pfn, lru list)
        self.lru_deactivate_file: list = []
        self.lru_deactivate: list = []
        self.lru_lazyfree: list = []
        self.lru_activate: list = []
        self.lru_move_tail: list = []


class LRU:
    """The machine's LRU state: lruvecs per node, folio batches per CPU."""

    def __init__(self, engine, pa, rmap, ncpus: int, nnodes: int, pagevec_size: int):
        self.engine = engine
        self.pa = pa
        self.rmap = rmap
        self.mem_map = pa.mem_map
        self.lruvecs = [Lruvec(engine, n) for n in range(nnodes)]
        self.fbatches = [CpuFbatches() for _ in range(ncpus)]
        self.PAGEVEC_SIZE = pagevec_size
        self.stats = CacheStats("lru_add", ncpus)
        self.freed_stats = CacheStats("folios_put", ncpus)

    def lruvec_of(self, pfn: int) -> Lruvec:
        return self.lruvecs[self.pa.pfn_node(pfn)]

    # -- adding --------------------------------------------------------------
    async def folio_add_lru(self, pfn: int, file: bool, me):
        """Queue a new folio for the LRU on this CPU (folio_add_lru[_vma])."""
        fb = self.folio_add_lru_nowait(pfn, file, me)
        if fb is not None:
            await self.folio_batch_move_lru(fb, me)

    def folio_add_lru_nowait(self, pfn: int, file: bool, me):
        """folio_add_lru up to the wait: the folio joins this CPU's batch.
        Returns the batch if that filled it (the caller then awaits
        ``folio_batch_move_lru(fb, me)``), else None: the hot fault path
        needs no coroutine for the 30 adds in 31 that only queue."""
        self.mem_map.ref[pfn] += 1                    # folio_get: the batch's reference
        fb = self.fbatches[me.cpu]
        lru_add = fb.lru_add
        lru_add.append((pfn, LRU_INACTIVE_FILE if file else LRU_INACTIVE_ANON))
        if len(lru_add) >= self.PAGEVEC_SIZE:
            self.stats.alloc_misses[me.cpu] += 1
            return fb
        self.stats.alloc_hits[me.cpu] += 1
        return None

    async def folio_batch_move_lru(self, fb: CpuFbatches, me, drain: bool = False):
        """Move the lru_add batch onto the lists under lru_lock, then drop its refs."""
        batch = fb.lru_add
        if not batch:
            return
        fb.lru_add = []
        cpu = me.cpu
        self.stats.drains[cpu] += 1
        self.stats.drain_objs[cpu] += len(batch)
        f = self.mem_map.f
        lruvec = None
        costs = self.engine.costs
        lruvec_of = self.lruvec_of
        for pfn, lru in batch:
            lv = lruvec_of(pfn)
            if lv is not lruvec:                      # folio_lruvec_relock_irqsave
                if lruvec is not None:
                    lruvec.lru_lock.unlock("folio_batch_move_lru")
                lruvec = lv
                await lruvec.lru_lock.lock("folio_batch_move_lru")
            lruvec.add(pfn, lru)
            f[pfn] |= PG_lru
        # list_add of each folio: the struct page line and the list head (already ours).
        await self.engine.spend(len(batch) * costs.llc_hit_ns)
        lruvec.lru_lock.unlock("folio_batch_move_lru")
        # folios_put_refs of the batch's references.  A folio that keeps a
        # reference (mapped: the usual case) only has its count dropped, so
        # only the others take the long way (in batch order, as before).
        ref = self.mem_map.ref
        last = []
        for pfn, _ in batch:
            r = ref[pfn]
            if r > 1:
                ref[pfn] = r - 1
            else:
                last.append((pfn, 1))
        if last:
            await self.folios_put_refs(last, me, count=False)

    async def lru_add_drain(self, me):
        """lru_add_drain(): flush this CPU's batches."""
        fb = self.fbatches[me.cpu]
        if fb.lru_add:
            await self.folio_batch_move_lru(fb, me, drain=True)

    # -- freeing ------------------------------------------------------------
    async def folios_put_refs(self, folios: list[tuple[int, int]], me, count: bool = True):
        """Drop ``refs`` from each folio; take the freed ones off the LRU (one
        lru_lock hold per batch) and give them back to the page allocator."""
        ref = self.mem_map.ref
        f = self.mem_map.f
        to_free = []
        lruvec = None
        for pfn, refs in folios:
            r = ref[pfn] - refs
            if r > 0:
                ref[pfn] = r
                continue
            if r < 0:
                raise AssertionError(f"BUG: folio refcount underflow on pfn {pfn:#x}")
            if f[pfn] & PG_lru:                       # __page_cache_release
                lv = self.lruvec_of(pfn)
                if lv is not lruvec:
                    if lruvec is not None:
                        lruvec.lru_lock.unlock("folios_put_refs")
                    lruvec = lv
                    await lruvec.lru_lock.lock("folios_put_refs")
                lv.delete(pfn)
                f[pfn] &= ~PG_lru
            ref[pfn] = 1                              # free_pages drops the last reference
            to_free.append(pfn)
        if lruvec is not None:
            await self.engine.spend(len(to_free) * self.engine.costs.llc_hit_ns)
            lruvec.lru_lock.unlock("folios_put_refs")
        if count and to_free:
            self.freed_stats.drains[me.cpu] += 1
            self.freed_stats.drain_objs[me.cpu] += len(to_free)
        for pfn in to_free:                           # free_unref_folios
            self.rmap.forget(pfn)
            await self.pa.free_pages(pfn, 0)

    async def release_pages(self, pfns: list[int], me):
        """release_pages: folios_put_refs in batches of PAGEVEC_SIZE."""
        n = self.PAGEVEC_SIZE
        for i in range(0, len(pfns), n):
            await self.folios_put_refs([(p, 1) for p in pfns[i:i + n]], me)

    def on_lru(self, pfn: int) -> bool:
        return bool(self.mem_map.f[pfn] & PG_lru)

    def in_batches(self) -> set[int]:
        out = set()
        for fb in self.fbatches:
            out.update(p for p, _ in fb.lru_add)
        return out

    def _check(self):
        """Every PG_lru frame is on exactly one list of its node's lruvec."""
        seen = {}
        for lv in self.lruvecs:
            for lst in lv.lists:
                for pfn in lst:
                    assert pfn not in seen, f"pfn {pfn:#x} on two LRU lists"
                    seen[pfn] = lv.nid
                    assert self.mem_map.f[pfn] & PG_lru, f"pfn {pfn:#x} listed without PG_lru"
                    assert self.mem_map.ref[pfn] > 0, f"pfn {pfn:#x} on the LRU but free"
