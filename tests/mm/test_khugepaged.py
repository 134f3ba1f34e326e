"""khugepaged (mm/khugepaged.py; kernel: mm/khugepaged.c, Linux 6.12): the scan
rate its knobs allow, collapse_huge_page's mmap_lock hold, the scan limits."""
from mmactors import parse_scenario
from mmactors.machine import Machine
from mmactors.mm.addrspace import addrspace_of

K = "kernel/mm/transparent_hugepage/khugepaged/"


def run(steps, *, sysfs=None, cpus=1, mode="processes", duration_ns=5 * 10**9, extra="",
        check=True, allow_error=False):
    """``allow_error``: the run may end in an error (a lockdep report).
    ``check``: AddrSpace._check() at the end; only for runs whose workloads
    finished (a run cut at its duration may stop inside a fault or a collapse,
    between an RSS update and the PTE or PMD store)."""
    sysfs = dict({"kernel/mm/transparent_hugepage/enabled": "madvise"}, **(sysfs or {}))
    lines = "\n".join(f'"{k}" = {v!r}'.replace("'", '"') for k, v in sysfs.items())
    steps_toml = ", ".join(f'"{s}"' for s in steps)
    text = f"""
[machine]
cpus = {cpus}
memory_mib = 512
[sysfs]
{lines}
[[workload]]
kind = "mm-ops"
cpus = {list(range(cpus))}
mode = "{mode}"
steps = [{steps_toml}]
{extra}
[run]
duration_ns = {duration_ns}
"""
    res = Machine(parse_scenario(text, "<test>"), trace=False).run()
    assert allow_error or res.error is None, res.error.report()
    sub = addrspace_of(res.machine)
    if check:
        sub._check()
    return res, sub, sub.thp.khugepaged


def test_default_knobs_scan_at_most_4096_ptes_per_10_seconds():
    """khugepaged_do_scan stops a pass at pages_to_scan (HPAGE_PMD_NR * 8 =
    4096) of progress, 512 per PMD, and khugepaged_wait_work sleeps
    scan_sleep_millisecs (10000) between passes: 32 MiB of 4 KiB pages
    (16 PMDs) takes two passes, 8 collapses each, 10 s apart."""
    res, sub, kh = run(["mmap a 32M rw anon,private", "touch a write", "madvise a hugepage",
                        "delay 35000000000"], duration_ns=40 * 10**9)
    assert kh.pages_to_scan == 4096 and kh.scan_sleep_ns == 10 * 10**9
    assert kh.pass_ptes and max(kh.pass_ptes) <= 4096
    assert all(p <= 4096 + 16 for p in kh.pass_progress)
    gaps = [b - a for a, b in zip(kh.pass_times, kh.pass_times[1:])]
    assert gaps and min(gaps) >= 10 * 10**9
    assert kh.pages_collapsed == 16
    assert kh.results.get("succeed") == 16
    assert sub.thp.event("thp_collapse_alloc") == 16
    # the first pass did 8 (4096 / 512), the second the other 8
    assert kh.pass_ptes[0] == 4096 and kh.pass_ptes[1] == 4096
    mm = sub.mms[0]
    assert len(mm.pmd_huge) == 16 and mm.rss[mm.MM_ANONPAGES] == 16 * 512
    assert kh.full_scans >= 1


def test_collapse_holds_mmap_lock_for_a_fraction_of_a_millisecond():
    """collapse_huge_page copies the 512 pages (clears the none ones) with
    mmap_lock held for write: published 0.2 to 0.5 ms per collapse,
    shorter the more PTEs were none (clearing is cheaper than copying)."""
    _, _, kh = run(["mmap a 2M rw anon,private", "touch a write", "madvise a hugepage",
                    "delay 1000000000"], sysfs={K + "scan_sleep_millisecs": 100})
    _, _, kh_half = run(["mmap a 2M rw anon,private", "touch a write 0 1M",
                         "madvise a hugepage", "delay 1000000000"],
                        sysfs={K + "scan_sleep_millisecs": 100})
    (full, n0), = kh.hold_ns
    (half, n1), = kh_half.hold_ns
    assert n0 == 0 and n1 == 256
    assert 200_000 <= half < full <= 500_000


def test_max_ptes_none_limit():
    """hpage_collapse_scan_pmd: more none PTEs than max_ptes_none is
    SCAN_EXCEED_NONE_PTE, counted as thp_scan_exceed_none_pte; no collapse."""
    _, sub, kh = run(["mmap a 2M rw anon,private", "touch a write 0 64K",
                      "madvise a hugepage", "delay 1000000000"],
                     sysfs={K + "scan_sleep_millisecs": 100, K + "max_ptes_none": 64})
    assert kh.pages_collapsed == 0
    assert sub.thp.event("thp_scan_exceed_none_pte") >= 1
    assert kh.results.get("exceed_none_pte", 0) >= 1


