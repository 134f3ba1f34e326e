"""Lock classes and their lock_stat figures, as kernel/locking/lockdep.c keeps them.

Every lock instance belongs to a *lock class* named as the kernel names it
(``&zone->lock``, ``&mm->mmap_lock``).  Statistics are per class and, for
read/write locks, split into a write (``-W``) and a read (``-R``) row, as
/proc/lock_stat does.  Definitions follow lock_stat (Documentation/locking/
lockstat.rst and ``lock_contended``/``lock_acquired`` in lockdep.c):

* contentions: acquisitions that had to wait; waittime is measured from the
  contention to the acquisition (only contended acquisitions have one);
* acquisitions: every acquisition, with holdtime from acquisition to release;
* con-bounces / acq-bounces: contentions / acquisitions where the lock was
  last acquired on a different CPU (the lock word's line moved);
* contention points: where the waiters were; contending points: where the
  holder that made them wait had taken the lock.

The kernel counts these at three moments: contention points and con-bounces
when a task starts to wait (lock_contended), contentions and acq-bounces when
it gets the lock (lock_acquired), acquisitions when it releases it
(lock_release).  A wait or a hold still in progress when the run ends is
therefore in some columns and not yet in others; ``waiting_at_end`` and
``held_at_end`` count them, so that the columns reconcile:

    sum of contention points = contentions + waiting_at_end
    con-bounces <= contentions + waiting_at_end
    acq-bounces <= acquisitions + held_at_end
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["LockStat", "LockStatistics", "LockClass", "LockRegistry", "Validator", "HOOKS",
           "lock_registry", "add_validator", "remove_validator", "LOCKSTAT_POINTS"]

LOCKSTAT_POINTS = 4   # the kernel keeps four contention points per class


class LockStat:
    """Mutable lock_stat counters for one class and one mode (W or R)."""

    __slots__ = ("contentions", "con_bounces", "acquisitions", "acq_bounces",
                 "wait_min", "wait_max", "wait_total", "hold_min", "hold_max",
                 "hold_total", "points", "contending", "waiting", "holding")

    def __init__(self):
        self.contentions = self.con_bounces = 0
        self.acquisitions = self.acq_bounces = 0
        self.waiting = self.holding = 0    # waits and holds in progress (see the module doc)
        self.wait_min = self.wait_max = self.wait_total = 0
        self.hold_min = self.hold_max = self.hold_total = 0
        self.points: Counter = Counter()
        self.contending: Counter = Counter()

    def wait(self, ns: int):
        """A contended acquisition after waiting ``ns`` (lock_acquired)."""
        if self.contentions == 0 or ns < self.wait_min:
            self.wait_min = ns
        if ns > self.wait_max:
            self.wait_max = ns
        self.wait_total += ns
        self.contentions += 1
        self.waiting -= 1

    def hold(self, ns: int):
        """A release after holding ``ns`` (lock_release).  LockBase._released
        has this inline (and _Spin.try_pass its zero-hold case): change them
        together."""
        if self.acquisitions == 0 or ns < self.hold_min:
            self.hold_min = ns
        if ns > self.hold_max:
            self.hold_max = ns
        self.hold_total += ns
        self.acquisitions += 1
        self.holding -= 1

    def frozen(self) -> "LockStatistics":
        return LockStatistics(
            self.contentions, self.con_bounces, self.acquisitions, self.acq_bounces,
            self.wait_min, self.wait_max, self.wait_total,
            self.hold_min, self.hold_max, self.hold_total,
            tuple(self.points.most_common()), tuple(self.contending.most_common()),
            self.waiting, self.holding)


@dataclass(frozen=True)
class LockStatistics:
    """A frozen lock_stat record (what ``statistics()`` returns)."""
    contentions: int
    con_bounces: int
    acquisitions: int
    acq_bounces: int
    waittime_min_ns: int
    waittime_max_ns: int
    waittime_total_ns: int
    holdtime_min_ns: int
    holdtime_max_ns: int
    holdtime_total_ns: int
    contention_points: tuple
    contending_points: tuple
    waiting_at_end: int = 0
    held_at_end: int = 0

    @property
    def waittime_avg_ns(self) -> float:
        return self.waittime_total_ns / self.contentions if self.contentions else 0.0

    @property
    def holdtime_avg_ns(self) -> float:
        return self.holdtime_total_ns / self.acquisitions if self.acquisitions else 0.0

    def to_json(self) -> dict:
        return {
            "contentions": self.contentions, "con_bounces": self.con_bounces,
            "acquisitions": self.acquisitions, "acq_bounces": self.acq_bounces,
            "waittime_min_ns": self.waittime_min_ns, "waittime_max_ns": self.waittime_max_ns,
            "waittime_total_ns": self.waittime_total_ns,
            "holdtime_min_ns": self.holdtime_min_ns, "holdtime_max_ns": self.holdtime_max_ns,
            "holdtime_total_ns": self.holdtime_total_ns,
            "contention_points": [[p, n] for p, n in self.contention_points[:LOCKSTAT_POINTS]],
            "contending_points": [[p, n] for p, n in self.contending_points[:LOCKSTAT_POINTS]],
            "waiting_at_end": self.waiting_at_end, "held_at_end": self.held_at_end,
        }


class LockClass:
    """A lock class: the kernel's name, a kind, and lock_stat rows W and R."""

    __slots__ = ("name", "kind", "rw", "stat_w", "stat_r", "instances", "key")

    def __init__(self, name: str, kind: str, rw: bool, key: int):
        self.name, self.kind, self.rw, self.key = name, kind, rw, key
        self.stat_w = LockStat()
        self.stat_r = LockStat()
        self.instances = 0

    def statistics(self, mode: str = "W") -> LockStatistics:
        return (self.stat_r if mode == "R" else self.stat_w).frozen()


