"""Readahead: mm/readahead.c (Linux 6.12), and struct file_ra_state
(include/linux/fs.h).

``file_ra_state`` lives in each open file (``file->f_ra``): ``start``,
``size`` and ``async_size`` describe the current window (the folio at
``start + size - async_size`` carries PG_readahead), ``ra_pages`` is the
file's maximum (``file_ra_state_init``: the bdi's ``ra_pages``,
read_ahead_kb = 128 -> 32 pages) and ``prev_pos`` the byte position just
after the last read, which ``filemap_read`` sets.

On-demand readahead as 6.12 does it:

* ``page_cache_sync_ra`` (a read missed): the start of the file, an
  oversized read or a sequential miss (``index - prev_index <= 1``) opens a
  window of ``get_init_ra_size(req, max)`` with ``async_size = size - req``;
  otherwise ``page_cache_prev_miss`` looks back for the cached trace of a
  stream: none longer than the request means a random read, read as is
  without touching the state (no ramp-up); a trace opens a window of
  ``min(contig + req, max)``.
* ``page_cache_async_ra`` (a read met the PG_readahead folio): clear the
  mark; at the expected index push the window forward by its size and grow
  it with ``get_next_ra_size`` (x4 below max/16, x2 up to max/2, then max),
  ``async_size = size``: the next mark is the new window's first folio.
* ``page_cache_ra_order``: this filesystem has no large folios (like ext2:
  ``mapping_large_folio_support`` is false), so order 0 through
  ``do_page_cache_ra`` -> ``page_cache_ra_unbounded`` under
  ``invalidate_lock`` (shared): allocate (``readahead_gfp_mask``: no
  retrying), ``filemap_add_folio``, mark, and ``read_pages`` under a block
  plug with ``->readahead`` (fs/mpage.py); an index already cached ends
  the batch and the next one starts after it.

Simplifications: no ``FMODE_RANDOM`` (fadvise) or ``blk_cgroup_congested``,
no PSI accounting of workingset refaults (``_workingset``), no
``shrink_readahead_size_eio``.
"""
from __future__ import annotations

from ..block.blk_core import blk_finish_plug, blk_start_plug
from .filemap import PG_readahead, PG_writeback
from .filemap_core import ENOMEM, filemap_add_folio, filemap_alloc_folio, readahead_gfp_mask

__all__ = ["FileRaState", "VM_READAHEAD_PAGES", "file_ra_state_init", "ReadaheadControl",
           "get_init_ra_size", "get_next_ra_size", "page_cache_ra_unbounded",
           "do_page_cache_ra", "force_page_cache_ra", "page_cache_ra_order",
           "page_cache_sync_ra", "page_cache_async_ra", "page_cache_sync_readahead",
           "page_cache_async_readahead", "page_cache_prev_miss", "page_cache_next_miss",
           "read_pages"]

PAGE_SIZE = 4096
# include/linux/mm.h: #define VM_READAHEAD_PAGES (SZ_128K / PAGE_SIZE)
VM_READAHEAD_PAGES = (128 * 1024) // PAGE_SIZE


class FileRaState:
    """struct file_ra_state."""

    __slots__ = ("start", "size", "async_size", "ra_pages", "mmap_miss", "prev_pos")

    def __init__(self, ra_pages: int = VM_READAHEAD_PAGES):
        self.start = 0
        self.size = 0
        self.async_size = 0
        self.ra_pages = ra_pages
        self.mmap_miss = 0
        self.prev_pos = -1              # file_ra_state_init: ra->prev_pos = -1

    def __repr__(self):
        return (f"<file_ra_state start={self.start} size={self.size} "
                f"async_size={self.async_size} ra_pages={self.ra_pages}>")


def file_ra_state_init(ra: FileRaState, mapping) -> None:
    """file_ra_state_init: the window's maximum from the mapping's bdi
    (``inode_to_bdi(mapping->host)->ra_pages``)."""
    host = getattr(mapping, "host", None)
    bdi = host.i_sb.s_bdi if host is not None and host.i_sb is not None else None
    ra.ra_pages = bdi.ra_pages if bdi is not None else VM_READAHEAD_PAGES
    ra.prev_pos = -1


# ---------------------------------------------------------------------------
# mm/readahead.c
# ---------------------------------------------------------------------------
class ReadaheadControl:
    """struct readahead_control (DEFINE_READAHEAD): the batch of folios being
    added (``folios``: (index, pfn), locked, in the cache) starts at ``_index``."""

    __slots__ = ("sub", "file", "mapping", "ra", "_index", "folios")

    def __init__(self, sub, file, ra, mapping, index: int):
        self.sub = sub
        self.file = file
        self.ra = ra
        self.mapping = mapping
        self._index = index
        self.folios: list = []

    @property
    def _nr_pages(self) -> int:
        return len(self.folios)


