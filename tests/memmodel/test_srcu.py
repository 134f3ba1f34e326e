"""Issue 17.6, SRCU: readers' srcu_struct accesses counted, not enumerated
(``mmactors/memmodel/srcu.py``).

Known results: an SRCU ring (``rings.srcu_ring``, one srcu_struct s) has
the RCU ring's verdict (the Fundamental Law, ``rings.law``) and states; its
k readers' srcu_read_lock() (a load of s) and srcu_read_unlock() (a store)
have (k!)**2 coherent rf/co orders (co orders of the k stores times, for
each, the writes each load may read: the sum over co of the product of
positions is k! * k!), and where they cannot change the verdict every
outcome is counted (k!)**2 times, as herd7 counts it.

Where they can (``SRCU-ring-5`` with three grace periods: P4's
srcu_read_lock() reading P3's srcu_read_unlock() adds an rcu-link that
closes the cycle when P4 reads x4=0), some executions are allowed for
some orders only: the checker must then count them one by one.

Equivalence: ``check(..., fast=False)`` enumerates every order; both must
print the same herd7 text on small rings and on generated SRCU programs.
"""

from __future__ import annotations

from math import factorial

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mmactors.memmodel import LitmusError, check, herd_text, parse_litmus
from mmactors.memmodel.check import shared_locations
from mmactors.memmodel.executions import Skeleton
from mmactors.memmodel.models import MODELS
from mmactors.memmodel import srcu
from mmactors.memmodel.srcu import collapse
from mmactors.memmodel.symexec import ThreadExecutor

from .rings import law, rcu_ring, srcu_ring


def text_of(source: str, model: str = "lkmm", fast: bool = True) -> str:
    try:
        return herd_text(check(parse_litmus(source), model, fast=fast))
    except LitmusError as e:
        return f"error: {e}"


def seps_of(text: str) -> list:
    out = []
    for p in text.split("\nP")[1:]:
        out.append("sgp" if "synchronize_srcu" in p else "srscs")
    return out


def skeleton_of(text: str) -> Skeleton:
    test = parse_litmus(text)
    locations, init_values, _ = shared_locations(test)
    paths = [ThreadExecutor(test.path, t, p, test.reg_init, set(locations)).paths()[0]
             for t, p in enumerate(test.processes)]
    return Skeleton(test.path, locations, init_values, paths)


@pytest.mark.parametrize("n", [6, 8, 12, 16])
@pytest.mark.parametrize("forbidden", [True, False])
def test_srcu_rings_count_every_order_of_the_struct(n, forbidden):
    gps = (n + 1) // 2 - (0 if forbidden else 1)
    text = srcu_ring(n, gps)
    k = n - gps
    r = check(parse_litmus(text), "lkmm")
    rr = check(parse_litmus(rcu_ring(n, gps)), "lkmm")
    assert r.name == f"SRCU-ring-{n}"
    assert r.observation == rr.observation == law(seps_of(text))
    assert r.states == rr.states
    assert (r.positive, r.negative) == (rr.positive * factorial(k) ** 2,
                                        rr.negative * factorial(k) ** 2)
    # Searched as the RCU ring: 2**n executions, not (k!)**2 times as many.
    assert r.stats["candidates"] == 2 ** n
    assert r.stats["full_checks"] + r.stats["partial_checks"] <= 2


def test_twenty_process_srcu_ring():
    """Ten readers: (10!)**2 = 1.3e13 orders of the srcu_struct for each of
    the 2**20 outcomes; one model check (not a timed test)."""
    r = check(parse_litmus(srcu_ring(20, 10)), "lkmm")
    assert (r.observation, r.positive) == ("Never", 0)
    assert r.negative == (2 ** 20 - 1) * factorial(10) ** 2
    assert len(r.states) == 2 ** 20 - 1
    assert r.stats["full_checks"] == 1


@pytest.mark.parametrize("n, gps", [(3, 1), (3, 2), (4, 1), (4, 2), (5, 2), (5, 3), (6, 3)])
@pytest.mark.parametrize("edge", ["rf", "fr", "co"])
def test_small_srcu_rings_agree_with_full_enumeration(n, gps, edge):
    text = srcu_ring(n, gps, edge)
    assert text_of(text, fast=True) == text_of(text, fast=False)


def test_a_read_of_the_struct_that_closes_the_cycle_is_counted():
    """SRCU-ring-5 with three grace periods (P0-P2) and readers P3, P4:
    when P4 reads x4=0 the x-cycle is open, but the order in which P4's
    srcu_read_lock() reads P3's srcu_read_unlock() is an rcu-link from
    P3's section to P4's (rfe on s, then po): rcu-order then closes with
    3 grace periods against 2 sections.  1 of the 4 orders is rejected:
    31 states, 123 executions (4 * 31 - 1), as the full enumeration says.
    The orders are counted (srcu.OrderCounter), not enumerated: one
    candidate per execution of the x locations."""
    text = srcu_ring(5, 3)
    skel = skeleton_of(text)
    assert collapse(skel, MODELS["lkmm"], [], []) == 4
    assert skel.srcu_counter is not None
    r = check(parse_litmus(text), "lkmm")
    assert (r.observation, r.positive, r.negative, len(r.states)) == ("Never", 0, 123, 31)
    assert r.stats["candidates"] == 2 ** 5 - 1       # (the all-rf one pruned)


