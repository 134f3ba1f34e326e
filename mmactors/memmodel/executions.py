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
relations are built only when a model asks for them.  A :class:`_Tracker`
follows the search to keep the fast test below incremental and to cut
branches whose partial execution the model already rejects.  :func:`sc_acyclic`
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

from .coherence import LocOption, LockInfo, groups, lock_info, location_options, options_for
from .relalg import Rel
from .rscs import rcu_rscs, static_srcu_rscs
from .skeleton import LOCK_KINDS, GEvent, Skeleton
from .solve import Search, Solution, co_graph

__all__ = ["GEvent", "Skeleton", "Solution", "LockInfo", "LocOption", "Candidate",
           "candidates", "solutions", "co_graph", "sc_acyclic", "LOCK_KINDS"]


class Candidate:
    """A solution plus one coherence/lock-rf option per location."""

    __slots__ = ("sol", "options", "_rels", "sc", "extra")

    def __init__(self, sol: Solution, options: dict, extra: Optional[list] = None) -> None:
        self.sol = sol
        self.options = options            # location -> LocOption
        self._rels = None
        self.sc = None                    # sc_acyclic's answer when already known
        self.extra = extra                # (rf, co, fr) rows also present (partial executions)

    def _build(self) -> tuple:
        n = self.sol.skel.n
        rf = [0] * n
        co = [0] * n
        fr = [0] * n
        for opt in self.options.values():
            orf, oco, ofr = option_rels(opt)
            for rows, add in ((rf, orf), (co, oco), (fr, ofr)):
                for i, bits in add:
                    rows[i] |= bits
        for rows, add in zip((rf, co, fr), self.extra or ()):
            for i, bits in add:
                rows[i] |= bits
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


def option_rels(opt: LocOption) -> tuple:
    """The option's rf, co and fr as sparse rows ((event, bitset) pairs);
    computed once per option."""
    rels = opt.rels
    if rels is None:
        full = opt.co
        co: dict = {}
        after = 0
        for g in reversed(full):
            if after:
                co[g] = after
            after |= 1 << g
        pos = {g: k for k, g in enumerate(full)}
        rf: dict = {}
        fr: dict = {}
        for w, r in opt.rf:
            rf[w] = rf.get(w, 0) | (1 << r)
            if w in pos:
                later = 0
                for x in full[pos[w] + 1:]:
                    later |= 1 << x
                if later:
                    fr[r] = fr.get(r, 0) | later
        rels = opt.rels = (list(rf.items()), list(co.items()), list(fr.items()))
    return rels


def _meet(opts: list) -> tuple:
    """What every option of a location has in common: (rf, co, fr) rows."""
    out = []
    for k in range(3):
        acc = dict(option_rels(opts[0])[k])
        for opt in opts[1:]:
            other = dict(option_rels(opt)[k])
            acc = {i: b & other[i] for i, b in acc.items() if i in other and b & other[i]}
        out.append(list(acc.items()))
    return tuple(out)


def solutions(skel: Skeleton, locations: Optional[set] = None,
              invalid: Optional[list] = None, incremental: bool = True,
              tick=None, prune=None, stats: Optional[dict] = None) -> Iterator[Solution]:
    """Solutions of ``skel`` with their lock information (deadlocks dropped).
    ``incremental`` lets a :class:`_Tracker` follow the search (when every
    location is constant); ``prune`` (a model's check) lets it cut branches
    whose partial execution the model rejects; ``stats`` counts them."""
    if locations is None:
        locations = {e.init_loc for e in skel.events[:skel.n_init]}
    invalid = invalid if invalid is not None else []
    if skel.dynamic or not incremental:
        # Locations depend on values read: lock.cat and co per solution.
        search = Search(skel, locations, invalid)
        search.tick = tick
        for sol in search.solutions():
            info = lock_info(skel, sol.loc)
            if info is None:
                continue      # lock-nest, nested-is-locked or unmatched-locks: a deadlock
            sol.lock = info
            sol.loc_rel = _loc_relation(skel, sol.loc)
            yield sol
        return
    info = lock_info(skel, skel.sloc)
    if info is None:
        return
    loc_rel = _loc_relation(skel, skel.sloc)
    tracker = _Tracker(skel, info, prune)
    tracker.loc_rel = loc_rel
    search = Search(skel, locations, invalid, tracker)
    search.tick = tick
    for sol in search.solutions():
        sol.lock = info
        sol.loc_rel = loc_rel
        yield sol
    if stats is not None:
        stats["pruned"] = stats.get("pruned", 0) + tracker.pruned
        stats["partial_checks"] = stats.get("partial_checks", 0) + tracker.tries


