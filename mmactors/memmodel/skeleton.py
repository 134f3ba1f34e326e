"""The static part of candidate executions: one control path per thread.

A :class:`Skeleton` holds the events of one choice of path per thread plus
an initial write per shared location, and everything about them that does
not depend on reads-from or coherence: program order, dependencies, the
event classes of linux-kernel.bell and lock.cat (as bitsets), and each
access's location when it is a constant (most are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import itertools
from math import prod

from .errors import EvalError
from .relalg import Rel
from .symexec import Ev
from .terms import Addr, Unresolved, evaluate

LOCK_KINDS = ("LKR", "LKW", "UL", "LF", "RL", "RU")


@dataclass
class GEvent:
    idx: int
    tid: int                  # -1 for initial writes
    kind: str                 # R W F LKR LKW UL LF RL RU (IW have kind W)
    tag: Optional[str]
    atomic: bool
    line: int
    ev: Optional[Ev]          # None for initial writes
    init_loc: Optional[str] = None
    init_value: object = None
    key: Optional[tuple] = None   # reads: the Var key of the value returned


class Skeleton:
    """One path per thread, plus initial writes: everything static about it."""

    def __init__(self, test_path: str, locations: list, init_values: dict, paths: list) -> None:
        self.test_path = test_path
        self.loc_names = frozenset(locations)
        self.paths = paths
        events: list[GEvent] = []
        for name in locations:
            events.append(GEvent(len(events), -1, "W", None, False, 0, None, name,
                                 init_values.get(name, 0)))
        self.n_init = len(events)
        self.var_event: dict = {}
        self.thread_events: list[list[int]] = []
        for tid, p in enumerate(paths):
            base = len(events)
            ids = []
            for k, ev in enumerate(p.events):
                g = GEvent(base + k, tid, ev.kind, ev.tag, ev.atomic, ev.line, ev)
                events.append(g)
                ids.append(g.idx)
                if ev.kind == "R":
                    g.key = (tid, k)
                    self.var_event[g.key] = g.idx
            self.thread_events.append(ids)
        self.events = events
        n = self.n = len(events)
        self.full = (1 << n) - 1

        def mask(pred) -> int:
            m = 0
            for e in events:
                if pred(e):
                    m |= 1 << e.idx
            return m

        self.IW = (1 << self.n_init) - 1
        self.Rb = mask(lambda e: e.kind == "R")
        self.Wb = mask(lambda e: e.kind == "W")
        self.F = mask(lambda e: e.kind == "F")
        self.kinds = {k: mask(lambda e, k=k: e.kind == k) for k in LOCK_KINDS}
        self.Once = mask(lambda e: e.kind in "RW" and e.tag == "once")
        self.Acquire_b = mask(lambda e: e.kind == "R" and e.tag == "acquire")
        self.Release_b = mask(lambda e: e.kind == "W" and e.tag == "release")
        self.Noreturn = mask(lambda e: e.kind == "R" and e.tag == "noreturn")
        self.Srcu_lock = mask(lambda e: e.kind == "R" and e.tag == "srcu-lock")
        self.Srcu_unlock = mask(lambda e: e.kind == "W" and e.tag == "srcu-unlock")
        self.RMW = mask(lambda e: e.atomic)
        self.fence_tags: dict = {}
        for e in events:
            if e.kind == "F":
                self.fence_tags[e.tag] = self.fence_tags.get(e.tag, 0) | (1 << e.idx)
        self.Sync_srcu = self.fence_tags.get("sync-srcu", 0)

        po = [0] * n
        same = [0] * n
        for ids in self.thread_events:
            tmask = 0
            for i in ids:
                tmask |= 1 << i
            after = tmask
            for i in ids:
                after &= ~(1 << i)
                po[i] = after
                same[i] = tmask
        self.po = Rel(po)
        self.int = Rel(same)
        self.ext = Rel([self.full & ~x for x in same])

        # Dependencies from the variables of each symbolic term (see symexec).
        addr, data, ctrl, rmw = [0] * n, [0] * n, [0] * n, [0] * n
        for e in events:
            if e.ev is None:
                continue
            b = 1 << e.idx
            for v in e.ev.addr:
                addr[self.var_event[v]] |= b
            for v in e.ev.data:
                data[self.var_event[v]] |= b
            for v in e.ev.ctrl:
                ctrl[self.var_event[v]] |= b
            if e.ev.rmw_w is not None:
                rmw[e.idx] = 1 << (self.thread_events[e.tid][e.ev.rmw_w])
        self.addr_b = Rel(addr)
        self.data_b = Rel(data)
        self.ctrl_b = Rel(ctrl)
        self.rmw_b = Rel(rmw)
        self.rmw_partner = {r: w for r, w in self.rmw_b.pairs()}
        self.constraints = [(c, exp, line) for p in paths for (c, exp, line) in p.constraints]

        # Constant locations (None where the address depends on a read).
        self.sloc: list = [None] * n
        self.dynamic: list = []       # events whose location is computed from reads
        for e in events:
            if e.ev is None:
                self.sloc[e.idx] = e.init_loc
            elif e.ev.loc is not None:
                t = e.ev.loc
                if t.vars:
                    self.dynamic.append(e.idx)
                else:
                    self.sloc[e.idx] = t.value.name
        if self.dynamic:
            _resolve_invariant_addresses(self)
        self.cache: dict = {}   # per-model static relations, per-location options
        # srcu.collapse: srcu_structs whose rf/co options are counted, not
        # enumerated (their reads read the initial write; one co order).
        self.srcu_locs: frozenset = frozenset()
        self.srcu_init_only: frozenset = frozenset()
        self.srcu_mult = 1


VARIES = object()
MAX_VALUES = 8          # values one location may hold in the analyses below
MAX_COMBOS = 256        # value combinations one term is evaluated at


def invariant(term, domain_of):
    """The one value ``term`` takes whatever its reads return, each read
    returning any value of ``domain_of(key)`` (a list, or None when not
    known); VARIES otherwise.  diy writes its dependencies this way:
    ``1 + (r0 & 128)`` (DpDatadW) and ``*(y + (r0 & 128))`` (DpAddr) are 1
    and y for every value a diy test writes, yet depend on r0 (terms keep
    their variables, so ``data`` and ``addr`` are unchanged)."""
    if not term.vars:
        try:
            return evaluate(term, {})
        except EvalError:
            return VARIES
    keys = sorted(term.vars)
    domains = []
    for key in keys:
        dom = domain_of(key)
        if not dom or len(dom) > MAX_VALUES:
            return VARIES
        domains.append(dom)
    if prod(len(d) for d in domains) > MAX_COMBOS:
        return VARIES
    seen = VARIES
    for combo in itertools.product(*domains):
        try:
            v = evaluate(term, dict(zip(keys, combo)))
        except (EvalError, Unresolved):
            return VARIES
        if seen is VARIES:
            seen = v
        elif v != seen or type(v) is not type(seen):
            return VARIES
    return seen


def _resolve_invariant_addresses(s: Skeleton) -> None:
    """Give a constant location to each access whose address depends on
    reads but is one location whatever they return (diy's address
    dependencies), so that the search and the product treat it as static.

    Every location, written value and address is resolved to a fixed point
    from the initial values and constant writes; the result is kept only
    if everything resolves and re-evaluating each term over the final
    value sets gives back the same result (a fixed point containing every
    value a read can return; otherwise nothing changes)."""
    events = s.events
    loc = list(s.sloc)
    val: dict = {}
    pending_val, pending_loc = [], list(s.dynamic)
    for e in events:
        if e.kind != "W":
            continue
        if e.ev is None:
            val[e.idx] = e.init_value
        elif e.ev.val is not None and not e.ev.val.vars:
            try:
                val[e.idx] = evaluate(e.ev.val, {})
            except EvalError:
                return
        else:
            pending_val.append(e.idx)

    def domains():
        out: dict = {}
        for w, v in val.items():
            if loc[w] is not None:
                out.setdefault(loc[w], set()).add(v)
        return out

    def domain_of(dom):
        def f(key):
            lname = loc[s.var_event[key]]
            d = dom.get(lname) if lname is not None else None
            return sorted(d, key=repr) if d else None
        return f

    progress = True
    while progress and (pending_val or pending_loc):
        progress = False
        f = domain_of(domains())
        for i in list(pending_loc):
            a = invariant(events[i].ev.loc, f)
            if a is VARIES:
                continue
            if not isinstance(a, Addr) or a.name not in s.loc_names:
                return
            loc[i] = a.name
            pending_loc.remove(i)
            progress = True
        for i in list(pending_val):
            if loc[i] is None:
                continue
            v = invariant(events[i].ev.val, f)
            if v is not VARIES:
                val[i] = v
                pending_val.remove(i)
                progress = True
    if pending_val or pending_loc:
        return
    f = domain_of(domains())
    for i in s.dynamic:
        a = invariant(events[i].ev.loc, f)
        if not isinstance(a, Addr) or a.name != loc[i]:
            return
    for e in events:
        if e.kind == "W" and e.ev is not None and e.ev.val is not None and e.ev.val.vars:
            if invariant(e.ev.val, f) != val[e.idx]:
                return
    for i in s.dynamic:
        s.sloc[i] = loc[i]
    s.dynamic = []