@pytest.mark.parametrize("edge", ["rf", "fr", "co"])
def test_odd_forbidden_ring_counts_the_orders_that_close_no_cycle(edge):
    """SRCU-ring-7, four grace periods side by side (P0-P3) and readers
    P4-P6: the product path searches the 2**7 executions of the x
    locations once (one model check) and counts, for each execution whose
    rcu-links leave a walk of weight >= 0 between two readers, the orders
    of s that close no cycle.  Known result: the full enumeration (every
    order of s, commit a12ebc9, 7 to 11 s) finds 4529 executions of 127
    states, Never."""
    r = check(parse_litmus(srcu_ring(7, 4, edge)), "lkmm")
    assert (r.observation, r.positive, r.negative, len(r.states)) == ("Never", 0, 4529, 127)
    assert r.stats["candidates"] == 2 ** 7
    assert r.stats["full_checks"] == 1


@pytest.mark.parametrize("n, gps", [(5, 3), (6, 4), (5, 4)])
def test_the_product_path_correction_agrees_with_the_full_enumeration(n, gps, monkeypatch):
    """The product path (forced on small rings) less OrderCounter's
    correction gives the full enumeration's text."""
    from mmactors.memmodel import product
    monkeypatch.setattr(product, "MIN_LOCATIONS", 0)
    text = srcu_ring(n, gps)
    r = check(parse_litmus(text), "lkmm")
    assert r.stats["product_blocks"] > 0
    assert text_of(text, fast=True) == text_of(text, fast=False)


def brute_good(W: tuple, k: int) -> int:
    """count_good by definition: every (co order, reads-from) option of k
    one-section readers, a cycle of walks (weights W) and T-links
    (B -> D when D's lock reads a write co-after the one B's reads) of
    weight >= 0 or not (Floyd-Warshall over the readers)."""
    from itertools import permutations, product as cartesian
    NEG = -(10 ** 9)
    good = 0
    for sigma in permutations(range(k)):
        rank = {r: i + 1 for i, r in enumerate(sigma)}
        for p in cartesian(*[range(rank[i]) for i in range(k)]):
            # jump-point graph: B -> B' weighs the best walk from a reader
            # above B to B'
            d = [[max([W[D][b2] for D in range(k) if p[D] > p[b]] or [NEG])
                  for b2 in range(k)] for b in range(k)]
            for m in range(k):
                for a in range(k):
                    for b in range(k):
                        if d[a][m] > NEG // 2 and d[m][b] > NEG // 2:
                            d[a][b] = max(d[a][b], d[a][m] + d[m][b])
            good += all(d[a][a] < 0 for a in range(k))
    return good


@st.composite
def walk_matrices(draw):
    """The readers' walk matrix of a random graph of rcu-links between
    grace periods (+1) and sections (-1) with no cycle of weight >= 0."""
    k = draw(st.integers(1, 4))
    g = draw(st.integers(0, 3))
    w = [1] * g + [-1] * k
    n = g + k
    links = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12))
    NEG = srcu.NEG
    W = [[NEG] * n for _ in range(n)]
    for a in range(n):
        W[a][a] = w[a]
    for a, b in links:
        if a != b:
            W[a][b] = w[a] + w[b]
    for m in range(n):
        for a in range(n):
            for b in range(n):
                if W[a][m] > NEG // 2 and W[m][b] > NEG // 2:
                    W[a][b] = max(W[a][b], W[a][m] + W[m][b] - w[m])
    for a in range(n):
        for b in range(n):
            if a != b and W[a][b] > NEG // 2 and W[b][a] > NEG // 2:
                assume(W[a][b] + W[b][a] - w[a] - w[b] < 0)
    return tuple(tuple(W[a][g:]) for a in range(g, n)), k


