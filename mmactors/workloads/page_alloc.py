"""``kind = "page-alloc"``: each iteration allocates one block of pages and later frees it.

::

    [[workload]]
    kind = "page-alloc"
    cpus = "all"            # the allocating CPUs
    order = 0               # 2**order pages per block
    gfp = "GFP_KERNEL"      # any GFP_* / __GFP_* combination, e.g. "GFP_ATOMIC | __GFP_ZERO"
    free_on = "same"        # same | next | random | [CPU, ...]: which CPU frees each block
    lifetime_ns = 1000      # how long a block lives before it is freed
    lifetime = "fixed"      # fixed | exponential (mean lifetime_ns)
    think_ns = 0            # pause between two allocations
    iterations = 0          # allocations per CPU (0: until the run ends)
    drain_at_end = false    # after the last free: drain_all_pages() (needs iterations)
    drain_via = "remote"    # remote (6.12) | work (per-CPU work on each kworker)
    node = -1               # preferred node (-1: the CPU's own)

``free_on``: ``same`` frees on the allocating CPU, ``next`` on CPU+1 (modulo
the machine), ``random`` on one of the workload's CPUs chosen per block,
a list on those CPUs in turn.  CPUs of ``free_on`` that do not allocate run a
free-only actor (a consumer), so ``cpus = [0, 1]`` with ``free_on = [2, 3]``
is producer/consumer traffic; those CPUs are claimed by this workload.
``workloads.ops`` counts completed allocations; failed ones are counted in
the workload report and wait ``max(think_ns, 1000)`` ns before the next try.
Each CPU frees what is due before its next allocation; a consumer sleeps
until its next block is due.
"""
from __future__ import annotations

import heapq

from .._core import ActorState
from ..schema import Field, at_least, between, nanoseconds, one_of
from .base import Workload

__all__ = ["PageAlloc", "AllocFreeWorkload"]

# Costs charged by the lockless/trylock paths are paid at the next scheduling
# point; a run of frees pays whenever this much is owed, so a burst of frees
# is spread over virtual time as it would be on the CPU.
DEBT_QUANTUM_NS = 100


def _check_free_on(v):
    if isinstance(v, str):
        return None if v in ("same", "next", "random") else \
            'must be "same", "next", "random" or a list of CPU numbers'
    if isinstance(v, list) and v and all(isinstance(c, int) and not isinstance(c, bool)
                                         and c >= 0 for c in v):
        return None
    return 'must be "same", "next", "random" or a non-empty list of CPU numbers'


COMMON_MM_FIELDS = [
    Field("gfp", str, "GFP_KERNEL", doc='GFP flags, e.g. "GFP_KERNEL" or "GFP_ATOMIC | __GFP_ZERO"'),
    Field("free_on", (str, list), "same", check=_check_free_on,
          doc='same | next | random | a list of CPUs: where each block is freed'),
    Field("lifetime_ns", int, 1000, check=nanoseconds(0), doc="time from allocation to free"),
    Field("lifetime", str, "fixed", check=one_of("fixed", "exponential"),
          doc="fixed | exponential (mean lifetime_ns)"),
    Field("think_ns", int, 0, check=nanoseconds(0), doc="pause before each allocation"),
    Field("iterations", int, 0, check=at_least(0),
          doc="allocations per allocating CPU (0: until the end of the run)"),
    Field("drain_at_end", bool, False,
          doc="when every block is freed: drain the per-CPU caches (needs iterations)"),
    Field("drain_via", str, "remote", check=one_of("remote", "work"),
          doc="drain_all_pages at the end: remote (6.12: the caller drains every CPU's "
              "lists) | work (drain_local_pages on each CPU's kworker, before 5.19)"),
    Field("node", int, -1, check=at_least(-1), doc="preferred NUMA node (-1: local)"),
]


class _Box:
    """Blocks due to be freed on one CPU: a heap of (due_ns, seq, item)."""

    __slots__ = ("heap", "actor", "idle", "name")

    def __init__(self, cpu):
        self.heap = []
        self.actor = None
        self.idle = False
        self.name = f"frees-due-on-cpu{cpu}"

    def holders(self):
        return []


