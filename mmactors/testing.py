"""Hypothesis strategies and pytest helpers for testing simulated concurrency.

Schedules::

    from hypothesis import given
    from mmactors.testing import schedules, run_scenario, assert_clean

    @given(schedule=schedules())
    def test_no_lock_order_bug(schedule):
        res = run_scenario("scenarios/lockdep/trylock-fallback.toml", schedule=schedule)
        assert_clean(res)          # no lockdep report, deadlock or exception

A :class:`Schedule`'s choices are drawn from Hypothesis as the run goes: at
each decision point the engine asks which of the n runnable actors runs
next, and choice 0 -- the earliest, "no preemption" -- is what shrinking
moves towards, so a failing example shrinks to the fewest preemptions (and
:func:`lock_programs` to the fewest CPUs, sections and locks).  The failing
schedule prints as ``Schedule(preemptions=2, ..., replay='v1...')``; the
token replays it: ``mmactors run SCENARIO --lockdep --strategy replay:TOKEN``.

Lockdep in tests: :func:`lockdep_enabled` (a context manager) and the
``lockdep_on`` fixture turn it on for every machine built inside; a test suite
turns it on everywhere with ``pytest_plugins = ["mmactors.testing"]`` in its
root conftest.py, which also adds the ``no_lockdep`` marker to opt out.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ._core.replay import encode_token
from ._core.strategies import ChoiceStrategy

__all__ = ["Schedule", "schedules", "LockProgram", "lock_programs", "run_scenario",
           "lockdep_enabled", "lockdep_reports", "assert_clean", "assert_no_lockdep",
           "install_strategy", "lockdep_on", "every_schedule", "run_selftest_case"]


# ---------------------------------------------------------------- lockdep
@contextlib.contextmanager
def lockdep_enabled(on: bool = True):
    """Lockdep on (or off) for every Machine built inside the block whose
    scenario does not say otherwise."""
    from . import lockdep as L
    old = L.set_default(on)
    try:
        yield
    finally:
        L.set_default(old)


def lockdep_reports(result) -> list:
    """The LockdepReport list of a RunResult (empty if lockdep was off)."""
    from .lockdep import lockdep_of
    ld = lockdep_of(result)
    return list(ld.reports) if ld is not None else []


def assert_no_lockdep(result) -> None:
    reps = lockdep_reports(result)
    assert not reps, "lockdep reported:\n" + "\n".join(r.text for r in reps)


def assert_clean(result) -> None:
    """No lockdep report, no deadlock, no exception: exit status 0."""
    assert_no_lockdep(result)
    if result.error is not None:
        raise AssertionError(result.error.report())
    assert result.exit_status == 0, f"exit status {result.exit_status}"


# -------------------------------------------------------------- schedules
class Schedule:
    """Scheduling choices drawn from Hypothesis.

    Each of the first ``max_decisions`` decision points gets a pair of draws
    -- "preempt here?" (True with probability ``p`` while generating) and
    which of the other candidates -- drawn in blocks of 16 decision points
    as the run reaches them, so the choice sequence keeps its shape whatever
    the schedule does and Hypothesis can shrink it freely: every "preempt?"
    it can set to False is gone, which leaves the fewest preemptions.  Later decision points never
    preempt.  ``strategy()`` gives a fresh engine strategy; after a run,
    ``choices`` are the non-zero choices by decision number, ``preemptions``
    their count and ``token(seed)`` the replay token."""

    def __init__(self, data, p: float, max_preemptions: int | None,
                 max_decisions: int = 512):
        self._data = data
        # a ConjectureData (from _ScheduleStrategy) or a DataObject (st.data())
        self._cd = data if hasattr(data, "draw_boolean") else getattr(data, "conjecture_data", None)
        self.p = p
        self.max_preemptions = max_preemptions
        self.max_decisions = max_decisions
        self._plan = None
        self.last: ChoiceStrategy | None = None
        self.seed: int | None = None
        self.digest = 0                      # the scenario's, once run

    BLOCK = 16

    def _draw_block(self):
        """Draws for the next BLOCK decision points.  Drawing in fixed blocks
        keeps the choice sequence's shape stable while Hypothesis shrinks
        (a run that needs one more decision point rarely needs one more
        block), so turning a preemption off is almost always a valid step."""
        cd = self._cd
        k = min(self.BLOCK, self.max_decisions - len(self._plan))
        if cd is not None:
            for _ in range(k):
                self._plan.append((cd.draw_boolean(self.p), cd.draw_integer(0, 255)))
        else:                                # public API: each draw is logged
            from hypothesis import strategies as st
            for _ in range(k):
                self._plan.append((self._data.draw(st.booleans()),
                                   self._data.draw(st.integers(0, 255))))

    def _choose(self, n: int) -> int:
        last = self.last
        i = last.n - 1                       # this decision's number - 1
        if i >= self.max_decisions:
            return 0
        if self.max_preemptions is not None and len(last.made) >= self.max_preemptions:
            return 0
        plan = self._plan
        while i >= len(plan):
            self._draw_block()
        pre, which = plan[i]
        return 1 + which % (n - 1) if pre else 0

    def strategy(self) -> ChoiceStrategy:
        if self._plan is None:
            self._plan = []
        self.last = ChoiceStrategy(chooser=self._choose)
        return self.last

    @property
    def choices(self) -> dict:
        return dict(self.last.made) if self.last is not None else {}

    @property
    def preemptions(self) -> int:
        return len(self.choices)

    def token(self, seed: int | None = None) -> str:
        s = self.seed if seed is None else seed
        fields = self.last.token_fields() if self.last is not None else [3, 0]
        return encode_token(1 if s is None else s, fields, self.digest)

    def __repr__(self):
        if self.last is None:
            extra = f", max_preemptions={self.max_preemptions}" if self.max_preemptions else ""
            return f"Schedule(p={self.p}{extra}) (its choices are noted below after a run)"
        return (f"Schedule(preemptions={self.preemptions}, choices={self.choices}, "
                f"replay={self.token()!r})")


def schedules(p: float = 0.05, max_preemptions: int | None = None, max_decisions: int = 512):
    """A Hypothesis strategy for :class:`Schedule`.

    ``p``: chance that a decision point preempts while generating (shrinking
    drives it to none); ``max_preemptions``: a cap per run (a PCT-like
    depth bound); ``max_decisions``: how many decision points may preempt
    (two draws each)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if max_decisions < 1:
        raise ValueError("max_decisions must be >= 1")
    return _schedule_strategy(p, max_preemptions, max_decisions)


