#!/usr/bin/env python3
"""Sweep throughput: runs per wall second of a 200-run sweep of small
scenarios at --jobs 2 against --jobs 1 (the ratio is the figure: ideal 2.0 on
two free cores), and the overhead per run of the Dask path (a two-worker
LocalCluster, already started) against the local pool, median of --repeat.

    python tools/bench/sweep.py [--runs 200] [--repeat 3] [--no-dask]

Every sweep writes its results directory (a fresh temporary one each time),
as `mmactors sweep --out` does, so the Parquet writes are in the figures.
"""
import argparse
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


def timed(runs, **kw) -> float:
    g, seeds = grid(runs)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        df = sweep(SMALL, g, seeds=seeds, lockdep=False, out=Path(d) / "res", **kw)
        wall = time.perf_counter() - t0
    assert len(df) == runs
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-dask", action="store_true")
    a = ap.parse_args()
    one = [timed(a.runs, jobs=1) for _ in range(a.repeat)]
    two = [timed(a.runs, jobs=2) for _ in range(a.repeat)]
    r1, r2 = a.runs / statistics.median(one), a.runs / statistics.median(two)
    print(f"{a.runs}-run sweep of small lock-loop scenarios (1-4 CPUs, 0.2 ms virtual), "
          f"median of {a.repeat}")
    print(f"  --jobs 1: {r1:7.1f} runs/s   (best {a.runs / min(one):.1f})")
    print(f"  --jobs 2: {r2:7.1f} runs/s   (best {a.runs / min(two):.1f})")
    print(f"  ratio jobs 2 / jobs 1: {r2 / r1:.2f}")
    if a.no_dask:
        return
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster:
        timed(8, scheduler=cluster.scheduler_address)          # workers import mmactors
        dask = [timed(a.runs, scheduler=cluster.scheduler_address) for _ in range(a.repeat)]
    rd = a.runs / statistics.median(dask)
    over = (statistics.median(dask) - statistics.median(two)) / a.runs * 1000
    print(f"  dask, 2-worker LocalCluster: {rd:7.1f} runs/s; overhead against the local "
          f"pool (2 jobs): {over:+.2f} ms per run")


if __name__ == "__main__":
    main()
