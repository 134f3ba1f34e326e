"""Helpers shared by the hardware-style models (sc, tso).

Both models are "acyclic(ghb)" plus RCU's grace-period guarantee, which an
axiomatic SC or TSO model does not have by itself: a read-side critical
section may not span a grace period.  For every (critical section,
synchronize_rcu()) pair on different threads -- and every SRCU section and
synchronize_srcu() on the same srcu_struct -- either all of the section's
accesses come before the grace period or the grace period comes before all
of them.  An execution is allowed if some choice of these orientations
keeps ghb acyclic; :func:`acyclic_with_rcu` finds one by propagation
(a pair whose section already reaches the grace period, or is reached by
it, has only one possible orientation) and backtracking over the rest.
"""

from __future__ import annotations

from ..executions import Candidate
from ..relalg import Rel
from ..skeleton import Skeleton
from .lkmm import rcu_rscs


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


def grace_periods(s: Skeleton) -> int:
    return s.fence_tags.get("sync-rcu", 0) | s.Sync_srcu


def _rcu_pairs(s: Skeleton, M: int) -> list:
    pairs = s.cache.get("rcu_pairs")
    if pairs is None:
        gps = s.fence_tags.get("sync-rcu", 0)
        rscs, _ = rcu_rscs(s)
        pairs = []
        for lock, unlock in rscs.pairs():
            inside = s.po.r[lock] & ~s.po.r[unlock] & ~(1 << unlock) & M
            if not inside:
                continue
            tid = s.events[lock].tid
            for g in range(s.n):
                if gps >> g & 1 and s.events[g].tid != tid:
                    pairs.append((inside, g))
        s.cache["rcu_pairs"] = pairs
    return pairs


def _srcu_pairs(c: Candidate, M: int) -> list:
    """SRCU sections (srcu-rscs of linux-kernel.bell) within one thread,
    against grace periods of other threads on the same srcu_struct."""
    s = c.sol.skel
    if not (s.Sync_srcu and s.Srcu_lock):
        return []
    from .lkmm import _srcu_rscs, static
    rscs, _ = _srcu_rscs(c, static(s))
    pairs = []
    for lock, unlock in rscs.pairs():
        tid = s.events[lock].tid
        if s.events[unlock].tid != tid:
            continue
        inside = ((s.po.r[lock] & ~s.po.r[unlock]) | (1 << lock)) & M
        for g in range(s.n):
            if (s.Sync_srcu >> g & 1 and s.events[g].tid != tid
                    and c.sol.loc[g] == c.sol.loc[lock]):
                pairs.append((inside, g))
    return pairs


def acyclic_with_rcu(ghb: Rel, c: Candidate, M: int) -> bool:
    """acyclic(ghb), where each grace period may be ordered against each
    read-side critical section either way (see the module docstring)."""
    s = c.sol.skel
    if not grace_periods(s):
        return ghb.acyclic()
    pairs = _rcu_pairs(s, M) + _srcu_pairs(c, M)
    if not pairs:
        return ghb.acyclic()
    return _orient(list(ghb.r), pairs)


def _orient(rows: list, pairs: list) -> bool:
    closed = Rel(rows).plus().r
    if any(closed[i] >> i & 1 for i in range(len(closed))):
        return False
    pending = list(pairs)
    while True:
        changed = False
        rest = []
        for inside, g in pending:
            before = _reaches_any(closed, inside, 1 << g)     # section -> gp already
            after = closed[g] & inside                         # gp -> section already
            if before and after:
                return False
            if before or after:
                _add(rows, inside, g, before)
                changed = True
            else:
                rest.append((inside, g))
        pending = rest
        if changed:
            closed = Rel(rows).plus().r
            if any(closed[i] >> i & 1 for i in range(len(closed))):
                return False
        if not changed or not pending:
            break
    if not pending:
        return True
    inside, g = pending[0]
    for before in (False, True):
        trial = list(rows)
        _add(trial, inside, g, before)
        if _orient(trial, pending[1:]):
            return True
    return False


def _reaches_any(closed: list, sources: int, targets: int) -> bool:
    x = sources
    while x:
        low = x & -x
        if closed[low.bit_length() - 1] & targets:
            return True
        x ^= low
    return False


def _add(rows: list, inside: int, g: int, before: bool) -> None:
    if before:
        x = inside
        while x:
            low = x & -x
            rows[low.bit_length() - 1] |= 1 << g
            x ^= low
    else:
        rows[g] |= inside
