"""Kernel-style shared-memory accesses for simulated CPUs.

The memory-consistency layer of DESIGN.md: shared words that lockless kernel
code touches (page flags, refcounts, PTEs, sequence counters, RCU-protected
pointers) are :class:`Loc` objects of a :class:`Memory`, and simulated CPUs
touch them only through the kernel's own primitives::

    mem = Memory(engine, "lkmm", cpus=[0, 1], race=True)
    ref = mem.loc("folio->_refcount", 1, size=4)

    async def reader(k):                  # k = mem.attach(actor): one CPU's view
        await k.rcu_read_lock()
        if await k.atomic_add_unless(ref, 1, 0):
            ...
        await k.rcu_read_unlock()

Every primitive that may take time or wait is ``async``: the access happens
when the CPU next holds the baton, after the cost of the cache-line
operation (``mmactors.costs.CacheLine``), so every access is a scheduling
point where a preemptive strategy may run another CPU, a store-buffer drain
or a propagation first (see :mod:`.operational` for the models).  ``mem``
also takes the CPU as first argument: ``await mem.read_once(cpu, x)``.

What is here
------------
plain ``read``/``write``; READ_ONCE/WRITE_ONCE; smp_load_acquire/
smp_store_release/smp_store_mb; smp_mb/smp_rmb/smp_wmb and smp_mb__before_
atomic/after_atomic/after_spinlock/after_unlock_lock; xchg and cmpxchg with
_relaxed/_acquire/_release; the atomic_t family (read/set/inc/dec/add/sub,
*_return*, fetch_*, add_unless/inc_not_zero, *_and_test, add_negative,
xchg/cmpxchg); bit operations (set_bit, clear_bit, test_bit,
test_and_set_bit, test_and_clear_bit, __set_bit, __clear_bit,
clear_bit_unlock, test_and_set_bit_lock); spin_lock/spin_unlock/
spin_trylock/spin_is_locked (on a memory-model lock word, or on any
``mmactors.sync`` lock); rcu_read_lock/rcu_read_unlock/synchronize_rcu and
rcu_assign_pointer/rcu_dereference/rcu_access_pointer; seqcount_t readers and
writers; KCSAN's data_race(), ASSERT_EXCLUSIVE_WRITER and
ASSERT_EXCLUSIVE_ACCESS; BUG_ON/VM_BUG_ON/WARN_ON.  Dependencies (address,
data, control) are whatever the Python code does with the values: the
models execute each CPU in order, so all three are always respected; the
race detector sees address dependencies through pointer values.

Semantics follow tools/memory-model/linux-kernel.def: a fully ordered RMW
(xchg(), cmpxchg(), atomic_*_return(), atomic_fetch_*(), *_and_test(),
add_unless(), test_and_*_bit()) is smp_mb(); RMW; smp_mb(); the non-value-
returning ones (atomic_inc(), set_bit(), ...) are relaxed.
Simplification: a failed cmpxchg()/add_unless() is still fully ordered here
(stronger than the LKMM, so sound).
"""
from __future__ import annotations

import sys
from typing import Any

from .._core.errors import SimulationError
from . import race as _race
from .operational import FP, MODEL_NAMES, STRONG_FENCES, Wr, make_model
from .race import AA, AW, MR, MW, R, RMW, W, RaceDetector, capture_stack, vc_merge

__all__ = ["Memory", "KernelCPU", "Loc", "Struct", "MemSpinLock", "SeqCount", "KernelBug",
           "MODEL_NAMES", "memory_of"]

_NOWRITE = object()


class KernelBug(SimulationError):
    """BUG_ON()/VM_BUG_ON()/WARN_ON() fired in simulated kernel code."""

    exit_status = 6
    kind = "bug"

    def __init__(self, what: str, *, cpu: int, task: str, stack=(), warn: bool = False,
                 context: str = "", **kw):
        self.what, self.cpu, self.task, self.stack = what, cpu, task, stack
        self.warn, self.context = warn, context
        where = f"{stack[0][0]} ({stack[0][1]}:{stack[0][2]})" if stack else "?"
        self.where = where
        super().__init__(f"{'WARNING' if warn else 'kernel BUG'} at {where}: {what}",
                         actor=task, **kw)

    def report(self) -> str:
        out = ["------------[ cut here ]------------"]
        if self.warn:
            out.append(f"WARNING: CPU: {self.cpu} task {self.task} at {self.where}")
        else:
            out.append(f"kernel BUG at {self.where}!")
        out.append(self.what)
        out.append(f"CPU: {self.cpu} task {self.task} at {self.now} ns"
                   + (f"; {self.context}" if self.context else ""))
        out.append("Call trace:")
        for fn, f, ln in self.stack:
            out.append(f" {fn} ({f}:{ln})")
        out.append("---[ end trace ]---")
        if self.token:
            out.append(f"replay: --strategy replay:{self.token}")
        return "\n".join(out)

    def to_json(self) -> dict:
        d = super().to_json()
        d.update({"what": self.what, "cpu": self.cpu, "warning": self.warn,
                  "stack": [f"{fn} ({f}:{ln})" for fn, f, ln in self.stack],
                  "context": self.context})
        return d


