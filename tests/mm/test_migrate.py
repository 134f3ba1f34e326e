"""Page migration (mm/migrate.py): migration entries, migrate_pages under a
running workload, and the migration-entry wait of the fault path."""
from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from mmactors import Machine, parse_scenario
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.physmem import physmem_of
from mmactors.mm.swapops import (is_migration_entry, is_migration_pte,
                                 is_readable_exclusive_migration_entry,
                                 is_writable_migration_entry, make_readable_exclusive_migration_entry,
                                 make_readable_migration_entry, make_writable_migration_entry,
                                 pfn_swap_entry_to_pfn, pte_to_swp_entry, swp_entry_to_pte,
                                 MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE)


def test_migration_entry_encoding():
    """include/linux/swap.h: with CONFIG_MIGRATION and CONFIG_MEMORY_FAILURE and
    no device-private entries, MAX_SWAPFILES is 32 - 3 - 1 - 1 = 27 and the
    three migration types are 28..30; include/linux/swapops.h round trips."""
    assert MAX_SWAPFILES == 27
    assert (SWP_MIGRATION_READ, SWP_MIGRATION_WRITE) == (28, 30)
    for make, writable, excl in ((make_writable_migration_entry, True, False),
                                 (make_readable_migration_entry, False, False),
                                 (make_readable_exclusive_migration_entry, False, True)):
        e = make(0x12345)
        v = swp_entry_to_pte(e)
        assert is_migration_pte(v) and is_migration_entry(pte_to_swp_entry(v))
        assert pte_to_swp_entry(v) == e and pfn_swap_entry_to_pfn(e) == 0x12345
        assert is_writable_migration_entry(e) is writable
        assert is_readable_exclusive_migration_entry(e) is excl
    # an ordinary swap entry (type 0) is not a migration entry
    assert not is_migration_pte(swp_entry_to_pte(7))


def _machine(seed: int, strategy: str, steps_a, steps_b, compactions: int, costs: str = ""):
    steps = lambda ss: ", ".join(f'"{s}"' for s in ss)   # noqa: E731
    text = f"""
[machine]
cpus = 3
memory_mib = 64
[kconfig]
CONFIG_ZONE_DMA = false
CONFIG_TRANSPARENT_HUGEPAGE = false
{costs}
[[workload]]
kind = "mm-ops"
cpus = [0, 1]
mode = "threads"
steps = [{steps(steps_a)}]
repeat = 3
[[workload]]
kind = "mm-ops"
cpus = [2]
steps = [{steps(steps_b)}]
repeat = {compactions}
[run]
seed = {seed}
strategy = "{strategy}"
duration_ns = 2_000_000_000
"""
    return Machine(parse_scenario(text, "<test>"), trace=False)


def _check_all(m, res):
    assert res.error is None, res.error.report()
    sub = addrspace_of(m)
    physmem_of(m).pa._check()
    sub._check()
    # nothing is left isolated or half-migrated
    assert not sub.folio_locks.locker, "a folio is still locked after the run"
    assert not sub.folio_locks.unlock_waiters
    return sub


# Each example is a whole run (seconds): no shrinking, the seed and strategy are the report.
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(seed=st.integers(1, 10_000), p=st.sampled_from(["random", "random:0.2", "pct:3"]))
def test_migrate_under_running_workload(seed, p):
    """Property: compact_memory (compact_nodes: every zone, MIGRATE_SYNC)
    migrates the anonymous pages two threads keep faulting, unmapping and
    forking over; afterwards no frame is lost or doubly owned (the page
    allocator's and the address spaces' _check), every PTE points at a frame
    whose rmap and refcount agree, and migration moved pages."""
    a = ["mmap buf 3M rw anon,private", "touch buf write", "munmap buf 0 512K",
         "touch buf read", "fork", "touch buf write 1M 1M", "exit", "munmap buf"]
    b = ["mmap junk 8M rw anon,private", "touch junk write", "madvise junk dontneed 0 6M",
         "compact_memory", "delay 200000"]
    m = _machine(seed, p, a, b, 2)
    res = m.run()
    sub = _check_all(m, res)
    assert res.extra["vmstat"]["pgmigrate_success"] > 0
    assert sub.compaction.compact_memory_runs == 2


