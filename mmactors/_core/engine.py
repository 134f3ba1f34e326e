"""The engine: deterministic virtual time for actors that are trio tasks.

Why it looks like this
----------------------
A simulated CPU (or kernel thread) is an *actor*: a trio task running ordinary
async Python.  Exactly one actor holds the *baton* at any moment; every other
actor is parked in ``trio.lowlevel.wait_task_rescheduled``.  trio's own run
queue therefore never holds more than one simulated task, so its randomised
ordering cannot leak into results: the engine alone decides who runs next.

Time is an integer count of virtual nanoseconds.  Pending wake-ups sit in a
heap of ``(time, prio, seq, actor)`` entries, as in SimPy: ``prio`` comes from
the strategy (random tie-breaking, PCT priorities, or 0) and ``seq`` is a
counter that makes every key unique, so the order is total and deterministic.

An actor spends time with ``await engine.spend(ns)``.  If its new wake-up is
still the earliest in the heap it just keeps the baton: no heap push, no trio
task switch, no await that suspends (the fast path; most of a simulation's
steps take it when one CPU runs ahead of the others).  Otherwise it pushes
itself, hands the baton to the earliest entry with ``trio.lowlevel.reschedule``
and parks.

Blocking is the same hand-off without a heap entry: ``await engine.park(what)``
records *what* the actor waits on (for the wait-for graph) and gives the baton
away; ``engine.wake(actor, at_ns)`` puts it back in the heap.  When an actor
parks and nothing is left to run, or when parking closes a cycle of waits,
the run stops with a :class:`~mmactors._core.errors.Deadlock` carrying the
cycle.  A sentinel entry at ``duration_ns`` ends the run: whoever would run
past it hands the baton to the sentinel, which stops the run.

Schedule exploration hooks in at *decision points*: whenever the engine is
about to pick the next entry and more than one actor could run, a preemptive
strategy may pick the k-th entry in key order instead of the first.  The
entries it skipped keep their (earlier) times and run later with the clock
unchanged, i.e. they were *stalled*, as a CPU is by an interrupt or a vCPU
preemption.  Time never goes backwards, so every explored schedule is one the
timing model could produce with some stalls.  Choice 0 always means "no
preemption", so Hypothesis shrinks towards the natural schedule.
"""
from __future__ import annotations

import enum
import heapq
import random
from typing import Any, Callable

import outcome
import trio

from .errors import ActorError, Deadlock, Interrupted, SimulationError
from .replay import encode_token
from .strategies import Strategy
from .trace import Trace

__all__ = ["Engine", "Actor", "ActorState"]


class ActorState(enum.Enum):
    """Where an actor is: in the heap (READY), holding the baton (RUNNING),
    blocked until someone wakes it (PARKED), or finished (DONE)."""
    READY = "ready"
    RUNNING = "running"
    PARKED = "parked"
    DONE = "done"


_READY, _RUNNING, _PARKED, _DONE = (ActorState.READY, ActorState.RUNNING, ActorState.PARKED,
                                    ActorState.DONE)

_reschedule = trio.lowlevel.reschedule
_wait_rescheduled = trio.lowlevel.wait_task_rescheduled


class _Done:
    """An awaitable that is already done (``await`` returns None at once)."""

    __slots__ = ()

    def __await__(self):
        return iter(())


_DONE_AWAITABLE = _Done()


def _abort(_raise_cancel):
    # A parked actor is only ever cancelled when the run ends.
    return trio.lowlevel.Abort.SUCCEEDED


