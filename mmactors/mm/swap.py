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

LRU aging (the reclaim side, used by :mod:`.vmscan`):

* Folio flags PG_referenced, PG_active, PG_workingset, PG_swapbacked (anon
  and shmem folios are swap-backed and live on the anon lists, as
  ``folio_is_file_lru`` says); ``lru_add`` puts a PG_active folio on the
  active list (``folio_lru_list``).
* ``folio_mark_accessed`` (the referenced -> active two-step),
  ``folio_activate`` (the ``lru_activate`` batch), ``folio_rotate_reclaimable``
  (the ``lru_move_tail`` batch, called when writeback ends on a PG_reclaim
  folio: it may run in irq context, so it never waits).  As in 6.12, a folio
  queued on one of these batches keeps its list position with PG_lru
  cleared (``folio_test_clear_lru``) until the batch moves it; reclaim's
  isolation skips it.
* Lists are ordered: the head (``list_add``) is the newest end, the tail the
  oldest (``lru_to_folio``).  As ``folio->lru`` in the kernel, the links are
  per frame: prev/next arrays indexed by pfn (:class:`LruLinks`), a list
  being its head and its length (:class:`LruList`), so that a resident page
  costs no Python object.
* ``isolate_lru_folios`` / ``move_folios_to_lru`` (mm/vmscan.c, kept here
  beside the lists they walk; the caller holds ``lru_lock``).

