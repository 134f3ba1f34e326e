"""Address spaces through the mm-ops workload: semantics, invariants, no leaks."""
import pytest
from hypothesis import example, given, settings, strategies as st

from mmactors import ChoiceStrategy, ScenarioError, parse_scenario
from mmactors.mm.memory import _PAGE_RW, pte_pfn

from helpers import allocated_user_frames, mm_machine, run_ops
from mmactors.sync import lock_registry


def pte(mm, addr):
    pt = mm.pgtables.get(addr >> 21)
    return 0 if pt is None else pt.ptes[(addr >> 12) & 511]


def test_anonymous_write_faults_then_munmap_frees_everything():
    m, res, sub = run_ops(["mmap a 1M rw anon,private", "touch a write", "munmap a"])
    assert sub.event("pgfault") == 256
    assert sub.mms[0].rss == [0, 0, 0, 0]
    assert allocated_user_frames(m) == 0
    assert sub.nr_page_table_pages == 0


def test_read_fault_maps_the_zero_page_and_write_replaces_it():
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a read"])
    mm = sub.mms[0]
    a = next(iter(mm.vmas.values())).vm_start
    assert pte_pfn(pte(mm, a)) == sub.zero_pfn and not pte(mm, a) & _PAGE_RW
    assert mm.rss[mm.MM_ANONPAGES] == 0
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a read", "touch a write"])
    mm = sub.mms[0]
    a = next(iter(mm.vmas.values())).vm_start
    assert pte_pfn(pte(mm, a)) != sub.zero_pfn and pte(mm, a) & _PAGE_RW
    assert mm.rss[mm.MM_ANONPAGES] == 16


def test_fork_shares_pages_read_only_and_cow_copies_on_write():
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a write", "fork",
                           "touch a write 0 4K"])
    parent, child = sub.mms
    a = next(iter(parent.vmas.values())).vm_start
    # the child wrote page 0: it has its own copy; page 1 is still shared read-only
    assert pte_pfn(pte(parent, a)) != pte_pfn(pte(child, a))
    assert pte_pfn(pte(parent, a + 4096)) == pte_pfn(pte(child, a + 4096))
    assert not pte(parent, a + 4096) & _PAGE_RW and not pte(child, a + 4096) & _PAGE_RW
    assert sub.rmap.mc[pte_pfn(pte(parent, a + 4096))] == 2
    assert child.rss[child.MM_ANONPAGES] == 16


def test_cow_reuse_when_the_other_side_exited():
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a write", "fork", "exit",
                           "touch a write"])
    assert sub.event("pgreuse") == 16          # refcount back to 1: do_wp_page reuses


def test_shared_file_mapping_shares_the_page_cache():
    m, res, sub = run_ops(["mmap f 64K rw file,shared", "touch f write", "munmap f",
                           "mmap f 64K rw file,shared", "touch f read"])
    f = sub.files[0]
    assert f.mapping.nrpages == 16
    mm = sub.mms[0]
    a = next(iter(mm.vmas.values())).vm_start
    assert pte_pfn(pte(mm, a)) == f.mapping.i_pages[0]


def test_private_file_write_is_a_cow_fault():
    m, res, sub = run_ops(["mmap g 64K rw file,private", "touch g write"])
    f = sub.files[0]
    mm = sub.mms[0]
    a = next(iter(mm.vmas.values())).vm_start
    assert f.mapping.nrpages == 16
    assert pte_pfn(pte(mm, a)) != f.mapping.i_pages[0]      # an anonymous copy
    assert mm.rss[mm.MM_ANONPAGES] == 16 and mm.rss[mm.MM_SHMEMPAGES] == 0


def test_pmd_multiple_anonymous_mmaps_are_thp_aligned_and_merge_top_down():
    # 6.12 __thp_get_unmapped_area: padded search, then ret + PMD_SIZE top-down,
    # so the second 4 MiB mapping sits right below the first and merges with it
    m, res, sub = run_ops(["mmap a 4M rw anon,private", "touch a write 0 4K",
                           "mmap b 4M rw anon,private"])
    (vma,) = sub.mms[0].vmas.values()
    assert vma.vm_start % (2 << 20) == 0 and vma.vm_end - vma.vm_start == 8 << 20


