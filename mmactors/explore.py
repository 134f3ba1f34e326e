"""Schedule exploration: run a scenario under many schedules, stop at the
first failure, print its report and the replay token.

Run ``i`` uses seed ``base + i`` and the given strategy, so run ``i`` is the
same schedule whichever process runs it, and the answer -- the *lowest*
failing ``i`` -- does not depend on ``--jobs``: work is handed out in
chunks in index order, a worker stops its chunk at its first failure, and
the search ends once every chunk below the best failure so far has
finished.

A failure is anything that makes ``mmactors run`` exit non-zero: a lockdep
report (4), a deadlock (3), an exception in simulated code (1), or an
invariant violation raised by a model.  The replay token reproduces it:
``mmactors run SCENARIO --lockdep --strategy replay:TOKEN``.

Strategies: ``pct:D[:K]`` (PCT, Burckhardt et al., ASPLOS 2010: depth D,
change points among the first K steps) and ``random:P`` (preempt at each
decision point with probability P).  Plain ``random`` -- random tie-breaking
only, which explores little -- means ``random:0.05`` here.
"""
from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass, field

import trio

from ._core.engine import _is_interrupt
from ._core.errors import Interrupted

__all__ = ["fuzz", "FuzzResult", "RunOutcome", "run_one", "effective_strategy",
           "DEFAULT_RANDOM_P"]

DEFAULT_RANDOM_P = 0.05


def effective_strategy(spec: str) -> str:
    spec = spec.strip()
    return f"random:{DEFAULT_RANDOM_P:g}" if spec == "random" else spec


@dataclass
class RunOutcome:
    """One failing run."""
    index: int
    seed: int
    exit_status: int
    kind: str
    summary: str
    report: str
    replay_token: str
    virtual_ns: int
    preemptions: int | None = None
    lockdep: dict | None = None

    def to_json(self) -> dict:
        d = {"index": self.index, "seed": self.seed, "exit_status": self.exit_status,
             "kind": self.kind, "summary": self.summary, "replay_token": self.replay_token,
             "virtual_ns": self.virtual_ns, "report": self.report}
        if self.lockdep is not None:
            d["lockdep"] = self.lockdep
        return d


@dataclass
class FuzzResult:
    scenario: str
    strategy: str
    base_seed: int
    runs: int                       # runs that count: up to and including the failure
    executed: int                   # runs actually executed (>= runs with --jobs > 1)
    jobs: int
    wall_s: float
    lockdep: bool
    failure: RunOutcome | None = None
    replay_command: str | None = None
    interrupted: bool = False       # stopped by Ctrl-C: no failure among the runs done
    extra: dict = field(default_factory=dict)

    @property
    def runs_per_s(self) -> float:
        return self.executed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_status(self) -> int:
        if self.failure is not None:
            return self.failure.exit_status
        return Interrupted.exit_status if self.interrupted else 0

    def to_json(self) -> dict:
        return {"scenario": self.scenario, "strategy": self.strategy, **self.extra,
                "base_seed": self.base_seed,
                "runs": self.runs, "executed": self.executed, "jobs": self.jobs,
                "lockdep": self.lockdep, "wall_s": round(self.wall_s, 4),
                "runs_per_s": round(self.runs_per_s, 1),
                "failure": self.failure.to_json() if self.failure is not None else None,
                "replay_command": self.replay_command, "interrupted": self.interrupted}


# ----------------------------------------------------------------- one run
def run_one(scn, index: int, base_seed: int, strategy: str, lockdep: bool) -> RunOutcome | None:
    """Run schedule ``index``; None if it passed."""
    return _trio_run(_run_one_async, scn, index, base_seed, strategy, lockdep)


