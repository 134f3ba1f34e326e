"""The swap cache and swap-in readahead: mm/swap_state.c (Linux 6.12), with
mm/swapfile.c's ``folio_free_swap``, ``free_swap_and_cache`` and
``__try_to_reclaim_swap`` (they free swap-cache folios, so they live beside it).

* One swap ``address_space`` per SWAP_ADDRESS_SPACE_PAGES = 2^14 slots
  (64 MiB) of each device (``init_swap_address_space``:
  ``swapper_spaces[type][offset >> SWAP_ADDRESS_SPACE_SHIFT]``), each with
  its own ``i_pages`` xarray and ``xa_lock``, taken with IRQs off
  (``xa_lock_irq``).  Its lock class is ``&xa->xa_lock``, the name lockdep
  prints for every xarray lock (the kernel keys each ``xa_init_flags`` call
  site separately and prints ``#N`` suffixes in registration order; here all
  i_pages locks share the class, which orders them the same way in rmap.c's
  table: after swap_lock, before lru_lock).
* A slot of ``i_pages`` holds the folio (``folio->swap`` = the entry,
  PG_swapcache, one reference) or, after reclaim, a shadow entry (the
  workingset's eviction cookie, :func:`workingset_eviction`) until the slot
  is reused.  ``nr_swapcached`` (NR_SWAPCACHE) counts folios in the cache.
* ``add_to_swap`` (reclaim: allocate a slot with ``folio_alloc_swap``, add
  the folio, mark it dirty), ``__delete_from_swap_cache`` (the caller holds
  the xa_lock; leaves the shadow), ``delete_from_swap_cache``.
* Swap-in: ``swap_cache_get_folio`` (RCU lookup, PG_readahead hits feed the
  readahead window and ``swap_ra_hit``), ``__read_swap_cache_async``
  (``swapcache_prepare`` as the slot's lock, a new folio locked and
  swap-backed, added to the cache; a shadow is handed to
  ``workingset_refault``; then ``folio_add_lru``), ``swapin_readahead``: VMA
  readahead (``swap_vma_readahead``, the window of ``swap_vma_ra_win``) while
  no rotational device is swapped on, else ``swap_cluster_readahead`` over
  the aligned 2^page-cluster slots; both use ``__swapin_nr_pages``.
  ``vm.page-cluster`` is a [sysctl] knob (default 3: 8 pages).
  Simplifications: no blk_plug (see block/blk_core.py), no NUMA policy
  (the local node), the VMA's ``swap_readahead_info`` is kept in a dict here.
"""
from __future__ import annotations

from ..costs import CacheLine
from ..sync import SpinLock
from .filemap import (PG_dirty, PG_locked, PG_swapbacked, PG_swapcache, PG_uptodate,
                      PG_writeback)
from .mm_types import PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT
from .swapfile import SWAP_HAS_CACHE, swp_entry, swp_offset, swp_type
from .swapops import is_migration_pte, is_swap_pte, pte_to_swp_entry
from .vmstat import NODE_STAT_ITEMS

NR_SWAPCACHE = NODE_STAT_ITEMS.index("nr_swapcached")
NR_FILE_PAGES = NODE_STAT_ITEMS.index("nr_file_pages")

__all__ = ["SwapCache", "SwapAddressSpace", "SWAP_ADDRESS_SPACE_SHIFT", "PG_readahead",
           "swapon", "swapon_standalone", "swapin_nr_pages_calc", "SWAP_RA_ORDER_CEILING"]