def candidates(sol: Solution) -> Iterator[Candidate]:
    options = sol.options if sol.options is not None else location_options(sol)
    if options is None:
        return
    multi = [l for l, opts in options.items() if len(opts) > 1]
    if not multi:
        cand = Candidate(sol, {l: opts[0] for l, opts in options.items()})
        if sol.sc is not None:
            cand.sc = not sol.sc[1]
        yield cand
        return
    tracker = sol.tracker
    if sol.sc is not None and tracker is not None and tracker.prune is not None:
        yield from _pruned_product(sol, options, multi, tracker)
        return
    for combo in itertools.product(*(options[l] for l in multi)):
        chosen = {l: opts[0] for l, opts in options.items()}
        chosen.update(zip(multi, combo))
        cand = Candidate(sol, chosen)
        if sol.sc is not None:
            reach, broken, fg = sol.sc
            cand.sc = False if broken else _still_acyclic(fg, reach, [chosen[l] for l in multi])
        yield cand


def _pruned_product(sol: Solution, options: dict, multi: list, tracker) -> Iterator[Candidate]:
    """The product of the locations' options, location by location, keeping
    the SC closure up to date and asking the model about the partial
    execution once it is not SC: a rejected prefix cuts all its completions
    (see _Tracker for why that is sound)."""
    reach0, broken0, fg = sol.sc
    chosen = {l: opts[0] for l, opts in options.items() if len(opts) == 1}
    last = len(multi) - 1

    def rec(i: int, reach, broken: bool):
        l = multi[i]
        for opt in options[l]:
            chosen[l] = opt
            r2, b2 = reach, broken
            if not broken:
                r2 = _add_rows(reach, fg.option_rows(opt))
                b2 = r2 is None
                if b2:
                    r2 = reach
            if i < last:
                if b2:
                    rest = [[], [], []]
                    for l2 in multi[i + 1:]:
                        tracker._common_rows(options[l2])
                        meet = tracker.common[id(options[l2])][2]
                        for k in range(3):
                            rest[k].extend(meet[k])
                    if tracker.rejects(sol, chosen, rest):
                        continue
                yield from rec(i + 1, r2, b2)
            else:
                cand = Candidate(sol, dict(chosen))
                cand.sc = not b2
                yield cand
        del chosen[l]

    yield from rec(0, reach0, broken0)


def _loc_relation(skel: Skeleton, locs: list) -> Rel:
    by_loc: dict = {}
    for i, l in enumerate(locs):
        if l is not None:
            by_loc[l] = by_loc.get(l, 0) | (1 << i)
    return Rel([by_loc[l] if l is not None else 0 for l in locs])


# ---------------------------------------------------------------- fast path


class _FastGraph:
    """Program order of one skeleton for :func:`sc_acyclic`, as successor
    bitsets over a reduced node set: one node per memory event of a thread,
    an RCU (or SRCU) read-side critical section being one node when the test
    has grace periods; fences are bridged (their po neighbours linked) and
    the initial writes dropped (nothing precedes them, so no cycle goes
    through them).  ``ok`` is False when the fast test does not apply: SRCU
    sections matched through memory or spanning threads, or a grace period
    inside its own reader."""

    def __init__(self, skel: Skeleton) -> None:
        events = skel.events
        self.ok = True
        rep = list(range(skel.n))
        gps = skel.fence_tags.get("sync-rcu", 0) | skel.Sync_srcu
        sections = []
        if skel.fence_tags.get("sync-rcu", 0):
            sections += list(rcu_rscs(skel)[0].pairs())
        if skel.Srcu_lock | skel.Srcu_unlock:
            srcu = static_srcu_rscs(skel)
            if srcu is None:
                self.ok = False           # sections matched through memory: per execution
            elif skel.Sync_srcu:
                sections += list(srcu.pairs())
        for lock, unlock in sorted(sections) if self.ok else ():
            if events[lock].tid != events[unlock].tid:
                self.ok = False           # a section handed to another thread
                break
            ids = skel.thread_events[events[lock].tid]
            inside = ids[ids.index(lock):ids.index(unlock) + 1]
            if any(gps >> i & 1 for i in inside):
                self.ok = False           # a grace period inside its own reader
                break
            head = rep[lock]
            for i in inside:
                if rep[i] == i:
                    rep[i] = head
        # Node numbers: memory events and section representatives.
        node = [None] * skel.n
        count = 0
        chains = []
        for ids in skel.thread_events:
            chain = []
            for i in ids:
                r = rep[i]
                if r == i and events[i].kind == "F":
                    continue                  # a fence outside any section: bridged
                if node[r] is None:
                    node[r] = count
                    count += 1
                node[i] = node[r]
                if not chain or chain[-1] != node[i]:
                    chain.append(node[i])
            chains.append(chain)
        self.node = node
        self.count = count
        self.tid = [e.tid for e in events]
        self.chains: dict = {}        # id(shared co chain) -> (chain, its rows)
        succ = [0] * count
        indeg = [0] * count
        for chain in chains:
            for a, b in zip(chain, chain[1:]):
                succ[a] |= 1 << b
                indeg[b] += 1
        self.succ = succ
        self.indeg = indeg

    def option_rows(self, opt: LocOption) -> list:
        """The option's com edges as (node, successor bitset) pairs; edges
        that program order implies (same thread, forward) are left out."""
        rows = opt.fast
        if rows is None:
            acc = self._rows(opt.edges, {})
            if opt.chain is not None:
                chain_rows = self.chains.get(id(opt.chain))
                if chain_rows is None:
                    chain_rows = self.chains[id(opt.chain)] = (opt.chain, self._rows(opt.chain, {}))
                for na, bits in chain_rows[1].items():
                    acc[na] = acc.get(na, 0) | bits
            rows = opt.fast = sorted(acc.items())
        return rows

    def _rows(self, edges, acc: dict) -> dict:
        node, tid = self.node, self.tid
        for a, b in edges:
            na, nb = node[a], node[b]
            if na is None or nb is None or na == nb or (tid[a] == tid[b] and a < b):
                continue        # from an initial write, inside one node, or po
            acc[na] = acc.get(na, 0) | (1 << nb)
        return acc


