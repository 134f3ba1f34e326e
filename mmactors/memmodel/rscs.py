"""Read-side critical sections as linux-kernel.bell matches them: RCU's
rcu_read_lock()/rcu_read_unlock() pairs per thread, and SRCU's when they do
not depend on reads-from.  Functions of the test's skeleton only, shared by
the LKMM (models/lkmm.py) and the executions' fast SC test (executions.py).
"""
from __future__ import annotations

from .relalg import Rel
from .skeleton import Skeleton


def rcu_rscs(s: Skeleton):
    """linux-kernel.bell: match nested rcu_read_lock()/unlock() per thread."""
    pairs = []
    flags = set()
    lock = s.fence_tags.get("rcu-lock", 0)
    unlock = s.fence_tags.get("rcu-unlock", 0)
    if not (lock | unlock):
        return Rel.empty(s.n), flags
    for ids in s.thread_events:
        unmatched = [i for i in ids if (lock | unlock) >> i & 1]
        # Fixpoint of the bell's definition: an unmatched lock immediately
        # followed (among unmatched events) by an unmatched unlock matches it.
        changed = True
        while changed:
            changed = False
            keep = []
            k = 0
            while k < len(unmatched):
                a = unmatched[k]
                if k + 1 < len(unmatched) and lock >> a & 1 and unlock >> unmatched[k + 1] & 1:
                    pairs.append((a, unmatched[k + 1]))
                    k += 2
                    changed = True
                else:
                    keep.append(a)
                    k += 1
            unmatched = keep
        for i in unmatched:
            flags.add("unmatched-rcu-lock" if lock >> i & 1 else "unmatched-rcu-unlock")
    return Rel.from_pairs(s.n, pairs), flags


def static_srcu_rscs(s: Skeleton):
    """srcu-rscs when it does not depend on reads-from: no srcu_read_lock()
    value flows (data) into a store other than an srcu_read_unlock(), so
    carry-srcu-data is the identity and srcu-rscs = ([Srcu-lock] ; data ;
    [Srcu-unlock]) & loc; None otherwise (a token passed through memory,
    as srcu_down_read()/srcu_up_read() do).  Cached per skeleton."""
    if "srcu_rscs" in s.cache:
        return s.cache["srcu_rscs"]
    result = None
    if all(not (s.data_b.r[lock] & s.Wb & ~s.Srcu_unlock) for lock in _bits(s.Srcu_lock)):
        locs = s.sloc
        pairs = [(lock, u) for lock in _bits(s.Srcu_lock)
                 for u in _bits(s.data_b.r[lock] & s.Srcu_unlock)
                 if locs[lock] is not None and locs[lock] == locs[u]]
        if all(locs[i] is not None for i in _bits(s.Srcu_lock | s.Srcu_unlock)):
            result = Rel.from_pairs(s.n, pairs)
    s.cache["srcu_rscs"] = result
    return result


def _bits(x: int):
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low
