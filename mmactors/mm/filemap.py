"""The page cache: address_space, i_pages, the folio lock (mm/filemap.c, Linux 6.12).

* ``AddressSpace``: ``i_pages`` (the xarray, a dict index -> pfn here) with
  its ``xa_lock`` (class ``&xa->xa_lock``; the kernel takes it with IRQs
  off), ``i_mmap`` (the VMAs mapping the file; the interval tree is a list
  here) under ``i_mmap_rwsem`` (class ``&mapping->i_mmap_rwsem``), nrpages.
* ``filemap_get_entry``: an RCU xarray load plus ``folio_try_get`` and the
  recheck, no lock: one read of the slot's cache line and one atomic on the
  folio's refcount.
* The folio lock is the PG_locked bit.  Waiters sleep on one of the 256
  hashed ``folio_wait_table`` queues (PAGE_WAIT_TABLE_BITS = 8), as the
  kernel's do; ``folio_unlock`` wakes the first waiter for that folio
  (exclusive wait, lock handed over).  Simplification: the hand-off ignores
  ``sysctl_page_lock_unfairness``.

Page flags this layer adds to the memmap's flag word (bits the page
allocator does not use; free_pages_prepare clears them all on free).
"""
from __future__ import annotations

from collections import deque

from sortedcontainers import SortedSet

from ..costs import CacheLine
from ..sync import RWSemaphore, SpinLock, might_sleep

__all__ = ["AddressSpace", "AddressSpaceOperations", "FolioLocks",
           "PAGECACHE_TAG_DIRTY", "PAGECACHE_TAG_WRITEBACK", "PAGECACHE_TAG_TOWRITE", "PG_locked", "PG_uptodate", "PG_dirty",
           "PG_swapbacked", "PG_waiters", "PG_active", "PG_referenced", "PG_writeback",
           "PG_reclaim", "PG_swapcache", "PG_mappedtodisk", "PG_readahead"]

PG_locked = 1 << 11
PG_uptodate = 1 << 12
PG_dirty = 1 << 13
PG_swapbacked = 1 << 14
PG_waiters = 1 << 15
PG_active = 1 << 16
PG_referenced = 1 << 17
PG_writeback = 1 << 18        # folio under writeback I/O (include/linux/page-flags.h)
PG_reclaim = 1 << 19          # reclaim wants it freed when writeback ends (folio_end_writeback)
PG_swapcache = 1 << 20        # the kernel's PG_owner_priv_1 on a swap-backed folio: in the swap cache
PG_mappedtodisk = 1 << 21
# include/linux/page-flags.h: PG_readahead = PG_reclaim.  The same bit: on a
# folio under writeback (or dirty) it means "reclaim it when written",
# otherwise "the readahead marker" (page_cache_async_ra tests writeback first).
PG_readahead = PG_reclaim

PAGE_WAIT_TABLE_BITS = 8

# include/linux/fs.h: the i_pages marks (XA_MARK_0..2)
PAGECACHE_TAG_DIRTY = 0
PAGECACHE_TAG_WRITEBACK = 1
PAGECACHE_TAG_TOWRITE = 2


class AddressSpaceOperations:
    """struct address_space_operations: the filesystem's methods, as plain
    attributes (None: not provided).  ``read_folio(mapping, pfn, me)`` and
    ``readahead(rac, me)`` are the read side (fs/mpage.py for the disk
    filesystem); ``writepages(mapping, wbc, me)`` and
    ``dirty_folio(mapping, pfn, me)`` the writeback side (mm/page_writeback.py)."""

    __slots__ = ("read_folio", "readahead", "writepages", "dirty_folio", "name")

    def __init__(self, name: str, read_folio=None, readahead=None, writepages=None,
                 dirty_folio=None):
        self.name = name
        self.read_folio = read_folio
        self.readahead = readahead
        self.writepages = writepages
        self.dirty_folio = dirty_folio

    def __repr__(self):
        return f"<address_space_operations {self.name}>"


class AddressSpace:
    """struct address_space of one inode.

    ``host`` is the owning inode (fs/inode.py's Inode; for tmpfs the
    ShmemInode), ``a_ops`` its operations.  The i_pages marks are kept as
    one SortedSet of indices per tag (``tags[PAGECACHE_TAG_DIRTY]`` ...),
    changed under ``xa_lock`` as __folio_mark_dirty / folio_start_writeback
    change the xarray's marks; ``irange`` walks them as xas_for_each_marked does.  Shadow
    entries (xa_is_value slots left by reclaim, mm/workingset.c) are kept in
    ``shadows`` (index -> packed shadow) beside ``i_pages`` (index -> pfn):
    one xarray in the kernel, two dicts here so that every i_pages lookup
    stays a pfn lookup."""

    def __init__(self, engine, ino: int, name: str, host=None, a_ops=None):
        self.ino = ino
        self.name = name
        self.host = host
        self.a_ops = a_ops
        self.i_pages: dict[int, int] = {}            # index -> pfn
        self.shadows: dict[int, int] = {}            # index -> shadow entry (xa_mk_value)
        # the xarray's marks, in index order (write_cache_pages walks them with irange)
        self.tags: tuple = (SortedSet(), SortedSet(), SortedSet())
        self.writeback_index = 0                      # range_cyclic writeback resumes here
        self.invalidate_lock = None                   # RWSemaphore: disk files only (fs/inode.py)
        self.shmem = None                             # the ShmemInode of a tmpfs file (shmem_aops)
        self.xa_lock = SpinLock(engine, "&xa->xa_lock")
        self.i_mmap: list = []                        # VMAs (vma_interval_tree)
        self.i_mmap_rwsem = RWSemaphore(engine, "&mapping->i_mmap_rwsem")
        self.nrpages = 0
        self.line = CacheLine(engine.costs, engine.node_of, f"{name}->i_pages", clock=engine)

    def __repr__(self):
        return f"<address_space {self.name}: {self.nrpages} pages>"


