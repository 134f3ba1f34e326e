"""Per-CPU work (kernel/workqueue.c): ``queue_work_on(cpu, fn)``.

The kernel runs per-CPU work (``drain_local_pages`` for ``drain_all_pages``,
``vmstat_update``, ``lru_add_drain_per_cpu``) in a kworker bound to that CPU.
Here each CPU gets a kworker actor on first use, named ``kworker/N``; it runs
queued work items in order and sleeps when the queue is empty.
Simplification: the kworker runs beside the CPU's workload actor rather than
preempting it; per-CPU data must therefore be protected by its lock, as the
kernel's pcp lists are by ``pcp->lock``.
"""
from __future__ import annotations

from collections import deque

from ._core import ActorState
from .sync.completion import Completion

__all__ = ["Workqueues", "Work"]


class Work:
    """One queued work item; ``await work.done.wait()`` is flush_work."""

    __slots__ = ("fn", "done")

    def __init__(self, engine, fn, name):
        self.fn = fn
        self.done = Completion(engine, name)


class _Worker:
    def __init__(self, machine, cpu):
        self.machine = machine
        self.cpu = cpu
        self.queue: deque[Work] = deque()
        self.idle = True
        self.actor = None

    async def body(self, actor):
        eng = actor.engine
        while True:
            while self.queue:
                w = self.queue.popleft()
                await w.fn(actor)
                w.done.complete_all()
            self.idle = True
            await eng.park(self)
            self.idle = False

    def holders(self):
        return []

    name = "workqueue"


class Workqueues:
    """The machine's per-CPU kworkers."""

    def __init__(self, machine, on_new_worker=None):
        self.machine = machine
        self.workers: dict[int, _Worker] = {}
        # called with each new kworker's actor (the machine marks it a
        # kernel thread: PF_KTHREAD is the models layer's, mm/sched_mm.py)
        self.on_new_worker = on_new_worker

    def queue_work_on(self, cpu: int, fn, name: str = "work") -> Work:
        """Queue ``async fn(kworker_actor)`` on ``cpu``'s kworker; returns the Work."""
        eng = self.machine.engine
        w = self.workers.get(cpu)
        work = Work(eng, fn, name)
        if w is None:
            w = self.workers[cpu] = _Worker(self.machine, cpu)
            w.queue.append(work)
            w.idle = False
            w.actor = eng.spawn(f"kworker/{cpu}", w.body, cpu=cpu,
                                node=self.machine.node_of[cpu])
            if self.on_new_worker is not None:
                self.on_new_worker(w.actor)
            return work
        w.queue.append(work)
        if w.idle and w.actor.state is ActorState.PARKED:
            w.idle = False
            eng.wake(w.actor, eng.now + eng.costs.wakeup_ns)
        return work
