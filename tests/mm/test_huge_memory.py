"""Transparent huge pages (mm/huge_memory.py; kernel: mm/huge_memory.c,
include/linux/huge_mm.h, mm/memory.c __handle_mm_fault/create_huge_pmd, Linux 6.12):
the sysfs knobs, PMD faults, the huge zero page, splits, fork, reclaim."""
import subprocess
import sys

import pytest

from helpers import allocated_user_frames, run_ops
from mmactors import ScenarioError, parse_scenario
from mmactors.machine import Machine
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.gfp import (GFP, GFP_TRANSHUGE, GFP_TRANSHUGE_LIGHT, __GFP_DIRECT_RECLAIM,
                             __GFP_KSWAPD_RECLAIM)
from mmactors.mm.huge_memory import VM_HUGEPAGE, vma_thp_gfp_mask

ENABLED = "kernel/mm/transparent_hugepage/enabled"
DEFRAG = "kernel/mm/transparent_hugepage/defrag"


def sysfs(enabled=None, defrag=None) -> str:
    out = "[sysfs]\n"
    if enabled:
        out += f'"{ENABLED}" = "{enabled}"\n'
    if defrag:
        out += f'"{DEFRAG}" = "{defrag}"\n'
    return out


def thp(sub) -> dict:
    return sub.thp.report()["vmstat"]


def user_pages(m) -> int:
    """allocated_user_frames with a compound head counted 2**order pages (its
    tails have refcount 0, as the kernel's do)."""
    import numpy as np
    from mmactors.mm._internal import PG_head
    mem = addrspace_of(m).mem_map
    heads = np.nonzero((mem.refcount > 0) & ((mem.flags & PG_head) != 0))[0]
    return allocated_user_frames(m) + sum((1 << int(mem.order[h])) - 1 for h in heads)


# ------------------------------------------------------------------ knobs
MINIMAL = """
[[workload]]
kind = "mm-ops"
steps = ["mmap a 4M rw anon,private"]
"""


def test_knob_defaults_are_the_kernels():
    """mm/Kconfig: the "Transparent Hugepage Support sysfs defaults" choice
    defaults to TRANSPARENT_HUGEPAGE_ALWAYS; mm/huge_memory.c's
    transparent_hugepage_flags always has TRANSPARENT_HUGEPAGE_DEFRAG_REQ_MADV_FLAG
    (defrag = madvise) and USE_ZERO_PAGE."""
    s = parse_scenario(MINIMAL).sections["sysfs"]
    assert s[ENABLED] == "always"
    assert s[DEFRAG] == "madvise"
    assert s["kernel/mm/transparent_hugepage/use_zero_page"] == 1


def test_knobs_are_set_and_overridden():
    s = parse_scenario(MINIMAL + sysfs("madvise", "defer+madvise")).sections["sysfs"]
    assert (s[ENABLED], s[DEFRAG]) == ("madvise", "defer+madvise")
    s = parse_scenario(MINIMAL, overrides=[(f"sysfs.{ENABLED}", "never")]).sections["sysfs"]
    assert s[ENABLED] == "never"


@pytest.mark.parametrize("key,value", [(ENABLED, "sometimes"), (DEFRAG, "defer-madvise"),
                                       ("kernel/mm/transparent_hugepage/enable", "always")])
def test_bad_knob_is_one_line_exit_2(tmp_path, key, value):
    p = tmp_path / "bad.toml"
    p.write_text(MINIMAL + f'[sysfs]\n"{key}" = "{value}"\n')
    with pytest.raises(ScenarioError):
        parse_scenario(p.read_text(), str(p))
    r = subprocess.run([sys.executable, "-m", "mmactors", "run", str(p)], capture_output=True,
                       text=True)
    assert r.returncode == 2 and r.stdout == ""
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{p}:6: sysfs.\"{key}\"" in err
    assert ("must be one of" in err) if key != "kernel/mm/transparent_hugepage/enable" \
        else ("unknown sysfs knob" in err)


class _Vma:
    def __init__(self, flags):
        self.vm_flags = flags