class Validator:
    """The interface a lock validator (lockdep, the race detector) implements;
    every method is a no-op here.  Locks call these with the acting actor,
    the lock instance, the mode ("W" exclusive, "R" shared), the acquisition
    site and the subclass (``spin_lock_nested(lock, subclass)``).  A
    validator overrides the hooks it needs; only those are called."""

    def contended(self, actor, lock, mode, site, subclass=0):
        """The actor is about to wait for ``lock`` (validated here, before the
        wait, as the kernel's lock_acquire() runs before the spin)."""

    def acquire(self, actor, lock, mode, site, trylock, subclass=0):
        """The actor now holds ``lock``."""

    def release(self, actor, lock, mode, site):
        """The actor released ``lock``."""

    def bad_unlock(self, actor, lock, mode, site):
        """The actor released a lock it does not hold."""

    def downgrade(self, actor, lock, site):
        """The actor's write hold of ``lock`` became a read hold (downgrade_write)."""

    def lock_freed(self, actor, lock, how, site):
        """``lock`` is re-initialised (how="init") or its memory freed ("free")."""

    def might_sleep(self, actor, what):
        """The actor is about to block on something that sleeps."""

    def irq(self, actor, event, site):
        """An interrupt-state event on the actor's CPU: "irq_disable",
        "irq_enable", "bh_disable", "bh_enable", "hardirq_enter",
        "hardirq_exit", "softirq_enter", "softirq_exit"."""

    def map_acquire(self, actor, lock, mode, site, trylock, subclass=0):
        """The actor acquired a lockdep-only map (:mod:`.lockdep_map`:
        ``lock_map_acquire``, e.g. ``fs_reclaim``); nothing waited."""

    def map_release(self, actor, lock, mode, site):
        """The actor released a lockdep-only map (``lock_map_release``)."""


HOOKS = ("contended", "acquire", "release", "bad_unlock", "downgrade", "lock_freed",
         "might_sleep", "irq", "map_acquire", "map_release")


class LockRegistry:
    """All lock classes of a run (one per engine, in ``engine.runvars``), and
    the validators watching its locks.

    Dispatch is per hook: ``on_acquire`` is the tuple of the ``acquire``
    methods of the validators that override it (empty when none does), and
    so on for every name in :data:`HOOKS`.  A lock calls
    ``for hook in reg.on_acquire: hook(...)``, which costs an empty loop when
    nothing watches and reaches any number of validators when several do
    (lockdep and the race detector), each only for the hooks it has.
    """

    def __init__(self):
        self.classes: dict[str, LockClass] = {}
        self.validators: list = []
        self._dispatch()

    def get(self, name: str, kind: str, rw: bool) -> LockClass:
        c = self.classes.get(name)
        if c is None:
            c = self.classes[name] = LockClass(name, kind, rw, len(self.classes))
        elif c.kind != kind:
            raise ValueError(f"lock class {name!r} is a {c.kind}, not a {kind}")
        c.instances += 1
        return c

    # -- validators ------------------------------------------------------------
    def add_validator(self, v) -> None:
        if v not in self.validators:
            self.validators.append(v)
            self._dispatch()

    def remove_validator(self, v) -> None:
        if v in self.validators:
            self.validators.remove(v)
            self._dispatch()

    def find(self, cls):
        """The first validator that is a ``cls``, or None."""
        for v in self.validators:
            if isinstance(v, cls):
                return v
        return None

    def _dispatch(self):
        for h in HOOKS:
            base = getattr(Validator, h)
            setattr(self, "on_" + h, tuple(getattr(v, h) for v in self.validators
                                            if getattr(type(v), h, base) is not base))

    # -- lock_stat ------------------------------------------------------------
    def rows(self):
        """(row name, LockStatistics) for every class and mode that was used."""
        out = []
        for c in self.classes.values():
            for mode, st in (("W", c.stat_w), ("R", c.stat_r)):
                if st.acquisitions or st.contentions or st.waiting or st.holding:
                    name = c.name + (f"-{mode}" if c.rw else "")
                    out.append((name, st.frozen()))
        return out

    def to_json(self) -> dict:
        return {name: st.to_json() for name, st in sorted(self.rows())}


def lock_registry(engine) -> LockRegistry:
    """The run's lock registry, made on first use."""
    reg = engine.runvars.get(LockRegistry)
    if reg is None:
        reg = engine.runvars[LockRegistry] = LockRegistry()
    return reg


def add_validator(engine, validator) -> None:
    """Let ``validator`` watch every lock of ``engine``'s run, beside any others."""
    lock_registry(engine).add_validator(validator)


def remove_validator(engine, validator) -> None:
    lock_registry(engine).remove_validator(validator)
