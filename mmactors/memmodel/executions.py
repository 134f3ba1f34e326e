"""Candidate executions: events, reads-from, coherence and lock relations.

Enumeration mirrors what herd7 does before applying a model:

1. every thread is run symbolically into control paths (``symexec``);
2. for each choice of one path per thread (a :class:`Skeleton`), every read
   picks the write it reads from; the symbolic values are then solved and
   the path constraints checked (:func:`solutions`); unsolvable cyclic
   values (out-of-thin-air) are dropped, as herd7 drops them;
3. per location, coherence orders and the lock-related reads-from of
   tools/memory-model/lock.cat are enumerated (:func:`location_options`):
   ``rfe-lf``/``rfe-ru`` choices, ``co0`` with the unmatched LKW last, UL
   events merged into ``co`` right after their LKW (``critical``), and LKR
   reading from its LKW's immediate co-predecessor.  Choices that break
   SC-per-location or RMW atomicity are pruned here: every model here
   requires both (``coherence`` and ``atomic`` in linux-kernel.cat), so the
   set of accepted executions is unchanged, only found faster;
4. lock.cat's ``lock-nest`` and ``unmatched-locks`` checks reject a whole
   solution (a deadlock: such executions never complete).

Simplification: herd7's ``FW`` (final writes) is approximated by "a lock
location appears in the final condition" for the ``lock-final`` flag.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterator, Optional

from .errors import EvalError, LitmusError
from .relalg import Rel, acyclic_rows, bits
from .symexec import Ev, Path
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
        self.RMW = mask(lambda e: e.atomic)
        self.fence_tags: dict = {}
        for e in events:
            if e.kind == "F":
                self.fence_tags[e.tag] = self.fence_tags.get(e.tag, 0) | (1 << e.idx)

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
        self.constraints = [(c, exp, line) for p in paths for (c, exp, line) in p.constraints]
        self.cache: dict = {}   # per-model static relations


@dataclass
class Solution:
    """A skeleton with reads-from chosen for memory reads and all values known."""

    skel: Skeleton
    env: dict
    rf_mem: dict              # read idx -> write idx
    loc: list                 # event idx -> location name (None for fences)
    value: list               # event idx -> value (reads and writes)
    loc_rel: Rel = None       # same-location relation
    lock: "LockInfo" = None


@dataclass
class LockInfo:
    lk_rmw: list = field(default_factory=list)       # (LKR, LKW)
    critical: dict = field(default_factory=dict)     # LKW -> UL
    unmatched: set = field(default_factory=set)      # UNMATCHED-LKW
    rfi_lf: dict = field(default_factory=dict)       # LF/RL -> LKW
    rfi_ru: dict = field(default_factory=dict)       # RU -> UL
    flags: set = field(default_factory=set)


@dataclass
class Candidate:
    sol: Solution
    rf: Rel
    co: Rel
    fr: Rel
    last_write: dict          # location -> event idx of the co-last write


def _err(skel: Skeleton, line: int, msg: str) -> LitmusError:
    return LitmusError(skel.test_path, line, msg)


def _eval(skel: Skeleton, term, env):
    try:
        return evaluate(term, env)
    except EvalError as e:
        raise _err(skel, e.line, e.message) from None


# ---------------------------------------------------------------- cobase


def co_graph(events, ws: list, pairs: list, rmw_partner: dict):
    """Coherence constraints among the writes ``ws`` of one location.

    Like cos-opt.cat's ``cobase`` (co0 | obsco | rmwco): with ``ws[0]`` the
    initial write, returns (rows, forced) where ``rows[k]`` is the bitset of
    writes that every coherent co puts after ``ws[k]`` (transitively closed),
    and ``forced[k]`` the write that must immediately follow ``ws[k]`` (the W
    of an RMW reading from it), or None if no coherent co exists at all.
    ``pairs`` are the (read, source write) choices known so far.
    """
    local = {w: k for k, w in enumerate(ws)}
    m = len(ws)
    rows = [0] * m
    rows[0] = ((1 << m) - 1) & ~1                      # co0: initial write first
    for a in range(1, m):
        ea = events[ws[a]]
        for b in range(a + 1, m):
            if events[ws[b]].tid == ea.tid:            # ww: po-loc between writes
                rows[a] |= 1 << b
    forced = {}
    known = []
    for r, w in pairs:
        kw = local.get(w)
        if kw is None:
            continue
        er = events[r]
        known.append((r, kw))
        for b, w2 in enumerate(ws):
            if b == kw or events[w2].tid != er.tid:
                continue
            if w2 > r:
                rows[kw] |= 1 << b                     # rw: R po-loc W2
            else:
                rows[b] |= 1 << kw                     # wr: W1 po-loc R
        partner = rmw_partner.get(r)
        if partner is not None and partner in local:
            kp = local[partner]
            if kw in forced:                           # two RMWs read one write
                return None
            forced[kw] = kp
            rows[kw] |= 1 << kp
    for i, (r1, k1) in enumerate(known):               # rr: R1 po-loc R2
        t1 = events[r1].tid
        for r2, k2 in known[i + 1:]:
            if k1 != k2 and events[r2].tid == t1:
                if r1 < r2:
                    rows[k1] |= 1 << k2
                else:
                    rows[k2] |= 1 << k1
    closed = Rel(rows).plus().r
    if any(closed[k] >> k & 1 for k in range(m)):
        return None
    for k, kp in forced.items():
        # Nothing may come between an RMW's source and its write.
        between = closed[k] & ~(1 << kp)
        for b in bits(between):
            if closed[b] >> kp & 1:
                return None
    return closed, forced


# ---------------------------------------------------------------- solving


def solutions(skel: Skeleton) -> Iterator[Solution]:
    """Choose a source write for every memory read and solve the values."""
    events = skel.events
    reads = [e for e in events if e.kind == "R"]
    writes = [e for e in events if e.kind == "W"]

    def static_loc(e: GEvent):
        if e.ev is None:
            return e.init_loc
        t = e.ev.loc
        return t.value.name if not t.vars else None

    sloc = {e.idx: static_loc(e) for e in events if e.kind in ("R", "W")}
    cands: list[list[GEvent]] = []
    for r in reads:
        lst = []
        for w in writes:
            if w.tid == r.tid and w.idx > r.idx:
                continue  # reading a po-later write breaks SC-per-location
            a, b = sloc[r.idx], sloc[w.idx]
            if a is not None and b is not None and a != b:
                continue
            lst.append(w)
        cands.append(lst)

    # Per static location: its writes (initial write first) and reads, for
    # the cobase pruning of partial rf choices (see co_graph).
    rmw_partner = {r: w for r, w in skel.rmw_b.pairs()}
    writes_at: dict = {}
    reads_at: dict = {}
    for e in events:
        l = sloc.get(e.idx)
        if l is None:
            continue
        (writes_at if e.kind == "W" else reads_at).setdefault(l, []).append(e.idx)

    def cobase_ok(l: str) -> bool:
        pairs = [(r, chosen[r].idx) for r in reads_at[l] if r in chosen]
        return co_graph(events, writes_at[l], pairs, rmw_partner) is not None

    constraints = skel.constraints
    # Reads with a static location and few candidates first: they prune early.
    order = sorted(range(len(reads)), key=lambda i: (sloc[reads[i].idx] is None, len(cands[i])))
    env: dict = {}
    chosen: dict = {}

    def value_of_write(w: GEvent):
        if w.ev is None:
            return w.init_value
        return evaluate(w.ev.val, env)

    def loc_of(e: GEvent):
        if e.ev is None:
            return Addr(e.init_loc)
        return evaluate(e.ev.loc, env)

    def consistent() -> Optional[bool]:
        """False if some evaluable constraint or location check fails."""
        for c, expected, line in constraints:
            if c.vars <= env.keys():
                v = _eval(skel, c, env)
                truth = True if isinstance(v, Addr) else v != 0
                if truth != expected:
                    return False
        return True

    def propagate() -> None:
        progress = True
        while progress:
            progress = False
            for ridx, w in chosen.items():
                key = events[ridx].key
                if key in env:
                    continue
                try:
                    env[key] = value_of_write(w)
                    progress = True
                except Unresolved:
                    pass
                except EvalError as e:
                    raise _err(skel, e.line, e.message) from None

    def locs_ok() -> bool:
        for ridx, w in chosen.items():
            r = events[ridx]
            try:
                a, b = loc_of(r), loc_of(w)
            except Unresolved:
                continue
            except EvalError:
                continue  # reported once the solution proves feasible
            # A non-pointer address is reported at the leaf, not pruned.
            if isinstance(a, Addr) and isinstance(b, Addr) and a != b:
                return False
        return True

    def dfs(k: int):
        if k == len(order):
            yield dict(env), dict((r, w.idx) for r, w in chosen.items())
            return
        r = reads[order[k]]
        for w in cands[order[k]]:
            saved = dict(env)
            chosen[r.idx] = w
            propagate()
            l = sloc[r.idx]
            if (l is None or cobase_ok(l)) and consistent() and locs_ok():
                yield from dfs(k + 1)
            del chosen[r.idx]
            env.clear()
            env.update(saved)

    for env_final, rf in dfs(0):
        # Every read must have a value: a cycle of values (thin air) is dropped.
        if len(env_final) != len(reads):
            continue
        env.clear()
        env.update(env_final)
        locs: list = [None] * skel.n
        vals: list = [None] * skel.n
        for e in events:
            if e.ev is None:
                locs[e.idx] = e.init_loc
                vals[e.idx] = e.init_value
                continue
            if e.ev.loc is not None:
                a = _eval(skel, e.ev.loc, env)
                if not isinstance(a, Addr):
                    raise _err(skel, e.line, f"access to non-pointer value {a}")
                locs[e.idx] = a.name
            if e.kind == "R":
                vals[e.idx] = env[e.key]
            elif e.kind == "W":
                vals[e.idx] = _eval(skel, e.ev.val, env)
        if any(locs[r] != locs[w] for r, w in rf.items()):
            continue
        if any(loc not in skel_locations(skel) for loc in locs if loc is not None):
            bad = next(e for e in events if locs[e.idx] is not None
                       and locs[e.idx] not in skel_locations(skel))
            raise _err(skel, bad.line, f"access to unknown location '{locs[bad.idx]}'")
        sol = Solution(skel, dict(env), rf, locs, vals)
        sol.loc_rel = _loc_relation(skel, locs)
        lock = _lock_info(skel, sol)
        if lock is None:
            continue  # lock-nest or unmatched-locks: this run deadlocks
        sol.lock = lock
        yield sol


def skel_locations(skel: Skeleton) -> set:
    s = skel.cache.get("locations")
    if s is None:
        s = skel.cache["locations"] = {e.init_loc for e in skel.events[:skel.n_init]}
    return s


def _loc_relation(skel: Skeleton, locs: list) -> Rel:
    by_loc: dict = {}
    for i, l in enumerate(locs):
        if l is not None:
            by_loc[l] = by_loc.get(l, 0) | (1 << i)
    return Rel([by_loc[l] if l is not None else 0 for l in locs])


# ---------------------------------------------------------------- lock.cat


def _lock_info(skel: Skeleton, sol: Solution) -> Optional[LockInfo]:
    """The static part of lock.cat for one solution; None if it deadlocks."""
    info = LockInfo()
    events = skel.events
    locs = sol.loc
    any_lock = any(e.kind in LOCK_KINDS for e in events)
    if not any_lock:
        return info
    lock_locs = {locs[e.idx] for e in events if e.kind in LOCK_KINDS}
    for e in events:
        if e.kind in ("R", "W") and e.tid >= 0 and locs[e.idx] in lock_locs:
            info.flags.add("mixed-lock-accesses")
    unmatched_by_loc: dict = {}
    for ids in skel.thread_events:
        for pos, i in enumerate(ids):
            e = events[i]
            if e.kind not in LOCK_KINDS:
                continue
            here = [j for j in ids[pos + 1:] if locs[j] == locs[i]]
            before = [j for j in ids[:pos] if locs[j] == locs[i]]
            if e.kind == "LKR":
                # lk-rmw: the LKW immediately po-after (no event in between).
                if pos + 1 < len(ids) and events[ids[pos + 1]].kind == "LKW" \
                        and locs[ids[pos + 1]] == locs[i]:
                    info.lk_rmw.append((i, ids[pos + 1]))
                else:
                    info.flags.add("unpaired-LKR")
            elif e.kind == "LKW":
                nxt = next((j for j in here if events[j].kind in ("LKW", "UL")), None)
                if nxt is not None and events[nxt].kind == "UL":
                    info.critical[i] = nxt
                else:
                    info.unmatched.add(i)
                    unmatched_by_loc.setdefault(locs[i], []).append(i)
                # lock-nest: a later LKR on this lock with no UL in between.
                for j in here:
                    if events[j].kind == "UL":
                        break
                    if events[j].kind == "LKR":
                        return None
            elif e.kind in ("LF", "RL"):
                for j in reversed(before):
                    if events[j].kind == "UL":
                        break
                    if events[j].kind == "LKW":
                        info.rfi_lf[i] = j
                        break
            elif e.kind == "RU":
                for j in reversed(before):
                    if events[j].kind == "LKW":
                        break
                    if events[j].kind == "UL":
                        info.rfi_ru[i] = j
                        break
    paired_w = {w for _, w in info.lk_rmw}
    for e in events:
        if e.kind == "LKW" and e.idx not in paired_w:
            info.flags.add("unpaired-LKW")
    matched_ul = set(info.critical.values())
    for e in events:
        if e.kind == "UL" and e.idx not in matched_ul:
            info.flags.add("unmatched-unlock")
    if any(len(v) > 1 for v in unmatched_by_loc.values()):
        return None  # unmatched-locks: two lock holders that never release
    return info


# ---------------------------------------------------------------- co and rf


@dataclass
class LocOption:
    co: list                  # full coherence order (event indices)
    rf: list                  # (write, read) pairs at this location


def location_options(sol: Solution) -> Optional[dict]:
    """Per location, the coherent (co, lock-rf) choices; None if some has none."""
    skel = sol.skel
    events = skel.events
    info = sol.lock
    by_loc: dict = {}
    for e in events:
        l = sol.loc[e.idx]
        if l is not None:
            by_loc.setdefault(l, []).append(e.idx)
    rf_by_read = sol.rf_mem
    options: dict = {}
    for l, ids in by_loc.items():
        opts = list(_options_at(sol, l, ids, rf_by_read, info))
        if not opts:
            return None
        options[l] = opts
    return options


def _options_at(sol: Solution, l: str, ids: list, rf_mem: dict, info: LockInfo):
    skel = sol.skel
    events = skel.events
    init = ids[0]                      # initial writes come first
    ws = [i for i in ids if i != init and events[i].kind in ("W", "LKW")]
    uls = [i for i in ids if events[i].kind == "UL"]
    lkws = [i for i in ws if events[i].kind == "LKW"]
    unmatched = [i for i in lkws if i in info.unmatched]
    mem_rf = [(rf_mem[i], i) for i in ids if events[i].kind == "R"]
    lk_pairs = [(r, w) for r, w in info.lk_rmw if w in ids]
    # rf choices for failed trylocks / spin_is_locked (lock.cat cross products)
    choice_sets = []
    fixed_lock_rf = []
    for i in ids:
        e = events[i]
        if e.kind in ("LF", "RL"):
            if i in info.rfi_lf:
                fixed_lock_rf.append((info.rfi_lf[i], i))
            else:
                srcs = [w for w in lkws if events[w].tid != e.tid]
                if not srcs:
                    return
                choice_sets.append([(w, i) for w in srcs])
        elif e.kind == "RU":
            if i in info.rfi_ru:
                fixed_lock_rf.append((info.rfi_ru[i], i))
            srcs = [w for w in uls if events[w].tid != e.tid] + [init]
            choice_sets.append([(w, i) for w in srcs])
    rmw_pairs = [(r, w) for r, w in (list(skel.rmw_b.pairs()) + info.lk_rmw) if w in ids]
    # Local indexing for the small per-location coherence check.
    local = {g: k for k, g in enumerate(ids)}
    tid = [events[g].tid for g in ids]
    po_loc = [0] * len(ids)
    for a in ids:
        for b in ids:
            if events[a].tid >= 0 and events[a].tid == events[b].tid and a < b:
                po_loc[local[a]] |= 1 << local[b]

    rmw_partner = {r: w for r, w in skel.rmw_b.pairs()}
    graph = co_graph(events, [init] + ws, [(r, w) for w, r in mem_rf], rmw_partner)
    if graph is None:
        return
    for order in _co_orders(events, ws, unmatched, graph):
        full = [init]
        for w in order:
            full.append(w)
            if w in info.critical:
                full.append(info.critical[w])
        pos = {g: k for k, g in enumerate(full)}
        lkr_rf = []
        for r, w in lk_pairs:
            k = pos[w]
            pred = full[k - 1]
            if events[pred].kind == "UL" or pred == init:
                lkr_rf.append((pred, r))
        base_rf = mem_rf + lkr_rf + fixed_lock_rf
        for extra in itertools.product(*choice_sets):
            rf = base_rf + list(extra)
            if _coherent(ids, local, tid, po_loc, full, pos, rf, rmw_pairs):
                yield LocOption(full, rf)


def _co_orders(events, ws: list, unmatched: list, graph):
    """Linear orders of ``ws`` extending the cobase ``graph`` (see co_graph),
    with an RMW's write right after its source and the unmatched LKW last."""
    n = len(ws)
    if n == 0:
        yield []
        return
    closed, forced = graph          # indices shifted by one: 0 is the initial write
    must_precede = [0] * n
    for a in range(n):
        for b in range(n):
            if closed[a + 1] >> (b + 1) & 1:
                must_precede[b] |= 1 << a
    lkw_count = sum(1 for w in ws if events[w].kind == "LKW")
    order: list = []
    placed = 0

    def rec(last: int, placed_lkw: int):
        nonlocal placed
        if len(order) == n:
            yield list(order)
            return
        nxt = forced.get(last)
        choices = [nxt - 1] if nxt is not None else range(n)
        for k in choices:
            if placed >> k & 1 or must_precede[k] & ~placed:
                continue
            w = ws[k]
            if w in unmatched and placed_lkw != lkw_count - 1:
                continue  # co0: every other LKW before the unmatched one
            placed |= 1 << k
            order.append(w)
            yield from rec(k + 1, placed_lkw + (events[w].kind == "LKW"))
            order.pop()
            placed &= ~(1 << k)

    yield from rec(0, 0)


