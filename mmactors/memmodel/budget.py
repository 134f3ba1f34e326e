"""Budgets and progress for long checks and searches.

A :class:`Budget` caps a check (or an operational search) by wall-clock
seconds and/or by a count (candidate executions, or schedules); when a cap
is reached the work stops with :class:`BudgetExceeded` and the caller
reports the result as unknown.  The wall clock only ever decides *whether*
a verdict is given, never which one.

:class:`Meter` is what long loops call: it counts, polls the clock every
few hundred steps, enforces the budget and calls a progress callback (the
command line prints a status line on a terminal once a check has taken
more than a second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass
class Budget:
    seconds: Optional[float] = None     # wall-clock cap
    count: Optional[int] = None         # candidate executions (checker) or schedules


class BudgetExceeded(Exception):
    """A check or search stopped by its budget; ``done`` says how far it got."""

    def __init__(self, what: str, done: int, elapsed: float) -> None:
        super().__init__(what, done, elapsed)
        self.what = what            # "time" or "count"
        self.done = done
        self.elapsed = elapsed

    def __str__(self) -> str:
        return f"budget exceeded ({self.what}) after {self.done} steps, {self.elapsed:.1f} s"


class Meter:
    """Counts steps of a long loop; enforces a budget; reports progress."""

    POLL = 256

    def __init__(self, budget: Optional[Budget] = None,
                 progress: Optional[Callable[["Meter"], None]] = None) -> None:
        self.budget = budget
        self.progress = progress
        self.steps = 0              # e.g. candidate executions checked
        self.extra: dict = {}       # what the loop wants shown (allowed, states...)
        self.t0 = time.monotonic()
        self._next_poll = self.POLL
        self._ticks = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def step(self, n: int = 1) -> None:
        self.steps += n
        b = self.budget
        if b is not None and b.count is not None and self.steps > b.count:
            # A step of n (a block of the product path) may cross the cap:
            # the budget was used up to it.
            raise BudgetExceeded("count", b.count, self.elapsed)
        if self.steps >= self._next_poll:
            self._next_poll = self.steps + self.POLL
            self.poll()

    def poll_time(self) -> None:
        """A cheap call for inner loops: polls only every POLL calls."""
        self._ticks += 1
        if self._ticks >= self.POLL:
            self._ticks = 0
            self.poll()

    def poll(self) -> None:
        b = self.budget
        if b is not None and b.seconds is not None and self.elapsed >= b.seconds:
            raise BudgetExceeded("time", self.steps, self.elapsed)
        if self.progress is not None:
            self.progress(self)
