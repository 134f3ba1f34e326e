"""Page migration: mm/migrate.c (and try_to_migrate of mm/rmap.c), Linux 6.12.

What compaction (mm/compaction.py) calls to move a folio's contents to
another frame while its users keep running:

* Isolation: :meth:`Migrate.isolate_lru_folio_locked` is the part of
  ``isolate_migratepages_block`` that runs under ``lruvec->lru_lock``
  (``folio_try_get``, ``folio_test_clear_lru``, ``lruvec_del_folio``,
  NR_ISOLATED_ANON/FILE); :meth:`Migrate.putback_movable_pages` is
  ``putback_movable_pages`` (``folio_putback_lru``: back through the per-CPU
  ``lru_add`` batch, the isolation reference dropped).
* :meth:`Migrate.migrate_pages` is ``migrate_pages``: MIGRATE_ASYNC runs one
  ``migrate_pages_batch`` with NR_MAX_MIGRATE_PAGES_RETRY (10) passes;
  MIGRATE_SYNC_LIGHT and MIGRATE_SYNC run ``migrate_pages_sync`` (an async
  batch of NR_MAX_MIGRATE_ASYNC_RETRY = 3 passes, then each failed folio
  alone in the caller's mode with NR_MAX_MIGRATE_SYNC_RETRY = 7).  Each batch
  unmaps every folio first (``migrate_folio_unmap``: the new folio from the
  caller's ``get_new_folio``, ``folio_trylock`` (async gives up, the others
  sleep in ``folio_lock``), writeback (-EBUSY unless MIGRATE_SYNC), then
  ``try_to_migrate``), flushes the batched TLB shootdowns once, then moves
  (``migrate_folio_move``: ``folio_mc_copy`` at ``page_copy_ns``, the
  refcount check of ``__folio_migrate_mapping`` (-EAGAIN on extra
  references; the page cache's slot replaced under ``xa_lock``),
  ``folio_migrate_flags``, ``folio_add_lru(dst)``, ``remove_migration_ptes``,
  the old folio freed by ``migrate_folio_done``).  A folio still failing
  after its passes counts in ``pgmigrate_fail``; moved ones in
  ``pgmigrate_success`` (/proc/vmstat names).  Why each failed, the kernel's
  tracepoint would say; here :attr:`Migrate.fail_reasons` counts them
  (``refs``: pinned / extra references, ``locked``: folio lock taken in async
  mode, ``writeback``, ``mapped``: try_to_migrate left a mapping, ``nomem``:
  no target page).
* ``try_to_migrate_one``: under the PTE lock the PTE becomes a migration entry
  (``make_writable_migration_entry`` for a writable PTE, otherwise
  ``make_readable_exclusive_migration_entry`` for an exclusive anonymous page
  or ``make_readable_migration_entry``); the PTE's dirty bit moves to the
  folio; the mapping's reference and mapcount are dropped, RSS is not (the
  entry still counts as the page).  TTU_BATCH_FLUSH in async mode (one flush
  per batch), else ``ptep_clear_flush`` per PTE.
* ``remove_migration_pte``: the entry becomes a PTE of the new folio (writable
  if the entry was), the new folio's reference, mapcount and anon-exclusive
  bit.
* :meth:`Migrate.migration_entry_wait` (called by memory.py's fault path):
  recheck the entry under the PTE lock, drop it, then sleep until the old
  folio is unlocked without a reference (``migration_entry_wait_on_locked``).

Simplifications (each also said where it happens): order-0 folios only (a THP
is skipped by the compaction scanner, not split); folios in the swap cache and
non-LRU movable pages (zsmalloc, balloon) are not isolated; no mlock state
(PAGE_WAS_MLOCKED), no KSM, no device-private entries.
"""
from __future__ import annotations

from ._internal import PG_lru, PG_workingset
from .filemap import (PG_active, PG_dirty, PG_referenced, PG_swapbacked, PG_uptodate,
                      PG_writeback)
from .mm_types import PAGE_SHIFT
from .swapops import (is_migration_pte, is_readable_exclusive_migration_entry,
                      is_writable_migration_entry, make_readable_exclusive_migration_entry,
                      make_readable_migration_entry, make_writable_migration_entry,
                      pfn_swap_entry_to_pfn, pte_to_swp_entry, swp_entry_to_pte)
