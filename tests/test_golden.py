"""The guard for refactors: every shipped scenario gives the JSON result and
trace it gave when ``tools/golden.py --record`` last ran (in
``tests/data/golden.json``), with lockdep off (what users run by default) and
on; and a clean run's figures do not depend on whether lockdep watches.

A deliberate change of the model re-records with ``python tools/golden.py
--record`` and says why in the commit."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("golden", ROOT / "tools" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

RECORDED = json.loads(golden.GOLDEN.read_text())
PATHS = golden.scenario_paths()


def test_every_shipped_scenario_is_recorded():
    assert PATHS, "no shipped scenarios found"
    keys = {golden.key(p, ld) for p in PATHS for ld in (False, True)}
    assert keys == set(RECORDED), "tools/golden.py --record after adding or removing a scenario"


def check_lock_stat_reconciles(res):
    """The kernel counts lock_stat's columns at different moments; with the
    waits and holds in progress at the end of the run they reconcile."""
    from mmactors.sync import lock_registry
    for c in lock_registry(res.machine.engine).classes.values():
        for st in (c.stat_w, c.stat_r):
            where = f"{c.name}: {st.contentions} contentions, {st.waiting} waiting at the end"
            assert sum(st.points.values()) == st.contentions + st.waiting, where
            assert st.con_bounces <= st.contentions + st.waiting, where
            assert st.acq_bounces <= st.acquisitions + st.holding, where
            assert sum(st.contending.values()) <= st.contentions + st.waiting, where
            assert st.waiting >= 0 and st.holding >= 0, where


@pytest.mark.no_lockdep
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.relative_to(golden.SCENARIOS).as_posix())
def test_shipped_scenario_unchanged(path):
    off, doc_off, res = golden.run_one(path, False, result=True)
    on, doc_on = golden.run_one(path, True)
    check_lock_stat_reconciles(res)
    assert off == RECORDED[golden.key(path, False)], "lockdep off: result or trace changed"
    assert on == RECORDED[golden.key(path, True)], "lockdep on: result or trace changed"
    if off["exit_status"] == on["exit_status"] == 0:
        doc_on.pop("lockdep", None)
        doc_off.pop("lockdep", None)
        assert doc_on == doc_off, "lockdep changed a clean run's figures"
