"""Operational memory models for simulated CPUs: sc, tso and lkmm.

Why the models are actors
-------------------------
On a weak machine a store does not reach the other CPUs when it executes: it
sits in a store buffer (x86) or propagates to each CPU on its own schedule
(Power, Arm, and the Linux-kernel memory model).  *When* it arrives is the
nondeterminism that litmus tests probe and that races hide in, so here it is
a scheduling choice like any other: each store buffer (tso) and each
propagation lane (lkmm) is an engine actor.  A buffered store wakes its
drainer one cache-line write later; the strategy may run the drainer then,
or stall it behind any number of later steps of other CPUs (a preemption at
an engine decision point).  So ``random:P``, ``pct:D``, Hypothesis's
``ChoiceStrategy`` and the exhaustive search of :mod:`.schedules` explore
store-buffer drains and propagation exactly as they explore interleavings,
and a replay token reproduces them.  The engine API is unchanged.

The three models
----------------
``sc``   one memory; every access is atomic and visible at once.

``tso``  x86-TSO (Owens, Sarkar and Sewell, TPHOLs 2009): a FIFO store buffer
         per CPU with store forwarding; the buffer's drainer actor writes its
         oldest entry to memory.  smp_mb(), every atomic RMW (even a failed
         cmpxchg) and spin_lock() wait until the buffer is empty; the other
         barriers are compiler barriers.  spin_unlock() is a buffered store.

``lkmm`` a non-multicopy-atomic storage subsystem in the style of the Power
         model of Sarkar et al. (PLDI 2011), with in-order cores.  Each
         location has a coherence order (the order in which stores commit)
         and each CPU a *view*: the coherence-latest store of each location
         that has reached it.  A store commits into the coherence order,
         is visible to its own CPU at once and reaches every other CPU
         through that CPU's propagation lane for the location (lane =
         location id mod ``lanes``); lanes deliver in commit order, skipping
         stores their CPU has already seen superseded.  A delivery is due one
         cache-line transfer after the commit plus an exponentially
         distributed delay from the engine's seeded hardware randomness, so
         stores to different locations reach a CPU out of order even in an
         unpreempted schedule.  Ordering:

         * smp_wmb(): later stores of this CPU reach a CPU only after every
           earlier store of this CPU has (wmb is not cumulative);
         * release stores (smp_store_release, rcu_assign_pointer, _release
           RMWs, spin_unlock) are A-cumulative: they reach a CPU only after
           every store in the releasing CPU's view has (stronger than the
           LKMM's "read by this CPU", hence sound);
         * strong fences (smp_mb, the smp_mb__*() family, fully ordered
           RMWs, synchronize_rcu) wait until every store in the CPU's view
           has reached every CPU (Power's sync: cumulative);
         * an atomic RMW waits until its CPU sees the coherence-latest
           store of the location (atomicity);
         * loads read the view, in program order, so address, data and
           control dependencies, smp_rmb() and acquire are always respected.

         This model is *sound* for the LKMM (every final state it produces
         is one the axiomatic checker in :mod:`.check` allows; property-
         tested in tests/memmodel/test_operational.py) but not complete: it
         produces store->load (SB), store->store (MP without smp_wmb) and
         non-multicopy-atomic (IRIW, WRC without cumulativity) behaviours,
         but never reorders a load with a later access (LB, MP with only a
         writer-side barrier, S, 2+2W).  The LKMM's verdicts come from the
         exhaustive checker of its axioms (``mmactors litmus``).

Every model implements the same small interface (``read``, ``store``,
``rmw_ready``/``latest``/``rmw_store``, ``fence_wait``/``fence_done``,
``gp_token``/``gp_done``, ``final``) for :class:`~.access.Memory`.
"""
from __future__ import annotations

from collections import deque

__all__ = ["Wr", "SCModel", "TSOModel", "LKMMModel", "make_model", "MODEL_NAMES",
           "STRONG_FENCES", "LOCAL", "FP", "dependent"]