def _coherent(ids, local, tid, po_loc, full, pos, rf, rmw_pairs) -> bool:
    """acyclic(po-loc | rf | co | fr) at one location, and RMW atomicity."""
    m = len(ids)
    succ = list(po_loc)
    in_co = [local[g] for g in full]
    for a in range(len(in_co)):
        for b in range(a + 1, len(in_co)):
            succ[in_co[a]] |= 1 << in_co[b]
    sources: dict = {}
    for w, r in rf:
        succ[local[w]] |= 1 << local[r]
        sources.setdefault(r, []).append(w)
    for r, wl in sources.items():
        for w in wl:
            if w in pos:
                for later in full[pos[w] + 1:]:
                    if later != r:
                        succ[local[r]] |= 1 << local[later]
    if not acyclic_rows(succ, (1 << m) - 1):
        return False
    # atomic: empty rmw & (fre ; coe)
    for r, w in rmw_pairs:
        if w not in pos:
            continue
        for src in sources.get(r, []):
            if src not in pos:
                continue
            for mid in full[pos[src] + 1:pos[w]]:
                if tid[local[mid]] != tid[local[r]] and tid[local[mid]] != tid[local[w]]:
                    return False
    return True


def candidates(sol: Solution) -> Iterator[Candidate]:
    options = location_options(sol)
    if options is None:
        return
    skel = sol.skel
    n = skel.n
    locs = list(options)
    for combo in itertools.product(*(options[l] for l in locs)):
        rf = [0] * n
        co = [0] * n
        fr = [0] * n
        last = {}
        for l, opt in zip(locs, combo):
            full = opt.co
            after = 0
            for g in reversed(full):
                co[g] |= after
                after |= 1 << g
            last[l] = full[-1]
            pos = {g: k for k, g in enumerate(full)}
            for w, r in opt.rf:
                rf[w] |= 1 << r
                if w in pos:
                    for later in full[pos[w] + 1:]:
                        fr[r] |= 1 << later
        yield Candidate(sol, Rel(rf), Rel(co), Rel(fr), last)
