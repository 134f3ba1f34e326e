"""Swap-in faults and swap PTEs on every path that meets them (mm/memory.c
do_swap_page, zap_pte_range, copy_nonpresent_pte; mm/mremap.c move_ptes;
mm/mprotect.c change_pte_range; mm/swap_state.c readahead; mm/page_io.c)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import thp_sysfs
from mmactors.mm import mmap as M
from mmactors.mm.fork import dup_mmap
from mmactors.mm.memory import VM_FAULT_MAJOR, _PAGE_RW
from mmactors.mm.mprotect import sys_mprotect
from mmactors.mm.mremap import MREMAP_MAYMOVE, sys_mremap
from mmactors.mm.swap_state import swapin_nr_pages_calc
from mmactors.mm.swapops import is_swap_pte, pte_swp_exclusive, pte_to_swp_entry

from .test_swap_state import PAGE, Box, reclaim_async, reclaim_one, vm


def swapbox(**kw):
    return Box(swap=[{"size_mib": 16}], **kw)


def checked(b):
    b.sub._check()
    b.sub.swap_cache._check()
    b.sub.swap._check()


def swap_out(b, addr, mm=None, n=1):
    entries = []
    for i in range(n):
        a = addr + i * PAGE
        entries.append(reclaim_one(b, b.pfn(a, mm)))
    return entries


def test_munmap_frees_the_slot():
    """zap_pte_range -> free_swap_and_cache: the PTE's count goes, the slot is freed."""
    b = swapbox()
    a = b.mmap(4)
    for i in range(4):
        b.touch(a + i * PAGE)
    entries = swap_out(b, a, n=4)
    sw = b.sub.swap
    assert all(sw.swap_count(e) == 1 for e in entries)
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 4
    b.call(M.vm_munmap(b.sub, b.mm, a, 4 * PAGE, b.me()))
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 0
    assert all(sw.map_of(e) in (0, 0x40) for e in entries)
    assert sw.nr_swap_pages + len(sw.cached_slots()) == sw.total_swap_pages
    checked(b)


def test_fork_duplicates_swap_entries_and_shares_them():
    """copy_nonpresent_pte: swap_duplicate, MM_SWAPENTS in the child, the
    exclusive bit cleared in the parent (the entry is now shared)."""
    b = swapbox()
    a = b.mmap(1)
    b.touch(a)
    (e,) = swap_out(b, a)
    assert pte_swp_exclusive(b.pte(a))
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    assert b.sub.swap.swap_count(e) == 2
    assert child.rss[child.MM_SWAPENTS] == 1
    assert not pte_swp_exclusive(b.pte(a)) and b.pte(a, child) == b.pte(a)
    checked(b)
    # a count of 2 is not the skip-swapcache case: swapin_readahead, the swap cache
    ret = b.touch(a, write=False, mm=child)
    assert ret & VM_FAULT_MAJOR
    pfn = b.pfn(a, child)
    assert b.sub.swap_cache.folio_swap_entry(pfn) == e           # still cached
    assert not b.pte(a, child) & _PAGE_RW                        # shared: read-only
    # the parent finds it in the swap cache: a minor fault, the same folio
    ret = b.touch(a, write=False)
    assert not ret & VM_FAULT_MAJOR and b.pfn(a) == pfn
    assert b.sub.rmap.mc[pfn] == 2
    checked(b)
    # a write copies (do_wp_page): the child gets its own page
    b.touch(a, write=True, mm=child)
    assert b.pfn(a, child) != pfn
    checked(b)
    b.call(M.exit_mmap(b.sub, child, b.me()))
    b.call(M.exit_mmap(b.sub, b.mm, b.me()))
    checked(b)
    assert b.sub.swap.map_of(e) in (0, 0x40)
    assert b.sub.swap_cache.nr_swapcached == 0


def test_write_fault_on_exclusive_swap_entry_maps_writable_and_frees_swap():
    """A write swap-in of an exclusive entry: writable, dirty, no COW; the
    swap cache copy is dropped (should_try_to_free_swap)."""
    b = swapbox()
    a = b.mmap(2)
    b.touch(a)
    b.touch(a + PAGE)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    b.call(M.exit_mmap(b.sub, child, b.me()))                    # the child is gone
    (e,) = swap_out(b, a)
    b.touch(a, write=True)
    assert b.pte(a) & _PAGE_RW
    assert b.sub.swap_cache.nr_swapcached == 0
    checked(b)