MODEL_NAMES = ("sc", "tso", "lkmm")

# The footprint of a step that touches only its own CPU's private state
# (a buffered store, the start of a program): it commutes with every step
# whose footprint is known.
LOCAL = ("local",)

# The key under which an actor's ``data`` holds the footprint of its next step.
FP = "memmodel.next_step"

# Fence tags (the litmus primitives' tags) that act as full barriers in lkmm.
STRONG_FENCES = frozenset({"mb", "before-atomic", "after-atomic", "after-spinlock",
                           "after-unlock-lock", "sync-rcu", "quiesce"})


class Wr:
    """One store: the value, who wrote it, and what the models and the race
    detector attach to it (coherence index, buffer sequence, propagation
    prerequisites, the release clock)."""

    __slots__ = ("loc", "value", "cpu", "idx", "seq", "prereq", "sync")

    def __init__(self, loc, value, cpu: int = -1):
        self.loc = loc
        self.value = value
        self.cpu = cpu
        self.idx = 0
        self.seq = 0
        self.prereq = ()
        self.sync = None

    def __repr__(self):
        return f"<Wr {self.loc.name}={self.value!r} by {self.cpu}>"


class _Idle:
    """What an idle service actor is parked on (named for deadlock reports)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def holders(self):
        return []


class SCModel:
    name = "sc"

    def __init__(self, mem):
        self.mem = mem

    # Footprints of the next step, for sleep-set reduction (see schedules.py).
    def fp_read(self, k, loc):
        return (loc.id, "r", k.idx)

    def fp_store(self, k, loc, tag):
        return (loc.id, "w", k.idx)

    def fp_rmw(self, k, loc, order):
        return (loc.id, "w", k.idx)

    fp_lock = fp_rmw

    def new_loc(self, loc, wr):
        loc.cur = wr

    def read(self, k, loc):
        return loc.cur

    def store(self, k, loc, wr, tag):
        loc.cur = wr
        self.mem._notify()

    def rmw_ready(self, k, loc) -> bool:
        return True

    def latest(self, loc):
        return loc.cur

    def rmw_store(self, k, loc, wr, order):
        loc.cur = wr
        self.mem._notify()

    def fence_wait(self, k, tag):
        return None

    def fence_done(self, k, tag):
        pass

    def lock_acquired(self, k, loc, released):
        pass

    def unlocked(self, k, loc, wr):
        pass

    def gp_token(self, k):
        return None

    def gp_done(self, token) -> bool:
        return True

    def final(self, loc):
        return loc.cur.value

    def wake_services(self):
        pass

    def reset(self):
        pass

    def pending(self) -> int:
        return 0


class TSOModel(SCModel):
    """SC plus a FIFO store buffer per CPU, drained by an engine actor."""

    name = "tso"

    def __init__(self, mem):
        self.mem = mem
        n = mem.ncpus
        self.buf = [deque() for _ in range(n)]
        self.issued = [0] * n
        self.drained = [0] * n
        self.idle = [None] * n
        self._idle_obj = [_Idle(f"store buffer of cpu{mem.cpus[i]} (empty)") for i in range(n)]
        eng = mem.engine
        for i in range(n):
            cpu = mem.cpus[i]
            a = eng.add_actor(f"sb:cpu{cpu}", self._drainer_body(i), cpu=cpu,
                              node=eng.node_of[cpu])
            a.data[FP] = LOCAL          # its first step only parks
            mem._service_named(f"store buffer cpu{cpu}")

    def _drainer_body(self, i):
        async def drainer(actor):
            buf = self.buf[i]
            mem = self.mem
            eng = mem.engine
            data = actor.data
            while True:
                if not buf:
                    if mem.programs_done:
                        return
                    self.idle[i] = actor
                    await eng.park(self._idle_obj[i])
                    continue
                wr = buf.popleft()
                wr.loc.cur = wr
                self.drained[i] = wr.seq
                mem.drains += 1
                mem._notify()
                if buf:
                    data[FP] = (buf[0].loc.id, "w", -1)
                    await eng.spend(buf[0].loc.line.write(mem.cpus[i]))
                data[FP] = None
        return drainer

    def fp_store(self, k, loc, tag):
        return LOCAL            # a buffered store changes only this CPU's buffer

    def read(self, k, loc):
        b = self.buf[k.idx]
        if b:
            for wr in reversed(b):
                if wr.loc is loc:
                    return wr
        return loc.cur

    def store(self, k, loc, wr, tag):
        i = k.idx
        self.issued[i] += 1
        wr.seq = self.issued[i]
        self.buf[i].append(wr)
        a = self.idle[i]
        if a is not None:
            self.idle[i] = None
            eng = self.mem.engine
            a.data[FP] = (loc.id, "w", -1)
            eng.wake(a, eng.now + loc.line.write(k.actor.cpu))

    def rmw_ready(self, k, loc) -> bool:
        return not self.buf[k.idx]

    def fence_wait(self, k, tag):
        if tag in ("mb", "sync-rcu", "quiesce"):
            b = self.buf[k.idx]
            if b:
                return lambda: not b
        return None

    def gp_token(self, k):
        return (k.idx, self.issued[k.idx])

    def gp_done(self, token) -> bool:
        i, s = token
        return self.drained[i] >= s

    def wake_services(self):
        eng = self.mem.engine
        for i, a in enumerate(self.idle):
            if a is not None:
                self.idle[i] = None
                a.data[FP] = LOCAL      # it only exits
                eng.wake(a)

    def pending(self) -> int:
        return sum(len(b) for b in self.buf)


class LKMMModel:
    name = "lkmm"

    def __init__(self, mem, lanes: int = 4):
        self.mem = mem
        n = mem.ncpus
        self.lanes = max(1, int(lanes))
        L = self.lanes
        self.q = [[deque() for _ in range(L)] for _ in range(n)]
        self.idle = [[None] * L for _ in range(n)]
        self.blocked = [[] for _ in range(n)]
        self.wmb_prereq = [() for _ in range(n)]
        self.unlocks = [() for _ in range(n)]      # prerequisites of this CPU's unlocks so far
        self.own = [{} for _ in range(n)]          # Loc -> co index of this CPU's latest store
        self._idle_obj = [[_Idle(f"propagation lane {l} to cpu{mem.cpus[d]} (empty)")
                           for l in range(L)] for d in range(n)]
        self._blocked_obj = [_Idle(f"propagation to cpu{mem.cpus[d]} (waiting for an "
                                   f"earlier store)") for d in range(n)]
        eng = mem.engine
        for d in range(n):
            cpu = mem.cpus[d]
            for l in range(L):
                a = eng.add_actor(f"prop:cpu{cpu}.{l}", self._lane_body(d, l), cpu=cpu,
                                  node=eng.node_of[cpu])
                a.data[FP] = LOCAL
                mem._service_named(f"propagation lane {l} to cpu{cpu}")

    # -------------------------------------------------------------- lanes
    def _lane_body(self, d, l):
        async def lane(actor):
            q = self.q[d][l]
            mem = self.mem
            eng = mem.engine
            blocked = self.blocked[d]
            data = actor.data
            while True:
                if not q:
                    if mem.programs_done:
                        return
                    self.idle[d][l] = actor
                    await eng.park(self._idle_obj[d][l])
                    continue
                wr = q[0]
                for loc, idx in wr.prereq:
                    if loc.view[d] < idx:
                        break
                else:
                    q.popleft()
                    loc = wr.loc
                    if wr.idx > loc.view[d]:
                        loc.view[d] = wr.idx
                    mem.propagations += 1
                    if blocked:
                        for a in blocked:
                            eng.wake(a)
                        blocked.clear()
                    mem._notify()
                    if q:
                        nxt = q[0]
                        data[FP] = (nxt.loc.id, "vw", d)
                        await eng.spend(self._latency(nxt.loc, d, mem.cpus[nxt.cpu]))
                    data[FP] = None
                    continue
                blocked.append(actor)
                await eng.park(self._blocked_obj[d])
        return lane

    # ----------------------------------------------------------- helpers
    def _latency(self, loc, d, src_cpu) -> int:
        """How long a store takes to reach CPU ``d``: one line transfer plus
        an exponentially distributed delay (mean two transfers, capped at
        twenty) drawn from the engine's seeded hardware randomness.  On
        weakly ordered machines propagation times vary from store to store
        with a long tail (queueing in the interconnect and the caches),
        which is what makes reordering visible without any preemption."""
        base = loc.line.transfer_cost(self.mem.cpus[d], src_cpu)
        extra = self.mem.engine.random.expovariate(1.0 / (2 * base))
        return base + min(int(extra), 20 * base)

    def _view(self, c):
        return tuple((loc, loc.view[c]) for loc in self.mem.locs if loc.view[c] > 0)

    def _commit(self, k, loc, wr, prereq):
        c = k.idx
        wr.idx = len(loc.co)
        wr.prereq = prereq
        loc.co.append(wr)
        loc.view[c] = wr.idx
        self.own[c][loc] = wr.idx
        mem = self.mem
        eng = mem.engine
        lane = loc.lane
        src = k.actor.cpu
        for d in range(mem.ncpus):
            if d == c:
                continue
            self.q[d][lane].append(wr)
            a = self.idle[d][lane]
            if a is not None:
                self.idle[d][lane] = None
                a.data[FP] = (loc.id, "vw", d)
                eng.wake(a, eng.now + self._latency(loc, d, src))
        mem._notify()

    @staticmethod
    def _everywhere(snapshot):
        def pred():
            for loc, idx in snapshot:
                if min(loc.view) < idx:
                    return False
            return True
        return pred

    # -------------------------------------------------------- interface
    def fp_read(self, k, loc):
        return (loc.id, "vr", k.idx)       # reads this CPU's view

    def fp_store(self, k, loc, tag):
        # A release store also snapshots this CPU's whole view (relco).
        return (loc.id, "relco" if tag == "release" else "co", k.idx)

    def fp_rmw(self, k, loc, order):
        return (loc.id, "relrmw" if order in ("release", "mb") else "rmw", k.idx)

    def fp_lock(self, k, loc, order):
        # The acquisition's extra prerequisites come from the unlock it reads
        # and this CPU's own unlocks, not from its view: an rmw.
        return (loc.id, "rmw", k.idx)

    def new_loc(self, loc, wr):
        wr.idx = 0
        loc.co = [wr]
        loc.view = [0] * self.mem.ncpus
        loc.lane = loc.id % self.lanes

    def read(self, k, loc):
        return loc.co[loc.view[k.idx]]

    def store(self, k, loc, wr, tag):
        prereq = self._view(k.idx) if tag == "release" else self.wmb_prereq[k.idx]
        self._commit(k, loc, wr, prereq)

    def rmw_ready(self, k, loc) -> bool:
        return loc.view[k.idx] == len(loc.co) - 1

    def latest(self, loc):
        return loc.co[-1]

    def rmw_store(self, k, loc, wr, order):
        if order in ("release", "mb"):
            prereq = self._view(k.idx)
        else:
            prereq = self.wmb_prereq[k.idx]
        self._commit(k, loc, wr, prereq)

    def fence_wait(self, k, tag):
        if tag in STRONG_FENCES:
            snap = self._view(k.idx)
            pred = self._everywhere(snap)
            return None if pred() else pred
        return None

    def fence_done(self, k, tag):
        c = k.idx
        if tag in STRONG_FENCES:
            self.wmb_prereq[c] = ()
        elif tag == "wmb":
            self.wmb_prereq[c] = _merge(self.wmb_prereq[c], tuple(self.own[c].items()))

    def unlocked(self, k, loc, wr):
        """Remember this CPU's unlock (a release store) for its later locks."""
        c = k.idx
        self.unlocks[c] = _merge(self.unlocks[c], wr.prereq + ((loc, wr.idx),))

    def lock_acquired(self, k, loc, released):
        """po-unlock-lock-po (po ; [UL] ; (po|rf) ; [LKR] ; po) is a
        cumul-fence: stores after a lock acquisition reach a CPU only after
        the unlock it read from and every unlock earlier in this CPU's
        program order (of any lock), and after the stores that preceded
        those unlocks (their release prerequisites).  Stores before the lock
        that no unlock preceded are not ordered by it."""
        c = k.idx
        extra = self.unlocks[c]
        if released.idx:
            extra = _merge(extra, released.prereq + ((loc, released.idx),))
        if extra:
            self.wmb_prereq[c] = _merge(self.wmb_prereq[c], extra)

    def gp_token(self, k):
        return self._view(k.idx)

    def gp_done(self, token) -> bool:
        return self._everywhere(token)()

    def final(self, loc):
        return loc.co[-1].value

    def wake_services(self):
        eng = self.mem.engine
        for row in self.idle:
            for l, a in enumerate(row):
                if a is not None:
                    row[l] = None
                    a.data[FP] = LOCAL  # it only exits
                    eng.wake(a)

    def reset(self):
        n = self.mem.ncpus
        self.wmb_prereq = [() for _ in range(n)]
        self.unlocks = [() for _ in range(n)]
        self.own = [{} for _ in range(n)]

    def pending(self) -> int:
        return sum(len(q) for row in self.q for q in row)