@pytest.mark.parametrize("defrag,madvised,expect", [
    ("always", False, GFP_TRANSHUGE | GFP["__GFP_NORETRY"]),
    ("always", True, GFP_TRANSHUGE),
    ("defer", False, GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM),
    ("defer", True, GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM),
    ("defer+madvise", False, GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM),
    ("defer+madvise", True, GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM),
    ("madvise", False, GFP_TRANSHUGE_LIGHT),
    ("madvise", True, GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM),
    ("never", True, GFP_TRANSHUGE_LIGHT),
])
def test_vma_thp_gfp_mask(defrag, madvised, expect):
    """mm/huge_memory.c vma_thp_gfp_mask(): the defrag mode's gfp, with
    __GFP_DIRECT_RECLAIM (direct compaction) only where the kernel gives it."""
    assert vma_thp_gfp_mask(defrag, _Vma(VM_HUGEPAGE if madvised else 0)) == expect


# ------------------------------------------------------------------ faults
def test_write_fault_maps_a_pmd_and_munmap_frees_it():
    """do_huge_pmd_anonymous_page: one fault per 2 MiB, the folio order 9 on
    the LRU as one entry, MM_ANONPAGES += 512, a deposited PTE table;
    zap_huge_pmd gives all of it back."""
    m, _, sub = run_ops(["mmap a 4M rw anon,private", "touch a write", "munmap a",
                         "mmap b 4M rw anon,private", "touch b write"], memory_mib=128)
    v = thp(sub)
    assert v["thp_fault_alloc"] == 4 and v["thp_fault_fallback"] == 0
    assert sub.event("pgfault") == 4                   # 2048 pages, 4 faults
    mm = sub.mms[0]
    assert len(mm.pmd_huge) == 2 and not mm.pgtables
    assert mm.rss[mm.MM_ANONPAGES] == 1024
    assert sub.nr_page_table_pages == 2                # the deposits
    head = next(iter(mm.pmd_huge.values())).pfn
    assert sub.mem_map.ord[head] == 9
    assert sum(len(lst) for lv in sub.lru.lruvecs for lst in lv.lists) == 2
    # what the first mapping used was freed: the second uses the same amount
    assert user_pages(m) == 2 * 512 + 2
    sub._check()


def test_never_and_madvise_modes():
    """thp_vma_allowable_order: enabled=never never, madvise only with
    VM_HUGEPAGE (MADV_HUGEPAGE), always unless VM_NOHUGEPAGE."""
    steps = ["mmap a 4M rw anon,private", "touch a write"]
    _, _, sub = run_ops(steps, extra=sysfs("never"))
    assert thp(sub)["thp_fault_alloc"] == 0 and sub.event("pgfault") == 1024
    _, _, sub = run_ops(steps, extra=sysfs("madvise"))
    assert thp(sub)["thp_fault_alloc"] == 0 and sub.event("pgfault") == 1024
    _, _, sub = run_ops(["mmap a 4M rw anon,private", "madvise a hugepage 0 2M",
                         "touch a write"], extra=sysfs("madvise"))
    assert thp(sub)["thp_fault_alloc"] == 1 and sub.event("pgfault") == 1 + 512
    assert len(sub.mms[0].vmas) == 2                   # split at the advice's edge
    _, _, sub = run_ops(["mmap a 4M rw anon,private", "madvise a nohugepage",
                         "touch a write"])
    assert thp(sub)["thp_fault_alloc"] == 0 and sub.event("pgfault") == 1024


def test_unaligned_or_small_vma_falls_to_ptes():
    """thp_vma_suitable_order: the aligned 2 MiB must lie inside the VMA
    (an mmap of 3 MiB is not THP-aligned by get_unmapped_area either)."""
    _, _, sub = run_ops(["mmap a 1M rw anon,private", "touch a write"])
    assert thp(sub)["thp_fault_alloc"] == 0
    _, _, sub = run_ops(["mmap a 3M rw anon,private", "touch a write"])
    assert thp(sub)["thp_fault_alloc"] <= 1             # at most the one aligned 2 MiB inside
    sub._check()


def test_read_fault_maps_the_huge_zero_page_then_write_splits_it():
    """A read fault maps the huge zero page (thp_zero_page_alloc once);
    do_huge_pmd_wp_page on it splits the PMD into 512 zero-page PTEs
    (__split_huge_zero_page_pmd) and the write COWs one 4 KiB page."""
    _, _, sub = run_ops(["mmap a 4M rw anon,private", "touch a read",
                         "touch a write 0 4K"])
    v = thp(sub)
    assert v["thp_zero_page_alloc"] == 1 and v["thp_fault_alloc"] == 0
    assert v["thp_split_pmd"] == 1 and v["thp_split_page"] == 0
    mm = sub.mms[0]
    assert len(mm.pmd_huge) == 1 and len(mm.pgtables) == 1
    assert mm.rss[mm.MM_ANONPAGES] == 1
    sub._check()


