"""Known results of the address-space model (small, fast configurations).

Each comparison runs the same scenario twice with one knob changed, so the
outcome is the model's, not a fitted number.  The figures at full size come
from ``mmactors sweep`` and ``mmactors plot`` (README, "The will-it-scale mm
tests" and "pft").  Every measurement runs with lockdep off (as users run by
default) and on, and the figures must agree.  The curves are swept with
:func:`mmactors.sweep.sweep_json`, which returns each point's whole JSON
result (the lock contention points and vmstat these tests look at are more
than a results-table row holds).
"""
import pytest

from helpers import lockdep_on_and_off
from mmactors.sweep import sweep_json

WIS = """
[machine]
cpus = 1
memory_mib = {memory_mib}
[[workload]]
kind = "will-it-scale"
test = "{test}"
mode = "threads"
region_mib = {region_mib}
[run]
duration_ns = {duration}
"""

PFT = """
[machine]
cpus = 1
memory_mib = {memory_mib}
[[workload]]
kind = "pft"
mode = "{mode}"
mapping_mib = {mapping_mib}
touch = "{touch}"
[run]
duration_ns = 10_000_000_000
"""


def _wis_curve(test, cpus, mode, *, region_mib=4, duration=1_000_000, memory_mib=None,
               overrides=(), jobs=1, lockdep=None):
    """{cpus: JSON result} for one will-it-scale test and mode."""
    if memory_mib is None:
        # Big enough that pcp high (a fraction of managed pages per CPU) is not
        # starved, as on the servers will-it-scale results come from.
        memory_mib = max(16384, 3 * max(cpus) * region_mib + 512)
    text = WIS.format(test=test, region_mib=region_mib, duration=duration,
                      memory_mib=memory_mib)
    grid = {"machine.cpus": list(cpus), "workload.0.mode": [mode]}
    for k, v in overrides:
        grid[k] = [v]
    return {p["machine.cpus"]: r for p, r in sweep_json(text, grid, jobs=jobs, lockdep=lockdep)}


def _pft_curve(cpus, mode="threads", *, mapping_mib=128, touch="cacheline", jobs=1,
               lockdep=None):
    """{(per_vma_lock, cpus): pft's workload report}, per-VMA locks on and off;
    as in mmtests the region's total size stays fixed as workers are added."""
    text = PFT.format(mode=mode, mapping_mib=mapping_mib, touch=touch,
                      memory_mib=max(4096, 4 * mapping_mib))
    grid = {"kconfig.CONFIG_PER_VMA_LOCK": [True, False], "machine.cpus": list(cpus)}
    out = {}
    for p, r in sweep_json(text, grid, jobs=jobs, lockdep=lockdep):
        (d,) = r["workload_details"]
        out[(p["kconfig.CONFIG_PER_VMA_LOCK"], p["machine.cpus"])] = d
    return out


def wis_curve(*args, **kw):
    return lockdep_on_and_off(_wis_curve, *args, **kw)


def pft_curve(*args, **kw):
    return lockdep_on_and_off(_pft_curve, *args, **kw)


def per_cpu(res, n, duration):
    return res["workloads"]["ops"] / n / (duration / 1000)


def lock(res, name):
    return res["locks"].get(name, {"acquisitions": 0, "contentions": 0, "waittime_total_ns": 0})


@pytest.mark.parametrize("test", ["mmap1", "mmap2", "brk1"])
def test_mmap_family_threads_do_not_scale_processes_do(test):
    """Threads mode takes mmap_lock for write: ops per CPU fall roughly as 1/n.
    (brk1 falls more slowly: threads share mm->brk, so a thread often finds the
    brk already where it asks and brk(2) returns early -- still under the
    write lock, so the total stays flat.)"""
    d = 300_000
    thr = wis_curve(test, [1, 2, 4, 8], "threads", region_mib=4, duration=d, memory_mib=2048)
    base = per_cpu(thr[1], 1, d)
    for n in (2, 4, 8):
        r = per_cpu(thr[n], n, d) / base
        hi = 1.5 / n if test != "brk1" else 3.0 / n
        assert 0.3 / n <= r <= hi, f"{test} threads n={n}: {r:.3f} of 1 CPU, 1/n={1 / n:.3f}"
    assert thr[8]["workloads"]["ops"] <= 3 * thr[1]["workloads"]["ops"]
    pro = wis_curve(test, [1, 8], "processes", region_mib=4, duration=d, memory_mib=2048)
    assert per_cpu(pro[8], 8, d) >= 0.9 * per_cpu(pro[1], 1, d)


def test_page_fault1_processes_scales_until_zone_and_lru_locks():
    d = 600_000
    res = wis_curve("page_fault1", [1, 2, 4, 8], "processes", region_mib=2, duration=d)
    base = per_cpu(res[1], 1, d)
    for n in (2, 4, 8):
        assert per_cpu(res[n], n, d) >= 0.8 * base, f"n={n} scales below 80%"
    big = wis_curve("page_fault1", [32], "processes", region_mib=2, duration=d)[32]
    waits = {k: v["waittime_total_ns"] for k, v in big["locks"].items()}
    top = max(waits, key=waits.get)
    assert top in ("&zone->lock", "&lruvec->lru_lock"), waits
    assert per_cpu(big, 32, d) < 0.9 * base            # and it no longer scales linearly


