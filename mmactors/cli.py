"""The ``mmactors`` command line.

Exit statuses: 0 success, 1 an exception in simulated code, 2 bad input
(scenario, option, litmus file), 3 deadlock, 4 a lockdep report, 5 a data
race (KCSAN-style report), 6 a failed assertion or invariant of simulated
code (BUG_ON/WARN_ON in a race program).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from . import __version__
from ._core.errors import Interrupted, ScenarioError
from ._core.files import OutputError, atomic_write, check_output_path
from ._core.strategies import StrategyError
from .sweep.execute import SchedulerError

__all__ = ["main"]


class UsageError(ValueError):
    """A bad option or environment variable: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, exit status 2, as for every other bad input.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _progress_factory(quiet: bool):
    """A progress callback that shows a rich bar once a run has taken > 1 s:
    how far the run is (``Machine.progress``) and the virtual time."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None, lambda m: None
    state = {"t0": time.monotonic(), "bar": None, "task": None, "machine": None}

    def cb(now_ns, end_ns):
        m = state["machine"]
        if m is None:
            return
        if state["bar"] is None:
            if time.monotonic() - state["t0"] < 1.0:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            bar = Progress(TextColumn("simulating"), BarColumn(),
                           TextColumn("{task.percentage:>3.0f}%  {task.fields[virt]} ms virtual"),
                           TimeElapsedColumn(), transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("run", total=1.0, virt="0")
        state["bar"].update(state["task"], completed=m.progress(), virt=f"{now_ns / 1e6:,.1f}")

    def stop():
        if state["bar"] is not None:
            state["bar"].stop()

    def attach(machine):
        state["machine"] = machine
    return cb, stop, attach


def _set_overrides(path, pairs) -> list:
    """``--set KEY=VALUE`` options as scenario overrides."""
    out = []
    for kv in pairs or []:
        if "=" not in kv:
            raise ScenarioError(str(path), kv, "--set needs KEY=VALUE")
        k, v = kv.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


def _check_outputs(args, *options):
    """Every output path is checked before any work is done."""
    for opt in options:
        path = getattr(args, opt.lstrip("-"), None)
        if path is not None:
            check_output_path(path, opt)


def _scenario_path(name):
    from .scenario import find_scenario
    if not name.strip():
        raise UsageError(f"no scenario named {name!r} (`mmactors scenarios` lists them)")
    return find_scenario(name)


def cmd_run(args) -> int:
    from .machine import Machine
    from .report import format_summary, write_json
    from .scenario import DEFAULT_SCENARIO, load_scenario

    path = _scenario_path(args.scenario) if args.scenario is not None else DEFAULT_SCENARIO
    if args.seed is not None and (args.strategy or "").strip().startswith("replay:"):
        raise UsageError("--seed: a replay token carries its own seed; drop --seed")
    _check_outputs(args, "--json", "--trace")
    overrides = _set_overrides(path, args.set)
    if args.cpus is not None:
        overrides.append(("machine.cpus", args.cpus))
    if args.duration is not None:
        overrides.append(("run.duration_ns", args.duration))
    scn = load_scenario(path, overrides)
    cb, stop, attach = _progress_factory(args.quiet)
    machine = Machine(scn, seed=args.seed, strategy=args.strategy,
                      trace=True, progress=cb)
    attach(machine)
    if args.lockdep is not None:                  # --lockdep / --no-lockdep
        from . import lockdep
        (lockdep.attach if args.lockdep else lockdep.detach)(machine)
    try:
        res = machine.run()
    finally:
        stop()
    if args.trace:
        machine.engine.trace.write(args.trace)
    if args.json:
        write_json(res, args.json)
    if isinstance(res.error, Interrupted):
        where = f"; partial result in {args.json}" if args.json and args.json != "-" else ""
        print(f"mmactors: interrupted at {res.virtual_ns / 1e6:,.3f} ms of virtual time "
              f"({res.events:,} events){where}", file=sys.stderr)
        return res.exit_status
    if not args.quiet and args.json != "-":
        width = None
        if sys.stdout.isatty() and not args.wide:
            import shutil
            width = shutil.get_terminal_size().columns
        print(format_summary(res, width=width))
    elif res.error is not None:
        print(res.error.report(), file=sys.stderr)
    return res.exit_status


def cmd_scenarios(args) -> int:
    from .scenario import list_scenarios, scenarios_dir
    d = scenarios_dir()
    print(f"scenarios in {d}:" if d else "scenarios (no scenarios/ directory found):")
    rows = list_scenarios()
    w = max(len(n) for n, _ in rows)
    for name, desc in rows:
        print(f"  {name:<{w}}  {desc}")
    return 0


def cmd_costs(args) -> int:
    from .costs import COST_DOCS, CostModel
    c = CostModel()
    for name, doc in COST_DOCS.items():
        print(f"{name:<26} {getattr(c, name):>8}  {doc}")
    return 0


def cmd_litmus(argv) -> int:
    from .memmodel.cli import main as litmus_main
    return litmus_main(argv)


def _lockdep_args(r):
    g = r.add_mutually_exclusive_group()
    g.add_argument("--lockdep", dest="lockdep", action="store_true", default=None,
                   help="validate lock order (kernel lockdep); a report exits with status 4")
    g.add_argument("--no-lockdep", dest="lockdep", action="store_false",
                   help="turn lockdep off even if the scenario or $MMACTORS_LOCKDEP turns it on")


def cmd_fuzz(args) -> int:
    import json

    from .explore import format_result, fuzz
    path = _scenario_path(args.scenario)
    rel = os.path.relpath(path)
    if not rel.startswith(".."):
        path = rel
    if args.runs < 1:
        raise UsageError(f"fuzz: --runs must be >= 1, got {args.runs}")
    if args.jobs < 1:
        raise UsageError(f"fuzz: --jobs must be >= 1, got {args.jobs}")
    if (args.strategy or "").strip().startswith("replay:"):
        raise UsageError("fuzz: --strategy replay:... replays one run: use `mmactors run "
                         "SCENARIO --strategy replay:TOKEN`")
    _check_outputs(args, "--json")
    overrides = _set_overrides(path, args.set)
    if args.duration is not None:
        overrides.append(("run.duration_ns", args.duration))
    progress = None
    if not args.quiet and sys.stderr.isatty():
        def progress(done, total):
            print(f"\rfuzz: {done}/{total} runs", end="", file=sys.stderr, flush=True)
    res = fuzz(str(path), strategy=args.strategy, runs=args.runs, jobs=args.jobs,
               seed=args.seed, lockdep=args.lockdep, overrides=overrides, progress=progress)
    if progress is not None:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    if args.json:
        doc = json.dumps(res.to_json(), indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(doc)
        else:
            atomic_write(args.json, doc)
    if res.interrupted:
        where = f"; partial result in {args.json}" if args.json and args.json != "-" else ""
        print(f"mmactors: fuzz interrupted after {res.executed:,} runs, no failure in the "
              f"first {res.runs:,}{where}", file=sys.stderr)
        return res.exit_status
    if args.json != "-" and not args.quiet:
        print(format_result(res))
    elif res.failure is not None and args.json != "-":
        print(res.failure.report.strip("\n"), file=sys.stderr)
        print(f"reproduce with: {res.replay_command}", file=sys.stderr)
    return res.exit_status


def _add_fuzz_parser(sub):
    f = sub.add_parser("fuzz", help="explore schedules of a scenario until one fails "
                       "(lockdep report, deadlock, exception)")
    f.add_argument("scenario", help="a scenario file or the name of a shipped one")
    f.add_argument("--strategy", default="pct:3",
                   help="pct:D[:K] (default pct:3) or random[:P] (random = random:0.05)")
    f.add_argument("--runs", type=int, default=1000, help="schedules to try (default 1000)")
    f.add_argument("--jobs", type=int, default=1, help="worker processes (default 1); "
                   "the result does not depend on it")
    f.add_argument("--seed", type=int, help="run i uses seed SEED+i (default: [run] seed)")
    f.add_argument("--duration", type=int, metavar="NS", help="override [run] duration_ns")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key")
    f.add_argument("--no-lockdep", dest="lockdep", action="store_false", default=True,
                   help="explore for deadlocks and exceptions only")
    f.add_argument("--json", metavar="PATH", help="write the result as JSON to PATH (- for stdout)")
    f.add_argument("--quiet", action="store_true", help="print nothing but the failure")
    f.set_defaults(fn=cmd_fuzz)


def _sweep_progress(quiet: bool):
    """A rich bar with an ETA on a terminal (stderr), nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    state = {"task": None}

    def cb(done, total):
        if state["task"] is None:
            bar.start()
            # the runs found already done do not count towards the ETA
            state["task"] = bar.add_task("sweep", total=total, completed=done)
        bar.update(state["task"], completed=done)
    return cb, bar.stop


