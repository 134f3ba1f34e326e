"""tmpfs page-cache counters and major faults (Linux 6.12): mm/shmem.c
shmem_add_to_page_cache counts a folio in NR_FILE_PAGES and NR_SHMEM,
shmem_delete_from_page_cache (shmem_writepage: the swap entry takes the
slot) takes it out of both, mm/filemap.c filemap_unaccount_folio does the
same for truncation and for __remove_mapping of a clean tmpfs folio (a
swap-backed folio: NR_SHMEM too); shmem_swapin_folio ORs VM_FAULT_MAJOR into
shmem_fault's return and counts PGMAJFAULT when the folio was not in the swap
cache (the read from the device), and only then.

Swap-cache folios are page-cache pages too: mm/swap_state.c
add_to_swap_cache counts them in NR_FILE_PAGES (and NR_SWAPCACHE), so on a
machine without disk files NR_FILE_PAGES is NR_SHMEM plus nr_swapcached, and
a tmpfs folio in the swap cache is in NR_FILE_PAGES but not NR_SHMEM."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors import Machine, parse_scenario
from mmactors.mm import mmap as M
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.memory import VM_FAULT_MAJOR

from .test_shmem_swap import SHARED, checked, pageout, shmem_box
from .test_swap_state import PAGE, Box, vm

RW = M.PROT_READ | M.PROT_WRITE


def stat(b, name):
    """What /proc/vmstat prints (vm.stat_refresh: per-CPU diffs folded in)."""
    return b.sub.vmstat.snapshot()[name]


def shmem_pages(b):
    """The tmpfs folios in page caches."""
    return sum(len(f.mapping.i_pages) for f in b.sub.files)


def file_pages(b):
    """NR_FILE_PAGES less the swap cache's (add_to_swap_cache counts those)."""
    return stat(b, "nr_file_pages") - stat(b, "nr_swapcached")


def test_written_tmpfs_pages_count_in_nr_shmem_and_nr_file_pages():
    """shmem_add_to_page_cache: each of the N pages written through a
    MAP_SHARED|MAP_ANONYMOUS mapping is one NR_SHMEM and one NR_FILE_PAGES."""
    b, a, inode = shmem_box(5)
    assert stat(b, "nr_shmem") == 5 and file_pages(b) == 5
    assert stat(b, "nr_shmem_hugepages") == 0          # huge=never: order-0 folios only
    checked(b)


def test_swap_out_takes_them_out_and_swap_in_puts_them_back():
    """shmem_writepage -> shmem_delete_from_page_cache: NR_SHMEM and
    NR_FILE_PAGES down as the swap entry replaces the folio in i_pages;
    shmem_swapin_folio -> shmem_add_to_page_cache(expected=swap): back up."""
    b, a, inode = shmem_box(4)
    pageout(b, a, 3)
    assert inode.swapped == 3
    assert stat(b, "nr_shmem") == 1 and file_pages(b) == 1
    checked(b)
    for i in range(3):
        b.touch(a + i * PAGE, write=False)
    assert inode.swapped == 0
    assert stat(b, "nr_shmem") == 4 and file_pages(b) == 4
    checked(b)


def test_a_clean_tmpfs_page_reclaimed_leaves_nr_shmem():
    """__remove_mapping of a clean (only read) tmpfs folio ->
    __filemap_remove_folio -> filemap_unaccount_folio: swap-backed, so
    NR_SHMEM as well as NR_FILE_PAGES come down; no swap I/O."""
    b, a, inode = shmem_box(3, write=False)
    assert stat(b, "nr_shmem") == 3
    pageout(b, a, 3)
    assert inode.mapping.nrpages == 0 and vm(b, "pswpout") == 0
    assert stat(b, "nr_shmem") == 0 and file_pages(b) == 0
    checked(b)


