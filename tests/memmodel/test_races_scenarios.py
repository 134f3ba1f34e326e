"""The race scenarios (scenarios/races/): each buggy variant is found within
1,000 schedules with a report and a replay token that reproduces it; each
fixed variant is clean (1,000 schedules here, exhaustively under sc for the
small ones; the 10,000-schedule figures come from tools/bench/races.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmactors import Machine, load_scenario, parse_scenario
from mmactors.cli import main as cli_main
from mmactors.memmodel.access import KernelBug
from mmactors.memmodel.race import DataRace
from mmactors.scenario import ScenarioError
from mmactors.testing import every_schedule
from mmactors.workloads.racy import PROGRAMS

ROOT = Path(__file__).resolve().parents[2]
RACES = ROOT / "scenarios" / "races"
NAMES = sorted(PROGRAMS)


def run(path, overrides=(), strategy=None, seed=None):
    scn = load_scenario(path, list(overrides))
    m = Machine(scn, seed=seed, strategy=strategy, trace=True)
    return m.run()


def test_every_program_has_both_scenarios_and_cites_its_fix():
    assert len(NAMES) >= 5
    for name in NAMES:
        prog = PROGRAMS[name]
        assert prog.fix and '("' in prog.fix and prog.mirrors, name
        for variant in ("buggy", "fixed"):
            path = RACES / f"{name}-{variant}.toml"
            assert path.is_file(), path
            text = path.read_text()
            assert prog.fix.split(" ")[0] in text, f"{path} does not cite the fix"


@pytest.mark.parametrize("name", NAMES)
def test_buggy_variant_is_found_and_replays(name):
    res = run(RACES / f"{name}-buggy.toml")
    err = res.error
    assert isinstance(err, (DataRace, KernelBug)), f"{name}: not found in 1000 schedules"
    assert res.exit_status in (5, 6)
    wl = res.machine.workloads[0]
    assert 1 <= wl.barrier.iteration <= 1000
    report = err.report()
    assert f"replay: --strategy replay:{err.token}" in report
    assert f"of 1000 of race program {name} (buggy)" in report
    # The token reproduces the failure exactly.
    again = run(RACES / f"{name}-buggy.toml", strategy=f"replay:{err.token}")
    assert again.error is not None and again.error.report() == report
    assert again.trace_sha256 == res.trace_sha256


@pytest.mark.parametrize("name", NAMES)
def test_fixed_variant_is_clean(name):
    res = run(RACES / f"{name}-fixed.toml")
    assert res.error is None, res.error.report()
    assert res.exit_status == 0
    assert res.machine.workloads[0].clean == 1000


@pytest.mark.parametrize("model", ["sc", "tso", "lkmm"])
@pytest.mark.parametrize("name", NAMES)
def test_fixed_variant_is_clean_under_every_model(name, model):
    res = run(RACES / f"{name}-fixed.toml",
              [("workload.0.model", model), ("workload.0.iterations", 150)],
              strategy="pct:3:40", seed=11)
    assert res.error is None, res.error.report()


@pytest.mark.parametrize("name", ["lru-isolate", "folio-try-get", "zonelist-seqlock",
                                  "pte-alloc", "page-counter"])
def test_fixed_variant_is_clean_in_every_schedule_under_sc(name):
    """One iteration, every schedule of the engine (stateless DFS)."""
    scn = load_scenario(RACES / f"{name}-fixed.toml",
                        [("workload.0.iterations", 1), ("workload.0.model", "sc"),
                         ("workload.0.jitter_ns", 0)])

    st, results = every_schedule(scn, limit=5000)
    failures = [r.error for r in results if r.error is not None]
    assert st.complete and st.runs > 10
    assert not failures, failures[0].report()


def test_pte_alloc_value_bug_needs_a_weak_model():
    """Without smp_wmb() the walker reads a stale PTE only under lkmm: sc and
    tso keep stores in order (the race detector, off here, flags the missing
    barrier under any model)."""
    for model in ("sc", "tso"):
        res = run(RACES / "pte-alloc-buggy.toml", [("workload.0.model", model),
                                                    ("workload.0.iterations", 300)])
        assert res.error is None, model
    res = run(RACES / "pte-alloc-buggy.toml")
    assert isinstance(res.error, KernelBug) and "bad pte" in res.error.report()
    res = run(RACES / "pte-alloc-buggy.toml", [("workload.0.race_detector", True),
                                                ("workload.0.model", "sc")])
    assert isinstance(res.error, DataRace)
    assert "data-race in do_anonymous_page / gup_fast" in res.error.report()


def test_zonelist_buggy_is_also_a_kcsan_report():
    res = run(RACES / "zonelist-seqlock-buggy.toml", [("workload.0.race_detector", True)])
    assert isinstance(res.error, DataRace)
    assert "alloc_pages / build_all_zonelists" in res.error.report()


def test_one_schedule_per_run_for_the_fuzzer():
    """iterations = 1: every run is one schedule; some seed finds the race."""
    found = None
    for seed in range(1, 200):
        res = run(RACES / "lru-isolate-buggy.toml", [("workload.0.iterations", 1)],
                  strategy="pct:3:20", seed=seed)
        if res.error is not None:
            found = res
            break
    assert found is not None
    again = run(RACES / "lru-isolate-buggy.toml", [("workload.0.iterations", 1)],
                strategy=f"replay:{found.error.token}")
    assert again.error.report() == found.error.report()


def test_cli_run_exit_status_and_report(capsys):
    assert cli_main(["run", str(RACES / "page-counter-buggy.toml")]) == 5
    out = capsys.readouterr().out
    assert "BUG: KCSAN: data-race in page_counter_try_charge / page_counter_try_charge" in out
    assert "race program page-counter (buggy) under sc, race detector on: FAILED" in out
    assert cli_main(["run", str(RACES / "lru-isolate-fixed.toml"),
                     "--set", "workload.0.iterations=50"]) == 0
    assert "50 of 50 schedules clean" in capsys.readouterr().out


BAD = """
[machine]
cpus = 2

