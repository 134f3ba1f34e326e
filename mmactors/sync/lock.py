"""What every kernel lock model shares: its class, its cache line, its wait
queue, and the bookkeeping of lock_stat, the trace and the validator hooks.

Why one base: trio builds all of its locks on one ``ParkingLot``; we do the
same (:class:`~mmactors.sync.waitqueue.WaitQueue`), so fairness (FIFO
hand-off), statistics, the wait-for graph and the validators live here once
and every lock kind only decides *when* a waiter gets in.  A waiter is
parked with the engine; the releaser computes the virtual time at which the
next holder would observe the release on real hardware (cache-line
transfers, wake-up latency) and wakes it for that instant.

Validators (lockdep, the race detector) see every acquisition through the
per-hook tuples of the run's :class:`~mmactors.sync.lockstat.LockRegistry`;
the same code runs whether or not any validator watches.
"""
from __future__ import annotations

import os
import sys

from .._core import ActorState
from .._core.errors import SimulationError
from ..costs import CacheLine
from .lockstat import lock_registry
from .waitqueue import Waiter, WaitQueue

__all__ = ["LockBase", "LockError", "site_name", "call_site", "might_sleep"]

_PARKED = ActorState.PARKED


class LockError(SimulationError):
    """Misuse of a lock (unlock of a lock not held, re-initialising or freeing
    a held lock) when no validator reports it.  The run ends as a kernel BUG
    would (exit status 6), as CONFIG_DEBUG_SPINLOCK's "spinlock already
    unlocked" and CONFIG_DEBUG_MUTEXES' checks end it on a debug kernel."""

    exit_status = 6
    kind = "bug"

    def __init__(self, message: str, engine=None):
        if engine is None:
            super().__init__(message)
        else:
            cur = engine.current
            super().__init__(message, now=engine.now, token=engine.replay_token(),
                             actor=cur.name if cur is not None else None)


_site_cache: dict = {}


def site_name(site) -> str:
    """Render an acquisition site: ``function (file.py:line)`` or a given string."""
    s = _site_cache.get(site)
    if s is None:
        if site is None:
            s = "?"
        elif isinstance(site, str):
            s = site
        else:
            code, line = site
            s = f"{code.co_name} ({os.path.basename(code.co_filename)}:{line})"
        _site_cache[site] = s
    return s


def call_site(up: int = 0):
    """The acquisition site of a lock call: the (code, line) of the frame that
    called the function calling ``call_site`` (``up`` more frames out for
    helpers in between).  Rendered lazily by :func:`site_name`."""
    f = sys._getframe(2 + up)
    return (f.f_code, f.f_lineno)


def might_sleep(actor, what) -> None:
    """might_sleep(): tell the validators ``actor`` is about to block."""
    for hook in lock_registry(actor.engine).on_might_sleep:
        hook(actor, what)


