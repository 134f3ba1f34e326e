"""One run of a sweep, on whatever process runs it (this one, a pool worker or
a Dask worker), turned into one flat row.

Columns, in this order (README "Sweeps" lists them for users):

* identity: ``scenario``, ``scenario_hash``, ``mmactors_version``,
  ``code_hash``, ``run_id``, then one column per swept key (named by the key,
  e.g. ``machine.cpus``), ``seed``, ``strategy``, ``lockdep``;
* outcome: ``replay_token``, ``exit_status``, ``end``, ``error``,
  ``virtual_ns``, ``ops``, ``ops_per_us``, ``events``, ``switches``;
* per workload i: ``wl<i>.ops`` and the numeric figures of its report;
* per lock class: ``lock.<class>.<figure>`` (lock_stat's numbers);
* per per-CPU cache: ``cache.<name>.<figure>`` (hits, misses, hit rates, ...);
* ``vmstat_delta.<counter>`` for the counters that changed;
* ``wall_s``: host seconds, the one column that is not deterministic.

Every group is in sorted order, so the same run gives the same row, byte for
byte but for ``wall_s``, wherever it runs.
"""
from __future__ import annotations

import json
import time

__all__ = ["run_task", "run_indexed", "flatten_result"]

_LOCK_SKIP = ("contention_points", "contending_points")


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _param_value(v):
    # Lists and tables (workload.0.cpus=[0,1]) are kept as JSON text: a Parquet
    # column holds one type, and text compares and groups as users expect.
    return v if isinstance(v, (int, float, str, bool)) else json.dumps(v)


def flatten_result(d: dict, scn, meta: dict, params, lockdep_on: bool, code: str) -> dict:
    """The row of one run from its JSON result (``RunResult.to_json()``)."""
    row = {"scenario": scn.name, "scenario_hash": meta["scenario_hash"],
           "mmactors_version": meta["mmactors_version"], "code_hash": code,
           "run_id": meta["run_id"]}
    for k, v in params:
        row[k] = _param_value(v)
    err = d.get("error")
    vns = d["virtual_ns"]
    ops = d["workloads"]["ops"]
    row.update(seed=d["seed"], strategy=d["strategy"], lockdep=lockdep_on,
               replay_token=d["replay_token"], exit_status=0, end=d["end"],
               error=f"{err.get('kind')}: {err.get('message')}" if err else None,
               virtual_ns=vns, ops=ops, ops_per_us=round(ops * 1000 / vns, 6) if vns else None,
               events=d["engine"]["events"], switches=d["engine"]["switches"])
    per_cpu = d["workloads"]["per_cpu_ops"]
    details = {w.get("index", i): w for i, w in enumerate(d.get("workload_details", []))}
    for i, w in enumerate(scn.workloads):
        row[f"wl{i}.ops"] = sum(per_cpu[c] for c in w["_cpus"] if c < len(per_cpu))
        for k, v in sorted(details.get(i, {}).items()):
            if _num(v) and k != "index":
                row[f"wl{i}.{k}"] = v
    for cls in sorted(d.get("locks", {})):
        for k, v in d["locks"][cls].items():
            if k not in _LOCK_SKIP and _num(v):
                row[f"lock.{cls}.{k}"] = v
    for name in sorted(d.get("caches", {})):
        c = d["caches"][name]
        for k, v in c.items():
            if _num(v):
                row[f"cache.{name}.{k}"] = v
            elif isinstance(v, dict) and k in ("alloc", "free"):
                for k2, v2 in v.items():
                    if _num(v2):
                        row[f"cache.{name}.{k}_{k2}"] = v2
    for k in sorted(d.get("vmstat_delta", {})):
        row[f"vmstat_delta.{k}"] = d["vmstat_delta"][k]
    return row


def run_task(task: dict) -> dict:
    """Run one task of ``Plan.task`` and return its row.  A Ctrl-C during the
    run (in-process sweeps) is raised as KeyboardInterrupt: an interrupted run
    is not a result and must not become a row."""
    from .. import lockdep as L
    from .._core.errors import Interrupted
    from ..machine import Machine
    from ..scenario import parse_scenario
    from .plan import code_hash
    scn = parse_scenario(task["text"], task["path"], [tuple(kv) for kv in task["overrides"]])
    old = L.set_default(task["lockdep"])
    try:
        m = Machine(scn, seed=task["seed"], strategy=task["strategy"], trace=False)
        t0 = time.perf_counter()
        res = m.run()
        wall = time.perf_counter() - t0
        lockdep_on = L.lockdep_of(m) is not None
    finally:
        L.set_default(old)
    if isinstance(res.error, Interrupted):
        raise KeyboardInterrupt
    d = res.to_json()
    row = flatten_result(d, scn, task["meta"], task["params"], lockdep_on, code_hash())
    row["exit_status"] = res.exit_status
    row["wall_s"] = round(wall, 6)
    return row


def run_indexed(task: dict) -> tuple[int, dict]:
    """Run a task; with ``write_to`` (a results directory on a file system this
    process shares with the parent: the local pool), write its row here, so
    that the Parquet writes run in parallel too instead of queueing in the
    parent.  The row is written before it is returned: a row the parent has
    seen is always on disk."""
    row = run_task(task)
    if task.get("write_to"):
        from .store import write_row
        write_row(task["write_to"], row["run_id"], row)
    return task["index"], row