def test_thp_padding_skips_an_exact_fit_hole():
    # b (read-only) keeps a and c apart; munmap b leaves an exact 4 MiB hole.
    # The padded search needs 4 MiB + 2 MiB, so d goes below c and merges with
    # it; without CONFIG_TRANSPARENT_HUGEPAGE d fills the hole and a, d, c merge.
    steps = ["mmap a 4M rw anon,private", "mmap b 4M r anon,private",
             "mmap c 4M rw anon,private", "munmap b", "mmap d 4M rw anon,private"]
    m, res, sub = run_ops(steps)
    low, a = sub.mms[0].vmas.values()
    assert a.vm_start - low.vm_end == 4 << 20 and low.vm_end - low.vm_start == 8 << 20
    m, res, sub = run_ops(steps, extra="[kconfig]\nCONFIG_TRANSPARENT_HUGEPAGE = false")
    (vma,) = sub.mms[0].vmas.values()
    assert vma.vm_end - vma.vm_start == 12 << 20


def test_non_pmd_multiple_mappings_are_not_aligned():
    m, res, sub = run_ops(["mmap a 4M rw anon,private", "mmap b 1M rw anon,private"])
    (vma,) = sub.mms[0].vmas.values()                  # adjacent and merged all the same
    assert vma.vm_end - vma.vm_start == 5 << 20


def test_mprotect_splits_and_merges_back():
    m, res, sub = run_ops(["mmap a 1M rw anon,private", "mprotect a r 256K 256K"])
    assert len(sub.mms[0].vmas) == 3
    m, res, sub = run_ops(["mmap a 1M rw anon,private", "mprotect a r 256K 256K",
                           "mprotect a rw 256K 256K"])
    assert len(sub.mms[0].vmas) == 1


def test_write_to_read_only_mapping_is_segv():
    m, res, sub = run_ops(["mmap a 64K r anon,private", "touch a write"])
    assert res.extra["workload_details"][0]["segv"] == 16


def test_brk_grows_and_shrinks_one_vma():
    m, res, sub = run_ops(["brk +64K", "brk +64K", "brk -32K"])
    mm = sub.mms[0]
    assert len(mm.vmas) == 1
    v = next(iter(mm.vmas.values()))
    assert v.vm_end - v.vm_start == 96 * 1024


def test_mremap_moves_pages():
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a write",
                           "mmap b 64K rw anon,private", "mremap a 1M", "touch a read 0 64K"])
    mm = sub.mms[0]
    assert mm.rss[mm.MM_ANONPAGES] == 16 and sub.event("pgfault") == 16


def test_madvise_dontneed_zaps_but_keeps_the_mapping():
    m, res, sub = run_ops(["mmap a 64K rw anon,private", "touch a write",
                           "madvise a dontneed", "touch a read"])
    mm = sub.mms[0]
    assert mm.rss[mm.MM_ANONPAGES] == 0 and len(mm.vmas) == 1
    assert sub.nr_page_table_pages == 1                 # MADV_DONTNEED keeps page tables
    assert allocated_user_frames(m) == 1


def test_bad_steps_are_one_line_errors():
    for step, msg in [("mmap a 1M rw", "expected: mmap NAME SIZE PROT FLAGS"),
                      ("mmap a 1X rw anon,private", "is not a size"),
                      ("mmap a 1M rwx anon,private", "PROT must be"),
                      ("mmap a 1M rw anon,private,huge", "unknown mmap flag 'huge'"),
                      ("mmap a 1M rw anon,shared,private", "exactly one of private, shared"),
                      ("touch a jump", "expected: touch NAME read|write"),
                      ("explode", "unknown verb"), ("fork now", "takes no arguments")]:
        with pytest.raises(ScenarioError) as ei:
            mm_machine([step])
        assert msg in str(ei.value) and "workload[0].steps" in str(ei.value)


# --------------------------------------------------------------- property
NAMES = ["a", "b", "c"]
sizes = st.sampled_from(["16K", "64K", "200K", "1M", "2M", "3M"])
offs = st.sampled_from(["0", "4K", "60K", "512K", "1M"])
steps = st.one_of(
    st.builds(lambda n, s, p, k, v: f"mmap {n} {s} {p} {k},{v}", st.sampled_from(NAMES), sizes,
              st.sampled_from(["rw", "r", "none"]), st.sampled_from(["anon", "file"]),
              st.sampled_from(["private", "shared"])),
    st.builds(lambda n, w, o, l: f"touch {n} {w} {o} {l}", st.sampled_from(NAMES),
              st.sampled_from(["read", "write"]), offs, sizes),
    st.builds(lambda n: f"touch {n} write", st.sampled_from(NAMES)),
    st.builds(lambda n, o, l: f"munmap {n} {o} {l}", st.sampled_from(NAMES), offs, sizes),
    st.builds(lambda n: f"munmap {n}", st.sampled_from(NAMES)),
    st.builds(lambda n, p, o, l: f"mprotect {n} {p} {o} {l}", st.sampled_from(NAMES),
              st.sampled_from(["r", "rw", "none"]), offs, sizes),
    st.builds(lambda n, s: f"mremap {n} {s}", st.sampled_from(NAMES), sizes),
    st.builds(lambda n, o, l: f"madvise {n} dontneed {o} {l}", st.sampled_from(NAMES), offs, sizes),
    st.sampled_from(["fork", "exit", "brk +16K", "brk -8K"]),
)


