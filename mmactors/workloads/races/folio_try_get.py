"""A lockless page-cache lookup racing with the final folio_put().

Kernel fix: e286781d5f2e ("mm: speculative page references"), Nick Piggin,
2008: the page cache became readable under RCU, without the tree lock, so a
lookup may find a page whose last reference is being dropped at that moment
(truncation, reclaim).  A plain get_page() would then take a reference on a
page already on its way back to the allocator; the fix takes the reference
only if the count is not zero (get_page_unless_zero(), today
folio_try_get()) and then re-checks that the slot still holds the page.

CPU 0 is filemap_get_entry() (mm/filemap.c): rcu_read_lock(), xas_load(),
folio_try_get(), xas_reload(), then uses the folio and folio_put()s it.
CPU 1 is truncation: filemap_remove_folio() (xas_store(NULL) under the
xa_lock, folio->mapping = NULL) then folio_put() of the page cache's
reference; the final put frees the folio (free_pages_prepare(): bad_page()
checks, page->mapping = NULL, __SetPageBuddy()).

Buggy: folio_get() (VM_BUG_ON_FOLIO(folio_ref_zero_or_close_to_overflow()),
then an unconditional increment).  It fails as the VM_BUG_ON, a
use-after-free (the looked-up folio is PageBuddy), a double free in
bad_page(), or a KCSAN report on folio->mapping written by two frees.
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram

PG_BUDDY = 0xf0000080          # page_type of a free page (PageBuddy)


async def folio_put(k, folio):
    """folio_put(): drop a reference; the last one frees the folio."""
    if await k.atomic_dec_and_test(folio._refcount):       # folio_put_testzero()
        await free_pages_prepare(k, folio)


async def free_pages_prepare(k, folio):
    """__folio_put() -> free_unref_folios() -> free_pages_prepare()."""
    k.VM_BUG_ON(await k.READ_ONCE(folio.page_type) == PG_BUDDY,
                "BUG: Bad page state: double free of a folio already in the buddy "
                "allocator (bad_page: PageBuddy)")
    await k.write(folio.mapping, None)                    # page->mapping = NULL
    await k.WRITE_ONCE(folio.page_type, PG_BUDDY)          # __SetPageBuddy()


async def folio_get(k, folio):
    """folio_get(): the caller must already hold a reference."""
    k.VM_BUG_ON(await k.atomic_read(folio._refcount) <= 0,
                "VM_BUG_ON_FOLIO(folio_ref_zero_or_close_to_overflow(folio)): "
                "folio_get() on a folio whose last reference is gone")
    await k.atomic_inc(folio._refcount)                    # folio_ref_inc()


async def folio_try_get(k, folio) -> bool:
    """folio_try_get(): folio_ref_add_unless(folio, 1, 0)."""
    return await k.atomic_add_unless(folio._refcount, 1, 0)


class FolioTryGet(RaceProgram):
    name = "folio-try-get"
    title = "lockless page-cache lookup (RCU) racing with the final folio_put()"
    fix = 'e286781d5f2e ("mm: speculative page references")'
    mirrors = ("filemap_get_entry() (mm/filemap.c)",
               "folio_try_get(), folio_get() (include/linux/page_ref.h, mm.h)",
               "filemap_remove_folio(), page_cache_delete() (mm/filemap.c)",
               "folio_put() (include/linux/mm.h)", "free_pages_prepare() (mm/page_alloc.c)")
    ncpus = 2
    model = "sc"
    finds = "VM_BUG_ON_FOLIO / use-after-free / double free, or KCSAN on folio->mapping"

    def setup(self, mem):
        folio = mem.struct("folio", _refcount=1, page_type=0, mapping="mapping")
        return SimpleNamespace(
            folio=folio,
            slot=mem.loc("mapping->i_pages[index]", folio),
            xa_lock=mem.spinlock("&mapping->i_pages.xa_lock"))

    def cpu_functions(self):
        return [self.filemap_get_entry, self.truncate_inode_folio]

    async def filemap_get_entry(self, k, st):
        await k.rcu_read_lock()
        while True:
            folio = await k.rcu_dereference(st.slot)            # xas_load()
            if folio is None:
                break
            if self.buggy:
                await folio_get(k, folio)
                break
            if not await folio_try_get(k, folio):
                continue                                        # goto repeat
            if folio is not await k.rcu_dereference(st.slot):   # xas_reload()
                await folio_put(k, folio)
                continue
            break
        await k.rcu_read_unlock()
        if folio is None:
            return
        # The caller holds a reference now: the folio must be a live page.
        k.VM_BUG_ON(await k.READ_ONCE(folio.page_type) == PG_BUDDY,
                    "BUG: KASAN: use-after-free: the page-cache lookup returned a folio "
                    "that is free in the buddy allocator")
        await folio_put(k, folio)

    async def truncate_inode_folio(self, k, st):
        folio = st.folio
        # filemap_remove_folio() -> __filemap_remove_folio() -> page_cache_delete()
        await k.spin_lock(st.xa_lock)
        await k.rcu_assign_pointer(st.slot, None)               # xas_store(&xas, NULL)
        await k.write(folio.mapping, None)                      # folio->mapping = NULL
        await k.spin_unlock(st.xa_lock)
        await folio_put(k, folio)                                # the page cache's reference

    def check(self, k, st):
        mem = st.folio._refcount.mem
        ref = mem.final(st.folio._refcount)
        k.BUG_ON(ref != 0 or mem.final(st.folio.page_type) != PG_BUDDY,
                 f"folio leaked: refcount {ref} after every reference was dropped")
