"""Minimal schedule exploration: many seeded runs, or an exhaustive search.

(A general ``mmactors fuzz`` loop lives elsewhere; this module is what the
memory model needs on its own: soundness checks over many schedules and an
exhaustive search for completeness checks.)

``run(strategy, seed)`` is any function that builds a fresh engine with that
strategy and seed, runs it and returns a result.  :func:`random_runs` yields
``n`` results from seeds ``seed, seed+1, ...`` cycling through strategy
specs (``random:P``, ``pct:D``).  :func:`dfs` is stateless model checking in
the style of CHESS and shuttle's DFS scheduler: the engine's decision points
are a tree (at each, the strategy picks the k-th of n runnable actors); the
search replays a prefix of choices, takes choice 0 beyond it, and
backtracks to the deepest decision with an untried alternative, so it
visits every leaf: every schedule the engine can produce.

The tree is reduced with *sleep sets* (Godefroid 1996) when actors say what
their next step touches: an actor may set ``actor.data[FP]`` to a
footprint before each scheduling point (the memory model does, see
:func:`.operational.dependent`); two steps commute when they touch
different locations, both only read, or touch different CPUs' private
state, and after exploring actor a at a decision, its siblings need not
explore a again until something dependent on a has run.  An actor whose
footprint is unknown (None) is dependent on everything.  Sleep sets keep
every reachable state (only redundant orders of independent steps are
skipped), so final-state reachability is exact.  Runs that the sleep set
blocks are abandoned early (counted as ``pruned``).  Without persistent
sets the number of blocked runs can be large: litmus-sized programs under
sc and tso search quickly, lkmm's many propagation actors make its trees
much larger (sample those with :func:`random_runs`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from .._core.errors import SimulationError
from .._core.strategies import ChoiceStrategy, make_strategy
from .operational import FP

__all__ = ["random_runs", "dfs", "DFSStats", "DEFAULT_SPECS"]

DEFAULT_SPECS = ("pct:3:60", "random:0.3", "pct:2:60", "random:0.1", "pct:4:60", "random")


def random_runs(run: Callable, n: int, *, seed: int = 1,
                specs=DEFAULT_SPECS) -> Iterator:
    """``n`` runs with seeds seed.. and the strategy specs in turn."""
    for i in range(n):
        spec = specs[i % len(specs)]
        strat, s = make_strategy(spec, seed + i)
        yield run(strat, s)


@dataclass
class DFSStats:
    runs: int = 0            # leaves reached (complete schedules)
    pruned: int = 0          # runs abandoned because the sleep set covered every choice
    complete: bool = False   # the whole tree was explored (not cut by ``limit``)
    max_depth: int = 0


class _Pruned(SimulationError):
    kind = "pruned"


class _PrunedRun:
    def __init__(self, error):
        self.error = error


class DFSStrategy(ChoiceStrategy):
    """Follows ``prefix`` (a list of choices), then takes 0; records the
    number of candidates and their footprints at each decision, and applies
    sleep sets when footprints are known."""

    def __init__(self, prefix, sleeps):
        super().__init__(chooser=None)
        self.prefix = prefix
        self.sleeps = sleeps        # per decision of the prefix: the sleep set entering it
        self.trail: list = []       # (choice, n, candidate actor ids, footprints, sleep)
        self.sleep: dict = {}       # actor id -> footprint: asleep now

    def choose(self, candidates):
        self.n += 1
        i = len(self.trail)
        n = len(candidates)
        ids = [e[3].id for e in candidates]
        fps = [e[3].data.get(FP) for e in candidates]
        if i < len(self.prefix):
            c = self.prefix[i]
            sleep = dict(self.sleeps[i])
        else:
            sleep = dict(self.sleep)
            c = 0
            while c < n and ids[c] in sleep:
                c += 1
            if c == n:
                raise_pruned(self.engine)
                c = 0
        self.trail.append((c, n, ids, fps, sleep))
        # Entering the child: the sleep set keeps the sleepers independent of
        # the chosen step.
        fp = fps[c]
        self.sleep = {a: f for a, f in sleep.items() if _independent(f, fp)}
        if c:
            self.made[self.n] = c
        return c


def raise_pruned(engine):
    engine.fail(_Pruned("all choices asleep"))


def _independent(f1, f2) -> bool:
    from .operational import dependent
    return not dependent(f1, f2)


def dfs(run: Callable, *, seed: int = 1, limit: int | None = None,
        stats: DFSStats | None = None, reduce: bool = True,
        tick: Callable[[], None] | None = None) -> Iterator:
    """Yield the result of every schedule (leaf) of the decision tree.

    ``run(strategy, seed)`` must build a fresh, deterministic engine.  Pass a
    :class:`DFSStats` to learn whether the tree was exhausted.  ``tick()`` is
    called after every run, pruned ones included (a budget check may raise
    from it to stop the search).
    """
    st = stats if stats is not None else DFSStats()
    prefix: list = []
    sleeps: list = []
    while True:
        strat = DFSStrategy(prefix, sleeps)
        if not reduce:
            strat_choose = strat.choose

            def no_reduce(cands, _c=strat_choose, _s=strat):
                for e in cands:
                    e[3].data.pop(FP, None)
                return _c(cands)
            strat.choose = no_reduce
        try:
            res = run(strat, seed)
        except _Pruned as e:
            res = _PrunedRun(e)
        trail = strat.trail
        st.max_depth = max(st.max_depth, len(trail))
        if tick is not None:
            tick()
        if isinstance(res, _Pruned) or isinstance(getattr(res, "error", None), _Pruned):
            st.pruned += 1
        else:
            st.runs += 1
            yield res
        # Backtrack: the deepest decision with an untried, awake alternative.
        while trail:
            c, n, ids, fps, sleep = trail[-1]
            # the choice just explored goes to sleep for its later siblings
            sleep = dict(sleep)
            if fps[c] is not None:
                sleep[ids[c]] = fps[c]
            nxt = c + 1
            while nxt < n and ids[nxt] in sleep:
                nxt += 1
            if nxt < n:
                trail[-1] = (nxt, n, ids, fps, sleep)
                break
            trail.pop()
        if not trail:
            st.complete = True
            return
        if limit is not None and st.runs + st.pruned >= limit:
            return
        prefix = [t[0] for t in trail]
        sleeps = [t[4] for t in trail]
