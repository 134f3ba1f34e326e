"""Buffered file reads and writes through the page cache: the I/O entry
points of mm/filemap.c (Linux 6.12).  Split from filemap.py/filemap_core.py
only because they call mm/readahead.py, which calls filemap_core.py.

Reads (``filemap_read`` <- ``generic_file_read_iter``)
  * :func:`filemap_get_read_batch`: the lockless lookup (``rcu_read_lock``,
    ``xas_load``): per folio a ``folio_try_get`` (an atomic on the folio's
    struct page line) and the recheck; the batch stops after the first folio
    that is !uptodate or carries PG_readahead.
  * :func:`filemap_get_pages`: on a miss ``page_cache_sync_readahead`` and a
    second lookup; still nothing: ``filemap_create_folio`` (one folio read
    with ``->read_folio``); a PG_readahead folio last in the batch:
    ``page_cache_async_ra``; a !uptodate one: ``filemap_update_page``
    (``folio_trylock`` or, usually, wait for the readahead I/O with
    ``folio_put_wait_locked`` and retry).
  * :func:`filemap_read`: ``folio_mark_accessed`` on the first folio unless
    the previous read ended in it (``pos_same_folio``) and on every further
    one, ``copy_folio_to_iter`` (``page_copy_ns`` per 4 KiB, pro rata),
    ``folio_put`` of the batch, ``ra->prev_pos``.
  * :func:`filemap_read_cached`: the same steps for a read within one
    folio that the first lookup finds uptodate without PG_readahead (a
    hit), as a plain function: a hit never sleeps, so read loops call it
    first and make no coroutine per read (tests check that runs with and
    without it are the same, trace and all).
Writes (``generic_perform_write`` <- ``generic_file_write_iter`` under
``i_rwsem``): ``->write_begin`` (``__filemap_get_folio(FGP_WRITEBEGIN)``:
lookup, lock, or allocate with ``__GFP_WRITE`` and add; a partial write of
a !uptodate folio reads it first, as ``__block_write_begin`` does),
the copy, ``->write_end`` (uptodate, ``folio_mark_dirty``, unlock, put),
``i_size`` extended, then ``balance_dirty_pages_ratelimited``; the dirtying
and throttling are mm/page_writeback.py's.

Page-cache hit accounting (not a kernel counter; what cachestat-style tools
estimate): a page a read copies is a *hit* when the first lookup found it
uptodate, a *miss* when the read had to start I/O for it or wait for I/O in
flight.  Kept per CPU in :class:`PageCacheStats` (``engine.runvars``).
Simplifications: order-0 folios only; no IOCB_NOWAIT/NOIO/WAITQ (no
io_uring or AIO), no ``file_accessed`` (atime: as mounted noatime), no
``mapping_writably_mapped`` flush (x86 has no D-cache aliasing).
"""
from __future__ import annotations

from ._internal import CacheStats
from .filemap import (PG_active, PG_locked, PG_readahead, PG_referenced, PG_uptodate,
                      PG_writeback)
from .filemap_core import (EEXIST, EIO, ENOMEM, filemap_add_folio, filemap_alloc_folio,
                           folio_wait_locked, mapping_gfp_mask)
from .gfp import __GFP_WRITE, GFP_KERNEL
from .readahead import page_cache_async_readahead, page_cache_sync_readahead

