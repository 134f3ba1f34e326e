"""SRCU readers' srcu_struct accesses, counted instead of enumerated (issue 17.6).

linux-kernel.def maps ``srcu_read_lock(s)`` to a marked load of s tagged
srcu-lock and ``srcu_read_unlock(s, idx)`` to a marked store of idx to s
tagged srcu-unlock (linux-kernel.bell matches them through ``data``:
``srcu-rscs = ([Srcu-lock] ; carry-srcu-data ; data ; [Srcu-unlock]) &
loc``).  k readers of one srcu_struct therefore read and write it like any
location: herd7 enumerates every rf and co of those accesses, (k!)**2 of
them for k one-section readers (the co orders of the k stores times, for
each, the writes each load may read: sum over co of prod(position) =
k! * k!), for every execution of the other locations.  A ring of 8
processes with 4 readers took minutes.

:func:`collapse` proves, for one skeleton, that the choice of those rf/co
(an *option* O of the srcu_struct) never changes the model's verdict nor
its flags; then the checker searches one option, O_init (every
srcu_read_lock() reads the initial value), and counts each allowed
execution (k!)**2 times, so verdicts, states and herd7's Positive/Negative
counts stay exact.  Where the proof does not apply the test is checked as
before (every option enumerated).

The argument, from linux-kernel.cat / linux-kernel.bell (T: the
srcu_struct accesses, Srcu-lock and Srcu-unlock events and the struct's
initial write; O's edges are rf, co and fr between T events):

1. Conditions checked on the skeleton (``_static_ok``): only the LKMM;
   every access to an srcu_struct is an srcu_read_lock()/unlock();
   srcu-rscs is static (``rscs.static_srcu_rscs``), one section per
   thread, lock before unlock, the unlock storing exactly its lock's index
   (so every value of s is its initial value: no srcu-bad-value-match, and
   the index feeds nothing else: no addr, ctrl or other data out of a
   lock, no ctrl into T); a thread with an SRCU section has no fence, no
   release/acquire, RMW or lock events (so no ``fence``, ``strong-fence``,
   ``po-rel``, ``wmb``, ``po-unlock-lock-po`` edge touches T); no plain
   access anywhere (the plain-access relations use ``rb`` in ``xbstar``);
   the condition names neither s nor an index register.
2. Then every ``hb`` edge touching T has both ends in T: ``ppo`` inside a
   reader is ``data`` from the lock to its unlock (``to-w``), ``to-r``'s
   ``dep ; rfi`` and ``overwrite & int`` stay on s; ``rfe`` on s joins T
   events; ``prop`` from T is ``(overwrite & ext)? ; rfe?`` on s
   (``cumul-fence`` needs a fence or release in the reader), and nothing
   outside T reaches T by ``prop``.  ``hb`` restricted to T lies in
   ``po-loc | com`` on s, acyclic by coherence; so the ``happens-before``
   axiom does not depend on O.  ``pb = prop ; strong-fence ; hb*`` never
   touches T (no strong fence in a reader), so ``propagation`` does not
   either.
3. O reaches ``rb`` only through ``rcu-link = po? ; hb* ; pb* ; prop ;
   po``.  A link that uses T goes from a section's lock (the end of
   ``srcu-rscsi``) to another section's unlock (its start), and exists iff
   the second section's lock reads a write strictly co-after the write the
   first section's lock read: lock_B ->data unlock_B ->rfe lock_D, or
   lock_B ->fre w ->rfe lock_D (every path through T reduces to one of
   these).  Call such a link a T-link (B -> D).  O_init has none.  Since
   ``rb`` is irreflexive iff ``rcu-order ; rcu-link`` is (rotate the
   cycle: ``rb = prop ; po ; rcu-order ; po? ; hb* ; pb*``), O changes the
   verdict only by adding T-links to rcu-link.
4. Every ``rcu-order`` chain joined by rcu-links holds at least as many
   grace periods as critical sections (induction over its recursive
   definition), so a cycle of rcu-order and rcu-link has weight >= 0 when
   a grace period weighs +1 and a section -1.  A cycle that uses T-links
   splits into T-links and walks of ordinary links from a section to a
   section.  ``_links_ok`` bounds those walks: with rf, co and fr the
   union of every execution's (``lkmm.may_rcu_link``: the model's
   relations are monotone in them), every walk from a section to a section
   (both counted) weighs < 0.  Then no cycle uses a T-link, and O_init's
   verdict is every option's: each allowed execution counts (k!)**2 times.
5. Flags: srcu flags come from the static srcu-rscs (none here), lock
   flags do not involve s, and there are no plain accesses.
6. Otherwise (an odd ring's forbidden shape: grace periods side by side,
   more of them than readers) some options forbid executions O_init
   allows: SRCU-ring-5 with three grace periods allows 123 executions, not
   4 x 31.  When every grace period and section is SRCU's on the one
   struct s (``_one_flavour``), they are *counted* (``OrderCounter``):

   a. Conversely to 4, with one flavour every cyclic sequence of elements
      joined by rcu-links that weighs >= 0 is in ``rcu-order ; rcu-link``
      (any rotation is an rcu-order path: split a path of weight >= 0 at
      the first proper prefix of weight >= 0 whose rest weighs >= 0 and
      recurse; with no such split the path is ``gp ; link ; order ; link
      ; rscsi`` or ``rscsi ; link ; order ; link ; gp`` with an inner part
      of weight 0; every ``& loc`` holds, all events being on s).  So an
      option forbids an execution iff the links plus its T-links close a
      cycle of weight >= 0.
   b. The ordinary links are O_init's (``lkmm.rcu_link`` of the candidate
      O_init gives: by 3 its paths through T reach no element).  Per
      allowed execution, ``OrderCounter.matrix`` takes W[a][b], the
      heaviest walk of ordinary links from reader a to reader b (both
      counted; W[a][a] = -1; O_init allowing it, no cycle weighs >= 0).  A
      cycle with T-links is walks D1..B1, B1 -T-> D2, D2..B2, ... of total
      weight sum W[Di][Bi]; if no W[a][b] (a != b) is >= 0 no option
      forbids the execution.
   c. A T-link B -> D exists iff D's srcu_read_lock() reads a write
      strictly co-after the write B's reads: the option reaches the model
      only through the *weak order* of the readers by that write's place
      in co.  ``count_good`` sums, over the weak orders that close no
      cycle, how many options give each (a dynamic program over the
      levels, highest first; its docstring has the state and the count).
   d. Each allowed execution then counts as its number of options.  The
      reads-from search weighs each candidate (``OrderCounter.weight``);
      the product path counts (k!)**2 per execution and takes off, per
      execution some option forbids, the options that forbid it
      (``OrderCounter.correction``): a block of the product is split
      location by location while the union of its executions' links may
      hold a walk >= 0 between two readers (``risky``), so only those
      executions are visited (2**((n-3)/2) in an odd ring of n).
   Verdicts, states (every allowed execution keeps O_init) and herd7's
   Positive/Negative counts are those of the full enumeration.  Other
   tests where step 4 fails (synchronize_rcu() beside SRCU, several
   srcu_structs) enumerate every option as before.

Simplification: the proof is for the LKMM only (sc and tso order the
struct's accesses like any others: every option is still enumerated).
"""