class Actor:
    """One simulated CPU or kernel thread: a trio task with a virtual clock."""

    __slots__ = (
        "engine", "id", "name", "cpu", "node", "task", "state", "waiting_on",
        "rng", "ops", "context", "held", "data", "debt", "plug", "_fn", "_go",
    )

    def __init__(self, engine: "Engine", aid: int, name: str, cpu: int, node: int,
                 fn: Callable[["Actor"], Any]):
        self.engine = engine
        self.id = aid
        self.name = name
        self.cpu = cpu
        self.node = node
        self.task = None
        self.state = _READY
        self.waiting_on = None        # what a parked actor waits for (a lock, a queue)
        # Workload randomness: one stream per actor, derived from the run seed
        # and the actor id only, so adding an actor does not change the others.
        self.rng = random.Random(engine.seed * 1_000_003 + aid * 7919 + 17)
        self.ops = 0                  # completed workload iterations
        self.context = "process"      # process | softirq | hardirq (lockdep)
        self.held = []                # locks currently held, in acquisition order
        self.data = {}                # per-actor scratch for workloads
        self.plug = None              # current->plug: block/blk_core.py's plugged bios
        self.debt = 0                 # ns charged by synchronous code, paid at the next spend
        self._go = False              # a spawned actor given the baton before its task started
        self._fn = fn

    def __repr__(self):
        return f"<Actor {self.name} cpu{self.cpu} {self.state.value}>"

    # Convenience: workloads write ``await cpu.spend(ns)``.
    def spend(self, ns: int):
        return self.engine.spend(ns)