def test_partial_munmap_and_mprotect_split():
    """vma_adjust_trans_huge: a VMA edge inside a huge PMD splits it
    (thp_split_pmd); a partial unmap leaves the folio whole on the deferred
    split queue (deferred_split_folio(folio, true): thp_deferred_split_page,
    no thp_split_page until the shrinker), its unmapped 128 pages still
    allocated; an mprotect that covers a PMD whole write-protects it without
    a split."""
    m, _, sub = run_ops(["mmap a 8M rw anon,private", "touch a write",
                         "munmap a 1M 512K", "mprotect a r 4M 2M"], memory_mib=128)
    v = thp(sub)
    assert v["thp_fault_alloc"] == 4
    assert v["thp_split_pmd"] == 1 and v["thp_split_page"] == 0
    assert v["thp_deferred_split_page"] == 1
    assert sub.thp.deferred_split_count(0) == 1
    mm = sub.mms[0]
    assert len(mm.pmd_huge) == 3
    base = mm.vmas.keys()[0]
    assert not mm.pmd_huge[(base + (4 << 20)) >> 21].rw        # change_huge_pmd
    assert mm.pmd_huge[(base + (6 << 20)) >> 21].rw
    assert mm.rss[mm.MM_ANONPAGES] == 4 * 512 - 128
    assert user_pages(m) == 4 * 512 + 4                     # + the PTE tables
    sub._check()


def test_fork_shares_the_pmd_and_a_write_splits():
    """copy_huge_pmd: the child maps the same folio write-protected; a write
    to the shared PMD splits it (do_huge_pmd_wp_page's fallback) and the
    PTE-level COW copies one page."""
    _, _, sub = run_ops(["mmap a 2M rw anon,private", "touch a write", "fork",
                         "touch a write 0 4K", "exit"])
    v = thp(sub)
    assert v["thp_fault_alloc"] == 1
    assert v["thp_split_page"] == 1 and v["thp_split_pmd"] == 2   # the parent's and child's
    parent = sub.mms[0]
    assert parent.rss[parent.MM_ANONPAGES] == 512
    sub._check()


def test_exclusive_pmd_write_after_mprotect_reuses():
    """A read-only exclusive THP made writable again is reused on a write
    fault (do_huge_pmd_wp_page: the folio is exclusive), no split."""
    _, _, sub = run_ops(["mmap a 2M rw anon,private", "touch a write", "mprotect a r",
                         "mprotect a rw", "touch a write"])
    v = thp(sub)
    assert v["thp_split_pmd"] == 0 and v["thp_fault_alloc"] == 1
    assert sub.event("pgreuse") == 1
    sub._check()


def test_page_fault1_takes_512_times_fewer_faults():
    """will-it-scale page_fault1 (mmap 128 MiB, write a byte per page, munmap)
    with THP on faults once per 2 MiB: 512 times fewer faults per write than
    with THP off (Documentation/admin-guide/mm/transhuge.rst: "the number of
    page faults is reduced by a factor of 512")."""
    text = """
[machine]
cpus = 1
memory_mib = 256
{sysfs}
[[workload]]
kind = "will-it-scale"
test = "page_fault1"
region_mib = 8
[run]
duration_ns = 5_000_000
"""
    per_op = {}
    for mode in ("never", "always"):
        res = Machine(parse_scenario(text.format(sysfs=sysfs(mode))), trace=False).run()
        assert res.error is None
        sub = addrspace_of(res.machine)
        ops = sum(a.ops for a in res.machine.engine.actors if hasattr(a, "ops"))
        assert ops >= 2048
        per_op[mode] = (sub.event("pgfault"), ops)
    (f0, o0), (f1, o1) = per_op["never"], per_op["always"]
    assert f0 == o0                                       # a fault per write without THP
    assert f1 * 512 == o1 - o1 % 512 or abs(f1 * 512 - o1) < 512
    assert (f0 / o0) / (f1 / o1) == pytest.approx(512, rel=0.01)


