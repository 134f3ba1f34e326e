"""Scenario keys, errors, output (human and --json), determinism, the shipped scenarios."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmactors import Machine, ScenarioError, parse_scenario
from mmactors.mm.physmem import physmem_of
from mmactors.report.summary import sections as summary_sections

from helpers import run_checked

ROOT = Path(__file__).resolve().parents[2]

ISSUE_EXAMPLE = """
[machine]
cpus = 8
memory_mib = 4096

[sysctl]
"vm.percpu_pagelist_high_fraction" = 0   # 0 = auto-tuning (the default)

[[workload]]
kind = "page-alloc"
cpus = [0, 1, 2, 3]
order = 0
gfp = "GFP_KERNEL"
free_on = "same"
lifetime_ns = 1000

[[workload]]
kind = "kmalloc"
cpus = [4, 5, 6, 7]
size = 64
free_on = "same"
lifetime_ns = 1000

[run]
duration_ns = 100_000
"""


def test_issue_example_runs_and_reports():
    res, m, pm = run_checked(ISSUE_EXAMPLE)
    ex = res.extra
    assert res.ops > 1000
    assert {"vmstat", "zones", "caches"} <= set(ex)
    caches = ex["caches"]
    assert {"pcp", "slub:kmalloc-64", "vmstat"} <= set(caches)
    for c in caches.values():
        assert {"hits", "misses", "hit_rate", "per_cpu"} <= set(c)
        assert len(c["per_cpu"]) == 8
    assert ex["vmstat"]["pgalloc_dma32"] > 0 and ex["vmstat"]["pgfree"] > 0
    assert ex["vmstat"]["nr_free_pages"] == sum(z.get("free", 0) for z in ex["zones"])
    z = ex["zones"][1]
    assert z["zone"] == "DMA32" and len(z["free_area"]) == 11 and len(z["pagesets"]) == 8
    assert {"count", "high", "batch"} <= set(z["pagesets"][0])
    text = "\n".join(summary_sections(res))
    for s in ("zones at the end of the run", "pcp count/high/batch", "vmstat (changes over",
              "per-CPU caches", "slub:kmalloc-64", "allocation failures: none"):
        assert s in text
    json.dumps(res.to_json())                  # serialisable


def test_same_seed_same_result():
    a, _, _ = run_checked(ISSUE_EXAMPLE, seed=7)
    b, _, _ = run_checked(ISSUE_EXAMPLE, seed=7)
    assert a.ops == b.ops and a.virtual_ns == b.virtual_ns
    assert a.extra["vmstat"] == b.extra["vmstat"]
    assert a.extra["caches"] == b.extra["caches"]
    assert a.locks == b.locks


def test_memory_not_modelled_without_memory_or_mm_workloads():
    scn = parse_scenario('[[workload]]\nkind = "lock-loop"\n[run]\nduration_ns = 10000\n')
    assert physmem_of(Machine(scn, trace=False)) is None
    scn = parse_scenario('[machine]\nmemory_mib = 64\n[[workload]]\nkind = "lock-loop"\n'
                         '[run]\nduration_ns = 10000\n')
    assert physmem_of(Machine(scn, trace=False)) is not None


def test_default_memory_when_a_workload_needs_it():
    res, m, pm = run_checked('[machine]\ncpus = 3\nnodes = 3\n[[workload]]\nkind = "page-alloc"\n'
                             '[run]\nduration_ns = 20000\n')
    assert pm.memory_mib == 3 * 1364
    assert len(pm.pa.nodes) == 3


@pytest.mark.parametrize("text,key", [
    ('[machine]\nmemory_mib = 4097\n[[workload]]\nkind = "page-alloc"\n', "memory_mib"),
    ('[machine]\ncpus = 2\nnodes = 2\nmemory_mib = 100\n[[workload]]\nkind = "kmalloc"\n',
     "memory_mib"),
    ('[machine]\nmemory_mib = -1\n[[workload]]\nkind = "page-alloc"\n', "memory_mib"),
    ('[machine]\nmemory_mib = 64\nmovablecore_mib = 64\n[[workload]]\nkind = "page-alloc"\n',
     "memory_mib"),
    ('[[workload]]\nkind = "page-alloc"\ngfp = "GFP_KERNAL"\n', "gfp"),
    ('[[workload]]\nkind = "page-alloc"\ngfp = "__GFP_DMA | __GFP_DMA32"\n', "gfp"),
    ('[[workload]]\nkind = "page-alloc"\norder = 11\n', "order"),
    ('[[workload]]\nkind = "page-alloc"\nfree_on = [99]\n', "free_on"),
    ('[[workload]]\nkind = "page-alloc"\nfree_on = "elsewhere"\n', "free_on"),
    ('[[workload]]\nkind = "page-alloc"\ndrain_at_end = true\n', "drain_at_end"),
    ('[sysctl]\n"vm.percpu_pagelist_high_fraction" = 5\n[[workload]]\nkind = "page-alloc"\n',
     "vm.percpu_pagelist_high_fraction"),
    ('[sysctl]\n"vm.no_such_knob" = 5\n[[workload]]\nkind = "page-alloc"\n', "vm.no_such_knob"),
    ('[kconfig]\nCONFIG_PCP_BATCH_SCALE_MAX = 9\n[[workload]]\nkind = "page-alloc"\n',
     "CONFIG_PCP_BATCH_SCALE_MAX"),
    ('[sysctl]\n"vm.lowmem_reserve_ratio" = [1, 2]\n[[workload]]\nkind = "page-alloc"\n',
     "vm.lowmem_reserve_ratio"),
    ('[[workload]]\nkind = "kmalloc"\nsizes = [8, 16]\nweights = [1]\n', "weights"),
    ('[[workload]]\nkind = "kmalloc"\nsize = 0\n', "size"),
])
def test_bad_input_is_one_scenario_error(text, key):
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(text, "x.toml")
        raise AssertionError("no error")
    msg = str(ei.value)
    assert msg.startswith("x.toml:") and key in msg and "\n" not in msg


def test_cli_exit_status_2_on_bad_gfp(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[machine]\nmemory_mib = 64\n\n[[workload]]\nkind = "page-alloc"\n'
                 'gfp = "GFP_KERNEL | __GFP_BOGUS"\n')
    r = subprocess.run([sys.executable, "-m", "mmactors", "run", str(p)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert err.count("\n") == 0 and f"{p}:6: workload[0].gfp" in err and "__GFP_BOGUS" in err


def test_cli_json_has_the_caches(tmp_path):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "mmactors", "run", "pcp-batch", "--duration",
                        "50000", "--json", str(out), "--quiet"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["caches"]["pcp"]["hits"] > 0
    assert 0 <= d["caches"]["pcp"]["hit_rate"] <= 1
    assert "&zone->lock" in d["locks"]
    assert d["memory"]["memmap_bytes_per_frame"] <= 16


@pytest.mark.parametrize("name", ["pcp-batch", "kmalloc-storm"])
def test_shipped_scenarios_run(name):
    from mmactors import load_scenario
    scn = load_scenario(ROOT / "scenarios" / f"{name}.toml", [("run.duration_ns", 60_000)])
    m = Machine(scn, trace=False)
    res = m.run()
    assert res.error is None
    physmem_of(m)._check()
    assert res.ops > 0


def test_failures_are_counted_and_summarised():
    res, m, pm = run_checked("""
