#!/usr/bin/env python3
"""Sweep throughput: runs per wall second of a 200-run sweep of small
scenarios at --jobs 2 against --jobs 1 (the ratio is the figure: ideal 2.0 on
two free cores), and the overhead per run of the Dask path (a two-worker
LocalCluster, already started) against the local pool of two processes.

    python tools/bench/sweep.py [--runs 200] [--repeat 3] [--no-dask]

How the figures are made trustworthy on a shared 2-core machine:

* each repeat runs the configurations back to back in one round (jobs 1,
  jobs 2, Dask), so a change of background load hits all of them alike;
  the median of the rounds is the figure, the best beside it;
* every sweep is what `mmactors sweep --out` does: a fresh results
  directory, the pool started (forkserver, mmactors preloaded) and stopped
  inside the timing, every row written as its own Parquet file;
* the work itself is printed too: the runs' own simulation time (the rows'
  ``wall_s``, measured inside the workers), so that "overhead" is wall
  time not explained by simulation: per run, ``wall x jobs / runs -
  simulation per run``;
* the load average before and after each round, and the CPU count, are
  printed beside the figures: other processes on the machine take cores
  from the pool, and a figure is only as good as its conditions.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmactors.sweep import lock_loop_scenario, sweep  # noqa: E402

SMALL = lock_loop_scenario("ticket", 1, duration_ns=200_000)


def grid(runs: int) -> tuple[dict, int]:
    """Points x 2 seeds = runs: CPUs 1..4 x think times."""
    points = runs // 2
    thinks = points // 4
    return {"machine.cpus": [1, 2, 3, 4],
            "workload.0.think_ns": [5_000 + 100 * i for i in range(thinks)]}, 2


def timed(runs, **kw) -> tuple[float, float]:
    """(wall seconds of the sweep, seconds of simulation summed over its runs)."""
    g, seeds = grid(runs)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        df = sweep(SMALL, g, seeds=seeds, lockdep=False, out=Path(d) / "res", **kw)
        wall = time.perf_counter() - t0
    assert len(df) == runs and (df["exit_status"] == 0).all()
    return wall, float(df["wall_s"].sum())


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-dask", action="store_true")
    a = ap.parse_args()
    n = a.runs
    print(f"{n}-run sweeps of small lock-loop scenarios (1-4 CPUs, 0.2 ms virtual), "
          f"{a.repeat} rounds; {os.cpu_count()} CPUs; load average (1/5/15 min) before each "
          "round and after the last")
    cluster = None
    if not a.no_dask:
        from distributed import LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        timed(8, scheduler=cluster.scheduler_address)          # workers import mmactors
    res = {"jobs 1": [], "jobs 2": [], "dask": []}
    try:
        for r in range(a.repeat):
            print(f"  round {r + 1}: load {load()}", flush=True)
            res["jobs 1"].append(timed(n, jobs=1))
            res["jobs 2"].append(timed(n, jobs=2))
            if cluster is not None:
                res["dask"].append(timed(n, scheduler=cluster.scheduler_address))
        print(f"  after: load {load()}")
    finally:
        if cluster is not None:
            cluster.close()
    print(f"{'':>8} {'runs/s median':>14} {'best':>7} {'worst':>7}  {'sim ms/run':>10}  "
          f"{'overhead ms/run':>15}")
    med = {}
    for k, v in res.items():
        if not v:
            continue
        walls = [w for w, _ in v]
        jobs = 1 if k == "jobs 1" else 2
        sim = statistics.median(s for _, s in v) / n * 1000
        over = statistics.median(w * jobs / n * 1000 for w, _ in v) - sim
        med[k] = statistics.median(walls)
        print(f"{k:>8} {n / med[k]:14.1f} {n / min(walls):7.1f} {n / max(walls):7.1f}  "
              f"{sim:10.2f}  {over:15.2f}")
    print(f"ratio jobs 2 / jobs 1 (medians): {med['jobs 1'] / med['jobs 2']:.2f} "
          f"(best against best: {min(w for w, _ in res['jobs 1']) / min(w for w, _ in res['jobs 2']):.2f})")
    if "dask" in med:
        per = [(d[0] - p[0]) / n * 1000 for d, p in zip(res["dask"], res["jobs 2"])]
        print(f"Dask path against the local pool (2 workers each): "
              f"{(med['dask'] - med['jobs 2']) / n * 1000:+.2f} ms per run (medians; "
              f"per round {', '.join(f'{x:+.2f}' for x in per)})")


if __name__ == "__main__":
    main()
