"""Page faults on a mapped disk file: filemap_fault with mmap read-around
and async readahead (mm/filemap.c 6.12), through mm-ops' ``device``.

Lockdep watches these runs (tests/conftest.py): 6.12 runs file read faults
under the per-VMA read lock (do_read_fault: vmf_can_call_fault allows it
when the VMA has ->map_pages), so filemap_fault takes invalidate_lock and
the folio lock with vm_lock read-held.
"""
from mmactors.machine import Machine
from mmactors.mm.addrspace import addrspace_of
from mmactors.scenario import parse_scenario

TEXT = """
[machine]
cpus = 1
memory_mib = 64
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "mm-ops"
cpus = [0]
device = "nvme0n1"
check = true
steps = [{steps}]
[run]
duration_ns = 1_000_000_000
seed = 1
"""


def run(steps):
    m = Machine(parse_scenario(TEXT.format(steps=", ".join(f'"{s}"' for s in steps)), "<t>"),
                trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(m)
    sub._check()
    m.subsystems["fs"]._check()
    return res, sub


def test_sequential_mmap_read_is_one_major_fault():
    """A sequential read of a cold 4 MiB shared file mapping: the first
    fault misses (PGMAJFAULT, do_sync_mmap_readahead reads 32 pages around
    it, the mark 8 from the end); fault-around (filemap_map_pages) maps
    what is cached but leaves the PG_readahead folio to a fault, which
    starts the next window (do_async_mmap_readahead): one major fault, the
    file read from the disk once in 32-page reads."""
    res, sub = run(["mmap f 4M r file,shared", "touch f read"])
    vm = res.extra["vmstat_delta"]
    assert vm["pgmajfault"] == 1
    st = res.extra["block"]["nvme0n1"]["stat"]
    assert st["read_sectors"] == 8192 and st["read_ios"] == 32
    assert res.extra["pagecache"]["reads"]["ra_async"] >= 30
    assert sub.files[0].i_mapping.nrpages == 1024


def test_random_mmap_faults_do_not_read_around_for_ever():
    """ra->mmap_miss counts misses; past MMAP_LOTSAMISS (100) misses without
    hits, do_sync_mmap_readahead stops reading around: a scattered access
    pattern over a big mapping reads single pages."""
    steps = ["mmap f 64M r file,private"] + [f"touch f read {i * 512}K 4K" for i in range(128)]
    res, sub = run(steps)
    vm = res.extra["vmstat_delta"]
    assert vm["pgmajfault"] == 128
    st = res.extra["block"]["nvme0n1"]["stat"]
    # 100 read-arounds of 32 pages, then one page per fault
    assert st["read_sectors"] == (100 * 32 + 28) * 8


def test_file_fault_under_the_vma_lock_is_lockdep_clean():
    """Regression: with the hierarchy seeded, the first disk-file read fault
    (vm_lock read -> invalidate_lock -> folio_lock) was reported as circular
    through rmap.c's hugetlbfs chain (folio_lock -> hugetlbfs_i_mmap_rwsem_key
    -> vma_start_write), a false positive: hugetlb is not simulated and the
    kernel's lockdep does not see PG_locked.  That chain is now seeded only
    once a hugetlbfs lock is taken (lockdep/hierarchy.py HUGETLB_LOCK_ORDER)."""
    from mmactors.testing import lockdep_enabled
    with lockdep_enabled(True):
        m = Machine(parse_scenario(TEXT.format(steps='"mmap f 1M r file,shared", "touch f read"'),
                                   "<t>"), trace=False)
        res = m.run()
    assert res.error is None, res.error.report()
    assert res.extra["vmstat_delta"]["pgmajfault"] == 1


def test_disk_file_pages_count_in_mm_filepages_shmem_in_mm_shmempages():
    """include/linux/mm.h mm_counter_file: a mapped disk-file page counts in
    MM_FILEPAGES, a shared anonymous (shmem) page in MM_SHMEMPAGES (they
    were both counted as shmem before); AddrSpace._check compares each
    counter with the PTEs."""
    res, sub = run(["mmap f 4M r file,shared", "touch f read",
                    "mmap s 1M rw anon,shared", "touch s write"])
    (rss,) = res.extra["mm"]["rss"]
    assert rss["file"] == 1024 and rss["shmem"] == 256 and rss["anon"] == 0
