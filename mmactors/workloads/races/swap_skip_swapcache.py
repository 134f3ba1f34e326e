"""do_swap_page()'s pte_same() recheck after dropping the lock: the ABA.

Kernel fix: 13ddaf26be32 ("mm/swap: fix race when skipping swapcache"),
Kairui Song, 2024.  For a SWP_SYNCHRONOUS_IO device (zram, a fast NVMe),
do_swap_page() skips the swap cache: it reads the swap entry from the PTE
without the PTE lock (vmf->orig_pte), allocates a folio, reads the data
synchronously, and only then takes the PTE lock and checks pte_same(*pte,
orig_pte) before mapping the folio.  The recheck catches "someone else
handled the fault", but not an ABA: if another thread faulted the same
entry in, freed the swap slot (swap_free()), wrote to the page, and reclaim
swapped the page out again to the *same* slot, the PTE holds the same swap
entry value again, pte_same() passes, and the first thread maps its folio
with the old data: silent data corruption.  The fix pins the entry with
swapcache_prepare() (the SWAP_HAS_CACHE bit, as a lock) before the read;
a second faulter that finds it set backs off and retries the fault later,
and swapcache_clear() drops it after mapping.

CPU 0 faults the address in (do_swap_page()).  CPU 1 is another thread of
the same process: it faults the same address, writes to the page, and then
reclaim (shrink_folio_list(): folio_alloc_swap(), try_to_unmap_one(),
pageout()) swaps it out again; the swap allocator hands out the lowest free
slot, which is the one just freed.

Buggy: no swapcache_prepare(); the end-of-iteration check finds the PTE
mapping a folio whose data is older than the last write (or a swap_free()
of an unused entry, "swap_free: Unused swap offset entry").
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram

SWP = 0x100                 # a swap PTE: SWP | offset
PRESENT = 0x1000            # a present PTE: PRESENT | pfn
SWAP_HAS_CACHE = 0x40
COUNT = 0x3f


async def swap_free(k, st):
    """swap_free(entry): drop the PTE's reference to the slot."""
    old = await k.atomic_fetch_sub(1, st.swap_map)
    k.BUG_ON(old & COUNT == 0, "swap_free: Unused swap offset entry 00000000 "
             "(the slot was already free)")


async def swapcache_prepare(k, st) -> bool:
    """Set SWAP_HAS_CACHE; -EEXIST if another CPU holds it."""
    while True:
        old = await k.atomic_read(st.swap_map)
        if old & SWAP_HAS_CACHE or not old & COUNT:
            return False
        if await k.atomic_cmpxchg(st.swap_map, old, old | SWAP_HAS_CACHE) == old:
            return True


async def swapcache_clear(k, st):
    await k.rmw(st.swap_map, lambda v: (v & ~SWAP_HAS_CACHE, None), "release")


class SwapSkipSwapcache(RaceProgram):
    name = "swap-skip-swapcache"
    title = "do_swap_page()'s pte_same() recheck defeated by an ABA on the swap entry"
    fix = '13ddaf26be32 ("mm/swap: fix race when skipping swapcache")'
    mirrors = ("do_swap_page() (mm/memory.c)",
               "swapcache_prepare(), swapcache_clear(), swap_free() (mm/swapfile.c)",
               "shrink_folio_list(), folio_alloc_swap(), try_to_unmap_one(), pageout() "
               "(mm/vmscan.c, mm/swap_slots.c, mm/rmap.c)")
    ncpus = 2
    model = "sc"
    finds = "data corruption: the PTE maps a folio with stale data (BUG at the end check)"

    def setup(self, mem):
        return SimpleNamespace(
            pte=mem.loc("*pte", SWP | 0),
            ptl=mem.spinlock("ptl"),
            swap_map=mem.loc("si->swap_map[0]", 1),
            swap_data=mem.loc("swap slot 0", 1),
            pages=[mem.struct(f"folio {c}", data=0) for c in "AB"],
            latest=mem.loc("latest write", 1))

    def cpu_functions(self):
        return [self.fault_a, self.fault_write_reclaim_b]

    async def do_swap_page(self, k, st, pfn):
        for _attempt in range(3):                    # the fault is retried
            orig = await k.READ_ONCE(st.pte)         # vmf->orig_pte
            if not orig & SWP:
                return                               # someone else mapped it
            if not self.buggy and not await swapcache_prepare(k, st):
                # Relax a bit to prevent rapid repeated page faults
                await k.spend(k.mem.engine.costs.context_switch_ns)
                continue
            folio = st.pages[pfn]
            await k.spend(k.mem.engine.costs.page_zero_ns)      # vma_alloc_folio()
            await k.spend(k.mem.engine.costs.swap_io_ns)        # swap_read_folio(): sync I/O
            await k.write(folio.data, await k.READ_ONCE(st.swap_data))
            await k.spin_lock(st.ptl)                            # pte_offset_map_lock()
            if await k.READ_ONCE(st.pte) != orig:                # !pte_same()
                await k.spin_unlock(st.ptl)
                if not self.buggy:
                    await swapcache_clear(k, st)
                return                                           # out_nomap
            await k.WRITE_ONCE(st.pte, PRESENT | pfn)            # set_pte_at()
            await swap_free(k, st)
            if not self.buggy:
                await swapcache_clear(k, st)
            await k.spin_unlock(st.ptl)
            return

    async def fault_a(self, k, st):
        await self.do_swap_page(k, st, 0)

    async def fault_write_reclaim_b(self, k, st):
        await self.do_swap_page(k, st, 1)
        # The thread writes to the page (through the PTE, under its lock).
        await k.spin_lock(st.ptl)
        pte = await k.READ_ONCE(st.pte)
        if pte & PRESENT:
            await k.write(st.pages[pte & 0xff].data, 2)
            await k.WRITE_ONCE(st.latest, 2)
        await k.spin_unlock(st.ptl)
        # Reclaim swaps it out: folio_alloc_swap() takes the lowest free slot.
        if await k.cmpxchg(st.swap_map, 0, 1 | SWAP_HAS_CACHE) != 0:
            return                                               # slot busy: no swap-out
        await k.spin_lock(st.ptl)
        pte = await k.READ_ONCE(st.pte)
        if not pte & PRESENT:
            await k.spin_unlock(st.ptl)
            await k.atomic_set(st.swap_map, 0)
            return
        data = await k.read(st.pages[pte & 0xff].data)
        await k.WRITE_ONCE(st.pte, SWP | 0)                      # try_to_unmap_one()
        await k.spin_unlock(st.ptl)
        await k.WRITE_ONCE(st.swap_data, data)                   # pageout(): swap_writepage()
        await swapcache_clear(k, st)                             # __remove_mapping()

    def check(self, k, st):
        mem = st.pte.mem
        pte = mem.final(st.pte)
        latest = mem.final(st.latest)
        if pte & PRESENT:
            data = mem.final(st.pages[pte & 0xff].data)
            where = f"folio {'AB'[pte & 0xff]}"
        else:
            data = mem.final(st.swap_data)
            where = "the swap slot"
        k.BUG_ON(data != latest,
                 f"data corruption: the PTE maps {where} holding version {data}, "
                 f"but the last write was version {latest} (pte_same() passed on a "
                 f"reused swap entry)")