def test_vma_readahead_reads_the_window_and_counts_hits():
    """swap_vma_readahead: neighbours swapped in with PG_readahead (swap_ra),
    a later fault on one is a swap-cache hit (swap_ra_hit), not major."""
    b = swapbox()
    n = 16
    a = b.mmap(n)
    for i in range(n):
        b.touch(a + i * PAGE)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))      # count 2: no skip-swapcache
    swap_out(b, a, n=n)
    for i in range(n):   # the child's PTEs still map the folios: unmapping took both
        assert is_swap_pte(b.pte(a + i * PAGE, child))
    assert b.touch(a, write=False) & VM_FAULT_MAJOR
    assert vm(b, "swap_ra") > 0
    ra = vm(b, "swap_ra")
    majors = vm(b, "pgmajfault")
    b.touch(a + PAGE, write=False)
    assert vm(b, "swap_ra_hit") >= 1 and vm(b, "pgmajfault") == majors
    for i in range(n):
        b.touch(a + i * PAGE, write=False)
    assert vm(b, "pgmajfault") < n
    assert vm(b, "pswpin") == vm(b, "swap_ra") + vm(b, "pgmajfault") >= ra
    checked(b)


def test_page_cluster_zero_disables_readahead():
    b = Box(swap=[{"size_mib": 16}])
    b.sub.swap_cache.page_cluster = 0
    a = b.mmap(8)
    for i in range(8):
        b.touch(a + i * PAGE)
    b.call(dup_mmap(b.sub, b.mm, b.me()))
    swap_out(b, a, n=8)
    for i in range(8):
        b.touch(a + i * PAGE, write=False)
    assert vm(b, "swap_ra") == 0 and vm(b, "pgmajfault") == 8


@pytest.mark.parametrize("prev,off,hits,maxp,prevwin,want", [
    (10, 11, 0, 8, 0, 2),      # adjacent, no hits: 2
    (10, 50, 0, 8, 0, 1),      # random, no hits: 1
    (10, 50, 1, 8, 0, 4),      # any hits: at least 4
    (10, 50, 5, 8, 0, 8),      # hits + 2 rounded up to a power of two, capped
    (10, 50, 0, 8, 8, 4),      # not below half the last window
])
def test_swapin_nr_pages(prev, off, hits, maxp, prevwin, want):
    """__swapin_nr_pages (mm/swap_state.c) on its cases."""
    assert swapin_nr_pages_calc(prev, off, hits, maxp, prevwin) == want


def test_mremap_moves_swap_ptes_and_swapin_finds_them():
    b = swapbox()
    a = b.mmap(4)
    for i in range(4):
        b.touch(a + i * PAGE)
    entries = swap_out(b, a, n=2)
    new = b.call(sys_mremap(b.sub, b.mm, a, 4 * PAGE, 64 * PAGE, MREMAP_MAYMOVE, b.me()))
    assert new > 0 and new != a
    assert pte_to_swp_entry(b.pte(new)) == entries[0]
    checked(b)
    b.touch(new + PAGE, write=False)
    assert not is_swap_pte(b.pte(new + PAGE))
    checked(b)


def test_mprotect_leaves_swap_ptes_alone():
    """A swap PTE's type field sits where a present PTE has _PAGE_RW: change_pte_range must not touch it."""
    b = Box(swap=[{"size_mib": 16}, {"size_mib": 16, "priority": 100}])
    a = b.mmap(2)
    b.touch(a)
    (e,) = swap_out(b, a)
    assert e >> 58 == 1                      # type 1: bit 1 of the PTE is set
    before = b.pte(a)
    assert b.call(sys_mprotect(b.sub, b.mm, a, 2 * PAGE, M.PROT_READ, b.me())) == 0
    assert b.pte(a) == before
    b.touch(a, write=False)
    assert not b.pte(a) & _PAGE_RW
    checked(b)