Simplification: the node counters ``nr_inactive_anon``... are not kept in
vmstat (list lengths are read directly where the kernel reads
``lruvec_page_state``), so that runs without reclaim keep their figures.
"""
from __future__ import annotations

import numpy as np

from ..sync import SpinLock
from ._internal import PG_head, PG_lru, SWAP_CLUSTER_MAX, CacheStats
from .filemap import (PG_active, PG_dirty, PG_locked, PG_referenced, PG_swapbacked)

__all__ = ["LRU", "Lruvec", "LruList", "LruLinks", "folio_is_file_lru", "folio_lru_list", "LRU_INACTIVE_ANON", "LRU_ACTIVE_ANON", "LRU_INACTIVE_FILE",
           "LRU_ACTIVE_FILE", "LRU_UNEVICTABLE", "LRU_NAMES"]

LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE, LRU_UNEVICTABLE = range(5)
NR_LRU_LISTS = 5
LRU_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")
LRU_ACTIVE = 1
LRU_FILE = 2


def folio_is_file_lru(flags: int) -> bool:
    """include/linux/mm_inline.h: file LRU unless swap-backed (anon, shmem)."""
    return not flags & PG_swapbacked


def folio_lru_list(flags: int) -> int:
    """include/linux/mm_inline.h folio_lru_list (no unevictable folios here)."""
    lru = LRU_INACTIVE_ANON if flags & PG_swapbacked else LRU_INACTIVE_FILE
    if flags & PG_active:
        lru += LRU_ACTIVE
    return lru


class LruLinks:
    """``folio->lru`` of every frame (the list_head in struct page/folio): two
    int32 arrays indexed by pfn, ``prev`` and ``next``, with one more entry
    per list after the last frame for the list's head (``lruvec->lists[lru]``),
    and ``on`` (uint8 per frame, uint16 beyond 254 lists): 1 + the number of
    the list the frame is on, 0 if none, so that a list knows its members
    without a walk (the kernel reads the list from the folio's flags,
    ``folio_lru_list``).  As in the
    kernel, ``head->next`` is the newest folio (``list_add``) and
    ``head->prev`` the oldest (``lru_to_folio``)."""

    __slots__ = ("max_pfn", "_prev", "_next", "_on", "prev", "next", "on")

    def __init__(self, max_pfn: int, nlists: int):
        self.max_pfn = max_pfn
        self._prev = np.zeros(max_pfn + nlists, np.int32)
        self._next = np.zeros(max_pfn + nlists, np.int32)
        # one byte while the lists fit (5 per node: up to 50 nodes), else two
        self._on = np.zeros(max_pfn, np.uint8 if nlists < 255 else np.uint16)
        # memoryviews: scalar access from Python (numpy scalars cost much more)
        self.prev = memoryview(self._prev)
        self.next = memoryview(self._next)
        self.on = memoryview(self._on)

    @property
    def nbytes(self) -> int:
        return self._prev.nbytes + self._next.nbytes + self._on.nbytes


class LruList:
    """One LRU list, intrusive and doubly linked through :class:`LruLinks`:
    :meth:`add` is ``list_add`` (the head, newest end), :meth:`add_tail`
    ``list_add_tail`` (the oldest end), :meth:`oldest` ``lru_to_folio``,
    :meth:`discard` ``list_del``; iteration runs from the tail (oldest) to
    the head, and may drop the folio it just yielded (``_safe``)."""

    __slots__ = ("links", "lid", "tag", "head", "n", "pv", "nx", "on")

    def __init__(self, links: LruLinks, lid: int):
        self.links = links
        self.lid = lid
        self.tag = lid + 1                       # on[pfn] of its members
        self.head = h = links.max_pfn + lid      # the list_head
        self.pv = links.prev                     # the memoryviews, one lookup less
        self.nx = links.next
        self.on = links.on
        links.prev[h] = h                        # INIT_LIST_HEAD
        links.next[h] = h
        self.n = 0                               # lruvec->lists' size (lru_zone_size)

    def __len__(self):
        return self.n

    def __bool__(self):
        return self.n > 0

    def __contains__(self, pfn):
        return 0 <= pfn < self.links.max_pfn and self.on[pfn] == self.tag

    def __iter__(self):
        pv = self.pv
        h = self.head
        p = pv[h]
        while p != h:
            nxt = pv[p]
            yield p
            p = nxt

    def oldest(self) -> int:
        """lru_to_folio: the pfn at the tail (the list must not be empty)."""
        p = self.pv[self.head]
        if p == self.head:
            raise IndexError("lru_to_folio on an empty list")
        return p

    def add(self, pfn: int):
        """list_add: the new head, the newest folio of the list."""
        on = self.on
        if on[pfn]:
            raise AssertionError(f"BUG: list_add of pfn {pfn:#x}, already on an LRU list")
        on[pfn] = self.tag
        nx = self.nx
        pv = self.pv
        h = self.head
        first = nx[h]
        nx[pfn] = first
        pv[pfn] = h
        pv[first] = pfn
        nx[h] = pfn
        self.n += 1

    def add_tail(self, pfn: int):
        """list_add_tail: the oldest folio of the list (moved there if listed)."""
        self.discard(pfn)
        on = self.on
        if on[pfn]:
            raise AssertionError(f"BUG: list_add_tail of pfn {pfn:#x}, on another LRU list")
        on[pfn] = self.tag
        nx = self.nx
        pv = self.pv
        h = self.head
        last = pv[h]
        pv[pfn] = last
        nx[pfn] = h
        nx[last] = pfn
        pv[h] = pfn
        self.n += 1

    def discard(self, pfn: int) -> bool:
        """list_del if the folio is on this list; False if not."""
        on = self.on
        if on[pfn] != self.tag:
            return False
        on[pfn] = 0
        pv = self.pv
        nx = self.nx
        p = pv[pfn]
        n = nx[pfn]
        nx[p] = n
        pv[n] = p
        self.n -= 1
        return True


class Lruvec:
    """struct lruvec of one node: five lists (:class:`LruList`) and lru_lock."""

    def __init__(self, engine, nid: int, links: LruLinks):
        self.nid = nid
        self.base = nid * NR_LRU_LISTS
        self.links = links
        self.lists = [LruList(links, self.base + i) for i in range(NR_LRU_LISTS)]
        self.lru_lock = SpinLock(engine, "&lruvec->lru_lock")
        self.nonresident_age = 0              # workingset clock (mm/workingset.c)
        self.anon_cost = 0                    # lru_note_cost
        self.file_cost = 0

    def add(self, pfn: int, lru: int):
        """lruvec_add_folio: list_add at the head (the newest end)."""
        self.lists[lru].add(pfn)

    def add_tail(self, pfn: int, lru: int):
        """lruvec_add_folio_tail: the oldest end, reclaimed first."""
        self.lists[lru].add_tail(pfn)

    def delete(self, pfn: int) -> bool:
        """lruvec_del_folio: off whichever of this lruvec's lists holds it."""
        lru = self.links.on[pfn] - 1 - self.base
        if 0 <= lru < NR_LRU_LISTS:
            return self.lists[lru].discard(pfn)
        return False

    def nr_pages(self) -> list[int]:
        return [x.n for x in self.lists]

    def lru_size(self, lru: int) -> int:
        """lruvec_lru_size (the node's zones together; one lruvec per node)."""
        return self.lists[lru].n


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
        # folio->lru of every frame; the lists' heads after the last frame
        self.links = LruLinks(pa.mem_map.max_pfn, NR_LRU_LISTS * nnodes)
        self.lruvecs = [Lruvec(engine, n, self.links) for n in range(nnodes)]
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
        if not file:
            # anon (folio_add_new_anon_rmap) and shmem folios are swap-backed
            self.mem_map.f[pfn] |= PG_swapbacked
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
            if f[pfn] & PG_active:                    # lru_add: folio_lru_list
                lru |= LRU_ACTIVE
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
        """lru_add_drain() -> lru_add_drain_cpu(): flush this CPU's batches."""
        await self.lru_add_drain_cpu(me.cpu, me)

    async def lru_add_drain_cpu(self, cpu: int, me):
        fb = self.fbatches[cpu]
        if fb.lru_add:
            await self.folio_batch_move_lru(fb, me, drain=True)
        if fb.lru_move_tail:
            batch, fb.lru_move_tail = fb.lru_move_tail, []
            await self._batch_move(batch, self._lru_move_tail, me, "lru_move_tail")
        if fb.lru_activate:                           # folio_activate_drain
            batch, fb.lru_activate = fb.lru_activate, []
            await self._batch_move(batch, self._lru_activate, me, "lru_activate")

    def lru_add_drain_all_needed(self) -> bool:
        return any(fb.lru_add or fb.lru_move_tail or fb.lru_activate for fb in self.fbatches)

    async def lru_add_drain_all(self, me, queue_work_on=None):
        """lru_add_drain_all(): drain every CPU's batches.  The kernel queues
        lru_add_drain_per_cpu on each CPU with something batched and flushes
        the works; without a workqueue (tests) the caller drains them itself."""
        works = []
        for cpu, fb in enumerate(self.fbatches):
            if not (fb.lru_add or fb.lru_move_tail or fb.lru_activate):
                continue
            if queue_work_on is None:
                await self.lru_add_drain_cpu(cpu, me)
            else:
                async def fn(kw, _cpu=cpu):
                    await self.lru_add_drain_cpu(_cpu, kw)
                works.append(queue_work_on(cpu, fn, "lru_add_drain_per_cpu"))
        for w in works:                               # flush_work
            await w.done.wait()

    # -- aging: the other folio batches -------------------------------------
    def _batch_add_and_move(self, pfn: int, which: str, cpu: int):
        """folio_batch_add_and_move(folio, op, on_lru=true) up to the move:
        PG_lru test-and-cleared, a reference taken, queued.  Returns the
        full batch (the caller moves it) or None."""
        f = self.mem_map.f
        if not f[pfn] & PG_lru:                       # folio_test_clear_lru failed
            return None
        f[pfn] &= ~PG_lru
        self.mem_map.ref[pfn] += 1                    # folio_get
        fb = self.fbatches[cpu]
        batch = getattr(fb, which)
        batch.append(pfn)
        if len(batch) >= self.PAGEVEC_SIZE:
            setattr(fb, which, [])
            return batch
        return None

    async def _batch_move(self, batch: list, move_fn, me, site: str):
        """folio_batch_move_lru for the non-add batches: move_fn under lru_lock,
        PG_lru set again, then folios_put of the batch's references."""
        lruvec = None
        flags = None
        f = self.mem_map.f
        for pfn in batch:
            lv = self.lruvec_of(pfn)
            if lv is not lruvec:                      # folio_lruvec_relock_irqsave
                if lruvec is not None:
                    lruvec.lru_lock.unlock_irqrestore(flags, site)
                lruvec = lv
                flags = await lruvec.lru_lock.lock_irqsave(site)
            move_fn(lruvec, pfn, me)
            f[pfn] |= PG_lru
        await self.engine.spend(len(batch) * self.engine.costs.llc_hit_ns)
        lruvec.lru_lock.unlock_irqrestore(flags, site)
        await self.folios_put_refs([(p, 1) for p in batch], me, count=False)

    def _batch_move_now(self, batch: list, move_fn, me, site: str) -> bool:
        """The same from a context that cannot wait (irq: end of writeback):
        only if lru_lock is free right now.  Simplification: a contended
        lru_lock leaves the batch queued for this CPU's next drain instead
        of spinning in irq context."""
        lruvec = self.lruvec_of(batch[0])
        if any(self.lruvec_of(p) is not lruvec for p in batch):
            return False
        lk = lruvec.lru_lock
        if not lk.trylock_now(me, site):
            return False
        f = self.mem_map.f
        ref = self.mem_map.ref
        me.debt += len(batch) * self.engine.costs.llc_hit_ns
        for pfn in batch:
            move_fn(lruvec, pfn, me)
            f[pfn] |= PG_lru
        lk.unlock(site)
        for pfn in batch:                             # the batch's references
            ref[pfn] -= 1                             # (the writer still holds one)
        return True

    def _lru_activate(self, lruvec, pfn: int, me):
        """lru_activate: to the active list's head, PGACTIVATE."""
        f = self.mem_map.f
        if f[pfn] & PG_active:
            return
        lruvec.delete(pfn)
        f[pfn] |= PG_active
        lruvec.add(pfn, folio_lru_list(f[pfn]))
        self.count_event(me.cpu, "pgactivate")

    def _lru_move_tail(self, lruvec, pfn: int, me):
        """lru_move_tail: to the inactive list's tail, PGROTATED."""
        f = self.mem_map.f
        lruvec.delete(pfn)
        f[pfn] &= ~PG_active
        lruvec.add_tail(pfn, folio_lru_list(f[pfn]))
        self.count_event(me.cpu, "pgrotated")

    def lru_note_cost_locked(self, lruvec, file: bool, nr_io: int, nr_rotated: int):
        """lru_note_cost's body (the caller holds lru_lock, or accepts the
        race as lru_note_cost_refault's caller does here: a simplification,
        the kernel takes lru_lock there too)."""
        cost = nr_io * SWAP_CLUSTER_MAX + nr_rotated
        if file:
            lruvec.file_cost += cost
        else:
            lruvec.anon_cost += cost
        n = lruvec.nr_pages()
        lrusize = n[0] + n[1] + n[2] + n[3]
        if lruvec.file_cost + lruvec.anon_cost > lrusize // 4:
            lruvec.file_cost //= 2
            lruvec.anon_cost //= 2

    async def lru_note_cost(self, lruvec, file: bool, nr_io: int, nr_rotated: int, me):
        """lru_note_cost: the scan-balance cost of reclaim I/O and rotations."""
        await lruvec.lru_lock.lock_irq("lru_note_cost")
        self.lru_note_cost_locked(lruvec, file, nr_io, nr_rotated)
        lruvec.lru_lock.unlock_irq("lru_note_cost")

    def count_event(self, cpu: int, name: str, n: int = 1):
        vs = self.pa.vmstat
        vs.events[cpu][vs.ev[name]] += n

    async def folio_activate(self, pfn: int, me):
        """folio_activate (SMP): queue on this CPU's lru_activate batch."""
        if self.mem_map.f[pfn] & PG_active:
            return
        batch = self._batch_add_and_move(pfn, "lru_activate", me.cpu)
        if batch is not None:
            await self._batch_move(batch, self._lru_activate, me, "lru_activate")

    def folio_mark_accessed(self, pfn: int, me):
        """folio_mark_accessed: inactive,unreferenced -> inactive,referenced ->
        active (queued on lru_activate, or PG_active set directly on a folio
        still in an lru_add batch: __lru_cache_activate_folio), and
        workingset_activation.  Never waits: a full lru_activate batch is
        moved now if lru_lock is free, else at the next drain."""
        f = self.mem_map.f
        fl = f[pfn]
        if not fl & PG_referenced:
            f[pfn] = fl | PG_referenced
            return
        if fl & PG_active:
            return
        if fl & PG_lru:
            batch = self._batch_add_and_move(pfn, "lru_activate", me.cpu)
            if batch is not None and not self._batch_move_now(batch, self._lru_activate, me,
                                                              "lru_activate"):
                self.fbatches[me.cpu].lru_activate[:0] = batch
        else:
            # __lru_cache_activate_folio: only a folio still in this CPU's
            # lru_add batch is activated in place; one in another CPU's batch,
            # a move batch or isolated by reclaim is left as it is
            for p, _ in reversed(self.fbatches[me.cpu].lru_add):
                if p == pfn:
                    f[pfn] |= PG_active
                    break
        f[pfn] &= ~PG_referenced
        self.lruvec_of(pfn).nonresident_age += 1      # workingset_activation

    def folio_rotate_reclaimable(self, pfn: int, me=None):
        """folio_rotate_reclaimable: writeback ended on a PG_reclaim folio; if
        it is still reclaimable, queue it for the inactive list's tail (the
        lru_move_tail batch of the CPU completing the I/O).  Never waits."""
        f = self.mem_map.f
        if f[pfn] & (PG_locked | PG_dirty):
            return
        if me is None:
            me = self.engine.current
        batch = self._batch_add_and_move(pfn, "lru_move_tail", me.cpu)
        if batch is not None and not self._batch_move_now(batch, self._lru_move_tail, me,
                                                          "lru_move_tail"):
            self.fbatches[me.cpu].lru_move_tail[:0] = batch

    # -- isolation (mm/vmscan.c; the caller holds lruvec->lru_lock) ----------
    def isolate_lru_folios(self, lruvec, nr_to_scan: int, lru: int, zone_ok):
        """isolate_lru_folios: take up to ``nr_to_scan`` folios from the tail
        of ``lru``.  Folios in a zone above the reclaim index are skipped
        (spliced to the head, pgskip_*); folios without PG_lru (queued
        on a batch, being freed) are rotated.  Returns (isolated pfns, scanned,
        skipped by zone index, folios looked at)."""
        src = lruvec.lists[lru]
        f = self.mem_map.f
        ref = self.mem_map.ref
        taken = []
        skipped = {}
        scan = 0
        move = []
        total = 0
        zone_of = self.pa.zone_of
        while scan < nr_to_scan and src:
            pfn = src.oldest()                        # lru_to_folio: the tail
            total += 1
            z = zone_of(pfn)
            if not zone_ok(z):
                skipped[z.zone_idx] = skipped.get(z.zone_idx, 0) + 1
                src.discard(pfn)
                move.append(pfn)
                continue
            scan += 1
            if not f[pfn] & PG_lru or ref[pfn] == 0:
                src.discard(pfn)                      # list_move to the head
                src.add(pfn)
                continue
            ref[pfn] += 1                             # folio_try_get
            f[pfn] &= ~PG_lru                         # folio_test_clear_lru
            src.discard(pfn)
            taken.append(pfn)
        for pfn in move:                              # list_splice(&folios_skipped, src): to the
            src.add(pfn)                              # head, so the next scans do not meet them
        return taken, scan, skipped, total

    def move_folios_to_lru(self, lruvec, pfns: list) -> tuple[int, list]:
        """move_folios_to_lru (caller holds lru_lock): PG_lru set, folio back on
        the list its flags say, the isolation reference dropped.  Returns
        (pages moved, folios whose last reference that was: the caller frees
        them after unlocking)."""
        f = self.mem_map.f
        ref = self.mem_map.ref
        moved = 0
        free = []
        for pfn in pfns:
            fl = f[pfn]
            r = ref[pfn] - 1
            if r == 0:                                # folio_put_testzero
                ref[pfn] = 1                          # the free path drops it
                free.append(pfn)
                continue
            ref[pfn] = r
            f[pfn] = fl | PG_lru
            lruvec.add(pfn, folio_lru_list(fl))
            moved += 1
            if fl & PG_active:
                lruvec.nonresident_age += 1           # workingset_age_nonresident
        return moved, free

    # -- freeing ------------------------------------------------------------
    async def folios_put_refs(self, folios: list[tuple[int, int]], me, count: bool = True):
        """Drop ``refs`` from each folio; take the freed ones off the LRU (one
        lru_lock hold per batch) and give them back to the page allocator."""
        ref = self.mem_map.ref
        f = self.mem_map.f
        to_free = []
        large = {}
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
            if f[pfn] & PG_head:                      # a THP: freed at its order
                large[pfn] = self.mem_map.ord[pfn]
        if lruvec is not None:
            await self.engine.spend(len(to_free) * self.engine.costs.llc_hit_ns)
            lruvec.lru_lock.unlock("folios_put_refs")
        if count and to_free:
            self.freed_stats.drains[me.cpu] += 1
            self.freed_stats.drain_objs[me.cpu] += len(to_free)
        for pfn in to_free:                           # free_unref_folios
            self.rmap.forget(pfn)
            await self.pa.free_pages(pfn, large.get(pfn, 0) if large else 0)

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

    def in_move_batches(self) -> set[int]:
        """Folios queued on lru_activate / lru_move_tail (listed, PG_lru clear)."""
        out = set()
        for fb in self.fbatches:
            out.update(fb.lru_activate)
            out.update(fb.lru_move_tail)
        return out

    def _check(self):
        """Every listed frame is on exactly one list of its node's lruvec, on
        the list its flags name, with PG_lru set unless a move batch holds it."""
        seen = {}
        moving = self.in_move_batches()
        f = self.mem_map.f
        for lv in self.lruvecs:
            for lru, lst in enumerate(lv.lists):
                for pfn in lst:
                    assert pfn not in seen, f"pfn {pfn:#x} on two LRU lists"
                    seen[pfn] = lv.nid
                    assert f[pfn] & PG_lru or pfn in moving, \
                        f"pfn {pfn:#x} listed without PG_lru"
                    assert self.mem_map.ref[pfn] > 0, f"pfn {pfn:#x} on the LRU but free"
                    assert pfn in moving or folio_lru_list(int(f[pfn])) == lru, \
                        f"pfn {pfn:#x} on {LRU_NAMES[lru]} with flags {int(f[pfn]):#x}"
                    assert self.pa.pfn_node(pfn) == lv.nid, f"pfn {pfn:#x} on another node's LRU"
