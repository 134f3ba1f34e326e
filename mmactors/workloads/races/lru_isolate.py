"""Two isolations of one folio from the LRU: a PageLRU test racing with
isolation under the lru_lock.

Kernel fix: a8691f75e2c1 ("mm/lru: introduce TestClearPageLRU()"), Alex
Shi, 2020 (the per-memcg lru_lock series).  With the lruvec lock chosen by
the folio's memcg, the lock can no longer protect the PG_lru test itself;
the fix makes clearing PG_lru the act of isolation: whoever clears the bit
with an atomic test-and-clear owns the folio, and only that CPU takes the
lruvec lock and unlinks it.

CPU 0 is folio_isolate_lru() (mm/vmscan.c), CPU 1 is the isolation in
isolate_migratepages_block() (mm/compaction.c); both then take the folio
off its LRU list under the lruvec's lru_lock (lruvec_del_folio(), with
CONFIG_DEBUG_LIST's list_del() checks).

Buggy: folio_test_lru() outside the lock, folio_clear_lru() inside it: both
CPUs see PG_lru and both unlink the folio: "list_del corruption".
Fixed: folio_test_clear_lru() (test_and_clear_bit(PG_lru)).
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram

PG_lru = 4
LINKED, LIST_POISON1 = 1, 0x100


async def lruvec_del_folio(k, st):
    """list_del(&folio->lru) (CONFIG_DEBUG_LIST) and update_lru_size()."""
    folio, lruvec = st.folio, st.lruvec
    nxt = await k.read(folio.lru)
    k.BUG_ON(nxt == LIST_POISON1,
             "list_del corruption, folio->lru.next is LIST_POISON1 (00000100): the "
             "folio was already taken off the LRU")
    await k.write(folio.lru, LIST_POISON1)
    n = await k.read(lruvec.nr_pages)
    await k.write(lruvec.nr_pages, n - 1)


class LRUIsolate(RaceProgram):
    name = "lru-isolate"
    title = "a PageLRU test racing with isolation under lru_lock"
    fix = 'a8691f75e2c1 ("mm/lru: introduce TestClearPageLRU()")'
    mirrors = ("folio_isolate_lru() (mm/vmscan.c)",
               "isolate_migratepages_block() (mm/compaction.c)",
               "folio_test_clear_lru() (include/linux/page-flags.h)",
               "lruvec_del_folio() (include/linux/mm_inline.h)")
    ncpus = 2
    model = "sc"
    finds = "list_del corruption (BUG)"

    def setup(self, mem):
        return SimpleNamespace(
            folio=mem.struct("folio", _refcount=1, flags=1 << PG_lru, lru=LINKED),
            lruvec=mem.struct("lruvec", nr_pages=1),
            lru_lock=mem.spinlock("&lruvec->lru_lock"),
            isolated=[False, False])

    def cpu_functions(self):
        return [self.folio_isolate_lru, self.isolate_migratepages_block]

    async def _isolate(self, k, st, who):
        folio = st.folio
        if self.buggy:
            if not await k.test_bit(PG_lru, folio.flags):       # folio_test_lru()
                return
            await k.atomic_inc(folio._refcount)                  # folio_get()
            await k.spin_lock(st.lru_lock)
            await k.clear_bit(PG_lru, folio.flags)               # folio_clear_lru()
        else:
            if not await k.test_and_clear_bit(PG_lru, folio.flags):  # folio_test_clear_lru()
                return
            await k.atomic_inc(folio._refcount)
            await k.spin_lock(st.lru_lock)
        await lruvec_del_folio(k, st)
        await k.spin_unlock(st.lru_lock)
        st.isolated[who] = True

    async def folio_isolate_lru(self, k, st):
        await self._isolate(k, st, 0)

    async def isolate_migratepages_block(self, k, st):
        await self._isolate(k, st, 1)

    def check(self, k, st):
        mem = st.folio.lru.mem
        n = sum(st.isolated)
        k.BUG_ON(n != 1 or mem.final(st.lruvec.nr_pages) != 0
                 or mem.final(st.folio._refcount) != 1 + n,
                 f"{n} CPUs isolated the folio (expected exactly one)")