from .vmstat import NODE_STAT_ITEMS

__all__ = ["Migrate", "MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC", "MIGRATE_MODES",
           "MR_COMPACTION", "MIGRATEPAGE_SUCCESS", "MIGRATEPAGE_UNMAP", "EAGAIN", "ENOMEM",
           "EBUSY", "NR_MAX_MIGRATE_PAGES_RETRY", "NR_MAX_MIGRATE_ASYNC_RETRY",
           "NR_MAX_MIGRATE_SYNC_RETRY"]

# enum migrate_mode (include/linux/migrate_mode.h)
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
MIGRATE_MODES = ("async", "sync_light", "sync")
# enum migrate_reason
MR_COMPACTION = 0
MR_SYSCALL = 3

MIGRATEPAGE_SUCCESS = 0
MIGRATEPAGE_UNMAP = 1
EAGAIN = -11
ENOMEM = -12
EBUSY = -16

NR_MAX_MIGRATE_PAGES_RETRY = 10
NR_MAX_MIGRATE_ASYNC_RETRY = 3
NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY

_NR_ISOLATED_ANON = NODE_STAT_ITEMS.index("nr_isolated_anon")

_PAGE_PRESENT = 0x1
_PAGE_RW = 0x2
_PAGE_USER = 0x4
_PAGE_ACCESSED = 0x20
_PAGE_DIRTY = 0x40

# folio_migrate_flags: the flags the new folio inherits (the old one is freed)
_MIGRATE_FLAGS = PG_dirty | PG_referenced | PG_active | PG_swapbacked | PG_uptodate \
    | PG_workingset


class _Stats:
    """struct migrate_pages_stats."""

    __slots__ = ("nr_succeeded", "nr_failed_pages")

    def __init__(self):
        self.nr_succeeded = 0
        self.nr_failed_pages = 0


