"""Reads-from for memory reads, and the values that follow (herd7's solver).

For one :class:`~.skeleton.Skeleton`, every memory read picks the write it
reads from (a depth-first search with an explicit stack, so its depth is
the number of reads, not Python's recursion limit).  After each choice the
values that became known are propagated, and the branch is cut as soon as

* a path constraint (an ``if`` condition, a cmpxchg outcome) is false,
* the choices so far break coherence at a location (:func:`co_graph`, the
  cobase of cos-opt.cat; checked when the reading thread makes another
  access to the location or the read is part of an RMW: nothing else can
  break it),
* a read and its source turn out to be at different addresses, or
* an address turns out not to be a pointer, or a value cannot be computed:
  herd7 discards such executions; the reason is kept in ``invalid`` so
  that a test whose every execution is discarded can be reported.

Reads whose values form a cycle with no constant source (out of thin air)
are left without a value and their choice is dropped at the leaf, as herd7
drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from .errors import EvalError
from .relalg import Rel
from .skeleton import Skeleton
from .terms import Addr, Unresolved, evaluate


@dataclass
class Solution:
    """A skeleton with reads-from chosen for memory reads and all values known."""

    skel: Skeleton
    env: dict                 # read Var key -> value
    rf_mem: dict              # read idx -> write idx
    loc: list                 # event idx -> location name (None for fences)
    loc_rel: Rel = None       # same-location relation
    lock: object = None       # coherence.LockInfo
    options: Optional[dict] = None   # location -> its LocOptions, if known already
    sc: object = None         # executions._Tracker's SC state at this solution
    tracker: object = None    # the executions._Tracker that saw it (for pruning)
    _values: dict = None
    memo: dict = field(default_factory=dict)   # per-solution facts models cache

    def value(self, idx: int):
        """The value event ``idx`` reads or writes."""
        if self._values is None:
            self._values = {}
        v = self._values.get(idx)
        if v is None:
            e = self.skel.events[idx]
            if e.ev is None:
                v = e.init_value
            elif e.kind == "R":
                v = self.env[e.key]
            else:
                v = evaluate(e.ev.val, self.env)
            self._values[idx] = v
        return v


# ---------------------------------------------------------------- cobase


def co_graph(events, ws: list, pairs: list, rmw_partner: dict, feasible_only: bool = False):
    """Coherence constraints among the writes ``ws`` of one location.

    Like cos-opt.cat's ``cobase`` (co0 | obsco | rmwco): with ``ws[0]`` the
    initial write, returns (rows, forced, topo) where ``rows[k]`` is the
    bitset of writes that every coherent co puts after ``ws[k]``
    (transitively closed), ``forced[k]`` the write that must immediately
    follow ``ws[k]`` (the W of an RMW reading from it) and ``topo`` one
    topological order of the constraints (local indices), or None if no
    coherent co exists at all.  ``pairs`` are the (read, source write)
    choices known so far.  With ``feasible_only``, returns True instead of
    the constraints when they are satisfiable (no closure is computed
    unless an RMW needs it).
    """
    local = {w: k for k, w in enumerate(ws)}
    m = len(ws)
    # co0 (the initial write first) stays implicit: no edge may enter it.
    succ = [0] * m
    last_of: dict = {}
    by_tid: dict = {}
    for k in range(1, m):                              # ww: po-loc between writes
        tid = events[ws[k]].tid
        prev = last_of.get(tid)
        if prev is not None:
            succ[prev] |= 1 << k
        last_of[tid] = k
        by_tid.setdefault(tid, []).append(k)
    forced = {}
    known = []
    for r, w in pairs:
        kw = local.get(w)
        if kw is None:
            continue
        er = events[r]
        known.append((r, kw))
        for b in by_tid.get(er.tid, ()):
            if b == kw:
                continue
            if ws[b] > r:
                succ[kw] |= 1 << b                     # rw: R po-loc W2
            else:
                succ[b] |= 1 << kw                     # wr: W1 po-loc R
        partner = rmw_partner.get(r)
        if partner is not None and partner in local:
            kp = local[partner]
            if kw in forced:                           # two RMWs read one write
                return None
            forced[kw] = kp
            succ[kw] |= 1 << kp
    for i, (r1, k1) in enumerate(known):               # rr: R1 po-loc R2
        t1 = events[r1].tid
        for r2, k2 in known[i + 1:]:
            if k1 != k2 and events[r2].tid == t1:
                if r1 < r2:
                    succ[k1] |= 1 << k2
                else:
                    succ[k2] |= 1 << k1
    if any(x & 1 for x in succ):
        return None                                    # a write co-before the initial one
    topo = _topological(succ)
    if topo is None:
        return None
    if feasible_only and not forced:
        return True
    closed = _close(succ, topo)
    closed[0] = ((1 << m) - 1) & ~1
    topo.remove(0)
    topo.insert(0, 0)
    for k, kp in forced.items():
        # Nothing may come between an RMW's source and its write.
        between = closed[k] & ~(1 << kp)
        while between:
            low = between & -between
            if closed[low.bit_length() - 1] >> kp & 1:
                return None
            between ^= low
    return True if feasible_only else (closed, forced, topo)


def transitive_closure(succ: list) -> Optional[list]:
    """Closure rows of a graph given as successor bitsets; None on a cycle.
    Kahn's order, then rows OR-ed in reverse order: linear in nodes plus
    edges, unlike Warshall."""
    topo = _topological(succ)
    return None if topo is None else _close(succ, topo)


def _close(succ: list, topo: list) -> list:
    closed = list(succ)
    for k in reversed(topo):
        x = succ[k]
        acc = x
        while x:
            low = x & -x
            acc |= closed[low.bit_length() - 1]
            x ^= low
        closed[k] = acc
    return closed


def _topological(succ: list) -> Optional[list]:
    """Kahn's order of a graph given as successor bitsets; None on a cycle."""
    m = len(succ)
    indeg = [0] * m
    for x in succ:
        while x:
            low = x & -x
            indeg[low.bit_length() - 1] += 1
            x ^= low
    order = [k for k in range(m) if not indeg[k]]
    i = 0
    while i < len(order):
        x = succ[order[i]]
        i += 1
        while x:
            low = x & -x
            b = low.bit_length() - 1
            indeg[b] -= 1
            if not indeg[b]:
                order.append(b)
            x ^= low
    return order if len(order) == m else None


