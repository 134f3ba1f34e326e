"""The page cache of regular files (mm/filemap.c 6.12) under reclaim
(mm/vmscan.c's __remove_mapping, mm/workingset.c): known results and the
frame-ownership invariants."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs.filescn import run_file_io, workload


def test_random_reads_hit_at_the_cached_fraction():
    """Known result (issue 13): uniform random reads (fio norandommap=1)
    over a file larger than memory hit the page cache at about the fraction
    of the file that is cached.  Under the independent reference model a
    cache of C pages over N equally likely pages hits C/N of the time
    whatever it evicts (Coffman & Denning, Operating Systems Theory, 1973,
    ch. 6); here C is the page cache that reclaim leaves (nr_file_pages at
    the end: kswapd keeps free memory near its watermarks).  The file is
    warmed first (``cached``), so the pass starts in the steady state."""
    m, res, sub = run_file_io(rw="randread", size="40M", memory_mib=32,
                              extra_wl="cached = true\nnorandommap = true",
                              duration_ns=20_000_000_000)
    t = workload(m).report()["tasks"][0]
    n = 40 << 8                                     # pages in the file
    cached = sub.files[0].i_mapping.nrpages
    assert cached < 0.9 * n                         # the file does not fit
    hit = t["pagecache_hits"] / (t["pagecache_hits"] + t["pagecache_misses"])
    assert abs(hit - cached / n) < 0.05, (hit, cached / n)
    vm = res.extra["vmstat_delta"]
    assert vm["pgsteal_file"] > 0 and vm.get("pgsteal_anon", 0) == 0
    assert vm["workingset_refault_file"] > 0        # evicted pages came back: shadows found


def test_reclaimed_file_folio_leaves_shadow_and_refaults():
    """__remove_mapping leaves workingset_eviction's shadow in the slot of a
    reclaimed file folio; filemap_add_folio of that index consumes it
    (workingset_refault).  After a run no slot holds both."""
    m, res, sub = run_file_io(rw="read", size="48M", memory_mib=32, loops=2,
                              duration_ns=20_000_000_000)
    mp = sub.files[0].i_mapping
    assert mp.shadows                               # evicted slots keep shadows
    assert res.extra["vmstat_delta"]["workingset_refault_file"] > 0
    assert not set(mp.shadows) & set(mp.i_pages)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(rw=st.sampled_from(["read", "randread"]), cpus=st.integers(1, 2),
       files=st.sampled_from(["per-cpu", "shared"]), bs=st.sampled_from(["4K", "16K", "128K"]),
       size_mib=st.sampled_from([4, 20, 36]), seed=st.integers(1, 1000),
       norandommap=st.booleans())
def test_no_frame_lost_or_doubly_owned(rw, cpus, files, bs, size_mib, seed, norandommap):
    """Invariant after a pass under memory pressure (reclaim of file folios
    racing the readers): every cached frame is referenced and owned by
    exactly one (mapping, index), on the file LRU or in an lru_add batch;
    none is free or lost; nr_file_pages equals the folios cached
    (fs/super.py's _check, with AddrSpace._check and PhysMem._check).
    Checked when the run ends, not mid-way: a reclaimer stopped between
    __remove_mapping's refcount freeze and free_unref_folios holds frames
    that are in no list, as the kernel's do."""
    run_file_io(rw=rw, cpus=cpus, files=files, bs=bs, size=f"{size_mib}M", memory_mib=32,
                seed=seed, duration_ns=20_000_000_000,
                extra_wl=f"norandommap = {str(norandommap).lower()}")


def test_regression_repeated_hits_do_not_leave_active_folio_on_inactive_list():
    """Regression (found by test_no_frame_lost_or_doubly_owned): a folio hit
    again while its activation sat in the lru_activate batch (PG_lru
    cleared) got PG_active set directly, so lru_activate then skipped it and
    it stayed on the inactive list flagged active.  The kernel's
    __lru_cache_activate_folio only activates a folio found in this CPU's
    lru_add batch (mm/swap.c, folio_mark_accessed)."""
    run_file_io(rw="randread", size="4M", memory_mib=32, seed=5, duration_ns=20_000_000_000,
                extra_wl="norandommap = true")



def _fast_and_slow(monkeypatch, **kw):
    """(result JSON, trace sha256) of a file-io run with filemap_read_cached
    and of the same run with every read sent through filemap_read's loop."""
    import mmactors.mm.filemap_io as fio
    from fs.filescn import file_io_text
    from mmactors.machine import Machine
    from mmactors.scenario import parse_scenario

    def run():
        res = Machine(parse_scenario(file_io_text(**kw), "<test>"), trace=True).run()
        assert res.error is None, res.error.report()
        doc = res.to_json()
        doc.pop("host", None)
        return doc, res.trace_sha256

    fast = run()
    with monkeypatch.context() as mp:
        mp.setattr(fio, "filemap_read_cached", lambda *a: -1)
        slow = run()
    return fast, slow


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(rw=st.sampled_from(["read", "randread"]), cpus=st.integers(1, 4),
       files=st.sampled_from(["per-cpu", "shared"]), bs=st.sampled_from(["1K", "4K", "6K"]),
       cached=st.booleans(), seed=st.integers(1, 1000))
def test_hit_fast_path_is_the_general_loop(monkeypatch, rw, cpus, files, bs, cached, seed):
    """filemap_read_cached (a one-folio hit as a plain function) is
    filemap_read's loop specialised, not a model of its own: runs with it
    and with every read sent through the loop give the same result and the
    same trace, byte for byte (hits, misses, readahead, the costs and the
    order the cache lines are touched in)."""
    fast, slow = _fast_and_slow(monkeypatch, cpus=cpus, rw=rw, bs=bs, size="2M", files=files,
                                loops=2, memory_mib=32, seed=seed, duration_ns=2_000_000_000,
                                extra_wl=f"cached = {str(cached).lower()}")
    assert fast[0]["pagecache"]["reads"]["hits"] > 0
    assert fast == slow


def test_hit_fast_path_is_the_general_loop_under_reclaim(monkeypatch):
    """The same with reclaim evicting file folios between the hits (a
    34 MiB file on a 32 MiB machine, uniform random reads)."""
    fast, slow = _fast_and_slow(monkeypatch, cpus=2, rw="randread", size="34M", files="shared",
                                memory_mib=32, duration_ns=300_000_000,
                                extra_wl="cached = true\nnorandommap = true")
    assert fast[0]["pagecache"]["reads"]["hits"] > 0
    assert fast[0]["vmstat_delta"]["pgsteal_file"] > 0
    assert fast == slow