class Engine:
    """Runs actors in deterministic virtual time.  See the module docstring."""

    def __init__(self, *, seed: int = 1, strategy: Strategy | None = None,
                 duration_ns: int | None = None, trace: bool = True,
                 costs=None, node_of=None, digest: int = 0,
                 progress: Callable[[int, int], None] | None = None):
        from ..costs import CostModel
        from .strategies import RandomStrategy
        self.seed = int(seed)
        self.digest = digest          # the scenario's short hash, carried in replay tokens
        self.strategy = strategy if strategy is not None else RandomStrategy()
        self.duration_ns = duration_ns
        self.now = 0
        self.actors: list[Actor] = []
        self.current: Actor | None = None
        # Hardware nondeterminism (which cache-line request the directory
        # serves first, ...) is drawn from here: seeded, never from the host.
        self.random = random.Random(self.seed * 2_654_435_761 + 1)
        self.trace = Trace() if trace else None
        self.events = 0               # scheduling points passed
        self.switches = 0             # trio task switches (baton hand-offs)
        self.decisions = 0            # points where a strategy could choose
        self.error: SimulationError | None = None
        self.finished = False
        self._sigint = False                  # a Ctrl-C asked the run to stop (run())
        self.end_reason = None
        self.costs = costs if costs is not None else CostModel()
        self.node_of = node_of if node_of is not None else _AllNodeZero()
        # Per-run state of the layers above (the lock classes of mmactors.sync,
        # ...), keyed by whoever owns it, as trio.lowlevel.RunVar keeps it:
        # the engine itself never looks inside.
        self.runvars: dict = {}
        self._heap: list = []
        self._seq = 0
        self._started = 0
        self._nursery = None
        self._done = None
        self._progress = progress
        self._next_progress = 1 << 16 if progress is not None else 1 << 62
        self.set_strategy(self.strategy)

    def set_strategy(self, strategy: Strategy) -> None:
        """Decide with ``strategy`` from now on (before the run, or to swap in
        a Hypothesis schedule).  Pending heap entries are re-keyed with its
        priorities."""
        self.strategy = strategy
        strategy.attach(self)
        self._prio = strategy.prio
        self._decide = strategy.choose if strategy.preemptive else None
        if self._heap:
            self._heap = [(t, strategy.prio(a) if a is not None else p, s, a)
                          for t, p, s, a in self._heap]
            heapq.heapify(self._heap)

    # ------------------------------------------------------------------ setup
    def add_actor(self, name: str, fn: Callable[[Actor], Any], *, cpu: int = 0,
                  node: int = 0, start_ns: int = 0) -> Actor:
        """Register an actor; ``fn(actor)`` is an async function run as its body."""
        if self._done is not None:
            raise RuntimeError("actors must be added before the run starts")
        a = Actor(self, len(self.actors), name, cpu, node, fn)
        self.actors.append(a)
        self._push(a, start_ns)
        if self.trace is not None:        # every actor has a track, even one that takes no lock
            self.trace.instant(a.id, "start", start_ns)
        return a

    def spawn(self, name: str, fn: Callable[[Actor], Any], *, cpu: int = 0, node: int = 0,
              at_ns: int | None = None) -> Actor:
        """Start a new actor during the run (fork, a kworker, ...), due at ``at_ns``
        (default: now).  Its trio task starts in the nursery; if the baton reaches
        it before the task has run, the task takes it as soon as it starts."""
        if self._nursery is None:
            return self.add_actor(name, fn, cpu=cpu, node=node, start_ns=at_ns or 0)
        a = Actor(self, len(self.actors), name, cpu, node, fn)
        self.actors.append(a)
        due = self.now if at_ns is None else max(at_ns, self.now)
        self._push(a, due)
        self._live += 1
        self._nursery.start_soon(self._spawned_main, a, name=name)
        if self.trace is not None:
            self.trace.threads[a.id] = name
            self.trace.instant(a.id, "start", due)
        return a

    # --------------------------------------------------------------- running
    def run(self):
        """Run to completion (synchronously, inside a fresh ``trio.run``).  A
        Ctrl-C ends the run with :class:`Interrupted`, the clock and counters
        left where the run stopped.

        Why a handler of our own: trio raises KeyboardInterrupt wherever the
        signal lands outside its protected code, which may be inside an
        actor between handing the baton on and parking; now and then that
        corrupted trio's own task bookkeeping (TrioInternalError and a
        traceback instead of a clean stop).  Here the first SIGINT only sets
        a flag, which the engine reads at its next event and ends the run
        there, between two actor steps, as a duration would; a second one
        raises KeyboardInterrupt at once (a stuck run can still be killed)."""
        import signal
        import threading
        prev = None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            prev = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            trio.run(self.run_async)
        except BaseException as e:          # noqa: B036 - KeyboardInterrupt, maybe in a group
            if not _is_interrupt(e):
                raise
            self._sigint = True
        finally:
            if prev is not None:
                signal.signal(signal.SIGINT, prev)
        if self._sigint:
            self.finished = True
            self.end_reason = "interrupted"
            self.current = None
            raise Interrupted(f"stopped after {self.events:,} events",
                              now=self.now, token=self.replay_token()) from None
        return self

    def _on_sigint(self, signum, frame):
        if self._sigint:
            raise KeyboardInterrupt
        self._sigint = True

    def _stop_interrupted(self):
        """The flag _on_sigint set, read at an event: end the run here."""
        if not self.finished:
            self._finish("interrupted")

    async def run_async(self):
        if not self.actors:
            raise SimulationError("nothing to run: the scenario has no actors")
        self._done = trio.Event()
        self._initial = len(self.actors)
        self._live = len(self.actors)
        if self.duration_ns is not None:
            # The sentinel sorts before any actor due at the same instant.
            heapq.heappush(self._heap, (self.duration_ns, -1, -1, None))
        self.strategy.start(self)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for a in self.actors:
                nursery.start_soon(self._actor_main, a, name=a.name)
            await self._done.wait()
            nursery.cancel_scope.cancel()
        self._nursery = None
        if self.error is not None:
            raise self.error
        return self

    async def _actor_main(self, a: Actor):
        a.task = trio.lowlevel.current_task()
        # The last task to start hands out the first baton, once every other
        # actor task is parked (so trio's start order cannot matter).
        self._started += 1
        if self._started < self._initial:
            await self._wait_baton(a)
        else:
            # The first hand-out is not a switch between actors: whichever
            # task trio happened to start last must not change the count.
            sw = self.switches
            got = self._dispatch(a)
            self.switches = sw
            if not got:
                await self._wait_baton(a)
        await self._body(a)

    async def _spawned_main(self, a: Actor):
        a.task = trio.lowlevel.current_task()
        if not a._go:
            await self._wait_baton(a)
        await self._body(a)

    async def _body(self, a: Actor):
        a.state = _RUNNING
        try:
            await a._fn(a)
        except trio.Cancelled:
            raise
        except SimulationError as e:
            if self.error is None:
                self.error = e
            self._finish("error")
            return
        except Exception as e:  # noqa: BLE001 - any model bug ends the run, named
            if self.error is None:
                err = ActorError(
                    f"{type(e).__name__}: {e}", actor=a.name, now=self.now,
                    token=self.replay_token())
                err.__cause__ = e
                self.error = err
            self._finish("error")
            return
        a.state = _DONE
        a.waiting_on = None
        self._live -= 1
        if self.trace is not None:
            self.trace.flush()
            self.trace.instant(a.id, "exit", self.now)
        if not self.finished:
            self._dispatch(None)

    async def _wait_baton(self, a: Actor):
        await _wait_rescheduled(_abort)

    # ---------------------------------------------------------- the baton
    def _push(self, a: Actor, t: int):
        self._seq += 1
        heapq.heappush(self._heap, (t, self._prio(a), self._seq, a))
        a.state = _READY

    def _pick(self):
        """Pop the next heap entry, consulting a preemptive strategy."""
        heap = self._heap
        end = self.duration_ns
        # At most one actor in the heap (beside the end-of-run sentinel, which
        # is there from the start whenever there is an end): no choice.
        if len(heap) < (2 if end is None else 3):
            return heapq.heappop(heap)
        # Candidates: actors due before the end of the run (the end-of-run
        # sentinel, the only entry without an actor, sits at the end itself).
        if end is None:
            cands = [e for e in heap if e[3] is not None]
        else:
            cands = [e for e in heap if e[0] < end]
        if len(cands) > 1:
            cands.sort()
            self.decisions += 1
            k = self._decide(cands)
            if k:
                entry = cands[k]
                # Any removal that leaves a valid heap will do: every key is unique.
                last = heap.pop()
                if last is not entry:
                    i = heap.index(entry)
                    heap[i] = last
                    heapq.heapify(heap)
                return entry
        return heapq.heappop(heap)

    def _dispatch(self, me: Actor | None) -> bool:
        """Hand the baton to the next entry.  Returns True if ``me`` got it back."""
        if self._sigint:
            self._stop_interrupted()
        if self.finished:
            return False
        heap = self._heap
        if not heap:
            self._stalled()
            return False
        t, _, _, nxt = heapq.heappop(heap) if self._decide is None else self._pick()
        if nxt is None:                       # the end-of-run sentinel
            if self._live == 0:               # everyone finished before it: end now
                self._finish("done")
                return False
            if t > self.now:
                self.now = t
            self._finish("duration")
            return False
        if t > self.now:
            self.now = t
        self.events += 1
        if self.events >= self._next_progress:
            self._next_progress = self.events + (1 << 16)
            self._progress(self.now, self.duration_ns or 0)
        nxt.state = _RUNNING
        self.current = nxt
        if nxt is me:
            return True
        self.switches += 1
        if nxt.task is None:                  # spawned, task not started yet
            nxt._go = True
            return False
        _reschedule(nxt.task, outcome.Value(None))
        return False

    async def spend(self, ns: int):
        """The current actor is busy for ``ns`` virtual nanoseconds."""
        if self.trace is not None and self.trace.pending:
            self.trace.flush()                # counters: the step's end, before time moves
        me = self.current
        t = self.now + ns
        if me.debt:
            t += me.debt
            me.debt = 0
        heap = self._heap
        if self._decide is None and heap:
            top = heap[0]
            if t < top[0] or (t == top[0] and top[3] is not None
                              and self._prio(me) < top[1]):
                if self._sigint:              # Ctrl-C: stop here (run())
                    self._stop_interrupted()
                    await _wait_rescheduled(_abort)
                self.now = t                  # fast path: still the earliest
                self.events += 1
                return
            if not self.finished and not self._sigint:
                # _dispatch's non-preemptive path, inlined: the push and the
                # pop in one heap operation.  Every key is unique (seq), so
                # which entry comes out, and every later pop, is the same.
                self._seq += 1
                e = heapq.heappushpop(heap, (t, self._prio(me), self._seq, me))
                nxt = e[3]
                if nxt is not None and nxt is not me:
                    t = e[0]
                    me.state = _READY
                    if t > self.now:
                        self.now = t
                    self.events += 1
                    if self.events >= self._next_progress:
                        self._next_progress = self.events + (1 << 16)
                        self._progress(self.now, self.duration_ns or 0)
                    nxt.state = _RUNNING
                    self.current = nxt
                    self.switches += 1
                    if nxt.task is None:      # spawned, task not started yet
                        nxt._go = True
                    else:
                        _reschedule(nxt.task, outcome.Value(None))
                    await _wait_rescheduled(_abort)
                    return
                # the sentinel (or ``me``, on a prio tie lost above): the general path
                heapq.heappush(heap, e)
                me.state = _READY
                if not self._dispatch(me):
                    await _wait_rescheduled(_abort)
                return
        elif not heap:
            if self._sigint:
                self._stop_interrupted()
                await _wait_rescheduled(_abort)
            self.now = t
            self.events += 1
            return
        self._seq += 1
        heapq.heappush(heap, (t, self._prio(me), self._seq, me))
        me.state = _READY
        if not self._dispatch(me):
            await _wait_rescheduled(_abort)

    def charge(self, ns: int) -> None:
        """Charge ``ns`` to the current actor from synchronous code (a store
        that retires through the store buffer, an unlock): paid at its next
        scheduling point, so time still only moves where the engine decides."""
        self.current.debt += ns

    def sync(self):
        """Pay the current actor's debt before it touches shared state, so that
        every shared-state decision happens at the right virtual time:
        ``await eng.sync()``.  Free (no scheduling point) when there is no
        debt; a plain function returning the awaitable (``spend(0)``, or one
        that is already done), so no coroutine frame of its own.  Hot paths
        test ``actor.debt`` first: ``if me.debt: await eng.spend(0)``."""
        if self.current.debt:
            return self.spend(0)
        return _DONE_AWAITABLE

    async def checkpoint(self):
        """A zero-cost scheduling point (a place a preemption may happen)."""
        await self.spend(0)

    def park(self, waiting_on):
        """Block the current actor until someone calls :meth:`wake` on it:
        ``await engine.park(what)``.

        A plain function returning trio's wait itself, not a coroutine around
        it: every resumption of a parked actor passes through each frame of
        its await chain, so the engine adds none."""
        if self.trace is not None and self.trace.pending:
            self.trace.flush()
        me = self.current
        me.debt = 0                           # buffered stores drain while it waits
        me.state = _PARKED
        me.waiting_on = waiting_on
        hf = getattr(waiting_on, "holders", None)
        if hf is not None:
            for h in hf():                    # _check_cycle's test, inline:
                if h.state is _PARKED or h is me:
                    self._check_cycle(me)     # a holder waits too: look for a cycle
                    break
        if not self.finished:                 # else: cancelled when the run ends
            self._dispatch(me)
        return _wait_rescheduled(_abort)

    def wake(self, a: Actor, at_ns: int | None = None) -> None:
        """Make a parked actor runnable at ``at_ns`` (default: now)."""
        if a.state is not _PARKED:
            raise RuntimeError(f"wake of {a.name}, which is {a.state.value}")
        t = self.now if at_ns is None else at_ns
        if t < self.now:
            raise ValueError("cannot wake an actor in the past")
        a.waiting_on = None                   # no longer part of the wait-for graph
        self._push(a, t)

    # ------------------------------------------------------------- stopping
    def _finish(self, reason: str):
        if self.finished:
            return
        self.finished = True
        self.end_reason = reason
        if reason == "duration" and self.duration_ns is not None:
            self.now = max(self.now, self.duration_ns)
        self.current = None
        self._done.set()

    def fail(self, err: SimulationError):
        """Stop the run with ``err`` (used by checkers such as lockdep)."""
        if self.error is None:
            self.error = err
        self._finish(getattr(self.error, "kind", "error"))

    # ------------------------------------------------------------ deadlocks
    def _holders(self, obj):
        h = getattr(obj, "holders", None)
        return list(h()) if h is not None else []

    def _check_cycle(self, me: Actor):
        """Parking ``me`` closes a cycle of waits?  Then it is a deadlock."""
        h = getattr(me.waiting_on, "holders", None)
        if h is None:
            return                    # a queue or event nobody holds
        for h in h():
            if h.state is _PARKED or h is me:
                break
        else:
            return                    # the common case: the holder is running
        path = [me]
        seen = {me.id}

        def dfs(a):
            for h in self._holders(a.waiting_on):
                if h is me:
                    return True
                if h.state is _PARKED and h.id not in seen:
                    seen.add(h.id)
                    path.append(h)
                    if dfs(h):
                        return True
                    path.pop()
            return False

        if dfs(me):
            self.fail(Deadlock(self._describe(path, cycle=True), cycle=self._cycle_rows(path),
                               now=self.now, token=self.replay_token()))

    def _cycle_rows(self, path):
        rows = []
        for i, a in enumerate(path):
            holder = path[(i + 1) % len(path)]
            rows.append({"actor": a.name, "cpu": a.cpu,
                         "waits_on": _name_of(a.waiting_on), "held_by": holder.name})
        return rows

    def _describe(self, path, cycle):
        parts = []
        for i, a in enumerate(path):
            parts.append(f"{a.name} waits on {_name_of(a.waiting_on)}")
            nxt = path[(i + 1) % len(path)] if cycle else None
            if nxt is not None:
                parts.append(f"held by {nxt.name}")
        return " -> ".join(parts)

    def _stalled(self):
        """Nothing is runnable.  Either everyone finished, or a deadlock."""
        parked = [a for a in self.actors if a.state is _PARKED]
        if not parked:
            self._finish("done")
            return
        # Find a cycle among the parked, else report the blocked set.
        for a in parked:
            path, seen = [a], {a.id}
            cur = a
            while True:
                hs = [h for h in self._holders(cur.waiting_on) if h.state is _PARKED]
                if not hs:
                    break
                h = hs[0]
                if h.id in seen:
                    cyc = path[path.index(h):]
                    self.fail(Deadlock(self._describe(cyc, cycle=True),
                                       cycle=self._cycle_rows(cyc), now=self.now,
                                       token=self.replay_token()))
                    return
                seen.add(h.id)
                path.append(h)
                cur = h
        desc = "; ".join(f"{a.name} waits on {_name_of(a.waiting_on)}" for a in parked)
        self.fail(Deadlock("all actors blocked, no cycle: " + desc,
                           cycle=[{"actor": a.name, "cpu": a.cpu,
                                   "waits_on": _name_of(a.waiting_on), "held_by": None}
                                  for a in parked],
                           now=self.now, token=self.replay_token()))

    # --------------------------------------------------------------- replay
    def replay_token(self) -> str:
        return encode_token(self.seed, self.strategy.token_fields(), self.digest)


def _is_interrupt(e: BaseException) -> bool:
    """A KeyboardInterrupt, bare or inside trio's exception groups."""
    if isinstance(e, KeyboardInterrupt):
        return True
    if isinstance(e, BaseExceptionGroup):
        return e.subgroup(lambda x: isinstance(x, KeyboardInterrupt)) is not None
    return False


class _AllNodeZero:
    """cpu -> node map of a one-node machine, for engines built by hand."""

    def __getitem__(self, cpu):
        return 0


def _name_of(obj) -> str:
    if obj is None:
        return "?"
    n = getattr(obj, "name", None)
    return n if isinstance(n, str) else repr(obj)