class Loc:
    """One shared word: a name for reports, a size, a cache line, an owner
    (the struct it belongs to, for address dependencies) and the model's
    state (``cur`` for sc/tso, ``co``/``view`` for lkmm)."""

    __slots__ = ("mem", "id", "name", "size", "line", "owner", "lane", "cur", "co", "view",
                 "shadow", "init")

    def __repr__(self):
        return f"<Loc {self.name}>"

    @property
    def value(self):
        """The coherence-latest value (what a debugger would print)."""
        return self.mem.model.final(self)


class Struct:
    """A named group of locations on one cache line (``folio->_refcount``,
    ``folio->mapping``, ...): attributes are the :class:`Loc` fields; a
    pointer to the struct is the Struct itself."""

    def __init__(self, mem: "Memory", name: str, fields: dict, size: int = 8):
        from ..costs import CacheLine
        self._name = name
        line = CacheLine(mem.engine.costs, mem.engine.node_of, name)
        for f, v in fields.items():
            if f == "_name":
                raise ValueError(f"struct field name {f!r} is reserved")
            setattr(self, f, mem.loc(f"{name}->{f}", v, size=size, line=line, owner=self))

    def __repr__(self):
        return f"<{self._name}>"


class MemSpinLock:
    """spinlock_t as a memory-model lock word (0 free, 1 held), as in the
    LKMM's lock.cat: spin_lock is an acquire RMW that waits for 0, spin_unlock
    a release store of 0."""

    def __init__(self, mem: "Memory", name: str, word: Loc | None = None):
        self.name = name
        self.word = word if word is not None else mem.loc(name, 0, size=4)
        self.owner = None

    def holders(self):
        return [self.owner] if self.owner is not None else []

    def __repr__(self):
        return f"<MemSpinLock {self.name}>"


class SeqCount:
    """seqcount_t (include/linux/seqlock.h): an even/odd sequence word."""

    def __init__(self, mem: "Memory", name: str):
        self.name = name
        self.sequence = mem.loc(f"{name}.sequence", 0, size=4)


class _Waiting:
    """What a CPU waiting inside the memory model is parked on."""

    __slots__ = ("name", "_holders")

    def __init__(self, name, holders=None):
        self.name = name
        self._holders = holders

    def holders(self):
        return self._holders() if self._holders is not None else []


class _DataRaceScope:
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __enter__(self):
        self.k.ignore += 1
        return self.k

    def __exit__(self, *exc):
        self.k.ignore -= 1
        return False


def _is_pointer(v) -> bool:
    return v is not None and not isinstance(v, (int, float, str, bool))


