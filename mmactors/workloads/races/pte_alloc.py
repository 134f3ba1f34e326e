"""A page table published without the barrier in __pte_alloc()/pmd_populate.

Kernel fix: 362a61ad6119 ("fix SMP data race in pagetable setup vs
walking"), Nick Piggin, 2008: a new page-table page is zeroed and then
made visible with pmd_populate(); a lockless walker (gup_fast(), a
hardware walker, follow_page()) reads the pmd and then the PTEs through it,
relying on the address dependency.  Without a write barrier between the
zeroing stores and the pmd store, a weakly ordered CPU may make the pmd
visible first, and the walker reads the page's stale contents as PTEs.
The fix added ``smp_wmb(); /* Could be smp_wmb__xxx(before|after)_spin_lock */``
before taking the page-table lock (today in pmd_install()).

CPU 0 is __pte_alloc() -> pte_alloc_one() (the page comes from the
allocator with old contents, then __GFP_ZERO clears it: plain stores) ->
pmd_install() (spin_lock(&mm->page_table_lock), pmd_none() check,
pmd_populate()).  CPU 1 is the lockless walk of gup_fast_pmd_range() ->
gup_fast_pte_range(): pmdp_get_lockless(), then ptep_get_lockless() of the
PTEs through it.

The default model is lkmm: there the pmd store can reach CPU 1 before the
zeroing stores, and the walker sees a "bad pte" (the buggy variant's
scenario runs with the race detector off to show exactly that).  With the
race detector on, the missing barrier is a KCSAN data race between the
zeroing store and the walker's read under any model, since nothing orders
them.
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram

STALE = 0xdead4ead00000867     # what the recycled page held: looks like a present PTE
NPTES = 2
WALKS, WALK_GAP_NS = 8, 100


class PteAlloc(RaceProgram):
    name = "pte-alloc"
    title = "a page table published without the barrier in pmd_populate"
    fix = '362a61ad6119 ("fix SMP data race in pagetable setup vs walking")'
    mirrors = ("__pte_alloc(), pmd_install() (mm/memory.c)",
               "pte_alloc_one() (include/asm-generic/pgalloc.h)",
               "pmd_populate() (arch/x86/include/asm/pgalloc.h)",
               "gup_fast_pmd_range(), gup_fast_pte_range() (mm/gup.c)")
    ncpus = 2
    model = "lkmm"
    finds = "bad pte (BUG) under lkmm; KCSAN data race on the PTE under any model"

    def setup(self, mem):
        fields = {f"pte{i}": STALE for i in range(NPTES)}
        return SimpleNamespace(
            pmd=mem.loc("*pmd", None),
            table=mem.struct("pte page", **fields),
            page_table_lock=mem.spinlock("&mm->page_table_lock"))

    def cpu_functions(self):
        return [self.do_anonymous_page, self.gup_fast]

    async def do_anonymous_page(self, k, st):
        # __pte_alloc(): pte_alloc_one() gives a page with old contents,
        # cleared with plain stores (clear_page()).
        new = st.table
        for i in range(NPTES):
            await k.write(getattr(new, f"pte{i}"), 0)
        # pmd_install():
        if not self.buggy:
            await k.smp_wmb()    # Could be smp_wmb__xxx(before|after)_spin_lock
        await k.spin_lock(st.page_table_lock)
        if await k.READ_ONCE(st.pmd) is None:                    # pmd_none(*pmd)
            await k.WRITE_ONCE(st.pmd, new)                      # pmd_populate()
        await k.spin_unlock(st.page_table_lock)

    async def gup_fast(self, k, st):
        # Another thread of the process keeps pinning the range (O_DIRECT
        # I/O, say): gup_fast() is retried until the pmd is populated.
        for _ in range(WALKS):
            pmd = await k.READ_ONCE(st.pmd)                      # pmdp_get_lockless()
            if pmd is not None:
                break
            await k.spend(WALK_GAP_NS)                           # pmd_none(): slow path
        else:
            return
        for i in range(NPTES):
            pte = await k.READ_ONCE(getattr(pmd, f"pte{i}"))     # ptep_get_lockless()
            k.BUG_ON(pte == STALE,
                     f"BUG: Bad page map: bad pte {pte:016x} read by a lockless walker: "
                     f"the pmd was visible before the page table was zeroed")
