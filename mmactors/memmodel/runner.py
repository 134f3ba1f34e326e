"""Running litmus tests on the engine: each process an actor, under a model.

The axiomatic checker (:mod:`.check`) says which final states a model
allows; this module *executes* a test: each process ``P<i>`` becomes an
actor that interprets its C body concretely, making every access through
:class:`~.access.Memory` under the chosen operational model, so the engine's
strategy decides interleavings, store-buffer drains and propagation.  The
final state (registers and the coherence-latest value of each location) is
compared with the checker's: :func:`explore_litmus` runs many schedules
(random and PCT, or an exhaustive search) and reports the states reached,
and which of them (if any) the model forbids.

Evaluation order follows the checker's symbolic executor (``symexec``):
operands left to right, both arms of ``?:`` and both sides of ``&&``/``||``
evaluated, the address argument of a primitive before the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from .._core.engine import Engine
from .._core.errors import Deadlock, SimulationError
from .access import Memory
from .check import check, eval_prop, prop_locations, shared_locations
from .errors import LitmusError
from .budget import Budget, BudgetExceeded, Meter
from .primitives import PRIMITIVES
from .schedules import DFSStats, dfs, random_runs
from .scope import initial_registers
from .syntax import (AddrOf, Assign, Binary, Block, Call, Decl, Deref, ExprStmt, If,
                     LitmusTest, Name, Num, Store, Ternary, Unary)
from .terms import Addr, apply_op, truth

__all__ = ["run_litmus", "explore_litmus", "RunOutcome", "Exploration"]

_ORDER = {"mb": "mb", "once": "relaxed", "acquire": "acquire", "release": "release",
          None: "relaxed", "noreturn": "relaxed"}


class InvalidAccess(Exception):
    """A run dereferenced a value that is not a pointer: like the checker
    (and herd7), such a run is discarded, not a result."""


class _Proc:
    """Interprets one litmus process on a KernelCPU."""

    def __init__(self, test: LitmusTest, tid: int, mem: Memory, locs: dict):
        self.test = test
        self.tid = tid
        self.proc = test.processes[tid]
        self.mem = mem
        self.locs = locs
        # herd7's register rules, as the checker applies them (see scope).
        self.initial = initial_registers(self.proc, tid, test.reg_init)
        self.regs: dict = dict(self.initial)

    def err(self, line, msg):
        return LitmusError(self.test.path, line, msg)

    def loc(self, v, line):
        if not isinstance(v, Addr) or v.name not in self.locs:
            raise InvalidAccess(self.err(line, f"access to non-pointer value {v}"))
        return self.locs[v.name]

    async def run(self, k):
        self.k = k
        await self.stmts(self.proc.body.stmts)

    async def stmts(self, stmts):
        for s in stmts:
            await self.stmt(s)

    async def stmt(self, s):
        if isinstance(s, Block):
            await self.stmts(s.stmts)
        elif isinstance(s, Decl):
            if s.init is not None:          # herd7: a declaration is a no-op
                self.regs[s.name] = await self.expr(s.init)
        elif isinstance(s, Assign):
            if s.name in self.locs and s.name not in self.initial:
                raise self.err(s.line, f"assignment to shared location '{s.name}' "
                               f"(write *{s.name} or WRITE_ONCE)")
            self.regs[s.name] = await self.expr(s.value)
        elif isinstance(s, Store):
            a = await self.expr(s.addr)
            v = await self.expr(s.value)
            await self.k.write(self.loc(a, s.line), v)
        elif isinstance(s, ExprStmt):
            await self.expr(s.expr)
        elif isinstance(s, If):
            c = await self.expr(s.cond)
            branch = s.then if truth(c) else s.other
            if branch is not None:
                await self.stmt(branch)
        else:  # pragma: no cover - the parser produces nothing else
            raise self.err(getattr(s, "line", 0), f"unsupported statement {type(s).__name__}")

    async def expr(self, e):
        if isinstance(e, Num):
            return e.value
        if isinstance(e, Name):
            if e.name in self.regs:
                return self.regs[e.name]
            if e.name == "NULL":
                return 0
            if e.name in self.locs:
                raise self.err(e.line, f"'{e.name}' is a shared location but not a "
                               f"parameter of P{self.tid}")
            return 0                        # an unwritten register (see scope)
        if isinstance(e, Deref):
            a = await self.expr(e.addr)
            return await self.k.read(self.loc(a, e.line))
        if isinstance(e, Unary):
            return apply_op(e.op, [await self.expr(e.arg)], e.line)
        if isinstance(e, Binary):
            a = await self.expr(e.left)
            b = await self.expr(e.right)
            return apply_op(e.op, [a, b], e.line)
        if isinstance(e, Ternary):
            c = await self.expr(e.cond)
            a = await self.expr(e.then)
            b = await self.expr(e.other)
            return apply_op("?:", [c, a, b], e.line)
        if isinstance(e, Call):
            return await self.call(e)
        if isinstance(e, AddrOf):
            raise self.err(e.line, "'&' is only supported in the init block")
        raise self.err(getattr(e, "line", 0), f"unsupported expression {type(e).__name__}")

    async def call(self, e: Call):
        prim = PRIMITIVES.get(e.func)
        if prim is None or e.func in ("srcu_down_read", "srcu_up_read"):
            # srcu_down_read()/srcu_up_read() may end a section on another
            # CPU, which the engine's RCU readers cannot do.
            raise self.err(e.line, f"'{e.func}' is not supported when running a test "
                           f"on the engine (--run, --exhaustive)")
        k = self.k
        kind, tag = prim.kind, prim.tag
        if kind == "fence":
            if tag == "rcu-lock":
                await k.rcu_read_lock()
            elif tag == "rcu-unlock":
                await k.rcu_read_unlock()
            elif tag == "sync-rcu":
                await k.synchronize_rcu()
            elif tag not in ("barrier", "after-srcu-read-unlock"):
                await k.fence(tag)
            return 0
        arg = e.args[prim.ptr]
        if prim.mode == "lv":
            if not isinstance(arg, Deref):
                raise self.err(e.line, "argument must be a dereference such as *x")
            arg = arg.addr
        addr = await self.expr(arg)
        vals = [await self.expr(a) for i, a in enumerate(e.args) if i != prim.ptr]
        loc = self.loc(addr, e.line)
        mem = self.mem
        st = ()
        # SRCU runs as RCU: a grace period that waits for every reader is a
        # correct (if slow) synchronize_srcu(), and a reader that overlaps
        # another becomes one longer reader; the srcu_struct is read at
        # srcu_read_lock() and written at srcu_read_unlock(), as the checker
        # models them (see primitives).
        if tag == "srcu-lock":
            await k.rcu_read_lock()
            return await mem._load(k, loc, "once", st)
        if tag == "srcu-unlock":
            await mem._store(k, loc, vals[0], "once", st)
            await k.rcu_read_unlock()
            return 0
        if kind == "sync_srcu":
            await k.synchronize_rcu()
            return 0
        if kind == "load":
            return await mem._load(k, loc, "acquire" if tag == "acquire" else "once", st)
        if kind == "store":
            await mem._store(k, loc, vals[0], "release" if tag == "release" else "once", st)
            if prim.fence_after:
                await k.fence(prim.fence_after)
            return 0
        order = _ORDER[tag]
        if kind == "xchg":
            return await k._xchg(loc, vals[0], order, st)
        if kind == "cmpxchg":
            return await k._cmpxchg(loc, vals[0], vals[1], order, st)
        if kind in ("atomic_op", "op_return", "fetch_op"):
            operand = vals[0] if prim.val is not None else prim.const
            line = e.line

            def f(old, op=prim.op):
                new = apply_op(op, [old, operand], line)
                if kind == "atomic_op":
                    return new, 0
                res = old if kind == "fetch_op" else new
                if prim.test == "==0":
                    res = 1 if res == 0 else 0
                elif prim.test == "<0":
                    res = 1 if res < 0 else 0
                return new, res
            return await mem._rmw(k, loc, f, "relaxed" if kind == "atomic_op" else order, st)
        if kind == "add_unless":
            amount, unless = vals
            from .access import _NOWRITE
            return await mem._rmw(
                k, loc, lambda o: ((_NOWRITE, 0) if o == unless
                                   else (apply_op("+", [o, amount], e.line), 1)), "mb", st)
        if kind == "lock":
            await k.spin_lock(loc)
            return 0
        if kind == "unlock":
            await k.spin_unlock(loc)
            return 0
        if kind == "trylock":
            return 1 if await k.spin_trylock(loc) else 0
        if kind == "islocked":
            return 1 if await k.spin_is_locked(loc) else 0
        raise self.err(e.line, f"unsupported primitive {e.func}")  # pragma: no cover


@dataclass
class RunOutcome:
    state: Optional[dict]            # LocRef -> value; None when the run did not complete
    error: Optional[SimulationError]
    token: str
    decisions: int


def run_litmus(test: LitmusTest, model: str, strategy=None, seed: int = 1, *,
               race: bool = False, lanes: int | None = None) -> RunOutcome:
    """Run ``test`` once on a fresh engine; the final state of every location
    and register the condition, ``locations`` and ``filter`` mention."""
    names, init_values, _locks = shared_locations(test)
    n = len(test.processes)
    eng = Engine(seed=seed, strategy=strategy, trace=False)
    mem = Memory(eng, model, cpus=list(range(n)), race=race,
                 lanes=lanes if lanes is not None else max(1, len(names)))
    locs = {name: mem.loc(name, init_values[name]) for name in names}
    procs = [_Proc(test, t, mem, locs) for t in range(n)]
    for t, p in enumerate(procs):
        mem.add_program(f"P{t}", p.run, t)
    try:
        eng.run()
    except SimulationError as e:
        cause = e.__cause__
        if isinstance(cause, LitmusError):
            raise cause from None            # a problem with the test: bad input
        if isinstance(cause, InvalidAccess):
            return RunOutcome(None, cause, eng.replay_token(), eng.decisions)
        return RunOutcome(None, e, eng.replay_token(), eng.decisions)
    _, needed = prop_locations(test)
    state = {}
    for ref in needed:
        if ref.proc is not None:
            # A register never written on this run keeps its initial value.
            state[ref] = procs[ref.proc].regs.get(ref.name, 0)
        else:
            state[ref] = mem.final(locs[ref.name])
    return RunOutcome(state, None, eng.replay_token(), eng.decisions)


@dataclass
class Exploration:
    """What many schedules of one test produced under one model."""
    name: str
    model: str
    locations: list                  # the displayed LocRefs (as the checker's Result)
    allowed: set                     # states the checker allows (tuples)
    reached: dict = field(default_factory=dict)   # state tuple -> first replay token
    forbidden: dict = field(default_factory=dict)  # reached but not allowed -> token
    runs: int = 0
    deadlocks: int = 0
    exhaustive: bool = False         # an exhaustive search that finished
    pruned: int = 0
    invalid: int = 0                 # runs that dereferenced a non-pointer (discarded)
    searched: bool = False           # an exhaustive search was asked for
    stopped: Optional[str] = None    # "time" or "count": cut by the budget
    elapsed: float = 0.0

    @property
    def sound(self) -> bool:
        return not self.forbidden

    @property
    def complete(self) -> bool:
        return set(self.reached) >= self.allowed

    def summary(self) -> str:
        how = ("exhaustive search" if self.exhaustive else f"{self.runs} schedules")
        if self.exhaustive:
            how += f" ({self.runs} schedules, {self.pruned} pruned by sleep sets)"
        if self.stopped:
            what = "exhaustive search" if self.searched else "runs"
            how = (f"{what} stopped by the {self.stopped} budget after {self.runs} schedules"
                   + (f" ({self.pruned} pruned by sleep sets)" if self.searched else "")
                   + f" in {self.elapsed:.1f} s, completeness unknown within budget")
        ok = len(set(self.reached) & self.allowed)
        line = (f"Operational {self.model}: {how}: reached {ok} of {len(self.allowed)} "
                f"allowed states")
        if self.deadlocks:
            line += f", {self.deadlocks} deadlocked runs"
        if self.invalid:
            line += f", {self.invalid} runs discarded (non-pointer access)"
        if self.forbidden:
            line += f", {len(self.forbidden)} FORBIDDEN"
        return line


def explore_litmus(test: Union[LitmusTest, str, Path], model: str = "tso", *,
                   schedules: int = 200, exhaustive: bool = False, seed: int = 1,
                   limit: int | None = None, specs=None, result=None,
                   budget: Optional[Budget] = None, progress=None) -> Exploration:
    """Run ``test`` over many schedules under ``model`` and compare the final
    states with what the checker allows under the same model (``result``,
    the checker's :class:`~.check.Result`, if already known).  ``budget``
    caps the seconds (and with ``count``, the schedules) spent; a search it
    cuts has ``stopped`` set.  ``progress(meter)`` is called now and then."""
    from .litmus import parse_litmus
    if not isinstance(test, LitmusTest):
        test = parse_litmus(test)
    res = result if result is not None else check(test, model)
    shown, _ = prop_locations(test)
    ex = Exploration(test.name, model, res.locations, set(res.states))
    ex.searched = exhaustive
    meter = Meter(budget, progress)
    meter.POLL = 8                  # a schedule is a whole engine run
    meter.extra = {"test": test.name, "reached": 0, "allowed": len(ex.allowed)}

    def one(strategy, s):
        return run_litmus(test, model, strategy, s)

    if exhaustive:
        st = DFSStats()

        def tick():
            meter.extra["pruned"] = st.pruned
            meter.poll_time()
        it = dfs(one, seed=seed, limit=limit, stats=st, tick=tick)
    else:
        it = random_runs(one, schedules, seed=seed, **({"specs": specs} if specs else {}))
        st = None
    try:
        _collect(test, ex, it, shown, meter)
    except BudgetExceeded as e:
        ex.stopped = e.what
    ex.elapsed = meter.elapsed
    if st is not None:
        ex.exhaustive = st.complete and not ex.stopped
        ex.pruned = st.pruned
    return ex


def _collect(test, ex: Exploration, it, shown, meter: Meter) -> None:
    for out in it:
        meter.step()
        ex.runs += 1
        if out.state is None:
            if isinstance(out.error, Deadlock):
                ex.deadlocks += 1
                continue
            if isinstance(out.error, InvalidAccess):
                ex.invalid += 1
                continue
            raise out.error
        if test.filter is not None and not eval_prop(test.filter, out.state):
            continue
        tup = tuple(out.state[l] for l in shown)
        if tup not in ex.reached:
            ex.reached[tup] = out.token
            meter.extra["reached"] = len(ex.reached)
            if tup not in ex.allowed:
                ex.forbidden[tup] = out.token
