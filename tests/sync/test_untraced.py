"""The engine's and the locks' shortcuts for an untraced run, unwatched by any
validator (``try_pass`` recording its zero hold directly, the spend hand-off
in one heap operation), give the figures the general paths give: a run's
JSON result is the same with the trace on (the general paths, which
tests/test_golden.py pins) and off, with lockdep off and on."""
from pathlib import Path

import pytest

from mmactors import Machine
from mmactors.scenario import load_scenario
from mmactors.testing import lockdep_enabled

ROOT = Path(__file__).resolve().parents[2]

# Scenarios whose hot paths take the untraced shortcuts: the pcp hit paths
# (try_pass on pcp->lock), contended spinlocks, page faults (rwsem trylock,
# the PTE lock); short runs.
CASES = {
    "pcp-batch": 200_000,
    "lock-scaling": 300_000,
    "pft/pft-threads": 300_000,
    "kmalloc-storm": 200_000,
}


def _doc(name, duration, trace, lockdep):
    scn = load_scenario(ROOT / "scenarios" / f"{name}.toml", [("run.duration_ns", duration)])
    with lockdep_enabled(lockdep):
        res = Machine(scn, trace=trace).run()
    doc = res.to_json()
    for k in ("host", "trace_sha256"):
        doc.pop(k, None)
    return doc, res


@pytest.mark.no_lockdep
@pytest.mark.parametrize("lockdep", [False, True], ids=["lockdep-off", "lockdep-on"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_untraced_run_gives_the_traced_result(name, lockdep):
    traced, res = _doc(name, CASES[name], True, lockdep)
    untraced, _ = _doc(name, CASES[name], False, lockdep)
    assert res.ops > 0 or res.extra, "the run did something"
    assert untraced == traced
