"""truncate(2) to a size on a mapped disk file: fs/open.py's do_truncate ->
truncate_setsize -> truncate_pagecache (mm/truncate.c 6.12:
unmap_mapping_range, truncate_inode_pages, unmap_mapping_range again), as
mm-ops' ``truncate NAME SIZE`` step."""
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors.fs import File
from mmactors.machine import Machine
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.filemap_io import filemap_read
from mmactors.mm.page_writeback import NR_FILE_DIRTY
from mmactors.scenario import ScenarioError, parse_scenario

from .test_filemap_fault import TEXT, run


MAP = "mmap f 4M rw file,shared"
# read the whole file, then dirty two pages of the upper half and one of the lower
DIRTY = [MAP, "touch f read", "touch f write 3M 8K", "touch f write 0 4K"]


def state(res, sub):
    ino = sub.files[0]
    mms = [mm for mm in sub.mms if not mm.exited]
    return SimpleNamespace(
        ino=ino, nrpages=ino.i_mapping.nrpages, rss=sum(sum(mm.rss) for mm in mms),
        present=sum(pt.nr_present for mm in mms for pt in mm.pgtables.values()),
        dirty=sum(pg.vm_stat[NR_FILE_DIRTY] + sum(d[NR_FILE_DIRTY] for d in pg.vm_node_stat_diff)
                  for pg in sub.pa.nodes),             # exact: per-CPU diffs included
        io=res.extra["block"]["nvme0n1"]["stat"])


def read(sub, ino, pos, count):
    """filemap_read of a cache hit or past EOF never sleeps: drive the coroutine by hand."""
    coro = filemap_read(sub, File(ino), pos, count, SimpleNamespace(cpu=0, debt=0))
    with pytest.raises(StopIteration) as e:
        coro.send(None)
    return e.value.value


def test_truncate_to_half_unmaps_and_drops_the_upper_half():
    """Shrinking a 4 MiB mapped, cached file to 2 MiB: the upper 512 folios
    leave the page cache and every PTE mapping them goes (rss and present
    PTEs halve); the two dirty pages past the new EOF are dropped unwritten
    (folio_cancel_dirty: NR_FILE_DIRTY down by 2, no write I/O); the dirty
    page below EOF stays dirty."""
    before = state(*run(DIRTY))
    assert (before.nrpages, before.rss, before.present, before.dirty) == (1024, 1024, 1024, 3)
    after = state(*run(DIRTY + ["truncate f 2M"]))
    assert after.ino.i_size == 2 << 20
    assert (after.nrpages, after.rss, after.present, after.dirty) == (512, 512, 512, 1)
    assert sorted(after.ino.i_mapping.i_pages) == list(range(512))
    assert after.io["write_sectors"] == 0 and after.io["read_sectors"] == before.io["read_sectors"]


def test_partial_page_at_the_new_eof_stays():
    """truncate_inode_pages rounds the start up: the folio holding the new
    last byte stays cached and mapped."""
    s = state(*run([MAP, "touch f read", "truncate f 1025K"]))
    assert s.nrpages == 257 and s.rss == 257 and s.ino.i_size == 1025 << 10


def test_nothing_past_eof_after_truncate():
    """After the truncate a touch of the upper half maps nothing and reads
    nothing (filemap_fault's i_size check: VM_FAULT_SIGBUS), and read(2)
    past EOF returns 0 bytes while one straddling EOF is cut at it
    (filemap_read stops at i_size)."""
    res, sub = run([MAP, "touch f read", "truncate f 2M", "touch f read 2M"])
    s = state(res, sub)
    assert (s.nrpages, s.rss) == (512, 512)
    # each of the 512 touches past EOF is a VM_FAULT_SIGBUS, counted as mm-ops counts SIGSEGV
    (w,) = res.machine.workloads
    assert w.report()["sigbus"] == 512 and w.report()["segv"] == 0
    assert s.io["read_sectors"] == 8192              # the first pass only
    assert read(sub, s.ino, 3 << 20, 4096) == 0
    assert read(sub, s.ino, (2 << 20) - 1024, 4096) == 1024


