"""``mmactors litmus FILE_OR_DIR... [--model lkmm|tso|sc] [--json PATH|-]
[--run N | --exhaustive] [--seed S] [--timeout SECONDS] [--max-executions N]``.

Prints herd7-style results for each test (directories are searched
recursively for ``*.litmus``).  ``--json -`` prints a JSON array instead of
the text; ``--json PATH`` writes the array to PATH as well.

``--run N`` also *executes* each test on the engine, its processes as
actors under the operational model of ``--model`` (store buffers for tso,
propagation for lkmm), over N schedules (random and PCT strategies, seeds
S, S+1, ...); ``--exhaustive`` explores every schedule instead (stateless
search with sleep sets; ``--run N`` then caps it).  One more line per test
says which allowed states the runs reached; a reached state the checker
forbids is printed with its replay token.

Budgets: ``--timeout SECONDS`` caps each test's check, and again its
operational runs; ``--max-executions N`` caps the candidate executions a
check examines.  A check cut by its budget prints ``Test NAME: unknown
within budget (...)`` instead of a verdict; cut runs say so on their line.
On a terminal, anything that takes more than a second shows a status line
on stderr.

Exit status: 0 all checked; 1 a reached state the checker forbids, or an
internal error of the checker; 2 bad input (one line on stderr,
``mmactors: FILE:LINE: message``); 3 some result unknown within the
budget; 130 interrupted (Ctrl-C: the output so far is kept, and one line
says where it stopped).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .budget import Budget, BudgetExceeded
from .check import CheckerDefect, check
from .errors import LitmusError
from .litmus import parse_litmus
from .models import MODELS
from .output import dumps, herd_text

EXIT_FORBIDDEN = 1
EXIT_BAD_INPUT = 2
EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line and exit status 2, as for every other bad input.
        self.exit(EXIT_BAD_INPUT, f"mmactors litmus: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mmactors litmus",
                description="Check C litmus tests against a memory model.")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--model", choices=list(MODELS), default="lkmm")
    p.add_argument("--json", metavar="PATH|-", default=None,
                   help="write results as a JSON array to PATH ('-' for stdout)")
    p.add_argument("--run", type=int, metavar="N", default=None,
                   help="also run each test on the engine over N schedules under the "
                        "operational model")
    p.add_argument("--exhaustive", action="store_true",
                   help="run every schedule (an exhaustive search; --run N caps it)")
    p.add_argument("--seed", type=int, default=1, help="first seed of --run (default 1)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", default=None,
                   help="give up a test's check (and, separately, its runs) after this "
                        "long: the result is 'unknown within budget'")
    p.add_argument("--max-executions", type=int, metavar="N", default=None,
                   help="give up a check after examining N candidate executions")
    return p


class _Status:
    """A one-line status on stderr, shown only on a terminal and only once
    the current step has taken more than a second."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False
        self.t0 = time.monotonic()
        self.last = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.t0 < 1.0 or now - self.last < 0.2:
            return
        self.last = now
        sys.stderr.write("\r\x1b[K" + text[:200])
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _expand(paths: list) -> list:
    """Files to check; a directory with no *.litmus is bad input."""
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.litmus"))
            if not found:
                raise LitmusError(p, None, "no litmus tests (*.litmus) in this directory")
            out.extend(found)
        else:
            out.append(p)
    return out


