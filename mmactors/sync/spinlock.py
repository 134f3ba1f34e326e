"""Spinlocks: the ticket lock and the queued (MCS) spinlock.

Models include/asm-generic/ticket_spinlock.h (x86 before 4.2, and what
Boyd-Wickizer et al. measured) and kernel/locking/qspinlock.c (x86 today).
Spinning waiters are parked with the engine; the releaser works out when the
next holder would see the release on real hardware and wakes it then.

Ticket lock: head and tail share one cache line.  ``lock`` is a fetch-and-add
on the tail; every waiter spins reading that line.  ``unlock`` increments the
head, invalidating every waiter's copy: all k waiters re-fetch the line, the
home directory serves one request at a time in an arbitrary order, and the
next ticket holder sees its turn after p transfers, p uniform in 1..k (mean
(k+1)/2) -- the hand-off cost that makes ticket locks collapse.
Simplification: the other waiters' re-reads overlap the next critical
section (they delay nobody), as in Boyd-Wickizer et al.'s Markov model.

Queued spinlock: each waiter spins on its own MCS node; ``unlock`` stores to
the lock word, the queue head re-fetches it and takes the lock (one transfer
for the read, one for the ownership), whatever the queue length.
Simplification: the pending-bit fast path for a single waiter and the MCS
node hand-off latency (off the critical path) are not modelled separately.
"""
from __future__ import annotations

from . import irq as I
from .lock import LockBase, call_site
from .waitqueue import Waiter

__all__ = ["TicketSpinLock", "QSpinLock", "SpinLock"]