SWAP_ADDRESS_SPACE_SHIFT = 14
SWAP_ADDRESS_SPACE_PAGES = 1 << SWAP_ADDRESS_SPACE_SHIFT
SWAP_ADDRESS_SPACE_MASK = SWAP_ADDRESS_SPACE_PAGES - 1
SWAP_RA_ORDER_CEILING = 5            # mm/swap_state.c: the VMA window is at most 32 pages
SWAP_RA_HITS_MAX = (1 << (PAGE_SHIFT // 2)) - 1
PG_readahead = 1 << 22               # PG_reclaim's alias in the kernel; a bit of its own here
PMD_MASK = ~((1 << PMD_SHIFT) - 1)
EEXIST = 17
JIFFY_NS = 4_000_000                 # schedule_timeout(1) at HZ=250 (a distribution config)


def swapin_nr_pages_calc(prev_offset: int, offset: int, hits: int, max_pages: int,
                         prev_win: int) -> int:
    """__swapin_nr_pages: the readahead window from the recent hits ("+ 2":
    "it just happens to work well, that's all"), a power of two at least 4
    once there are hits, 1 for a non-adjacent miss, at most max_pages, and
    never below half the last window."""
    pages = hits + 2
    if pages == 2:
        if offset != prev_offset + 1 and offset != prev_offset - 1:
            pages = 1
    else:
        roundup = 4
        while roundup < pages:
            roundup <<= 1
        pages = roundup
    if pages > max_pages:
        pages = max_pages
    last_ra = prev_win // 2
    if pages < last_ra:
        pages = last_ra
    return pages


class SwapAddressSpace:
    """One of ``swapper_spaces[type]``: 64 MiB worth of swap slots."""

    __slots__ = ("name", "i_pages", "shadows", "xa_lock", "nrpages", "line")

    def __init__(self, engine, type_: int, i: int):
        self.name = f"swapper_spaces[{type_}][{i}]"
        self.i_pages: dict[int, int] = {}       # slot offset -> pfn (a folio)
        self.shadows: dict[int, int] = {}       # slot offset -> shadow (xa_is_value)
        self.xa_lock = SpinLock(engine, "&xa->xa_lock")
        self.nrpages = 0
        self.line = CacheLine(engine.costs, engine.node_of, f"{self.name}.i_pages", clock=engine)

    def __repr__(self):
        return f"<{self.name}: {self.nrpages} pages, {len(self.shadows)} shadows>"


class SwapCache:
    """The swap address spaces of every device, folio->swap, readahead state."""

    def __init__(self, sub, swap, page_cluster: int = 3):
        self.sub = sub
        self.swap = swap
        self.engine = sub.engine
        self.page_cluster = page_cluster
        self.spaces = [[SwapAddressSpace(sub.engine, si.type, i)
                        for i in range(-(-si.max // SWAP_ADDRESS_SPACE_PAGES))]
                       for si in swap.swap_info]
        self.folio_swap: dict[int, int] = {}    # pfn -> entry (folio->swap)
        self.nr_swapcached = 0                  # NR_SWAPCACHE
        # nr_rotate_swap: VMA readahead only while no rotational device is on
        self.vma_ra = not any(si.bdev_rotational for si in swap.swap_info)
        self.ra_info: dict = {}                 # vma -> (addr, win, hits): swap_readahead_info
        self.swapin_readahead_hits = 4          # atomic_t, ATOMIC_INIT(4)
        self.prev_offset = 0                    # swapin_nr_pages' statics
        self.last_readahead_pages = 0
        self._wait = {}                         # pfn -> waiters in folio_wait_writeback
        self.pinned: set[int] = set()           # entries a skip-swapcache swap-in holds
        self.pte_same_recheck = True            # [constants] DO_SWAP_PAGE_PTE_SAME
        self.pte_changed = 0                    # do_swap_page: !pte_same under the PTL
        self.nr_writeback = 0                   # folios under swap writeback (NR_WRITEBACK)
        self.writes = [0] * len(swap.swap_info) # bios per device (report/swap.py)
        self.reads = [0] * len(swap.swap_info)

    # ------------------------------------------------------------- lookups
    def swap_address_space(self, entry: int) -> SwapAddressSpace:
        return self.spaces[swp_type(entry)][swp_offset(entry) >> SWAP_ADDRESS_SPACE_SHIFT]

    def folio_swap_entry(self, pfn: int) -> int:
        """folio->swap.val of a swap-cache folio, 0 if none."""
        return self.folio_swap.get(pfn, 0)

    def get_shadow_from_swap_cache(self, entry: int):
        return self.swap_address_space(entry).shadows.get(swp_offset(entry))

    def lookup(self, entry: int) -> int:
        """The folio in the slot (xa_load), or -1."""
        return self.swap_address_space(entry).i_pages.get(swp_offset(entry), -1)

    def _mod_swapcache(self, pfn: int, delta: int, me):
        """add_to_swap_cache / __delete_from_swap_cache's counters: the folio
        is a page-cache page of the swap address space, so NR_FILE_PAGES
        (__node_stat_mod_folio) as well as NR_SWAPCACHE (nr_swapcached)."""
        self.nr_swapcached += delta
        vs = self.sub.vmstat
        pa = self.sub.pa
        pgdat = pa.nodes[pa.pfn_node(pfn)]
        vs.mod_node_page_state(pgdat, NR_FILE_PAGES, delta, me)
        vs.mod_node_page_state(pgdat, NR_SWAPCACHE, delta, me)

    def _count(self, cpu: int, name: str, n: int = 1):
        self.sub.vmstat.count_event(cpu, name, n)

    # ------------------------------------------------------------- adding
    async def add_to_swap_cache(self, pfn: int, entry: int, me):
        """add_to_swap_cache: the locked folio takes the slot (and a reference
        for the cache); returns the slot's old shadow or None."""
        f = self.sub.mem_map.f
        assert f[pfn] & PG_locked and not f[pfn] & PG_swapcache, \
            f"add_to_swap_cache: pfn {pfn:#x} unlocked or already cached"
        self.sub.mem_map.ref[pfn] += 1              # folio_ref_add(folio, nr)
        f[pfn] |= PG_swapcache
        self.folio_swap[pfn] = entry
        space = self.swap_address_space(entry)
        off = swp_offset(entry)
        flags = await space.xa_lock.lock_irqsave("add_to_swap_cache")
        shadow = space.shadows.pop(off, None)
        assert off not in space.i_pages, f"swap slot {entry:#x} already caches a folio"
        space.i_pages[off] = pfn
        space.nrpages += 1
        self._mod_swapcache(pfn, 1, me)
        await self.engine.spend(space.line.write(me.cpu) + self.engine.costs.llc_hit_ns)
        space.xa_lock.unlock_irqrestore(flags, "add_to_swap_cache")
        return shadow

    async def add_to_swap(self, pfn: int, me) -> bool:
        """add_to_swap (reclaim, the folio locked): a slot from
        folio_alloc_swap, the folio in the swap cache, then folio_mark_dirty
        (a clean PTE must not lose the data: MADV_FREE's case)."""
        entry = await self.swap.folio_alloc_swap()
        if not entry:
            return False
        # an anonymous folio is uptodate from its first fault (__folio_mark_uptodate
        # in do_anonymous_page, wp_page_copy); the bit is set where it first matters,
        # so the fault path stays as short as it was
        self.sub.mem_map.f[pfn] |= PG_uptodate
        await self.add_to_swap_cache(pfn, entry, me)
        self.sub.mem_map.f[pfn] |= PG_dirty
        return True

    # ----------------------------------------------------------- deleting
    def __delete_from_swap_cache(self, pfn: int, entry: int, shadow=None):
        """__delete_from_swap_cache: the caller holds the xa_lock and the folio
        lock; the slot keeps ``shadow`` (None: emptied); the cache's
        reference is the caller's to drop."""
        f = self.sub.mem_map.f
        assert f[pfn] & PG_swapcache and not f[pfn] & PG_writeback, \
            f"__delete_from_swap_cache: pfn {pfn:#x} not cached or under writeback"
        space = self.swap_address_space(entry)
        off = swp_offset(entry)
        assert space.i_pages.get(off) == pfn, f"swap slot {entry:#x} does not hold {pfn:#x}"
        del space.i_pages[off]
        if shadow is not None:
            space.shadows[off] = shadow
        space.nrpages -= 1
        self._mod_swapcache(pfn, -1, self.engine.current)
        del self.folio_swap[pfn]
        f[pfn] &= ~PG_swapcache

    # the kernel's name, callable from vmscan (Python mangles a leading __ inside classes)
    delete_from_swap_cache_locked = __delete_from_swap_cache

    async def delete_from_swap_cache(self, pfn: int, me):
        """delete_from_swap_cache: no shadow; the slot's SWAP_HAS_CACHE goes
        (put_swap_folio) and the cache's reference is dropped."""
        entry = self.folio_swap[pfn]
        space = self.swap_address_space(entry)
        await space.xa_lock.lock_irq("delete_from_swap_cache")
        self.__delete_from_swap_cache(pfn, entry, None)
        await self.engine.spend(space.line.write(me.cpu))
        space.xa_lock.unlock_irq("delete_from_swap_cache")
        await self.swap.put_swap_folio(entry)
        ref = self.sub.mem_map.ref
        assert ref[pfn] > 1, f"delete_from_swap_cache dropped the last reference of {pfn:#x}"
        ref[pfn] -= 1                               # folio_ref_sub: the caller has one

    async def put_swap_folio(self, pfn: int, entry: int):
        """put_swap_folio (mm/swapfile.c): drop the slot's SWAP_HAS_CACHE."""
        await self.swap.put_swap_folio(entry)

    def folio_swapcache_freeable(self, pfn: int) -> bool:
        return not self.sub.mem_map.f[pfn] & PG_writeback

    async def folio_free_swap(self, pfn: int, me) -> bool:
        """folio_free_swap (mm/swapfile.c): a locked swap-cache folio whose
        slot no PTE references any more leaves the cache; True if it did."""
        f = self.sub.mem_map.f
        if not f[pfn] & PG_swapcache or not self.folio_swapcache_freeable(pfn):
            return False
        entry = self.folio_swap[pfn]
        if self.swap.map_of(entry) & ~SWAP_HAS_CACHE:      # folio_swapped
            return False
        await self.delete_from_swap_cache(pfn, me)
        f[pfn] |= PG_dirty                                  # folio_set_dirty
        return True

    async def try_to_reclaim_swap(self, entry: int, me, unmapped: bool = True) -> bool:
        """__try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL): drop
        a slot's cached folio once nothing maps it (or swap is half full)."""
        sub = self.sub
        pfn = self.lookup(entry)
        if pfn < 0:
            return False
        ref = sub.mem_map.ref
        ref[pfn] += 1                                       # filemap_get_folio
        done = False
        if sub.folio_locks.folio_trylock(pfn, me):
            need = (unmapped and not sub.rmap.mc[pfn]) or self.swap.vm_swap_full()
            if (need and self.folio_swapcache_freeable(pfn)
                    and self.folio_swap.get(pfn) == entry
                    and self.swap.map_of(entry) == SWAP_HAS_CACHE):
                await self.delete_from_swap_cache(pfn, me)
                sub.mem_map.f[pfn] |= PG_dirty
                done = True
            sub.folio_locks.folio_unlock(pfn, me)
        await sub.lru.folios_put_refs([(pfn, 1)], me)       # folio_put
        return done

    async def free_swap_and_cache(self, entry: int, me):
        """free_swap_and_cache_nr(entry, 1) (zap of a swap PTE, under the PTL):
        drop the PTE's count; a slot left with only the cache is reclaimed."""
        left = await self.swap.swap_free(entry)
        if left == SWAP_HAS_CACHE:
            await self.try_to_reclaim_swap(entry, me)

    # ------------------------------------------------------------ swap-in
    def swap_cache_get_folio(self, entry: int, vma, addr: int, me) -> int:
        """swap_cache_get_folio: the cached folio with a reference, or -1.
        A PG_readahead hit counts swap_ra_hit and widens the next window."""
        space = self.swap_address_space(entry)
        me.debt += space.line.read(me.cpu)
        pfn = space.i_pages.get(swp_offset(entry), -1)
        if pfn < 0:
            return -1
        sub = self.sub
        sub.mem_map.ref[pfn] += 1                   # folio_try_get
        f = sub.mem_map.f
        readahead = bool(f[pfn] & PG_readahead)
        f[pfn] &= ~PG_readahead                     # folio_test_clear_readahead
        if vma is not None and self.vma_ra:
            _, win, hits = self.ra_info.get(vma, (0, 0, 4))
            if readahead:
                hits = min(hits + 1, SWAP_RA_HITS_MAX)
            self.ra_info[vma] = (addr & ~(PAGE_SIZE - 1), win, hits)
        if readahead:
            self._count(me.cpu, "swap_ra_hit")
            if vma is None or not self.vma_ra:
                self.swapin_readahead_hits += 1
        return pfn

    async def __read_swap_cache_async(self, entry: int, me) -> tuple[int, bool]:
        """__read_swap_cache_async: (pfn with a reference, new_page_allocated);
        (-1, False) when the slot is unused or no memory is left.  A new folio
        comes back locked, swap-backed, in the swap cache and on its way to
        the LRU; the caller starts its read."""
        sub = self.sub
        swap = self.swap
        eng = self.engine
        new = -1
        while True:
            space = self.swap_address_space(entry)
            await eng.spend(space.line.read(me.cpu))
            pfn = space.i_pages.get(swp_offset(entry), -1)      # filemap_get_folio
            if pfn >= 0:
                sub.mem_map.ref[pfn] += 1
                break
            pfn = -1
            if not swap.map_of(entry) & ~SWAP_HAS_CACHE and swap.slots_cache_enabled():
                break                                   # an unused slot: skip it
            if new < 0:
                # folio_alloc_mpol (vma_alloc_folio's core; no NUMA policy)
                new = await sub.pa.alloc_pages(sub.GFP_HIGHUSER_MOVABLE, 0)
                if new < 0:
                    return -1, False
            err = await swap.swapcache_prepare(entry)
            if not err:
                f = sub.mem_map.f
                sub.folio_locks.folio_trylock(new, me)  # __folio_set_locked
                f[new] |= PG_swapbacked
                shadow = await self.add_to_swap_cache(new, entry, me)
                if shadow is not None:
                    from .workingset import workingset_refault
                    workingset_refault(sub, new, shadow, me)
                await sub.lru.folio_add_lru(new, False, me)
                return new, True
            if err != EEXIST:                           # the slot was freed meanwhile
                break
            # SWAP_HAS_CACHE is set but the folio is not in the cache yet (a
            # racing swap-in, or a delete not finished): wait a jiffy, retry
            await eng.spend(JIFFY_NS)
        if new >= 0:
            await sub.lru.folios_put_refs([(new, 1)], me)
        return pfn, False

    read_swap_cache_nolock = __read_swap_cache_async

    async def read_swap_cache_async(self, entry: int, me) -> int:
        """read_swap_cache_async: the folio (referenced), read if it was new."""
        pfn, allocated = await self.__read_swap_cache_async(entry, me)
        if allocated:
            from .page_io import swap_read_folio
            await swap_read_folio(self.sub, pfn, me)
        return pfn

    def swapin_nr_pages(self, offset: int) -> int:
        """swapin_nr_pages: the cluster readahead window (global statics)."""
        max_pages = 1 << self.page_cluster
        if max_pages <= 1:
            return 1
        hits, self.swapin_readahead_hits = self.swapin_readahead_hits, 0
        pages = swapin_nr_pages_calc(self.prev_offset, offset, hits, max_pages,
                                     self.last_readahead_pages)
        if not hits:
            self.prev_offset = offset
        self.last_readahead_pages = pages
        return pages

    async def _readahead_one(self, entry: int, is_target: bool, me):
        from .page_io import swap_read_folio
        pfn, allocated = await self.__read_swap_cache_async(entry, me)
        if pfn < 0:
            return
        if allocated:
            await swap_read_folio(self.sub, pfn, me)
            if not is_target:
                self.sub.mem_map.f[pfn] |= PG_readahead     # folio_set_readahead
                self._count(me.cpu, "swap_ra")
        await self.sub.lru.folios_put_refs([(pfn, 1)], me)  # folio_put

    async def swap_cluster_readahead(self, entry: int, me) -> int:
        """swap_cluster_readahead: the aligned block of swapin_nr_pages slots
        around the entry (the swap header skipped), then the entry itself."""
        offset = swp_offset(entry)
        mask = self.swapin_nr_pages(offset) - 1
        if mask:
            si = self.swap.swap_info[swp_type(entry)]
            start = offset & ~mask
            end = offset | mask
            if not start:
                start = 1
            if end >= si.max:
                end = si.max - 1
            t = swp_type(entry)
            for off in range(start, end + 1):
                await self._readahead_one(swp_entry(t, off), off == offset, me)
            await self.sub.lru.lru_add_drain(me)
        return await self.read_swap_cache_async(entry, me)

    def swap_vma_ra_win(self, vmf) -> tuple[int, int, int]:
        """swap_vma_ra_win: (win, start, end) around the fault address inside
        its VMA and its PMD, from the VMA's last fault address, window and
        hits (swap_readahead_info)."""
        max_win = 1 << min(self.page_cluster, SWAP_RA_ORDER_CEILING)
        if max_win == 1:
            return 1, 0, 0
        vma = vmf.vma
        faddr = vmf.address
        prev_faddr, prev_win, hits = self.ra_info.get(vma, (0, 0, 4))
        win = swapin_nr_pages_calc(prev_faddr >> PAGE_SHIFT, faddr >> PAGE_SHIFT, hits,
                                   max_win, prev_win)
        self.ra_info[vma] = (faddr, win, 0)
        if win == 1:
            return 1, 0, 0
        if faddr == prev_faddr + PAGE_SIZE:
            left = faddr
        elif prev_faddr == faddr + PAGE_SIZE:
            left = faddr - (win << PAGE_SHIFT) + PAGE_SIZE
        else:
            left = faddr - (((win - 1) // 2) << PAGE_SHIFT)
        right = left + (win << PAGE_SHIFT)
        if left < 0:
            left = 0
        start = max(left, vma.vm_start, faddr & PMD_MASK)
        end = min(right, vma.vm_end, (faddr & PMD_MASK) + (1 << PMD_SHIFT))
        return win, start, end

    async def swap_vma_readahead(self, entry: int, vmf, me) -> int:
        """swap_vma_readahead: the swap PTEs of the window (read without the
        PTL, ptep_get_lockless), each read into the cache, then the target."""
        win, start, end = self.swap_vma_ra_win(vmf)
        if win > 1:
            pt = vmf.pt
            base = vmf.address - (vmf.idx << PAGE_SHIFT)
            for addr in range(start, end, PAGE_SIZE):
                v = pt.ptes[(addr - base) >> PAGE_SHIFT]
                if not is_swap_pte(v) or is_migration_pte(v):
                    continue
                await self._readahead_one(pte_to_swp_entry(v), addr == vmf.address, me)
            await self.sub.lru.lru_add_drain(me)
        return await self.read_swap_cache_async(entry, me)

    async def swapin_readahead(self, entry: int, vmf, me) -> int:
        """swapin_readahead: VMA-based unless a rotational device is swapped on."""
        if self.vma_ra:
            return await self.swap_vma_readahead(entry, vmf, me)
        return await self.swap_cluster_readahead(entry, me)

    # ----------------------------------------------------------- report
    COUNTERS = ("pswpin", "pswpout", "pgpgin", "pgpgout", "pgmajfault", "swap_ra",
                "swap_ra_hit")

    def to_json(self) -> dict:
        """The swap cache and swap I/O: nr_swapcached, the address spaces in
        use, shadows, bios per device, the /proc/vmstat swap counters."""
        vs = self.sub.vmstat
        ev = {k: vs.event(k) for k in self.COUNTERS if k in vs.ev}
        ra, hit = ev.get("swap_ra", 0), ev.get("swap_ra_hit", 0)
        devices = []
        for si, spaces in zip(self.swap.swap_info, self.spaces):
            devices.append({
                "name": si.name, "bdev": getattr(si.bdev, "name", None),
                "synchronous_io": bool(si.bdev is not None and si.bdev.synchronous),
                "address_spaces": len(spaces),
                "address_spaces_used": sum(1 for a in spaces if a.nrpages or a.shadows),
                "swapcached": sum(a.nrpages for a in spaces),
                "shadows": sum(len(a.shadows) for a in spaces),
                "write_bios": self.writes[si.type], "read_bios": self.reads[si.type]})
        return {"nr_swapcached": self.nr_swapcached, "nr_writeback": self.nr_writeback,
                "swapin_pte_changed": self.pte_changed,
                "page_cluster": self.page_cluster,
                "readahead": "vma" if self.vma_ra else "cluster",
                "swap_ra_hit_rate": round(hit / ra, 4) if ra else None,
                "counters": ev, "devices": devices}

    # ----------------------------------------------------------- checks
    def _check(self):
        """Swap cache against the folios and the swap_map: each cached folio is
        PG_swapcache with its entry, its slot has SWAP_HAS_CACHE, nrpages and
        nr_swapcached agree, no slot holds both a folio and a shadow."""
        f = self.sub.mem_map.f
        ref = self.sub.mem_map.ref
        n = 0
        for t, spaces in enumerate(self.spaces):
            for i, space in enumerate(spaces):
                assert space.nrpages == len(space.i_pages), f"{space}: nrpages drifted"
                n += space.nrpages
                for off, pfn in space.i_pages.items():
                    e = swp_entry(t, off)
                    assert off >> SWAP_ADDRESS_SPACE_SHIFT == i
                    assert self.folio_swap.get(pfn) == e, f"pfn {pfn:#x}: folio->swap != {e:#x}"
                    assert f[pfn] & PG_swapcache, f"pfn {pfn:#x} cached without PG_swapcache"
                    assert ref[pfn] >= 1, f"pfn {pfn:#x} in the swap cache but free"
                    assert self.swap.map_of(e) & SWAP_HAS_CACHE, \
                        f"slot {e:#x} caches pfn {pfn:#x} without SWAP_HAS_CACHE"
                    assert off not in space.shadows, f"slot {e:#x}: a folio and a shadow"
        assert n == len(self.folio_swap) == self.nr_swapcached, \
            f"swap cache: {n} slots, {len(self.folio_swap)} folios, nr_swapcached " \
            f"{self.nr_swapcached}"
        self._check_accounting()

    def _check_accounting(self):
        """Across the machine, at a quiescent point (no task inside a swap
        path): every swap_map count equals the swap PTEs naming the slot;
        SWAP_HAS_CACHE is set exactly on slots the swap cache holds, the slots
        cache holds, or a swap-in pins (skip-swapcache); a free slot (map 0)
        or a slot in the slots cache is named by no PTE and cached by no
        folio; every mm's MM_SWAPENTS and every table's nr_swap match its PTEs."""
        from .swapfile import SWAP_HAS_CACHE as HAS, SWAP_MAP_SHMEM
        sub = self.sub
        swap = self.swap
        refs: dict[int, int] = {}
        for mm in sub.mms:
            ents = 0
            for pt in mm.pgtables.values():
                n = migr = 0
                for v in pt.ptes:
                    if v and not v & 1:
                        if is_migration_pte(v):       # counted in nr_swap, not in swap_map
                            n += 1
                            migr += 1
                            continue
                        e = pte_to_swp_entry(v)
                        refs[e] = refs.get(e, 0) + 1
                        n += 1
                assert n == pt.nr_swap, f"mm{mm.id}: nr_swap {pt.nr_swap} but {n} swap PTEs"
                ents += n - migr
            assert ents == mm.rss[mm.MM_SWAPENTS], \
                f"mm{mm.id}: MM_SWAPENTS {mm.rss[mm.MM_SWAPENTS]} but {ents} swap PTEs"
        shm: set[int] = set()                         # slots tmpfs files own (SWAP_MAP_SHMEM)
        for file in getattr(sub, "files", ()):
            for e in file.swap_entries.values():
                assert e not in shm and e not in refs, f"slot {e:#x} owned twice"
                shm.add(e)
        cached = set(self.folio_swap.values())
        in_slots_cache = swap.cached_slots()
        import numpy as np
        for si in swap.swap_info:
            m = si.swap_map
            for off in np.flatnonzero(m[1:]) + 1:
                off = int(off)
                e = swp_entry(si.type, off)
                c = int(m[off])
                count = c & ~HAS
                if count == SWAP_MAP_SHMEM:             # a tmpfs file's slot, no PTE's
                    assert e in shm, f"{si.name} slot {off}: SWAP_MAP_SHMEM but no file owns it"
                    shm.discard(e)
                else:
                    assert count == refs.pop(e, 0), \
                        f"{si.name} slot {off}: swap_map count {count}, swap PTEs " \
                        f"{refs.get(e, 0)}"
                if c & HAS:
                    assert e in cached or e in in_slots_cache or e in self.pinned, \
                        f"{si.name} slot {off}: SWAP_HAS_CACHE without a cached folio"
                    if e in in_slots_cache:
                        assert c == HAS and e not in cached, \
                            f"{si.name} slot {off}: in the slots cache and in use ({c:#x})"
                else:
                    assert e not in cached, f"{si.name} slot {off}: cached without SWAP_HAS_CACHE"
        assert not refs, f"swap PTEs name free slots: {sorted(refs)[:4]}"
        assert not shm, f"tmpfs swap entries name free slots: {sorted(shm)[:4]}"


def swapon(sub, swap, page_cluster: int = 3) -> SwapCache:
    """The machine's swap devices join its address spaces (swapon's
    init_swap_address_space for each; sub.swap and sub.swap_cache)."""
    sub.swap = swap
    sub.swap_cache = swap.swap_cache = SwapCache(sub, swap, page_cluster)
    return sub.swap_cache


def swapon_standalone(sub, devices: list[dict], version: str = "6.12",
                      page_cluster: int = 3) -> SwapCache:
    """Swap for a standalone AddrSpace (tests): zram devices by default, whose
    I/O completes in the caller, so the SyncDriver never waits."""
    from ..block import make_device
    from .swapfile import SWP_SYNCHRONOUS_IO, Swap
    eng = sub.engine
    specs = [dict({"priority": None, "device": "zram", "latency_ns": 0, "bandwidth_mib_s": 0},
                  **d) for d in devices]
    node_of = [0] * sub.ncpus
    sw = Swap(eng, specs, ncpus=sub.ncpus, node_of=node_of, version=version)
    for si in sw.swap_info:
        si.bdev = make_device(eng, {"name": f"{si.device}swap{si.type}", "kind": si.device})
        if si.bdev.synchronous:
            si.flags |= SWP_SYNCHRONOUS_IO
        # a blk-mq device's actor is started by the caller (bdev.start())
        # right before a scheduled run: with it on the engine the SyncDriver
        # could no longer run calls to completion
        si.bdev_rotational = bool(getattr(si.bdev, "rotational", False))
    return swapon(sub, sw, page_cluster)
