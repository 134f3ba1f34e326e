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
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["LockStat", "LockStatistics", "LockClass", "LockRegistry", "format_lock_stat"]

LOCKSTAT_POINTS = 4   # the kernel keeps four contention points per class


class LockStat:
    """Mutable lock_stat counters for one class and one mode (W or R)."""

    __slots__ = ("contentions", "con_bounces", "acquisitions", "acq_bounces",
                 "wait_min", "wait_max", "wait_total", "hold_min", "hold_max",
                 "hold_total", "points", "contending")

    def __init__(self):
        self.contentions = self.con_bounces = 0
        self.acquisitions = self.acq_bounces = 0
        self.wait_min = self.wait_max = self.wait_total = 0
        self.hold_min = self.hold_max = self.hold_total = 0
        self.points: Counter = Counter()
        self.contending: Counter = Counter()

    def wait(self, ns: int):
        if self.contentions == 0 or ns < self.wait_min:
            self.wait_min = ns
        if ns > self.wait_max:
            self.wait_max = ns
        self.wait_total += ns
        self.contentions += 1

    def hold(self, ns: int):
        if self.acquisitions == 0 or ns < self.hold_min:
            self.hold_min = ns
        if ns > self.hold_max:
            self.hold_max = ns
        self.hold_total += ns
        self.acquisitions += 1

    def frozen(self) -> "LockStatistics":
        return LockStatistics(
            self.contentions, self.con_bounces, self.acquisitions, self.acq_bounces,
            self.wait_min, self.wait_max, self.wait_total,
            self.hold_min, self.hold_max, self.hold_total,
            tuple(self.points.most_common()), tuple(self.contending.most_common()))


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


class LockRegistry:
    """All lock classes of a run (one per engine), and the lockdep hook.

    ``validator`` is None or a :class:`Validator` (``contended``, ``acquire``,
    ``release``, ``bad_unlock``, ``lock_freed``, ``might_sleep``, ``irq``);
    lockdep (``mmactors.lockdep``) plugs in here and sees every acquisition.
    None costs one attribute test per lock operation.
    """

    def __init__(self):
        self.classes: dict[str, LockClass] = {}
        self.validator = None

    def get(self, name: str, kind: str, rw: bool) -> LockClass:
        c = self.classes.get(name)
        if c is None:
            c = self.classes[name] = LockClass(name, kind, rw, len(self.classes))
        elif c.kind != kind:
            raise ValueError(f"lock class {name!r} is a {c.kind}, not a {kind}")
        c.instances += 1
        return c

    def rows(self):
        """(row name, LockStatistics) for every class and mode that was used."""
        out = []
        for c in self.classes.values():
            for mode, st in (("W", c.stat_w), ("R", c.stat_r)):
                if st.acquisitions or st.contentions:
                    name = c.name + (f"-{mode}" if c.rw else "")
                    out.append((name, st.frozen()))
        return out

    def to_json(self) -> dict:
        return {name: st.to_json() for name, st in sorted(self.rows())}


def _us(ns) -> str:
    # lock_stat prints times in microseconds with two decimals.
    return f"{ns / 1000:.2f}"


def format_lock_stat(registry: LockRegistry, top: int | None = None,
                     points: bool = True) -> str:
    """Render like /proc/lock_stat (version 0.4), classes by contentions."""
    rows = registry.rows()
    rows.sort(key=lambda r: (-r[1].contentions, -r[1].acquisitions, r[0]))
    if top is not None:
        rows = rows[:top]
    cols = ("class name", "con-bounces", "contentions", "waittime-min", "waittime-max",
            "waittime-total", "waittime-avg", "acq-bounces", "acquisitions",
            "holdtime-min", "holdtime-max", "holdtime-total", "holdtime-avg")
    w0 = max([40] + [len(n) + 1 for n, _ in rows])
    head = f"{cols[0]:>{w0}} " + " ".join(f"{c:>14}" for c in cols[1:])
    bar = "-" * len(head)
    out = ["lock_stat version 0.4", bar, head, bar]
    for name, s in rows:
        out.append(
            f"{name + ':':>{w0}} "
            f"{s.con_bounces:>14} {s.contentions:>14} {_us(s.waittime_min_ns):>14} "
            f"{_us(s.waittime_max_ns):>14} {_us(s.waittime_total_ns):>14} "
            f"{_us(s.waittime_avg_ns):>14} {s.acq_bounces:>14} {s.acquisitions:>14} "
            f"{_us(s.holdtime_min_ns):>14} {_us(s.holdtime_max_ns):>14} "
            f"{_us(s.holdtime_total_ns):>14} {_us(s.holdtime_avg_ns):>14}")
        if points and s.contention_points:
            base = name.rsplit("-", 1)[0] if name.endswith(("-W", "-R")) else name
            out.append(f"{'-' * 15:>{w0}}")
            for site, n in s.contention_points[:LOCKSTAT_POINTS]:
                out.append(f"{base:>{w0}} {n:>14} [{site}]")
            if s.contending_points:
                out.append(f"{'-' * 15:>{w0}}")
                for site, n in s.contending_points[:LOCKSTAT_POINTS]:
                    out.append(f"{base:>{w0}} {n:>14} [{site}]")
            out.append("")
    out.append(bar)
    return "\n".join(out)