def test_the_last_munmap_evicts_and_uncounts():
    """shmem_evict_inode -> shmem_truncate_range -> truncate_inode_folio ->
    filemap_remove_folio: the cached half leaves NR_SHMEM (the swapped half
    left it at swap-out)."""
    b, a, inode = shmem_box(4)
    pageout(b, a, 2)
    assert stat(b, "nr_shmem") == 2
    b.call(M.vm_munmap(b.sub, b.mm, a, 4 * PAGE, b.me()))
    assert inode.evicted
    assert stat(b, "nr_shmem") == 0 and file_pages(b) == 0
    checked(b)


def test_truncate_of_an_open_file_uncounts_its_pages():
    """A tmpfs file a descriptor holds keeps its pages (and NR_SHMEM) after
    munmap; shmem_truncate_range takes them out."""
    b = Box(swap=[{"size_mib": 16}])
    inode = b.sub.new_shmem_file(3)
    a = b.call(M.do_mmap(b.sub, b.mm, 3 * PAGE, RW, M.MAP_SHARED, b.me(), file=inode))
    for i in range(3):
        b.touch(a + i * PAGE)
    b.call(M.vm_munmap(b.sub, b.mm, a, 3 * PAGE, b.me()))
    assert stat(b, "nr_shmem") == 3
    b.call(inode.truncate(b.me()))
    assert stat(b, "nr_shmem") == 0 and file_pages(b) == 0
    checked(b)


def test_a_swap_in_from_the_device_is_a_major_fault_a_swap_cache_hit_is_not():
    """shmem_swapin_folio: swap_cache_get_folio misses -> *fault_type |=
    VM_FAULT_MAJOR and count_vm_event(PGMAJFAULT), once (mm_account_fault
    counts only PGFAULT and the task's maj_flt); the cluster readahead
    brings the neighbour into the swap cache, so its fault is a hit: no
    VM_FAULT_MAJOR, no PGMAJFAULT."""
    b, a, inode = shmem_box(2)
    pageout(b, a, 2)
    assert b.sub.swap_cache.nr_swapcached == 0        # written and reclaimed: only on swap
    ret = b.touch(a, write=False)
    assert ret & VM_FAULT_MAJOR
    assert vm(b, "pgmajfault") == 1 and vm(b, "pswpin") >= 1
    assert b.sub.swap_cache.nr_swapcached == 1        # the neighbour, read ahead
    ret = b.touch(a + PAGE, write=False)
    assert not ret & VM_FAULT_MAJOR
    assert vm(b, "pgmajfault") == 1
    checked(b)


def test_major_from_every_file_fault_handler():
    """__do_fault's VM_FAULT_MAJOR reaches do_user_addr_fault from
    do_read_fault, do_shared_fault and do_cow_fault alike; a hole (a fresh
    zeroed page) is a minor fault."""
    b = Box(swap=[{"size_mib": 16}])
    b.sub.swap_cache.page_cluster = 0                 # no readahead: each a device read
    inode = b.sub.new_shmem_file(4)
    a = b.call(M.do_mmap(b.sub, b.mm, 4 * PAGE, RW, M.MAP_SHARED, b.me(), file=inode))
    for i in range(3):
        assert not b.touch(a + i * PAGE) & VM_FAULT_MAJOR
    pageout(b, a, 3)
    assert inode.swapped == 3
    assert b.touch(a, write=False) & VM_FAULT_MAJOR                 # do_read_fault
    assert b.touch(a + PAGE, write=True) & VM_FAULT_MAJOR           # do_shared_fault
    p = b.call(M.do_mmap(b.sub, b.mm, 4 * PAGE, RW, M.MAP_PRIVATE, b.me(), file=inode))
    assert b.touch(p + 2 * PAGE, write=True) & VM_FAULT_MAJOR       # do_cow_fault
    assert not b.touch(p + 3 * PAGE, write=True) & VM_FAULT_MAJOR   # a hole
    assert vm(b, "pgmajfault") == 3
    assert stat(b, "nr_shmem") == 4
    checked(b)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(["read", "write", "pageout", "truncate"]),
                          st.integers(0, 7), st.integers(1, 4)), max_size=14))