def cmd_sweep(args) -> int:
    from .sweep import run_plan
    from .sweep.plan import describe, make_plan
    from .sweep.summary import format_summary, summarize
    from .sweep.values import SweepSpecError, parse_param
    try:
        params = {}
        for spec in args.param or []:
            key, vals = parse_param(spec)
            if key in params:
                raise SweepSpecError(f"--param {key}: given twice (list every value in one)")
            params[key] = vals
        path = _scenario_path(args.scenario)
        sets = _set_overrides(path, args.set)
        for k, _ in sets:
            if k in params:
                raise SweepSpecError(f"--set {k} and --param {k}: choose one")
        if args.duration is not None:
            sets.append(("run.duration_ns", args.duration))
        plan = make_plan(str(path), params, seeds=args.seeds, strategy=args.strategy,
                         sets=sets, lockdep=args.lockdep)
    except SweepSpecError as e:
        raise UsageError(str(e)) from None
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"sweep: --jobs must be >= 1, got {args.jobs}")
    if not args.quiet:
        print(describe(plan), flush=True)
    cb, stop = _sweep_progress(args.quiet)
    try:
        res = run_plan(plan, jobs=args.jobs, out=args.out, scheduler=args.scheduler,
                       progress=cb)
    except KeyboardInterrupt:                     # before the first run started
        stop()
        raise
    finally:
        stop()
    where = f"; rows in {args.out}" if args.out else ""
    if res.interrupted:
        print(f"mmactors: sweep interrupted after {res.ran + res.skipped:,} of "
              f"{len(plan.runs):,} runs{where} (the same command finishes it)", file=sys.stderr)
        return 130
    df = res.frame
    if not args.quiet:
        if len(df):
            try:
                summary = summarize(df, plan.keys, args.metric)
            except KeyError:
                raise UsageError(f"--metric {args.metric}: no such column (e.g. ops_per_us, "
                                 "virtual_ns, lock.&zone->lock.contentions)") from None
            print(format_summary(summary, plan.keys, args.metric))
        rate = f" ({res.ran / res.wall_s:,.1f} runs/s)" if res.ran and res.wall_s > 0 else ""
        skipped = f", {res.skipped:,} already done" if res.skipped else ""
        print(f"{res.ran:,} runs in {res.wall_s:.2f} s{rate} on {res.where}{skipped}{where}")
    failed = int((df["exit_status"] != 0).sum()) if len(df) else 0
    if failed and not args.quiet:
        print(f"{failed} run{'s' * (failed != 1)} ended with a non-zero exit status "
              "(column exit_status; replay one with `mmactors run SCENARIO --strategy "
              "replay:TOKEN` and its --set values)")
    return 0