def sc_acyclic(cand: Candidate) -> bool:
    """Whether po | rf | co | fr is acyclic with RCU and SRCU critical
    sections contracted; False also when the test is not eligible (see
    _FastGraph)."""
    if cand.sc is not None:
        return cand.sc
    skel = cand.sol.skel
    fg = skel.cache.get("fast")
    if fg is None:
        fg = skel.cache["fast"] = _FastGraph(skel)
    if not fg.ok:
        return False
    succ = list(fg.succ)
    indeg = list(fg.indeg)
    for opt in cand.options.values():
        for na, bits in (opt.fast if opt.fast is not None else fg.option_rows(opt)):
            new = bits & ~succ[na]
            succ[na] |= new
            while new:
                low = new & -new
                indeg[low.bit_length() - 1] += 1
                new ^= low
    ready = [k for k, d in enumerate(indeg) if not d]
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
    return seen == fg.count


# ---------------------------------------------------------------- incremental


def _fast_graph(skel: Skeleton) -> _FastGraph:
    fg = skel.cache.get("fast")
    if fg is None:
        fg = skel.cache["fast"] = _FastGraph(skel)
    return fg


def _add_rows(reach: list, rows: list) -> Optional[list]:
    """``reach`` (transitive closure rows) with the edges ``rows`` added: a
    new list, or None if they close a cycle."""
    out = None
    for a, bits in rows:
        while bits:
            low = bits & -bits
            b = low.bit_length() - 1
            bits ^= low
            cur = out if out is not None else reach
            if cur[b] >> a & 1 or a == b:
                return None
            if cur[a] & low:
                continue                  # already reachable
            if out is None:
                out = list(reach)
            mask = out[b] | low
            amask = 1 << a
            for x, row in enumerate(out):
                if x == a or row & amask:
                    out[x] = row | mask
    return out if out is not None else reach


def _still_acyclic(fg: _FastGraph, reach: list, opts: list) -> bool:
    for opt in opts:
        reach = _add_rows(reach, fg.option_rows(opt))
        if reach is None:
            return False
    return True


