"""Issue 17 group 6 and issue 11.3/11.5: tests with many processes or many
statements.

The checker gives every candidate execution a linear-time test first
(``executions.sc_acyclic``: program order and communication acyclic, RCU
readers indivisible, means every model allows it), kept incrementally along
the reads-from search; only the other candidates get the model's relation
algebra.  These tests pin the amount of work, not wall-clock time (except
one generous bound that the old checker missed by far).
"""

from __future__ import annotations

import time

import pytest

from mmactors.memmodel import LitmusError, check, parse_litmus


def rcu_ring(kinds: str) -> str:
    """An RCU grace-period ring: process i reads x_i and writes x_{i+1},
    with synchronize_rcu() between (G) or inside a reader (R)."""
    n = len(kinds)
    out = [f"C ring-{kinds}", "{}"]
    for i, k in enumerate(kinds):
        a, b = f"x{i}", f"x{(i + 1) % n}"
        params = ", ".join(f"int *{p}" for p in sorted({a, b}, key=lambda s: int(s[1:])))
        if k == "G":
            body = f"int r1 = READ_ONCE(*{a}); synchronize_rcu(); WRITE_ONCE(*{b}, 1);"
        else:
            body = (f"rcu_read_lock(); int r1 = READ_ONCE(*{a}); WRITE_ONCE(*{b}, 1); "
                    f"rcu_read_unlock();")
        out.append(f"P{i}({params}) {{ {body} }}")
    out.append("exists (" + " /\\ ".join(f"{i}:r1=1" for i in range(n)) + ")")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("kinds, verdict", [
    ("GGRRGGRRGG", "Never"),      # 6 grace periods >= 4 readers: forbidden
    ("GRRRRGRRRR", "Sometimes"),  # 2 grace periods < 8 readers: allowed
])
def test_rcu_ring_checks_only_the_cycle(kinds, verdict):
    r = check(parse_litmus(rcu_ring(kinds)), "lkmm")
    assert r.observation == verdict
    # Only the execution where every read sees 1 is not sequentially
    # consistent: it alone goes through linux-kernel.cat's relations (once
    # when its last read is chosen, and again as a candidate if allowed);
    # when forbidden, that branch is cut before it is a candidate.
    assert r.stats["full_checks"] + r.stats["partial_checks"] <= 2
    assert r.stats["candidates"] + r.stats["pruned_branches"] == 1024
    assert len(r.states) == (1023 if verdict == "Never" else 1024)


def test_rcu_ring_under_sc_and_tso():
    text = rcu_ring("GGRRGGRR")
    for model in ("sc", "tso"):
        r = check(parse_litmus(text), model)
        assert (r.observation, r.negative) == ("Never", 255)


def sequential_stores(n: int, plain: bool) -> str:
    body = "\n".join((f"\t*x = {i};" if plain else f"\tWRITE_ONCE(*x, {i});")
                     for i in range(1, n + 1))
    return f"C seq{n}\n{{}}\nP0(int *x)\n{{\n{body}\n}}\nexists (x={n})\n"


@pytest.mark.parametrize("plain", [False, True])
def test_many_sequential_stores_are_linear(plain):
    t0 = time.perf_counter()
    r = check(parse_litmus(sequential_stores(500, plain)), "lkmm")
    elapsed = time.perf_counter() - t0
    assert (r.observation, r.positive, r.negative) == ("Always", 1, 0)
    assert r.stats["full_checks"] == 0
    assert elapsed < 10, f"500 stores took {elapsed:.1f} s (75 s before the fix)"


def test_thousand_statements_no_recursion_error():
    body = "\n".join(f"\tr{i % 7} = READ_ONCE(*x);" if i % 2 else f"\tWRITE_ONCE(*y, {i});"
                     for i in range(1000))
    text = f"C long\n{{}}\nP0(int *x, int *y)\n{{\n{body}\n}}\nexists (y=998)\n"
    r = check(parse_litmus(text), "lkmm")
    assert r.observation == "Always"


def test_deep_nesting_is_refused_with_its_line():
    body = "if (r0) {\n" * 150 + "WRITE_ONCE(*x, 1);\n" + "}\n" * 150
    text = f"C deep\n{{}}\nP0(int *x)\n{{\nint r0 = READ_ONCE(*x);\n{body}}}\nexists (x=1)\n"
    with pytest.raises(LitmusError) as info:
        parse_litmus(text, path="deep.litmus")
    assert "nested more than 100 levels" in info.value.message
    assert info.value.line == 106        # the 101st if
    expr = "(" * 80 + "1" + ")" * 80
    with pytest.raises(LitmusError, match="expression nested more than"):
        parse_litmus(f"C e\n{{}}\nP0(int *x)\n{{\nWRITE_ONCE(*x, {expr});\n}}\nexists (x=1)\n")


def xchg_lock_sb(n: int) -> str:
    """SB around a test-and-set lock (xchg_acquire / smp_store_release) on
    n CPUs: most candidate executions break the lock's mutual exclusion,
    which the model rejects early, before co is complete."""
    procs = []
    for i in range(n):
        a, b = f"x{i}", f"x{(i + 1) % n}"
        procs.append(f"P{i}(int *l, int *{a}, int *{b}) {{ int r0; int r1; "
                     f"r0 = xchg_acquire(l, 1); WRITE_ONCE(*{a}, 1); "
                     f"r1 = READ_ONCE(*{b}); smp_store_release(l, 0); }}")
    flt = " /\\ ".join(f"{i}:r0=0" for i in range(n))
    cond = " /\\ ".join(f"{i}:r1=0" for i in range(n))
    return "C xchg-lock-SB\n{}\n" + "\n".join(procs) + f"\nfilter ({flt})\nexists ({cond})\n"


def test_rejected_partial_executions_cut_the_search():
    test = parse_litmus(xchg_lock_sb(3))
    fast = check(test, "lkmm")
    full = check(test, "lkmm", fast=False)
    assert (fast.observation, fast.positive, fast.negative) == ("Never", 0, 6)
    assert (full.observation, full.positive, full.negative) == ("Never", 0, 6)
    assert fast.stats["pruned_branches"] > 0
    assert fast.stats["candidates"] < full.stats["candidates"]
    assert fast.stats["full_checks"] + fast.stats["partial_checks"] < full.stats["full_checks"]
