"""The one waiting primitive under every kernel lock model.

Why one queue
-------------
trio builds all of its locks on one ``ParkingLot``; we do the same.  Every
lock kind (ticket and queued spinlocks, rwlocks, rw_semaphores, mutexes,
seqcounts) keeps its waiters in a :class:`WaitQueue`, so FIFO hand-off, the
wait-for graph the engine walks for deadlocks, and lock_stat's wait times
are implemented once.  A lock kind decides only *when* a waiter gets in and
what the hand-off costs (see :meth:`mmactors.sync.lock.LockBase._grant`).

A waiter is a :class:`Waiter` record with named fields, parked with the
engine (``engine.park(lock)``, so the deadlock detector sees what it waits
on); a releaser takes it off the queue with :meth:`WaitQueue.unpark_next`
(or :meth:`WaitQueue.unpark_where` for rw_semaphore's "wake every queued
reader") and wakes it at the virtual time it would see the lock on real
hardware.
"""
from __future__ import annotations

from collections import deque

__all__ = ["Waiter", "WaitQueue"]


class Waiter:
    """One parked waiter: who, in which mode, since when, from where."""

    __slots__ = ("actor", "mode", "ready_at", "t_contended", "site", "spinning")

    def __init__(self, actor, mode: str, ready_at: int, t_contended: int, site,
                 spinning: bool):
        self.actor = actor              # the waiting actor
        self.mode = mode                # "W" exclusive, "R" shared
        self.ready_at = ready_at        # earliest time it could run (its own RMW landed)
        self.t_contended = t_contended  # when it started waiting (lock_stat waittime)
        self.site = site                # its acquisition site
        self.spinning = spinning        # spins (sees a hand-off after a line transfer) or sleeps

    def __repr__(self):
        return f"<Waiter {self.actor.name} {self.mode} since {self.t_contended}>"


class WaitQueue:
    """A FIFO of :class:`Waiter` records for one lock (``owner``).

    The lock models of this package test and pop ``_q`` (the deque) directly
    on their hot paths: ``__bool__`` and ``__len__`` are Python-level calls,
    paid on every acquisition otherwise.  ``unpark_where`` replaces the
    deque, so they read ``_q`` afresh each time rather than keeping it."""

    __slots__ = ("owner", "_q")

    def __init__(self, owner):
        self.owner = owner
        self._q: deque[Waiter] = deque()

    def __len__(self):
        return len(self._q)

    def __bool__(self):
        return bool(self._q)

    def __iter__(self):
        return iter(self._q)

    def park(self, waiter: Waiter):
        """Queue ``waiter`` (the current actor) and block until it is woken:
        ``await queue.park(waiter)``.  Returns the engine's wait rather than
        wrapping it in a coroutine of its own (no extra frame to resume)."""
        self._q.append(waiter)
        return self.owner.engine.park(self.owner)

    def peek(self) -> Waiter | None:
        """The next waiter, left queued (None if nobody waits)."""
        return self._q[0] if self._q else None

    def unpark_next(self) -> Waiter:
        """Take the next waiter off the queue (the caller wakes it)."""
        return self._q.popleft()

    def unpark_where(self, pred, limit: int) -> list[Waiter]:
        """Take off, in queue order, up to ``limit`` waiters for which
        ``pred(waiter)`` holds; the others keep their places."""
        taken, keep = [], deque()
        q = self._q
        while q and len(taken) < limit:
            w = q.popleft()
            (taken if pred(w) else keep).append(w)
        keep.extend(q)
        self._q = keep
        return taken

    def remove(self, waiter: Waiter) -> None:
        self._q.remove(waiter)
