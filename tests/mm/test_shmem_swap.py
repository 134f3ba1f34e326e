"""tmpfs pages under reclaim (mm/shmem.c 6.12 shmem_writepage and
shmem_swapin_folio; mm/vmscan.c pageout and __remove_mapping): dirty tmpfs
folios go to swap, their page-cache slots take the swap entries (the slot's
count SWAP_MAP_SHMEM), a lookup swaps them back in; clean ones are dropped."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors import Machine, parse_scenario
from mmactors.mm import mmap as M
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.filemap import PG_dirty
from mmactors.mm.madvise import sys_madvise_pageout
from mmactors.mm.swapfile import SWAP_HAS_CACHE, SWAP_MAP_SHMEM

from .test_swap_state import PAGE, Box, vm

SHARED = M.MAP_SHARED | M.MAP_ANONYMOUS


def checked(b):
    b.sub._check()
    b.sub.swap_cache._check()
    b.sub.swap._check()


def pageout(b, a, n):
    assert b.call(sys_madvise_pageout(b.sub, b.mm, a, n * PAGE, b.me())) == 0


def shmem_box(n, write=True, **kw):
    b = Box(swap=[{"size_mib": 16}], **kw)
    a = b.mmap(n, flags=SHARED)
    for i in range(n):
        b.touch(a + i * PAGE, write=write)
    (inode,) = b.sub.files
    return b, a, inode


def test_dirty_tmpfs_pages_go_to_swap_and_come_back():
    """MADV_PAGEOUT of a written MAP_SHARED|MAP_ANONYMOUS range: try_to_unmap
    moves the PTEs' dirty bits to the folios, pageout calls shmem_writepage:
    each page's slot is SWAP_MAP_SHMEM, i_pages holds the swap entries,
    info->swapped counts them, the PTEs are gone (not swap PTEs: the file
    holds the entry).  Touching the range again swaps them in through the
    swap cache (major faults), dirty, and frees the slots."""
    b, a, inode = shmem_box(4)
    pageout(b, a, 4)
    assert inode.swapped == 4 and len(inode.swap_entries) == 4
    assert inode.mapping.nrpages == 0 and not inode.mapping.i_pages
    assert vm(b, "pswpout") == 4
    sw = b.sub.swap
    entries = list(inode.swap_entries.values())
    assert all(sw.map_of(e) & ~SWAP_HAS_CACHE == SWAP_MAP_SHMEM for e in entries)
    assert all(b.pte(a + i * PAGE) == 0 for i in range(4))
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 0 and b.mm.rss[b.mm.MM_SHMEMPAGES] == 0
    checked(b)
    for i in range(4):
        b.touch(a + i * PAGE, write=False)
    assert vm(b, "pgmajfault") >= 1            # the first; readahead may bring the rest
    assert inode.swapped == 0 and inode.mapping.nrpages == 4
    f = b.sub.mem_map.f
    assert all(f[b.pfn(a + i * PAGE)] & PG_dirty for i in range(4))    # folio_mark_dirty
    assert all(sw.map_of(e) in (0, SWAP_HAS_CACHE) for e in entries)  # swap_free_nr
    assert vm(b, "pswpin") >= 1
    checked(b)


def test_clean_tmpfs_pages_are_dropped_not_swapped():
    """Pages only read (zeroes, never dirtied) leave the page cache without
    I/O: __remove_mapping, no shadow (not on the file LRU); a later read
    allocates a fresh zeroed page (a minor fault)."""
    b, a, inode = shmem_box(4, write=False)
    pageout(b, a, 4)
    assert inode.swapped == 0 and inode.mapping.nrpages == 0
    assert vm(b, "pswpout") == 0 and not inode.mapping.shadows
    checked(b)
    b.touch(a, write=False)
    assert vm(b, "pgmajfault") == 0
    assert inode.mapping.nrpages == 1
    checked(b)


def test_without_swap_dirty_tmpfs_pages_stay():
    """shmem_writepage with no swap (!total_swap_pages): redirty and
    AOP_WRITEPAGE_ACTIVATE; the folios stay cached, dirty and active."""
    b = Box()
    a = b.mmap(2, flags=SHARED)
    b.touch(a)
    b.touch(a + PAGE)
    (inode,) = b.sub.files
    pageout(b, a, 2)
    assert inode.mapping.nrpages == 2 and inode.swapped == 0
    f = b.sub.mem_map.f
    for pfn in inode.mapping.i_pages.values():
        assert f[pfn] & PG_dirty
    b.sub._check()


def test_last_munmap_evicts_a_zero_setup_file_with_its_swap():
    """MAP_SHARED|MAP_ANONYMOUS is shmem_zero_setup's file, held only by its
    VMAs: the last munmap's fput evicts it (shmem_evict_inode ->
    shmem_truncate_range): its cached pages are freed and its swap entries
    (SWAP_MAP_SHMEM) released.  Before, the pages stayed allocated for ever."""
    b, a, inode = shmem_box(4)
    pageout(b, a, 2)                              # two in swap, two cached
    assert inode.swapped == 2 and inode.mapping.nrpages == 2
    entries = list(inode.swap_entries.values())
    cached = list(inode.mapping.i_pages.values())
    b.call(M.vm_munmap(b.sub, b.mm, a, 4 * PAGE, b.me()))
    assert inode.evicted and inode.swapped == 0 and inode.alloced == 0
    assert inode.mapping.nrpages == 0 and not inode.swap_entries
    sw = b.sub.swap
    assert all(sw.map_of(e) in (0, SWAP_HAS_CACHE) for e in entries)
    b.call(b.sub.lru.lru_add_drain(b.me()))
    assert all(b.sub.mem_map.ref[pfn] == 0 for pfn in cached)      # freed
    checked(b)


def test_a_forked_mapping_keeps_the_file_until_the_last_unmap():
    """fork shares the file (dup_mmap links the child's VMA into i_mmap):
    the parent's munmap leaves it to the child, the child's evicts it."""
    from mmactors.mm.fork import dup_mmap
    b, a, inode = shmem_box(2)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    b.call(M.vm_munmap(b.sub, b.mm, a, 2 * PAGE, b.me()))
    assert not inode.evicted and inode.mapping.nrpages == 2
    b.call(M.vm_munmap(b.sub, child, a, 2 * PAGE, b.me()))
    assert inode.evicted and inode.mapping.nrpages == 0
    checked(b)


def test_a_tmpfs_file_a_descriptor_holds_is_not_evicted():
    """will-it-scale's and mm-ops' named tmpfs files stand for open files:
    unmapping them keeps their pages (the page cache outlives mappings)."""
    b = Box()
    inode = b.sub.new_shmem_file(2)
    a = b.call(M.do_mmap(b.sub, b.mm, 2 * PAGE, M.PROT_READ | M.PROT_WRITE, M.MAP_SHARED,
                         b.me(), file=inode))
    b.touch(a)
    b.call(M.vm_munmap(b.sub, b.mm, a, 2 * PAGE, b.me()))
    assert not inode.evicted and inode.mapping.nrpages == 1
    b.sub._check()


def test_truncate_frees_the_swap_entries():
    """shmem_undo_range -> shmem_free_swap: free_swap_and_cache_nr on each
    entry (SWAP_MAP_SHMEM drops to 0), info->swapped back to 0; the cached
    folios leave the page cache."""
    b = Box(swap=[{"size_mib": 16}])
    inode = b.sub.new_shmem_file(3)
    a = b.call(M.do_mmap(b.sub, b.mm, 3 * PAGE, M.PROT_READ | M.PROT_WRITE, M.MAP_SHARED,
                         b.me(), file=inode))
    for i in range(3):
        b.touch(a + i * PAGE)
    pageout(b, a, 2)
    entries = list(inode.swap_entries.values())
    b.call(M.vm_munmap(b.sub, b.mm, a, 3 * PAGE, b.me()))
    assert inode.swapped == 2 and inode.mapping.nrpages == 1    # a descriptor holds it
    b.call(inode.truncate(b.me()))
    sw = b.sub.swap
    assert inode.swapped == 0 and not inode.swap_entries and inode.mapping.nrpages == 0
    assert all(sw.map_of(e) in (0, SWAP_HAS_CACHE) for e in entries)
    checked(b)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(["read", "write", "pageout"]),
                          st.integers(0, 7), st.integers(1, 4)), max_size=14))
def test_tmpfs_swap_invariants_hold_under_any_sequence(ops):
    """Random reads, writes and MADV_PAGEOUTs over a shared mapping, then the
    swap accounting check: every SWAP_MAP_SHMEM slot is one file entry's,
    info->swapped counts them, no index is both cached and swapped, no
    frame lost (AddrSpace._check)."""
    b = Box(swap=[{"size_mib": 16}])
    a = b.mmap(8, flags=SHARED)
    for op, start, n in ops:
        n = min(n, 8 - start)
        if op == "pageout":
            pageout(b, a + start * PAGE, n)
        else:
            for i in range(start, start + n):
                b.touch(a + i * PAGE, write=op == "write")
        checked(b)
    (inode,) = b.sub.files
    assert inode.swapped + inode.mapping.nrpages <= 8


SCN = """
name = "tmpfs-under-pressure"
[machine]
cpus = 1
memory_mib = 64
{swap}
[[workload]]
kind = "mm-ops"
cpus = [0]
steps = ["mmap s 80M rw anon,shared", "touch s write", "touch s read 0 4M"]
[run]
duration_ns = 20_000_000_000
seed = 1
"""


def test_tmpfs_bigger_than_memory_swaps_instead_of_failing():
    """Known result: 80 MiB of written MAP_SHARED|MAP_ANONYMOUS memory on a
    64 MiB machine fits only because reclaim can write tmpfs pages to swap
    (shmem_writepage); the first 4 MiB come back by swap-in."""
    text = SCN.format(swap='[[swap]]\nsize_mib = 128\ndevice = "ssd"')
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    vd = res.extra["vmstat_delta"]
    assert vd["pswpout"] > 16 * 256 // 2         # well over the 16 MiB that did not fit
    assert vd["pswpin"] > 0
    sub = addrspace_of(m)
    (inode,) = sub.files
    assert inode.swapped > 0 and inode.swapped + inode.mapping.nrpages == 80 * 256
    sub._check()



RACE = """
name = "tmpfs-evict-vs-reclaim"
[machine]
cpus = 2
memory_mib = 64
[[swap]]
size_mib = 128
device = "ssd"
[[workload]]
kind = "mm-ops"
cpus = [0]
steps = ["mmap s 40M rw anon,shared", "touch s write", "fork", "touch s read 0 8M", "exit",
         "munmap s"]
[[workload]]
kind = "mm-ops"
cpus = [1]
steps = ["mmap p 48M rw anon,private", "touch p write", "retouch p write 2"]
[run]
duration_ns = 20_000_000_000
seed = {seed}
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_eviction_racing_reclaim_loses_no_frame_and_no_slot(seed):
    """A shared anonymous region swapped by reclaim while a forked child
    reads it back and both processes unmap it (the last unmap evicts the
    file, reclaim still writing some of its folios): afterwards the file is
    empty, no slot is SWAP_MAP_SHMEM, and the frame and swap accounting
    checks hold."""
    m = Machine(parse_scenario(RACE.format(seed=seed), "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(m)
    inode = next(f for f in sub.files if f.zero_setup)
    assert inode.evicted and inode.swapped == 0 and inode.mapping.nrpages == 0
    assert res.extra["vmstat_delta"]["pswpout"] > 0
    sub._check()
    sub.swap._check()