from __future__ import annotations

from math import factorial
from typing import Optional

from .coherence import _fixed_option
from .executions import Candidate, option_rels
from .rscs import _bits, rcu_rscs, static_srcu_rscs
from .skeleton import LOCK_KINDS, Skeleton
from .terms import Var

# Leaves (single executions) the product path's correction may visit before
# leaving the test to the reads-from search (see OrderCounter.correction).
MAX_LEAVES = 1 << 14
NEG = -(1 << 40)       # "no walk": below every sum of element weights
LOW = NEG // 2


def collapse(skel: Skeleton, mod, reg_slots: list, loc_slots: list) -> int:
    """If the argument of the module docstring applies to ``skel`` under
    ``mod``, mark the skeleton (its srcu_struct reads read the initial
    value only, one co order; see ``Skeleton.srcu_locs``) and return how
    many options each allowed execution stands for; else 1 (unchanged)."""
    if not (skel.Srcu_lock | skel.Srcu_unlock) or getattr(mod, "may_rcu_link", None) is None:
        return 1
    pairs = _static_ok(skel, reg_slots, loc_slots)
    if pairs is None:
        return 1
    counter = None
    if not _links_ok(skel, mod):
        if getattr(mod, "rcu_link", None) is None or not _one_flavour(skel, pairs):
            return 1
        counter = OrderCounter(skel, mod, pairs)
    mult = 1
    readers: dict = {}
    for lock, _unlock in pairs:
        readers[skel.sloc[lock]] = readers.get(skel.sloc[lock], 0) + 1
    for k in readers.values():
        mult *= options_count(k)
    skel.srcu_locs = frozenset(readers)
    skel.srcu_init_only = frozenset(lock for lock, _ in pairs)
    skel.srcu_mult = mult
    skel.srcu_counter = counter
    return mult