class Memory:
    """Shared memory of a set of simulated CPUs under one model.

    ``cpus``: the machine CPU numbers whose actors will :meth:`attach` (one
    actor a CPU; the store buffers and propagation lanes are created for
    them now, so a Memory must be built before the engine runs).
    ``race``: run the happens-before race detector.  ``lanes``: propagation
    lanes per CPU under lkmm (locations spread over them by id).
    """

    def __init__(self, engine, model: str = "sc", *, cpus=None, ncpus: int | None = None,
                 race: bool = False, lanes: int = 4, name: str = "memory"):
        if model not in MODEL_NAMES:
            raise ValueError(f"unknown memory model {model!r} "
                             f"(choose from {', '.join(MODEL_NAMES)})")
        self.engine = engine
        self.name = name
        if cpus is None:
            cpus = list(range(ncpus if ncpus is not None else 1))
        self.cpus = list(cpus)
        self.ncpus = len(self.cpus)
        self._port = {c: i for i, c in enumerate(self.cpus)}
        self.model_name = model
        self.locs: list[Loc] = []
        self._next_id = 0
        self._waiters: list = []
        self.kcpus: list[KernelCPU | None] = [None] * self.ncpus
        self.exited = 0
        self.programs_done = False
        self.services: list[str] = []
        self.context = lambda: ""          # extra words for reports (iteration, program)
        self.drains = self.propagations = self.accesses = 0
        self._lock_words: dict = {}
        self.race = RaceDetector(engine, lambda: self.context()) if race else None
        if self.race is not None:
            from ..sync.lockstat import add_validator
            add_validator(engine, _race.HBValidator(self.race))
        self.model = make_model(self, model, lanes)

    def _service_named(self, name):
        self.services.append(name)

    # ----------------------------------------------------------- locations
    def loc(self, name: str, init: Any = 0, *, size: int = 8, line=None, owner=None) -> Loc:
        """A new shared location holding ``init``."""
        from ..costs import CacheLine
        l_ = Loc()
        l_.mem = self
        l_.id = self._next_id
        self._next_id += 1
        l_.name = name
        l_.size = size
        if isinstance(line, Loc):
            line = line.line
        l_.line = line if line is not None else CacheLine(self.engine.costs,
                                                          self.engine.node_of, name)
        l_.owner = owner
        l_.shadow = None
        l_.cur = l_.co = l_.view = None
        l_.lane = 0
        wr = Wr(l_, init, -1)
        l_.init = wr
        self.model.new_loc(l_, wr)
        self.locs.append(l_)
        return l_

    def struct(self, name: str, size: int = 8, **fields) -> Struct:
        return Struct(self, name, fields, size)

    def spinlock(self, name: str) -> MemSpinLock:
        return MemSpinLock(self, name)

    def seqcount(self, name: str) -> SeqCount:
        return SeqCount(self, name)

    def lock_at(self, loc: Loc) -> MemSpinLock:
        lk = self._lock_words.get(loc.id)
        if lk is None or lk.word is not loc:
            lk = self._lock_words[loc.id] = MemSpinLock(self, loc.name, loc)
        return lk

    def final(self, loc: Loc):
        """The final (coherence-latest) value of ``loc``."""
        return self.model.final(loc)

    def reset(self) -> None:
        """Forget every location and clock: the next iteration starts afresh.
        Call only when quiescent (every CPU did :meth:`KernelCPU.quiesce`)."""
        self.locs = []
        self._lock_words = {}
        self.model.reset()
        if self.race is not None:
            self.race.reset()
        for k in self.kcpus:
            if k is not None:
                k.ignore = k.atomic = k.seq_reader = 0
                k.rcu_nesting = 0

    # -------------------------------------------------------------- CPUs
    def attach(self, actor) -> "KernelCPU":
        """The calling actor's view of memory (one actor per CPU)."""
        i = self._port.get(actor.cpu)
        if i is None:
            raise ValueError(f"cpu {actor.cpu} is not one of this memory's CPUs {self.cpus}")
        k = self.kcpus[i]
        if k is None or k.actor is not actor:
            k = self.kcpus[i] = KernelCPU(self, actor, i)
        return k

    def add_program(self, name: str, fn, cpu: int):
        """``engine.add_actor`` for ``async fn(k)`` on ``cpu`` (see :meth:`program`)."""
        from .operational import LOCAL
        eng = self.engine
        a = eng.add_actor(name, self.program(fn), cpu=cpu, node=eng.node_of[cpu])
        a.data[FP] = LOCAL      # its first step only attaches (for sleep sets)
        return a

    def program(self, fn):
        """Wrap ``async fn(k)`` as an actor body: attach, run, then let the
        store buffers and propagation lanes finish and stop."""
        async def body(actor):
            k = self.attach(actor)
            await fn(k)
            self.cpu_exit(k)
        return body

    def cpu_exit(self, k) -> None:
        self.exited += 1
        if self.exited >= self.ncpus:
            self.programs_done = True
            self.model.wake_services()

    def on(self, cpu) -> "KernelCPU":
        if isinstance(cpu, KernelCPU):
            return cpu
        return self.attach(cpu)

    def __getattr__(self, name):
        # mem.read_once(cpu, x) == mem.on(cpu).read_once(x)
        if name.startswith("_") or not hasattr(KernelCPU, name):
            raise AttributeError(name)

        def call(cpu, *args, **kw):
            return getattr(self.on(cpu), name)(*args, **kw)
        call.__name__ = name
        return call

    # ------------------------------------------------------------- waiting
    async def _wait(self, k, pred, what, fp=None) -> None:
        """Park until ``pred()`` holds; re-checked after every memory event.
        ``fp``: the footprint of what the CPU does once woken (for sleep sets)."""
        eng = self.engine
        data = k.actor.data
        while not pred():
            self._waiters.append((k.actor, pred))
            data[FP] = fp
            await eng.park(what)
        data[FP] = None

    def _notify(self) -> None:
        if not self._waiters:
            return
        eng = self.engine
        keep = []
        for a, pred in self._waiters:
            if pred():
                eng.wake(a)
            else:
                keep.append((a, pred))
        self._waiters = keep

    # ----------------------------------------------------- the primitives
    async def _load(self, k, loc: Loc, tag: str, stack):
        eng = self.engine
        data = k.actor.data
        data[FP] = self.model.fp_read(k, loc)
        await eng.spend(loc.line.read(k.actor.cpu))
        data[FP] = None
        self.accesses += 1
        wr = self.model.read(k, loc)
        if self.race is not None and not k.ignore:
            d = self.race
            tc = d.thread(k.actor)
            marked = tag != "plain" or k.atomic or k.seq_reader
            d.access(tc, loc, MR if marked else R, stack, wr.value)
            if wr.sync is not None:
                if tag in ("acquire", "rcu"):
                    tc.acquire(wr.sync)
                elif tag == "once":
                    tc.pending = vc_merge(tc.pending, wr.sync)
                    if _is_pointer(wr.value):
                        tc.deps[id(wr.value)] = (wr.value, wr.sync)
        return wr.value

    async def _store(self, k, loc: Loc, value, tag: str, stack):
        eng = self.engine
        cpu = k.actor.cpu
        cost = eng.costs.l1_hit_ns if self.model_name == "tso" else loc.line.write(cpu)
        data = k.actor.data
        data[FP] = self.model.fp_store(k, loc, tag)
        await eng.spend(cost)
        data[FP] = None
        self.accesses += 1
        wr = Wr(loc, value, k.idx)
        if self.race is not None and not k.ignore:
            d = self.race
            tc = d.thread(k.actor)
            marked = tag != "plain" or k.atomic
            d.access(tc, loc, MW if marked else W, stack, value)
            if tag == "release":
                wr.sync = tc.release()
            elif tag == "once" or (marked and tag != "plain"):
                wr.sync = tc.fence_rel
        self.model.store(k, loc, wr, "release" if tag == "release" else "once")
        return wr

    async def _rmw(self, k, loc: Loc, fn, order: str, stack, *, mb_on_fail=True):
        """An atomic read-modify-write.  ``fn(old) -> (new or _NOWRITE, result)``.
        ``order``: relaxed | acquire | release | mb."""
        eng = self.engine
        if order == "mb":
            await self._fence(k, "mb")
        data = k.actor.data
        model = self.model
        fp = model.fp_rmw(k, loc, order)
        data[FP] = fp
        await eng.spend(loc.line.write(k.actor.cpu) + eng.costs.atomic_rmw_ns)
        data[FP] = None
        if not model.rmw_ready(k, loc):
            await self._wait(k, lambda: model.rmw_ready(k, loc),
                             _Waiting(f"atomic access to {loc.name}"), fp)
        self.accesses += 1
        old = model.latest(loc)
        new, result = fn(old.value)
        wrote = new is not _NOWRITE
        if self.race is not None and not k.ignore:
            d = self.race
            tc = d.thread(k.actor)
            d.access(tc, loc, RMW if wrote else MR, stack, old.value)
            if order in ("acquire", "mb"):
                tc.acquire(old.sync)
            elif old.sync is not None:
                tc.pending = vc_merge(tc.pending, old.sync)
            if wrote:
                if order in ("release", "mb"):
                    sync = vc_merge(old.sync, tc.release())
                else:
                    sync = vc_merge(old.sync, tc.fence_rel)
        if wrote:
            wr = Wr(loc, new, k.idx)
            if self.race is not None and not k.ignore:
                wr.sync = sync
            model.rmw_store(k, loc, wr, order)
        if order == "mb" and (wrote or mb_on_fail):
            await self._fence(k, "mb")
        return result

    async def _fence(self, k, tag: str) -> None:
        eng = self.engine
        pred = self.model.fence_wait(k, tag)
        if pred is not None:
            await self._wait(k, pred, _Waiting(f"smp_mb() of cpu{k.actor.cpu}"))
        self.model.fence_done(k, tag)
        if tag in STRONG_FENCES:
            eng.charge(eng.costs.atomic_rmw_ns)
        if self.race is not None:
            tc = self.race.thread(k.actor)
            if tag in STRONG_FENCES:
                tc.acquire(tc.pending)
                tc.pending = None
                tc.fence_rel = tc.release()
            elif tag == "wmb":
                tc.fence_rel = tc.release()
            elif tag == "rmb":
                tc.acquire(tc.pending)
                tc.pending = None

    # ------------------------------------------------------------- locks
    async def _lock_word(self, k, lk: MemSpinLock, stack, try_only=False) -> bool:
        eng = self.engine
        loc = lk.word
        model = self.model
        data = k.actor.data
        fp = model.fp_lock(k, loc, "acquire")
        if try_only:
            # A failed spin_trylock() is a plain load (lock.cat's LF).
            data[FP] = model.fp_read(k, loc)
            await eng.spend(loc.line.read(k.actor.cpu))
            data[FP] = None
            if model.read(k, loc).value != 0:
                self.accesses += 1
                if self.race is not None and not k.ignore:
                    self.race.access(self.race.thread(k.actor), loc, MR, stack, 1)
                return False
        data[FP] = fp
        await eng.spend(loc.line.write(k.actor.cpu) + eng.costs.atomic_rmw_ns)
        data[FP] = None
        if try_only:
            if not model.rmw_ready(k, loc):
                await self._wait(k, lambda: model.rmw_ready(k, loc),
                                 _Waiting(f"spin_trylock({lk.name})"), fp)
            if model.latest(loc).value != 0:
                self.accesses += 1
                return False
        else:
            def free():
                return model.rmw_ready(k, loc) and model.latest(loc).value == 0
            if not free():
                await self._wait(k, free, lk, fp)
        self.accesses += 1
        old = model.latest(loc)
        wr = Wr(loc, 1, k.idx)
        if self.race is not None and not k.ignore:
            tc = self.race.thread(k.actor)
            self.race.access(tc, loc, RMW, stack, 0)
            tc.acquire(old.sync)
            wr.sync = old.sync
        model.rmw_store(k, loc, wr, "acquire")
        model.lock_acquired(k, loc, old)
        lk.owner = k.actor
        return True

    async def _unlock_word(self, k, lk: MemSpinLock, stack) -> None:
        if lk.owner is not k.actor:
            raise KernelBug(f"spin_unlock({lk.name}) by a CPU that does not hold it",
                            cpu=k.actor.cpu, task=k.actor.name, stack=stack,
                            context=self.context(), now=self.engine.now,
                            token=self.engine.replay_token())
        lk.owner = None
        wr = await self._store(k, lk.word, 0, "release", stack)
        self.model.unlocked(k, lk.word, wr)

    # ---------------------------------------------------------------- RCU
    async def _synchronize_rcu(self, k, stack) -> None:
        if k.rcu_nesting:
            raise KernelBug("synchronize_rcu() in an RCU read-side critical section "
                            "(it would wait for itself)", cpu=k.actor.cpu,
                            task=k.actor.name, stack=stack, context=self.context(),
                            now=self.engine.now, token=self.engine.replay_token())
        k.actor.data[FP] = None
        await self.engine.checkpoint()
        await self._fence(k, "sync-rcu")
        # Every other CPU's read-side critical section that started before
        # now must end, and what it did must be visible everywhere: both a
        # section still running and one that ended but whose stores are still
        # buffered or propagating.
        readers = [(j, j.rcu_gen - (0 if j.rcu_nesting > 0 else 1)) for j in self.kcpus
                   if j is not None and j is not k and (j.rcu_nesting > 0 or j.rcu_gen)]
        model = self.model

        def done():
            for j, g in readers:
                if j.rcu_gen == g or not model.gp_done(j.rcu_token):
                    return False
            return True

        await self.engine.spend(self.engine.costs.wakeup_ns)
        if not done():
            await self._wait(k, done, _Waiting(
                "synchronize_rcu() grace period",
                lambda: [j.actor for j, g in readers if j.rcu_gen == g]))
        await self._fence(k, "sync-rcu")
        if self.race is not None:
            tc = self.race.thread(k.actor)
            for j in self.kcpus:
                if j is not None and j is not k:
                    tj = self.race.threads.get(j.actor.id)
                    if tj is not None:
                        tc.acquire(tj.rcu_unlock_vc)

    # ------------------------------------------------------------ reports
    def bug(self, k, what: str, stack, warn=False) -> KernelBug:
        return KernelBug(what, cpu=k.actor.cpu, task=k.actor.name, stack=stack, warn=warn,
                         context=self.context(), now=self.engine.now,
                         token=self.engine.replay_token())

    def report(self, extra: dict) -> None:
        extra.setdefault("memory_model", {}).update({
            "model": self.model_name, "race_detector": self.race is not None,
            "accesses": self.accesses, "store_buffer_drains": self.drains,
            "propagations": self.propagations,
            "race_checks": self.race.checks if self.race is not None else 0})


