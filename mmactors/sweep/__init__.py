"""Sweeps: one scenario over parameter values and seeds, every finished run a
row of a results table.

    df = mmactors.sweep("lock-scaling", {"machine.cpus": "1,2,4..64"}, seeds=3,
                        out="results/")

The pieces, one module each:

* ``values``  the value lists of ``--param`` and ``--seeds`` (ranges);
* ``plan``    the runs (points x seeds), checked before any starts, and their ids;
* ``run``     one run -> one flat row (on whichever process runs it);
* ``execute`` where runs run: this process, a local pool, a Dask cluster;
* ``store``   the results directory: one Parquet file per run, atomic;
* ``summary`` the one-screen table of means and spreads;
* ``plot``    ``mmactors plot``: the points (mean and spread over seeds), matplotlib files;
* ``textchart`` the same points as a text chart for the terminal;
* ``legacy``  the helpers older tools and tests call (lock-loop scenarios).

A run is a function of its inputs, so a sweep's rows do not depend on
``jobs``, the scheduler, the order runs finish in, or whether the sweep was
interrupted and resumed: only ``wall_s`` does.
"""
from .api import WALL_COLUMNS, SweepOutcome, read_results, run_plan, sweep
from .legacy import lock_loop_scenario, lock_loop_throughput, sweep_json
from .plot import plot
from .values import SweepSpecError, parse_param, parse_seeds, parse_values

__all__ = ["sweep", "run_plan", "read_results", "SweepSpecError", "SweepOutcome", "parse_param",
           "parse_values", "parse_seeds", "lock_loop_scenario", "lock_loop_throughput",
           "sweep_json", "WALL_COLUMNS", "plot"]
