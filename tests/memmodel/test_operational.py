"""Operational models on the engine agree with the axiomatic checker.

Soundness: running a litmus test's processes as actors under a model, over
many schedules, only produces final states the checker allows under that
model.  Completeness (sc, tso): an exhaustive search of the engine's
schedules (stateless DFS with sleep sets) reaches every allowed state.
Checked on the kernel's litmus tests and, with Hypothesis, on generated
programs of 2 to 4 processes of loads, stores, fences and RMWs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors import ChoiceStrategy, Engine
from mmactors.memmodel import check, parse_litmus
from mmactors.memmodel.access import Memory
from mmactors.memmodel.paths import expected_rows, litmus_dir
from mmactors.memmodel.runner import explore_litmus, run_litmus
from mmactors.memmodel.schedules import DFSStats, dfs, random_runs

from . import gen

ROWS = expected_rows() if (litmus_dir() / "EXPECTED.tsv").is_file() else []
IDS = [r[0] for r in ROWS]
# Exhaustive tso search of these takes more than a second each: tools/bench/operational.py.
SLOW_TSO = {"IRIW+fencembonceonces+OnceOnce", "IRIW+poonceonces+OnceOnce",
            "ISA2+pooncelock+pooncelock+pombonce", "Z6.0+pooncelock+poonceLock+pombonce",
            "Z6.0+pooncelock+pooncelock+pombonce",
            "Z6.0+pooncerelease+poacquirerelease+fencembonceonce",
            "RCU+sync+free", "RCU+sync+read"}

needs_litmus = pytest.mark.skipif(not ROWS, reason="shared litmus data not found")


# ------------------------------------------------------------ kernel tests
@needs_litmus
@pytest.mark.parametrize("model", ["sc", "tso", "lkmm"])
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_kernel_litmus_sound(row, model):
    name, _expected, path, _n = row
    ex = explore_litmus(parse_litmus(path), model, schedules=24, seed=7)
    assert ex.sound, f"{name} under {model}: forbidden states reached {ex.forbidden}"


@needs_litmus
@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_kernel_litmus_exhaustive_complete(row, model):
    name, _expected, path, _n = row
    if model == "tso" and name in SLOW_TSO:
        pytest.skip("slow exhaustive search: tools/bench/operational.py")
    ex = explore_litmus(parse_litmus(path), model, exhaustive=True)
    assert ex.exhaustive
    assert ex.sound, ex.forbidden
    assert set(ex.reached) == ex.allowed, (
        f"{name} under {model}: not reached {ex.allowed - set(ex.reached)}")


@needs_litmus
def test_lkmm_shows_weak_behaviours():
    """lkmm is not just tso: store->store reordering and non-multicopy
    atomicity show up (MP and IRIW's exists clauses are reached)."""
    root = litmus_dir() / "kernel"
    for name in ("MP+poonceonces", "IRIW+poonceonces+OnceOnce", "WRC+poonceonces+Once"):
        test = parse_litmus(root / f"{name}.litmus")
        ex = explore_litmus(test, "lkmm", schedules=400, specs=("pct:3:60",))
        hit = [st for st in ex.reached
               if _satisfies(test, ex.locations, st)]
        assert hit, f"{name}: lkmm never reached the exists clause"
        # ... which tso forbids
        assert not check(test, "tso").positive


def _satisfies(test, locations, st):
    from mmactors.memmodel.check import eval_prop
    return eval_prop(test.condition.prop, dict(zip(locations, st)))


def test_replay_token_reproduces_a_run():
    test = parse_litmus(SB)
    ex = explore_litmus(test, "tso", schedules=60)
    assert len(ex.reached) == 4
    from mmactors import make_strategy
    for st, token in ex.reached.items():
        strat, seed = make_strategy("replay:" + token, 0)
        out = run_litmus(test, "tso", strat, seed)
        assert tuple(out.state[l] for l in ex.locations) == st


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_dfs_without_sleep_sets_agrees(model):
    """Sleep sets only skip redundant orders: the unreduced search (complete
    under sc, capped under tso) reaches nothing the reduced one misses."""
    test = parse_litmus(SB)
    reduced, full = DFSStats(), DFSStats()

    def states(**kw):
        out = set()
        for o in dfs(lambda s, seed: run_litmus(test, model, s, seed), **kw):
            out.add(tuple(sorted((str(k), v) for k, v in o.state.items())))
        return out
    a = states(stats=reduced)
    b = states(stats=full, reduce=False, limit=600)
    assert reduced.complete and len(a) == (3 if model == "sc" else 4)
    assert b <= a
    assert reduced.runs < full.runs
    if full.complete:
        assert a == b


SB = """C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
"""


# ---------------------------------------------------------- the API, directly
def _sb_engine(model, strategy, seed):
    eng = Engine(seed=seed, strategy=strategy, trace=False)
    mem = Memory(eng, model, cpus=[0, 1])
    x, y = mem.loc("x"), mem.loc("y")
    out = {}

    async def p0(k):
        await k.WRITE_ONCE(x, 1)
        await k.smp_mb()
        out[0] = await k.READ_ONCE(y)

    async def p1(k):
        await mem.write_once(k.actor, y, 1)       # mem.f(cpu, ...) == mem.on(cpu).f(...)
        await mem.smp_mb(k.actor)
        out[1] = await mem.read_once(k.actor, x)
    mem.add_program("P0", p0, 0)
    mem.add_program("P1", p1, 1)
    eng.run()
    return out[0], out[1]


@pytest.mark.parametrize("model", ["sc", "tso", "lkmm"])
def test_smp_mb_forbids_sb_in_every_schedule(model):
    def one(s, seed):
        return _sb_engine(model, s, seed)
    if model == "lkmm":     # lkmm's search trees are large: sample them
        seen = set(random_runs(one, 200, seed=5))
    else:
        st = DFSStats()
        seen = set(dfs(one, stats=st))
        assert st.complete
    assert (0, 0) not in seen
    assert seen == {(0, 1), (1, 0), (1, 1)}


# ------------------------------------------------------- generated programs
SUFFIXES = ["", "_relaxed", "_acquire", "_release"]
OPS = [
    "WRITE_ONCE(*{x}, {c});",
    "smp_store_release({x}, {c});",
    "{r} = READ_ONCE(*{x});",
    "{r} = smp_load_acquire({x});",
    "smp_mb();",
    "smp_rmb();",
    "smp_wmb();",
    "{r} = xchg{s}({x}, {c});",
    "{r} = cmpxchg{s}({x}, {o}, {c});",
    "atomic_inc({x});",
    "{r} = atomic_add_return{s}({c}, {x});",
    "{r} = atomic_fetch_inc{s}({x});",
    "smp_mb__after_atomic();",
    "spin_lock(s); WRITE_ONCE(*{x}, {c}); spin_unlock(s);",
    "spin_lock(s); {r} = READ_ONCE(*{x}); spin_unlock(s);",
]
WEIGHTED = [0, 0, 0, 2, 2, 2, 1, 3] + list(range(len(OPS)))

op = st.tuples(st.sampled_from(WEIGHTED), st.integers(0, 2), st.integers(1, 2),
               st.integers(0, 1), st.sampled_from(SUFFIXES))


@st.composite
def programs(draw):
    nprocs = draw(st.integers(2, 4))
    budget = 7 if nprocs <= 3 else 5          # keeps exhaustive tso search small
    threads = [[draw(op)] for _ in range(nprocs)]
    extra = draw(st.integers(0, budget - nprocs))
    for _ in range(extra):
        threads[draw(st.integers(0, nprocs - 1))].append(draw(op))
    return draw(st.integers(2, 3)), threads


def render(nlocs: int, threads: list) -> str:
    return gen.render(nlocs, threads, OPS)


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prog=programs(), data=st.data())
def test_generated_programs_operational_vs_axiomatic(prog, data):
    text = render(*prog)
    test = parse_litmus(text)
    # sc and tso: an exhaustive search reaches exactly the allowed states.
    for model in ("sc", "tso"):
        ex = explore_litmus(test, model, exhaustive=True, limit=2500)
        assert ex.sound, f"{model}: forbidden {ex.forbidden}\n{text}"
        if ex.exhaustive:
            assert set(ex.reached) == ex.allowed, (
                f"{model}: not reached {ex.allowed - set(ex.reached)}\n{text}")
    # lkmm: sound over random schedules and one schedule Hypothesis draws
    # (so a counterexample shrinks to few preemptions).
    ex = explore_litmus(test, "lkmm", schedules=12, seed=3)
    assert ex.sound, f"lkmm: forbidden {ex.forbidden}\n{text}"
    strat = ChoiceStrategy(chooser=lambda n: data.draw(st.integers(0, n - 1)))
    out = run_litmus(test, "lkmm", strat, 1)
    if out.state is not None:
        tup = tuple(out.state[l] for l in ex.locations)
        assert tup in ex.allowed, f"lkmm: forbidden {tup} replay:{out.token}\n{text}"