def _add_sweep_parser(sub):
    w = sub.add_parser("sweep", help="run a scenario over parameter values and seeds; "
                       "every run one row of a results table")
    w.add_argument("scenario", help="a scenario file or the name of a shipped one")
    w.add_argument("--param", action="append", metavar="KEY=V1,V2,...",
                   help="a key --set accepts and its values; ranges: 1..8 (every value), "
                   "1,2,4..64 (doubling), 0..100:25 (step), 1..64:*2 (ratio); repeatable: "
                   "every combination runs")
    w.add_argument("--seeds", default=None, metavar="N|LIST",
                   help="N seeds from the scenario's seed on, or a list (1,5,9 or 1..10); "
                   "default 1")
    w.add_argument("--strategy", help="random | random:P | pct:D[:K] (default: the scenario's)")
    w.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default: the CPU count)")
    w.add_argument("--out", metavar="RESULTS", help="results directory (Parquet, one file per "
                   "run); runs already there are skipped")
    w.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on a dask.distributed cluster (default: $MMACTORS_DASK_SCHEDULER, "
                   "else local processes)")
    w.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a fixed override for every run (repeatable)")
    w.add_argument("--duration", type=int, metavar="NS", help="override [run] duration_ns")
    w.add_argument("--metric", default="ops_per_us",
                   help="the column the summary averages (default ops_per_us)")
    w.add_argument("--quiet", action="store_true", help="print nothing but errors")
    _lockdep_args(w)
    w.set_defaults(fn=cmd_sweep)


def cmd_plot(args) -> int:
    from .sweep.plot import PlotError, PlotSpec, aggregate, figure, load_rows, save
    from .sweep.textchart import text_chart
    where = []
    for kv in args.where or []:
        if "=" not in kv:
            raise UsageError(f"--where {kv}: needs COLUMN=VALUE")
        k, v = kv.split("=", 1)
        where.append((k.strip(), v.strip()))
    spec = PlotSpec(x=args.x, y=args.y, hue=args.hue, col=args.col, per=args.per, where=where,
                    spread=args.spread, logx=args.logx, logy=args.logy, title=args.title,
                    xlabel=args.xlabel, ylabel=args.ylabel, model=args.model,
                    include_failed=args.include_failed)
    try:
        if args.output:                           # refused before anything is read
            from .sweep.plot import _matplotlib, file_format
            file_format(args.output)
            _check_outputs(args, "--output")
            _matplotlib()
        df = load_rows(args.results, all_versions=args.all_versions)
        points = aggregate(df, spec)
        if args.output:
            save(figure(points, spec), args.output)
            if not args.quiet:
                print(f"{args.output}: {len(points)} points from {int(points['n'].sum())} runs")
        else:
            width, height = args.width, args.height
            if width is None:
                import shutil
                width = max(30, min(100, shutil.get_terminal_size((80, 24)).columns - 14))
            print(text_chart(points, spec, width=width, height=height))
    except PlotError as e:
        raise UsageError(f"plot: {e}") from None
    return 0