def _schedule_strategy(p, max_preemptions, max_decisions):
    # A strategy whose value draws from the test case's choice sequence while
    # the test runs (as st.data() does), without logging each draw.
    from hypothesis.strategies import SearchStrategy

    class _ScheduleStrategy(SearchStrategy):
        def do_draw(self, data):
            return Schedule(data, p, max_preemptions, max_decisions)

        def __repr__(self):
            return f"schedules(p={p}, max_preemptions={max_preemptions})"

    return _ScheduleStrategy()


def install_strategy(machine, strategy) -> None:
    """Run ``machine`` (or a bare engine) under ``strategy`` (a Strategy
    object, e.g. a Schedule's) instead of the one it was built with."""
    eng = machine.engine if hasattr(machine, "engine") else machine
    eng.set_strategy(strategy)
    if hasattr(machine, "strategy"):
        machine.strategy = strategy


def every_schedule(scn, *, limit: int = 5000):
    """Run the scenario ``scn`` under every schedule of the engine (stateless
    DFS over its choices, at most ``limit`` runs).  Returns the search's
    DFSStats (``complete`` once the tree is exhausted) and the run results."""
    from .machine import Machine
    from .memmodel.schedules import DFSStats, dfs

    def one(strategy, seed):
        m = Machine(scn, seed=seed, strategy="random", trace=False)
        install_strategy(m, strategy)
        return m.run()
    stats = DFSStats()
    results = list(dfs(one, stats=stats, limit=limit))
    return stats, results