def test_reclaim_splits_thps_and_makes_progress():
    """shrink_folio_list on a THP: add_to_swap of the whole folio needs a
    THP swap cluster, which this swap allocator never has, so 6.12 splits it
    (split_folio_to_list, thp_swpout_fallback) and swaps the 512 pages out."""
    text = """
[machine]
cpus = 1
memory_mib = 48
[[swap]]
size_mib = 128
device = "zram"
[[workload]]
kind = "mm-ops"
check = false
steps = ["mmap a 64M rw anon,private", "touch a write", "touch a write"]
[run]
duration_ns = 10_000_000_000
"""
    res = Machine(parse_scenario(text), trace=False).run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(res.machine)
    v = thp(sub)
    assert v["thp_fault_alloc"] > 0
    assert v["thp_split_page"] > 0 and v["thp_swpout_fallback"] == v["thp_split_page"]
    vm = res.to_json()["vmstat"]
    assert vm["pswpout"] > 0
    sub._check()


def test_split_tails_are_order_0_regression():
    """Regression (found by helper C): a split THP's tails kept the order
    their struct page last held (pfn 2564 once the head of an order-1 block),
    and freeing one at order 0 hit "Bad page state: freed at order 0,
    allocated at order 1".  __split_huge_page leaves every subpage order 0."""
    text = """
[machine]
cpus = 2
memory_mib = 64
[kconfig]
CONFIG_ZONE_DMA = false
[[workload]]
kind = "mm-ops"
cpus = [0, 1]
mode = "threads"
check = true
repeat = 3
steps = ["mmap buf 3M rw anon,private", "touch buf write", "munmap buf 0 512K",
         "touch buf read", "fork", "touch buf write 1M 1M", "exit", "munmap buf"]
[run]
duration_ns = 500_000_000
"""
    res = Machine(parse_scenario(text), trace=False).run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(res.machine)
    assert thp(sub)["thp_split_page"] >= 3
    sub._check()


FRAGMENTED = """
[machine]
cpus = 2
memory_mib = 128
[kconfig]
CONFIG_ZONE_DMA = false
[sysctl]
"vm.compaction_proactiveness" = 0      # no background compaction: the faults meet the fragmentation
[sysfs]
"kernel/mm/transparent_hugepage/defrag" = "{defrag}"
[[workload]]
kind = "fragment"
cpus = [0]
size = "97%"
[[workload]]
kind = "mm-ops"
cpus = [1]
steps = ["delay 1000000000", "mmap a 8M rw anon,private", "touch a write"]
[run]
duration_ns = 3_000_000_000
"""


def test_defrag_madvise_on_fragmented_memory_falls_back_without_compaction():
    """defrag = madvise (the default): vma_thp_gfp_mask gives a VMA without
    MADV_HUGEPAGE GFP_TRANSHUGE_LIGHT, no __GFP_DIRECT_RECLAIM, so
    __alloc_pages_slowpath never compacts: on memory where the fragment
    workload freed three quarters of every 2 MiB block, each THP fault falls
    back (thp_fault_fallback) and compact_stall stays 0.  defrag = always
    (GFP_TRANSHUGE | __GFP_NORETRY) stalls in direct compaction instead."""
    out = {}
    for defrag in ("madvise", "always"):
        res = Machine(parse_scenario(FRAGMENTED.format(defrag=defrag)), trace=False).run()
        assert res.error is None, res.error.report()
        vm = res.extra["vmstat"]
        out[defrag] = (vm["thp_fault_alloc"], vm["thp_fault_fallback"], vm["compact_stall"])
    alloc, fallback, stall = out["madvise"]
    assert fallback == 4 and alloc == 0 and stall == 0
    assert out["always"][2] > 0