def test_async_device_write_ends_in_softirq_and_read_unlocks_there():
    """On a blk-mq device (ssd) the swap write ends in BLOCK_SOFTIRQ
    (end_swap_bio_write -> folio_end_writeback), and a swap-in's read is
    unlocked by end_swap_bio_read there; the faulting task waits on the folio lock."""
    from mmactors.mm.filemap import PG_writeback
    from mmactors.mm.page_io import folio_wait_writeback, swap_writepage
    from mmactors.mm.rmap import try_to_unmap, try_to_unmap_flush
    from mmactors.mm._internal import PG_lru
    b = Box(swap=[{"size_mib": 16, "device": "ssd"}])
    a = b.mmap(2)
    b.touch(a)
    b.touch(a + PAGE)
    child = b.call(dup_mmap(b.sub, b.mm, b.me()))
    sub = b.sub
    eng = b.pm.engine
    seen = {}

    async def body(me):
        sc = sub.swap_cache
        pfn = b.pfn(a)
        f = sub.mem_map.f
        await sub.lru.lru_add_drain(me)
        assert sub.folio_locks.folio_trylock(pfn, me)
        assert await sc.add_to_swap(pfn, me)
        assert await try_to_unmap(sub, pfn, me)
        await try_to_unmap_flush(sub, me)
        await swap_writepage(sub, pfn, me)
        seen["wb_after_submit"] = bool(f[pfn] & PG_writeback)
        t0 = eng.now
        await folio_wait_writeback(sub, pfn, me)
        seen["wb_wait_ns"] = eng.now - t0
        ret = await sub.memory.do_user_addr_fault(b.mm, a, False, me)
        seen["ret"] = ret
        seen["same"] = b.pfn(a) == pfn                 # still in the swap cache: a minor hit
        # out for good this time, then a major fault: the read ends in softirq,
        # where end_swap_bio_read unlocks the folio the fault waits on
        await reclaim_async(sub, b.pfn(a), me)
        t0 = eng.now
        seen["maj0"] = vm(b, "pgmajfault")
        seen["ret2"] = await sub.memory.do_user_addr_fault(b.mm, a, False, me)
        seen["major_ns"] = eng.now - t0
        me.ops += 1

    sub.swap.swap_info[0].bdev.start()
    eng.duration_ns = 10**9                 # the device and irq actors idle to the end
    eng.add_actor("reclaimer", body, cpu=0)
    eng.run()
    assert seen["wb_after_submit"] and seen["wb_wait_ns"] > 0
    assert seen["same"] and not seen["ret"] & VM_FAULT_MAJOR
    # (the per-VMA attempt finds the folio locked by the read: VM_FAULT_RETRY
    # after waiting, and the mmap_lock retry maps it: pgmajfault counted once)
    assert not seen["ret2"] and vm(b, "pgmajfault") == seen["maj0"] + 1
    assert seen["major_ns"] >= b.sub.swap.swap_info[0].bdev.latency_ns   # waited for the read
    assert vm(b, "pswpout") == 2 and vm(b, "pswpin") >= 1
    checked(b)


