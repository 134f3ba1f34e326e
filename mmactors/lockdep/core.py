"""Lockdep for simulated code: kernel/locking/lockdep.c, rule for rule.

What it is
----------
The kernel's lock validator proves that no schedule can deadlock on the lock
*classes* it has seen, from the order in which they were taken on the
schedules that did run.  Every lock instance belongs to a class (its kernel
name, ``&mm->mmap_lock``; plus a *subclass* for intended nesting,
``spin_lock_nested(l, SINGLE_DEPTH_NESTING)`` = ``name/1``).  Each
acquisition while other locks are held adds dependencies *held -> new* to a
graph of classes; a new dependency that closes a cycle is a possible
deadlock, reported the first time both orders have been seen, whether or not
this schedule deadlocked.  Chains of held classes are cached, so a chain is
validated once (``lookup_chain_cache_add``), which is what makes it cheap.

Rules implemented, with the kernel function each mirrors:

* recursion on a held class (``check_deadlock``), with read-after-read
  allowed only for *recursive* readers (rwlock read_lock: read == 2);
* cycles of any length through the graph (``check_noncircular``), with
  Boqun Feng's recursive-read rules: edges carry a mask of dependency types
  (SR/ER/SN/EN, ``__calc_dep_bit``) and only *strong* paths, which never
  have ``-(*R)-> -(S*)->``, count (``__bfs``);
* irq safety: usage bits per class (``mark_usage``/``mark_lock``: used in
  hardirq/softirq, taken with irqs/softirqs enabled, read or write), checked
  on the lock itself (``valid_state``: "inconsistent lock state"), along the
  graph when a bit is new (``check_usage_forwards/backwards``: "irq lock
  inversion") and when a dependency is new (``check_irq_usage``:
  "X-safe -> X-unsafe lock order");
* unlock balance (``print_unlock_imbalance_bug``), split by what the
  simulator knows: double unlock, unlock of a lock nobody holds, unlock of a
  lock another actor holds;
* re-initialising or freeing a held lock (``debug_check_no_locks_freed``);
* sleeping while atomic (``__might_resched`` in kernel/sched/core.c, not
  lockdep proper): a mutex, an rwsem or a completion wait while holding a
  spinning lock, with interrupts off, or in interrupt context.

Where we differ (each said once, here):

* The breadth-first search marks a class visited per ``only_xr`` state, not
  once: a class first reached through a ``*R`` path is revisited through a
  ``*N`` path.  The kernel's ``lock_accessed()`` marks it once and can miss
  such a cycle; we report a superset of what it reports.
* No cmp_fn, nest_lock, ww_mutex, local_lock, lock_sync, raw_spinlock wait
  types or CONFIG_PROVE_RAW_LOCK_NESTING: the simulator has none of them.
* One report stops the run by default (``stop = true``), like
  panic_on_warn; with ``stop = false`` lockdep switches itself off after the
  first report, as the kernel's ``debug_locks_off()`` does.
* rwlock readers are recursive (read == 2) by default, as
  lib/locking-selftest.c runs them (``force_read_lock_recursive``) and as
  the issue specifies; ``rwlock_read = "queued"`` gives the x86 kernel's
  ``read_lock_is_recursive()`` (recursive only in interrupt context), which
  matches the simulated qrwlock exactly.

Determinism: every container that is iterated is a list or an
insertion-ordered dict; nothing is keyed by ``id()`` where order matters.
Cost when off: the hook is None and locks test one attribute.
"""
from __future__ import annotations

from collections import deque

from ..sync.lock import site_name
from ..sync.irq import irq_state
from ..sync.lockstat import Validator, add_validator, remove_validator
from .report import KINDS, LockdepError, LockdepReport, kernel_ident

__all__ = ["Lockdep", "LockdepClass", "HeldLock"]

# ---------------------------------------------------------------- usage bits
# include/linux/lockdep_types.h + kernel/locking/lockdep_states.h:
# bit = 4 * state + 2 * dir + read; state 0 = HARDIRQ, 1 = SOFTIRQ.
USED_IN_HARDIRQ, USED_IN_HARDIRQ_READ, ENABLED_HARDIRQ, ENABLED_HARDIRQ_READ = 0, 1, 2, 3
USED_IN_SOFTIRQ, USED_IN_SOFTIRQ_READ, ENABLED_SOFTIRQ, ENABLED_SOFTIRQ_READ = 4, 5, 6, 7
LOCK_USED, LOCK_USED_READ = 8, 9
LOCK_USAGE_READ_MASK, LOCK_USAGE_DIR_MASK = 1, 2
LOCKF_USED_IN_IRQ_ALL = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5)
LOCKF_ENABLED_IRQ_ALL = (1 << 2) | (1 << 3) | (1 << 6) | (1 << 7)
LOCKF_IRQ = (1 << 0) | (1 << 2) | (1 << 4) | (1 << 6)          # the non-READ bits
LOCKF_IRQ_READ = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7)

USAGE_STR = ["IN-HARDIRQ-W", "IN-HARDIRQ-R", "HARDIRQ-ON-W", "HARDIRQ-ON-R",
             "IN-SOFTIRQ-W", "IN-SOFTIRQ-R", "SOFTIRQ-ON-W", "SOFTIRQ-ON-R",
             "INITIAL USE", "INITIAL READ USE"]
_STATE = ["HARDIRQ", "SOFTIRQ"]

# Dependency types of prev -> next (``DEP_*_BIT``): bit0 = prev exclusive,
# bit1 = next non-recursive.
DEP_SR, DEP_ER, DEP_SN, DEP_EN = 1, 2, 4, 8
_SWAP = {0: 0, 1: 2, 2: 1, 3: 3}          # forward bit -> backward bit (calc_depb)

MAX_LOCKDEP_SUBCLASSES = 8
# usage an acquisition in process context with everything enabled implies
_PROC_W = (1 << ENABLED_HARDIRQ) | (1 << ENABLED_SOFTIRQ) | (1 << LOCK_USED)
_PROC_R = (1 << ENABLED_HARDIRQ_READ) | (1 << ENABLED_SOFTIRQ_READ) | (1 << LOCK_USED_READ)


def exclusive_bit(new_bit: int) -> int:
    """Same state, flipped direction, read stripped."""
    return (new_bit & ~3) | ((new_bit & LOCK_USAGE_DIR_MASK) ^ LOCK_USAGE_DIR_MASK)