def get_init_ra_size(size: int, maxp: int) -> int:
    """get_init_ra_size: the first window: 4x a small request, 2x a medium
    one, else the maximum (roundup_pow_of_two first)."""
    newsize = 1 << (size - 1).bit_length() if size > 1 else 1
    if newsize <= maxp // 32:
        return newsize * 4
    if newsize <= maxp // 4:
        return newsize * 2
    return maxp


def get_next_ra_size(ra: FileRaState, maxp: int) -> int:
    """get_next_ra_size: 4x while below max/16, 2x up to max/2, then max."""
    cur = ra.size
    if cur < maxp // 16:
        return 4 * cur
    if cur <= maxp // 2:
        return 2 * cur
    return maxp


def ractl_max_pages(rac: ReadaheadControl, req_size: int) -> int:
    """ractl_max_pages: ra_pages, or up to bdi->io_pages for a larger request."""
    bdi = rac.mapping.host.i_sb.s_bdi
    max_pages = rac.ra.ra_pages
    if req_size > max_pages and bdi.io_pages > max_pages:
        max_pages = min(req_size, bdi.io_pages)
    return max_pages


async def read_pages(rac: ReadaheadControl, me) -> None:
    """read_pages: hand the batch to ->readahead under a block plug."""
    if not rac.folios:
        return
    sub = rac.sub
    blk_start_plug(me)
    await rac.mapping.a_ops.readahead(sub, rac, me)
    rac._index += len(rac.folios)                    # readahead_folio consumed them all
    rac.folios = []
    await blk_finish_plug(me)


async def page_cache_ra_unbounded(rac: ReadaheadControl, nr_to_read: int, lookahead_size: int,
                                  me) -> None:
    """page_cache_ra_unbounded: allocate and add a folio for every missing
    index of the window, PG_readahead on the one ``lookahead_size`` before
    its end, and read them (an index already cached ends the batch)."""
    sub = rac.sub
    mapping = rac.mapping
    gfp = readahead_gfp_mask(mapping)
    index = rac._index
    mark = index + nr_to_read - lookahead_size - index    # ra_folio_index - index
    f = sub.mem_map.f
    inv = mapping.invalidate_lock
    await inv.down_read("page_cache_ra_unbounded")
    i = 0
    while i < nr_to_read:
        if (index + i) in mapping.i_pages:                # xa_load: a folio, not a shadow
            await read_pages(rac, me)
            rac._index += 1
            i = rac._index - index
            continue
        pfn = await filemap_alloc_folio(sub, gfp)
        if pfn < 0:
            break
        ret = await filemap_add_folio(sub, mapping, pfn, index + i, gfp, me)
        if ret < 0:
            await sub.lru.folios_put_refs([(pfn, 1)], me)
            if ret == -ENOMEM:
                break
            await read_pages(rac, me)
            rac._index += 1
            i = rac._index - index
            continue
        if i == mark:
            f[pfn] |= PG_readahead                        # folio_set_readahead
        rac.folios.append((index + i, pfn))
        # the allocation's reference, which readahead_folio drops as the
        # batch is read; never the last one (the cache holds another)
        sub.mem_map.ref[pfn] -= 1
        i += 1
    await read_pages(rac, me)
    inv.up_read("page_cache_ra_unbounded")


async def do_page_cache_ra(rac: ReadaheadControl, nr_to_read: int, lookahead_size: int,
                           me) -> None:
    """do_page_cache_ra: clip the window at EOF."""
    isize = rac.mapping.host.i_size
    if isize == 0:
        return
    end_index = (isize - 1) >> 12
    index = rac._index
    if index > end_index:
        return
    if nr_to_read > end_index - index:
        nr_to_read = end_index - index + 1
    await page_cache_ra_unbounded(rac, nr_to_read, lookahead_size, me)