# ------------------------------------------------------------ property test
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = st.sampled_from([
    "touch a write", "touch a read", "touch a write 1M 1M", "touch a write 3M 4K",
    "munmap a 1M 512K", "munmap a 2M 2M", "mprotect a r 0 3M", "mprotect a rw",
    "madvise a dontneed 512K 1M", "madvise a nohugepage 2M 2M", "madvise a hugepage",
    "mremap a 8M", "fork", "exit", "drop_caches 2"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_any_sequence_keeps_the_invariants_and_frees_everything(ops):
    """Any sequence of faults, partial unmaps, mprotects, madvises, mremap,
    fork and drop_caches (the deferred split shrinker) over a THP-backed
    mapping: after every step AddrSpace._check holds
    (PTEs and huge PMDs against mapcounts, RSS, refcounts, the anon_vma tree;
    no mapped frame free), and once everything is unmapped and every child has
    exited, no user page is left but the huge zero page."""
    forks = ops.count("fork") - ops.count("exit")
    steps = ["mmap a 6M rw anon,private", "touch a write"] + ops \
        + ["exit"] * max(0, forks) + ["munmap a"]
    m, _, sub = run_ops(steps, memory_mib=128)
    sub._check()
    zero = 512 if sub.thp.huge_zero_pfn >= 0 else 0
    live = [mm for mm in sub.mms if mm.vmas]
    if not live:
        assert user_pages(m) == zero


def _deferred_run(b: str):
    steps = ["mmap a 16M rw anon,private", "touch a write"] + \
            [f"madvise a dontneed {2 * i + 1}M 1M" for i in range(8)] + \
            ["delay 1000000", f"mmap b {b} rw anon,private", "touch b write",
             "delay 100000000"]
    body = ", ".join(f'"{s}"' for s in steps)
    text = f"""
[machine]
cpus = 1
memory_mib = 64
[[workload]]
kind = "mm-ops"
cpus = [0]
steps = [{body}]
[run]
duration_ns = 1_000_000_000
"""
    res = Machine(parse_scenario(text, "<test>"), trace=False).run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(res.machine)
    sub._check()
    return res, sub


def test_deferred_split_shrinker_frees_the_unmapped_pages_under_pressure():
    """mm/huge_memory.c deferred_split_folio / deferred_split_scan, mm/shrinker.c
    do_shrink_slab (6.12).  MADV_DONTNEED of the second half of 8 THPs splits
    their PMDs (thp_split_pmd) and queues the folios (thp_deferred_split_page):
    the 8 x 256 unmapped pages stay allocated.  Without pressure they stay so;
    a second mapping that needs them makes reclaim call shrink_slab at falling
    priorities: freeable 8, seeks 2 gives delta = (8 >> prio) * 2, nothing at
    DEF_PRIORITY..4, 2 then 4 deferred at 3 and 2, and at priority 1
    total_scan = (6 >> 1) + 8 = 11 >= freeable: one scan of 11 splits all 8
    (thp_split_page, slabs_scanned 11, 3 left deferred) and the 2048 pages go
    back to the buddy allocator; no frame is lost."""
    res, sub = _deferred_run("40M")                         # fits: no reclaim
    d = sub.thp.report()["deferred_split"]
    assert d["split_queue_len"] == [8] and d["pages_kept"] == 8 * 256
    assert thp(sub)["thp_split_page"] == 0 and thp(sub)["thp_deferred_split_page"] == 8
    assert d["shrinker"]["calls"] == 0
    from mmactors.report.thp import format_thp
    assert "deferred split queue: 8 folios (per node), 2,048 unmapped pages kept" \
        in format_thp(sub.thp)

    res, sub = _deferred_run("46M")
    v = thp(sub)
    d = sub.thp.report()["deferred_split"]
    assert v["thp_split_pmd"] == 8 and v["thp_deferred_split_page"] == 8
    assert v["thp_split_page"] == 8 and d["thp_split_page_failed"] == 0
    assert d["split_queue_len"] == [0] and d["pages_kept"] == 0
    assert d["shrinker"] == {"calls": 1, "scanned": 11, "split": 8, "nr_deferred": [3]}
    assert res.to_json()["vmstat"]["slabs_scanned"] == 11
    assert not sub.pa.folio_parts
    # no frame lost: every allocated user frame is a mapped page or a page table
    mm = sub.mms[0]
    assert user_pages(res.machine) == mm.rss[mm.MM_ANONPAGES] + sub.nr_page_table_pages


def test_a_queued_folio_is_freed_whole_with_its_last_page():
    """__folio_put -> folio_unqueue_deferred_split: once the still-mapped half
    goes too, the whole folio is freed, its kept pages with it, and it
    leaves the queue; nothing is split (thp_split_page stays 0)."""
    m, _, sub = run_ops(["mmap a 2M rw anon,private", "touch a write",
                         "madvise a dontneed 1M 1M", "munmap a"], memory_mib=64)
    v = thp(sub)
    assert v["thp_deferred_split_page"] == 1 and v["thp_split_page"] == 0
    assert sub.thp.deferred_split_count(0) == 0 and not sub.pa.folio_parts
    assert user_pages(m) == 0
    sub._check()


def test_drop_caches_2_runs_the_deferred_split_shrinker():
    """echo 2 > /proc/sys/vm/drop_caches: drop_slab (mm/vmscan.c) runs
    shrink_slab at priority 0: for one queued THP delta = (1 >> 0) * 4 / 2 = 2,
    total_scan = 2 >= freeable: one scan of 2 (slabs_scanned) splits it
    (thp_split_page) and frees its 256 unmapped pages; the round freed 1, so
    drop_slab stops (freed >> 0 is not above 1); drop_slab is counted."""
    m, res, sub = run_ops(["mmap a 2M rw anon,private", "touch a write",
                           "madvise a dontneed 1M 1M", "drop_caches 2"], memory_mib=64)
    v = thp(sub)
    assert v["thp_deferred_split_page"] == 1 and v["thp_split_page"] == 1
    vm = res.to_json()["vmstat"]
    assert vm["slabs_scanned"] == 2 and vm["drop_slab"] == 1
    assert sub.thp.deferred_split_count(0) == 0 and not sub.pa.folio_parts
    mm = sub.mms[0]
    assert mm.rss[mm.MM_ANONPAGES] == 256
    assert user_pages(m) == 256 + sub.nr_page_table_pages
    sub._check()


def test_drop_caches_other_than_2_is_refused():
    with pytest.raises(ScenarioError, match="drop_caches 2"):
        parse_scenario(MINIMAL.replace('"mmap a 4M rw anon,private"',
                                       '"mmap a 4M rw anon,private", "drop_caches 3"'), "<test>")


def test_deferred_split_with_concurrent_shrinking_keeps_the_invariants():
    """Regression: three threads of one process partially unmap THPs and run
    drop_caches 2 while the others fault, with the invariants checked after
    every step; a check that met a deferred_split_scan in progress (its
    folios off the queue on the scan's own list, split_queue_len still
    counting them, as the kernel's does) failed.  Every queued folio is split
    by a shrinker scan here (12 queued, 12 split) and nothing is left."""
    steps = ["mmap a 4M rw anon,private", "touch a write", "madvise a dontneed 1M 1M",
             "drop_caches 2", "madvise a dontneed 3M 512K", "touch a write", "drop_caches 2",
             "munmap a"]
    m, _, sub = run_ops(steps * 2, cpus=3, mode="threads", check=True, memory_mib=64)
    v = thp(sub)
    assert v["thp_deferred_split_page"] == v["thp_split_page"] == 12
    assert sub.thp.deferred_split_count(0) == 0 and not sub.pa.folio_parts
    zero = 512 if sub.thp.huge_zero_pfn >= 0 else 0
    assert user_pages(m) == zero
    sub._check()


def test_split_huge_pmd_holds_the_folio_lock_regression():
    """Regression (reclaim.py --big with THP at its default, 64 CPUs: "add_to_swap_cache:
    pfn ... unlocked or already cached"): a partial munmap split the folio
    (this model splits the folio with the PMD) without its lock while direct
    reclaim held the same THP isolated and locked, waiting for the anon_vma
    lock to split it for swap-out; reclaim then split it a second time, over
    tails already freed, and swapped out free pages.  split_huge_page's caller
    holds the folio lock (VM_BUG_ON_FOLIO in split_huge_page_to_list_to_order,
    mm/huge_memory.c), now asserted by split_folio; __split_huge_pmd's folio
    split takes a reference and the lock and rechecks the PMD.  Here partial
    munmaps of THPs race reclaim of the same THPs (usemem on the other CPU)."""
    text = """
[machine]
cpus = 2
memory_mib = 64
[kconfig]
CONFIG_ZONE_DMA = false
[[swap]]
size_mib = 256
device = "zram"
[[workload]]
kind = "mm-ops"
cpus = [0]
repeat = 8
steps = ["mmap a 16M rw anon,private", "touch a write", "munmap a 1M 256K",
         "munmap a 5M 256K", "munmap a 9M 64K", "munmap a 13M 1M", "munmap a"]
[[workload]]
kind = "usemem"
cpus = [1]
size = "80M"
sleep_ns = -1
[run]
duration_ns = 1_000_000_000
"""
    res = Machine(parse_scenario(text), trace=False).run()
    assert res.error is None, res.error.report()
    sub = addrspace_of(res.machine)
    v = thp(sub)
    assert v["thp_swpout_fallback"] > 0 and v["thp_deferred_split_page"] > 0
    assert res.to_json()["vmstat"]["pswpout"] > 0
    sub._check()