def _trio_run(fn, *args):
    """trio.run, with a Ctrl-C raised as a plain KeyboardInterrupt (trio may
    deliver it inside an exception group)."""
    try:
        return trio.run(fn, *args)
    except BaseException as e:          # noqa: B036 - only interrupts are translated
        if _is_interrupt(e) and not isinstance(e, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise


def run_range(scn, start: int, end: int, base_seed: int, strategy: str, lockdep: bool,
              done=None) -> RunOutcome | None:
    """Run schedules ``start`` .. ``end - 1`` in order, all inside one
    ``trio.run`` (its setup costs as much as a small run), and stop at the
    first failure.  ``done(i)`` is called after schedule ``i`` passed or failed."""
    async def main():
        for i in range(start, end):
            out = await _run_one_async(scn, i, base_seed, strategy, lockdep)
            if done is not None:
                done(i)
            if out is not None:
                return out
        return None
    return _trio_run(main)


async def _run_one_async(scn, index, base_seed, strategy, lockdep) -> RunOutcome | None:
    from . import lockdep as L
    from .machine import Machine
    m = Machine(scn, seed=base_seed + index, strategy=strategy, trace=False)
    if lockdep:
        L.attach(m, stop=True)
    else:
        L.detach(m)
    res = await m.run_async()
    if isinstance(res.error, Interrupted):
        raise KeyboardInterrupt                # Ctrl-C: stop exploring, not a finding
    status = res.exit_status
    if status == 0:
        return None
    err = res.error
    ld = L.lockdep_of(m)
    if err is not None:
        kind = getattr(err, "kind", "error")
        lrep = getattr(err, "lockdep", None)
        if lrep is not None:
            kind = f"lockdep {lrep.kind}"
            summary = lrep.cycle()
            text = lrep.text
        else:
            summary = err.message
            text = "\n".join(ln for ln in err.report().splitlines()
                             if not ln.startswith("replay: "))
        token = err.token or res.replay_token
    else:
        rep = ld.reports[0] if ld is not None and ld.reports else None
        kind = f"lockdep {rep.kind}" if rep else "failure"
        summary = rep.cycle() if rep else f"exit status {status}"
        text = rep.text if rep else summary
        token = res.replay_token
    strat = m.engine.strategy
    pre = getattr(strat, "preemptions", None)
    return RunOutcome(index=index, seed=base_seed + index, exit_status=status, kind=kind,
                      summary=summary, report=text, replay_token=token,
                      virtual_ns=res.virtual_ns, preemptions=pre,
                      lockdep=ld.to_json() if ld is not None else None)


# ------------------------------------------------------------ worker side
_W: dict = {}


def _load(path, overrides, text):
    from .scenario import load_scenario, parse_scenario
    if text is not None:
        return parse_scenario(text, path, overrides)
    return load_scenario(path, overrides)


def _init_worker(path, overrides, text, strategy, base, lockdep):
    # Ctrl-C is the parent's to handle: it stops the pool at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _W.update(scn=_load(path, overrides, text), strategy=strategy, base=base, lockdep=lockdep)


def _chunk(start: int, end: int):
    """Run [start, end) in order; stop at the first failure."""
    last = [start - 1]

    def done(i):
        last[0] = i
    out = run_range(_W["scn"], start, end, _W["base"], _W["strategy"], _W["lockdep"], done)
    return start, last[0] + 1 - start, out


# --------------------------------------------------------------- the loop
def fuzz(scenario, *, strategy: str = "pct:3", runs: int = 1000, jobs: int = 1,
         seed: int | None = None, lockdep: bool = True, overrides=None, chunk: int | None = None,
         progress=None, text: str | None = None) -> FuzzResult:
    """Explore ``runs`` schedules of ``scenario`` (a path, or a name with
    ``text`` the TOML); return the lowest-index failure, if any."""
    from ._core.strategies import StrategyError, make_strategy
    path = str(scenario)
    strategy = effective_strategy(strategy)
    if strategy.startswith("replay:"):
        raise StrategyError("fuzz explores schedules; use `mmactors run --strategy "
                            "replay:...` to replay")
    scn = _load(path, overrides, text)
    make_strategy(strategy, 0)                      # bad specs fail here, not in a worker
    base = scn.run["seed"] if seed is None else seed
    jobs = max(1, int(jobs))
    t0 = time.perf_counter()
    calibrated = None
    if re.fullmatch(r"pct:\d+", strategy):
        calibrated = calibrate_steps(scn, base)
        strategy = f"{strategy}:{calibrated}"
    best: RunOutcome | None = None
    state = {"executed": 0, "done": 0}
    interrupted = False
    try:
        if jobs == 1:
            def done(i):
                state["executed"] = state["done"] = i + 1
                if progress is not None and (i & 63) == 63:
                    progress(i + 1, runs)
            best = run_range(scn, 0, runs, base, strategy, lockdep, done)
        else:
            best = _parallel(path, overrides, text, strategy, base, lockdep, runs, jobs,
                             chunk, progress, state)
    except KeyboardInterrupt:
        interrupted = True
    wall = time.perf_counter() - t0
    executed = state["executed"]
    counted = best.index + 1 if best is not None else (state["done"] if interrupted else runs)
    res = FuzzResult(scenario=path, strategy=strategy, base_seed=base, runs=counted,
                     executed=executed, jobs=jobs, wall_s=wall, lockdep=lockdep, failure=best,
                     interrupted=interrupted and best is None)
    if calibrated is not None:
        res.extra["pct_steps_calibrated"] = calibrated
    if best is not None:
        res.replay_command = replay_command(path, best.replay_token, lockdep, overrides)
    return res


def calibrate_steps(scn, seed: int) -> int:
    """PCT's K: the decision points of one run on the natural schedule (no
    preemption), as shuttle and Coyote size it.  ``pct:D`` in ``fuzz`` means
    ``pct:D:K`` with this K; the replay token carries K."""
    from ._core.strategies import ChoiceStrategy
    from .machine import Machine
    m = Machine(scn, seed=seed, strategy=ChoiceStrategy(), trace=False)
    from . import lockdep as L
    L.detach(m)
    m.run()
    return max(1, m.engine.decisions)


def _parallel(path, overrides, text, strategy, base, lockdep, runs, jobs, chunk, progress,
              state):
    """Chunks of runs on a pool of ``jobs`` processes, in index order; the
    lowest failing index wins.  ``state["done"]`` is the length of the prefix
    of runs known to pass (what an interrupted search reports)."""
    import multiprocessing as mp
    import queue

    size = chunk or max(8, min(64, runs // (jobs * 8) or 8))
    starts = list(range(0, runs, size))
    try:
        ctx = mp.get_context("fork")
    except ValueError:                              # pragma: no cover - not on Linux
        ctx = mp.get_context()
    best: RunOutcome | None = None
    results: queue.Queue = queue.Queue()
    finished: dict[int, int] = {}                   # chunk start -> runs done in it
    pool = ctx.Pool(jobs, initializer=_init_worker,
                    initargs=(path, overrides, text, strategy, base, lockdep))
    try:
        pending: set[int] = set()
        nxt = 0
        while True:
            while nxt < len(starts) and len(pending) < 2 * jobs and \
                    (best is None or starts[nxt] < best.index):
                s = starts[nxt]
                pool.apply_async(_chunk, (s, min(s + size, runs)), callback=results.put,
                                 error_callback=results.put)
                pending.add(s)
                nxt += 1
            # Chunks that start after the best failure cannot improve it.
            if not pending or (best is not None and min(pending) > best.index):
                break
            got = results.get()
            if isinstance(got, BaseException):
                raise got
            s, n, out = got
            pending.discard(s)
            state["executed"] += n
            finished[s] = n
            if out is not None and (best is None or out.index < best.index):
                best = out
            while state["done"] < runs and \
                    finished.get(state["done"]) == min(size, runs - state["done"]):
                state["done"] += finished[state["done"]]
            if progress is not None:
                progress(state["executed"], runs)
    finally:
        pool.terminate()                # at once, on Ctrl-C too: no worker outlives us
        pool.join()
    return best


def replay_command(path, token, lockdep=True, overrides=None) -> str:
    parts = ["mmactors", "run", path]
    for k, v in overrides or []:
        parts += ["--set", f"{k}={v}"]
    if lockdep:
        parts.append("--lockdep")
    parts += ["--strategy", f"replay:{token}"]
    return " ".join(_quote(p) for p in parts)


def _quote(s: str) -> str:
    import shlex
    return shlex.quote(s)


def format_result(res: FuzzResult) -> str:
    strat = res.strategy
    if "pct_steps_calibrated" in res.extra:
        strat += f" (K = {res.extra['pct_steps_calibrated']} decision points of the natural schedule)"
    head = (f"fuzz {res.scenario}: strategy {strat}, seeds {res.base_seed}.."
            f"{res.base_seed + res.runs - 1}, {res.jobs} job{'s' if res.jobs > 1 else ''}, "
            f"lockdep {'on' if res.lockdep else 'off'}")
    rate = f"{res.executed} runs in {res.wall_s:.2f} s ({res.runs_per_s:.0f} runs/s)"
    if res.failure is None:
        return f"{head}\nno failure in {res.runs} runs; {rate}"
    f = res.failure
    lines = [head,
             f"run {f.index} (seed {f.seed}) failed: {f.kind}: {f.summary}",
             f"{rate}", "", f.report.strip("\n"), "",
             f"replay token: {f.replay_token}",
             f"reproduce with: {res.replay_command}"]
    return "\n".join(lines)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                          # pragma: no cover
        return os.cpu_count() or 1
