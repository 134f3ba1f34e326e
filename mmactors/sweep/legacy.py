"""Helpers older tools and tests call: the lock-loop scenario of Boyd-Wickizer
et al., its throughput curve, and ``sweep_json`` (the whole JSON result per
point, for callers that want more than a row holds)."""
from __future__ import annotations

import itertools

__all__ = ["sweep_json", "lock_loop_throughput", "lock_loop_scenario"]


def _one(args):
    text, overrides, seed, lockdep = args
    from .. import lockdep as L
    from ..machine import Machine
    from ..scenario import parse_scenario
    scn = parse_scenario(text, "<sweep>", overrides)
    old = L.set_default(lockdep)
    try:
        res = Machine(scn, seed=seed, trace=False).run()
    finally:
        L.set_default(old)
    d = res.to_json()
    d.pop("host", None)
    return d


def sweep_json(text: str, grid: dict[str, list], *, seed: int | None = None, jobs: int = 1,
               lockdep: bool | None = None) -> list[tuple[dict, dict]]:
    """Run the scenario ``text`` for every combination of ``grid`` values and
    return ``[(point, JSON result), ...]`` in input order (no results table)."""
    from concurrent.futures import ProcessPoolExecutor
    keys = list(grid)
    combos = list(itertools.product(*(grid[k] for k in keys)))
    tasks = [(text, list(zip(keys, c)), seed, lockdep) for c in combos]
    if jobs <= 1:
        out = [_one(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            out = list(ex.map(_one, tasks))
    return [(dict(zip(keys, c)), r) for c, r in zip(combos, out)]


def lock_loop_scenario(lock: str, cpus: int, think_ns: int = 20_000, hold_ns: int = 400,
                       line_transfer_ns: int = 100, duration_ns: int = 20_000_000,
                       seed: int = 1) -> str:
    return f"""
[machine]
cpus = {cpus}
[costs]
line_transfer_ns = {line_transfer_ns}
[[workload]]
kind = "lock-loop"
lock = "{lock}"
think_ns = {think_ns}
hold_ns = {hold_ns}
[run]
duration_ns = {duration_ns}
seed = {seed}
"""


def lock_loop_throughput(lock: str, cpus_list, *, jobs: int = 1, lockdep: bool | None = None,
                         scheduler=None, out=None, **kw) -> dict[int, float]:
    """Acquisitions per microsecond for each CPU count (Boyd-Wickizer's setup),
    through :func:`mmactors.sweep.sweep`."""
    from .api import sweep
    text = lock_loop_scenario(lock, 1, **kw)
    dur = kw.get("duration_ns", 20_000_000)
    df = sweep(text, {"machine.cpus": list(cpus_list)}, jobs=jobs, lockdep=lockdep,
               scheduler=scheduler, out=out)
    return {int(n): ops / (dur / 1000) for n, ops in zip(df["machine.cpus"], df["ops"])}
