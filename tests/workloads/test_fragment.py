"""The fragment and highorder workloads: their keys and their arithmetic."""
from __future__ import annotations

import pytest

from mmactors import parse_scenario
from mmactors.scenario import ScenarioError
from mmactors.workloads.fragment import percentiles

BASE = """
[machine]
cpus = 2
memory_mib = 64
[[workload]]
kind = "fragment"
cpus = [0]
size = "{size}"
[[workload]]
kind = "highorder"
cpus = [1]
gfp = "{gfp}"
"""


def test_percentiles_nearest_rank():
    assert percentiles([]) == {"n": 0}
    r = percentiles(list(range(1, 101)))
    assert (r["p50_ns"], r["p90_ns"], r["p99_ns"], r["max_ns"], r["mean_ns"]) == (50, 90, 99, 100, 50)
    assert percentiles([7])["p99_ns"] == 7


@pytest.mark.parametrize("size, gfp, key", [("120%", "GFP_TRANSHUGE", "size"),
                                             ("lots", "GFP_TRANSHUGE", "size"),
                                             ("80%", "GFP_NONSENSE", "gfp")])
def test_bad_keys_are_refused_with_their_line(size, gfp, key):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(BASE.format(size=size, gfp=gfp), "frag.toml")
    msg = str(e.value)
    assert "frag.toml" in msg and key in msg


def test_good_keys_parse():
    scn = parse_scenario(BASE.format(size="80%", gfp="GFP_TRANSHUGE | __GFP_NORETRY"), "f.toml")
    kinds = [w["kind"] for w in scn.workloads]
    assert kinds == ["fragment", "highorder"]
