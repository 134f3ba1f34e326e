"""Candidate executions as a product of per-location choices (issue 17.6).

A test of many processes with one or two accesses each (herdtools' diy
cycles, RCU grace-period rings) has about 2**N candidate executions and as
many final states, of which only a handful are not sequentially consistent:
the checker's cost was the enumeration (60 us per execution), not the
model.  When every value written is a constant and no ``if`` depends on a
read, the choices of different locations are independent except through
the model's axioms: the executions are the product, over locations, of each
location's *choices* (the writes its reads read from and one of its
coherence/lock-rf options, ``coherence.options_for``), and each final
register or location value is decided by one location's choice.

Soundness rests on two facts ``executions`` already uses: an execution
whose program order and communication (RCU read-side critical sections
contracted) is acyclic is allowed by every model here (``sc_acyclic``), and
every axiom the model checks is a cycle of relations that are unions of
such paths, monotone in rf, co and fr (``_Tracker``).  Hence:

1. Locations are split into independent *parts*: two are coupled when
   their edges can meet in one strongly connected component of the graph of
   all choices' edges; a model's cycle stays inside one.  An execution is
   allowed iff each part's partial execution (its locations plus those with
   a single choice) is.  Parts are searched apart, locations on no cycle
   at all are free factors.
   A location whose coherence order program order fixes (one writing
   thread) and whose reads have no other access to it in their thread is
   split: each read chooses its source alone (IRIW with many readers is a
   product of 2-choice factors, not one location with 2**readers).
2. A part is searched location by location, keeping the transitive closure
   of the fast graph.  A choice is *dangerous* when one of its edges a->b
   can lie on a cycle: b reaches a through the closure, the choice's own
   edges and every choice of every *other* remaining location.  With no
   dangerous choice left, every completion is sequentially consistent: the
   whole subtree is one block, counted as a product.  Otherwise the search
   branches on a location with a dangerous choice.
3. Once the choices close a cycle, the model decides: a rejected partial
   execution (plus what every remaining choice has in common) cuts the
   subtree; when no remaining choice can touch a cycle any more, one model
   check decides the whole subtree; at a leaf, one check.
4. Blocks are counted by C-level iterators (``itertools.product``), and the
   condition's positive count, for a conjunction of slot = value, by
   multiplying per-location counts; states come out in sorted runs.

So a ring of N processes costs O(N) search nodes and one model check, and
its 2**N states are built by ``itertools.product``.  Tests it does not fit
(values computed from reads, ``if`` conditions, addresses read from memory,
SRCU, registers combining several reads), or does not pay for (few
locations, a lock with many choices) return None from :func:`factor` and
go through ``executions.solutions`` as before.  The flags of every allowed
execution are the model's ``uniform_flags``; with plain accesses that may
race, all but data-race, which :meth:`Factored.find_race` looks for with
the model's full check (up to RACE_CHECKS executions, then the search
decides).
"""

from __future__ import annotations

import itertools
from itertools import chain
from math import prod
from operator import itemgetter
from typing import Iterator, Optional

from .coherence import _fixed_co, _fixed_option, groups, lock_info, options_for
from .errors import EvalError
from .executions import (
    Candidate,
    _add_rows,
    _closure,
    _fast_graph,
    _loc_relation,
    _meet,
    option_rels,
)
from .skeleton import MAX_VALUES, VARIES, Skeleton, invariant
from .solve import Search, Solution, co_graph
from .terms import Unresolved, Var, evaluate


def _value_key(v):
    # herd7's order of values (check._value_key): integers before addresses.
    return (0, v) if type(v) is int else (1, v.name)


CHUNK = 16384          # states counted between two meter steps (progress, budget)
# When the product pays: enough locations with a choice for the candidates
# to number hundreds, none with so many choices (a lock taken by every
# process) that the reads-from search's finer pruning does better.  Tests
# set MIN_LOCATIONS to 0 to check the product path against the search.
MIN_LOCATIONS = 6
MAX_CHOICES = 24
# Full model checks spent looking for a data race (plain accesses) before
# leaving the test to the reads-from search, which checks every execution.
RACE_CHECKS = 256


