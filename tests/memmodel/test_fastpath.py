"""The checker's shortcuts change nothing: property tests.

``check(test, model)`` skips the model's relation algebra for executions
that are sequentially consistent with RCU readers taken as indivisible
(``executions.sc_acyclic``), follows the reads-from search incrementally,
and fixes co for locations written by one thread.  ``check(..., fast=False)``
gives every candidate to the model's full check.  On generated programs
mixing marked and plain accesses, dependencies, fences, RMWs, locks,
spin_is_locked(), RCU and SRCU, both must print the same herd7 text.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors.memmodel import LitmusError, check, herd_text, parse_litmus

OPS = [
    "WRITE_ONCE(*{x}, {c});",
    "smp_store_release({x}, {c});",
    "{r} = READ_ONCE(*{x});",
    "{r} = smp_load_acquire({x});",
    "*{x} = {c};",
    "{r} = *{x};",
    "smp_mb();",
    "smp_rmb();",
    "smp_wmb();",
    "{r} = xchg_relaxed({x}, {c});",
    "{r} = cmpxchg({x}, {o}, {c});",
    "atomic_inc({x});",
    "spin_lock(s); WRITE_ONCE(*{x}, {c}); spin_unlock(s);",
    "{r} = spin_trylock(s); if ({r}) spin_unlock(s);",
    "{r} = spin_is_locked(s);",
    "rcu_read_lock(); {r} = READ_ONCE(*{x}); WRITE_ONCE(*{y}, {c}); rcu_read_unlock();",
    "synchronize_rcu();",
    "{r} = READ_ONCE(*{x}); if ({r}) WRITE_ONCE(*{y}, {c});",
    "{r} = READ_ONCE(*{x}); WRITE_ONCE(*{y}, {r});",
    "{r} = READ_ONCE(*{x}); if ({r} == {c}) *{y} = 1;",
    "{r} = srcu_read_lock(ss); WRITE_ONCE(*{x}, {c}); srcu_read_unlock(ss, {r});",
    "synchronize_srcu(ss);",
]
# Plain marked loads and stores most often: the weak shapes where models differ.
WEIGHTED = [0, 0, 2, 2, 4, 5] + list(range(len(OPS)))

op = st.tuples(st.sampled_from(WEIGHTED), st.integers(0, 2), st.integers(0, 2),
               st.integers(1, 2), st.integers(0, 1))


@st.composite
def programs(draw):
    nthreads = draw(st.integers(2, 3))
    threads = [draw(st.lists(op, min_size=1, max_size=3)) for _ in range(nthreads)]
    names = ["x", "y", "z"]
    params = "int *x, int *y, int *z, spinlock_t *s, struct srcu_struct *ss"
    lines = ["C generated", "{ spinlock_t s; }"]
    shown = []
    for tid, ops in enumerate(threads):
        body = []
        for k, (which, x, y, c, o) in enumerate(ops):
            reg = f"r{k}"
            if "{r}" in OPS[which]:
                shown.append(f"{tid}:{reg}")
            body.append("\t" + OPS[which].format(x=names[x], y=names[y], c=c, o=o, r=reg))
        lines.append(f"P{tid}({params})\n{{\n" + "\n".join(body) + "\n}")
    shown += names
    lines.append("locations [" + "; ".join(shown) + "]")
    cond = " /\\ ".join(f"{r}=1" for r in shown[:3])
    lines.append(f"exists ({cond})")
    return "\n".join(lines) + "\n"


def text_of(source: str, model: str, fast: bool) -> str:
    try:
        return herd_text(check(parse_litmus(source), model, fast=fast))
    except LitmusError as e:
        return f"error: {e}"


@settings(max_examples=80, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_shortcuts_change_nothing(source):
    for model in ("lkmm", "sc", "tso"):
        assert text_of(source, model, True) == text_of(source, model, False), (model, source)
