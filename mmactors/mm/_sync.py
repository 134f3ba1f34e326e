"""Run mm coroutines to completion outside a scheduled run.

Tests (and the Hypothesis state machines) want to call ``alloc_pages`` or
``kmalloc`` one at a time and look at the state in between.  On an engine
with nothing scheduled, ``Engine.spend`` and uncontended locks never
suspend, so a coroutine runs to completion in one ``send``.  A
:class:`SyncDriver` owns one stand-in actor per CPU (built with the public
``Actor`` constructor, never put in the engine's heap) and makes it
``engine.current`` for the duration of a call.  A call that would block (a
lock held by another stand-in, a kworker) raises ``RuntimeError``.
"""
from __future__ import annotations

from .._core.engine import Actor

__all__ = ["SyncDriver"]


class SyncDriver:
    def __init__(self, engine, ncpus: int, node_of):
        self.engine = engine
        self.actors = [Actor(engine, 1_000_000 + c, f"cpu{c}", c, node_of[c], None)
                       for c in range(ncpus)]
        for a in self.actors:
            a.state = "running"

    def call(self, cpu: int, coro):
        """Run ``coro`` as CPU ``cpu``; return its result."""
        eng = self.engine
        prev = eng.current
        eng.current = self.actors[cpu]
        try:
            try:
                coro.send(None)
            except StopIteration as e:
                return e.value
            coro.close()
            raise RuntimeError("the operation blocked (a lock held elsewhere, or a kworker)")
        finally:
            eng.current = prev
