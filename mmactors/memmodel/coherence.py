"""Per location: coherence orders and lock-event reads-from (lock.cat).

Given a :class:`~.solve.Solution` (memory reads-from chosen), each location
gets its list of :class:`LocOption`: a coherence order ``co`` and the
reads-from of its lock events, as tools/memory-model/lock.cat generates
them, keeping only the coherent ones (``coherence`` and ``atomic`` of
linux-kernel.cat hold in every model here, so pruning them here changes
nothing but speed).  Options depend only on the location's events and the
reads-from of its reads, so they are memoised per skeleton.

lock.cat, as in ../shared/litmus/model/lock.cat, with two later upstream
fixes (herdtools7's catalogue/linux/cats/lock.cat has both):

* RU (spin_is_locked() returning false) reads from exactly one write: the
  last po-previous UL on the lock, an external UL, or the initial write
  (``possible-rf-ru``).  The older file gave an RU that follows its own
  thread's unlock *both* its rfi UL and an rfe write, so every execution of
  ``spin_is_locked(); spin_lock(); spin_is_locked(); spin_unlock();
  spin_is_locked()`` was incoherent and herd7 (like this checker) found none.
* ``nested-is-locked``: an RU inside a critical section of its own lock is
  impossible (the execution is rejected, like lock-nest).

And the SRCU part of Linux commit 6cd244c87428: srcu_read_lock()/unlock()
and synchronize_srcu() count as lock accesses for ``mixed-lock-accesses``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

from .skeleton import LOCK_KINDS, Skeleton
from .solve import Solution, _topological, co_graph


@dataclass
class LockInfo:
    lk_rmw: list = field(default_factory=list)       # (LKR, LKW)
    critical: dict = field(default_factory=dict)     # LKW -> UL
    unmatched: set = field(default_factory=set)      # UNMATCHED-LKW
    rfi_lf: dict = field(default_factory=dict)       # LF/RL -> LKW
    rfi_ru: dict = field(default_factory=dict)       # RU -> the last po-previous UL
    flags: set = field(default_factory=set)


@dataclass
class LocOption:
    co: list                  # full coherence order (event indices), initial write first
    rf: list                  # (write, read) pairs at this location
    edges: list               # rf, co and fr as edges whose closure is theirs...
    chain: Optional[list] = None  # ... with these (a co chain shared by options)
    fast: Optional[list] = None   # edges over executions._FastGraph's nodes
    rels: Optional[tuple] = None  # rf, co, fr rows (executions.option_rels)


# ---------------------------------------------------------------- lock.cat


def lock_info(skel: Skeleton, locs: list) -> Optional[LockInfo]:
    """The static part of lock.cat for these locations; None if the
    execution cannot complete (lock-nest, nested-is-locked, unmatched-locks)."""
    info = LockInfo()
    events = skel.events
    srcu = skel.Srcu_lock | skel.Srcu_unlock | skel.Sync_srcu
    if not srcu and not any(e.kind in LOCK_KINDS for e in events):
        return info
    lock_locs = {locs[e.idx] for e in events if e.kind in LOCK_KINDS or srcu >> e.idx & 1}
    for e in events:
        if (e.kind in ("R", "W") and e.tid >= 0 and not srcu >> e.idx & 1
                and locs[e.idx] in lock_locs):
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
                # lock-nest and nested-is-locked: a later LKR, or RU, on this
                # lock with no UL in between.
                for j in here:
                    if events[j].kind == "UL":
                        break
                    if events[j].kind in ("LKR", "RU"):
                        return None
            elif e.kind in ("LF", "RL"):
                for j in reversed(before):
                    if events[j].kind == "UL":
                        break
                    if events[j].kind == "LKW":
                        info.rfi_lf[i] = j
                        break
            elif e.kind == "RU":
                last_ul = next((j for j in reversed(before) if events[j].kind == "UL"), None)
                if last_ul is not None:
                    info.rfi_ru[i] = last_ul
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


def location_options(sol: Solution) -> Optional[dict]:
    """Per location, the coherent (co, lock-rf) choices; None if some has none."""
    skel = sol.skel
    if skel.dynamic:
        # Locations depend on the values read: group afresh, memoise by them.
        by_loc = groups(skel, sol.loc)
        cache = skel.cache.setdefault("options_dyn", {})
        salt = tuple(sol.loc)
    else:
        by_loc = skel.cache.get("groups")
        if by_loc is None:
            by_loc = skel.cache["groups"] = groups(skel, sol.loc)
        cache = skel.cache.setdefault("options", {})
        salt = None
    rf_mem = sol.rf_mem
    options: dict = {}
    for li, (l, ids, reads) in enumerate(by_loc):
        per = cache.get((li, salt))
        if per is None:
            per = cache[(li, salt)] = {}
        srcs = tuple([rf_mem[i] for i in reads])
        opts = per.get(srcs)
        if opts is None:
            opts = per[srcs] = _collapsed(skel, l, _options_at(skel, sol.lock, rf_mem, list(ids)))
        if not opts:
            return None
        options[l] = opts
    return options


def groups(skel: Skeleton, locs: list) -> list:
    """(location, its events, its memory reads) per location, in event order."""
    by_loc: dict = {}
    events = skel.events
    for e in events:
        l = locs[e.idx]
        if l is not None and e.kind != "F":
            by_loc.setdefault(l, []).append(e.idx)
    return [(l, ids, [i for i in ids if events[i].kind == "R"]) for l, ids in by_loc.items()]


def options_for(skel: Skeleton, info: LockInfo, li: int, ids: list, srcs: tuple) -> list:
    """The memoised options of the ``li``-th location of a skeleton whose
    locations are all constant (see location_options), its reads reading
    from ``srcs``."""
    per = skel.cache.setdefault("options", {}).setdefault((li, None), {})
    opts = per.get(srcs)
    if opts is None:
        if len(per) > 4096:
            per.clear()                 # a memo, not a record: keep it bounded
        reads = [i for i in ids if skel.events[i].kind == "R"]
        fixed = _fixed_co(skel, li, ids)
        if fixed is not None:
            opts = [_fixed_option(fixed, list(zip(srcs, reads)))]
        else:
            opts = _collapsed(skel, skel.sloc[ids[0]],
                              _options_at(skel, info, dict(zip(reads, srcs)), list(ids)))
        per[srcs] = opts
    return opts


def _collapsed(skel: Skeleton, l: str, opts) -> list:
    """The options (an iterator) as a list; for an srcu_struct that
    srcu.collapse counts, its first co order only (the reads all read the
    initial write; the k! orders are not generated), with no edges for the
    fast SC test (its rf/co/fr lie on no cycle the model checks; srcu.py)."""
    if l not in skel.srcu_locs:
        return list(opts)
    first = list(itertools.islice(opts, 1))
    for opt in first:
        opt.fast = []
    return first


def _fixed_co(skel: Skeleton, li: int, ids: list):
    """For a location whose coherence order cannot depend on reads-from --
    no lock events, no RMW, every write but the initial one from a single
    thread, so co is program order -- that order, its chain of edges and
    each write's position; else None.  The reads-from search has checked
    coherence at such a location already (cobase), so its one option needs
    no check."""
    memo = skel.cache.setdefault("fixed_co", {})
    if li in memo:
        return memo[li]
    events = skel.events
    writes = [i for i in ids[1:] if events[i].kind == "W"]
    fixed = None
    if (all(events[i].kind in ("R", "W") for i in ids[1:])
            and not any(events[i].atomic for i in ids[1:])
            and len({events[i].tid for i in writes}) <= 1):
        co = [ids[0]] + writes
        fixed = (co, list(zip(co, co[1:])), {w: k for k, w in enumerate(co)})
    memo[li] = fixed
    return fixed


def _fixed_option(fixed, rf: list) -> LocOption:
    co, chain, pos = fixed
    edges = []
    for w, r in rf:
        edges.append((w, r))
        k = pos[w] + 1
        if k < len(co):
            edges.append((r, co[k]))                    # fr, to the chain
    return LocOption(co, rf, edges, chain)


def _options_at(skel: Skeleton, info: LockInfo, rf_mem: dict, ids: list):
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
            # possible-rf-ru: the last po-previous UL, or an external UL or IW
            srcs = ([info.rfi_ru[i]] if i in info.rfi_ru else [])
            srcs += [w for w in uls if events[w].tid != e.tid] + [init]
            choice_sets.append([(w, i) for w in srcs])
    rmw_pairs = [(r, w) for r, w in (list(skel.rmw_partner.items()) + info.lk_rmw) if w in ids]
    graph = co_graph(events, [init] + ws, [(r, w) for w, r in mem_rf], skel.rmw_partner)
    if graph is None:
        return
    graphs = skel.cache.setdefault("local_graphs", {})
    ctx = graphs.get(tuple(ids))
    if ctx is None:
        ctx = graphs[tuple(ids)] = _LocalGraph(events, ids)
    for order in _co_orders(events, ws, unmatched, graph):
        full = [init]
        for w in order:
            full.append(w)
            if w in info.critical:
                full.append(info.critical[w])
        pos = {g: k for k, g in enumerate(full)}
        lkr_rf = []
        for r, w in lk_pairs:
            pred = full[pos[w] - 1]
            if events[pred].kind == "UL" or pred == init:
                lkr_rf.append((pred, r))
        base_rf = mem_rf + lkr_rf + fixed_lock_rf
        for extra in itertools.product(*choice_sets):
            rf = base_rf + list(extra)
            edges = ctx.coherent(full, pos, rf, rmw_pairs)
            if edges is not None:
                yield LocOption(full, rf, edges)


def _co_orders(events, ws: list, unmatched: list, graph):
    """Linear orders of ``ws`` extending the cobase ``graph`` (see co_graph),
    with an RMW's write right after its source and the unmatched LKW last;
    a depth-first search with an explicit stack."""
    n = len(ws)
    if n == 0:
        yield []
        return
    closed, forced, topo = graph    # indices shifted by one: 0 is the initial write
    is_lkw = [events[w].kind == "LKW" for w in ws]
    lkw_count = sum(is_lkw)
    is_unmatched = [w in unmatched for w in ws]
    if all(closed[a] >> b & 1 for a, b in zip(topo, topo[1:])):
        # The constraints are a total order (e.g. the writes of one thread):
        # exactly one candidate, if the unmatched LKW comes after every LKW.
        order = [k - 1 for k in topo if k]
        seen_lkw = 0
        for k in order:
            if is_unmatched[k] and seen_lkw != lkw_count - 1:
                return
            seen_lkw += is_lkw[k]
        yield [ws[k] for k in order]
        return
    must_precede = [0] * n
    for a in range(n):
        row = closed[a + 1] >> 1
        while row:
            low = row & -row
            must_precede[low.bit_length() - 1] |= 1 << a
            row ^= low

    def choices(last: int, placed: int, placed_lkw: int) -> list:
        nxt = forced.get(last)
        cand = [nxt - 1] if nxt is not None else range(n)
        return [k for k in cand
                if not placed >> k & 1 and not must_precede[k] & ~placed
                and not (is_unmatched[k] and placed_lkw != lkw_count - 1)]

    order: list = []
    placed = 0
    placed_lkw = 0
    stack = [[choices(0, 0, 0), 0]]
    while stack:
        top = stack[-1]
        if len(order) == n:
            yield [ws[k] for k in order]
        elif top[1] < len(top[0]):
            k = top[0][top[1]]
            top[1] += 1
            order.append(k)
            placed |= 1 << k
            placed_lkw += is_lkw[k]
            stack.append([choices(k + 1, placed, placed_lkw), 0])
            continue
        stack.pop()
        if order:
            k = order.pop()
            placed &= ~(1 << k)
            placed_lkw -= is_lkw[k]


class _LocalGraph:
    """The events of one location, for the per-location coherence check."""

    def __init__(self, events, ids: list) -> None:
        self.ids = ids
        self.local = {g: k for k, g in enumerate(ids)}
        self.tid = [events[g].tid for g in ids]
        # po-loc as consecutive same-thread events (its closure is po-loc)
        self.po_next = []
        last: dict = {}
        for g in ids:
            t = events[g].tid
            if t >= 0:
                if t in last:
                    self.po_next.append((last[t], g))
                last[t] = g

    def coherent(self, full, pos, rf, rmw_pairs) -> Optional[list]:
        """acyclic(po-loc | rf | co | fr) at this location and RMW atomicity;
        the rf, co and fr edges (co and fr as chains) if both hold."""
        edges = []
        for a, b in zip(full, full[1:]):
            edges.append((a, b))                            # co, as a chain
        sources: dict = {}
        for w, r in rf:
            edges.append((w, r))
            sources.setdefault(r, []).append(w)
            if w in pos and pos[w] + 1 < len(full):
                nxt = full[pos[w] + 1]
                if nxt != r:
                    edges.append((r, nxt))                 # fr, to the chain
        local = self.local
        m = len(self.ids)
        succ = [0] * m
        for a, b in self.po_next:
            succ[local[a]] |= 1 << local[b]
        for a, b in edges:
            succ[local[a]] |= 1 << local[b]
        if not _acyclic(succ):
            return None
        # atomic: empty rmw & (fre ; coe)
        tid = self.tid
        for r, w in rmw_pairs:
            if w not in pos:
                continue
            for src in sources.get(r, []):
                if src not in pos:
                    continue
                for mid in full[pos[src] + 1:pos[w]]:
                    if tid[local[mid]] != tid[local[r]] and tid[local[mid]] != tid[local[w]]:
                        return None
        return edges


def _acyclic(succ: list) -> bool:
    """No cycle in a graph given as successor bitsets (solve's Kahn order)."""
    return _topological(succ) is not None