def test_fault_on_migration_entry_waits():
    """mm/migrate.c migration_entry_wait: a thread faulting on a page while
    compaction migrates it sleeps until the old folio is unlocked, then the
    access succeeds (no lost write, no SIGSEGV).  Two threads keep touching
    the memory compact_memory moves; some touches land on migration entries."""
    a = ["mmap buf 4M rw anon,private", "touch buf write"] + \
        ["delay 500000", "retouch buf write 1"] * 40
    b = ["delay 3000000", "compact_memory"]
    waits = 0
    for seed in (1,):
        # a slow copy (1 ms a page) keeps each folio under migration long enough
        # for the other threads' touches to meet its migration entries
        m = _machine(seed, "random", a, b, 1, "[costs]\npage_copy_ns = 1_000_000")
        res = m.run()
        sub = _check_all(m, res)
        waits += sub.compaction.migrate.entry_waits
        assert res.extra["vmstat"]["pgmigrate_success"] > 0
        assert not any(w.get("segv") for w in res.extra["workload_details"])
    assert waits > 0


def test_tmpfs_folios_migrate_through_their_mapping():
    """__folio_migrate_mapping for a page-cache folio (mm/migrate.c): the
    expected references are the isolation's and the page cache's, and the
    i_pages slot is switched to the new folio under xa_lock; the shared
    mapping's PTEs follow (remove_migration_ptes over i_mmap)."""
    a = ["mmap shm 2M rw shared,anon", "touch shm write", "fork", "touch shm read",
         "delay 3000000", "exit"]
    b = ["mmap junk 6M rw anon,private", "touch junk write", "munmap junk",
         "delay 1000000", "compact_memory"]
    m = _machine(5, "random", a, b, 1)
    res = m.run()
    sub = _check_all(m, res)
    assert res.extra["vmstat"]["pgmigrate_success"] > 0
    cached = [(f, idx, pfn) for f in sub.files for idx, pfn in f.mapping.i_pages.items()]
    assert cached
    assert all(sub.rmap.mapping[pfn] == (f.mapping, idx) for f, idx, pfn in cached)
    assert sub.compaction.migrate.moved["file"] > 0


def test_disk_file_folios_migrate_with_their_tags():
    """Page-cache folios of a disk file (fs/; a reader's and a writer's)
    migrate through the same __folio_migrate_mapping as tmpfs ones
    (mm/migrate.c's filemap_migrate_folio: the i_pages slot switched under
    xa_lock, the page flags, PG_dirty included, moved with the folio); the
    mapping's tags are by index, so they follow.  Afterwards every cached
    index points at a frame whose rmap says so, every dirty-tagged index at
    a dirty folio, and the run's invariant checks hold."""
    text = """
name = "migrate-disk-file"
[machine]
cpus = 3
memory_mib = 64
[[block]]
name = "sda"
kind = "ssd"
[[workload]]
kind = "file-io"
cpus = [0]
device = "sda"
rw = "read"
bs = "4K"
size = "16M"
[[workload]]
kind = "file-io"
cpus = [2]
device = "sda"
rw = "write"
bs = "4K"
size = "4M"
[[workload]]
kind = "mm-ops"
cpus = [1]
steps = ["delay 300000000", "compact_memory"]
[run]
duration_ns = 600_000_000
seed = 1
"""
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    sub = _check_all(m, res)
    assert sub.compaction.migrate.moved["file"] > 0
    assert sub.compaction.migrate.moved["anon"] == 0
    from mmactors.mm.filemap import PG_dirty, PAGECACHE_TAG_DIRTY
    inodes = list(m.subsystems["fs"].inodes())
    assert inodes
    flags = sub.mem_map.f
    for inode in inodes:
        mapping = inode.i_mapping
        for idx, pfn in mapping.i_pages.items():
            assert sub.rmap.mapping[pfn] == (mapping, idx)
        for idx in mapping.tags[PAGECACHE_TAG_DIRTY]:
            assert flags[mapping.i_pages[idx]] & PG_dirty
