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
   verdict is every option's.  Otherwise (for example a ring with more
   grace periods than readers where two grace periods are neighbours:
   some executions are then allowed by O_init and not by every option)
   the test is left to the full enumeration.
5. Flags: srcu flags come from the static srcu-rscs (none here), lock
   flags do not involve s, and there are no plain accesses.

Simplification: the proof is for the LKMM only (sc and tso order the
struct's accesses like any others: every option is still enumerated).
"""

from __future__ import annotations

from math import factorial
from typing import Optional

from .rscs import _bits, rcu_rscs, static_srcu_rscs
from .skeleton import LOCK_KINDS, Skeleton
from .terms import Var


def collapse(skel: Skeleton, mod, reg_slots: list, loc_slots: list) -> int:
    """If the argument of the module docstring applies to ``skel`` under
    ``mod``, mark the skeleton (its srcu_struct reads read the initial
    value only, one co order; see ``Skeleton.srcu_locs``) and return how
    many options each allowed execution stands for; else 1 (unchanged)."""
    if not (skel.Srcu_lock | skel.Srcu_unlock) or getattr(mod, "may_rcu_link", None) is None:
        return 1
    pairs = _static_ok(skel, reg_slots, loc_slots)
    if pairs is None or not _links_ok(skel, mod):
        return 1
    mult = 1
    readers: dict = {}
    for lock, _unlock in pairs:
        readers[skel.sloc[lock]] = readers.get(skel.sloc[lock], 0) + 1
    for k in readers.values():
        mult *= options_count(k)
    skel.srcu_locs = frozenset(readers)
    skel.srcu_init_only = frozenset(lock for lock, _ in pairs)
    skel.srcu_mult = mult
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