def named(prog):
    """A name no mmap step introduces is a validation error; map such names in a
    last step, so that the steps before it still touch an unmapped name (SIGSEGV)."""
    mapped = {s.split()[1] for s in prog if s.startswith("mmap ")}
    used = {s.split()[1] for s in prog if s.split()[0] in
            ("touch", "munmap", "mprotect", "mremap", "madvise")}
    return prog + [f"mmap {n} 64K rw anon,private" for n in sorted(used - mapped)]


@settings(max_examples=40)
@example(prog=["touch a write"])      # regression: a name mapped only later
@given(prog=st.lists(steps, min_size=1, max_size=25))
def test_random_programs_keep_the_invariants(prog):
    """VMAs never overlap; PTEs, mapcounts, RSS and refcounts agree; anon_vmas reach
    every mapping VMA -- checked after every step.  Then tear everything down:
    no frame is leaked."""
    m, res, sub = run_ops(named(prog) + ["exit", "exit", "exit", "exit"])
    for f in sub.files:
        assert f.mapping.nrpages == len(f.mapping.i_pages)


@settings(max_examples=25)
@given(prog=st.lists(steps, min_size=1, max_size=12), data=st.data())
def test_two_threads_racing_on_one_mm_keep_the_invariants(prog, data):
    strategy = ChoiceStrategy(chooser=lambda n: data.draw(st.integers(0, n - 1)))
    m = mm_machine(named(prog), cpus=2, mode="threads", check=False, strategy=strategy)
    res = m.run()
    assert res.error is None, res.error.report()
    from mmactors.mm.addrspace import addrspace_of
    addrspace_of(m)._check()


def small_wis(test):
    """A quick will-it-scale run: 4 threads, 1 MiB regions, 0.3 ms, 4 KiB
    pages (merged 1 MiB mappings would otherwise get THPs)."""
    return f"""
[machine]
cpus = 4
memory_mib = 512
[sysfs]
"kernel/mm/transparent_hugepage/enabled" = "never"
[[workload]]
kind = "will-it-scale"
test = "{test}"
mode = "threads"
region_mib = 1
[run]
duration_ns = 300_000
"""


@pytest.mark.parametrize("test", ["page_fault1", "page_fault2", "mmap1"])
def test_mm_runs_are_deterministic(test):
    from mmactors import Machine
    text = small_wis(test)

    def run(seed):
        r = Machine(parse_scenario(text), seed=seed).run()
        d = r.to_json()
        d.pop("host")
        return d
    a, b, c = run(3), run(3), run(4)
    assert a == b
    assert a["trace_sha256"] != c["trace_sha256"]


@pytest.mark.parametrize("lockdep", [
    pytest.param(False, marks=pytest.mark.no_lockdep), True])     # one path, watched or not
@pytest.mark.parametrize("test", ["page_fault1", "page_fault2"])
def test_fast_allocation_path_gives_the_same_run_and_trace(test, lockdep, monkeypatch):
    """alloc_pages_nowait (the pcp hit, synchronous) must do exactly what the
    full path of alloc_pages does."""
    from mmactors import Machine
    from mmactors.mm.page_alloc import PageAllocator
    text = small_wis(test)

    def run():
        m = Machine(parse_scenario(text), trace=True)
        assert bool(lock_registry(m.engine).validators) == lockdep
        res = m.run()
        return res.ops, res.virtual_ns, res.switches, res.trace_sha256

    fast = run()
    monkeypatch.setattr(PageAllocator, "alloc_pages_nowait", lambda self, *a, **k: None)
    assert run() == fast


def test_will_it_scale_iterations_end_the_run_on_their_own():
    """iterations = 2: each CPU maps, faults and unmaps its region twice, then
    stops; the run ends before its duration with exactly that many faults."""
    from mmactors import Machine
    text = small_wis("page_fault1").replace('region_mib = 1', 'region_mib = 1\niterations = 2') \
        .replace("duration_ns = 300_000", "duration_ns = 1_000_000_000")
    res = Machine(parse_scenario(text), trace=False).run()
    assert res.end_reason == "done"
    assert res.ops == 4 * 2 * 256 == res.extra["mm"]["faults"]
