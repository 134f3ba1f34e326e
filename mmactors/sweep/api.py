"""The sweep API: check a plan, run it where asked, write each row the
moment it arrives, return the rows in plan order."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .values import SweepSpecError

__all__ = ["sweep", "run_plan", "read_results", "SweepOutcome", "WALL_COLUMNS"]

# Columns that differ between two runs of the same sweep: host time only.
WALL_COLUMNS = ("wall_s",)


@dataclass
class SweepOutcome:
    plan: object
    tables: list                          # per run, plan order: a row dict, a pyarrow table
                                          # (read back), or None (not run)
    ran: int = 0
    skipped: int = 0                      # already in the results directory
    wall_s: float = 0.0
    interrupted: bool = False
    where: str = "local"                  # "in-process", "N jobs", "dask tcp://..."
    out: str | None = None
    _frame: object = field(default=None, repr=False)

    @property
    def frame(self):
        """The rows of the runs that finished, in plan order, as a DataFrame."""
        if self._frame is None:
            from .store import row_table, rows_to_frame
            self._frame = rows_to_frame([row_table(t) if isinstance(t, dict) else t
                                         for t in self.tables if t is not None])
        return self._frame


def read_results(path, *, latest: bool = False):
    """Every row of a results directory as a pandas DataFrame (see store.py)."""
    from .store import read_results as _read
    return _read(path, latest=latest)


def run_plan(plan, *, jobs: int | None = None, out=None, scheduler=None,
             progress=None) -> SweepOutcome:
    """Run a checked plan: skip the runs already in ``out``, run the others
    where asked, write each row the moment it arrives.  Ctrl-C returns the
    outcome so far with ``interrupted`` set (every finished row is written)."""
    from .execute import run_dask, run_local, run_pool, scheduler_address
    from .store import ResultsDir
    store = None
    if out is not None:
        ResultsDir.check(out)
        store = ResultsDir(out, plan)
        store.prepare()
    res = SweepOutcome(plan=plan, tables=[None] * len(plan.runs), out=str(out) if out else None)
    scheduler = scheduler_address(scheduler)
    # Local workers write their own rows (in parallel); Dask workers may not
    # share this file system, so their rows are written here.
    write_here = store is not None and scheduler is not None
    todo = []
    for r in plan.runs:
        if store is not None and store.has(r.run_id):
            res.tables[r.index] = store.read(r.run_id)
            res.skipped += 1
        else:
            t = plan.task(r)
            if store is not None and not write_here:
                t["write_to"] = str(store.dir)
            todo.append(t)
    total = len(plan.runs)
    if progress is not None:
        progress(res.skipped, total)
    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise SweepSpecError(f"--jobs must be >= 1, got {jobs}")
    if scheduler is not None:
        res.where = f"dask {scheduler if isinstance(scheduler, str) else 'client'}"
        rows = run_dask(todo, scheduler, plan.code) if todo else iter(())
    elif jobs == 1 or len(todo) <= 1:
        res.where = "1 job"
        rows = run_local(todo)
    else:
        jobs = min(jobs, len(todo))
        res.where = f"{jobs} jobs"
        rows = run_pool(todo, jobs)
    t0 = time.perf_counter()
    try:
        for index, row in rows:
            if row["code_hash"] != plan.code:      # a worker that changed under us
                raise RuntimeError(f"run {index} ran other mmactors code "
                                   f"({row['code_hash']}, expected {plan.code})")
            if write_here:
                store.write(row["run_id"], row)
            res.tables[index] = row                 # made a table at the end (frame)
            res.ran += 1
            if progress is not None:
                progress(res.skipped + res.ran, total)
    except KeyboardInterrupt:
        res.interrupted = True
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()                                 # stops the pool / cancels Dask tasks
        res.wall_s = time.perf_counter() - t0
    return res


def sweep(scenario, params=None, *, seeds=None, seed=None, strategy=None, jobs=None, out=None,
          scheduler=None, sets=(), lockdep=None, progress=None):
    """Run ``scenario`` (a path, a shipped scenario's name, or TOML text) for
    every combination of ``params`` (key -> list of values, or a value list
    as ``--param`` writes it: ``"1,2,4..64"``) and every seed; return a pandas
    DataFrame, one row per run, in order (points in the order of ``params``,
    seeds innermost).

    ``seeds``: a count (from the scenario's seed, or ``seed``), a list, or a
    value list; default one seed.  ``jobs``: local processes (default: the
    CPU count).  ``out``: a results directory; runs already there are not run
    again.  ``scheduler``: a Dask scheduler address or ``distributed.Client``
    (default ``$MMACTORS_DASK_SCHEDULER``, else local).  ``sets``: fixed
    ``--set`` overrides as (key, value) pairs.  ``lockdep``: on or off for
    every run (None: as the scenario and $MMACTORS_LOCKDEP say).
    ``progress(done, total)`` is called as runs finish.  Ctrl-C raises
    KeyboardInterrupt after every finished row is written."""
    from .plan import make_plan
    plan = make_plan(scenario, params, seeds=seeds, seed=seed, strategy=strategy, sets=sets,
                     lockdep=lockdep)
    res = run_plan(plan, jobs=jobs, out=out, scheduler=scheduler, progress=progress)
    if res.interrupted:
        raise KeyboardInterrupt
    return res.frame