class Validator:
    """The interface a lock validator (lockdep) implements; every method is a
    no-op here.  Locks call these with the acting actor, the lock instance,
    the mode ("W" exclusive, "R" shared), the acquisition site and the
    subclass (``spin_lock_nested(lock, subclass)``)."""

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


class ValidatorMux(Validator):
    """Several validators sharing the one ``LockRegistry.validator`` slot
    (lockdep and the memory model's happens-before race detector).  Every
    call goes to each validator in the order they were added.

    ``bad_unlock`` and ``lock_freed`` keep the slot-empty behaviour when no
    validator overrides them: a LockError, as if no validator were attached
    (a validator that only watches acquisitions must not swallow misuse).
    """

    def __init__(self, validators=()):
        self.validators = list(validators)

    def find(self, cls):
        """The first validator that is a ``cls``, or None."""
        for v in self.validators:
            if isinstance(v, cls):
                return v
        return None

    def contended(self, actor, lock, mode, site, subclass=0):
        for v in self.validators:
            v.contended(actor, lock, mode, site, subclass)

    def acquire(self, actor, lock, mode, site, trylock, subclass=0):
        for v in self.validators:
            v.acquire(actor, lock, mode, site, trylock, subclass)

    def release(self, actor, lock, mode, site):
        for v in self.validators:
            v.release(actor, lock, mode, site)

    def bad_unlock(self, actor, lock, mode, site):
        handled = False
        for v in self.validators:
            if type(v).bad_unlock is not Validator.bad_unlock:
                v.bad_unlock(actor, lock, mode, site)
                handled = True
        if not handled:
            from .lock import LockError
            raise LockError(f"{actor.name} releases {lock.name}, which it does not hold")

    def downgrade(self, actor, lock, site):
        """The actor's write hold of ``lock`` became a read hold (downgrade_write)."""

    def lock_freed(self, actor, lock, how, site):
        handled = False
        for v in self.validators:
            if type(v).lock_freed is not Validator.lock_freed:
                v.lock_freed(actor, lock, how, site)
                handled = True
        if not handled and lock.holders():
            from .lock import LockError
            raise LockError(f"{actor.name}: {how} of {lock.name}, which is held")

    def might_sleep(self, actor, what):
        for v in self.validators:
            v.might_sleep(actor, what)

    def irq(self, actor, event, site):
        for v in self.validators:
            v.irq(actor, event, site)


def add_validator(registry: LockRegistry, validator) -> ValidatorMux:
    """Put ``validator`` in ``registry``'s slot beside whatever is there
    (wrapping it in a :class:`ValidatorMux`); returns the mux."""
    cur = registry.validator
    if isinstance(cur, ValidatorMux):
        mux = cur
    else:
        mux = ValidatorMux([cur] if cur is not None else [])
        registry.validator = mux
    if validator not in mux.validators:
        mux.validators.append(validator)
    return mux


def remove_validator(registry: LockRegistry, validator) -> None:
    """Take ``validator`` out of the slot (or out of the mux in it)."""
    cur = registry.validator
    if cur is validator:
        registry.validator = None
    elif isinstance(cur, ValidatorMux) and validator in cur.validators:
        cur.validators.remove(validator)
        if not cur.validators:
            registry.validator = None
