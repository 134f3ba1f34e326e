"""Property: on programs with marked accesses only, sc ⊆ tso ⊆ lkmm.

Hypothesis generates small litmus tests (2-3 threads of loads, stores,
fences, RMWs and short critical sections over 2-3 locations); each is checked
under the three models and the sets of allowed final states (all registers
and all locations) must be included in one another.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors.memmodel import check, parse_litmus

from . import gen
from .opsem import run

SUFFIXES = ["", "_relaxed", "_acquire", "_release"]

# (C text, has a result register, operational meaning for opsem)
OPS = [
    ("WRITE_ONCE(*{x}, {c});", False, "store"),
    ("smp_store_release({x}, {c});", False, "store"),
    ("{r} = READ_ONCE(*{x});", True, "load"),
    ("{r} = smp_load_acquire({x});", True, "load"),
    ("smp_mb();", False, "fence"),
    ("smp_rmb();", False, "nop"),
    ("smp_wmb();", False, "nop"),
    ("smp_mb__before_atomic();", False, "nop"),
    ("smp_mb__after_atomic();", False, "nop"),
    ("{r} = xchg{s}({x}, {c});", True, "xchg"),
    ("{r} = cmpxchg{s}({x}, {o}, {c});", True, "cmpxchg"),
    ("atomic_inc({x});", False, "inc"),
    ("{r} = atomic_add_return{s}({c}, {x});", True, "add_return"),
    ("{r} = atomic_fetch_inc{s}({x});", True, "fetch_inc"),
    ("spin_lock(s); WRITE_ONCE(*{x}, {c}); spin_unlock(s);", False, "lock_store"),
    ("spin_lock(s); {r} = READ_ONCE(*{x}); spin_unlock(s);", True, "lock_load"),
]

# Plain loads and stores are drawn more often: they make the weak shapes
# (SB, MP, LB, IRIW...) on which the models differ.
WEIGHTED = [0, 0, 0, 1, 2, 2, 2, 3] + list(range(len(OPS)))

op = st.tuples(
    st.sampled_from(WEIGHTED),          # which op
    st.integers(0, 2),                 # location
    st.integers(1, 2),                 # value written
    st.integers(0, 1),                 # cmpxchg expected value
    st.sampled_from(SUFFIXES),
)

def _op_from(indices):
    return st.tuples(st.sampled_from(indices), st.integers(0, 2), st.integers(1, 2),
                     st.integers(0, 1), st.sampled_from(SUFFIXES))


# Cycle programs: thread t accesses location t and then location t+1 (mod
# the number of threads), each access write-like or read-like.  They build
# the SB, MP, LB, S, R and 2+2W families, where the models differ; the
# generic programs cover everything else.
WRITE_LIKE = [0, 0, 1, 9, 11, 12, 14]
READ_LIKE = [2, 2, 3, 10, 13, 15]


@st.composite
def cycle_program(draw):
    n = draw(st.integers(2, 3))
    threads = []
    for t in range(n):
        ops = []
        for k, loc in enumerate((t, (t + 1) % n)):
            which = draw(st.sampled_from(WRITE_LIKE + READ_LIKE))
            if k == 1 and draw(st.booleans()):
                ops.append(draw(op))          # something in between
            ops.append((which, loc, draw(st.integers(1, 2)), draw(st.integers(0, 1)),
                        draw(st.sampled_from(SUFFIXES))))
        threads.append(ops)
    return n, threads


generic_program = st.tuples(
    st.integers(2, 3),                                            # locations
    st.lists(st.lists(op, min_size=1, max_size=3), min_size=2, max_size=3),
)
program = st.one_of(generic_program, cycle_program())


def render(nlocs: int, threads: list) -> str:
    return gen.render(nlocs, threads, [o[0] for o in OPS])


def states(text: str, model: str) -> set:
    r = check(parse_litmus(text), model)
    keys = [(loc.proc, loc.name) if loc.proc is not None else loc.name for loc in r.locations]
    return {frozenset(zip(keys, st)) for st in r.states}


def reference(nlocs: int, threads: list, tso: bool) -> set:
    names = ["x", "y", "z"][:nlocs]
    ops = [[(OPS[w][2], names[loc % nlocs], c, o) for w, loc, c, o, _ in t] for t in threads]
    return run(ops, names, tso)


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_sc_in_tso_in_lkmm(prog):
    text = render(*prog)
    sc, tso, lkmm = (states(text, m) for m in ("sc", "tso", "lkmm"))
    assert sc, text
    assert sc <= tso, text
    assert tso <= lkmm, text
    # The axiomatic sc and tso agree with the operational reference models.
    assert sc == reference(*prog, tso=False), text
    assert tso == reference(*prog, tso=True), text