def test_nr_shmem_is_the_tmpfs_pages_cached_under_any_sequence(ops):
    """Random reads, writes, MADV_PAGEOUTs and truncations (munmap, then
    shmem_truncate_range, then mmap again) of a tmpfs file: after each step
    NR_SHMEM and NR_FILE_PAGES equal the tmpfs folios in page caches, and
    the machine's checks hold (AddrSpace._check asserts the same)."""
    b = Box(swap=[{"size_mib": 16}])
    inode = b.sub.new_shmem_file(8)

    def mmap():
        return b.call(M.do_mmap(b.sub, b.mm, 8 * PAGE, RW, M.MAP_SHARED, b.me(), file=inode))

    a = mmap()
    for op, start, n in ops:
        n = min(n, 8 - start)
        if op == "pageout":
            pageout(b, a + start * PAGE, n)
        elif op == "truncate":
            b.call(M.vm_munmap(b.sub, b.mm, a, 8 * PAGE, b.me()))
            b.call(inode.truncate(b.me()))
            a = mmap()
        else:
            for i in range(start, start + n):
                b.touch(a + i * PAGE, write=op == "write")
        assert stat(b, "nr_shmem") == shmem_pages(b) == file_pages(b)
        checked(b)


SCN = """
name = "tmpfs-counted"
[machine]
cpus = 2
memory_mib = 64
[[workload]]
kind = "mm-ops"
cpus = [0]
steps = ["mmap s 8M rw anon,shared", "touch s write", "mmap t 4M rw anon,shared",
         "touch t read", "munmap t"]
[run]
duration_ns = 2_000_000_000
seed = 1
"""


def test_a_run_reports_nr_shmem_in_its_vmstat_delta():
    """Known result: 8 MiB written to a MAP_SHARED|MAP_ANONYMOUS region and
    still mapped at the end is 2048 pages of nr_shmem and nr_file_pages in
    the run's /proc/vmstat delta; a 4 MiB one read and unmapped (evicted)
    leaves nothing behind."""
    m = Machine(parse_scenario(SCN, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    vd = res.extra["vmstat_delta"]
    assert vd["nr_shmem"] == 2048 and vd["nr_file_pages"] == 2048
    addrspace_of(m)._check()


def test_shared_anonymous_mapping_counts_once_per_page_across_fork():
    """A page cached once is counted once, however many mappings map it."""
    from mmactors.mm.fork import dup_mmap
    b = Box()
    a = b.mmap(3, flags=SHARED)
    for i in range(3):
        b.touch(a + i * PAGE)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    for i in range(3):
        b.touch(a + i * PAGE, write=False, mm=child)
    assert stat(b, "nr_shmem") == 3
    b.call(M.vm_munmap(b.sub, b.mm, a, 3 * PAGE, b.me()))
    assert stat(b, "nr_shmem") == 3                   # the child still maps the file
    b.call(M.vm_munmap(b.sub, child, a, 3 * PAGE, b.me()))
    assert stat(b, "nr_shmem") == 0
    b.sub._check()


def test_swap_cache_folios_count_in_nr_file_pages():
    """mm/swap_state.c add_to_swap_cache: ``__node_stat_mod_folio(folio,
    NR_FILE_PAGES, nr)`` beside NR_SWAPCACHE, and __delete_from_swap_cache
    the reverse.  Anonymous memory swapped out to an SSD under pressure
    leaves folios in the swap cache at the end of the run (under writeback,
    or written and not yet reclaimed), and /proc/vmstat's nr_file_pages
    counts exactly those, with no file anywhere."""
    text = SCN.replace('steps = ["mmap s 8M rw anon,shared", "touch s write", "mmap t 4M rw anon,shared",\n'
                       '         "touch t read", "munmap t"]',
                       'steps = ["mmap a 80M rw anon,private", "touch a write"]') \
        .replace("memory_mib = 64", 'memory_mib = 64\n[[swap]]\nsize_mib = 256\ndevice = "ssd"')
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    vs = res.extra["vmstat"]
    assert vs["pswpout"] > 0 and vs["nr_swapcached"] > 0
    assert vs["nr_file_pages"] == vs["nr_swapcached"] and vs["nr_shmem"] == 0
    addrspace_of(m)._check()