def _full_rows(fg, opt) -> list:
    """All of an option's rf, co and fr edges over the fast graph's nodes
    (those program order implies too), as (node, successors) pairs."""
    return _edge_rows(fg, ((i, j) for rows in option_rels(opt)
                           for i, bits in rows for j in _bits(bits)))


def _edge_rows(fg, edges) -> list:
    """Event edges over the fast graph's nodes, as (node, successors) pairs
    (from an initial write or inside one node: left out)."""
    node = fg.node
    acc: dict = {}
    for i, j in edges:
        na, nb = node[i], node[j]
        if na is not None and nb is not None and na != nb:
            acc[na] = acc.get(na, 0) | (1 << nb)
    return sorted(acc.items())


class _Choice:
    __slots__ = ("srcs", "opt", "rows", "full", "vals")

    def __init__(self, srcs: tuple, opt, rows: list, full: list, vals: tuple) -> None:
        self.srcs = srcs      # the write each read of the location reads from
        self.opt = opt        # its coherence.LocOption
        self.rows = rows      # its edges over the fast graph's nodes (po-implied left out)
        self.full = full      # all its edges over those nodes (rfi, coi, fri too)
        self.vals = vals      # the values of the location's slots (see _Comp.slots)


class _Comp:
    """One location: its reads, choices, and the condition slots it decides.
    (A _Part, several coupled locations materialised, has slots and contribs
    too, and goes wherever a _Comp's product is taken.)"""

    __slots__ = ("loc", "li", "reads", "choices", "slots", "union", "full", "meet",
                 "contribs", "split")

    def __init__(self, loc: str, li: int, reads: list) -> None:
        self.loc = loc
        self.li = li
        self.reads = reads
        self.choices: list = []
        self.slots: list = []          # indices into the condition's value list
        self.union: dict = {}          # node -> successors, over all choices (rows)
        self.full: dict = {}           # the same over all choices' full edges
        self.meet = None               # (rf, co, fr) rows every choice has
        self.contribs = None           # distinct slot values -> how many choices
        self.split = None              # a read of a fixed-co location: that co


class _Part:
    """Coupled locations whose allowed choices were enumerated: the distinct
    values of their slots -> how many allowed executions give them."""

    __slots__ = ("slots", "contribs")

    def __init__(self, slots: list, contribs: dict) -> None:
        self.slots = slots
        self.contribs = contribs


def _rows_union(rows_list) -> dict:
    acc: dict = {}
    for rows in rows_list:
        for a, bits in rows:
            acc[a] = acc.get(a, 0) | bits
    return acc