def test_multithreaded_process_waits_on_khugepaged_mmap_lock():
    """The collapse's mmap_lock write hold stalls the process's other
    threads that need mmap_lock (mmap/munmap here): lock_stat's contending
    points of &mm->mmap_lock name collapse_huge_page (the holder others
    waited for)."""
    steps = ["mmap a 4M rw anon,private", "touch a write", "madvise a hugepage",
             "mmap t 64K rw anon,private", "touch t write", "munmap t",
             "mmap t 64K rw anon,private", "touch t write", "munmap t"]
    res, sub, kh = run(steps, sysfs={K + "scan_sleep_millisecs": 1},
                       cpus=4, mode="threads", duration_ns=20_000_000,
                       extra="repeat = 0", check=False)
    assert kh.pages_collapsed > 0
    doc = res.to_json()
    lk = doc["locks"]
    w = lk["&mm->mmap_lock-W"]
    holders = dict(w["contending_points"])            # where the lock was held when others waited
    assert holders.get("collapse_huge_page", 0) > 0
    assert w["waittime_total_ns"] > 0


def test_khugepaged_ends_when_the_workloads_have_ended():
    """The thread sleeps scan_sleep_millisecs (10 s) between passes, but in
    slices that notice the end of every workload: it is done long before the
    run's duration, and keeps nothing alive."""
    from mmactors._core import ActorState
    res, sub, kh = run(["mmap a 4M rw anon,private", "touch a write"],
                       sysfs={"kernel/mm/transparent_hugepage/enabled": "always"},
                       duration_ns=60 * 10**9)
    assert kh.actor is not None and kh.actor.state is ActorState.DONE
    assert kh.passes == 1                              # never woke for a second pass


_RACE = ["mmap a 4M rw anon,private", "touch a write", "madvise a hugepage",
         "mmap t 64K rw anon,private", "touch t write", "munmap t"]


def test_collapse_racing_faults_is_clean_under_lockdep():
    """collapse_huge_page's path (mm/khugepaged.c: mmap_write_lock ->
    vma_start_write -> anon_vma_lock_write -> pmd_lock, then the PTE lock
    alone) and khugepaged_mm_lock, checked against the mm lock order with the
    THP part (mmactors/lockdep/hierarchy.py THP_LOCK_ORDER) seeded: four
    threads fault and mmap/munmap while khugepaged collapses, no report."""
    from mmactors.lockdep import lockdep_of
    from mmactors.testing import lockdep_enabled
    with lockdep_enabled(True):
        res, sub, kh = run(_RACE, sysfs={K + "scan_sleep_millisecs": 1}, cpus=4,
                           mode="threads", duration_ns=20_000_000, extra="repeat = 0",
                           check=False)
    ld = lockdep_of(res)
    assert kh.pages_collapsed > 0
    assert ld is not None and not ld.reports, [r.text for r in ld.reports]
    seeded = {c.name for c in ld.class_list if c.seeded}
    assert {"khugepaged_mm_lock", "&ds_queue->split_queue_lock"} <= seeded
    # the collapse's locks were taken and validated, not only seeded
    used = {c.name for c in ld.class_list if c.after or c.before}
    assert {"&mm->mmap_lock", "&anon_vma->rwsem", "ptlock_ptr(ptdesc)"} <= used
    # __khugepaged_enter took khugepaged_mm_lock under a seeded outer lock
    # (mmap_lock from MADV_HUGEPAGE): that edge of the data was seen in the run
    kml = next(c for c in ld.class_list if c.name == "khugepaged_mm_lock")
    seen = {d.prev.name for d in kml.before.values() if d.observed is not None}
    assert "&mm->mmap_lock" in seen, seen


def test_pte_lock_under_the_split_queue_lock_is_reported(monkeypatch):
    """deferred_split_folio takes split_queue_lock under the page table lock
    (mm/huge_memory.c, mm/rmap.c __folio_remove_rmap); a khugepaged scan that
    took the PTE lock with a node's split_queue_lock held inverts that order,
    and lockdep reports it at once (fails if the THP order were missing from
    the data: nothing else in the run nests the two)."""
    from mmactors.lockdep import lockdep_of
    from mmactors.mm.khugepaged import Khugepaged
    from mmactors.sync import SpinLock
    from mmactors.testing import lockdep_enabled
    orig = Khugepaged.hpage_collapse_scan_pmd

    async def wrong(self, mm, vma, address, me):
        q = getattr(self, "_test_q", None) or SpinLock(self.engine, "&ds_queue->split_queue_lock")
        self._test_q = q
        flags = await q.lock_irqsave("wrong_order")
        pt = mm.pgtables.get(address >> 21)
        if pt is not None:
            await pt.ptl.lock("wrong_order")               # PTE lock under split_queue_lock
            pt.ptl.unlock("wrong_order")
        q.unlock_irqrestore(flags, "wrong_order")
        return await orig(self, mm, vma, address, me)

    monkeypatch.setattr(Khugepaged, "hpage_collapse_scan_pmd", wrong)
    with lockdep_enabled(True):
        res, sub, kh = run(_RACE[:3] + ["delay 100000000"],
                           sysfs={K + "scan_sleep_millisecs": 10}, check=False,
                           allow_error=True)
    ld = lockdep_of(res)
    assert res.exit_status == 4
    (r,) = ld.reports
    assert r.kind == "circular" and r.hierarchy
    assert set(r.classes) == {"&ds_queue->split_queue_lock", "ptlock_ptr(ptdesc)"}
    assert "deferred_split_folio" in r.text
