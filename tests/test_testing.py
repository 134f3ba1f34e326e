"""mmactors.testing: Hypothesis schedules that shrink to the fewest
preemptions, lock programs, and the run/assert helpers."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors import Engine
from mmactors._core.strategies import ChoiceStrategy
from mmactors.testing import (LockProgram, Schedule, assert_clean, lock_programs,
                              lockdep_enabled, lockdep_reports, run_scenario, schedules)


# ---------------------------------------------------------------- a planted bug
def race(strategy):
    """Two actors of 12 steps each; the bug is B getting two whole steps
    ahead of A.  The natural schedule alternates them; a preemption stalls
    the actor due first, so B needs two preemptions in a row to get there."""
    eng = Engine(seed=1, strategy=strategy, trace=False)
    done = {"A": 0, "B": 0}
    state = {"bug": False}

    def body(me):
        async def run(actor):
            for _ in range(12):
                await actor.spend(100)
                done[me] += 1
                if done["B"] - done["A"] >= 2:
                    state["bug"] = True
        return run

    eng.add_actor("A", body("A"))
    eng.add_actor("B", body("B"))
    eng.run()
    return state["bug"], eng.decisions


def test_planted_bug_needs_exactly_two_preemptions():
    assert race(ChoiceStrategy(choices={})) [0] is False
    ok, n = race(ChoiceStrategy(choices={}))
    for k in range(1, n + 1):                           # every single preemption
        assert race(ChoiceStrategy(choices={k: 1}))[0] is False, k
    assert race(ChoiceStrategy(choices={1: 1, 2: 1}))[0] is True


def test_hypothesis_shrinks_to_two_preemptions():
    seen = []

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(schedule=schedules(p=0.25))
    def check(schedule):
        bug, _ = race(schedule.strategy())
        if bug:
            seen.append(schedule.choices)
        assert not bug

    with pytest.raises(AssertionError):
        check()
    # Hypothesis re-runs the shrunk example last: exactly two preemptions,
    # and the replay token reproduces the failure.
    final = seen[-1]
    assert len(final) == 2, final
    assert race(ChoiceStrategy(choices=final))[0] is True
    assert max(len(c) for c in seen) > 2                # it started from more


def test_schedule_repr_and_token_replay():
    text = ('[machine]\ncpus = 2\n[[lock]]\nname = "A"\nkind = "spinlock"\n'
            '[[workload]]\nkind = "lock-sequence"\ncpus = [0, 1]\nsteps = ["lock A", "delay 100", '
            '"unlock A"]\nrepeat = 5\n[run]\nseed = 7\n')
    found = {}

    @settings(max_examples=20, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(schedule=schedules(p=0.3))
    def check(schedule):
        res = run_scenario(text, schedule=schedule, lockdep=False, trace=True)
        if schedule.preemptions and "tok" not in found:
            found.update(tok=schedule.token(), sha=res.trace_sha256, ns=res.virtual_ns,
                         rep=repr(schedule))

    check()
    assert found["rep"].startswith("Schedule(preemptions=") and "replay='v2" in found["rep"]
    again = run_scenario(text, strategy="replay:" + found["tok"], lockdep=False, trace=True)
    assert again.trace_sha256 == found["sha"] and again.virtual_ns == found["ns"]


# --------------------------------------------------------------- lock programs
@settings(max_examples=30, deadline=None)
@given(prog=lock_programs(max_cpus=2))
def test_lock_programs_are_valid_scenarios(prog):
    assert isinstance(prog, LockProgram)
    res = run_scenario(prog, lockdep=False)
    assert res.exit_status in (0, 3)                    # may deadlock without lockdep
    for steps in prog.programs.values():
        held = []
        for s in steps:                                 # balanced, no class held twice
            verb, name = s.split()[:2]
            if "unlock" in verb:
                held.remove(name)
            else:
                assert name.split("_")[0] not in [h.split("_")[0] for h in held
                                                  if not s.startswith("lock_nested")]
                held.append(name)
        assert held == []


def test_lock_programs_shrink(tmp_path):
    from hypothesis import find
    prog = find(lock_programs(), lambda p: len(p.programs) >= 2 and
                any(len(s) >= 4 for s in p.programs.values()),
                settings=settings(database=None, max_examples=500, derandomize=True))
    assert len(prog.programs) == 2
    assert sorted(len(s) for s in prog.programs.values()) == [2, 4]


# ----------------------------------------------------------------- helpers
def test_lockdep_enabled_and_assertions():
    text = ('[[lock]]\nname = "A"\nkind = "spinlock"\n[[workload]]\nkind = "lock-sequence"\n'
            'cpus = [0]\nsteps = ["lock A", "unlock A", "unlock A"]\n')
    with lockdep_enabled(False):
        with pytest.raises(AssertionError):
            assert_clean(run_scenario(text, lockdep=None))     # LockError in the actor
    with lockdep_enabled(True):
        res = run_scenario(text, lockdep=None)
    assert [r.kind for r in lockdep_reports(res)] == ["double-unlock"]
    with pytest.raises(AssertionError, match="lockdep reported"):
        assert_clean(res)
    assert_clean(run_scenario(text.replace(', "unlock A"]', "]"), lockdep=True))


def test_schedule_cap():
    @settings(max_examples=30, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(schedule=schedules(p=0.9, max_preemptions=1), n=st.just(0))
    def check(schedule, n):
        race(schedule.strategy())
        assert schedule.preemptions <= 1

    check()
    with pytest.raises(ValueError):
        schedules(p=0)
    assert repr(Schedule(None, 0.5, None)).startswith("Schedule(p=0.5)")