class LockBase:
    kind = "lock"
    rw = False            # has separate read/write lock_stat rows
    sleeping = False      # may schedule (mutex, rwsem) as opposed to spinning

    def __init__(self, engine, name: str, *, line: CacheLine | None = None):
        self.engine = engine
        self.name = name
        self.reg = lock_registry(engine)
        self.lclass = self.reg.get(name, self.kind, self.rw)
        self.line = line if line is not None else CacheLine(engine.costs, engine.node_of, name,
                                                            clock=engine)
        self.cpu = -1                 # CPU of the last acquisition (bounces)
        self.waiters = WaitQueue(self)
        # holder id -> [t1, site1, t2, site2, ...]: acquisition times and sites,
        # a stack because rwlock readers may nest
        self._hold: dict[int, list] = {}
        self._holders: dict[int, object] = {}  # holder id -> actor

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    # -- the wait-for graph -------------------------------------------------
    def holders(self):
        return list(self._holders.values())

    def statistics(self, mode: str = "W"):
        return self.lclass.statistics(mode)

    # -- bookkeeping shared by every kind ----------------------------------
    def _stat(self, mode):
        return self.lclass.stat_r if mode == "R" else self.lclass.stat_w

    def _contended(self, me, mode, site):
        """Record a contention (lock_contended) and return its start time."""
        st = self.lclass.stat_r if mode == "R" else self.lclass.stat_w
        if self.cpu != me.cpu:
            st.con_bounces += 1
        st.waiting += 1
        name = _site_cache.get          # site_name's cache: one lookup per known site
        st.points[name(site) or site_name(site)] += 1
        for h in self._hold.values():
            st.contending[name(h[-1]) or site_name(h[-1])] += 1
            break
        return self.engine.now

    async def _wait(self, me, mode, site, ready_at, spinning=True, subclass=0):
        """Park ``me`` in the FIFO until a releaser hands the lock over.

        ``spinning`` waiters see the hand-off after cache-line transfers;
        sleeping ones after a wake-up (``wakeup_ns``).  The validators see the
        attempt *before* the wait, as lock_acquire() precedes the spin in the
        kernel, so lockdep reports an inversion before it can deadlock.
        (``_Spin.lock`` has this inline, one coroutine frame fewer.)"""
        t0 = self._contended(me, mode, site)
        for hook in self.reg.on_contended:
            hook(me, self, mode, site, subclass)
        await self.waiters.park(Waiter(me, mode, ready_at, t0, site, spinning))
        return t0

    def _acquired(self, me, mode, site, t0=None, trylock=False, subclass=0, notify=True):
        eng = self.engine
        now = eng.now
        st = self.lclass.stat_r if mode == "R" else self.lclass.stat_w
        cpu = me.cpu
        if self.cpu != cpu:
            st.acq_bounces += 1
            self.cpu = cpu
        st.holding += 1
        if t0 is not None:
            st.wait(now - t0)
            if eng.trace is not None:
                eng.trace.span(me.id, "wait " + self.name, "lock-wait", t0, now)
        mid = me.id
        h = self._hold.get(mid)
        if h is None:                 # the usual case: its first hold of this lock
            self._hold[mid] = [now, site]
            self._holders[mid] = me
        else:
            h += (now, site)
        me.held.append(self)
        if notify:
            hooks = self.reg.on_acquire
            if hooks:
                for hook in hooks:
                    hook(me, self, mode, site, trylock, subclass)

    def _released(self, me, mode, site=None, notify=True):
        """Release bookkeeping; False (and nothing done) if ``me`` does not
        hold the lock: a validator reports it, else it is a LockError."""
        eng = self.engine
        mid = me.id
        hold = self._hold
        h = hold.get(mid)
        if not h:
            hooks = self.reg.on_bad_unlock
            if not hooks:
                raise LockError(f"{me.name} releases {self.name}, which it does not hold",
                                eng)
            for hook in hooks:
                hook(me, self, mode, site)
            return False
        if len(h) == 2:               # the usual case: a single hold, not nested
            t = h[0]
            del hold[mid]
            del self._holders[mid]
        else:
            h.pop()
            t = h.pop()
        held = me.held
        if held[-1] is self:          # the usual, nested release order
            held.pop()
        else:
            held.remove(self)
        now = eng.now
        # LockStat.hold, inlined (lock_release)
        st = self.lclass.stat_r if mode == "R" else self.lclass.stat_w
        ns = now - t
        if st.acquisitions == 0 or ns < st.hold_min:
            st.hold_min = ns
        if ns > st.hold_max:
            st.hold_max = ns
        st.hold_total += ns
        st.acquisitions += 1
        st.holding -= 1
        trace = eng.trace
        if trace is not None:
            trace.span(mid, ("hold " if mode == "W" else "read ") + self.name,
                       "lock-hold", t, now)
            if trace.probes:
                trace.released(self, mid, now)
        if notify:
            hooks = self.reg.on_release
            if hooks:
                for hook in hooks:
                    hook(me, self, mode, site)
        return True

    def _try_now(self, me, site) -> bool:
        """The trylock decision of an exclusive lock (one ``owner``), made now:
        one cmpxchg that fails on a held or contended lock (a read of the
        line) or takes it (a write).  The latency is charged as debt."""
        if self.owner is not None or self.waiters._q:
            me.debt += self.line.read(me.cpu)
            return False
        lat = self.line.write(me.cpu)
        self.owner = me
        self._acquired(me, "W", site, trylock=True)
        me.debt += lat             # paid at the next scheduling point
        return True

    def init(self, site=None) -> None:
        """Re-initialise the lock (spin_lock_init, mutex_init, init_rwsem on an
        existing object).  Lockdep reports it if the caller holds the lock
        (``debug_check_no_locks_freed``: "held lock freed!"); without lockdep,
        re-initialising a held lock is a LockError."""
        self._freed("init", site if site is not None else call_site())

    def free(self, site=None) -> None:
        """The memory holding the lock is freed (kfree of the object)."""
        self._freed("free", site if site is not None else call_site())

    def _freed(self, how, site):
        me = self.engine.current
        hooks = self.reg.on_lock_freed
        if hooks:
            for hook in hooks:
                hook(me, self, how, site)
        elif self._holders:
            raise LockError(f"{me.name}: {how} of {self.name}, which is held", self.engine)

    def _grant(self, w: Waiter, at=None):
        """Hand the lock to a waiter taken off the queue.  It runs at ``at`` if
        given, else after one line transfer (spinning) or a wake-up (sleeping)."""
        me = w.actor
        eng = self.engine
        self._holders[me.id] = me      # owned from now on (wait-for graph, holders())
        if at is None:
            if w.spinning:
                at = eng.now + self.line.transfer_cost(me.cpu, self.line.last) \
                    + eng.costs.atomic_rmw_ns
            else:
                at = eng.now + eng.costs.wakeup_ns
        # engine.wake without its checks: a waiter taken off the queue is parked
        me.waiting_on = None
        eng._push(me, max(at, w.ready_at, eng.now))


def owner_running(owner) -> bool:
    """Optimistic spinning's test: the owner is on a CPU (not parked)."""
    return owner is not None and owner.state is not _PARKED