_SNAPSHOT = ("relco", "relrmw")


def dependent(a, b) -> bool:
    """Do two steps with footprints ``a`` and ``b`` fail to commute?

    A footprint is None (unknown: dependent on everything), :data:`LOCAL`, or
    ``(location id, mode, cpu)`` with mode r/w (sc, tso: memory read/write),
    vr/vw (lkmm: read of / delivery into ``cpu``'s view), co (lkmm: a commit
    into the coherence order), rmw (lkmm: both), relco/relrmw (lkmm: a
    release commit or RMW, which also reads all of ``cpu``'s view).
    """
    if a is None or b is None:
        return True
    if a is LOCAL or b is LOCAL:
        return False
    ma, mb = a[1], b[1]
    if ma in _SNAPSHOT or mb in _SNAPSHOT:
        # A release snapshots its CPU's view: any delivery to that CPU matters.
        if ma == "vw" and a[2] == b[2] or mb == "vw" and a[2] == b[2]:
            return True
        if a[0] != b[0]:
            return False
        ma = "rmw" if ma in _SNAPSHOT else ma
        mb = "rmw" if mb in _SNAPSHOT else mb
    elif a[0] != b[0]:
        return False
    if ma == "r" and mb == "r":
        return False
    if ma in ("r", "w") or mb in ("r", "w"):
        return True
    pair = {ma, mb}
    if pair <= {"co", "rmw"}:
        return True                       # both extend the coherence order
    if pair in ({"vr", "vw"}, {"vw"}, {"vw", "rmw"}, {"vr", "rmw"}):
        return a[2] == b[2]               # the same CPU's view
    return False


def _merge(a: tuple, b: tuple) -> tuple:
    """Union of two prerequisite lists, keeping the larger index per location."""
    if not a:
        return b
    if not b:
        return a
    d = dict(a)
    for loc, idx in b:
        if d.get(loc, -1) < idx:
            d[loc] = idx
    return tuple(d.items())


def make_model(mem, name: str, lanes: int = 4):
    if name == "sc":
        return SCModel(mem)
    if name == "tso":
        return TSOModel(mem)
    if name == "lkmm":
        return LKMMModel(mem, lanes)
    raise ValueError(f"unknown memory model {name!r} (choose from {', '.join(MODEL_NAMES)})")