def _invert_dir(mask: int) -> int:
    return ((mask & LOCKF_ENABLED_IRQ_ALL) >> 2) | ((mask & LOCKF_USED_IN_IRQ_ALL) << 2)


def exclusive_mask(mask: int) -> int:
    excl = _invert_dir(mask)
    excl |= (excl & LOCKF_IRQ_READ) >> 1
    excl |= (excl & LOCKF_IRQ) << 1
    return excl


original_mask = exclusive_mask      # the kernel's two functions compute the same thing


def state_name(bit: int) -> str:
    s = _STATE[bit >> 2]
    return s + "-READ" if bit & LOCK_USAGE_READ_MASK else s


def find_exclusive_match(mask: int, excl_mask: int):
    for bit in range(LOCK_USED):
        if mask & (1 << bit):
            excl = exclusive_bit(bit)
            if excl_mask & (1 << excl):
                return bit, excl
            if excl_mask & (1 << (excl | LOCK_USAGE_READ_MASK)):
                return bit, excl | LOCK_USAGE_READ_MASK
    return None


# ------------------------------------------------------------------ records
class Trace:
    """Where something happened: the stand-in for a saved stack trace."""

    __slots__ = ("frames", "actor", "now")

    def __init__(self, frames, actor=None, now=None):
        self.frames = frames            # list of site strings, innermost first
        self.actor = actor
        self.now = now

    def lines(self, indent: int) -> list[str]:
        pad = " " * indent
        out = [pad + f for f in self.frames]
        if self.actor is not None:
            out.append(pad + f"[{self.actor} at {self.now} ns]")
        return out


class LockdepClass:
    """struct lock_class: a name, usage bits with where each was first set,
    and the dependency lists (``locks_after`` / ``locks_before``)."""

    __slots__ = ("key", "name", "idx", "kind", "sleeping", "usage", "usage_traces",
                 "after", "before", "ops", "seeded")

    def __init__(self, key, name, idx, kind, sleeping):
        self.key, self.name, self.idx = key, name, idx
        self.kind, self.sleeping = kind, sleeping
        self.usage = 0
        self.usage_traces: dict[int, Trace] = {}
        self.after: dict = {}           # LockdepClass -> Dep (insertion ordered)
        self.before: dict = {}
        self.ops = 0
        self.seeded = False

    def wait_types(self) -> tuple[int, int]:
        # LD_WAIT_CONFIG (spinlock_t, rwlock_t with PROVE_RAW_LOCK_NESTING) / LD_WAIT_SLEEP;
        # a bare lockdep_map (STATIC_LOCKDEP_MAP_INIT, fs_reclaim) has LD_WAIT_INV.
        if self.kind == "map":
            return (0, 0)
        return (4, 4) if self.sleeping else (3, 3)

    def usage_chars(self) -> str:
        out = []
        for bit in (USED_IN_HARDIRQ, USED_IN_HARDIRQ_READ, USED_IN_SOFTIRQ, USED_IN_SOFTIRQ_READ):
            c = "."
            if self.usage & (1 << (bit + LOCK_USAGE_DIR_MASK)):
                c = "?" if self.usage & (1 << bit) else "+"
            elif self.usage & (1 << bit):
                c = "-"
            out.append(c)
        return "".join(out)

    def label(self) -> str:
        o, i = self.wait_types()
        return f"({self.name}){{{self.usage_chars()}}}-{{{o}:{i}}}"

    def __repr__(self):
        return f"<LockdepClass {self.name}>"


class Dep:
    """One dependency prev -> next (a lock_list pair), its type mask and the
    trace of its first observation."""

    __slots__ = ("prev", "next", "mask", "maskb", "trace", "seed", "observed")

    def __init__(self, prev, nxt, bit, trace, seed=None):
        self.prev, self.next = prev, nxt
        self.mask = 1 << bit
        self.maskb = 1 << _SWAP[bit]
        self.trace = trace
        self.seed = seed                 # the hierarchy table entry, if seeded
        self.observed = None             # a seeded edge's first sighting in the run


class HeldLock:
    """struct held_lock."""

    __slots__ = ("cls", "lock", "read", "trylock", "hardirqs_off", "irq_context",
                 "site", "chain", "now", "addr")

    def __init__(self, cls, lock, read, trylock, hardirqs_off, irq_context, site, now, addr):
        self.cls, self.lock, self.read, self.trylock = cls, lock, read, trylock
        self.hardirqs_off, self.irq_context = hardirqs_off, irq_context
        self.site, self.now, self.addr = site, now, addr
        self.chain = ()


class _Task:
    __slots__ = ("actor", "name", "held", "pending", "released")

    def __init__(self, actor):
        self.actor = actor
        self.name = f"{actor.name}/{actor.id}"
        self.held: list[HeldLock] = []
        self.pending = None              # validated at contention, granted later
        self.released: dict = {}         # id(lock) -> (lock, site): for double unlock


class _Node:
    """A BFS entry (a lock_list with ->parent and ->only_xr)."""

    __slots__ = ("cls", "parent", "dep", "only_xr")

    def __init__(self, cls, parent, dep, only_xr):
        self.cls, self.parent, self.dep, self.only_xr = cls, parent, dep, only_xr

    def depth(self) -> int:
        d, n = 0, self
        while n.parent is not None:
            d, n = d + 1, n.parent
        return d

    def path(self) -> list["_Node"]:
        """Root first."""
        out, n = [], self
        while n is not None:
            out.append(n)
            n = n.parent
        out.reverse()
        return out


class _Stop(Exception):
    """A report was made and lockdep is now off (stop = false)."""