# ------------------------------------------------------------- known results
def _usemem_swap_run(swap_mib, size="14M", version="6.12"):
    from mmactors import Machine, parse_scenario
    text = f"""
[machine]
cpus = 2
memory_mib = 32
{thp_sysfs("never")}
[constants]
swap_allocator = "{version}"
[[swap]]
size_mib = {swap_mib}
device = "ssd"
[[workload]]
kind = "usemem"
size = "{size}"
repeat = 1
[run]
duration_ns = 2_000_000_000
seed = 1
"""
    m = Machine(parse_scenario(text, "<known>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


def test_slots_cache_on_takes_si_lock_once_per_64_pages_swapped():
    """mm/swap_slots.c (6.12): with the per-CPU slots cache active (free slots
    above 5 x 64 x nr_cpus), folio_alloc_swap refills 64 slots per si->lock
    hold (get_swap_pages(SWAP_SLOTS_CACHE_SIZE)) and free_swap_slot returns
    them 64 at a time (swapcache_free_entries): through real reclaim and
    exit, si->lock is taken about (pages out + slots freed) / 64 times."""
    m, res = _usemem_swap_run(128)
    out = res.extra["vmstat"]["pswpout"]
    st = m.subsystems["swap"].slots.stats
    freed = sum(st.free_hits) + sum(st.free_misses)
    si_lock = res.locks["&p->lock"]["acquisitions"]
    assert out > 300 and freed == out                       # every slot back at exit
    assert (out + freed) // 64 - 2 <= si_lock <= (out + freed) // 64 + 2 * 2, (out, si_lock)


def test_slots_cache_forced_off_takes_si_lock_per_page():
    """Below the activation threshold (a 2 MiB device: 511 slots < 5 x 64 x 2)
    the cache stays off (check_cache_active): one si->lock hold per slot
    allocated and one per slot freed."""
    m, res = _usemem_swap_run(2)
    out = res.extra["vmstat"]["pswpout"]
    sw = m.subsystems["swap"]
    assert not sw.slots.swap_slot_cache_active and out > 300
    assert res.locks["&p->lock"]["acquisitions"] == 2 * out


def test_si_lock_wait_grows_faster_than_cpus_under_612_and_falls_away_later():
    """Kairui Song, "mm, swap: rework of swap allocator locks" (6.14/6.15,
    3b644773eefd "mm, swap: reduce contention on device lock"): under 6.12
    every slots-cache refill and flush scans under si->lock, so with many
    CPUs swapping the lock's wait time grows much faster than the CPU count;
    with the reworked allocator (ci->lock first, si->lock only to move
    clusters between lists) it falls away.  Flat at a few CPUs."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from test_swapfile import run_actors
    wait = {}
    for v in ("6.12", "6.15"):
        for n in (2, 8, 48):
            _, _, locks = run_actors(v, n, iters=120, lockdep=False, size_mib=256)
            wait[v, n] = locks["&p->lock"]["waittime_total_ns"]
    # 6.12: from 8 to 48 CPUs (6x) the total wait grows far more than 6x
    assert wait["6.12", 48] > 6 * 6 * wait["6.12", 8], wait
    # the rework: several times less at 48 CPUs (measured: 2.47 ms against
    # 0.44 ms of si->lock wait), similar at 2 (2.5 us against 1.6 us)
    assert wait["6.12", 48] > 4 * wait["6.15", 48], wait
    assert wait["6.12", 2] < 4 * max(1, wait["6.15", 2]) + 5000, wait


# ------------------------------------------------------------ MADV_PAGEOUT
def test_madvise_pageout_swaps_out_exactly_the_range():
    """madvise(MADV_PAGEOUT) (mm/madvise.c -> reclaim_pages ->
    shrink_folio_list with ignore_references): the range's exclusive
    anonymous folios go to swap even though their PTEs are young."""
    from mmactors.mm.madvise import sys_madvise_pageout
    b = swapbox()
    a = b.mmap(8)
    for i in range(8):
        b.touch(a + i * PAGE)
    b.call(sys_madvise_pageout(b.sub, b.mm, a + 2 * PAGE, 4 * PAGE, b.me()))
    swapped = [is_swap_pte(b.pte(a + i * PAGE)) for i in range(8)]
    assert swapped == [False, False, True, True, True, True, False, False]
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 4 and vm(b, "pswpout") == 4
    checked(b)
    for i in range(8):
        b.touch(a + i * PAGE, write=False)
    assert b.mm.rss[b.mm.MM_SWAPENTS] == 0
    checked(b)


# ------------------------------------------------------------ the race
RACES = Path(__file__).resolve().parents[2] / "scenarios" / "races"


def _cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "mmactors", *map(str, args)],
                          capture_output=True, text=True, cwd=RACES.parents[1])


def test_swapin_race_buggy_is_found_by_fuzz_and_replays():
    """scenarios/races/swapin-reclaim-buggy.toml: without do_swap_page's
    pte_same() recheck a second faulter maps the folio over the first one's
    PTE and frees its swap entry twice; `mmactors fuzz` finds it and the
    replay token reproduces it."""
    r = _cli("fuzz", RACES / "swapin-reclaim-buggy.toml", "--strategy", "random:0.1",
             "--runs", "20", "--no-lockdep")
    assert r.returncode == 6, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "swap count underflow" in out and "replay" in out
    token = out.split("--strategy replay:")[1].split()[0]
    again = _cli("run", RACES / "swapin-reclaim-buggy.toml", "--strategy", f"replay:{token}",
                 "--quiet")
    assert again.returncode == 6 and "swap count underflow" in again.stdout + again.stderr


def test_swapin_race_fixed_is_clean_and_the_recheck_fires():
    """The same scenario with the recheck: clean over the fuzz runs, and in a
    run the recheck actually backs out of lost races (swapin_pte_changed)."""
    r = _cli("fuzz", RACES / "swapin-reclaim-fixed.toml", "--strategy", "random:0.1",
             "--runs", "8", "--no-lockdep")
    assert r.returncode == 0, r.stdout + r.stderr
    from mmactors import Machine, load_scenario
    m = Machine(load_scenario(RACES / "swapin-reclaim-fixed.toml",
                              [("run.duration_ns", 6_000_000)]), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    assert res.extra["swap"]["swap_cache"]["swapin_pte_changed"] > 0