# ---------------------------------------------------------------- search


class Search:
    """All :class:`Solution` s of one skeleton (see the module docstring)."""

    def __init__(self, skel: Skeleton, locations: set, invalid: list, tracker=None) -> None:
        self.skel = skel
        self.locations = locations
        self.invalid = invalid        # (line, message) of discarded executions
        # An observer of the search (executions._Tracker): told of every
        # choice the search keeps (it may still veto it) and of every undo.
        self.tracker = tracker
        self.tick = None              # called at every choice (a budget check)
        events = skel.events
        self.reads = [e for e in events if e.kind == "R"]
        writes = [e for e in events if e.kind == "W"]
        sloc = skel.sloc
        self.cands = []
        for r in self.reads:
            lst = []
            for w in writes:
                if w.tid == r.tid and w.idx > r.idx:
                    continue  # reading a po-later write breaks SC-per-location
                a, b = sloc[r.idx], sloc[w.idx]
                if a is not None and b is not None and a != b:
                    continue
                lst.append(w.idx)
            if r.idx in skel.srcu_init_only:
                # srcu.collapse: the option where every srcu_read_lock()
                # reads the initial value stands for all of them.
                lst = [w for w in lst if events[w].ev is None]
            self.cands.append(lst)
        # Per constant location: its writes (initial write first) and reads,
        # and whether a rf choice can be incoherent there at all.
        self.writes_at: dict = {}
        self.reads_at: dict = {}
        per_thread: dict = {}
        for e in events:
            l = sloc[e.idx]
            if l is None or e.kind not in ("R", "W"):
                continue
            (self.writes_at if e.kind == "W" else self.reads_at).setdefault(l, []).append(e.idx)
            if e.tid >= 0:
                per_thread[(l, e.tid)] = per_thread.get((l, e.tid), 0) + 1
        # A read's choice can only break coherence through its own thread's
        # other accesses to the location (CoRR, CoWR, CoRW) or an RMW.
        self.cobase_for = {r.idx for r in self.reads if sloc[r.idx] is not None
                           and (per_thread.get((sloc[r.idx], r.tid), 0) > 1
                                or r.idx in skel.rmw_partner)}
        # Constraints and dynamic addresses, indexed by the variables they need.
        self.by_var: dict = {}
        for c in skel.constraints:
            for v in c[0].vars:
                self.by_var.setdefault(v, []).append(("c", c))
        for i in skel.dynamic:
            for v in events[i].ev.loc.vars:
                self.by_var.setdefault(v, []).append(("l", i))
        self.dyn_reads = {r.idx for r in self.reads if sloc[r.idx] is None}
        # Reads with a constant location and few candidates first: they prune early.
        self.order = sorted(range(len(self.reads)),
                            key=lambda i: (sloc[self.reads[i].idx] is None, len(self.cands[i])))
        if tracker is not None:
            tracker.attach(self)

    # ------------------------------------------------------------ helpers
    def _loc(self, i: int, env: dict):
        """Location of event ``i``: a name, None if unknown yet, or raises
        EvalError (not a pointer)."""
        l = self.skel.sloc[i]
        if l is not None:
            return l
        e = self.skel.events[i]
        try:
            a = evaluate(e.ev.loc, env)
        except Unresolved:
            return None
        if not isinstance(a, Addr):
            raise EvalError(e.line, f"access to non-pointer value {a}")
        return a.name

    def _propagate(self, env: dict, chosen: dict, pending: list) -> Optional[list]:
        """Make known the values the choices determine: the reads resolved
        (taken off ``pending``), or None when a value cannot be computed
        (the execution is discarded; nothing is changed then)."""
        events = self.skel.events
        resolved: list = []
        progress = True
        while progress and pending:
            progress = False
            for ridx in list(pending):
                w = events[chosen[ridx]]
                try:
                    v = w.init_value if w.ev is None else evaluate(w.ev.val, env)
                except Unresolved:
                    continue
                except EvalError as e:
                    self.invalid.append((e.line, e.message))
                    self._undo(resolved, env, pending, None)
                    return None
                env[events[ridx].key] = v
                resolved.append(ridx)
                pending.remove(ridx)
                progress = True
        return resolved

    def _undo(self, resolved: list, env: dict, pending: list, ridx) -> None:
        """Forget the values in ``resolved``; their reads (but ``ridx``, whose
        choice is being undone) wait for a value again."""
        events = self.skel.events
        for r in resolved:
            del env[events[r].key]
            if r != ridx:
                pending.append(r)
        if ridx is not None and ridx in pending:
            pending.remove(ridx)

    def _consistent(self, env: dict, chosen: dict, resolved: list, ridx: int) -> bool:
        skel = self.skel
        events = skel.events
        added = [events[r].key for r in resolved]
        l = skel.sloc[ridx]
        if ridx in self.cobase_for:
            pairs = [(r, chosen[r]) for r in self.reads_at[l] if r in chosen]
            if co_graph(events, self.writes_at[l], pairs, skel.rmw_partner,
                        feasible_only=True) is None:
                return False
        try:
            for key in added:
                for what, item in self.by_var.get(key, ()):
                    if what == "c":
                        c, expected, _line = item
                        if not c.vars <= env.keys():
                            continue
                        v = evaluate(c, env)
                        truth = True if isinstance(v, Addr) else v != 0
                        if truth != expected:
                            return False
                    else:
                        self._loc(item, env)          # raises if not a pointer
            for r in self.dyn_reads & chosen.keys() if self.dyn_reads else ():
                a, b = self._loc(r, env), self._loc(chosen[r], env)
                if a is not None and b is not None and a != b:
                    return False
            w = chosen[ridx]
            if skel.sloc[w] is None and l is not None:
                b = self._loc(w, env)
                if b is not None and b != l:
                    return False
        except EvalError as e:
            self.invalid.append((e.line, e.message))
            return False
        return True

    # ------------------------------------------------------------ the DFS
    def solutions(self) -> Iterator[Solution]:
        reads, cands, order = self.reads, self.cands, self.order
        depth = len(order)
        env: dict = {}
        chosen: dict = {}
        pending: list = []            # chosen reads whose value is not known yet
        pos = [0] * depth
        trail: list = [None] * depth  # per level: the reads its choice resolved
        tracker = self.tracker
        if tracker is not None and not tracker.start():
            return
        k = 0
        while k >= 0:
            if k == depth:
                sol = self._leaf(env, chosen, pending)
                if sol is not None:
                    if tracker is not None:
                        tracker.leaf(sol)
                    yield sol
                k -= 1
                continue
            ridx = reads[order[k]].idx
            if trail[k] is not None:              # undo this level's last choice
                self._undo(trail[k], env, pending, ridx)
                trail[k] = None
                del chosen[ridx]
                if tracker is not None:
                    tracker.undo(k)
            lst = cands[order[k]]
            tick = self.tick
            while pos[k] < len(lst):
                if tick is not None:
                    tick()
                chosen[ridx] = lst[pos[k]]
                pos[k] += 1
                pending.append(ridx)
                resolved = self._propagate(env, chosen, pending)
                if resolved is not None:
                    if (self._consistent(env, chosen, resolved, ridx)
                            and (tracker is None or tracker.chose(k, chosen))):
                        trail[k] = resolved
                        break
                    self._undo(resolved, env, pending, ridx)
                elif ridx in pending:
                    pending.remove(ridx)
                del chosen[ridx]
            else:
                pos[k] = 0
                k -= 1
                continue
            k += 1
            if k < depth:
                pos[k] = 0
                trail[k] = None

    def _leaf(self, env: dict, chosen: dict, pending: list) -> Optional[Solution]:
        if pending:
            return None       # a cycle of values with no source: out of thin air
        skel = self.skel
        locs = list(skel.sloc)
        try:
            for i in skel.dynamic:
                locs[i] = self._loc(i, env)
        except EvalError as e:
            self.invalid.append((e.line, e.message))
            return None
        for r, w in chosen.items():
            if locs[r] != locs[w]:
                return None
        for i in skel.dynamic:
            if locs[i] not in self.locations:
                from .errors import LitmusError
                raise LitmusError(skel.test_path, skel.events[i].line,
                                  f"access to unknown location '{locs[i]}'")
        return Solution(skel, dict(env), dict(chosen), locs)