def options_count(readers: int) -> int:
    """(k!)**2: the coherent rf/co options of an srcu_struct with ``readers``
    one-section readers (see the module docstring)."""
    return factorial(readers) ** 2


def _static_ok(skel: Skeleton, reg_slots: list, loc_slots: list) -> Optional[list]:
    """Condition 1 of the module docstring; the (lock, unlock) pairs, or None."""
    if skel.dynamic or skel.constraints:
        return None
    events = skel.events
    T = skel.Srcu_lock | skel.Srcu_unlock
    rscs = static_srcu_rscs(skel)
    if rscs is None:
        return None
    pairs = list(rscs.pairs())
    if (len(pairs) != bin(skel.Srcu_lock).count("1")
            or len(pairs) != bin(skel.Srcu_unlock).count("1")):
        return None                     # unmatched or shared locks/unlocks
    slocs = {skel.sloc[i] for i in _bits(T)}
    if None in slocs:
        return None
    for e in events[skel.n_init:]:
        if skel.sloc[e.idx] in slocs and e.kind != "F" and not (T >> e.idx & 1):
            return None                 # an access to s other than lock/unlock
    # No plain access anywhere (M \ Marked, linux-kernel.bell).
    marked = (skel.IW | skel.Once | skel.Release_b | skel.Acquire_b | skel.rmw_b.dom()
              | skel.rmw_b.rng() | T)
    for k in LOCK_KINDS:
        marked |= skel.kinds[k]
    if (skel.Rb | skel.Wb) & ~marked:
        return None
    lock_keys = set()
    reader_threads = set()
    for lock, unlock in pairs:
        el, eu = events[lock], events[unlock]
        if el.tid != eu.tid or el.tid in reader_threads or lock > unlock:
            return None                 # one section per thread, lock first
        reader_threads.add(el.tid)
        val = eu.ev.val
        if not (type(val) is Var and val.key == el.key):
            return None                 # the unlock stores its own lock's index
        if (skel.data_b.r[lock] != 1 << unlock or skel.addr_b.r[lock]
                or skel.ctrl_b.r[lock]):
            return None                 # the index flows elsewhere
        lock_keys.add(el.key)
    into_T = 0
    for rel in (skel.addr_b, skel.ctrl_b, skel.data_b):
        for i in range(skel.n):
            if not (T >> i & 1):
                into_T |= rel.r[i] & T
    if into_T:
        return None                     # a dependency from another read into T
    for tid in reader_threads:
        for i in skel.thread_events[tid]:
            e = events[i]
            if T >> i & 1:
                continue
            if e.kind not in ("R", "W") or e.atomic or e.tag != "once":
                return None             # a fence, RMW, lock, release/acquire
    for _k, proc, name in reg_slots:
        term = skel.paths[proc].reg(name)
        if any(v in lock_keys for v in term.vars):
            return None                 # an index register in the condition
    if any(name in slocs for _k, name in loc_slots):
        return None                     # the struct's value in the condition
    return pairs


