"""The relation algebra's fast operators against their definitions.

``Rel.__matmul__`` skips rows of the right operand that are empty or hold
only their own event, ``Rel.plus`` closes an acyclic relation by one pass
in reverse program order and falls back to Warshall on a cycle, and
``Rel.restrict`` caches its row masks (issue 17.6: these three were most of
the lock hand-off's model time).  Each must give exactly the relation its
cat definition gives, on any relation: sparse, dense, cyclic, with
self-loops, with identity rows (``r?``, ``r*``).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mmactors.memmodel.relalg import Rel

# Both sides of relalg.SMALL (16 events): the plain loops and the others.
SIZES = st.integers(min_value=0, max_value=40)


@st.composite
def rels(draw, n=None):
    if n is None:
        n = draw(SIZES)
    full = (1 << n) - 1
    # density: AND of k random rows keeps about 1 bit in 2**k
    k = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    rows = []
    for _ in range(n):
        row = full
        for _ in range(k):
            row &= draw(st.integers(0, full))
        rows.append(row if k else 0)
    if n and draw(st.booleans()):
        rows = Rel(rows).opt().r        # identity rows, as r? and r* have
    if n and draw(st.booleans()):
        # a chain in program order: what plus() closes in one pass
        for i in range(n - 1):
            rows[i] |= 1 << (i + 1)
    return Rel(rows)


def pairs_of(r: Rel) -> set:
    return set(r.pairs())


def compose(a: set, b: set) -> set:
    succ: dict = {}
    for y, z in b:
        succ.setdefault(y, set()).add(z)
    return {(x, z) for x, y in a for z in succ.get(y, ())}


def closure(a: set) -> set:
    """Pairs (x, z) with a path from x to z: a search from every node."""
    succ: dict = {}
    for x, y in a:
        succ.setdefault(x, set()).add(y)
    out = set()
    for x in succ:
        seen: set = set()
        todo = list(succ[x])
        while todo:
            y = todo.pop()
            if y not in seen:
                seen.add(y)
                todo.extend(succ.get(y, ()))
        out |= {(x, y) for y in seen}
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_composition_is_the_relational_product(data):
    a = data.draw(rels())
    b = data.draw(rels(n=len(a)))
    assert pairs_of(a @ b) == compose(pairs_of(a), pairs_of(b))


@settings(max_examples=300, deadline=None)
@given(rels())
def test_closure_is_the_least_transitive_superset(r):
    want = closure(pairs_of(r))
    assert pairs_of(r.plus()) == want
    assert r.plus() == r.plus_warshall()
    n = len(r)
    assert pairs_of(r.star()) == want | {(i, i) for i in range(n)}


def test_closure_of_a_cycle_and_a_chain_into_it():
    # 4 -> 3 -> 0 -> 1 -> 2 -> 0: the passes close 3 and 4 only after
    # Warshall has closed the cycle, whatever order they meet them in.
    r = Rel.from_pairs(5, [(0, 1), (1, 2), (2, 0), (3, 0), (4, 3)])
    plus = r.plus()
    assert all(plus.r[i] == 0b111 for i in range(3))
    assert plus.r[3] == 0b111 and plus.r[4] == 0b1111
    assert not plus.irreflexive() and not r.acyclic()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_restriction_keeps_the_rows_of_the_domain_and_columns_of_the_range(data):
    r = data.draw(rels())
    n = len(r)
    dom = data.draw(st.integers(0, (1 << n) - 1)) if n else 0
    rng = data.draw(st.integers(0, (1 << n) - 1)) if n else 0
    want = {(x, y) for x, y in pairs_of(r) if dom >> x & 1 and rng >> y & 1}
    assert pairs_of(r.restrict(dom, rng)) == want
    # twice: the second call takes the cached masks
    assert pairs_of(r.restrict(dom, rng)) == want


@settings(max_examples=300, deadline=None)
@given(rels())
def test_acyclic_iff_the_closure_is_irreflexive(r):
    assert r.acyclic() == r.plus_warshall().irreflexive()
