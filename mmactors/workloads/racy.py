"""``kind = "race"``: a real mm race, run as a small per-CPU kernel program
over many schedules.

Each *race program* (``mmactors/workloads/races/``) is a few kernel
functions written against the memory-consistency layer
(:class:`mmactors.memmodel.access.KernelCPU`), modelled on a real kernel fix
that it cites, in two variants: ``buggy`` (before the fix) and ``fixed``.
A scenario runs one::

    [[workload]]
    kind = "race"
    program = "folio-try-get"   # see `mmactors scenarios` / scenarios/races/
    variant = "buggy"           # buggy | fixed
    model = "sc"                # sc | tso | lkmm (default: the program's)
    iterations = 1000           # schedules: fresh state each time
    race_detector = true        # KCSAN-style happens-before detector
    jitter_ns = 300             # random start offset per CPU and iteration

One iteration is one schedule of the program from a fresh initial state: the
CPUs meet at a barrier, the program's state is rebuilt, each CPU runs its
function, drains its stores, and at the next barrier the program's
end-of-iteration invariants are checked.  The run's strategy (``random:P``
preempts at each access with probability P; ``pct:D``; a replay token)
makes every iteration a different interleaving, so one ``mmactors run`` is
a schedule exploration; the first data race (a KCSAN report) or BUG ends the
run with a non-zero exit status and a replay token that reproduces it.  With
``iterations = 1`` a run is exactly one schedule, for the fuzzer and
Hypothesis.
"""
from __future__ import annotations

from ..schema import Field, at_least, nanoseconds, one_of
from .base import Workload
from .races import PROGRAMS, RaceProgram

__all__ = ["RaceProgram", "PROGRAMS", "RaceWorkload"]


class _Barrier:
    """The iteration barrier: the last CPU to arrive checks the finished
    iteration and builds the next one's state."""

    def __init__(self, wl):
        self.wl = wl
        self.name = "race iteration barrier"
        self.waiting: list = []
        self.iteration = 0
        self.state = None

    def holders(self):
        return []

    async def arrive(self, k):
        wl = self.wl
        eng = wl.machine.engine
        self.waiting.append(k.actor)
        if len(self.waiting) < wl.prog.ncpus:
            await eng.park(self)
            return
        others = self.waiting[:-1]
        self.waiting = []
        if self.state is not None:
            wl.prog.check(k, self.state)
            wl.clean += 1
        self.iteration += 1
        if self.iteration <= wl.iterations:
            wl.mem.reset()
            self.state = wl.prog.setup(wl.mem)
        else:
            self.state = None
        for a in others:
            eng.wake(a)


class RaceWorkload(Workload):
    kind = "race"
    one_per_scenario = True           # the machine has one memory model
    fields = [
        Field("program", str, required=True, doc="a built-in race program (scenarios/races/)"),
        Field("variant", str, "buggy", check=one_of("buggy", "fixed"),
              doc="buggy (before the kernel fix) or fixed"),
        Field("model", str, None, check=one_of("sc", "tso", "lkmm"),
              doc="memory model (default: the program's)"),
        Field("iterations", int, 1000, check=at_least(1),
              doc="schedules to run, each from a fresh state"),
        Field("race_detector", bool, True, doc="run the KCSAN-style race detector"),
        Field("jitter_ns", int, 300, check=nanoseconds(0),
              doc="random start offset of each CPU in each iteration"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        name = spec["program"]
        if name not in PROGRAMS:
            raise ctx.error(tpath, "program", f"unknown race program {name!r} "
                            f"(known: {', '.join(sorted(PROGRAMS))})")
        prog = PROGRAMS[name]
        if len(spec["_cpus"]) != prog.ncpus:
            raise ctx.error(tpath, "cpus", f"race program {name!r} runs on {prog.ncpus} CPUs, "
                            f"got {len(spec['_cpus'])} (set cpus = a list of {prog.ncpus})")
        if spec["model"] is None:
            spec["model"] = prog.model
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        from ..memmodel.access import memory_of
        self.prog = PROGRAMS[spec["program"]](spec["variant"])
        self.iterations = spec["iterations"]
        self.mem = memory_of(machine, spec["model"], cpus=self.cpus,
                             race=spec["race_detector"], lanes=self.prog.lanes)
        self.barrier = _Barrier(self)
        self.clean = 0
        self.mem.context = self._context

    def _context(self) -> str:
        return (f"schedule {self.barrier.iteration} of {self.iterations} of race program "
                f"{self.prog.name} ({self.prog.variant}), model {self.mem.model_name}")

    def actors(self):
        fns = self.prog.cpu_functions()
        for i, cpu in enumerate(self.cpus):
            yield cpu, f"cpu{cpu}", self._body(fns[i])

    def _body(self, fn):
        async def body(actor):
            mem = self.mem
            k = mem.attach(actor)
            jitter = self.spec["jitter_ns"]
            eng = actor.engine
            for _ in range(self.iterations):
                await self.barrier.arrive(k)
                if jitter:
                    await eng.spend(actor.rng.randrange(jitter + 1))
                await fn(k, self.barrier.state)
                await k.quiesce()
                actor.ops += 1
            await self.barrier.arrive(k)
            mem.cpu_exit(k)
        return body

    # ----------------------------------------------------------- reports
    def report(self) -> dict:
        p = self.prog
        return {"kind": self.kind, "program": p.name, "variant": p.variant,
                "model": self.mem.model_name, "fix": p.fix,
                "iterations": self.iterations, "schedules_started": self.barrier.iteration,
                "schedules_clean": self.clean}