def _links_ok(skel: Skeleton, mod) -> bool:
    """Condition 4 of the module docstring: every walk of rcu-links (over
    every execution's rf, co and fr at once) from a critical section to a
    critical section holds fewer grace periods than sections."""
    link = mod.may_rcu_link(skel)
    gps = skel.fence_tags.get("sync-rcu", 0) | skel.Sync_srcu
    # Elements: (start event, end event, weight).
    elems = [(g, g, 1) for g in _bits(gps)]
    sections = [(u, l, -1) for l, u in list(rcu_rscs(skel)[0].pairs())
                + list(static_srcu_rscs(skel).pairs())]
    elems += sections
    m = len(elems)
    succ = [[b for b in range(m) if link.r[elems[a][1]] >> elems[b][0] & 1] for a in range(m)]
    weight = [e[2] for e in elems]
    for src in range(m):
        if weight[src] > 0:
            continue
        # Longest walks from src (Bellman-Ford, maximising; a walk counts
        # every element it visits).
        best: list = [None] * m
        best[src] = weight[src]
        for _ in range(m + 1):
            changed = False
            for a in range(m):
                if best[a] is None:
                    continue
                for b in succ[a]:
                    w = best[a] + weight[b]
                    if best[b] is None or w > best[b]:
                        best[b] = w
                        changed = True
            if not changed:
                break
        else:
            return False                # a walk of growing weight: unbounded
        if any(best[b] is not None and best[b] >= 0 for b in range(m) if weight[b] < 0):
            return False
    return True



def _one_flavour(skel: Skeleton, pairs: list) -> bool:
    """Step 6's condition: every grace period and critical section is
    SRCU's, on the one srcu_struct the readers use (no synchronize_rcu(),
    no rcu_read_lock()), so rcu-order's ``& loc`` always holds and the
    weight criterion is exact (see the module docstring)."""
    if skel.fence_tags.get("sync-rcu", 0) or not rcu_rscs(skel)[0].is_empty():
        return False
    slocs = {skel.sloc[lock] for lock, _ in pairs}
    if len(slocs) != 1:
        return False
    (s,) = slocs
    return all(skel.sloc[g] == s for g in _bits(skel.Sync_srcu))