def test_growing_back_reads_cold_pages():
    """Growing only sets i_size; the pages past the old EOF were dropped, so
    touching them again faults them in from the disk (major faults, reads)."""
    res, sub = run([MAP, "touch f read", "truncate f 2M", "truncate f 4M", "touch f read 2M"])
    s = state(res, sub)
    assert s.ino.i_size == 4 << 20
    assert (s.nrpages, s.rss) == (1024, 1024)
    assert s.io["read_sectors"] == 8192 + 4096       # the upper half read twice
    assert res.extra["vmstat_delta"]["pgmajfault"] == 2


def test_private_cow_copies_are_zapped_too():
    """unmap_mapping_range's even_cows: a private mapping's COWed anonymous
    copies past EOF are unmapped as well (rss drops by them)."""
    s = state(*run(["mmap f 4M rw file,private", "touch f read", "touch f write 3M 8K",
                    "truncate f 2M"]))
    assert (s.nrpages, s.rss, s.present) == (512, 512, 512)


@pytest.mark.parametrize("step, msg", [
    ("truncate f", "expected: truncate NAME SIZE"),
    ("truncate f 2X", "size '2X' is not a size"),
    ("truncate g 2M", "no file mapping named 'g'"),
])
def test_bad_truncate_step_is_one_line(step, msg):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(TEXT.format(steps=f'"{MAP}", "{step}"'), "<t>")
    assert msg in str(e.value) and "steps" in str(e.value) and "\n" not in str(e.value)


def test_truncate_of_a_tmpfs_file_is_refused():
    text = TEXT.replace('device = "nvme0n1"\n', "")
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text.format(steps=f'"{MAP}", "truncate f 2M"'), "<t>")
    assert "needs device" in str(e.value)


RACE = """
[machine]
cpus = 2
memory_mib = 64
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "mm-ops"
cpus = [0, 1]
mode = "threads"
shared_names = true
device = "nvme0n1"
check = true
repeat = 0
steps = ["mmap f 1M rw file,shared", "touch f read", "touch f write 512K 64K",
         "truncate f 256K", "touch f read", "truncate f 1M"]
[run]
duration_ns = 20_000_000
seed = {seed}
strategy = "random:0.2"
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truncate_racing_faults_keeps_the_invariants(seed):
    """Two threads fault and write the shared file mapping while the other
    truncates and regrows it, with random preemption: the address-space and
    page-cache invariants hold after every step, and at the end no PTE maps
    a folio that has left the page cache (every mapped file page is cached
    at its index)."""
    m = Machine(parse_scenario(RACE.format(seed=seed), "<t>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(m)
    sub._check()
    m.subsystems["fs"]._check()
    ino = sub.files[0]
    assert res.extra["vmstat_delta"]["nr_dirtied"] >= 4 * 16     # several passes ran
    cached = set(ino.i_mapping.i_pages.values())
    for mm in sub.mms:
        for pt in mm.pgtables.values():
            for v in pt.ptes:
                if v & 1:
                    pfn = v >> 12
                    if not sub.rmap.folio_test_anon(pfn) and pfn != sub.zero_pfn:
                        assert pfn in cached, f"pfn {pfn:#x} mapped but not cached"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(newsize=st.integers(0, 1 << 20), private=st.booleans())
def test_cache_and_mappings_end_at_the_new_eof(newsize, private):
    """Property: after reading a 1 MiB mapped file and truncating it to any
    byte size, exactly the pages holding bytes [0, newsize) stay cached and
    mapped (truncate_inode_pages keeps the partial page), and the invariants hold."""
    kind = "private" if private else "shared"
    res, sub = run([f"mmap f 1M r file,{kind}", "touch f read", f"truncate f {newsize}"])
    s = state(res, sub)
    keep = -(-newsize // 4096)
    assert s.ino.i_size == newsize
    assert sorted(s.ino.i_mapping.i_pages) == list(range(keep))
    assert s.rss == s.present == keep