class Migrate:
    """mm/migrate.c for one machine's address spaces."""

    def __init__(self, sub):
        self.sub = sub
        self.engine = sub.engine
        self.costs = sub.engine.costs
        self.mem_map = sub.mem_map
        self.rmap = sub.rmap
        vm = sub.pa.vmstat
        self.vmstat = vm
        self._ev_success = vm.ev["pgmigrate_success"]
        self._ev_fail = vm.ev["pgmigrate_fail"]
        self.fail_reasons = {"refs": 0, "locked": 0, "writeback": 0, "mapped": 0, "nomem": 0}
        self.moved = {"anon": 0, "file": 0}   # folios moved, by kind of mapping
        self.entry_waits = 0             # migration_entry_wait sleeps
        self.entry_wait_ns = 0

    # ------------------------------------------------------------ isolation
    def folio_is_file_lru(self, pfn: int) -> int:
        return 0 if self.mem_map.f[pfn] & PG_swapbacked else 1

    def isolate_lru_folio_locked(self, pfn: int, lruvec, me) -> bool:
        """The caller holds lruvec->lru_lock and has checked the folio: take a
        reference, clear PG_lru and take it off its list (the tail of
        isolate_migratepages_block's success path)."""
        mm = self.mem_map
        if not mm.f[pfn] & PG_lru or not mm.ref[pfn]:
            return False
        mm.ref[pfn] += 1                               # folio_get_nontail_page
        mm.f[pfn] &= ~PG_lru                           # folio_test_clear_lru
        lruvec.delete(pfn)                             # lruvec_del_folio
        pgdat = self.sub.pa.nodes[lruvec.nid]
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + self.folio_is_file_lru(pfn),
                                        1, me)
        return True

    async def putback_movable_pages(self, pfns: list, me):
        """putback_movable_pages: each folio back through folio_putback_lru
        (folio_add_lru, then the isolation reference dropped)."""
        sub = self.sub
        for pfn in pfns:
            pgdat = sub.pa.nodes[sub.pa.pfn_node(pfn)]
            self.vmstat.mod_node_page_state(
                pgdat, _NR_ISOLATED_ANON + self.folio_is_file_lru(pfn), -1, me)
            if self.mem_map.ref[pfn] == 1:
                # the last user went while it was isolated: freed, not listed
                await sub.lru.folios_put_refs([(pfn, 1)], me)
                continue
            await sub.lru.folio_add_lru(pfn, self.folio_is_file_lru(pfn) == 1, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
        pfns.clear()

    # -------------------------------------------------------- migrate_pages
    async def migrate_pages(self, frm: list, get_new_folio, put_new_folio, mode: int,
                            reason: int, me) -> tuple[int, int]:
        """migrate_pages(from, get_new_folio, put_new_folio, private, mode,
        reason, &nr_succeeded): ``frm`` keeps the folios that were not
        migrated (the caller puts them back).  Returns (the number not
        migrated, or -ENOMEM; the number migrated)."""
        stats = _Stats()
        ret_folios: list = []
        if mode == MIGRATE_ASYNC:
            rc = await self.migrate_pages_batch(frm, get_new_folio, put_new_folio, mode,
                                                ret_folios, stats, NR_MAX_MIGRATE_PAGES_RETRY, me)
        else:
            rc = await self.migrate_pages_sync(frm, get_new_folio, put_new_folio, mode,
                                               ret_folios, stats, me)
        frm.extend(ret_folios)
        if not frm:
            rc = 0
        vs = self.vmstat.events[me.cpu]
        vs[self._ev_success] += stats.nr_succeeded
        vs[self._ev_fail] += stats.nr_failed_pages
        return rc, stats.nr_succeeded

    async def migrate_pages_sync(self, frm, get_new_folio, put_new_folio, mode, ret_folios,
                                 stats, me) -> int:
        """migrate_pages_sync: an async batch first, then one folio at a time."""
        astats = _Stats()
        failed: list = []
        rc = await self.migrate_pages_batch(frm, get_new_folio, put_new_folio, MIGRATE_ASYNC,
                                            failed, astats, NR_MAX_MIGRATE_ASYNC_RETRY, me)
        stats.nr_succeeded += astats.nr_succeeded
        if rc < 0:
            stats.nr_failed_pages += astats.nr_failed_pages
            ret_folios.extend(failed)
            ret_folios.extend(frm)
            frm.clear()
            return rc
        # every failed folio is retried below, so its failure is not counted
        todo = failed + frm
        frm.clear()
        nr_failed = 0
        while todo:
            one = [todo.pop(0)]
            rc = await self.migrate_pages_batch(one, get_new_folio, put_new_folio, mode,
                                                ret_folios, stats, NR_MAX_MIGRATE_SYNC_RETRY, me)
            ret_folios.extend(one)
            if rc < 0:
                ret_folios.extend(todo)
                return rc
            nr_failed += rc
        return nr_failed

    async def migrate_pages_batch(self, frm: list, get_new_folio, put_new_folio, mode: int,
                                  ret_folios: list, stats: _Stats, nr_pass: int, me) -> int:
        """migrate_pages_batch: unmap every folio of ``frm``, flush the TLB
        once, move them; -EAGAIN folios are retried up to ``nr_pass`` passes.
        Folios that failed for good go to ``ret_folios``; those still
        retried stay in ``frm``.  Returns the number failed, or -ENOMEM."""
        from .rmap import try_to_unmap_flush
        sub = self.sub
        retry = 1
        nr_failed = 0
        nr_retry_pages = 0
        rc_out = 0
        for _ in range(nr_pass):
            if not retry:
                break
            retry = 0
            nr_retry_pages = 0
            unmapped = []
            for src in list(frm):
                rc, dst, was_mapped = await self.migrate_folio_unmap(
                    src, get_new_folio, put_new_folio, mode, me)
                if rc == ENOMEM:
                    # no target page: the rest stay on frm; the unmapped ones still move
                    nr_failed += 1
                    stats.nr_failed_pages += 1
                    rc_out = ENOMEM
                    break
                if rc == EAGAIN:
                    retry += 1
                    nr_retry_pages += 1
                elif rc == MIGRATEPAGE_SUCCESS:        # freed under us
                    frm.remove(src)
                    stats.nr_succeeded += 1
                elif rc == MIGRATEPAGE_UNMAP:
                    frm.remove(src)
                    unmapped.append((src, dst, was_mapped))
                else:                                  # -EBUSY and other permanent failures
                    frm.remove(src)
                    ret_folios.append(src)
                    nr_failed += 1
                    stats.nr_failed_pages += 1
            await try_to_unmap_flush(sub, me)         # the batch's deferred TLB flushes
            for src, dst, was_mapped in unmapped:
                rc = await self.migrate_folio_move(src, dst, was_mapped, put_new_folio, me)
                if rc == MIGRATEPAGE_SUCCESS:
                    stats.nr_succeeded += 1
                else:                                  # -EAGAIN: undone, back on frm
                    frm.append(src)
                    retry += 1
                    nr_retry_pages += 1
            if rc_out == ENOMEM:
                return ENOMEM
        nr_failed += retry
        stats.nr_failed_pages += nr_retry_pages
        return nr_failed

    # ---------------------------------------------------------- one folio
    async def migrate_folio_unmap(self, src: int, get_new_folio, put_new_folio, mode: int, me):
        """migrate_folio_unmap: (rc, dst, was_mapped)."""
        sub = self.sub
        mm = self.mem_map
        locks = sub.folio_locks
        if mm.ref[src] == 1:                           # freed from under us
            mm.f[src] &= ~PG_active
            await self.migrate_folio_done(src, me)
            return MIGRATEPAGE_SUCCESS, -1, False
        dst = await get_new_folio(src)
        if dst < 0:
            self.fail_reasons["nomem"] += 1
            return ENOMEM, -1, False
        rc = EAGAIN
        if not locks.folio_trylock(src, me):
            if mode == MIGRATE_ASYNC:
                self.fail_reasons["locked"] += 1
                await put_new_folio(dst)
                return EAGAIN, -1, False
            await locks.folio_lock(src, me)
        else:
            self.engine.charge(self.costs.atomic_rmw_ns)
        if mm.f[src] & PG_writeback:
            if mode != MIGRATE_SYNC:
                rc = EBUSY
                self.fail_reasons["writeback"] += 1
            else:
                # folio_wait_writeback: the I/O ends in the block layer; poll at
                # context-switch granularity (simplification: no writeback waitqueue)
                while mm.f[src] & PG_writeback:
                    await self.engine.spend(self.costs.context_switch_ns)
        if rc != EBUSY:
            locks.folio_trylock(dst, me)               # a fresh folio: never contended
            was_mapped = False
            if self.rmap.mc[src]:
                await self.try_to_migrate(src, mode == MIGRATE_ASYNC, me)
                was_mapped = True
            if not self.rmap.mc[src]:
                return MIGRATEPAGE_UNMAP, dst, was_mapped
            self.fail_reasons["mapped"] += 1
            # migrate_folio_undo_src: put back the entries made so far
            await self.remove_migration_ptes(src, src, me)
            locks.folio_unlock(dst, me)
        locks.folio_unlock(src, me)
        await put_new_folio(dst)
        return rc, -1, False

    async def migrate_folio_move(self, src: int, dst: int, was_mapped: bool, put_new_folio,
                                 me) -> int:
        """migrate_folio_move: copy, switch the mapping, remap, free the old folio."""
        sub = self.sub
        rc = await self.move_to_new_folio(src, dst, me)
        if rc != MIGRATEPAGE_SUCCESS:
            # migrate_folio_undo_src/dst: the old folio is mapped again
            self.fail_reasons["refs"] += 1
            if was_mapped:
                await self.remove_migration_ptes(src, src, me)
            sub.folio_locks.folio_unlock(dst, me)
            sub.folio_locks.folio_unlock(src, me)
            await put_new_folio(dst)
            return rc
        file = self.folio_is_file_lru(src) == 1
        await sub.lru.folio_add_lru(dst, file, me)
        if was_mapped:
            await self.remove_migration_ptes(src, dst, me)
        sub.folio_locks.folio_unlock(dst, me)
        # folio_put(dst): the allocation's reference; the last one when the old
        # folio had no mapping left and the lru_add batch already went
        await sub.lru.folios_put_refs([(dst, 1)], me, count=False)
        sub.folio_locks.folio_unlock(src, me)
        await self.migrate_folio_done(src, me)
        return MIGRATEPAGE_SUCCESS

    async def migrate_folio_done(self, src: int, me):
        """migrate_folio_done: NR_ISOLATED back down, the isolation reference
        dropped (the last one for a migrated folio: it is freed)."""
        sub = self.sub
        pgdat = sub.pa.nodes[sub.pa.pfn_node(src)]
        self.vmstat.mod_node_page_state(pgdat, _NR_ISOLATED_ANON + self.folio_is_file_lru(src),
                                        -1, me)
        await sub.lru.folios_put_refs([(src, 1)], me)

    async def move_to_new_folio(self, src: int, dst: int, me) -> int:
        """move_to_new_folio -> migrate_folio -> __migrate_folio: folio_mc_copy,
        then __folio_migrate_mapping's refcount check (anonymous: the
        isolation reference only; page cache: one more, and the slot is
        replaced under xa_lock), then folio_migrate_flags."""
        eng = self.engine
        mm = self.mem_map
        rmap = self.rmap
        await eng.spend(self.costs.page_copy_ns + sub_touch(self, dst, me))    # folio_mc_copy
        m = rmap.mapping.get(src)
        anon = m is None or rmap.folio_test_anon(src)
        if anon:
            if mm.ref[src] != 1:                       # folio_expected_refs(NULL) == 1
                return EAGAIN
            if m is not None:
                rmap.mapping[dst] = m                  # newfolio->mapping, ->index
        else:
            mapping, index = m
            await mapping.xa_lock.lock("__folio_migrate_mapping")
            if mm.ref[src] != 2 or mapping.i_pages.get(index) != src:   # folio_ref_freeze
                mapping.xa_lock.unlock("__folio_migrate_mapping")
                return EAGAIN
            mm.ref[dst] += 1                           # folio_ref_add(newfolio, nr)
            mm.ref[src] -= 1                           # folio_ref_unfreeze(folio, expected - nr)
            mapping.i_pages[index] = dst               # xas_store
            rmap.mapping[dst] = m
            await eng.spend(mapping.line.write(me.cpu))
            mapping.xa_lock.unlock("__folio_migrate_mapping")
        self.moved["anon" if anon else "file"] += 1
        f = mm.f
        f[dst] = (f[dst] & ~_MIGRATE_FLAGS) | (f[src] & _MIGRATE_FLAGS)    # folio_migrate_flags
        f[src] &= ~(PG_active | PG_referenced)
        if src in rmap.anon_exclusive and not rmap.mc[src]:
            rmap.anon_exclusive.discard(src)
        return MIGRATEPAGE_SUCCESS

    # ----------------------------------------------------------- rmap side
    async def try_to_migrate(self, src: int, batch_flush: bool, me):
        """try_to_migrate(folio, TTU_BATCH_FLUSH in async mode): every PTE of
        the folio becomes a migration entry (try_to_migrate_one)."""
        from .rmap import _pte_of, _rmap_lock_read, rmap_walk_vmas
        sub = self.sub
        rmap = self.rmap
        lk = await _rmap_lock_read(sub, src, False, me)
        if lk is None:
            return
        eng = self.engine
        costs = self.costs
        f = self.mem_map.f
        ref = self.mem_map.ref
        anon = rmap.folio_test_anon(src)
        exclusive = src in rmap.anon_exclusive
        for vma, addr in rmap_walk_vmas(sub, src):
            pt, idx = _pte_of(vma, addr)
            if pt is None:
                continue
            await pt.ptl.lock("try_to_migrate_one")
            v = pt.ptes[idx]
            if not v & _PAGE_PRESENT or v >> PAGE_SHIFT != src:
                pt.ptl.unlock("try_to_migrate_one")
                continue
            mm = vma.vm_mm
            others = mm.cpumask & ~(1 << me.cpu)
            if batch_flush and others:                 # should_defer_flush
                ubc = rmap.tlb_ubc.get(me)
                if ubc is None:
                    ubc = rmap.tlb_ubc[me] = [0, False]
                ubc[0] |= mm.cpumask
                if v & _PAGE_DIRTY:
                    ubc[1] = True
                pt.ptes[idx] = 0
            else:
                pt.ptes[idx] = 0                      # ptep_clear_flush
                await sub.memory.flush_tlb_mm_range(mm, addr, addr + (1 << PAGE_SHIFT), False, me)
            if v & _PAGE_DIRTY:                        # folio_mark_dirty
                f[src] |= PG_dirty
            if v & _PAGE_RW:
                entry = make_writable_migration_entry(src)
            elif anon and exclusive:
                entry = make_readable_exclusive_migration_entry(src)
            else:
                entry = make_readable_migration_entry(src)
            pt.ptes[idx] = swp_entry_to_pte(entry)
            pt.nr_present -= 1
            pt.nr_swap += 1                            # a non-present entry keeps the table
            rmap.folio_remove_rmap_pte(src)
            ref[src] -= 1                              # folio_put: the mapping's reference
            await eng.spend(2 * costs.atomic_rmw_ns + sub.pa._touch(src, me.cpu))
            pt.ptl.unlock("try_to_migrate_one")
        if anon:
            rmap.anon_exclusive.discard(src)           # carried by the entries now
        lk.up_read("rmap_walk")

    async def remove_migration_ptes(self, src: int, dst: int, me):
        """remove_migration_ptes(src, dst): every migration entry naming
        ``src`` becomes a PTE of ``dst`` (``src`` itself on undo)."""
        from .memory import mk_pte
        from .rmap import _pte_of, rmap_walk_vmas
        sub = self.sub
        rmap = self.rmap
        m = rmap.mapping.get(dst)
        if m is None:
            return
        obj = m[0]
        anon = rmap.folio_test_anon(dst)
        # rmap_walk (not locked): anon_vma / i_mmap_rwsem for read
        lk = obj.root.rwsem if anon else obj.i_mmap_rwsem
        await lk.down_read("remove_migration_ptes")
        eng = self.engine
        ref = self.mem_map.ref
        for vma, addr in rmap_walk_vmas(sub, dst):
            pt, idx = _pte_of(vma, addr)
            if pt is None:
                continue
            await pt.ptl.lock("remove_migration_pte")
            v = pt.ptes[idx]
            if not is_migration_pte(v) or pfn_swap_entry_to_pfn(pte_to_swp_entry(v)) != src:
                pt.ptl.unlock("remove_migration_pte")
                continue
            entry = pte_to_swp_entry(v)
            # pte_mkwrite only where the VMA still allows writes (mprotect
            # turns writable entries readable; simplification: checked here)
            write = is_writable_migration_entry(entry) and bool(vma.vm_flags & 0x2)
            pt.ptes[idx] = mk_pte(dst, write)
            pt.nr_swap -= 1
            pt.nr_present += 1
            ref[dst] += 1                              # folio_get
            rmap.mc[dst] += 1                          # folio_add_anon_rmap_pte / _file_
            if anon and (is_writable_migration_entry(entry)
                         or is_readable_exclusive_migration_entry(entry)):
                rmap.anon_exclusive.add(dst)           # RMAP_EXCLUSIVE
            await eng.spend(2 * self.costs.atomic_rmw_ns + sub.pa._touch(dst, me.cpu))
            pt.ptl.unlock("remove_migration_pte")
        lk.up_read("remove_migration_ptes")

    async def migration_entry_wait(self, vmf, me) -> None:
        """migration_entry_wait: under the PTE lock check that the PTE still
        holds the migration entry, then drop the lock and sleep until the
        folio it names is unlocked (migration_entry_wait_on_locked: no
        reference taken).  The caller retries the access."""
        pt = vmf.pt
        await pt.ptl.lock("migration_entry_wait")
        v = pt.ptes[vmf.idx]
        if not is_migration_pte(v):
            pt.ptl.unlock("migration_entry_wait")
            return
        pfn = pfn_swap_entry_to_pfn(pte_to_swp_entry(v))
        pt.ptl.unlock("migration_entry_wait")
        self.entry_waits += 1
        t0 = self.engine.now
        await self.sub.folio_locks.folio_wait_unlocked(pfn, me)
        self.entry_wait_ns += self.engine.now - t0

    # ------------------------------------------------------------ reports
    def to_json(self) -> dict:
        return {"moved": dict(self.moved), "fail_reasons": dict(self.fail_reasons),
                "migration_entry_waits": self.entry_waits,
                "migration_entry_wait_ns": self.entry_wait_ns}


def sub_touch(mig: Migrate, pfn: int, me) -> int:
    """The struct page write of the new folio from me's CPU."""
    return mig.sub.pa._touch(pfn, me.cpu)