class OrderCounter:
    """How many of the srcu_struct's (k!)**2 options allow one execution of
    the other locations (step 6 of the module docstring).

    The elements of rcu-order are the grace periods (weight +1) and the
    critical sections (weight -1); the readers are the sections on the
    struct, numbered in program order of their srcu_read_lock()."""

    def __init__(self, skel: Skeleton, mod, pairs: list) -> None:
        self.skel = skel
        self.mod = mod
        gps = list(_bits(skel.Sync_srcu))
        pairs = sorted(pairs)
        # (the event links arrive at, the event they leave from, weight)
        self.nodes = [(g, g, 1) for g in gps] + [(u, lock, -1) for lock, u in pairs]
        self.first_reader = len(gps)
        self.k = len(pairs)
        self.total = options_count(self.k)
        self.memo: dict = {}
        self.leaves = 0

    # ------------------------------------------------------------ one execution
    def matrix(self, cand: Candidate) -> Optional[tuple]:
        """The readers' walk matrix of ``cand`` (whose rf/co/fr may be a
        union of several executions'): W[a][b] the largest weight of a walk
        of rcu-links from reader a to reader b, counting both (W[a][a] = -1);
        None when some cycle of links weighs >= 0 (no bound)."""
        link = self.mod.rcu_link(cand).r
        nodes = self.nodes
        m = len(nodes)
        w = [n[2] for n in nodes]
        W = [[NEG] * m for _ in range(m)]
        for a in range(m):
            W[a][a] = w[a]
            row = link[nodes[a][1]]
            if not row:
                continue
            for b in range(m):
                if b != a and row >> nodes[b][0] & 1:
                    W[a][b] = w[a] + w[b]
                elif b == a and row >> nodes[a][0] & 1 and w[a] >= 0:
                    return None           # a grace period linked to itself
        for x in range(m):
            wx = w[x]
            Wx = W[x]
            for a in range(m):
                ax = W[a][x]
                if ax <= LOW:
                    continue
                Wa = W[a]
                for b in range(m):
                    v = ax + Wx[b] - wx
                    if v > Wa[b]:
                        Wa[b] = v
        for a in range(m):
            Wa = W[a]
            for b in range(m):
                # a closed walk through a and b counting each once
                if b != a and Wa[b] > LOW and W[b][a] > LOW and Wa[b] + W[b][a] - w[a] - w[b] >= 0:
                    return None
        r = self.first_reader
        return tuple(tuple(W[a][r:]) for a in range(r, m))

    @staticmethod
    def risky(W: Optional[tuple]) -> bool:
        """Whether some option may close a cycle: a walk of weight >= 0
        from a reader to another (one T-link closes it), or no bound."""
        if W is None:
            return True
        return any(v >= 0 for a, row in enumerate(W) for b, v in enumerate(row) if a != b)

    def weight(self, cand: Candidate) -> int:
        """How many options allow ``cand``, an execution the model allows
        with every srcu_read_lock() reading the initial value."""
        W = self.matrix(cand)
        if W is None:
            raise ValueError("internal error: srcu.OrderCounter: an allowed execution "
                             "whose rcu-links close a cycle")
        if not self.risky(W):
            return self.total
        good = self.memo.get(W)
        if good is None:
            good = self.memo[W] = count_good(W, self.k)
        return good

    # ------------------------------------------------------------ the product path
    def correction(self, fac, blocks: list, keep, holds) -> Optional[tuple]:
        """What to take off the product's counts (each allowed execution
        counted ``total`` times) for the executions some options forbid:
        (allowed, positive, negative); None when a block holds a part
        enumerated apart (its choices are gone) that may matter, or after
        MAX_LEAVES executions (the caller then takes the reads-from search,
        which weighs each execution itself)."""
        index = {id(c): i for i, c in enumerate(fac.comps or [])}
        self.leaves = 0
        acc = [0, 0, 0]
        unions: dict = {}
        for chosen, rest, _flags in blocks:
            rem = []
            parts = False
            for c in rest:
                if id(c) in index:
                    rem.append(index[id(c)])
                else:
                    parts = True
            if parts:
                if self.risky(self.matrix(self._union(fac, chosen, rem, unions, loose=True))):
                    return None
                continue
            if not self._refine(fac, dict(chosen), rem, unions, keep, holds, acc):
                return None
        return tuple(acc)

    def _union(self, fac, chosen: dict, rem: list, unions: dict, loose: bool = False):
        """A candidate with ``chosen``'s edges and every choice's of ``rem``
        (with ``loose``, every pair of accesses of every location too: what
        any part enumerated apart may add)."""
        sol = fac._solution(chosen)
        extra = [[], [], []]
        for i in rem:
            rows = unions.get(i)
            if rows is None:
                comp = fac.comps[i]
                rows = [[], [], []]
                for ch in comp.choices:
                    opt = ch.opt if ch.opt is not None else _fixed_option(
                        comp.split, list(zip(ch.srcs, comp.reads)))
                    for k, r in enumerate(option_rels(opt)):
                        rows[k].extend(r)
                unions[i] = rows
            for k in range(3):
                extra[k].extend(rows[k])
        if loose:
            may = _all_pairs(self.skel)
            for k in range(3):
                extra[k].extend(may[k])
        return Candidate(sol, fac._options(chosen), extra)

    def _refine(self, fac, chosen: dict, rem: list, unions: dict, keep, holds,
                acc: list, W="unknown", prune: bool = True) -> bool:
        """Split the executions of ``chosen`` x ``rem`` while their links
        may be risky; each execution reached is weighed.  ``W``: the walk
        matrix of this node's union when known; ``prune`` False once a
        split kept every part risky (the union then no longer narrows
        down: the executions below are weighed one by one, which is exact
        whatever the union says, and spares a link computation per node)."""
        if W == "unknown" and (prune or not rem):
            W = self.matrix(self._union(fac, chosen, rem, unions))
        if not rem:
            if not self.risky(W):
                return True
            self.leaves += 1
            if self.leaves > MAX_LEAVES:
                return False
            fac.meter.poll_time()
            good = self.memo.get(W)
            if good is None:
                good = self.memo[W] = count_good(W, self.k)
            bad = self.total - good
            if bad:
                acc[0] += bad
                values = fac._values(chosen)
                if keep is None or keep(values):
                    acc[1 if holds(values) else 2] += bad
            return True
        if prune and not self.risky(W):
            return True
        c, rest = rem[0], rem[1:]
        children = []
        for ch in fac.comps[c].choices:
            chosen[c] = ch
            Wc = self.matrix(self._union(fac, chosen, rest, unions)) if prune and rest else "unknown"
            children.append((ch, Wc))
        if prune and rest and all(self.risky(Wc) for _ch, Wc in children):
            prune = False
        for ch, Wc in children:
            chosen[c] = ch
            if not self._refine(fac, chosen, rest, unions, keep, holds, acc, Wc, prune):
                return False
        del chosen[c]
        return True


