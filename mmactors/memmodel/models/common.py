"""Helpers shared by the hardware-style models (sc, tso)."""

from __future__ import annotations

import itertools

from ..executions import Skeleton
from ..relalg import Rel
from .lkmm import _rcu_rscs

MAX_RCU_PAIRS = 12


def memory_events(s: Skeleton) -> int:
    """lock.cat's final M: memory accesses plus every lock event."""
    k = s.kinds
    return s.Rb | s.Wb | k["LKR"] | k["LKW"] | k["UL"] | k["LF"] | k["RL"] | k["RU"]


def reads(s: Skeleton) -> int:
    k = s.kinds
    return s.Rb | k["LKR"] | k["LF"] | k["RL"] | k["RU"]


def writes(s: Skeleton) -> int:
    k = s.kinds
    return s.Wb | k["LKW"] | k["UL"]


def rcu_orientations(s: Skeleton, M: int):
    """The RCU guarantee for models without LKMM's rcu axiom.

    A read-side critical section may not span a grace period: for every
    (critical section, synchronize_rcu()) pair on different threads, either
    all of the section's accesses come before the grace period, or the grace
    period comes before all of them.  Yields one extra-edge relation per
    choice of orientations; an execution is allowed if one choice is acyclic.
    """
    gps = s.fence_tags.get("sync-rcu", 0)
    rscs, _ = _rcu_rscs(s)
    pairs = []
    for lock, unlock in rscs.pairs():
        inside = s.po.r[lock] & ~s.po.r[unlock] & ~(1 << unlock) & M
        if not inside:
            continue
        tid = s.events[lock].tid
        for g in range(s.n):
            if gps >> g & 1 and s.events[g].tid != tid:
                pairs.append((inside, g))
    if len(pairs) > MAX_RCU_PAIRS:
        raise ValueError("too many RCU critical section / grace period pairs")
    for choice in itertools.product((False, True), repeat=len(pairs)):
        rows = [0] * s.n
        for (inside, g), before in zip(pairs, choice):
            if before:
                for e in range(s.n):
                    if inside >> e & 1:
                        rows[e] |= 1 << g
            else:
                rows[g] |= inside
        yield Rel(rows)


def acyclic_with_rcu(ghb: Rel, s: Skeleton, M: int, gps: int) -> bool:
    """acyclic(ghb), where a program with synchronize_rcu() may order each
    grace period against the read-side critical sections either way: the
    execution is allowed if some orientation keeps ghb acyclic."""
    if not gps:
        return ghb.acyclic()
    return any((ghb | extra).acyclic() for extra in rcu_orientations(s, M))