def _stack():
    return capture_stack(sys._getframe(2))


class KernelCPU:
    """One CPU's kernel API on a :class:`Memory` (kernel names, async where
    an access or a wait happens).  ``k.actor`` is the engine actor."""

    def __init__(self, mem: Memory, actor, idx: int):
        self.mem = mem
        self.actor = actor
        self.idx = idx
        self.ignore = 0          # inside data_race(): not instrumented
        self.atomic = 0          # seqcount write section: plain accesses count as marked
        self.seq_reader = 0      # seqcount read section (kcsan_atomic_next)
        self.rcu_nesting = 0
        self.rcu_gen = 0
        self.rcu_token = None

    def __repr__(self):
        return f"<KernelCPU cpu{self.actor.cpu}>"

    def _st(self):
        return capture_stack(sys._getframe(2)) if self.mem.race is not None else ()

    # ------------------------------------------------------ plain & ONCE
    async def read(self, x: Loc, *, data_race: bool = False):
        """A plain C load (``r = *x``)."""
        if data_race:
            with self.data_race():
                return await self.mem._load(self, x, "plain", ())
        return await self.mem._load(self, x, "plain", self._st())

    async def write(self, x: Loc, v, *, data_race: bool = False) -> None:
        """A plain C store (``*x = v``)."""
        if data_race:
            with self.data_race():
                return await self.mem._store(self, x, v, "plain", ())
        await self.mem._store(self, x, v, "plain", self._st())

    async def READ_ONCE(self, x: Loc):
        return await self.mem._load(self, x, "once", self._st())

    async def WRITE_ONCE(self, x: Loc, v) -> None:
        await self.mem._store(self, x, v, "once", self._st())

    async def smp_load_acquire(self, x: Loc):
        return await self.mem._load(self, x, "acquire", self._st())

    async def smp_store_release(self, x: Loc, v) -> None:
        await self.mem._store(self, x, v, "release", self._st())

    async def smp_store_mb(self, x: Loc, v) -> None:
        await self.mem._store(self, x, v, "once", self._st())
        await self.mem._fence(self, "mb")

    async def rcu_dereference(self, p: Loc):
        return await self.mem._load(self, p, "rcu", self._st())

    async def rcu_access_pointer(self, p: Loc):
        return await self.mem._load(self, p, "once", self._st())

    async def rcu_assign_pointer(self, p: Loc, v) -> None:
        await self.mem._store(self, p, v, "release", self._st())

    read_once = READ_ONCE
    write_once = WRITE_ONCE
    load_acquire = smp_load_acquire
    store_release = smp_store_release

    # ------------------------------------------------------------- fences
    async def smp_mb(self):
        await self.mem._fence(self, "mb")

    async def smp_rmb(self):
        await self.mem._fence(self, "rmb")

    async def smp_wmb(self):
        await self.mem._fence(self, "wmb")

    async def smp_mb__before_atomic(self):
        await self.mem._fence(self, "before-atomic")

    async def smp_mb__after_atomic(self):
        await self.mem._fence(self, "after-atomic")

    async def smp_mb__after_spinlock(self):
        await self.mem._fence(self, "after-spinlock")

    async def smp_mb__after_unlock_lock(self):
        await self.mem._fence(self, "after-unlock-lock")

    async def barrier(self):
        """A compiler barrier: orders nothing between CPUs."""

    async def fence(self, tag: str):
        """A fence by its linux-kernel.def tag (mb, rmb, wmb, before-atomic, ...)."""
        await self.mem._fence(self, tag)

    async def quiesce(self):
        """Wait until this CPU's stores are visible to every CPU (a full drain)."""
        await self.mem._fence(self, "quiesce")

    # ---------------------------------------------------------------- RMW
    async def rmw(self, x: Loc, fn, order: str = "mb"):
        """A generic atomic RMW: ``fn(old) -> (new, result)``; new=None: no store."""
        def f(old):
            new, res = fn(old)
            return (_NOWRITE if new is None else new), res
        return await self.mem._rmw(self, x, f, order, self._st())

    async def _xchg(self, x, v, order, st):
        return await self.mem._rmw(self, x, lambda old: (v, old), order, st)

    async def _cmpxchg(self, x, old_v, new_v, order, st):
        return await self.mem._rmw(
            self, x, lambda o: ((new_v, o) if o == old_v else (_NOWRITE, o)), order, st)

    async def xchg(self, x, v):
        return await self._xchg(x, v, "mb", self._st())

    async def xchg_relaxed(self, x, v):
        return await self._xchg(x, v, "relaxed", self._st())

    async def xchg_acquire(self, x, v):
        return await self._xchg(x, v, "acquire", self._st())

    async def xchg_release(self, x, v):
        return await self._xchg(x, v, "release", self._st())

    async def cmpxchg(self, x, old, new):
        return await self._cmpxchg(x, old, new, "mb", self._st())

    async def cmpxchg_relaxed(self, x, old, new):
        return await self._cmpxchg(x, old, new, "relaxed", self._st())

    async def cmpxchg_acquire(self, x, old, new):
        return await self._cmpxchg(x, old, new, "acquire", self._st())

    async def cmpxchg_release(self, x, old, new):
        return await self._cmpxchg(x, old, new, "release", self._st())

    # ------------------------------------------------------------ atomic_t
    async def atomic_read(self, v):
        return await self.mem._load(self, v, "once", self._st())

    async def atomic_set(self, v, i) -> None:
        await self.mem._store(self, v, i, "once", self._st())

    async def atomic_read_acquire(self, v):
        return await self.mem._load(self, v, "acquire", self._st())

    async def atomic_set_release(self, v, i) -> None:
        await self.mem._store(self, v, i, "release", self._st())

    async def atomic_add(self, i, v) -> None:
        await self.mem._rmw(self, v, lambda o: (o + i, None), "relaxed", self._st())

    async def atomic_sub(self, i, v) -> None:
        await self.mem._rmw(self, v, lambda o: (o - i, None), "relaxed", self._st())

    async def atomic_inc(self, v) -> None:
        await self.mem._rmw(self, v, lambda o: (o + 1, None), "relaxed", self._st())

    async def atomic_dec(self, v) -> None:
        await self.mem._rmw(self, v, lambda o: (o - 1, None), "relaxed", self._st())

    async def atomic_add_unless(self, v, a, u) -> bool:
        """Add ``a`` unless the value is ``u``; True if it added (fully ordered)."""
        return await self.mem._rmw(
            self, v, lambda o: ((_NOWRITE, False) if o == u else (o + a, True)), "mb",
            self._st())

    async def atomic_inc_not_zero(self, v) -> bool:
        return await self.mem._rmw(
            self, v, lambda o: ((_NOWRITE, False) if o == 0 else (o + 1, True)), "mb",
            self._st())

    async def atomic_dec_and_test(self, v) -> bool:
        return await self.mem._rmw(self, v, lambda o: (o - 1, o - 1 == 0), "mb", self._st())

    async def atomic_inc_and_test(self, v) -> bool:
        return await self.mem._rmw(self, v, lambda o: (o + 1, o + 1 == 0), "mb", self._st())

    async def atomic_sub_and_test(self, i, v) -> bool:
        return await self.mem._rmw(self, v, lambda o: (o - i, o - i == 0), "mb", self._st())

    async def atomic_add_negative(self, i, v) -> bool:
        return await self.mem._rmw(self, v, lambda o: (o + i, o + i < 0), "mb", self._st())

    # ---------------------------------------------------------------- bits
    async def set_bit(self, nr: int, x) -> None:
        await self.mem._rmw(self, x, lambda o: (o | (1 << nr), None), "relaxed", self._st())

    async def clear_bit(self, nr: int, x) -> None:
        await self.mem._rmw(self, x, lambda o: (o & ~(1 << nr), None), "relaxed", self._st())

    async def clear_bit_unlock(self, nr: int, x) -> None:
        await self.mem._rmw(self, x, lambda o: (o & ~(1 << nr), None), "release", self._st())

    async def test_bit(self, nr: int, x) -> bool:
        return bool((await self.mem._load(self, x, "once", self._st())) >> nr & 1)

    async def test_and_set_bit(self, nr: int, x) -> bool:
        return await self.mem._rmw(
            self, x, lambda o: ((_NOWRITE, True) if o >> nr & 1 else (o | (1 << nr), False)),
            "mb", self._st())

    async def test_and_clear_bit(self, nr: int, x) -> bool:
        return await self.mem._rmw(
            self, x, lambda o: ((o & ~(1 << nr), True) if o >> nr & 1 else (_NOWRITE, False)),
            "mb", self._st())

    async def test_and_set_bit_lock(self, nr: int, x) -> bool:
        return await self.mem._rmw(
            self, x, lambda o: ((_NOWRITE, True) if o >> nr & 1 else (o | (1 << nr), False)),
            "acquire", self._st())

    async def nonatomic_set_bit(self, nr: int, x) -> None:
        """__set_bit(): a plain load and a plain store (not atomic)."""
        st = self._st()
        o = await self.mem._load(self, x, "plain", st)
        await self.mem._store(self, x, o | (1 << nr), "plain", st)

    async def nonatomic_clear_bit(self, nr: int, x) -> None:
        """__clear_bit(): a plain load and a plain store (not atomic)."""
        st = self._st()
        o = await self.mem._load(self, x, "plain", st)
        await self.mem._store(self, x, o & ~(1 << nr), "plain", st)

    # ------------------------------------------------------------- locks
    def _lock_of(self, lk):
        return self.mem.lock_at(lk) if isinstance(lk, Loc) else lk

    def _sync_site(self) -> str:
        return _site(capture_stack(sys._getframe(2)))

    async def spin_lock(self, lk) -> None:
        lk = self._lock_of(lk)
        if isinstance(lk, MemSpinLock):
            await self.mem._lock_word(self, lk, self._st())
            return
        # A mmactors.sync lock: its acquisition is a locked RMW (drains the
        # store buffer under tso); happens-before comes from the validator.
        if self.mem.model_name == "tso":
            await self.mem._fence(self, "mb")
        await lk.lock(self._sync_site())

    async def spin_unlock(self, lk) -> None:
        lk = self._lock_of(lk)
        if isinstance(lk, MemSpinLock):
            await self.mem._unlock_word(self, lk, self._st())
            return
        # Stronger than a release store: wait until everything this CPU saw
        # is visible everywhere, so the next holder sees it under any model.
        site = self._sync_site()
        await self.mem._fence(self, "mb")
        lk.unlock(site)

    async def spin_trylock(self, lk) -> bool:
        lk = self._lock_of(lk)
        if isinstance(lk, MemSpinLock):
            return await self.mem._lock_word(self, lk, self._st(), try_only=True)
        site = self._sync_site()
        if self.mem.model_name == "tso":
            await self.mem._fence(self, "mb")
        return await lk.trylock(site)

    async def spin_is_locked(self, lk) -> bool:
        lk = self._lock_of(lk)
        if isinstance(lk, MemSpinLock):
            return (await self.mem._load(self, lk.word, "once", self._st())) != 0
        await self.mem.engine.spend(lk.line.read(self.actor.cpu))
        return lk.is_locked()

    # ----------------------------------------------------------------- RCU
    async def rcu_read_lock(self) -> None:
        self.rcu_nesting += 1
        if self.rcu_nesting == 1:
            self.mem.engine.charge(self.mem.engine.costs.l1_hit_ns)

    async def rcu_read_unlock(self) -> None:
        if self.rcu_nesting <= 0:
            raise self.mem.bug(self, "rcu_read_unlock() without rcu_read_lock()", self._st())
        if self.rcu_nesting > 1:
            self.rcu_nesting -= 1
        else:
            mem = self.mem
            # Its own step: the snapshot depends on everything this CPU sees,
            # and the section ends together with it.
            self.actor.data[FP] = None
            await mem.engine.checkpoint()
            self.rcu_nesting = 0
            self.rcu_token = mem.model.gp_token(self)
            self.rcu_gen += 1
            if mem.race is not None:
                tc = mem.race.thread(self.actor)
                tc.rcu_unlock_vc = tc.release()
            mem._notify()

    async def synchronize_rcu(self) -> None:
        await self.mem._synchronize_rcu(self, self._st())

    # ------------------------------------------------------------ seqcount
    async def write_seqcount_begin(self, s: SeqCount) -> None:
        """Writers must be serialised by the caller (a lock)."""
        st = self._st()
        self.atomic += 1            # kcsan_nestable_atomic_begin()
        v = await self.mem._load(self, s.sequence, "once", st)
        await self.mem._store(self, s.sequence, v + 1, "once", st)
        await self.mem._fence(self, "wmb")

    async def write_seqcount_end(self, s: SeqCount) -> None:
        st = self._st()
        await self.mem._fence(self, "wmb")
        v = await self.mem._load(self, s.sequence, "once", st)
        await self.mem._store(self, s.sequence, v + 1, "once", st)
        self.atomic -= 1            # kcsan_nestable_atomic_end()

    async def read_seqcount_begin(self, s: SeqCount) -> int:
        """Spins while a write is in progress (odd sequence); then smp_rmb()."""
        st = self._st()
        mem = self.mem
        while True:
            v = await mem._load(self, s.sequence, "once", st)
            if not v & 1:
                break
            loc = s.sequence
            await mem._wait(self, lambda: mem.model.read(self, loc).value != v,
                            _Waiting(f"read_seqcount_begin({s.name})"),
                            mem.model.fp_read(self, loc))
        await mem._fence(self, "rmb")
        self.seq_reader = 1         # kcsan_atomic_next(KCSAN_SEQLOCK_REGION_MAX)
        return v

    async def read_seqcount_retry(self, s: SeqCount, start: int) -> bool:
        st = self._st()
        await self.mem._fence(self, "rmb")
        self.seq_reader = 0
        return (await self.mem._load(self, s.sequence, "once", st)) != start

    # --------------------------------------------------------------- KCSAN
    def data_race(self):
        """``with k.data_race(): ...``: accesses inside are intentionally racy."""
        return _DataRaceScope(self)

    async def ASSERT_EXCLUSIVE_WRITER(self, x: Loc) -> None:
        """No other CPU may write ``x`` concurrently (marked or not)."""
        await self._assert(x, AW)

    async def ASSERT_EXCLUSIVE_ACCESS(self, x: Loc) -> None:
        """No other CPU may access ``x`` concurrently at all."""
        await self._assert(x, AA)

    async def _assert(self, x, kind):
        mem = self.mem
        st = capture_stack(sys._getframe(2)) if mem.race is not None else ()
        await mem.engine.checkpoint()
        if mem.race is not None and not self.ignore:
            mem.race.access(mem.race.thread(self.actor), x, kind, st,
                            mem.model.read(self, x).value)

    # ---------------------------------------------------------- assertions
    def BUG_ON(self, cond, what: str = "BUG_ON") -> None:
        if cond:
            raise self.mem.bug(self, what, capture_stack(sys._getframe(1)))

    VM_BUG_ON = BUG_ON

    def BUG(self, what: str = "BUG()") -> None:
        raise self.mem.bug(self, what, capture_stack(sys._getframe(1)))

    def WARN_ON(self, cond, what: str = "WARN_ON") -> None:
        """A warning also ends the run: a simulation has no dmesg to scroll."""
        if cond:
            raise self.mem.bug(self, what, capture_stack(sys._getframe(1)), warn=True)

    # --------------------------------------------------------------- time
    async def spend(self, ns: int) -> None:
        """Busy for ``ns`` (computation, I/O): no shared-memory access."""
        from .operational import LOCAL
        data = self.actor.data
        data[FP] = LOCAL
        await self.mem.engine.spend(ns)
        data[FP] = None

    delay = spend