class _Where:
    """How far the run got, for the message after Ctrl-C."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.file = ""
        self.phase = "starting"
        self.steps = 0


def main(argv: list) -> int:
    args = _parser().parse_args(argv)
    if args.run is not None and args.run < 1:
        print("mmactors litmus: error: --run needs N >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    for name in ("timeout", "max_executions"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            flag = "--" + name.replace("_", "-")
            print(f"mmactors litmus: error: {flag} needs a positive value", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        files = _expand(args.paths)
    except LitmusError as e:
        print(f"mmactors: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    results: list = []
    operational: list = []
    where = _Where(len(files))
    status = _Status()
    try:
        code = _check_all(args, files, results, operational, where, status)
    except KeyboardInterrupt:
        status.clear()
        sys.stdout.flush()
        how_far = f", {where.steps} {where.phase}" if where.steps else ""
        print(f"mmactors: interrupted while checking {where.file} "
              f"(test {where.index} of {where.total}{how_far}); "
              f"{len(results)} test(s) done", file=sys.stderr)
        _write_json(args, results, operational)
        return EXIT_INTERRUPTED
    status.clear()
    json_code = _write_json(args, results, operational)
    return max(code, json_code)


def _check_all(args, files, results, operational, where, status) -> int:
    code = 0
    to_stdout = args.json == "-"
    budget = None
    if args.timeout is not None or args.max_executions is not None:
        budget = Budget(seconds=args.timeout, count=args.max_executions)
    run_budget = Budget(seconds=args.timeout) if args.timeout is not None else None

    def check_progress(meter):
        where.steps = meter.steps
        x = meter.extra
        status.update(f"{x['test']}: {meter.steps:,} candidate executions, "
                      f"{x['allowed']:,} allowed, {x['states']:,} states, "
                      f"{meter.elapsed:.0f} s")

    def run_progress(meter):
        where.steps = meter.steps
        x = meter.extra
        status.update(f"{x['test']}: {meter.steps:,} schedules, reached {x['reached']} of "
                      f"{x['allowed']} allowed states, {meter.elapsed:.0f} s")

    for i, f in enumerate(files, 1):
        where.index, where.file, where.steps = i, f, 0
        where.phase = "candidate executions examined"
        status.start()
        try:
            if not Path(f).is_file():
                raise LitmusError(f, None, "no such file")
            test = parse_litmus(Path(f), f)
            result = check(test, args.model, budget=budget, progress=check_progress)
        except CheckerDefect as e:
            status.clear()
            print(f"mmactors: {e}", file=sys.stderr)
            code = max(code, EXIT_FORBIDDEN)
            continue
        except LitmusError as e:
            status.clear()
            print(f"mmactors: {e}", file=sys.stderr)
            code = max(code, EXIT_BAD_INPUT)
            continue
        except RecursionError:
            status.clear()
            print(f"mmactors: {f}: test too deeply nested to check", file=sys.stderr)
            code = max(code, EXIT_BAD_INPUT)
            continue
        except BudgetExceeded as e:
            status.clear()
            limit = (f"{args.timeout:g} s" if e.what == "time"
                     else f"{args.max_executions} candidate executions")
            text = (f"Test {test.name}: unknown within budget ({limit}: {e.done} candidate "
                    f"executions examined in {e.elapsed:.1f} s)\n")
            if not to_stdout:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            results.append({"name": test.name, "model": args.model, "verdict": "unknown",
                            "budget": limit, "examined": e.done})
            operational.append(None)
            code = max(code, EXIT_UNKNOWN)
            continue
        ex = None
        if args.run is not None or args.exhaustive:
            from .runner import explore_litmus
            where.phase = "schedules run"
            where.steps = 0
            status.start()
            try:
                ex = explore_litmus(test, args.model, schedules=args.run or 1000,
                                    exhaustive=args.exhaustive, limit=args.run,
                                    seed=args.seed, result=result, budget=run_budget,
                                    progress=run_progress)
            except LitmusError as e:
                status.clear()
                print(f"mmactors: {e}", file=sys.stderr)
                code = max(code, EXIT_BAD_INPUT)
                continue
        status.clear()
        results.append(result)
        operational.append(ex)
        if ex is not None and ex.forbidden:
            code = max(code, EXIT_FORBIDDEN)
        if ex is not None and ex.stopped:
            code = max(code, EXIT_UNKNOWN)
        if not to_stdout:
            text = herd_text(result)
            if ex is not None:
                text += _operational_text(ex)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    return code


def _write_json(args, results: list, operational: list) -> int:
    if args.json is None:
        return 0
    text = dumps(results)
    if any(ex is not None for ex in operational):
        import json
        docs = json.loads(text)
        for d, ex in zip(docs, operational):
            if ex is not None:
                d["operational"] = _operational_json(ex)
        text = json.dumps(docs, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(args.json).write_text(text)
    except OSError as e:
        print(f"mmactors: {args.json}: cannot write JSON: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _operational_text(ex) -> str:
    from .check import format_state
    lines = [ex.summary()]
    missing = _sorted_states(ex.allowed - set(ex.reached))
    if missing and ex.model != "lkmm" and not ex.stopped:
        for st in missing:
            lines.append(f"  not reached: {format_state(ex.locations, st)}")
    for st, token in ex.forbidden.items():
        lines.append(f"  FORBIDDEN: {format_state(ex.locations, st)} "
                     f"replay:{token}")
    return "\n".join(lines) + "\n"


def _sorted_states(states) -> list:
    from .check import _value_key
    return sorted(states, key=lambda st: tuple(_value_key(v) for v in st))


def _operational_json(ex) -> dict:
    from .check import format_value

    def state(st):
        return {str(loc): (v if isinstance(v, int) else format_value(v))
                for loc, v in zip(ex.locations, st)}
    return {"model": ex.model, "schedules": ex.runs, "exhaustive": ex.exhaustive,
            "pruned": ex.pruned, "deadlocks": ex.deadlocks,
            "stopped_by_budget": ex.stopped,
            "reached": [state(st) for st in _sorted_states(ex.reached)],
            "allowed_not_reached": [state(st) for st in
                                    _sorted_states(ex.allowed - set(ex.reached))],
            "forbidden": [dict(state(st), replay_token=tok) for st, tok in ex.forbidden.items()]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
