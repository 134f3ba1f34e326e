"""The pft workload (gormanm/pft): one region, one piece per worker, one pass."""
import pytest

from mmactors import Machine, ScenarioError, parse_scenario
from mmactors.mm.addrspace import addrspace_of
from mmactors.report.summary import sections as summary_sections

# 4 KiB faults: what pft counts (THP would fault each 2 MiB once)
TEXT = """
[machine]
cpus = {cpus}
memory_mib = 1024
[sysfs]
"kernel/mm/transparent_hugepage/enabled" = "never"
[[workload]]
kind = "pft"
mode = "{mode}"
mapping_mib = {mib}
touch = "{touch}"
[run]
duration_ns = 1_000_000_000
"""


def run(cpus=4, mode="threads", mib=8, touch="cacheline"):
    m = Machine(parse_scenario(TEXT.format(cpus=cpus, mode=mode, mib=mib, touch=touch)),
                trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res, addrspace_of(m)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_every_worker_faults_its_piece_once(mode):
    m, res, sub = run(mode=mode)
    assert res.end_reason == "done"
    assert res.per_cpu_ops == [512] * 4 and sub.event("pgfault") == 2048
    (d,) = res.extra["workload_details"]
    assert d["faults"] == 2048 and d["workers_done"] == 4
    assert d["faults_per_wall_s"] >= d["faults_per_cpu_s"] > 0
    if mode == "threads":                          # one mm, one VMA, fully populated
        (mm,) = sub.mms
        (vma,) = mm.vmas.values()
        assert mm.rss[mm.MM_ANONPAGES] == 2048
    else:                                          # the launcher and 3 forked children
        assert len(sub.mms) == 4
        assert [mm.rss[mm.MM_ANONPAGES] for mm in sub.mms] == [512] * 4
        # forked before the first fault: anon_vma_fork has nothing to share,
        # so each child prepares its own anon_vma on its first fault
        assert len({v.anon_vma.root for mm in sub.mms for v in mm.vmas.values()}) == 4
    assert "pft-" + mode in "\n".join(summary_sections(res))


def test_bzero_costs_user_time_not_faults():
    _, fast, _ = run(touch="cacheline")
    _, slow, _ = run(touch="bzero")
    assert fast.ops == slow.ops and slow.virtual_ns > fast.virtual_ns


def test_same_seed_same_result():
    a = run(cpus=8, mode="threads")[1]
    b = run(cpus=8, mode="threads")[1]
    assert (a.virtual_ns, a.switches, a.locks) == (b.virtual_ns, b.switches, b.locks)


@pytest.mark.parametrize("mib, cpus, msg", [
    (4096, 4, "does not fit in memory_mib"),
    (1, 512, "less than a page per worker"),
])
def test_bad_sizes_are_one_line_errors(mib, cpus, msg):
    text = TEXT.format(cpus=cpus, mode="threads", mib=mib, touch="cacheline")
    with pytest.raises(ScenarioError, match=msg):
        parse_scenario(text, "pft.toml")