class _Spin(LockBase):
    kind = "spinlock"

    def __init__(self, engine, name: str, **kw):
        super().__init__(engine, name, **kw)
        self.owner = None

    def is_locked(self) -> bool:
        return self.owner is not None or bool(self.waiters)

    async def trylock(self, site=None) -> bool:
        """spin_trylock: one cmpxchg; never waits."""
        if site is None:
            site = call_site()
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        return self._try_now(me, site)

    async def lock_nested(self, subclass: int, site=None) -> None:
        """spin_lock_nested: the same lock class at nesting level ``subclass``
        (a separate lockdep class, e.g. SINGLE_DEPTH_NESTING = 1)."""
        if site is None:
            site = call_site()
        await self.lock(site, subclass)

    # spin_lock_irq/irqsave/bh: the irq state is mmactors.sync.irq's.  Pending
    # costs are paid first, so interrupts go off at the true time too.
    async def lock_irq(self, site=None, subclass: int = 0) -> None:
        if site is None:
            site = call_site()
        await self.engine.sync()
        I.local_irq_disable(self.engine.current, site)
        await self.lock(site, subclass)

    def unlock_irq(self, site=None) -> None:
        if site is None:
            site = call_site()
        self.unlock(site)
        I.local_irq_enable(self.engine.current, site)

    async def lock_irqsave(self, site=None, subclass: int = 0):
        """spin_lock_irqsave: returns the flags for unlock_irqrestore."""
        if site is None:
            site = call_site()
        await self.engine.sync()
        flags = I.local_irq_save(self.engine.current, site)
        await self.lock(site, subclass)
        return flags

    def unlock_irqrestore(self, flags, site=None) -> None:
        if site is None:
            site = call_site()
        self.unlock(site)
        I.local_irq_restore(self.engine.current, flags, site)

    async def lock_bh(self, site=None, subclass: int = 0) -> None:
        if site is None:
            site = call_site()
        await self.engine.sync()
        I.local_bh_disable(self.engine.current, site)
        await self.lock(site, subclass)

    def unlock_bh(self, site=None) -> None:
        if site is None:
            site = call_site()
        self.unlock(site)
        I.local_bh_enable(self.engine.current, site)

    async def lock(self, site=None, subclass: int = 0) -> None:
        """spin_lock: one atomic on the lock word (the ticket lock's fetch_add
        on the tail; the qspinlock's cmpxchg 0 -> LOCKED, or the xchg of the
        tail that queues it); a waiter parks until the releaser hands over.
        LockBase._wait is inline here: one coroutine frame fewer to suspend
        and resume on every contended acquisition."""
        if site is None:
            site = call_site()
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.spend(0)
        lat = self.line.write(me.cpu)
        # ``self.waiters._q`` rather than ``self.waiters``: no WaitQueue.__bool__
        # call (a Python-level method) on every acquisition
        if self.owner is None and not self.waiters._q:
            self.owner = me
            self._acquired(me, "W", site, None, False, subclass)
            me.debt += lat             # paid at the next scheduling point
            return
        now = eng.now
        t0 = self._contended(me, "W", site)
        for hook in self.reg.on_contended:
            hook(me, self, "W", site, subclass)
        # WaitQueue.park, inline: queue, then park with the engine
        self.waiters._q.append(Waiter(me, "W", now + lat, t0, site, True))
        await eng.park(self)
        self._acquired(me, "W", site, t0, False, subclass)

    def unlock(self, site=None) -> None:
        """spin_unlock: a store; the next holder sees it after the hand-off cost."""
        eng = self.engine
        me = eng.current
        if self.owner is not me and site is None:
            site = call_site()
        if not self._released(me, "W", site):
            return
        wq = self.waiters._q          # the WaitQueue's deque: no __bool__/__len__ calls
        if wq:
            k = len(wq)
            w = wq.popleft()          # WaitQueue.unpark_next, inline
            nxt = w.actor
            self.owner = nxt
            # LockBase._grant with the hand-off time given, inline
            at = eng.now + self._handoff_ns(me, nxt, k)
            self._holders[nxt.id] = nxt
            nxt.waiting_on = None
            eng._push(nxt, at if at > w.ready_at else w.ready_at)
        else:
            self.owner = None
        # The unlocking store retires through the store buffer: a store hit.
        me.debt += eng.costs.l1_hit_ns

    def _handoff_ns(self, releaser, nxt, k) -> int:
        """When ``nxt`` (the next holder, one of ``k`` waiters) sees the release."""
        raise NotImplementedError

    def try_pass(self, me, site) -> bool:
        """``spin_trylock()`` immediately followed by ``spin_unlock()``, with
        nothing in between that can wait (the pcp hit paths): decided now, with
        the pair's line costs (charged as debt), lock_stat figures (one
        acquisition, a zero hold), trace span and validator calls.  A simulator
        shortcut (one call instead of two), not a kernel function."""
        if self.owner is not None or self.waiters._q:
            me.debt += self.line.read(me.cpu)
            return False
        eng = self.engine
        me.debt += self.line.write(me.cpu) + eng.costs.l1_hit_ns
        reg = self.reg
        if eng.trace is not None or reg.on_acquire or reg.on_release or self._hold:
            self._acquired(me, "W", site, trylock=True)
            self._released(me, "W", site)
            return True
        # Nothing watches: the pair's lock_stat figures directly (_acquired
        # then _released with a hold of 0 ns; holding goes up and down again).
        st = self.lclass.stat_w
        if self.cpu != me.cpu:
            st.acq_bounces += 1
            self.cpu = me.cpu
        st.hold_min = 0               # 0 is below any hold, and the first one
        st.acquisitions += 1
        return True

    def trylock_now(self, me, site) -> bool:
        """``spin_trylock()`` decided at the current virtual time, without paying
        ``me``'s pending costs first (for locks only their own CPU takes, such
        as ``pcp->lock``); its latency is charged as debt."""
        return self._try_now(me, site)


class TicketSpinLock(_Spin):
    """A ticket spinlock (FIFO, one shared line: collapses under contention)."""

    def _handoff_ns(self, releaser, nxt, k) -> int:
        # k waiters re-fetch the line one at a time; the next ticket is p-th.
        # randrange(k) is _randbelow(k) for k >= 1 (CPython's random.py): the
        # same draw, without randrange's argument checks on every hand-off
        p = self.engine.random._randbelow(k) + 1
        self.line.owner = -1
        self.line.sharers = (1 << nxt.cpu) | (1 << releaser.cpu)
        return p * self.line.transfer_cost(nxt.cpu, releaser.cpu)


class QSpinLock(_Spin):
    """The queued spinlock (qspinlock): MCS queue, constant hand-off cost."""

    def _handoff_ns(self, releaser, nxt, k) -> int:
        # The queue head re-reads the lock word, then claims it (set_locked).
        c = self.line.transfer_cost(nxt.cpu, releaser.cpu)
        self.line.owner = nxt.cpu
        self.line.sharers = 1 << nxt.cpu
        self.line.last = nxt.cpu
        return c + self.engine.costs.atomic_rmw_ns


# spinlock_t on x86 is a qspinlock.
SpinLock = QSpinLock