def _sccs(succ: list) -> list:
    """Strongly connected component number of every node (Tarjan, iterative)."""
    n = len(succ)
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    stack: list = []
    on = [False] * n
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, _bits(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on[root] = True
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = True
                    work.append((w, _bits(succ[w])))
                    advanced = True
                    break
                if on[w]:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on[w] = False
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
    return comp


def _bits(x: int):
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def _reaches(g: list, src_bits: int, target: int) -> bool:
    """Whether some node of ``src_bits`` reaches a node of ``target`` in g."""
    seen = frontier = src_bits
    while frontier:
        nxt = 0
        x = frontier
        while x:
            lb = x & -x
            nxt |= g[lb.bit_length() - 1]
            x ^= lb
        if nxt & target:
            return True
        frontier = nxt & ~seen
        seen |= nxt
    return False


class Factored:
    """One skeleton's executions as a product (see the module docstring)."""

    def __init__(self, skel: Skeleton, mod, info, comps: list, fixed_vals: list,
                 flags: set) -> None:
        self.skel = skel
        self.mod = mod
        self.info = info
        self.comps = comps             # locations with several choices
        self.fixed = fixed_vals        # value list with the single-choice slots filled
        self.flags = flags             # of every allowed execution (uniform_flags)
        self.fg = _fast_graph(skel)
        self.loc_rel = _loc_relation(skel, skel.sloc)
        self.single: list = []         # (comp, its only choice)
        self.write_value: dict = {}    # write event -> the constant it writes
        self.pruned = 0
        self.tries = 0
        self.full_checks = 0
        self.nblocks = 0               # blocks counted (by the caller)
        self.meter = None              # the check's budget.Meter
        self.ints = True               # every value a slot can take is an int
        self.race = False              # data-race to be looked for (find_race)

    # ------------------------------------------------------------ search
    def blocks(self) -> Iterator[tuple]:
        """(chosen, rest, flags): the executions made of ``chosen`` (comp
        index -> _Choice) and any choice of each comp or _Part of ``rest``
        are all allowed, with ``flags``.

        The locations are first split into independent parts: two locations
        are coupled when edges of theirs can lie in one strongly connected
        component of the graph of every choice's edges (a model's cycle is a
        closed walk of program order and communication, so it stays inside
        one); a location coupled to none is free.  An execution is allowed
        iff, for every part, the partial execution of that part's locations
        (and those with a single choice) is: each part is searched alone,
        the largest one block by block, the others enumerated into _Parts."""
        if self.comps is None:
            return
        fg = self.fg
        base_full = list(fg.succ)
        for _, ch in self.single:
            for a, bits in ch.full:
                base_full[a] |= bits
        may = list(base_full)
        for c in self.comps:
            for a, bits in c.full.items():
                may[a] |= bits
        scc = _sccs(may)
        parent = list(range(len(self.comps)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first_in: dict = {}            # scc -> first comp with an edge inside it
        coupled = [False] * len(self.comps)
        for i, c in enumerate(self.comps):
            for a, bits in c.full.items():
                for b in _bits(bits):
                    if scc[a] == scc[b]:
                        coupled[i] = True
                        j = first_in.setdefault(scc[a], i)
                        parent[find(i)] = find(j)
        groups_: dict = {}
        free = []
        for i in range(len(self.comps)):
            if coupled[i]:
                groups_.setdefault(find(i), []).append(i)
            else:
                free.append(self.comps[i])
        parts = sorted(groups_.values(), key=lambda g: (-len(g), g))
        self.base_full = base_full
        reach = _closure(fg.succ)
        for _, ch in self.single:
            if reach is None:
                break
            reach = _add_rows(reach, ch.rows)
        self.reach0 = reach
        if not parts:
            yield {}, free, self.flags
            return
        others = []
        for part in parts[1:]:
            mat = self._materialise(part)
            if not mat.contribs:
                return                     # a part with no allowed execution
            others.append(mat)
        rest = others + free
        for chosen, rem, flags in self._search(parts[0]):
            yield chosen, [self.comps[i] for i in rem] + rest, flags

    def _search(self, part: list) -> Iterator[tuple]:
        """The blocks of one part: (chosen, remaining comp indices, flags)."""
        yield from self._node(self.reach0, self.reach0 is None, {}, list(part))

    def _materialise(self, part: list) -> _Part:
        comps = self.comps
        slots = sorted(k for i in part for k in comps[i].slots)
        where = {k: p for p, k in enumerate(slots)}
        contribs: dict = {}
        for chosen, rem, _flags in self._search(part):
            vals = [None] * len(slots)
            for c, ch in chosen.items():
                for k, v in zip(comps[c].slots, ch.vals):
                    vals[where[k]] = v
            rcomps = [comps[i] for i in rem]
            poll = self.meter.poll_time   # (budget and progress in a long part)
            for combo in itertools.product(*(list(c.contribs.items()) for c in rcomps)):
                poll()
                cnt = 1
                for c, (cv, m) in zip(rcomps, combo):
                    cnt *= m
                    for k, v in zip(c.slots, cv):
                        vals[where[k]] = v
                key = tuple(vals)
                contribs[key] = contribs.get(key, 0) + cnt
        ordered = sorted(contribs, key=lambda t: [_value_key(v) for v in t])
        return _Part(slots, {t: contribs[t] for t in ordered})

    def _node(self, reach, broken: bool, chosen: dict, rem: list) -> Iterator[tuple]:
        comps = self.comps
        self.meter.poll_time()
        if broken:
            # A cycle already: only the model can tell.
            if not rem:
                allowed, flags = self._model(chosen)
                if allowed:
                    yield dict(chosen), [], flags      # counted by tally
                else:
                    self.meter.step()                  # a candidate, rejected
                return
            g = list(self.base_full)
            for ch in chosen.values():
                for a, bits in ch.full:
                    g[a] |= bits
            danger = self._dangerous(g, rem, "full")
            if not danger:
                # No remaining choice can lie on a cycle: the model's answer
                # is the same for all of them (its cycles are closed walks).
                rep = dict(chosen)
                for i in rem:
                    rep[i] = comps[i].choices[0]
                allowed, flags = self._model(rep)
                if allowed:
                    yield dict(chosen), rem, flags
                else:
                    self.pruned += 1
                    self.meter.step(prod(len(comps[i].choices) for i in rem))
                return
            if self._rejects(chosen, rem):
                self.pruned += 1
                return
            c = min(danger, key=lambda i: len(comps[i].choices))
            rest = [i for i in rem if i != c]
            for ch in comps[c].choices:
                chosen[c] = ch
                yield from self._node(None, True, chosen, rest)
            del chosen[c]
            return
        danger = self._dangerous(reach, rem, "rows", closed=True) if rem else []
        if not danger:
            yield dict(chosen), rem, self.flags
            return
        c = min(danger, key=lambda i: len(comps[i].choices))
        rest = [i for i in rem if i != c]
        for ch in comps[c].choices:
            chosen[c] = ch
            r2 = _add_rows(reach, ch.rows)
            if r2 is None:
                yield from self._node(None, True, chosen, rest)
            else:
                yield from self._node(r2, False, chosen, rest)
        del chosen[c]

    def _dangerous(self, base: list, rem: list, kind: str, closed: bool = False) -> list:
        """The remaining comps with a choice that may lie on a cycle of
        ``base`` plus that choice's edges plus every choice of the other
        remaining comps (``kind``: "rows" or "full" edges)."""
        count = self.fg.count
        union_of = (lambda c: c.union) if kind == "rows" else (lambda c: c.full)
        if closed:
            # Cheap first: the closure plus every choice of every comp acyclic.
            union = list(base)
            for i in rem:
                for a, bits in union_of(self.comps[i]).items():
                    union[a] |= bits
            if _closure(union) is not None:
                return []
        k = len(rem)
        pre = [None] * (k + 1)
        pre[0] = list(base)
        for j, i in enumerate(rem):
            row = list(pre[j])
            for a, bits in union_of(self.comps[i]).items():
                row[a] |= bits
            pre[j + 1] = row
        suf = [0] * count
        out = []
        for j in range(k - 1, -1, -1):
            i = rem[j]
            base_j = pre[j]
            others = [base_j[x] | suf[x] for x in range(count)]
            comp = self.comps[i]
            for ch in comp.choices:
                rows = ch.rows if kind == "rows" else ch.full
                if rows and self._on_cycle(others, rows):
                    out.append(i)
                    break
            for a, bits in union_of(comp).items():
                suf[a] |= bits
        out.reverse()
        return out

    @staticmethod
    def _on_cycle(others: list, rows: list) -> bool:
        """Whether an edge of ``rows`` lies on a cycle of others + rows."""
        g = list(others)
        for a, bits in rows:
            g[a] |= bits
        for a, bits in rows:
            if _reaches(g, bits, 1 << a):
                return True
        return False

    # ------------------------------------------------------------ the model
    def _solution(self, chosen: dict) -> Solution:
        skel = self.skel
        env: dict = {}
        rf_mem: dict = {}
        pairs = [(self.comps[c], ch) for c, ch in chosen.items()] + self.single
        for comp, ch in pairs:
            for r, w in zip(comp.reads, ch.srcs):
                rf_mem[r] = w
                env[skel.events[r].key] = self.write_value[w]
        sol = Solution(skel, env, rf_mem, skel.sloc)
        sol.lock = self.info
        sol.loc_rel = self.loc_rel
        return sol

    def _options(self, chosen: dict) -> dict:
        options: dict = {}
        split: dict = {}              # fixed-co location -> (co, rf of its chosen reads)
        for comp, ch in [(self.comps[c], ch) for c, ch in chosen.items()] + self.single:
            if comp.split is None:
                options[comp.loc] = ch.opt
            else:
                rf = split.setdefault(comp.loc, (comp.split, []))[1]
                rf.extend(zip(ch.srcs, comp.reads))
        for loc, (fixed, rf) in split.items():
            options[loc] = _fixed_option(fixed, rf)
        return options

    def _model(self, chosen: dict) -> tuple:
        self.full_checks += 1
        return self.mod.check(Candidate(self._solution(chosen), self._options(chosen)))

    def _rejects(self, chosen: dict, rem: list) -> bool:
        if self.tries >= 64 and self.pruned * 16 < self.tries:
            return False                  # pruning does not pay for this test
        self.tries += 1
        extra = [[], [], []]
        for i in rem:
            for k in range(3):
                extra[k].extend(self.comps[i].meet[k])
        partial = Solution(self.skel, {}, {}, self.skel.sloc)
        partial.lock = self.info
        partial.loc_rel = self.loc_rel
        allowed, _ = self.mod.check(Candidate(partial, self._options(chosen), extra))
        return not allowed

    # ------------------------------------------------------------ data races
    def find_race(self, blocks: list, keep) -> Optional[bool]:
        """Whether some execution of ``blocks`` that passes ``keep`` has a
        data race (the model's full check says): True at the first one,
        False when every execution was checked, None after RACE_CHECKS
        checks or when a block holds a part enumerated apart (the caller
        then takes the reads-from search)."""
        index = {id(c): i for i, c in enumerate(self.comps)}
        limit = RACE_CHECKS
        checks = 0
        for chosen, rest, _flags in blocks:
            if any(id(c) not in index for c in rest):
                return None               # a _Part: its choices are gone
            rem = [index[id(c)] for c in rest]
            for combo in itertools.product(*(self.comps[i].choices for i in rem)):
                full = dict(chosen)
                full.update(zip(rem, combo))
                if keep is not None and not keep(self._values(full)):
                    continue
                if checks >= limit:
                    return None
                checks += 1
                self.meter.poll_time()
                allowed, flags = self._model(full)
                if allowed and "data-race" in flags:
                    return True
        return False

    def _values(self, chosen: dict) -> list:
        values = list(self.fixed)
        for c, ch in chosen.items():
            for k, v in zip(self.comps[c].slots, ch.vals):
                values[k] = v
        return values

    # ------------------------------------------------------------ counting
    def tally(self, chosen: dict, rem: list, keep, holds, nshown: int,
              states: dict, meter) -> tuple:
        """Count one block: (allowed, kept by the filter, positive, negative);
        its states are added to ``states`` (a dict used as an ordered set), in
        ascending order when each location decides at most one slot.  The
        states are built and counted by C-level iterators (``map`` over
        ``itertools.product``), a chunk at a time between meter steps."""
        values = list(self.fixed)
        for c, ch in chosen.items():
            for k, v in zip(self.comps[c].slots, ch.vals):
                values[k] = v
        comps = rem
        weight = prod(sum(c.contribs.values()) for c in comps if not c.slots)
        sloted = sorted((c for c in comps if c.slots), key=lambda c: c.slots[0])
        n = len(values)
        weighted = any(m != 1 for c in sloted for m in c.contribs.values())
        if all(len(c.slots) == 1 for c in sloted):
            # One factor per slot, in slot order: product() yields the states.
            lists = [[v] for v in values]
            for c in sloted:
                lists[c.slots[0]] = [vals[0] for vals in c.contribs]
            seq = itertools.product(*lists)
            mults = [[1] * len(vs) for vs in lists]
            for c in sloted:
                mults[c.slots[0]] = list(c.contribs.values())
        else:
            owned = {k for c in sloted for k in c.slots}
            free = [k for k in range(n) if k not in owned]
            order = free + [k for c in sloted for k in c.slots]
            pos_of = {k: p for p, k in enumerate(order)}
            perm = [pos_of[k] for k in range(n)]
            getter = itemgetter(*perm) if n > 1 else (lambda t, p=perm[0]: (t[p],))
            lists = [[tuple(values[k] for k in free)]] + [list(c.contribs) for c in sloted]
            seq = map(getter, map(tuple, map(chain.from_iterable, itertools.product(*lists))))
            mults = [[1]] + [list(c.contribs.values()) for c in sloted]
            lists = None        # factors are not slots: no counting by product
        conj = getattr(holds, "conj", None)
        if keep is None and conj is not None and lists is not None:
            # The condition a conjunction of slot = value: the positive
            # executions are a product too (count the matching values).
            want = dict(conj)
            if len(want) == len(conj):          # no slot named twice
                total = prod(sum(ms) for ms in mults) * weight
                p = prod(sum(m for v, m in zip(vs, ms) if k not in want or v == want[k])
                         for k, (vs, ms) in enumerate(zip(lists, mults))) * weight
                meter.step(total)
                for chunk in iter(lambda: list(itertools.islice(seq, CHUNK)), []):
                    states.update(dict.fromkeys(
                        map(itemgetter(slice(0, nshown)), chunk) if nshown < n else chunk))
                    meter.extra["states"] = len(states)
                    meter.poll()
                return total, total, p, total - p
        weights = map(prod, itertools.product(*mults)) if weighted else None
        allowed = kept = pos = neg = 0
        trim = nshown < n
        while True:
            chunk = list(itertools.islice(seq, CHUNK))
            if not chunk:
                break
            ws = list(itertools.islice(weights, len(chunk))) if weighted else None
            total = (sum(ws) if weighted else len(chunk)) * weight
            allowed += total
            meter.step(total)
            if keep is not None:
                if weighted:
                    pairs = [(v, w) for v, w in zip(chunk, ws) if keep(v)]
                    chunk = [v for v, _ in pairs]
                    ws = [w for _, w in pairs]
                else:
                    chunk = list(filter(keep, chunk))
                total = (sum(ws) if weighted else len(chunk)) * weight
            kept += total
            if weighted:
                p = sum(w for v, w in zip(chunk, ws) if holds(v)) * weight
            else:
                p = sum(map(holds, chunk)) * weight
            pos += p
            neg += total - p
            states.update(dict.fromkeys(map(itemgetter(slice(0, nshown)), chunk) if trim
                                        else chunk))
            meter.extra["states"] = len(states)
        return allowed, kept, pos, neg


def _invariant(skel: Skeleton, term, write_value: dict):
    """The one value ``term`` takes whatever its reads return (each read
    may return any value ``write_value`` says its location can hold), or
    VARIES (see ``skeleton.invariant``)."""
    def domain_of(key):
        loc = skel.sloc[skel.var_event[key]]
        if loc is None:
            return None
        dom = {v for w, v in write_value.items() if skel.sloc[w] == loc}
        return sorted(dom, key=_value_key) if dom else None
    return invariant(term, domain_of)


def _invariant_write_values(skel: Skeleton) -> Optional[dict]:
    """Every write's value, or None when one depends on what a read returns.

    Values computed from reads are tried against every value their
    locations can hold, to a fixed point: the constants and initial values
    first, then each computed value once it is known to be one value
    (srcu_read_unlock() writes back the index srcu_read_lock() read)."""
    write_value: dict = {}
    computed = []
    for e in skel.events:
        if e.kind != "W":
            continue
        if e.ev is None:
            write_value[e.idx] = e.init_value
        elif not e.ev.val.vars:
            try:
                write_value[e.idx] = evaluate(e.ev.val, {})
            except (EvalError, Unresolved):
                return None
        else:
            computed.append(e)
    while computed:
        # Assume each computed write holds the value it takes over the
        # values known so far; the assumption must then reproduce itself.
        guess = dict(write_value)
        for e in computed:
            v = _invariant(skel, e.ev.val, write_value)
            if v is VARIES:
                return None
            guess[e.idx] = v
        for _ in range(MAX_VALUES):
            again = {e.idx: _invariant(skel, e.ev.val, guess) for e in computed}
            if any(v is VARIES for v in again.values()):
                return None
            if all(again[i] == guess[i] for i in again):
                return guess
            guess.update(again)
        return None
    return write_value


def factor(skel: Skeleton, locations: set, mod, reg_slots: list, loc_slots: list,
           nslots: int, init_values: dict) -> Optional[Factored]:
    """The product form of ``skel``'s executions, or None if it does not
    apply (see the module docstring)."""
    uniform = getattr(mod, "uniform_flags", None)
    # At most one factor per location and per read (n_init: one initial
    # write per location): too few, and the search is as quick.
    if (uniform is None or skel.n_init + bin(skel.Rb).count("1") < MIN_LOCATIONS
            or skel.dynamic or skel.constraints):
        return None
    if (skel.Srcu_lock | skel.Srcu_unlock | skel.Sync_srcu) and not skel.srcu_locs:
        return None                       # every srcu_struct option enumerated: the search
    fg = _fast_graph(skel)
    if not fg.ok:
        return None
    events = skel.events
    write_value = _invariant_write_values(skel)
    if write_value is None:
        return None                       # a value that depends on what a read returns
    # Which location decides each slot of the condition's value list.
    owner: dict = {}
    const: dict = {}
    for k, proc, name in reg_slots:
        term = skel.paths[proc].reg(name)
        if type(term) is Var:
            owner[k] = ("reg", skel.var_event[term.key])
        else:
            v = _invariant(skel, term, write_value)
            if v is VARIES:
                return None               # a register computed from several reads
            const[k] = v
    for k, name in loc_slots:
        owner[k] = ("loc", name)

    info = lock_info(skel, skel.sloc)
    dummy = Solution(skel, {}, {}, skel.sloc)
    dummy.loc_rel = _loc_relation(skel, skel.sloc)
    if info is None:
        fac = Factored(skel, mod, None, None, [], set())
        return fac
    dummy.lock = info
    flags = uniform(dummy)
    race = False
    if flags is None and getattr(mod, "may_race", None) is not None and mod.may_race(dummy):
        # Plain accesses that may race: the flags but data-race are uniform;
        # Factored.find_race looks for one racy execution.
        flags = uniform(dummy, but_races=True)
        race = True
    if flags is None:
        return None

    search = Search(skel, locations, [])
    cands = {r.idx: lst for r, lst in zip(search.reads, search.cands)}
    fixed = [None] * nslots
    for k, v in const.items():
        fixed[k] = v
    comps: list = []
    single: list = []
    pending: list = []
    for li, (l, ids, reads) in enumerate(groups(skel, skel.sloc)):
        fixed_co = _fixed_co(skel, li, ids)
        if (fixed_co is not None and len(reads) > 1
                and not any(r in search.cobase_for for r in reads)):
            # Coherence fixed by program order and no read with another
            # access to the location in its thread: each read chooses its
            # source alone (a location read by many processes is many
            # small factors, not one with 2**readers choices).
            co, _chain, pos = fixed_co
            base = _Comp(l, li, [])
            base.split = fixed_co
            opt = _fixed_option(fixed_co, [])
            base.slots = [k for k, (what, x) in owner.items() if what == "loc" and x == l]
            last = write_value[co[-1]]
            base.choices = [_Choice((), opt, fg.option_rows(opt), _full_rows(fg, opt),
                                    tuple(last for _ in base.slots))]
            pending.append(base)
            for r in reads:
                comp = _Comp(l, li, [r])
                comp.split = fixed_co
                comp.slots = sorted(k for k, (what, x) in owner.items()
                                    if what == "reg" and x == r)
                for w in cands[r]:
                    edges = [(w, r)] + [(r, x) for x in co[pos[w] + 1:]]
                    rows = sorted(fg._rows(edges, {}).items())
                    comp.choices.append(_Choice((w,), None, rows, _edge_rows(fg, edges),
                                                tuple(write_value[w] for _ in comp.slots)))
                comp.meet = ([], [], [])      # none assumed: weaker pruning, still sound
                pending.append(comp)
            continue
        comp = _Comp(l, li, reads)
        for k, (what, x) in owner.items():
            if (what == "reg" and skel.sloc[x] == l) or (what == "loc" and x == l):
                comp.slots.append(k)
        comp.slots.sort()
        check_co = any(r in search.cobase_for for r in reads)
        if prod(len(cands[r]) for r in reads) > 4 * MAX_CHOICES:
            return None                   # (a lock every process takes): see MAX_CHOICES
        for srcs in itertools.product(*(cands[r] for r in reads)):
            if check_co:
                pairs = list(zip(reads, srcs))
                if co_graph(events, search.writes_at[l], pairs, skel.rmw_partner,
                            feasible_only=True) is None:
                    continue
            src_of = dict(zip(reads, srcs))
            for opt in options_for(skel, info, li, ids, srcs):
                vals = []
                for k in comp.slots:
                    what, x = owner[k]
                    if what == "reg":
                        vals.append(write_value[src_of[x]])
                    else:
                        last = opt.co[-1]
                        kind = events[last].kind
                        vals.append(1 if kind == "LKW" else 0 if kind == "UL"
                                    else write_value[last])
                # A collapsed srcu_struct's edges lie on no cycle the
                # model checks (srcu.py): none for the coupling either.
                full = [] if l in skel.srcu_locs else _full_rows(fg, opt)
                comp.choices.append(_Choice(srcs, opt, fg.option_rows(opt), full, tuple(vals)))
            if len(comp.choices) > MAX_CHOICES:
                return None
        comp.meet = _meet([ch.opt for ch in comp.choices]) if comp.choices else None
        pending.append(comp)
    for comp in pending:
        if not comp.choices:
            return Factored(skel, mod, info, None, [], set())   # no execution at all
        if len(comp.choices) == 1:
            ch = comp.choices[0]
            single.append((comp, ch))
            for k, v in zip(comp.slots, ch.vals):
                fixed[k] = v
            continue
        comp.union = _rows_union(ch.rows for ch in comp.choices)
        comp.full = _rows_union(ch.full for ch in comp.choices)
        # Choices in ascending order of their slot values, so that blocks
        # come out sorted (see tally).
        comp.choices.sort(key=lambda ch: [_value_key(v) for v in ch.vals])
        counts: dict = {}
        for ch in comp.choices:
            counts[ch.vals] = counts.get(ch.vals, 0) + 1
        comp.contribs = counts
        comps.append(comp)
    if len(comps) < MIN_LOCATIONS or max((len(c.choices) for c in comps), default=0) > MAX_CHOICES:
        return None
    comps.sort(key=lambda c: c.slots[0] if c.slots else nslots)
    fac = Factored(skel, mod, info, comps, fixed, flags)
    fac.ints = (all(type(v) is int for v in fixed if v is not None)
                and all(type(v) is int for c in comps for vals in c.contribs for v in vals))
    fac.single = single
    fac.write_value = write_value
    fac.race = race
    return fac
