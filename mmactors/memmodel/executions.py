"""Candidate executions, as herd7 enumerates them before applying a model.

1. every thread is run symbolically into control paths (``symexec``);
2. for each choice of one path per thread (a :class:`~.skeleton.Skeleton`),
   every read picks the write it reads from and the values are solved
   (``solve``), branches that cannot complete are cut as soon as possible;
3. lock.cat's ``lock-nest``, ``nested-is-locked`` and ``unmatched-locks``
   reject a whole solution (such executions never complete) (``coherence``);
4. per location, coherence orders and lock-event reads-from are enumerated
   (``coherence``, memoised), and their product gives the candidates.

A candidate carries its per-location choices; the ``rf``/``co``/``fr``
relations are built only when a model asks for them.  :func:`sc_acyclic`
is the fast test every model starts with: an execution whose program order
and communication relations are acyclic, RCU read-side critical sections
taken as indivisible, is sequentially consistent and respects RCU's
grace-period guarantee, so every model here allows it (all of LKMM's hb, pb,
rb and plain-coherence relations lie inside that graph).

Simplification: herd7's ``FW`` (final writes) is approximated by "a lock
location appears in the final condition" for the ``lock-final`` flag.
"""

from __future__ import annotations

import itertools
from typing import Iterator, Optional

from .coherence import LocOption, LockInfo, lock_info, location_options
from .relalg import Rel
from .skeleton import LOCK_KINDS, GEvent, Skeleton
from .solve import Search, Solution, co_graph

__all__ = ["GEvent", "Skeleton", "Solution", "LockInfo", "LocOption", "Candidate",
           "candidates", "solutions", "co_graph", "sc_acyclic", "LOCK_KINDS"]


class Candidate:
    """A solution plus one coherence/lock-rf option per location."""

    __slots__ = ("sol", "options", "_rels")

    def __init__(self, sol: Solution, options: dict) -> None:
        self.sol = sol
        self.options = options            # location -> LocOption
        self._rels = None

    def _build(self) -> tuple:
        n = self.sol.skel.n
        rf = [0] * n
        co = [0] * n
        fr = [0] * n
        for opt in self.options.values():
            full = opt.co
            after = 0
            for g in reversed(full):
                co[g] |= after
                after |= 1 << g
            pos = {g: k for k, g in enumerate(full)}
            for w, r in opt.rf:
                rf[w] |= 1 << r
                if w in pos:
                    for later in full[pos[w] + 1:]:
                        fr[r] |= 1 << later
        self._rels = (Rel(rf), Rel(co), Rel(fr))
        return self._rels

    @property
    def rf(self) -> Rel:
        return (self._rels or self._build())[0]

    @property
    def co(self) -> Rel:
        return (self._rels or self._build())[1]

    @property
    def fr(self) -> Rel:
        return (self._rels or self._build())[2]

    def last_write(self, loc: str) -> Optional[int]:
        opt = self.options.get(loc)
        return opt.co[-1] if opt is not None else None


def solutions(skel: Skeleton, locations: Optional[set] = None,
              invalid: Optional[list] = None) -> Iterator[Solution]:
    """Solutions of ``skel`` with their lock information (deadlocks dropped)."""
    if locations is None:
        locations = {e.init_loc for e in skel.events[:skel.n_init]}
    search = Search(skel, locations, invalid if invalid is not None else [])
    static = None
    for sol in search.solutions():
        if skel.dynamic:
            info = lock_info(skel, sol.loc)
            sol.loc_rel = _loc_relation(skel, sol.loc)
        else:
            if static is None:
                static = (lock_info(skel, sol.loc), _loc_relation(skel, sol.loc))
            info, sol.loc_rel = static
        if info is None:
            continue          # lock-nest, nested-is-locked or unmatched-locks: a deadlock
        sol.lock = info
        yield sol


def candidates(sol: Solution) -> Iterator[Candidate]:
    options = location_options(sol)
    if options is None:
        return
    locs = list(options)
    for combo in itertools.product(*(options[l] for l in locs)):
        yield Candidate(sol, dict(zip(locs, combo)))


def _loc_relation(skel: Skeleton, locs: list) -> Rel:
    by_loc: dict = {}
    for i, l in enumerate(locs):
        if l is not None:
            by_loc[l] = by_loc.get(l, 0) | (1 << i)
    return Rel([by_loc[l] if l is not None else 0 for l in locs])


# ---------------------------------------------------------------- fast path


class _FastGraph:
    """Program order of one skeleton as successor bitsets over node
    representatives (an RCU read-side critical section is one node when the
    test has grace periods), or None when the fast test does not apply."""

    def __init__(self, skel: Skeleton) -> None:
        from .models.lkmm import rcu_rscs
        n = skel.n
        rep = list(range(n))
        self.ok = not (skel.Srcu_lock | skel.Srcu_unlock | skel.Sync_srcu)
        gps = skel.fence_tags.get("sync-rcu", 0)
        if gps and self.ok:
            rscs, _ = rcu_rscs(skel)
            for lock, unlock in rscs.pairs():
                ids = skel.thread_events[skel.events[lock].tid]
                inside = ids[ids.index(lock):ids.index(unlock) + 1]
                if any(gps >> i & 1 for i in inside):
                    self.ok = False       # a grace period inside its own reader
                    break
                head = rep[lock]
                for i in inside:
                    if rep[i] == i:
                        rep[i] = head
        self.rep = rep
        succ = [0] * n
        for ids in skel.thread_events:
            for a, b in zip(ids, ids[1:]):
                ra, rb = rep[a], rep[b]
                if ra != rb:
                    succ[ra] |= 1 << rb
        self.succ = succ
        self.nodes = [i for i in range(n) if rep[i] == i]


def sc_acyclic(cand: Candidate) -> bool:
    """Whether po | rf | co | fr is acyclic with RCU critical sections
    contracted; False also when the test is not eligible (SRCU, a grace
    period inside its own critical section)."""
    skel = cand.sol.skel
    fg = skel.cache.get("fast")
    if fg is None:
        fg = skel.cache["fast"] = _FastGraph(skel)
    if not fg.ok:
        return False
    rep = fg.rep
    succ = list(fg.succ)
    for opt in cand.options.values():
        for a, b in opt.edges:
            ra, rb = rep[a], rep[b]
            if ra != rb:
                succ[ra] |= 1 << rb
            elif a != b:
                return False        # an edge back into an indivisible section
    indeg = [0] * len(succ)
    for x in succ:
        while x:
            low = x & -x
            indeg[low.bit_length() - 1] += 1
            x ^= low
    ready = [k for k in fg.nodes if not indeg[k]]
    seen = 0
    while ready:
        x = succ[ready.pop()]
        seen += 1
        while x:
            low = x & -x
            b = low.bit_length() - 1
            indeg[b] -= 1
            if not indeg[b]:
                ready.append(b)
            x ^= low
    return seen == len(fg.nodes)