@settings(max_examples=80, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(walk_matrices())
def test_count_good_is_the_number_of_orders_closing_no_cycle(wk):
    W, k = wk
    assert srcu.count_good(W, k) == brute_good(W, k)


def test_collapse_counts_the_orders_where_it_applies():
    text = srcu_ring(8, 4)
    assert collapse(skeleton_of(text), MODELS["lkmm"], [], []) == factorial(4) ** 2
    # Not for the hardware models: they order the struct's accesses.
    assert collapse(skeleton_of(text), MODELS["sc"], [], []) == 1


def test_the_index_register_in_the_condition_keeps_every_order():
    """The condition shows srcu_read_lock()'s value: every order is
    enumerated (here they all read 0; the count is the same)."""
    text = srcu_ring(4, 2).replace("exists (", "locations [1:r2]\nexists (")
    r = check(parse_litmus(text), "lkmm")
    assert r.stats["candidates"] == 2 ** 4 * factorial(2) ** 2
    assert text_of(text, fast=True) == text_of(text, fast=False)


# ---------------------------------------------------------------- generated

BODY = [
    "WRITE_ONCE(*{x}, {c});",
    "{r} = READ_ONCE(*{x});",
    "smp_store_release({x}, {c});",
    "{r} = smp_load_acquire({x});",
    "smp_mb();",
    "synchronize_srcu(s);",
    "synchronize_rcu();",
]
READER = [
    "WRITE_ONCE(*{x}, {c});",
    "{r} = READ_ONCE(*{x});",
]


@st.composite
def srcu_programs(draw):
    """2 or 3 threads: SRCU readers (one section around one or two marked
    accesses, maybe an access outside it) and others (accesses, fences,
    synchronize_srcu()/synchronize_rcu()); locations x, y."""
    nthreads = draw(st.integers(2, 3))
    names = ["x", "y"]
    lines = ["C generated-srcu", "{}"]
    shown = []
    for tid in range(nthreads):
        body = []
        reader = draw(st.integers(0, 2)) > 0
        ops = READER if reader else BODY
        k = draw(st.integers(1, 2 if reader else 3))
        for j in range(k):
            which = draw(st.integers(0, len(ops) - 1))
            reg = f"r{j}"
            if "{r}" in ops[which]:
                shown.append(f"{tid}:{reg}")
            body.append(ops[which].format(x=names[draw(st.integers(0, 1))],
                                          c=draw(st.integers(1, 2)), r=reg))
        if reader:
            body = ["r9 = srcu_read_lock(s);"] + body + ["srcu_read_unlock(s, r9);"]
            if draw(st.booleans()):
                body.append(f"r5 = READ_ONCE(*{names[draw(st.integers(0, 1))]});")
                shown.append(f"{tid}:r5")
        decl = "\tint r0; int r1; int r2; int r5; int r9;"
        lines.append(f"P{tid}(int *x, int *y, struct srcu_struct *s)\n{{\n{decl}\n"
                     + "\n".join("\t" + b for b in body) + "\n}")
    shown += names
    lines.append("locations [" + "; ".join(shown) + "]")
    cond = " /\\ ".join(f"{r}=1" for r in shown[:3])
    lines.append(f"exists ({cond})")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(srcu_programs())
def test_counting_the_struct_orders_changes_nothing(source):
    assert text_of(source, "lkmm", True) == text_of(source, "lkmm", False), source


@pytest.mark.parametrize("change", [
    # a fence in a reader: strong-fence edges from the struct's accesses
    ("\tint r0 = READ_ONCE(*x1);\n", "\tint r0 = READ_ONCE(*x1);\n\tsmp_mb();\n"),
    # a plain access: plain-coherence and data races use rb
    ("WRITE_ONCE(*x2, 1);", "*x2 = 1;"),
    # the index passed on to another location
    ("\tsrcu_read_unlock(s, r2);\n}\n\nP2", "\tsrcu_read_unlock(s, r2);\n\tWRITE_ONCE(*x1, r2);\n}\n\nP2"),
])
def test_readers_outside_the_argument_keep_every_order(change):
    """Each condition of srcu.py's argument, broken once in SRCU-ring-4
    (P1 and P3 are readers): every order is enumerated, and the result is
    the full enumeration's."""
    old, new = change
    base = srcu_ring(4, 2)
    assert old in base
    text = base.replace(old, new, 1)
    assert collapse(skeleton_of(text), MODELS["lkmm"], [], []) == 1
    assert text_of(text, fast=True) == text_of(text, fast=False)


@st.composite
def srcu_shapes(draw):
    """Rings of 4 or 5 processes (rings.ring), each a synchronize_srcu(s)
    or an SRCU reader, edges rf/fr/co at random; the condition the
    diy cycle or one on a location's final value, maybe with a filter
    (so that positive executions and the filter are weighed too)."""
    from .rings import ring
    n = draw(st.integers(4, 5))
    seps = draw(st.lists(st.sampled_from(["sgp", "srscs"]), min_size=n, max_size=n))
    assume("sgp" in seps and 2 <= seps.count("srscs") <= 3)
    edges = draw(st.lists(st.sampled_from(["rf", "fr", "co"]), min_size=n, max_size=n))
    text = ring(edges, seps, name="generated-srcu-ring")
    cond = draw(st.sampled_from([None, "exists (x1=1)", "exists (x0=1 \\/ x2=1)"]))
    if cond is not None:
        text = text[:text.rindex("exists (")] + cond + "\n"
    if draw(st.booleans()):
        text = text[:text.rindex("exists (")] + "filter (x3=1)\n" + text[text.rindex("exists ("):]
    return text


@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(srcu_shapes())
def test_counted_orders_agree_with_the_full_enumeration_on_generated_rings(source):
    assert text_of(source, "lkmm", True) == text_of(source, "lkmm", False), source