def _scenario(obj, overrides=None):
    from pathlib import Path

    from .scenario import Scenario, load_scenario, parse_scenario
    if isinstance(obj, Scenario):
        return obj
    if isinstance(obj, LockProgram):
        return parse_scenario(obj.scenario_text(), "<lock program>", overrides)
    s = str(obj)
    if "\n" in s or ("[" in s and not Path(s).exists()):
        return parse_scenario(s, "<string>", overrides)
    from .scenario import find_scenario
    return load_scenario(find_scenario(s), overrides)


def run_scenario(scenario, *, schedule: Schedule | None = None, seed: int | None = None,
                 strategy: str | None = None, lockdep: bool | None = True, overrides=None,
                 trace: bool = False, **lockdep_opts):
    """Build and run a scenario (a Scenario, a path or name, TOML text, or a
    :class:`LockProgram`) and return the RunResult.  With ``schedule`` the
    engine's choices come from Hypothesis; ``lockdep`` True/False forces it
    on/off (None: the scenario and the defaults decide)."""
    from . import lockdep as L
    from .machine import Machine
    scn = _scenario(scenario, overrides)
    seed_ = scn.run["seed"] if seed is None else seed
    if schedule is not None:
        # The schedule's ChoiceStrategy from the start (prio 0), so the heap
        # keys are the ones a replay of the schedule's token builds.
        m = Machine(scn, seed=seed_, strategy=schedule.strategy(), trace=trace)
        schedule.seed = seed_
        schedule.digest = scn.digest
    else:
        m = Machine(scn, seed=seed_, strategy=strategy, trace=trace)
    if lockdep is True:
        L.attach(m, **lockdep_opts)
    elif lockdep is False:
        L.detach(m)
    res = m.run()
    if schedule is not None:
        where = scenario if isinstance(scenario, str) and "\n" not in scenario else "SCENARIO"
        _note(f"{schedule!r}\nreplay: mmactors run {where}"
              f"{' --lockdep' if L.lockdep_of(m) is not None else ''} "
              f"--strategy replay:{schedule.token()}")
    return res


def _note(text: str) -> None:
    """hypothesis.note() when inside a Hypothesis test (printed with the
    falsifying example), else nothing."""
    try:
        from hypothesis import note
        note(text)
    except Exception:  # noqa: BLE001 - not inside @given
        pass


# ------------------------------------------------- lib/locking-selftest.c
def run_selftest_case(case):
    """Run one case of :mod:`mmactors.lockdep.selftest` as a one-CPU machine
    with a fresh lockdep; returns (debug_locks, reports, result):
    debug_locks is 1 if lockdep stayed silent, as dotest() compares it with
    the case's ``expected``."""
    from .lockdep import lockdep_of
    from .machine import Machine
    from .scenario import parse_scenario
    scn = parse_scenario(case.scenario_text(), f"<selftest {case.name}>")
    m = Machine(scn, trace=False)
    res = m.run()
    ld = lockdep_of(m)
    reports = list(ld.reports) if ld is not None else []
    if res.error is not None and not reports:
        raise RuntimeError(f"{case.name}: the run failed without a lockdep report: "
                           f"{res.error.report()}")
    return (0 if reports else 1), reports, res


# ------------------------------------------------------------ lock programs
_SLEEPING = ("mutex", "rwsem")
_RW = ("rwlock", "rwsem")


@dataclass
class LockProgram:
    """Per-CPU lock/unlock programs over a few lock classes (a lock-sequence
    scenario).  ``locks``: class name -> kind; each class has a second
    instance ``<name>_2`` for nested acquisition (subclass 1).
    ``programs``: cpu -> steps in the lock-sequence language."""
    locks: dict
    programs: dict
    stagger_ns: int = 0
    extra: dict = field(default_factory=dict)

    def instances(self) -> dict:
        """Step lock name -> (kind, class)."""
        out = {}
        for c, k in self.locks.items():
            out[c] = (k, c)
            out[f"{c}_2"] = (k, c)
        return out

    def scenario_text(self, *, rwlock_read: str = "recursive", hierarchy: bool = False,
                      stagger_ns: int | None = None, repeat: int = 1) -> str:
        stagger = self.stagger_ns if stagger_ns is None else stagger_ns
        ncpu = max(self.programs) + 1 if self.programs else 1
        out = [f"[machine]\ncpus = {ncpu}\n"]
        for name, (kind, cls) in self.instances().items():
            out.append(f'[[lock]]\nname = "{name}"\nkind = "{kind}"\nclass = "{cls}"\n')
        for cpu, steps in self.programs.items():
            pre = [f"delay {stagger * cpu}"] if stagger and cpu else []
            body = ", ".join(f'"{s}"' for s in pre + list(steps))
            out.append(f'[[workload]]\nkind = "lock-sequence"\ncpus = [{cpu}]\n'
                       f"steps = [{body}]\nrepeat = {repeat}\n")
        out.append(f'[lockdep]\nstop = true\nrwlock_read = "{rwlock_read}"\n'
                   f"hierarchy = {'true' if hierarchy else 'false'}\n")
        out.append("[run]\nduration_ns = 1_000_000_000\nseed = 1\n")
        return "\n".join(out)

    def __repr__(self):
        progs = "; ".join(f"cpu{c}: " + ", ".join(s) for c, s in self.programs.items())
        return f"LockProgram(locks={self.locks}, {progs})"