def _gen_atomics():
    """atomic_{add,sub,inc,dec}_return*, atomic_fetch_*, atomic_xchg*, atomic_cmpxchg*."""
    orders = {"": "mb", "_relaxed": "relaxed", "_acquire": "acquire", "_release": "release"}
    ops = {"add": lambda o, i: o + i, "sub": lambda o, i: o - i}

    def binary(op, order, fetch):
        async def f(self, i, v):
            return await self.mem._rmw(
                self, v, lambda o: (op(o, i), o if fetch else op(o, i)), order, self._st())
        return f

    def unary(op, order, fetch):
        async def f(self, v):
            return await self.mem._rmw(
                self, v, lambda o: (op(o, 1), o if fetch else op(o, 1)), order, self._st())
        return f

    def axchg(order):
        async def f(self, v, new):
            return await self._xchg(v, new, order, self._st())
        return f

    def acmpxchg(order):
        async def f(self, v, old, new):
            return await self._cmpxchg(v, old, new, order, self._st())
        return f

    for suf, order in orders.items():
        for name, op in ops.items():
            setattr(KernelCPU, f"atomic_{name}_return{suf}", binary(op, order, False))
            setattr(KernelCPU, f"atomic_fetch_{name}{suf}", binary(op, order, True))
        for name, op in (("inc", ops["add"]), ("dec", ops["sub"])):
            setattr(KernelCPU, f"atomic_{name}_return{suf}", unary(op, order, False))
            setattr(KernelCPU, f"atomic_fetch_{name}{suf}", unary(op, order, True))
        setattr(KernelCPU, f"atomic_xchg{suf}", axchg(order))
        setattr(KernelCPU, f"atomic_cmpxchg{suf}", acmpxchg(order))
    # The kernel's names for the non-atomic bit operations.
    setattr(KernelCPU, "__set_bit", KernelCPU.nonatomic_set_bit)
    setattr(KernelCPU, "__clear_bit", KernelCPU.nonatomic_clear_bit)


_gen_atomics()


def _site(stack) -> str:
    if not stack:
        return "?"
    fn, f, ln = stack[0]
    return f"{fn} ({f}:{ln})"


def memory_of(machine, model: str = "sc", *, cpus=None, race: bool = False,
              lanes: int = 4) -> Memory:
    """The machine's Memory, created (for ``cpus``) on first use."""
    mem = getattr(machine, "memmodel", None)
    if mem is None:
        mem = Memory(machine.engine, model, cpus=cpus, race=race, lanes=lanes)
        machine.memmodel = mem
        subs = getattr(machine, "subsystems", None)
        if subs is not None:
            subs["memmodel"] = mem
    return mem
