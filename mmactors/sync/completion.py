"""struct completion and wait queues (kernel/sched/completion.c, wait.c).

``await c.wait()`` parks until ``c.complete()`` (wakes one waiter, or lets the
next waiter through) or ``c.complete_all()``.  A :class:`WaitEvent` is a
one-shot event many actors wait for (a folio's PG_locked bit, an I/O).
Woken sleepers run ``wakeup_ns`` later.  These are not locks: they have no
holder, so a wait that nobody will complete shows up as "all actors blocked".
"""
from __future__ import annotations

from collections import deque

from .lock import call_site, might_sleep, site_name
from .lockstat import lock_registry

__all__ = ["Completion"]


class Completion:
    def __init__(self, engine, name: str = "completion"):
        self.engine = engine
        self.name = name
        self.done = 0                 # like completion->done: pending completions
        self._q = deque()

    def holders(self):
        return []

    async def wait(self):
        """wait_for_completion."""
        eng = self.engine
        if lock_registry(eng).on_might_sleep:
            might_sleep(eng.current, f"wait_for_completion({self.name}) in "
                        f"{site_name(call_site())}")
        if self.done:
            if self.done != _ALL:
                self.done -= 1
            return
        self._q.append(eng.current)
        await eng.park(self)

    def complete(self):
        eng = self.engine
        if self._q:
            eng.wake(self._q.popleft(), eng.now + eng.costs.wakeup_ns)
        elif self.done != _ALL:
            self.done += 1

    def complete_all(self):
        eng = self.engine
        self.done = _ALL
        while self._q:
            eng.wake(self._q.popleft(), eng.now + eng.costs.wakeup_ns)

    def reinit(self):
        self.done = 0


_ALL = 1 << 62