def lock_programs(classes: str = "ABCD", kinds=("spinlock", "rwlock", "mutex", "rwsem"),
                  max_cpus: int = 3, max_sections: int = 3, max_depth: int = 3,
                  nesting: bool = True, out_of_order: bool = True, reads: bool = True):
    """A Hypothesis strategy for :class:`LockProgram`: random per-CPU lock
    programs over ``classes`` of random ``kinds``, made of critical sections
    that nest up to ``max_depth`` locks.

    Programs are well-formed kernel code in every other respect, so the only
    findings are lock-order ones: a section never takes a class it holds
    (no recursion), sleeping locks are taken before spinning ones (no
    sleeping in atomic context), every lock taken is released.  With
    ``nesting`` a section may take the class's second instance with
    ``lock_nested X_2 1`` right after X (spin_lock_nested style); with
    ``out_of_order`` releases may come in any order."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        n = draw(st.integers(2, len(classes)))
        names = list(classes[:n])
        kind = {c: draw(st.sampled_from(kinds)) for c in names}
        ncpu = draw(st.integers(1, max_cpus))
        programs = {}
        for cpu in range(ncpu):
            steps = []
            for _ in range(draw(st.integers(1, max_sections))):
                depth = draw(st.integers(1, min(max_depth, n)))
                order = draw(st.permutations(names))[:depth]
                # sleeping locks first: never sleep while holding a spinlock
                order = [c for c in order if kind[c] in _SLEEPING] + \
                        [c for c in order if kind[c] not in _SLEEPING]
                taken = []            # (name used in steps, release verb)
                for c in order:
                    read = reads and kind[c] in _RW and draw(st.booleans())
                    steps.append(f"{'read_lock' if read else 'lock'} {c}")
                    taken.append((c, "read_unlock" if read else "unlock"))
                    if nesting and draw(st.integers(0, 5)) == 5:
                        steps.append(f"lock_nested {c}_2 1")
                        taken.append((f"{c}_2", "unlock"))
                rel = list(reversed(taken))
                if out_of_order and len(rel) > 1:
                    rel = draw(st.permutations(rel))
                steps += [f"{verb} {name}" for name, verb in rel]
            programs[cpu] = steps
        return LockProgram(locks=kind, programs=programs)

    return build()


# ------------------------------------------------------------ pytest side
try:
    import pytest as _pytest
except ImportError:                     # pragma: no cover - pytest is optional
    _pytest = None

if _pytest is not None:
    @_pytest.fixture
    def lockdep_on():
        """Lockdep on for every machine the test builds."""
        with lockdep_enabled(True):
            yield

    @_pytest.fixture(autouse=True)
    def _mmactors_lockdep_default(request):
        # Active only when this module is loaded as a plugin
        # (pytest_plugins = ["mmactors.testing"]): lockdep on by default,
        # off for tests marked no_lockdep.
        on = request.node.get_closest_marker("no_lockdep") is None
        with lockdep_enabled(on):
            yield

    def pytest_configure(config):
        config.addinivalue_line("markers", "no_lockdep: run this test without lockdep")
else:                                   # pragma: no cover
    lockdep_on = None