[[workload]]
kind = "race"
program = "{program}"
variant = "{variant}"
cpus = {cpus}
"""


@pytest.mark.parametrize("program,variant,cpus,key,line", [
    ("nope", "buggy", "[0, 1]", "workload[0].program", 7),
    ("lru-isolate", "sideways", "[0, 1]", "workload[0].variant", 8),
    ("lru-isolate", "buggy", "[0]", "workload[0].cpus", 9),
])
def test_bad_input_is_one_line_with_file_line_and_key(program, variant, cpus, key, line):
    text = BAD.format(program=program, variant=variant, cpus=cpus)
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(text, "races.toml")
    msg = str(ei.value)
    assert msg.startswith(f"races.toml:{line}: {key}: ") and "\n" not in msg


def test_bad_input_exit_status(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text(BAD.format(program="nope", variant="buggy", cpus="[0, 1]"))
    assert cli_main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mmactors: {p}:7: workload[0].program: unknown race program 'nope'")


def test_json_result_has_the_race_and_the_memory_model(tmp_path):
    out = tmp_path / "r.json"
    assert cli_main(["run", str(RACES / "folio-try-get-buggy.toml"), "--json", str(out),
                     "--quiet"]) == 6
    import json
    doc = json.loads(out.read_text())
    assert doc["error"]["kind"] == "bug" and doc["error"]["replay_token"]
    assert doc["memory_model"]["model"] == "sc" and doc["memory_model"]["race_detector"]
    wl = doc["workload_details"][0]
    assert wl["program"] == "folio-try-get" and wl["fix"].startswith("e286781d5f2e")


def test_hypothesis_finds_and_shrinks_a_race_schedule():
    """With mmactors.testing.schedules(), Hypothesis finds the folio_put()
    race in one-schedule runs and shrinks it to a couple of preemptions; the
    printed token replays it."""
    from hypothesis import HealthCheck, find, settings

    from mmactors.testing import run_scenario, schedules
    path = str(RACES / "folio-try-get-buggy.toml")
    ov = [("workload.0.iterations", 1), ("workload.0.jitter_ns", 0)]

    def fails(schedule):
        return run_scenario(path, schedule=schedule, lockdep=None, overrides=ov).error is not None
    s = find(schedules(p=0.2), fails,
             settings=settings(max_examples=1000, database=None, derandomize=True,
                               suppress_health_check=list(HealthCheck)))
    # Shrunk to a few preemptions (from dozens drawn at p=0.2).  Not an exact
    # count: Hypothesis seeds its generation with constants collected from the
    # local modules imported so far (hypothesis/internal/constants_ast.py), so
    # even with derandomize=True the search moves when any module is added or
    # imported first; it found 3 and 4 on neighbouring commits.
    assert 1 <= s.preemptions <= 6
    res = run_scenario(path, strategy="replay:" + s.token(), lockdep=None, overrides=ov)
    assert isinstance(res.error, (KernelBug, DataRace))
