"""struct mutex (kernel/locking/mutex.c).

``mutex_lock``: a cmpxchg of the owner field; on contention the waiter spins
on the owner (``mutex_optimistic_spin``, an MCS queue) while the owner runs,
and sleeps on ``wait_list`` otherwise.  ``mutex_unlock`` hands the lock to the
first waiter: a spinner sees it after a line transfer, a sleeper after a
wake-up.  Simplification: whether a waiter spins is decided once, when it
contends, and the lock is always handed off (as with MUTEX_FLAG_HANDOFF), so
optimistic spinners never steal it from the queue.
"""
from __future__ import annotations

from .lock import LockBase, call_site, might_sleep, owner_running

__all__ = ["Mutex"]


class Mutex(LockBase):
    kind = "mutex"
    sleeping = True

    def __init__(self, engine, name: str, **kw):
        super().__init__(engine, name, **kw)
        self.owner = None

    def is_locked(self) -> bool:
        return self.owner is not None

    async def lock(self, site=None, subclass: int = 0):
        if site is None:
            site = call_site()
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        if self.reg.on_might_sleep:         # might_sleep() in mutex_lock()
            might_sleep(me, site)
        lat = self.line.write(me.cpu)
        if self.owner is None and not self.waiters._q:
            self.owner = me
            self._acquired(me, "W", site, subclass=subclass)
            me.debt += lat             # paid at the next scheduling point
            return
        spin = owner_running(self.owner)    # mutex_optimistic_spin while the owner runs
        t0 = await self._wait(me, "W", site, eng.now + lat, spin, subclass)
        self._acquired(me, "W", site, t0, subclass=subclass)

    async def lock_nested(self, subclass: int, site=None):
        """mutex_lock_nested: a separate lockdep class per nesting level."""
        if site is None:
            site = call_site()
        await self.lock(site, subclass)

    async def trylock(self, site=None) -> bool:
        if site is None:
            site = call_site()
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        return self._try_now(me, site)

    def unlock(self, site=None):
        eng = self.engine
        me = eng.current
        if self.owner is not me and site is None:
            site = call_site()
        if not self._released(me, "W", site):
            return
        eng.charge(self.line.write(me.cpu))
        if self.waiters._q:
            w = self.waiters.unpark_next()
            self.owner = w.actor
            self._grant(w)
        else:
            self.owner = None