def test_per_vma_locks_help_many_threads_not_few():
    """page_fault2 threads: each thread's private file mapping is its own VMA;
    per-VMA locks keep faults off mmap_lock (published pft-threads: +16% at 48
    threads, -0.5% at 1, -9.5% at 4).  The model gains most at many threads
    and nothing at one; at 4 threads it already gains a little, from the
    mmap_lock line no longer bouncing between the threads (pft faults into
    one shared VMA, whose vm_lock line bounces instead)."""
    d = 800_000
    kw = dict(region_mib=4, duration=d, jobs=2)
    on = wis_curve("page_fault2", [1, 4, 32], "threads",
                   overrides=[("kconfig.CONFIG_PER_VMA_LOCK", True)], **kw)
    off = wis_curve("page_fault2", [1, 4, 32], "threads",
                    overrides=[("kconfig.CONFIG_PER_VMA_LOCK", False)], **kw)
    ratio = {n: on[n]["workloads"]["ops"] / off[n]["workloads"]["ops"] for n in (1, 4, 32)}
    assert 0.97 <= ratio[1] <= 1.03, ratio
    assert ratio[32] >= 1.10 and ratio[32] > ratio[4], ratio
    assert on[32]["vmstat"]["vma_lock_success"] > 0.95 * on[32]["mm"]["faults"]
    assert off[32]["vmstat"]["vma_lock_success"] == 0


def test_pft_threads_one_vma_per_vma_locks_change_little():
    """pft-threads faults into one VMA: the fault path trades mmap_lock's line
    for the VMA's vm_lock line, which all threads share just the same, so per-
    VMA locks are no faster at 1 to 4 threads (published: -0.5% at 1, -9.5% at
    4).  The published +16% at 48 threads is not reproduced: no such gain
    follows from the locks' cache-line traffic (see README, Known results)."""
    res = pft_curve([1, 4, 16], "threads", mapping_mib=16, jobs=2)
    for n in (1, 4, 16):
        on, off = res[(True, n)], res[(False, n)]
        assert on["workers_done"] == off["workers_done"] == n
        r = on["faults_per_cpu_s"] / off["faults_per_cpu_s"]
        assert 0.95 <= r <= 1.02, (n, r)


def test_page_fault1_threads_regions_merge_into_shared_vmas():
    """page_fault1 threads: 6.12 places each PMD-multiple anonymous mmap at the
    top of its THP-padded gap, right below the last one, and vma_merge_new_range
    merges them; the threads then fault in a few shared VMAs and per-VMA locks
    cannot keep them apart (page_fault2/3 map each thread's own file: one VMA
    each)."""
    from mmactors import Machine, parse_scenario
    from mmactors.mm.addrspace import addrspace_of
    text = """
[machine]
cpus = 8
memory_mib = 2048
[[workload]]
kind = "will-it-scale"
test = "{test}"
mode = "threads"
region_mib = 4
[run]
duration_ns = 2_000_000
"""
    from mmactors.testing import lockdep_enabled

    def vmas(test, lockdep):
        with lockdep_enabled(lockdep):
            m = Machine(parse_scenario(text.format(test=test)), trace=False)
            res = m.run()
        assert res.error is None and res.ops > 8 * 1024     # past the first munmaps
        (mm,) = addrspace_of(m).mms
        return {"vmas": len(mm.vmas), "ops": res.ops}
    seen = {test: lockdep_on_and_off(vmas, test)["vmas"] for test in ("page_fault1", "page_fault2")}
    assert seen["page_fault1"] <= 3 and seen["page_fault2"] == 8, seen


def test_pagevec_31_halves_lru_lock_acquisitions():
    """9cecde80aae0 ("mm: increase folio batch size"): page_fault2 processes,
    LKP measured +12.5% throughput; lru_lock taken about half as often."""
    d = 600_000
    kw = dict(region_mib=2, duration=d, jobs=2)
    b31 = wis_curve("page_fault2", [16], "processes", overrides=[("constants.PAGEVEC_SIZE", 31)],
                    **kw)[16]
    b15 = wis_curve("page_fault2", [16], "processes", overrides=[("constants.PAGEVEC_SIZE", 15)],
                    **kw)[16]
    a31 = lock(b31, "&lruvec->lru_lock")["acquisitions"]
    a15 = lock(b15, "&lruvec->lru_lock")["acquisitions"]
    assert 0.35 <= a31 / a15 <= 0.65, (a31, a15)
    assert b31["workloads"]["ops"] > b15["workloads"]["ops"]


def test_small_pcp_high_puts_the_wait_on_zone_lock_both_ways():
    """page_fault1 processes with a small pcp->high: zone->lock is where CPUs
    wait, from the allocation (rmqueue_bulk) and the free (free_pcppages_bulk)
    paths; the default auto-tuned high takes zone->lock far less often."""
    d = 1_500_000
    kw = dict(region_mib=1, duration=d, jobs=2)
    small = wis_curve("page_fault1", [16], "processes",
                      overrides=[("sysctl.vm.percpu_pagelist_high_fraction", 100000)], **kw)[16]
    auto = wis_curve("page_fault1", [16], "processes", **kw)[16]
    z = lock(small, "&zone->lock")
    waits = {k: v["waittime_total_ns"] for k, v in small["locks"].items()}
    assert max(waits, key=waits.get) == "&zone->lock", waits
    points = " ".join(p for p, _ in z["contention_points"])
    assert "rmqueue_bulk" in points and "free_pcppages_bulk" in points, points
    assert lock(auto, "&zone->lock")["acquisitions"] * 2 < z["acquisitions"]