async def force_page_cache_ra(rac: ReadaheadControl, nr_to_read: int, me) -> None:
    """force_page_cache_ra: read exactly the request (2 MiB chunks)."""
    bdi = rac.mapping.host.i_sb.s_bdi
    nr_to_read = min(nr_to_read, max(bdi.io_pages, rac.ra.ra_pages))
    while nr_to_read:
        chunk = min((2 * 1024 * 1024) // PAGE_SIZE, nr_to_read)
        await do_page_cache_ra(rac, chunk, 0, me)
        nr_to_read -= chunk


async def page_cache_ra_order(rac: ReadaheadControl, ra: FileRaState, new_order: int,
                              me) -> None:
    """page_cache_ra_order: this filesystem has no large-folio support
    (mapping_large_folio_support is false, as for ext2), so it goes straight
    to the ``fallback``: order-0 folios through do_page_cache_ra."""
    await do_page_cache_ra(rac, ra.size, ra.async_size, me)


def page_cache_prev_miss(mapping, index: int, max_scan: int) -> int:
    """page_cache_prev_miss: the first index at or below ``index`` with no
    folio, looking at most max_scan slots (xas_prev from a fresh state reads
    ``index`` itself first); -1 stands for ULONG_MAX (wrapped below 0)."""
    pages = mapping.i_pages
    first = True
    while max_scan:
        max_scan -= 1
        if not first:
            index -= 1
            if index < 0:
                return -1
        first = False
        if index not in pages:
            break
    return index


def page_cache_next_miss(mapping, index: int, max_scan: int) -> int:
    """page_cache_next_miss: the first index at or above ``index`` with no folio."""
    pages = mapping.i_pages
    while max_scan:
        if index not in pages:
            return index
        index += 1
        max_scan -= 1
    return index


async def page_cache_sync_ra(rac: ReadaheadControl, req_count: int, me) -> None:
    """page_cache_sync_ra: a read missed the cache.  Start of file, an
    oversized read or a sequential miss (index - prev_index <= 1) starts a
    window of get_init_ra_size; otherwise look back for a cached run (the
    trace of a stream): none longer than the request means a random read,
    read as is without touching the readahead state."""
    ra = rac.ra
    index = rac._index
    if not ra.ra_pages:
        if rac.file is None:
            return
        await force_page_cache_ra(rac, 1, me)
        return
    max_pages = ractl_max_pages(rac, req_count)
    prev_index = ra.prev_pos >> 12 if ra.prev_pos >= 0 else (1 << 64) - 1 >> 12
    if not index or req_count > max_pages or (index - prev_index) % (1 << 64) <= 1:
        ra.start = index
        ra.size = get_init_ra_size(req_count, max_pages)
        ra.async_size = ra.size - req_count if ra.size > req_count else ra.size >> 1
    else:
        miss = page_cache_prev_miss(rac.mapping, index - 1, max_pages)
        contig_count = index - miss - 1
        if contig_count <= req_count:                 # a standalone, small random read
            await do_page_cache_ra(rac, req_count, 0, me)
            return
        if miss == -1:                                # cached from the start of the file
            contig_count *= 2
        ra.start = index
        ra.size = min(contig_count + req_count, max_pages)
        ra.async_size = 1
    rac._index = ra.start
    await page_cache_ra_order(rac, ra, 0, me)


async def page_cache_async_ra(rac: ReadaheadControl, pfn: int, req_count: int, me) -> None:
    """page_cache_async_ra: a read found the PG_readahead folio: clear the
    marker and push the window forward (ramped up by get_next_ra_size) if
    the folio is where the window expects; otherwise rebuild the window
    from the cached run after it (interleaved streams)."""
    ra = rac.ra
    if not ra.ra_pages:
        return
    f = rac.sub.mem_map.f
    if f[pfn] & PG_writeback:                         # the bit is PG_reclaim then
        return
    f[pfn] &= ~PG_readahead
    index = rac._index
    max_pages = ractl_max_pages(rac, req_count)
    expected = ra.start + ra.size - ra.async_size
    if index == expected:
        ra.start += ra.size
        ra.size = get_next_ra_size(ra, max_pages)
        ra.async_size = ra.size
    else:
        start = page_cache_next_miss(rac.mapping, index + 1, max_pages)
        if not start or start - index > max_pages:
            return
        ra.start = start
        ra.size = start - index + req_count
        ra.size = get_next_ra_size(ra, max_pages)
        ra.async_size = ra.size
    rac._index = ra.start
    await page_cache_ra_order(rac, ra, 0, me)


async def page_cache_sync_readahead(sub, mapping, ra: FileRaState, file, index: int,
                                    req_count: int, me) -> None:
    """page_cache_sync_readahead (include/linux/pagemap.h)."""
    await page_cache_sync_ra(ReadaheadControl(sub, file, ra, mapping, index), req_count, me)


async def page_cache_async_readahead(sub, mapping, ra: FileRaState, file, pfn: int,
                                     index: int, req_count: int, me) -> None:
    """page_cache_async_readahead (include/linux/pagemap.h)."""
    await page_cache_async_ra(ReadaheadControl(sub, file, ra, mapping, index), pfn, req_count,
                              me)