def _all_pairs(skel: Skeleton) -> list:
    """rf, co and fr rows relating every pair of accesses to each location
    but the srcu_structs' (as ``lkmm.may_rcu_link`` takes them)."""
    cached = skel.cache.get("srcu_all_pairs")
    if cached is not None:
        return cached
    T = skel.Srcu_lock | skel.Srcu_unlock
    slocs = {skel.sloc[i] for i in _bits(T)}
    by_loc: dict = {}
    for e in skel.events:
        l = skel.sloc[e.idx]
        if l is not None and l not in slocs and e.kind in ("R", "W"):
            by_loc.setdefault(l, []).append(e)
    rf, co, fr = [], [], []
    for evs in by_loc.values():
        for a in evs:
            for b in evs:
                if a.idx == b.idx:
                    continue
                if a.kind == "W" and b.kind == "R":
                    rf.append((a.idx, 1 << b.idx))
                if a.kind == "W" and b.kind == "W":
                    co.append((a.idx, 1 << b.idx))
                if a.kind == "R" and b.kind == "W":
                    fr.append((a.idx, 1 << b.idx))
    skel.cache["srcu_all_pairs"] = out = [rf, co, fr]
    return out


# ---------------------------------------------------------------- counting


def count_good(W: tuple, k: int) -> int:
    """How many of the (k!)**2 options of an srcu_struct with k one-section
    readers close no cycle, given the readers' walk matrix W (see
    OrderCounter.matrix; no cycle without T-links).  Step 6 of the module
    docstring: a dynamic program over the weak order of the readers by the
    write their srcu_read_lock() reads, built from its highest level down.

    State: U, the readers placed (all levels above), and E[y] for each
    reader y not placed, the largest weight of a path that enters U
    anywhere (a T-link from below lands on any reader of U), moves by walks
    and by T-links inside U, and walks to y.  Placing the next level S
    below U closes a cycle iff E[B] >= 0 for some B in S (a T-link from B
    into U, then back to B); otherwise E becomes max(E, E + c_S, M_S) with
    c_S the largest walk weight between two readers of S (or -1: one
    reader, T-link up) and M_S[y] the largest walk from a reader of S to y.
    A state with some E[y] >= 0 is dead: y has to go below.  The value of
    a state is a vector over t, the position in co of the write the lowest
    level reads; the options of a weak order are counted as the readers
    sorted by that position, highest first, choose their unlock's place in
    co: reader j (0-based, j readers above) at position p has k - p - j
    places."""
    full = (1 << k) - 1
    size = 1 << k
    # Values below -L can never reach 0 again (E grows only by c_S > 0,
    # which needs two readers of one level: at most k // 2 times): no walk.
    cmax = max([v for a, row in enumerate(W) for b, v in enumerate(row) if a != b] + [0])
    L = max(cmax, 0) * (k // 2) + 1
    # E packed in one integer, a field of L + 1 bits per reader, each value
    # v >= -L in unary (its low v + L + 1 bits set): max is |, "v >= 0" is
    # bit L, masking placed readers out is &.
    FW = L + 1
    ones = (1 << FW) - 1

    def code(v: int) -> int:
        if v < -L:
            return 0
        return ones if v >= 0 else (1 << (v + L + 1)) - 1

    def encode(vals) -> int:
        x = 0
        for y in range(k - 1, -1, -1):
            x = (x << FW) | code(vals[y])
        return x

    zero_bits = low_bits = 0
    field = [0] * size                 # the fields of a set of readers
    for y in range(k):
        zero_bits |= 1 << (y * FW + L)
        low_bits |= 1 << (y * FW)
    rows = [encode(W[i]) for i in range(k)]
    # E + c, c > 0: each field shifted up by c, its low c bits filled (if
    # not empty); a field whose top c bits are set reaches 0 or more.
    keep_low, top, fill = {}, {}, {}
    for c in range(1, FW):
        keep_low[c] = (low_bits * ((1 << (FW - c)) - 1))
        top[c] = (low_bits * ones) & ~keep_low[c]
        fill[c] = (1 << c) - 1
    for mask in range(1, size):
        low = mask & -mask
        field[mask] = field[mask ^ low] | (ones << ((low.bit_length() - 1) * FW))
    # c_S, floored at 0 (only c_S > 0 changes E), and M_S packed.
    pos_pair = [0] * k
    for i in range(k):
        for j in range(k):
            if j != i and max(W[i][j], W[j][i]) > 0:
                pos_pair[i] |= 1 << j
    cS = [0] * size
    MS = [0] * size
    for mask in range(1, size):
        low = mask & -mask
        i = low.bit_length() - 1
        rest = mask ^ low
        c = cS[rest]
        both = rest & pos_pair[i]
        if both:
            Wi = W[i]
            for j in _bits(both):
                c = max(c, Wi[j], W[j][i])
        cS[mask] = c
        MS[mask] = MS[rest] | rows[i]
    # F[u][s][t]: the places in co of s readers at position t below u.
    F: dict = {}
    for u in range(k + 1):
        for s in range(1, k - u + 1):
            row = []
            for t in range(k):
                f = 1
                if k - u - t - (s - 1) < 1:
                    f = 0
                else:
                    for i in range(s):
                        f *= k - u - t - i
                row.append(f)
            F[(u, s)] = row
    # Vectors over t packed in one integer too (additions without carries).
    VW = (factorial(k) ** 2).bit_length() + 1
    vmask = (1 << VW) - 1

    def pack(vals) -> int:
        x = 0
        for v in reversed(vals):
            x = (x << VW) | v
        return x

    # Every size's counts at once: P[u][t] holds F[(u, s)][t] at field t of
    # block s (blocks of k + 1 fields), so sum over t of suf[t] * P[u][t]
    # holds each size's vector in its block (each a count of options: no
    # carries between fields).
    BW = VW * (k + 1)
    bmask = (1 << BW) - 1
    P = [[0] * k for _ in range(k + 1)]
    for u in range(k + 1):
        for t in range(k):
            x = 0
            for s in range(1, k - u + 1):
                f = F[(u, s)][t]
                if f:
                    x |= f << (BW * s + VW * t)
            P[u][t] = x
    pop = [bin(x).count("1") for x in range(size)]
    remf = [field[full & ~x] for x in range(size)]     # the readers not in x
    dz = [M & zero_bits for M in MS]
    levels: list = [dict() for _ in range(k + 1)]
    levels[0][0] = [0, pack([0] * k + [1])]
    for n_placed in range(k):
        below = levels[n_placed:]
        for key0, (E, packed) in levels[n_placed].items():
            U = key0 & full
            vec = [(packed >> (VW * t)) & vmask for t in range(k + 1)]
            # suf[t'] = sum of vec[t] for t > t'; adds[s]: a level of s
            # readers at each position t' below this state
            suf = [0] * k
            acc = vec[k]
            for t in range(k - 1, -1, -1):
                suf[t] = acc
                acc += vec[t]
            allsizes = 0
            Pu = P[n_placed]
            for t in range(k):
                if suf[t]:
                    allsizes += suf[t] * Pu[t]
            adds = [None] * (k + 1)       # extracted lazily: few sizes are used
            avail = full & ~U
            sub = avail
            while sub:
                S = sub
                sub = (sub - 1) & avail
                U2 = U | S
                rem = remf[U2]
                if dz[S] & rem:
                    continue                  # a walk >= 0 from S to a reader below
                c = cS[S]
                if c > 0:
                    if E & top[c] & rem:
                        continue              # E + c >= 0 for a reader below
                    E2 = ((E & keep_low[c]) << c) | ((E & low_bits) * fill[c]) | MS[S]
                else:
                    E2 = E | MS[S]
                key = (E2 & rem) << k | U2
                ns = pop[S]
                old = below[ns].get(key)
                if old is None:
                    a = adds[ns]
                    if a is None:
                        a = adds[ns] = (allsizes >> (BW * ns)) & bmask
                    below[ns][key] = [E2, a]
                else:
                    a = adds[ns]
                    if a is None:
                        a = adds[ns] = (allsizes >> (BW * ns)) & bmask
                    old[1] += a
    return sum(packed & vmask for _E, packed in levels[k].values())