class _Tracker:
    """Follows the reads-from search of a skeleton whose locations are all
    constant (see ``solve.Search``): as soon as the last read of a location
    is chosen, the location's coherence options are looked up (a location
    with none cuts the branch), and a location with a single option adds its
    communication edges to a transitive closure of the fast graph
    (:func:`sc_acyclic`), kept per search level.  A leaf then has its options
    and, unless some location has several, its SC answer already."""

    def __init__(self, skel: Skeleton, info: LockInfo, prune=None) -> None:
        self.skel = skel
        self.info = info
        self.groups = groups(skel, skel.sloc)
        self.fg = _fast_graph(skel)
        # Early pruning: the model's check on the execution built so far.
        # Every axiom of every model here is monotone in rf, co and fr (they
        # appear only positively in hb, pb, rb, plain-coherence, ghb), so a
        # partial execution the model rejects has no allowed completion.
        # Only worth asking once the partial graph is not SC (otherwise the
        # model cannot reject it); given up after a run of useless tries.
        # (SRCU's per-execution options are not pruned, but srcu.collapse's
        # single option is a location like any other.)
        srcu = (skel.Srcu_lock | skel.Srcu_unlock) and not skel.srcu_locs
        self.prune = prune if (prune is not None and self.fg.ok and not srcu) else None
        self.tries = 0
        self.pruned = 0
        self.common: dict = {}        # id(options list) -> (it, common fast rows, common rels)

    def attach(self, search) -> None:
        level_of = {search.reads[i].idx: k for k, i in enumerate(search.order)}
        self.complete_at: dict = {}
        self.fixed = []
        for li, (l, ids, reads) in enumerate(self.groups):
            if reads:
                k = max(level_of[r] for r in reads)
                self.complete_at.setdefault(k, []).append(li)
            else:
                self.fixed.append(li)
        self.stack: dict = {}

    def start(self) -> bool:
        """The root: locations without reads; False if one has no option."""
        fg = self.fg
        self.opts: dict = {}
        self.multi: list = []
        self.broken = not fg.ok
        reach = None
        if fg.ok:
            closure = _closure(fg.succ)
            if closure is None:
                self.broken = True
            reach = closure
        self.reach = reach
        return self._enter(self.fixed, {})

    def _enter(self, lis: list, chosen: dict) -> bool:
        skel, fg = self.skel, self.fg
        for li in lis:
            l, ids, reads = self.groups[li]
            opts = options_for(skel, self.info, li, ids, tuple([chosen[r] for r in reads]))
            if not opts:
                return False
            self.opts[l] = opts
            if len(opts) > 1:
                self.multi.append(l)
            if not self.broken:
                rows = fg.option_rows(opts[0]) if len(opts) == 1 else self._common_rows(opts)
                reach = _add_rows(self.reach, rows)
                if reach is None:
                    self.broken = True
                else:
                    self.reach = reach
        return True

    def _common_rows(self, opts: list) -> list:
        """The fast-graph edges every option of a location has."""
        key = id(opts)
        hit = self.common.get(key)
        if hit is None or hit[0] is not opts:
            acc = dict(self.fg.option_rows(opts[0]))
            for opt in opts[1:]:
                other = dict(self.fg.option_rows(opt))
                acc = {i: b & other[i] for i, b in acc.items() if i in other and b & other[i]}
            hit = self.common[key] = (opts, sorted(acc.items()), _meet(opts))
        return hit[1]

    def chose(self, k: int, chosen: dict) -> bool:
        lis = self.complete_at.get(k)
        if not lis:
            self.stack[k] = None
            return True
        saved = (self.reach, self.broken, len(self.multi))
        if self._enter(lis, chosen) and not self._rejected(lis, chosen):
            self.stack[k] = (saved, lis)
            return True
        self._restore(saved, lis)
        return False

    def _rejected(self, lis: list, chosen: dict) -> bool:
        if self.prune is None or not self.broken:
            return False
        partial = Solution(self.skel, {}, dict(chosen), self.skel.sloc)
        partial.lock = self.info
        partial.loc_rel = self.loc_rel
        return self.rejects(partial, {l: opts[0] for l, opts in self.opts.items()
                                      if len(opts) == 1}, self._common_rels())

    def _common_rels(self) -> list:
        rels = [[], [], []]
        for l in self.multi:
            self._common_rows(self.opts[l])
            meet = self.common[id(self.opts[l])][2]
            for k in range(3):
                rels[k].extend(meet[k])
        return rels

    def rejects(self, sol: Solution, options: dict, extra=None) -> bool:
        """Whether the model rejects the execution made of ``options`` (a
        subset of the locations) and ``extra`` rows -- and so every
        execution extending it."""
        if self.tries >= 64 and self.pruned * 16 < self.tries:
            return False                  # pruning does not pay for this test
        self.tries += 1
        allowed, _ = self.prune(Candidate(sol, dict(options), extra))
        if not allowed:
            self.pruned += 1
        return not allowed

    def undo(self, k: int) -> None:
        entry = self.stack.pop(k, None)
        if entry is not None:
            self._restore(*entry)

    def _restore(self, saved, lis) -> None:
        self.reach, self.broken, nmulti = saved
        del self.multi[nmulti:]
        for li in lis:
            self.opts.pop(self.groups[li][0], None)

    def leaf(self, sol: Solution) -> None:
        sol.options = dict(self.opts)
        sol.sc = (self.reach, self.broken, self.fg)
        sol.tracker = self


def _closure(succ: list) -> Optional[list]:
    from .solve import transitive_closure
    return transitive_closure(succ)