__all__ = ["filemap_read", "filemap_read_cached", "filemap_get_pages", "filemap_get_read_batch",
           "filemap_create_folio", "filemap_update_page", "filemap_read_folio",
           "generic_perform_write", "PageCacheStats", "pagecache_stats", "AOP_TRUNCATED_PAGE"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
AOP_TRUNCATED_PAGE = 0x80001


class PageCacheStats:
    """Per-CPU page-cache read figures: pages hit and missed, sync and
    async readahead calls, reads that waited for a folio's I/O.  ``cache``
    is the same hits and misses as a per-CPU cache row (report/caches.py)."""

    def __init__(self, ncpus: int):
        self.cache = CacheStats("pagecache", ncpus)
        self.hits = self.cache.alloc_hits            # the same lists
        self.misses = self.cache.alloc_misses
        self.ra_sync = [0] * ncpus
        self.ra_async = [0] * ncpus
        self.waits = [0] * ncpus
        self.bytes_read = [0] * ncpus
        self.bytes_written = [0] * ncpus

    def to_json(self) -> dict:
        h, m = sum(self.hits), sum(self.misses)
        return {"hits": h, "misses": m, "hit_rate": round(h / (h + m), 4) if h + m else None,
                "ra_sync": sum(self.ra_sync), "ra_async": sum(self.ra_async),
                "waits": sum(self.waits), "bytes_read": sum(self.bytes_read),
                "bytes_written": sum(self.bytes_written),
                "per_cpu": [{"cpu": c, "hits": self.hits[c], "misses": self.misses[c]}
                            for c in range(len(self.hits)) if self.hits[c] or self.misses[c]]}


def pagecache_stats(sub) -> PageCacheStats:
    eng = sub.engine
    st = eng.runvars.get(PageCacheStats)
    if st is None:
        st = eng.runvars[PageCacheStats] = PageCacheStats(sub.ncpus)
    return st


def _folio_put(sub, pfn: int, me):
    """folio_put of a reference that is not the last (the cache holds one);
    None, or the coroutine to await when it is (the folio left the cache)."""
    ref = sub.mem_map.ref
    if ref[pfn] > 1:
        ref[pfn] -= 1
        return None
    return sub.lru.folios_put_refs([(pfn, 1)], me)


def filemap_get_read_batch(sub, mapping, index: int, last: int, me) -> list:
    """filemap_get_read_batch: [(index, pfn)] with a reference each (costs to me.debt)."""
    pages = mapping.i_pages
    pfn = pages.get(index)
    if pfn is None:
        me.debt += mapping.line.read(me.cpu)
        return []
    f = sub.mem_map.f
    ref = sub.mem_map.ref
    cost = mapping.line.read(me.cpu)                  # xas_load: the xarray node's line
    touch = sub.mem_map_line
    out = []
    while True:
        ref[pfn] += 1                                 # folio_try_get
        cost += touch(pfn, me)
        out.append((index, pfn))
        fl = f[pfn]
        if not fl & PG_uptodate or fl & PG_readahead or len(out) >= 31:   # PAGEVEC_SIZE batch
            break
        index += 1
        if index > last:
            break
        pfn = pages.get(index)
        if pfn is None:
            break
    me.debt += cost
    return out


async def filemap_read_folio(sub, file, mapping, index: int, pfn: int, me) -> int:
    """filemap_read_folio: ->read_folio, then wait for the I/O (the folio
    lock the completion releases); -EIO if it did not come back uptodate."""
    await mapping.a_ops.read_folio(sub, mapping, index, pfn, me)
    await folio_wait_locked(sub, pfn, me)
    if sub.mem_map.f[pfn] & PG_uptodate:
        return 0
    return -EIO


async def filemap_create_folio(sub, file, mapping, pos: int, me):
    """filemap_create_folio: allocate, add and read one folio: [(index, pfn)] or an error."""
    pfn = await filemap_alloc_folio(sub, mapping_gfp_mask(mapping))
    if pfn < 0:
        return -ENOMEM
    inv = mapping.invalidate_lock
    await inv.down_read("filemap_create_folio")
    index = pos >> PAGE_SHIFT
    err = await filemap_add_folio(sub, mapping, pfn, index,
                                  mapping_gfp_mask(mapping) & GFP_KERNEL, me)
    if err == -EEXIST:
        err = AOP_TRUNCATED_PAGE
    if not err:
        err = await filemap_read_folio(sub, file, mapping, index, pfn, me)
    inv.up_read("filemap_create_folio")
    if err:
        await sub.lru.folios_put_refs([(pfn, 1)], me)
        return err
    return [(index, pfn)]


async def filemap_update_page(sub, file, mapping, index: int, pfn: int, me) -> int:
    """filemap_update_page: bring a cached !uptodate folio uptodate.  If its
    lock is held (the readahead I/O in flight) wait for the unlock and return
    AOP_TRUNCATED_PAGE (the caller looks it up again), the folio put."""
    locks = sub.folio_locks
    inv = mapping.invalidate_lock
    await inv.down_read("filemap_update_page")
    if not locks.folio_trylock(pfn, me):
        inv.up_read("filemap_update_page")
        pagecache_stats(sub).waits[me.cpu] += 1
        await folio_wait_locked(sub, pfn, me)         # folio_put_wait_locked
        put = _folio_put(sub, pfn, me)
        if put is not None:
            await put
        return AOP_TRUNCATED_PAGE
    if sub.rmap.mapping.get(pfn) is None:             # truncated meanwhile
        err = AOP_TRUNCATED_PAGE
        locks.folio_unlock(pfn, me)
    elif sub.mem_map.f[pfn] & PG_uptodate:
        err = 0
        locks.folio_unlock(pfn, me)
    else:
        err = await filemap_read_folio(sub, file, mapping, index, pfn, me)
    inv.up_read("filemap_update_page")
    if err == AOP_TRUNCATED_PAGE:
        put = _folio_put(sub, pfn, me)
        if put is not None:
            await put
    return err


async def filemap_get_pages(sub, file, pos: int, count: int, me, first=None):
    """filemap_get_pages: (batch, hits) with batch [(index, pfn)], each with
    a reference and uptodate, and ``hits`` the leading entries the first
    lookup found uptodate; or (error, 0).  ``first``: the result of the first
    filemap_get_read_batch when the caller already ran it (filemap_read's
    inlined hit path)."""
    mapping = file.f_mapping
    ra = file.f_ra
    index = pos >> PAGE_SHIFT
    last_index = (pos + count + PAGE_SIZE - 1) >> PAGE_SHIFT
    st = pagecache_stats(sub)
    cpu = me.cpu
    hit = True
    while True:                                       # retry:
        if first is not None:
            batch, first = first, None
        else:
            batch = filemap_get_read_batch(sub, mapping, index, last_index - 1, me)
        if not batch:
            hit = False
            st.ra_sync[cpu] += 1
            await page_cache_sync_readahead(sub, mapping, ra, file, index, last_index - index, me)
            batch = filemap_get_read_batch(sub, mapping, index, last_index - 1, me)
        if not batch:
            err = await filemap_create_folio(sub, file, mapping, pos, me)
            if err == AOP_TRUNCATED_PAGE:
                continue
            return err, 0
        idx, pfn = batch[-1]
        f = sub.mem_map.f
        if f[pfn] & PG_readahead and not f[pfn] & PG_writeback:
            st.ra_async[cpu] += 1
            await page_cache_async_readahead(sub, mapping, ra, file, pfn, idx, last_index - idx, me)
        if f[pfn] & PG_uptodate:
            return batch, (len(batch) if hit else 0)
        err = await filemap_update_page(sub, file, mapping, idx, pfn, me)
        if not err:
            return batch, (len(batch) - 1 if hit else 0)
        batch.pop()
        if err < 0:
            put = _folio_put(sub, pfn, me)
            if put is not None:
                await put
        if batch:
            return batch, (len(batch) if hit else 0)
        if err != AOP_TRUNCATED_PAGE:
            return err, 0
        hit = False


class _ReadPath:
    """What filemap_read's hit path looks up on every call, gathered once
    per run (``engine.runvars``): the struct page arrays, the cost of an
    atomic on a struct page (AddrSpace.mem_map_line, inlined: ``touch`` is
    the page allocator's line-ownership walk), the copy cost, the LRU's
    folio_mark_accessed and the per-CPU hit counters.  Pure speed: the same
    objects the slow path reaches through ``sub``."""

    __slots__ = ("f", "ref", "touch", "atomic_ns", "copy_ns", "mark", "st", "hits",
                 "bytes_read")

    def __init__(self, sub):
        self.f = sub.mem_map.f
        self.ref = sub.mem_map.ref
        self.touch = sub.pa._touch
        self.atomic_ns = sub.engine.costs.atomic_rmw_ns
        self.copy_ns = sub.engine.costs.page_copy_ns
        self.mark = sub.lru.folio_mark_accessed
        self.st = pagecache_stats(sub)
        self.hits = self.st.hits
        self.bytes_read = self.st.bytes_read


# folio_mark_accessed (mm/swap.c) does nothing to a folio already referenced
# and active (the steady state of a hot file): the hit path skips the call
_REFERENCED_ACTIVE = PG_referenced | PG_active


def filemap_read_cached(sub, file, pos: int, count: int, me) -> int:
    """filemap_read of a page-cache hit within one folio, without sleeping:
    the bytes read, or -1 (nothing done: not such a read, call
    :func:`filemap_read`).  The same steps as filemap_read's loop
    specialised to a batch of one uptodate folio without PG_readahead (the
    same costs charged in the same order, the same counters), as a plain
    function: a hit never sleeps, so callers skip a coroutine per read."""
    mapping = file.f_mapping
    isize = mapping.host.i_size
    index = pos >> PAGE_SHIFT
    if not count or pos >= isize or (pos + count - 1) >> PAGE_SHIFT != index:
        return -1
    pfn = mapping.i_pages.get(index)
    if pfn is None:
        return -1
    rp = sub.engine.runvars.get(_ReadPath)
    if rp is None:
        rp = sub.engine.runvars[_ReadPath] = _ReadPath(sub)
    fl = rp.f[pfn]
    if fl & (PG_uptodate | PG_readahead) != PG_uptodate:
        return -1
    # filemap_get_read_batch: xas_load (the xarray node's line),
    # folio_try_get (an atomic on the struct page line), the xas_reload
    # recheck (nothing runs in between here: it holds)
    cpu = me.cpu
    ref = rp.ref
    ref[pfn] += 1
    me.debt += mapping.line.read(cpu) + rp.touch(pfn, cpu) + rp.atomic_ns
    ra = file.f_ra
    if index != (ra.prev_pos - 1) >> PAGE_SHIFT \
            and fl & _REFERENCED_ACTIVE != _REFERENCED_ACTIVE:    # !pos_same_folio
        rp.mark(pfn, me)                                           # folio_mark_accessed
    end = pos + count
    if isize < end:
        end = isize
    nbytes = end - pos                                 # within this folio
    me.debt += rp.copy_ns * nbytes >> PAGE_SHIFT       # copy_folio_to_iter
    rp.hits[cpu] += 1
    # folio_put: never the last reference (the cache holds one, and the
    # folio cannot have left the cache since the lookup)
    ref[pfn] -= 1
    ra.prev_pos = end
    rp.bytes_read[cpu] += nbytes
    return nbytes


async def filemap_read(sub, file, pos: int, count: int, me) -> int:
    """filemap_read: copy up to ``count`` bytes at ``pos`` from the page
    cache; the bytes read (file.f_pos is the caller's to move).  A hit
    within one folio is :func:`filemap_read_cached`'s (callers in a loop
    call that first); anything else runs filemap_read's loop."""
    n = filemap_read_cached(sub, file, pos, count, me)
    if n >= 0:
        return n
    return await _filemap_read(sub, file, pos, count, me)


async def _filemap_read(sub, file, pos: int, count: int, me) -> int:
    """filemap_read's general loop: batches of folios, misses, readahead."""
    mapping = file.f_mapping
    inode = mapping.host
    ra = file.f_ra
    eng = sub.engine
    st = pagecache_stats(sub)
    cpu = me.cpu
    copy_ns = eng.costs.page_copy_ns
    mark = sub.lru.folio_mark_accessed
    last_pos = ra.prev_pos
    already = 0
    error = 0
    isize = inode.i_size
    f = sub.mem_map.f
    ref = sub.mem_map.ref
    hits_c = st.hits
    misses_c = st.misses
    while count and pos < isize:
        # filemap_get_pages' first step inline: a batch whose last folio is
        # uptodate and unmarked needs nothing more (the hit path)
        batch = filemap_get_read_batch(sub, mapping, pos >> PAGE_SHIFT,
                                       (pos + count - 1) >> PAGE_SHIFT, me)
        if batch and f[batch[-1][1]] & (PG_uptodate | PG_readahead) == PG_uptodate:
            hits = len(batch)
        else:
            batch, hits = await filemap_get_pages(sub, file, pos, count, me, batch)
            if isinstance(batch, int):
                error = batch
                break
        isize = inode.i_size
        if pos < isize:
            end_offset = isize if isize < pos + count else pos + count
            if pos >> PAGE_SHIFT != (last_pos - 1) >> PAGE_SHIFT:    # pos_same_folio
                mark(batch[0][1], me)
            i = 0
            for index, pfn in batch:
                if end_offset < index << PAGE_SHIFT:
                    break
                if i:
                    mark(pfn, me)
                nbytes = PAGE_SIZE - (pos & (PAGE_SIZE - 1))
                if end_offset - pos < nbytes:
                    nbytes = end_offset - pos
                me.debt += copy_ns * nbytes >> PAGE_SHIFT             # copy_folio_to_iter
                if i < hits:
                    hits_c[cpu] += 1
                else:
                    misses_c[cpu] += 1
                i += 1
                already += nbytes
                pos += nbytes
                count -= nbytes
                last_pos = pos
        for _, pfn in batch:                           # folio_put each
            r = ref[pfn]
            if r > 1:
                ref[pfn] = r - 1
            else:
                await sub.lru.folios_put_refs([(pfn, 1)], me)
    ra.prev_pos = last_pos
    st.bytes_read[cpu] += already
    return already if already else error


async def generic_perform_write(sub, file, pos: int, count: int, me,
                                folio_mark_dirty, balance_dirty_pages_ratelimited) -> int:
    """generic_perform_write: the bytes written.  ``folio_mark_dirty(sub,
    pfn, mapping, me)`` and ``balance_dirty_pages_ratelimited(sub, mapping,
    me)`` are mm/page_writeback.py's, passed in by the caller."""
    mapping = file.f_mapping
    inode = mapping.host
    eng = sub.engine
    copy_ns = eng.costs.page_copy_ns
    locks = sub.folio_locks
    f = sub.mem_map.f
    written = 0
    while count:
        offset = pos & (PAGE_SIZE - 1)
        index = pos >> PAGE_SHIFT
        nbytes = min(PAGE_SIZE - offset, count)
        pfn = await write_begin(sub, file, mapping, index, offset, nbytes, me)
        if pfn < 0:
            return written if written else pfn
        me.debt += copy_ns * nbytes >> PAGE_SHIFT     # copy_folio_from_iter_atomic
        # ->write_end (block_write_end / generic_write_end)
        f[pfn] |= PG_uptodate                         # a full page, or read in write_begin
        pos += nbytes
        if pos > inode.i_size:
            inode.i_size = pos                        # i_size_write (i_rwsem held)
        await folio_mark_dirty(sub, pfn, mapping, me)
        locks.folio_unlock(pfn, me)
        put = _folio_put(sub, pfn, me)
        if put is not None:
            await put
        written += nbytes
        count -= nbytes
        await balance_dirty_pages_ratelimited(sub, mapping, me)
    pagecache_stats(sub).bytes_written[me.cpu] += written
    return written


async def write_begin(sub, file, mapping, index: int, offset: int, nbytes: int, me) -> int:
    """->write_begin (block_write_begin): __filemap_get_folio(FGP_WRITEBEGIN)
    then, for a partial write of a !uptodate folio, read it (as
    __block_write_begin reads the blocks the write does not cover).  The
    folio is returned locked with a reference; a negative errno on failure."""
    locks = sub.folio_locks
    f = sub.mem_map.f
    while True:
        pfn = mapping.i_pages.get(index)
        me.debt += mapping.line.read(me.cpu)
        if pfn is not None:
            sub.mem_map.ref[pfn] += 1                 # folio_try_get
            me.debt += sub.mem_map_line(pfn, me)
            await locks.folio_lock(pfn, me)
            if mapping.i_pages.get(index) != pfn:     # truncated meanwhile
                locks.folio_unlock(pfn, me)
                put = _folio_put(sub, pfn, me)
                if put is not None:
                    await put
                continue
            break
        gfp = mapping_gfp_mask(mapping) | __GFP_WRITE  # FGP_WRITE: dirty-aware placement
        pfn = await filemap_alloc_folio(sub, gfp)
        if pfn < 0:
            return -ENOMEM
        err = await filemap_add_folio(sub, mapping, pfn, index, gfp & (GFP_KERNEL | __GFP_WRITE),
                                      me)
        if err == -EEXIST:
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            continue
        break                                         # added locked, our reference kept
    # folio_wait_stable: no stable-writes requirement on this device: no wait
    if not f[pfn] & PG_uptodate and (offset or nbytes < PAGE_SIZE) \
            and (index << PAGE_SHIFT) < mapping.host.i_size:
        await mapping.a_ops.read_folio(sub, mapping, index, pfn, me)
        await folio_wait_locked(sub, pfn, me)         # the completion unlocked it
        await locks.folio_lock(pfn, me)
        if not f[pfn] & PG_uptodate:
            locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return -EIO
    assert f[pfn] & PG_locked
    return pfn


# ---------------------------------------------------------------------------
# Page faults on a mapped disk file (filemap_fault, do_sync/async_mmap_readahead)
# ---------------------------------------------------------------------------
MMAP_LOTSAMISS = 100


async def do_sync_mmap_readahead(sub, mapping, ra, index: int, me) -> None:
    """do_sync_mmap_readahead: count the miss (ra->mmap_miss, up to 10 x
    MMAP_LOTSAMISS); while misses do not dominate, read around the fault:
    ra_pages centred on it, the PG_readahead mark a quarter from the end.
    (No VM_SEQ_READ/VM_RAND_READ here: madvise advice is not modelled.)"""
    from .readahead import ReadaheadControl, page_cache_ra_order
    if not ra.ra_pages:
        return
    if ra.mmap_miss < MMAP_LOTSAMISS * 10:
        ra.mmap_miss += 1
    if ra.mmap_miss > MMAP_LOTSAMISS:
        return
    ra.start = max(0, index - ra.ra_pages // 2)
    ra.size = ra.ra_pages
    ra.async_size = ra.ra_pages // 4
    rac = ReadaheadControl(sub, None, ra, mapping, ra.start)
    await page_cache_ra_order(rac, ra, 0, me)


async def do_async_mmap_readahead(sub, mapping, ra, index: int, pfn: int, me) -> None:
    """do_async_mmap_readahead: a hit pays back one miss; the PG_readahead
    folio starts the next window (page_cache_async_ra with ra_pages)."""
    if not ra.ra_pages:
        return
    if ra.mmap_miss:
        ra.mmap_miss -= 1
    if sub.mem_map.f[pfn] & PG_readahead:
        pagecache_stats(sub).ra_async[me.cpu] += 1
        await page_cache_async_readahead(sub, mapping, ra, None, pfn, index, ra.ra_pages, me)


# filemap_fault's failures (negative, never a pfn): mm/memory.py's file
# faults turn them into VM_FAULT_OOM and VM_FAULT_SIGBUS.
FAULT_OOM = -1
FAULT_SIGBUS = -2


async def filemap_fault(sub, mapping, ra, index: int, me) -> int:
    """filemap_fault: the folio at ``index``, locked, uptodate, with a
    reference (the caller maps it), or FAULT_OOM (no memory for the folio:
    the kernel's VM_FAULT_OOM) or FAULT_SIGBUS (an index beyond EOF, or an
    I/O error: VM_FAULT_SIGBUS).  A miss is a major fault (PGMAJFAULT) with
    mmap read-around; the folio lock is where the fault waits for the read.
    Simplification: the mmap_lock is never dropped for the I/O (no
    FAULT_FLAG_RETRY / fpin)."""
    locks = sub.folio_locks
    f = sub.mem_map.f
    inode = mapping.host
    if index << PAGE_SHIFT >= inode.i_size:
        return FAULT_SIGBUS                           # beyond EOF
    pfn = mapping.i_pages.get(index)
    me.debt += mapping.line.read(me.cpu)
    if pfn is not None:
        await do_async_mmap_readahead(sub, mapping, ra, index, pfn, me)
    else:
        vs = sub.vmstat
        vs.count_vm_events(me.cpu, vs.ev["pgmajfault"])
        await do_sync_mmap_readahead(sub, mapping, ra, index, me)
    while True:                                       # retry_find: __filemap_get_folio(FGP_CREAT)
        pfn = mapping.i_pages.get(index)
        if pfn is None:
            pfn = await filemap_alloc_folio(sub, mapping_gfp_mask(mapping))
            if pfn < 0:
                return FAULT_OOM
            err = await filemap_add_folio(sub, mapping, pfn, index, mapping_gfp_mask(mapping), me)
            if err:
                await sub.lru.folios_put_refs([(pfn, 1)], me)
                continue
            locks.folio_unlock(pfn, me)               # FGP_FOR_MMAP: returned unlocked
        else:
            sub.mem_map.ref[pfn] += 1                 # folio_try_get
            me.debt += sub.mem_map_line(pfn, me)
        await locks.folio_lock(pfn, me)               # lock_folio_maybe_drop_mmap
        if mapping.i_pages.get(index) != pfn:         # truncated meanwhile
            locks.folio_unlock(pfn, me)
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            continue
        if f[pfn] & PG_uptodate:
            return await _fault_recheck_isize(sub, inode, index, pfn, me)
        # page_not_uptodate: ->read_folio and wait
        err = await filemap_read_folio(sub, None, mapping, index, pfn, me)
        if err:
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            return FAULT_SIGBUS                       # an I/O error
        await locks.folio_lock(pfn, me)
        if f[pfn] & PG_uptodate and mapping.i_pages.get(index) == pfn:
            return await _fault_recheck_isize(sub, inode, index, pfn, me)
        locks.folio_unlock(pfn, me)
        await sub.lru.folios_put_refs([(pfn, 1)], me)


async def _fault_recheck_isize(sub, inode, index: int, pfn: int, me) -> int:
    """filemap_fault's "recheck i_size under page lock": a truncate that
    shrank the file since the first check makes the fault fail (the
    kernel's VM_FAULT_SIGBUS) instead of mapping a folio past EOF."""
    if index << PAGE_SHIFT < inode.i_size:
        return pfn
    sub.folio_locks.folio_unlock(pfn, me)
    await sub.lru.folios_put_refs([(pfn, 1)], me)
    return FAULT_SIGBUS