def _add_plot_parser(sub):
    p = sub.add_parser("plot", help="plot a results table (mmactors sweep --out): a column "
                       "against a swept key, mean and spread over seeds")
    p.add_argument("results", help="a results directory (or one Parquet file)")
    p.add_argument("--x", required=True, metavar="COLUMN", help="the x axis, e.g. machine.cpus")
    p.add_argument("--y", default="ops_per_us", metavar="COLUMN",
                   help="the metric (default ops_per_us), e.g. 'lock.&zone->lock.waittime_total_ns'")
    p.add_argument("--per", metavar="COLUMN",
                   help="divide y by this column, run by run (ops per CPU: --per machine.cpus)")
    p.add_argument("--hue", metavar="COLUMN", help="one line per value of this column")
    p.add_argument("--col", metavar="COLUMN", help="one panel per value of this column")
    p.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                   help="keep only rows with this value (repeatable)")
    p.add_argument("--spread", default="minmax", choices=["minmax", "sd", "none"],
                   help="the band around the mean over seeds: min to max (default), "
                   "mean +- one standard deviation, or none")
    p.add_argument("--model", metavar="markov:a=NS,s=NS,c=NS",
                   help="draw Boyd-Wickizer et al.'s ticket-lock model beside the data "
                   "(x must be the CPU count, y acquisitions per us)")
    p.add_argument("--logx", action="store_true", help="x on a log2 scale")
    p.add_argument("--logy", action="store_true", help="y on a log scale")
    p.add_argument("--title")
    p.add_argument("--xlabel")
    p.add_argument("--ylabel")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write PNG, SVG or PDF (by extension; needs matplotlib); "
                   "without it, draw in the terminal")
    p.add_argument("--width", type=int, help="terminal chart columns (default: fit the terminal)")
    p.add_argument("--height", type=int, default=16, help="terminal chart rows (default 16)")
    p.add_argument("--all-versions", action="store_true",
                   help="also rows written by older mmactors code (default: the newest only)")
    p.add_argument("--include-failed", action="store_true",
                   help="also runs with a non-zero exit_status (left out by default)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(fn=cmd_plot)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mmactors", description="Linux mm concurrency, simulated in virtual time.")
    p.add_argument("--version", action="version", version=f"mmactors {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario (the built-in default without SCENARIO)")
    r.add_argument("scenario", nargs="?", help="a scenario file or the name of a shipped one")
    r.add_argument("--seed", type=int, help="override [run] seed")
    r.add_argument("--strategy", help="random | random:P | pct:D[:K] | replay:TOKEN")
    r.add_argument("--cpus", type=int, help="override [machine] cpus")
    r.add_argument("--duration", type=int, metavar="NS", help="override [run] duration_ns")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any scenario key, e.g. costs.line_transfer_ns=80 (repeatable)")
    r.add_argument("--json", metavar="PATH", help="write the JSON result to PATH (- for stdout)")
    r.add_argument("--trace", metavar="PATH", help="write a Chrome/Perfetto trace to PATH")
    r.add_argument("--quiet", action="store_true", help="print nothing but errors")
    r.add_argument("--wide", action="store_true",
                   help="print lock_stat with every column even on a narrow terminal")
    _lockdep_args(r)
    r.set_defaults(fn=cmd_run)
    s = sub.add_parser("scenarios", help="list the shipped scenarios")
    s.set_defaults(fn=cmd_scenarios)
    c = sub.add_parser("costs", help="list the cost model's defaults and their sources")
    c.set_defaults(fn=cmd_costs)
    _add_fuzz_parser(sub)
    _add_sweep_parser(sub)
    _add_plot_parser(sub)
    sub.add_parser("litmus", help="check litmus tests against a memory model "
                   "(mmactors litmus --help)", add_help=False)
    return p


def _check_environment():
    """The environment variables mmactors reads, checked before any work."""
    from .lockdep import env_default
    try:
        env_default()
    except ValueError as e:
        raise UsageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "litmus":
            return cmd_litmus(argv[1:])
        p = build_parser()
        args = p.parse_args(argv)
        if not getattr(args, "fn", None):
            p.print_help()
            return 2
        _check_environment()
        return args.fn(args)
    except ScenarioError as e:
        print(f"mmactors: {e}", file=sys.stderr)
        return 2
    except StrategyError as e:
        print(f"mmactors: --strategy: {e}", file=sys.stderr)
        return 2
    except (UsageError, OutputError, SchedulerError) as e:
        print(f"mmactors: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # outside a run (loading, writing): nothing partial to keep
        print("mmactors: interrupted", file=sys.stderr)
        return Interrupted.exit_status
    except BrokenPipeError:
        return 0