class _FolioWaitQueue:
    """One of the hashed folio wait queues."""

    __slots__ = ("name", "q", "owner")

    def __init__(self, i: int, owner: "FolioLocks"):
        self.name = f"folio_wait_table[{i}]"
        self.q: deque = deque()                      # (pfn, actor)
        self.owner = owner

    def holders(self):
        # Whoever holds the folio lock a waiter wants (for the wait-for graph).
        out = []
        for pfn, _ in self.q:
            a = self.owner.locker.get(pfn)
            if a is not None and a not in out:
                out.append(a)
        return out


class _UnlockWait:
    """The non-exclusive waiters of one locked folio (folio_wait_bit_common with
    DROP: woken when the bit clears; they take neither the lock nor a reference)."""

    __slots__ = ("name", "actors", "pfn", "owner")

    def __init__(self, pfn: int, owner: "FolioLocks"):
        self.name = f"folio_wait_table(pfn {pfn:#x})"
        self.pfn = pfn
        self.actors: list = []
        self.owner = owner

    def holders(self):
        a = self.owner.locker.get(self.pfn)
        return [a] if a is not None else []


class FolioLocks:
    """PG_locked with the kernel's hashed wait queues."""

    def __init__(self, engine, mem_map):
        self.engine = engine
        self.mem_map = mem_map
        self.table = [_FolioWaitQueue(i, self) for i in range(1 << PAGE_WAIT_TABLE_BITS)]
        self.locker: dict[int, object] = {}          # pfn -> actor holding PG_locked
        self.contended = 0
        # Sleepers that wait for PG_locked to clear without taking the lock or a
        # reference (migration_entry_wait_on_locked, mm/filemap.c): pfn -> _UnlockWait
        self.unlock_waiters: dict[int, "_UnlockWait"] = {}

    def _wq(self, pfn: int) -> _FolioWaitQueue:
        # hash_ptr(folio, PAGE_WAIT_TABLE_BITS): a multiplicative hash of the address
        return self.table[((pfn * 0x61C8864680B583EB) >> 20) & ((1 << PAGE_WAIT_TABLE_BITS) - 1)]

    def folio_trylock(self, pfn: int, me) -> bool:
        f = self.mem_map.f
        if f[pfn] & PG_locked:
            return False
        f[pfn] |= PG_locked
        self.locker[pfn] = me
        return True

    async def folio_lock(self, pfn: int, me):
        """folio_lock: test_and_set PG_locked, else sleep until handed the lock."""
        eng = self.engine
        might_sleep(me, "folio_lock")
        if self.folio_trylock(pfn, me):
            eng.charge(eng.costs.atomic_rmw_ns)
            return
        self.contended += 1
        wq = self._wq(pfn)
        self.mem_map.f[pfn] |= PG_waiters
        wq.q.append((pfn, me))
        await eng.park(wq)

    async def folio_wait_unlocked(self, pfn: int, me):
        """Sleep until PG_locked clears, holding neither the lock nor a
        reference: the wait of migration_entry_wait_on_locked (mm/filemap.c),
        whose caller has already dropped the PTE lock."""
        if not self.mem_map.f[pfn] & PG_locked:
            return
        ws = self.unlock_waiters.get(pfn)
        if ws is None:
            ws = self.unlock_waiters[pfn] = _UnlockWait(pfn, self)
        ws.actors.append(me)
        await self.engine.park(ws)

    def folio_unlock(self, pfn: int, me):
        f = self.mem_map.f
        if not f[pfn] & PG_locked or self.locker.get(pfn) is not me:
            raise AssertionError(f"BUG: folio_unlock of pfn {pfn:#x} not locked by {me.name}")
        eng = self.engine
        eng.charge(eng.costs.atomic_rmw_ns)
        if f[pfn] & PG_waiters:
            wq = self._wq(pfn)
            for i, (p, a) in enumerate(wq.q):
                if p == pfn:
                    del wq.q[i]
                    self.locker[pfn] = a              # handed over: stays locked
                    if not any(p2 == pfn for p2, _ in wq.q):
                        f[pfn] &= ~PG_waiters
                    eng.wake(a, eng.now + eng.costs.wakeup_ns)
                    return
            f[pfn] &= ~PG_waiters
        f[pfn] &= ~PG_locked
        del self.locker[pfn]
        if self.unlock_waiters:                   # migration_entry_wait_on_locked sleepers
            ws = self.unlock_waiters.pop(pfn, None)
            if ws is not None:
                for a in ws.actors:
                    eng.wake(a, eng.now + eng.costs.wakeup_ns)