# ------------------------------------------------------------------ lockdep
class Lockdep(Validator):
    """The validator one engine's locks report to.  See the module docstring.

    ``stop``: raise :class:`LockdepError` at the first report (the run ends
    with exit status 4); else record it and switch off.  ``rwlock_read``:
    ``"recursive"`` or ``"queued"``.  ``hierarchy``: seed the mm lock order
    (:mod:`mmactors.lockdep.hierarchy`).
    """

    def __init__(self, engine, *, stop: bool = True, rwlock_read: str = "recursive",
                 hierarchy: bool = True):
        if rwlock_read not in ("recursive", "queued"):
            raise ValueError("rwlock_read must be 'recursive' or 'queued'")
        self.engine = engine
        self.stop = stop
        self.rwlock_recursive = rwlock_read == "recursive"
        self.rwlock_read = rwlock_read
        self.debug_locks = True          # False once a report was made (stop = false)
        self.reports: list[LockdepReport] = []
        self.classes: dict = {}          # (name, subclass) -> LockdepClass
        self.class_list: list[LockdepClass] = []
        self.chains: set = set()
        self.nr_deps = 0                 # dependencies observed in this run
        self.nr_seeded = 0               # ... and seeded from the mm lock order
        self.tasks: dict[int, _Task] = {}
        self._inst: dict[int, tuple] = {}   # id(lock) -> (lock, addr, {subclass: class})
        self._any_used_in = False
        self.hierarchy = False
        self._alias = {}
        self._table = None               # class names of the mm lock order, until seeded
        self._lazy: list = []            # (classes, edges) seeded when one of classes shows up
        self._lazy_names: dict = {}      # class name -> its entry of _lazy
        self._seed_hierarchy(full=hierarchy)

    # --------------------------------------------------------------- attach
    def attach(self):
        """Watch every lock of the engine's run (beside any other validator)."""
        add_validator(self.engine, self)
        return self

    def detach(self):
        remove_validator(self.engine, self)

    # -------------------------------------------------------------- classes
    def _new_class(self, name, subclass, kind, sleeping):
        key = (name, subclass)
        disp = name if not subclass else f"{name}/{subclass}"
        c = LockdepClass(key, disp, len(self.class_list), kind, sleeping)
        self.classes[key] = c
        self.class_list.append(c)
        return c

    def _class_of(self, t, lock, subclass):
        ent = self._inst.get(id(lock))
        if ent is None:
            addr = 0xffff888100000000 + 0x40 * len(self._inst)
            ent = self._inst[id(lock)] = (lock, addr, {})
        c = ent[2].get(subclass)
        if c is None:
            if not 0 <= subclass < MAX_LOCKDEP_SUBCLASSES:
                self._report_invalid_subclass(t, lock, subclass)
            name = lock.lclass.name
            name = self._alias.get(name, name)
            if self._table is not None and name in self._table:
                self._seed_now()
            if self._lazy_names and name in self._lazy_names:
                self._seed_lazy(self._lazy_names[name])
            c = self.classes.get((name, subclass))
            if c is None:
                c = self._new_class(name, subclass, lock.kind, lock.sleeping)
            elif c.seeded and c.kind != lock.kind:
                c.kind, c.sleeping = lock.kind, lock.sleeping
            ent[2][subclass] = c
        return c, ent[1]

    def _addr_of(self, lock) -> int:
        ent = self._inst.get(id(lock))
        if ent is None:
            addr = 0xffff888100000000 + 0x40 * len(self._inst)
            ent = self._inst[id(lock)] = (lock, addr, {})
        return ent[1]

    def _seed_hierarchy(self, full: bool):
        """Seed the mm lock order -- lazily, when the first lock whose class
        is in the table shows up (a run without mm locks pays nothing).
        Without the full table the per-VMA rule stays: mmap_lock -> vm_lock
        is a lockdep dependency in the kernel itself (vmlock_dep_map, 6.15)."""
        from . import hierarchy as H
        self.hierarchy = full
        if full:
            self._alias = H.ALIASES
            self._table = H.CLASSES
            self._seed_edges = H.MM_LOCK_ORDER
        else:
            keep = ("&mm->mmap_lock", "vm_lock")
            self._alias = {a: c for a, c in H.ALIASES.items() if c in keep}
            self._table = {c: H.CLASSES[c] for c in keep}
            self._seed_edges = [e for e in H.MM_LOCK_ORDER if e[0] in keep and e[1] in keep]

    def add_hierarchy(self, classes: dict, edges: list) -> None:
        """More of the lock order (the swap locks of a machine with swap
        devices): seeded with the rest, or at once if that already happened."""
        if not self.hierarchy:
            return
        if self._table is not None:
            self._table = dict(self._table, **classes)
            self._seed_edges = list(self._seed_edges) + list(edges)
            return
        self._table, self._seed_edges = dict(classes), list(edges)
        self._seed_now()

    def add_lazy_hierarchy(self, classes: dict, edges: list) -> None:
        """More of the lock order, seeded (with the rest, if that has not
        happened yet) only when a lock of one of ``classes`` is first taken:
        a subsystem's order for machines that use the subsystem, whatever
        their scenario says (the THP locks)."""
        if not self.hierarchy:
            return
        ent = (dict(classes), list(edges))
        self._lazy.append(ent)
        for name in classes:
            self._lazy_names[name] = ent

    def _seed_lazy(self, ent):
        classes, edges = ent
        for name in classes:
            self._lazy_names.pop(name, None)
        if self._table is not None:
            self._seed_now()
        self._seed(classes, edges)

    def _seed_now(self):
        table, self._table = self._table, None
        self._seed(table, self._seed_edges)

    def _seed(self, table, seed_edges):
        from . import hierarchy as H
        for name, (kind, _) in table.items():
            c = self._new_class(name, 0, kind, kind in ("rwsem", "mutex", "folio", "map"))
            c.seeded = True
        for outer, inner, where in seed_edges:
            p, n = self.classes[(outer, 0)], self.classes[(inner, 0)]
            pr = self._seed_read(outer, H)
            nr = self._seed_read(inner, H)
            bit = (pr == 0) + ((nr != 2) << 1)
            dep = p.after.get(n)
            if dep is None:
                tr = Trace([f"{where}"])
                dep = Dep(p, n, bit, tr, seed=(outer, inner, where))
                p.after[n] = dep
                n.before[p] = dep
                self.nr_seeded += 1
            else:
                dep.mask |= 1 << bit
                dep.maskb |= 1 << _SWAP[bit]

    def _seed_read(self, name, H):
        if name in H.READ_CLASSES:
            return 2 if self.rwlock_recursive else 1
        return 0

    # ----------------------------------------------------------------- tasks
    def _task(self, actor) -> _Task:
        t = self.tasks.get(actor.id)
        if t is None:
            t = self.tasks[actor.id] = _Task(actor)
        return t

    def _read_of(self, lock, mode, actor) -> int:
        if mode != "R":
            return 0
        if lock.kind == "rwlock":
            # rwlock_acquire_read: read_lock_is_recursive() ? 2 : 1
            if self.rwlock_recursive or irq_state(actor).in_interrupt():
                return 2
            return 1
        return 1                            # rwsem_acquire_read: lock_acquire_shared

    # ============================================================ the hooks
    def contended(self, actor, lock, mode, site, subclass=0):
        if not self.debug_locks:
            return
        t = self._task(actor)
        try:
            t.pending = self._lock_acquire(t, lock, mode, site, False, subclass)
        except _Stop:
            pass

    def acquire(self, actor, lock, mode, site, trylock, subclass=0):
        if not self.debug_locks:
            return
        t = self.tasks.get(actor.id)
        if t is None:
            t = self._task(actor)
        p = t.pending
        if p is not None and p.lock is lock:
            t.pending = None
            return
        try:
            self._lock_acquire(t, lock, mode, site, trylock, subclass)
        except _Stop:
            pass

    def release(self, actor, lock, mode, site):
        if not self.debug_locks:
            return
        t = self.tasks.get(actor.id) or self._task(actor)
        try:
            self._lock_release(t, lock, mode, site)
        except _Stop:
            pass

    # lock_map_acquire/lock_map_release (mmactors.sync.lockdep_map): a bare
    # lockdep_map is acquired and released exactly as a lock is.
    map_acquire = acquire
    map_release = release

    def bad_unlock(self, actor, lock, mode, site):
        if not self.debug_locks:
            return
        t = self._task(actor)
        try:
            self._unlock_imbalance(t, lock, mode, site)
        except _Stop:
            pass

    def downgrade(self, actor, lock, site):
        """lock_downgrade(): the held write lock becomes a read in place and
        the locks from it up are re-validated (reacquire_held_locks)."""
        if not self.debug_locks:
            return
        t = self._task(actor)
        held = t.held
        idx = self._find_held(held, lock)
        if idx is None:
            try:
                self._unlock_imbalance(t, lock, "W", site)
            except _Stop:
                pass
            return
        held[idx].read = self._read_of(lock, "R", actor)
        try:
            self._reacquire_above(t, held, idx)
        except _Stop:
            pass

    def lock_freed(self, actor, lock, how, site):
        if not self.debug_locks:
            return
        t = self._task(actor)
        for hl in t.held:
            if hl.lock is lock:
                try:
                    self._report_freed(t, hl, how, site)
                except _Stop:
                    pass
                return

    def might_sleep(self, actor, what):
        if not self.debug_locks:
            return
        t = self.tasks.get(actor.id)
        if t is None:
            t = self._task(actor)
        st = actor.data.get("irq") or irq_state(actor)
        spinning = 0
        for h in t.held:
            if not h.cls.sleeping:
                spinning += 1
        if not spinning and st.hardirqs_enabled and not st.in_interrupt():
            return
        pc = st.preempt_count(spinning)
        try:
            self._report_sleep(t, what, pc, st)
        except _Stop:
            pass

    def irq(self, actor, event, site):
        if not self.debug_locks:
            return
        t = self.tasks.get(actor.id) or self._task(actor)
        st = irq_state(actor)
        try:
            if event == "irq_enable":
                # lockdep_hardirqs_on_prepare: not from inside a handler.
                if st.hardirq_ctx:
                    return
                self._mark_held_locks(t, ENABLED_HARDIRQ)
                if st.softirqs_enabled:
                    self._mark_held_locks(t, ENABLED_SOFTIRQ)
            elif event == "bh_enable":
                # lockdep_softirqs_on: mark held locks SOFTIRQ-ON if hardirqs are on.
                if st.hardirqs_enabled:
                    self._mark_held_locks(t, ENABLED_SOFTIRQ)
        except _Stop:
            pass

    # ====================================================== acquire/release
    def _lock_acquire(self, t, lock, mode, site, trylock, subclass):
        """__lock_acquire(): mark usage, extend the chain, validate a new chain."""
        actor = t.actor
        ent = self._inst.get(id(lock))
        cls = ent[2].get(subclass) if ent is not None else None
        if cls is None:
            cls, addr = self._class_of(t, lock, subclass)
        else:
            addr = ent[1]
        if mode != "R":
            read = 0
        else:
            read = self._read_of(lock, mode, actor)
        st = actor.data.get("irq") or irq_state(actor)
        hl = HeldLock(cls, lock, read, trylock, not st.hardirqs_enabled,
                      (2 if st.hardirq_ctx else 0) | (1 if st.softirq_ctx else 0),
                      site, self.engine.now, addr)
        cls.ops += 1
        # mark_usage(), with the common process-context case tested inline
        if st.hardirqs_enabled and not (st.bh_count or st.hardirq_ctx or st.softirq_ctx):
            need = _PROC_R if read else _PROC_W
            if cls.usage & need != need:
                self._mark_usage(t, hl, st)
        else:
            self._mark_usage(t, hl, st)
        held = t.held
        hid = cls.idx * 4 + read
        if held and held[-1].irq_context == hl.irq_context:
            chain_head = False
            hl.chain = held[-1].chain + (hid,)
        else:
            chain_head = True
            hl.chain = (hid,)
        if not trylock and hl.chain not in self.chains:
            self._validate_chain(t, hl, chain_head)
        held.append(hl)
        if t.released:
            t.released.pop(id(lock), None)
        return hl

    def _validate_chain(self, t, hl, chain_head):
        if hl.trylock or hl.chain in self.chains:
            return
        self.chains.add(hl.chain)
        ret = self._check_deadlock(t, hl)
        if not chain_head and ret != 2:
            self._check_prevs_add(t, hl)

    def _check_deadlock(self, t, nxt) -> int:
        """check_deadlock(): does the task hold this class already?"""
        for prev in t.held:
            if prev.cls is not nxt.cls:
                continue
            if nxt.read == 2 and prev.read:
                continue                    # read-after-read recursion is fine
            self._report_recursive(t, prev, nxt)
        return 1

    def _check_prevs_add(self, t, nxt):
        """check_prevs_add(): a dependency from each relevant held lock --
        consecutive trylocks and the first non-trylock, same irq context."""
        held = t.held
        i = len(held) - 1
        trace = None
        while i >= 0:
            prev = held[i]
            if trace is None:
                trace = self._trace(t, prev, nxt)
            self._check_prev_add(t, prev, nxt, trace)
            if not prev.trylock:
                break
            if i == 0 or held[i - 1].irq_context != prev.irq_context:
                break
            i -= 1

    def _trace(self, t, prev, nxt) -> Trace:
        return Trace([site_name(nxt.site), f"(holding {prev.cls.name}, taken at "
                      f"{site_name(prev.site)})"], t.name, self.engine.now)

    def _check_prev_add(self, t, prev, nxt, trace):
        """check_prev_add(): circularity, irq safety, then record the edge."""
        pcls = prev.cls
        prev_read0 = prev.read == 0

        def conflict(n):                    # hlock_conflict()
            return n.cls is pcls and (prev_read0 or not n.only_xr)

        target = self._bfs(nxt.cls, nxt.read == 2, False, conflict)
        if target is not None:
            if nxt.cls is pcls:
                self._report_recursive(t, prev, nxt)
            self._report_circular(t, nxt, prev, target)
        self._check_irq_usage(t, prev, nxt)
        bit = (prev.read == 0) + ((nxt.read != 2) << 1)
        dep = pcls.after.get(nxt.cls)
        if dep is not None:
            dep.mask |= 1 << bit
            dep.maskb |= 1 << _SWAP[bit]
            if dep.seed is not None and dep.observed is None:
                dep.observed = trace
            return
        dep = Dep(pcls, nxt.cls, bit, trace)
        pcls.after[nxt.cls] = dep
        nxt.cls.before[pcls] = dep
        self.nr_deps += 1

    def _lock_release(self, t, lock, mode, site):
        """__lock_release(): find the held lock (top-down, same irq context),
        drop it, and re-validate the ones above it (reacquire_held_locks)."""
        held = t.held
        idx = self._find_held(held, lock)
        if idx is None:
            self._unlock_imbalance(t, lock, mode, site)
            return
        del held[idx]
        t.released[id(lock)] = (lock, site)
        if idx < len(held):
            self._reacquire_above(t, held, idx)

    def _reacquire_above(self, t, held, idx):
        """reacquire_held_locks: re-validate the locks held above ``idx`` after
        the one at ``idx`` changed (downgraded) or went (released out of order)."""
        above = held[idx:]
        del held[idx:]
        for hl in above:
            if held and held[-1].irq_context == hl.irq_context:
                chain_head = False
                hl.chain = held[-1].chain + (hl.cls.idx * 4 + hl.read,)
            else:
                chain_head = True
                hl.chain = (hl.cls.idx * 4 + hl.read,)
            self._validate_chain(t, hl, chain_head)
            held.append(hl)

    @staticmethod
    def _find_held(held, lock):
        if not held:
            return None
        i = len(held) - 1
        if held[i].lock is lock:
            return i
        ctx = held[i].irq_context
        i -= 1
        while i >= 0:
            if held[i].irq_context != ctx:
                return None
            if held[i].lock is lock:
                return i
            i -= 1
        return None

    # ==================================================================== BFS
    def _bfs(self, root_cls, root_only_xr, backward, match):
        """__bfs() over strong paths; returns the matching node or None.
        Visited per (class, only_xr) -- see the module docstring."""
        root = _Node(root_cls, None, None, root_only_xr)
        if match(root):
            return root
        best = {root_cls: root_only_xr}
        q = deque((root,))
        pop, push = q.popleft, q.append
        while q:
            node = pop()
            only_xr = node.only_xr
            adj = node.cls.before if backward else node.cls.after
            for c, dep in adj.items():
                m = dep.maskb if backward else dep.mask
                if only_xr:
                    m &= ~(DEP_SR | DEP_SN)     # -(*R)-> -(S*)-> is not strong
                    if not m:
                        continue
                xr = not (m & (DEP_SN | DEP_EN))
                seen = best.get(c)
                if seen is not None and (seen is False or xr):
                    continue
                best[c] = xr
                n = _Node(c, node, dep, xr)
                if match(n):
                    return n
                push(n)
        return None

    # ============================================================ irq usage
    def _mark_usage(self, t, hl, st):
        """mark_usage(): set the usage bits this acquisition implies."""
        cls = hl.cls
        read = hl.read
        if not hl.trylock:
            if st.hardirq_ctx:
                self._mark_lock(t, hl, USED_IN_HARDIRQ_READ if read else USED_IN_HARDIRQ)
            if st.softirq_ctx:
                self._mark_lock(t, hl, USED_IN_SOFTIRQ_READ if read else USED_IN_SOFTIRQ)
        if not hl.hardirqs_off:
            self._mark_lock(t, hl, ENABLED_HARDIRQ_READ if read else ENABLED_HARDIRQ)
            if st.softirqs_enabled:
                self._mark_lock(t, hl, ENABLED_SOFTIRQ_READ if read else ENABLED_SOFTIRQ)
        bit = LOCK_USED_READ if read else LOCK_USED
        if not cls.usage & (1 << bit):
            cls.usage |= 1 << bit

    def _mark_held_locks(self, t, base_bit):
        for hl in list(t.held):
            self._mark_lock(t, hl, base_bit + (LOCK_USAGE_READ_MASK if hl.read else 0))

    def _mark_lock(self, t, hl, new_bit):
        cls = hl.cls
        m = 1 << new_bit
        if cls.usage & m:
            return
        cls.usage |= m
        cls.usage_traces[new_bit] = Trace([site_name(hl.site)], t.name, self.engine.now)
        if not new_bit & LOCK_USAGE_DIR_MASK:
            self._any_used_in = True
        self._mark_lock_irq(t, hl, new_bit)

    def _mark_lock_irq(self, t, hl, new_bit):
        excl = exclusive_bit(new_bit)
        read = new_bit & LOCK_USAGE_READ_MASK
        # valid_state(): this lock must not have the exclusive usage itself.
        if hl.cls.usage & (1 << excl):
            self._report_usage(t, hl, excl, new_bit)
        if not read and hl.cls.usage & (1 << (excl + LOCK_USAGE_READ_MASK)):
            self._report_usage(t, hl, excl + LOCK_USAGE_READ_MASK, new_bit)
        if not self._any_used_in:
            return
        if new_bit & LOCK_USAGE_DIR_MASK:
            self._check_usage(t, hl, excl, forwards=False)
        else:
            self._check_usage(t, hl, excl, forwards=True)

    def _usage_match(self, mask):
        def match(n):
            u = n.cls.usage if not n.only_xr else n.cls.usage & LOCKF_IRQ
            return bool(u & mask)
        return match

    def _check_usage(self, t, hl, bit, forwards):
        """check_usage_forwards/backwards()."""
        read_bit = bit + LOCK_USAGE_READ_MASK
        mask = (1 << bit) | (1 << read_bit)
        if forwards:
            target = self._bfs(hl.cls, hl.read == 2, False, self._usage_match(mask))
        else:
            target = self._bfs(hl.cls, hl.read != 0, True, self._usage_match(mask))
        if target is None:
            return
        name = state_name(bit) if target.cls.usage & (1 << bit) else state_name(read_bit)
        self._report_inversion(t, hl, target, forwards, name,
                               bit if target.cls.usage & (1 << bit) else read_bit)

    def _check_irq_usage(self, t, prev, nxt):
        """check_irq_usage(): does prev -> next connect an irq-safe lock
        (backwards from prev) to an irq-unsafe one (forwards from next)?"""
        if not self._any_used_in:
            return
        acc = [0]

        def accumulate(n):                 # usage_accumulate()
            acc[0] |= n.cls.usage if not n.only_xr else n.cls.usage & LOCKF_IRQ
            return False

        self._bfs(prev.cls, prev.read != 0, True, accumulate)
        usage = acc[0] & LOCKF_USED_IN_IRQ_ALL
        if not usage:
            return
        fwd = self._bfs(nxt.cls, nxt.read == 2, False, self._usage_match(exclusive_mask(usage)))
        if fwd is None:
            return
        bmask = original_mask(fwd.cls.usage & LOCKF_ENABLED_IRQ_ALL)
        back = self._bfs(prev.cls, prev.read != 0, True, self._usage_match(bmask))
        if back is None:
            return
        pair = find_exclusive_match(back.cls.usage, fwd.cls.usage)
        if pair is None:
            return
        self._report_bad_irq_dependency(t, prev, nxt, back, fwd, pair[0], pair[1])

    # ========================================================= unlock errors
    def _unlock_imbalance(self, t, lock, mode, site):
        others = [a for a in lock.holders() if a is not t.actor] if hasattr(lock, "holders") else []
        if id(lock) in t.released and not others:
            kind = "double-unlock"
        elif others:
            kind = "non-owner-unlock"
        else:
            kind = "bad-unlock"
        self._report_unlock(t, lock, site, kind, others)

    # ================================================================ reports
    def _held_lines(self, t) -> list[str]:
        held = t.held
        if not held:
            return [f"no locks held by {t.name}."]
        n = len(held)
        out = [f"{n} lock{'s' if n > 1 else ''} held by {t.name}:"]
        for i, hl in enumerate(held):
            out.append(f" #{i}: " + self._lock_line(hl))
        return out

    def _lock_line(self, hl) -> str:
        return f"{hl.addr:016x} {hl.cls.label()}, at: {site_name(hl.site)}"

    def _backtrace(self, t, site) -> list[str]:
        a = t.actor
        return ["", "stack backtrace:",
                f"CPU: {a.cpu} UID: 0 PID: {a.id} Comm: {a.name} {kernel_ident()}",
                f"virtual time: {self.engine.now} ns",
                f" {site_name(site)}"]

    def _emit(self, kind, headline, body, t, *, classes, sites, chain=None,
              hierarchy=False, ruled=True):
        eng = self.engine
        if ruled:                            # lockdep's WARNINGs
            rule = "=" * len(headline)
            lines = ["", rule, headline, kernel_ident(), "-" * len(headline)] + body
        else:                                # __might_resched()'s BUG: lines
            lines = ["", headline] + body
        text = "\n".join(lines) + "\n"
        try:
            token = eng.replay_token()
        except Exception:  # noqa: BLE001 - a token is a courtesy here
            token = None
        rep = LockdepReport(kind=kind, headline=headline, classes=list(classes),
                            actors=[t.name] if t is not None else [],
                            sites=[site_name(s) for s in sites], text=text,
                            virtual_ns=eng.now, replay_token=token, chain=chain or [],
                            hierarchy=hierarchy)
        self.reports.append(rep)
        self.debug_locks = False            # debug_locks_off(): lockdep reports once
        if self.stop:
            raise LockdepError(rep, now=eng.now, token=token,
                               actor=t.actor.name if t is not None else None)
        raise _Stop()

    def _report_recursive(self, t, prev, nxt):
        """print_deadlock_bug()."""
        body = [f"{t.name} is trying to acquire lock:", self._lock_line(nxt), "",
                "but task is already holding lock:", self._lock_line(prev), "",
                "other info that might help us debug this:",
                " Possible unsafe locking scenario:", "",
                "       CPU0", "       ----",
                f"  lock({prev.cls.name});", f"  lock({nxt.cls.name});", "",
                " *** DEADLOCK ***", "",
                " May be due to missing lock nesting notation", ""]
        body += self._held_lines(t) + self._backtrace(t, nxt.site)
        self._emit("recursive", KINDS["recursive"], body, t,
                   classes=[prev.cls.name, nxt.cls.name], sites=[prev.site, nxt.site])

    def _report_circular(self, t, nxt, prev, target):
        """print_circular_bug(): the chain from the held lock back to the new one."""
        path = target.path()                 # nxt ... parent, prev
        depth = len(path) - 1
        body = [f"{t.name} is trying to acquire lock:", self._lock_line(nxt), "",
                "but task is already holding lock:", self._lock_line(prev), "",
                "which lock already depends on the new lock.", "", "",
                "the existing dependency chain (in reverse order) is:"]
        chain = []
        seeded = False
        # target (the held lock's class) first, down to #0 = the new lock.
        for k in range(depth, 0, -1):
            node = path[k]
            dep = node.dep
            body.append("")
            body.append(f"-> #{k} {node.cls.label()}:")
            if dep.seed is not None:
                seeded = True
                o, i, where = dep.seed
                body.append(f"       mm lock order: {o} -> {i}")
                body.append(f"       ({where})")
                if dep.observed is not None:
                    body.append("       and seen in this run at:")
                    body.extend(dep.observed.lines(7))
            else:
                body.extend(dep.trace.lines(7))
            chain.append({"class": node.cls.name, "after": dep.prev.name,
                          "site": (dep.trace.frames[0] if dep.seed is None
                                   else f"mm lock order ({dep.seed[2]})"),
                          "actor": dep.trace.actor, "virtual_ns": dep.trace.now})
        body.append("")
        body.append(f"-> #0 {nxt.cls.label()}:")
        body.extend(self._trace(t, prev, nxt).lines(7))
        chain.append({"class": nxt.cls.name, "after": prev.cls.name,
                      "site": site_name(nxt.site), "actor": t.name,
                      "virtual_ns": self.engine.now})
        parent = path[depth - 1].cls if depth >= 1 else nxt.cls
        body += ["", "other info that might help us debug this:", ""]
        if parent is not nxt.cls:
            body += ["Chain exists of:", f"  {nxt.cls.name} --> {parent.name} --> {prev.cls.name}", ""]
        pl = "rlock(" if prev.read else "lock("
        nl = "rlock(" if nxt.read else "lock("
        body += [" Possible unsafe locking scenario:", "",
                 "       CPU0                    CPU1",
                 "       ----                    ----",
                 f"  {pl}{prev.cls.name});",
                 f"                               lock({parent.name});",
                 f"                               lock({prev.cls.name});",
                 f"  {nl}{nxt.cls.name});", "",
                 " *** DEADLOCK ***", ""]
        body += self._held_lines(t) + self._backtrace(t, nxt.site)
        classes = [n.cls.name for n in path]     # dependency order: nxt -> ... -> prev (-> nxt)
        sites = [prev.site, nxt.site]
        self._emit("circular", KINDS["circular"], body, t, classes=classes, sites=sites,
                   chain=chain, hierarchy=seeded)

    def _report_unlock(self, t, lock, site, kind, others):
        """print_unlock_imbalance_bug()."""
        name = lock.lclass.name
        body = [f"{t.name} is trying to release lock ({name}) at:", f"{site_name(site)}"]
        if kind == "double-unlock":
            _, where = t.released[id(lock)]
            body.append("but there are no more locks to release!")
            body.append(f"({name} was already released at: {site_name(where)})")
        elif kind == "non-owner-unlock":
            who = ", ".join(f"{a.name}/{a.id}" for a in others)
            body.append("but there are no more locks to release!")
            body.append(f"({name} is held by {who}, not by {t.name})")
        else:
            body.append("but there are no more locks to release!")
        body += ["", "other info that might help us debug this:"]
        body += self._held_lines(t) + self._backtrace(t, site)
        self._emit(kind, KINDS[kind], body, t, classes=[name], sites=[site])

    def _report_freed(self, t, hl, how, site):
        """print_freed_lock_bug()."""
        lo = hl.addr
        what = "re-initialising" if how == "init" else "freeing memory"
        body = [f"{t.name} is freeing memory {lo:016x}-{lo + 0x3f:016x}, with a lock still held there!",
                self._lock_line(hl),
                f"({what} the lock at {site_name(site)})"]
        body += self._held_lines(t) + self._backtrace(t, site)
        self._emit("held-lock-freed", KINDS["held-lock-freed"], body, t,
                   classes=[hl.cls.name], sites=[hl.site, site])

    def _report_sleep(self, t, what, pc, st):
        """__might_resched() (kernel/sched/core.c)."""
        headline = f"{KINDS['sleep-in-atomic']} at {site_name(what)}"
        a = t.actor
        body = [f"in_atomic(): {1 if pc else 0}, irqs_disabled(): {0 if st.hardirqs_enabled else 1}, "
                f"non_block: 0, pid: {a.id}, name: {a.name}",
                f"preempt_count: {pc:x}, expected: 0",
                "RCU nest depth: 0, expected: 0"]
        body += self._held_lines(t)
        if not st.hardirqs_enabled:
            body += self._irq_events(st)
        spin = [h for h in t.held if not h.cls.sleeping]
        if spin:
            body += ["Preemption disabled at:", f"[<{spin[0].addr:016x}>] {site_name(spin[0].site)}"]
        body += self._backtrace(t, what)
        classes = [h.cls.name for h in spin] or ["(interrupts disabled)" if not st.hardirqs_enabled
                                                 else "(atomic context)"]
        self._emit("sleep-in-atomic", headline, body, t, classes=classes,
                   sites=[h.site for h in spin] + [what], ruled=False)

    def _irq_events(self, st) -> list[str]:
        return [f"irq event stamp: {st.irq_events}",
                f"hardirqs last  enabled at ({st.hardirq_enable_event}): "
                f"{site_name(st.hardirq_enable_site) if st.hardirq_enable_site else '0x0'}",
                f"hardirqs last disabled at ({st.hardirq_disable_event}): "
                f"{site_name(st.hardirq_disable_site) if st.hardirq_disable_site else '0x0'}",
                f"softirqs last  enabled at ({st.softirq_enable_event}): "
                f"{site_name(st.softirq_enable_site) if st.softirq_enable_site else '0x0'}",
                f"softirqs last disabled at ({st.softirq_disable_event}): "
                f"{site_name(st.softirq_disable_site) if st.softirq_disable_site else '0x0'}"]

    def _ctx_line(self, t) -> str:
        st = irq_state(t.actor)
        sc = st.softirq_ctx
        return (f"{t.name} [HC{1 if st.hardirq_ctx else 0}[{st.hardirq_ctx}]:SC{1 if sc else 0}"
                f"[{st.bh_count * 2 + sc if not sc else (st.bh_count - 1) * 2 + 1}]:"
                f"HE{1 if st.hardirqs_enabled else 0}:SE{1 if st.softirqs_enabled else 0}]")

    def _report_usage(self, t, hl, prev_bit, new_bit):
        """print_usage_bug(): "inconsistent lock state"."""
        st = irq_state(t.actor)
        tr = hl.cls.usage_traces.get(prev_bit)
        body = [f"inconsistent {{{USAGE_STR[prev_bit]}}} -> {{{USAGE_STR[new_bit]}}} usage.",
                f"{self._ctx_line(t)} takes:", self._lock_line(hl),
                f"{{{USAGE_STR[prev_bit]}}} state was registered at:"]
        body += tr.lines(2) if tr is not None else ["  ?"]
        body += self._irq_events(st)
        body += ["", "other info that might help us debug this:",
                 " Possible unsafe locking scenario:", "",
                 "       CPU0", "       ----",
                 f"  lock({hl.cls.name});", "  <Interrupt>", f"    lock({hl.cls.name});", "",
                 " *** DEADLOCK ***", ""]
        body += self._held_lines(t) + self._backtrace(t, hl.site)
        sites = [tr.frames[0] if tr is not None else None, hl.site]
        self._emit("inconsistent", KINDS["inconsistent"], body, t, classes=[hl.cls.name],
                   sites=[s for s in sites if s is not None])

    def _irq_scenario(self, safe, unsafe, prev_class, next_class) -> list[str]:
        """print_irq_lock_scenario()."""
        middle = prev_class
        if middle is safe:
            middle = next_class
        out = []
        if middle is not unsafe:
            out += ["Chain exists of:", f"  {safe.name} --> {middle.name} --> {unsafe.name}", ""]
        out += [" Possible interrupt unsafe locking scenario:", "",
                "       CPU0                    CPU1",
                "       ----                    ----",
                f"  lock({unsafe.name});",
                "                               local_irq_disable();",
                f"                               lock({safe.name});",
                f"                               lock({middle.name});",
                "  <Interrupt>",
                f"    lock({safe.name});", "",
                " *** DEADLOCK ***", ""]
        return out

    def _class_header(self, cls, depth) -> list[str]:
        """print_lock_class_header()."""
        pad = " " * depth
        out = [f"{pad}-> {cls.label()} {{"]
        for bit in range(LOCK_USED):
            if cls.usage & (1 << bit):
                out.append(f"{pad}   {USAGE_STR[bit]} at:")
                tr = cls.usage_traces.get(bit)
                if tr is not None:
                    out += tr.lines(depth + 5)
        out.append(f"{pad} }}")
        return out

    def _path_lines(self, leaf, forwards) -> list[str]:
        """print_shortest_lock_dependencies(_backwards)()."""
        out = []
        path = leaf.path()
        for d, node in reversed(list(enumerate(path))):
            out += self._class_header(node.cls, d)
            if node.dep is not None:
                out.append(f"{' ' * d} ... acquired at:")
                out += node.dep.trace.lines(2) if node.dep.seed is None else \
                    [f"  mm lock order ({node.dep.seed[2]})"]
            out.append("")
        return out

    def _report_inversion(self, t, hl, other, forwards, irqclass, bit):
        """print_irq_inversion_bug()."""
        body = [f"{t.name} just changed the state of lock:", self._lock_line(hl)]
        if forwards:
            body.append(f"but this lock took another, {irqclass}-unsafe lock in the past:")
        else:
            body.append(f"but this lock was taken by another, {irqclass}-safe lock in the past:")
        body += [f" {other.cls.label()}", "", "",
                 "and interrupts could create inverse lock ordering between them.", "", "",
                 "other info that might help us debug this:"]
        path = other.path()
        middle = path[1] if len(path) > 1 else None
        root = path[0]
        if forwards:
            body += self._irq_scenario(root.cls, other.cls,
                                       middle.cls if middle else root.cls, other.cls)
        else:
            body += self._irq_scenario(other.cls, root.cls,
                                       middle.cls if middle else other.cls, root.cls)
        body += self._held_lines(t)
        body += ["", "the shortest dependencies between 2nd lock and 1st lock:"]
        body += self._path_lines(other, forwards)
        body += self._backtrace(t, hl.site)
        names = [n.cls.name for n in path]
        if not forwards:
            names.reverse()
        self._emit("irq-inversion", KINDS["irq-inversion"], body, t, classes=names,
                   sites=[hl.site])

    def _report_bad_irq_dependency(self, t, prev, nxt, back, fwd, bit1, bit2):
        """print_bad_irq_dependency(): "X-safe -> X-unsafe lock order"."""
        irqclass = state_name(bit1)
        headline = KINDS["irq-safe-unsafe"] % (irqclass, irqclass)
        body = [f"{self._ctx_line(t)} is trying to acquire:", self._lock_line(nxt), "",
                "and this task is already holding:", self._lock_line(prev),
                "which would create a new lock dependency:",
                f" {prev.cls.label()} -> {nxt.cls.label()}", "",
                f"but this new dependency connects a {irqclass}-irq-safe lock:",
                f" {back.cls.label()}", "", f"... which became {irqclass}-irq-safe at:"]
        tr = back.cls.usage_traces.get(bit1)
        body += tr.lines(1) if tr is not None else []
        body += ["", f"to a {irqclass}-irq-unsafe lock:", f" {fwd.cls.label()}", "",
                 f"... which became {irqclass}-irq-unsafe at:", "..."]
        tr = fwd.cls.usage_traces.get(bit2)
        body += tr.lines(1) if tr is not None else []
        body += ["", "other info that might help us debug this:", ""]
        body += self._irq_scenario(back.cls, fwd.cls, prev.cls, nxt.cls)
        body += self._held_lines(t)
        body += ["", f"the dependencies between {irqclass}-irq-safe lock and the holding lock:"]
        body += self._path_lines(back, False)
        body += ["", f"the dependencies between the lock to be acquired and {irqclass}-irq-unsafe lock:"]
        body += self._path_lines(fwd, True)
        body += self._backtrace(t, nxt.site)
        classes = [n.cls.name for n in reversed(back.path())] + [n.cls.name for n in fwd.path()]
        self._emit("irq-safe-unsafe", headline, body, t, classes=classes,
                   sites=[prev.site, nxt.site])

    def _report_invalid_subclass(self, t, lock, subclass):
        headline = f"{KINDS['invalid-subclass']}: {subclass}"
        body = [f"{t.name}: {lock.lclass.name}: subclass {subclass} >= MAX_LOCKDEP_SUBCLASSES "
                f"({MAX_LOCKDEP_SUBCLASSES})"] + self._backtrace(t, None)
        self._emit("invalid-subclass", headline, body, t, classes=[lock.lclass.name], sites=[])

    # ================================================================ output
    def stats(self) -> dict:
        """A few /proc/lockdep_stats lines."""
        used = [c for c in self.class_list if c.usage or c.ops]
        return {"lock_classes": len(used), "direct_dependencies": self.nr_deps,
                "hierarchy_dependencies": self.nr_seeded, "lock_chains": len(self.chains),
                "hardirq_safe": sum(1 for c in used if c.usage & (1 << USED_IN_HARDIRQ)),
                "softirq_safe": sum(1 for c in used if c.usage & (1 << USED_IN_SOFTIRQ)),
                "hierarchy_classes": sum(1 for c in self.class_list if c.seeded)}

    def to_json(self) -> dict:
        return {"enabled": True, "stop": self.stop, "rwlock_read": self.rwlock_read,
                "hierarchy": self.hierarchy, "stats": self.stats(),
                "reports": [r.to_json() for r in self.reports]}
