"""The Machine: CPUs grouped into NUMA nodes, the engine, the locks, the
subsystems and the workloads, built from a scenario; and the result of running it.

How a machine is assembled (``Machine.__init__``, in this order):

1. the engine, with the scenario's costs, seed and strategy;
2. the subsystems of :data:`mmactors.scenario.SUBSYSTEMS`, in that order (lockdep,
   physical memory, address spaces); each ``build(machine)`` returns the
   subsystem object or None when the scenario does not use it, and the
   machine keeps it in ``machine.subsystems[name]``;
3. the workloads, one per ``[[workload]]``, from :data:`mmactors.workloads.KINDS`;
4. their actors (one per CPU, usually), added to the engine.

Subsystem objects may have a ``report(extra: dict)`` method that adds their
figures to the JSON result; the machine knows nothing else about them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ._core.engine import Engine
from ._core.errors import SimulationError
from ._core.strategies import Strategy, make_strategy
from .scenario import SUBSYSTEMS, Scenario
from .sync import LOCK_TYPES, lock_registry
from .workloads import KINDS
from .mm.sched_mm import set_kthread
from .workqueue import Workqueues

__all__ = ["Machine", "RunResult"]



@dataclass
class RunResult:
    """Everything a run produced.  ``to_json()`` is the ``--json`` document."""
    scenario: str
    seed: int
    strategy: str
    replay_token: str
    virtual_ns: int
    ops: int
    per_cpu_ops: list
    locks: dict
    events: int
    switches: int
    trace_sha256: str | None
    error: SimulationError | None
    end_reason: str
    wall_s: float
    exit_status: int = 0          # what `mmactors run` exits with (see cli.py)
    extra: dict = field(default_factory=dict)   # JSON sections of workloads and subsystems
    machine: Any = None

    def to_json(self) -> dict:
        d = {
            "scenario": self.scenario, "seed": self.seed, "strategy": self.strategy,
            "replay_token": self.replay_token, "virtual_ns": self.virtual_ns,
            "end": self.end_reason,
            "workloads": {"ops": self.ops, "per_cpu_ops": self.per_cpu_ops},
            "locks": self.locks,
            "engine": {"events": self.events, "switches": self.switches},
            "trace_sha256": self.trace_sha256,
            "error": self.error.to_json() if self.error is not None else None,
        }
        d.update(self.extra)
        d["host"] = {"wall_s": round(self.wall_s, 3)}
        return d


class Machine:
    def __init__(self, scenario: Scenario, *, seed: int | None = None,
                 strategy: "str | Strategy | None" = None, trace: bool = True, progress=None):
        self.scenario = scenario
        m = scenario.machine
        self.ncpus, self.nnodes = m["cpus"], m["nodes"]
        self.node_of = [c * self.nnodes // self.ncpus for c in range(self.ncpus)]
        spec = strategy if strategy is not None else scenario.run["strategy"]
        seed = scenario.run["seed"] if seed is None else seed
        if isinstance(spec, Strategy):          # a ready strategy (Hypothesis's, a test's)
            self.strategy, self.seed = spec, seed
        else:
            self.strategy, self.seed = make_strategy(spec, seed, scenario.digest)
        self.engine = Engine(seed=self.seed, strategy=self.strategy, digest=scenario.digest,
                             duration_ns=scenario.run["duration_ns"], trace=trace,
                             costs=scenario.costs, node_of=self.node_of, progress=progress)
        self.costs = scenario.costs
        sec = scenario.sections
        self.sysctl = sec.get("sysctl", {})      # [sysctl], defaults filled in
        self.kconfig = sec.get("kconfig", {})    # [kconfig]
        self.constants = sec.get("constants", {})  # [constants]
        self.sysfs = sec.get("sysfs", {})        # [sysfs] (paths below /sys)
        self.locks: dict[str, Any] = {}
        self.workqueues = Workqueues(self, on_new_worker=set_kthread)
        self.subsystems: dict[str, Any] = {}
        for sub in SUBSYSTEMS:
            obj = sub.build(self)
            if obj is not None:
                self.subsystems[sub.name] = obj
        if self.engine.trace is not None:
            self._trace_counters(self.engine.trace)
        self.workloads = [KINDS[w["kind"]](self, w, i) for i, w in enumerate(scenario.workloads)]
        self._cpu_actors: list = []
        for w in self.workloads:
            for cpu, name, body in w.actors():
                a = self.engine.add_actor(name, body, cpu=cpu, node=self.node_of[cpu])
                self._cpu_actors.append(a)
                if self.engine.trace is not None:
                    self.engine.trace.threads[a.id] = name

    def _trace_counters(self, trace) -> None:
        """Counter tracks in the trace: each zone's free pages (the buddy's
        ``sum(nr_free << order)``, what NR_FREE_PAGES counts) and each pcp
        list's ``count``, sampled at the release of the lock that guards them
        (``zone->lock``, ``pcp->lock``) and written when they change."""
        pm = self.subsystems.get("physmem")
        if pm is None:
            return
        for z in pm.pa.populated:
            group = f"node{z.node} {z.name}"
            trace.watch(z.lock, lambda z=z, g=group: [
                (g, "nr_free_pages", sum(a.nr_free << o for o, a in enumerate(z.free_area)))])
            for pcp in z.per_cpu_pageset:
                trace.watch(pcp.lock, lambda p=pcp, g=f"{group} pcp cpu{pcp.cpu}": [
                    (g, "count", p.count)])

    @staticmethod
    def _finish_trace(eng):
        if eng.trace is None:
            return None
        eng.trace.finish(eng.now)
        return eng.trace.sha256()

    def named_lock(self, name: str, kind: str):
        """The lock instance called ``name`` (one per name), created on first use."""
        lk = self.locks.get(name)
        cls = LOCK_TYPES[kind]
        if lk is None:
            lk = self.locks[name] = cls(self.engine, name)
        elif type(lk) is not cls:
            raise SimulationError(f"lock {name!r} is used as a {kind} and as a "
                                  f"{type(lk).__name__}")
        return lk

    def add_kthread(self, name: str, body, cpu: int = 0):
        """A kernel thread (kswapd, kcompactd, ...) pinned to ``cpu``."""
        a = self.engine.add_actor(name, body, cpu=cpu, node=self.node_of[cpu])
        set_kthread(a)                    # current->flags |= PF_KTHREAD
        if self.engine.trace is not None:
            self.engine.trace.threads[a.id] = name
        return a

    def run(self) -> RunResult:
        """Run the simulation in a fresh ``trio.run`` and collect its result."""
        t0 = time.perf_counter()
        err = None
        try:
            self.engine.run()
        except SimulationError as e:
            err = e
        return self._result(err, time.perf_counter() - t0)

    async def run_async(self) -> RunResult:
        """The same inside a running trio loop, so that a caller running many
        short simulations (the fuzz loop) pays for trio.run's setup once."""
        t0 = time.perf_counter()
        err = None
        try:
            await self.engine.run_async()
        except SimulationError as e:
            err = e
        return self._result(err, time.perf_counter() - t0)

    def _result(self, err, wall) -> RunResult:
        eng = self.engine
        per_cpu = [0] * self.ncpus
        for a in self._cpu_actors:
            per_cpu[a.cpu] += a.ops
        res = RunResult(
            scenario=self.scenario.name, seed=self.seed, strategy=self.strategy.spec,
            replay_token=eng.replay_token(), virtual_ns=eng.now, ops=sum(per_cpu),
            per_cpu_ops=per_cpu, locks=lock_registry(eng).to_json(), events=eng.events,
            switches=eng.switches,
            trace_sha256=self._finish_trace(eng),
            error=err, end_reason=eng.end_reason or "error", wall_s=wall, machine=self)
        for w in self.workloads:
            rep = w.report()
            if rep:
                res.extra.setdefault("workload_details", []).append(rep)
        for sub in list(self.subsystems.values()):
            report = getattr(sub, "report", None)
            if report is not None:
                report(res.extra)
        if err is not None:
            res.exit_status = err.exit_status
        else:
            res.exit_status = max((getattr(sub, "exit_status", 0)
                                   for sub in self.subsystems.values()), default=0)
        return res

    def progress(self) -> float:
        """How far the run is, 0..1: virtual time against the duration, or the
        workloads' own progress when they all end on their own sooner."""
        eng = self.engine
        frac = eng.now / eng.duration_ns if eng.duration_ns else 0.0
        own = [w.progress() for w in self.workloads]
        if own and all(p is not None for p in own):
            frac = max(frac, min(own))
        return min(frac, 1.0)

    def queue_work_on(self, cpu: int, fn, name: str = "work"):
        """Run ``async fn(kworker)`` on ``cpu``'s kworker (kernel/workqueue.c)."""
        return self.workqueues.queue_work_on(cpu, fn, name)