[machine]
cpus = 2
memory_mib = 64
[[workload]]
kind = "page-alloc"
cpus = "all"
order = 3
gfp = "GFP_KERNEL"
lifetime_ns = 1_000_000_000
[run]
duration_ns = 3_000_000
""")
    wl = res.extra["workload_details"][0]
    assert wl["failed"] > 0
    pa = res.extra["page_alloc"]
    assert pa["failures"] > 0 and pa["failure_lines"]
    assert "ALLOCATION FAILURES" in "\n".join(summary_sections(res))
    assert res.extra["vmstat"]["allocstall_normal"] > 0
    assert res.extra["warnings"]


def test_lock_order_is_clean_under_lockdep():
    res, m, pm = run_checked("""
[machine]
cpus = 4
memory_mib = 256
[lockdep]
enabled = true
[[workload]]
kind = "page-alloc"
cpus = [0, 1]
order = 1
free_on = [1, 0]
iterations = 500
drain_at_end = true
drain_via = "work"
[[workload]]
kind = "kmalloc"
cpus = [2, 3]
sizes = [64, 2048]
free_on = "random"
lifetime_ns = 4000
iterations = 500
drain_at_end = true
[run]
duration_ns = 1_000_000_000
""")
    ld = res.extra["lockdep"]
    assert ld["enabled"] and ld["reports"] == []
    assert {"&pcp->lock", "&zone->lock", "&n->list_lock", "pcpu_drain_mutex"} <= set(res.locks)