class AllocFreeWorkload(Workload):
    """Allocate, keep for a lifetime, free on some CPU: shared by page-alloc and kmalloc."""

    needs = ("physmem",)

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        from ..mm.gfp import GfpError, parse_gfp
        try:
            spec["_gfp"] = parse_gfp(spec["gfp"])
        except GfpError as e:
            raise ctx.error(tpath, "gfp", str(e)) from None
        n = machine["cpus"]
        alloc = spec["_cpus"]
        fo = spec["free_on"]
        if isinstance(fo, list):
            bad = [c for c in fo if c >= n]
            if bad:
                raise ctx.error(tpath, "free_on", f"cpu {bad[0]} does not exist "
                                f"(the machine has cpus 0..{n - 1})")
            targets = list(dict.fromkeys(fo))
        elif fo == "next":
            targets = sorted({(c + 1) % n for c in alloc})
        else:
            targets = list(alloc)
        if spec["drain_at_end"] and not spec["iterations"]:
            raise ctx.error(tpath, "drain_at_end", "needs iterations > 0 (a run without an "
                            "end never drains)")
        if spec["node"] >= machine["nodes"]:
            raise ctx.error(tpath, "node", f"node {spec['node']} does not exist "
                            f"(the machine has {machine['nodes']})")
        spec["_alloc_cpus"] = list(alloc)
        spec["_consumers"] = [c for c in targets if c not in alloc]
        spec["_cpus"] = sorted(set(alloc) | set(targets))
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        from ..mm.physmem import physmem_of
        self.pm = physmem_of(machine)
        if self.pm is None:
            raise RuntimeError("physical memory is not modelled on this machine")
        self.gfp = spec["_gfp"]
        self.alloc_cpus = spec["_alloc_cpus"]
        self.consumers = spec["_consumers"]
        self.boxes = {c: _Box(c) for c in spec["_cpus"]}
        self.lifetime = spec["lifetime_ns"]
        self.expo = spec["lifetime"] == "exponential"
        self.think = spec["think_ns"]
        self.iterations = spec["iterations"]
        self.free_on = spec["free_on"]
        self.node = spec["node"]
        self.ncpus = machine.ncpus
        self._seq = 0
        self._producers_left = len(self.alloc_cpus)
        self._actors_left = len(self.alloc_cpus) + len(self.consumers)
        self.allocs = 0
        self.frees = 0
        self.failed = 0
        self._rr = {}

    # ------------------------------------------------------ to override
    async def alloc(self, me):
        raise NotImplementedError

    async def free(self, me, item):
        raise NotImplementedError

    async def at_end(self, me):
        """Called once, by the last actor to finish, when drain_at_end is set."""

    # ----------------------------------------------------------- actors
    def actors(self):
        for cpu in self.alloc_cpus:
            yield cpu, f"cpu{cpu}", self._producer
        for cpu in self.consumers:
            yield cpu, f"cpu{cpu}", self._consumer

    def _target(self, me) -> int:
        fo = self.free_on
        if fo == "same":
            return me.cpu
        if fo == "next":
            return (me.cpu + 1) % self.ncpus
        if fo == "random":
            return me.rng.choice(self.alloc_cpus)
        i = self._rr.get(me.cpu, 0)
        self._rr[me.cpu] = i + 1
        return fo[i % len(fo)]

    def _push(self, me, target: int, item):
        eng = me.engine
        life = int(me.rng.expovariate(1.0 / self.lifetime)) if (self.expo and self.lifetime) \
            else self.lifetime
        due = eng.now + life
        box = self.boxes[target]
        self._seq += 1
        heapq.heappush(box.heap, (due, self._seq, item))
        a = box.actor
        if box.idle and a is not None and a is not me and a.state is ActorState.PARKED:
            box.idle = False
            eng.wake(a, max(due, eng.now))

    async def _free_due(self, me, box):
        eng = me.engine
        heap = box.heap
        while heap and heap[0][0] <= eng.now:
            item = heapq.heappop(heap)[2]
            await self.free(me, item)
            self.frees += 1
            if me.debt >= DEBT_QUANTUM_NS:
                await eng.spend(0)      # a burst of frees takes time: pay as it goes

    async def _producer(self, me):
        eng = me.engine
        box = self.boxes[me.cpu]
        box.actor = me
        n = self.iterations
        think = self.think
        spend = eng.spend
        done = 0
        while not n or done < n:
            if box.heap:
                await self._free_due(me, box)
            # One scheduling point per iteration at least: it pays the costs the
            # lockless and trylock paths charged, and lets the other CPUs run.
            await spend(think)
            item = await self.alloc(me)
            if item is None:                        # NULL: the allocation failed
                self.failed += 1
                await spend(max(think, 1000))
                continue
            me.ops += 1
            self.allocs += 1
            done += 1
            self._push(me, self._target(me), item)
        self._producers_left -= 1
        if not self._producers_left:
            for b in self.boxes.values():
                a = b.actor
                if b.idle and a is not None and a.state is ActorState.PARKED:
                    b.idle = False
                    eng.wake(a)
        await self._serve(me, box)

    async def _consumer(self, me):
        box = self.boxes[me.cpu]
        box.actor = me
        await self._serve(me, box)

    async def _serve(self, me, box):
        eng = me.engine
        while True:
            await self._free_due(me, box)
            if box.heap:
                due = box.heap[0][0]
                if due > eng.now:
                    await eng.spend(due - eng.now)
                continue
            if not self._producers_left:
                break
            if me.debt:
                await eng.spend(0)          # parking would drop unpaid costs
            box.idle = True
            await eng.park(box)
            box.idle = False
        self._actors_left -= 1
        if not self._actors_left and self.spec["drain_at_end"]:
            await self.at_end(me)

    def report(self) -> dict:
        return {"kind": self.kind, "index": self.index, "allocations": self.allocs,
                "frees": self.frees, "failed": self.failed,
                "outstanding": self.allocs - self.frees}


class PageAlloc(AllocFreeWorkload):
    kind = "page-alloc"
    fields = [Field("order", int, 0, check=between(0, 10), doc="block order (2**order pages)")] \
        + COMMON_MM_FIELDS

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.order = spec["order"]
        self.pa = self.pm.pa

    async def alloc(self, me):
        pfn = await self.pa.alloc_pages(self.gfp, self.order, self.node)
        return None if pfn < 0 else pfn

    async def free(self, me, pfn):
        cont = self.pa.free_pages_nowait(pfn, self.order)
        if cont is not None:
            await cont

    async def at_end(self, me):
        await self.pa.drain_all_pages(via=self.spec["drain_via"])
