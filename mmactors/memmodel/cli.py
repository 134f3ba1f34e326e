"""``mmactors litmus FILE_OR_DIR... [--model lkmm|tso|sc] [--json PATH|-]
[--run N | --exhaustive] [--seed S]``.

Prints herd7-style results for each test (directories are searched
recursively for ``*.litmus``).  ``--json -`` prints a JSON array instead of
the text; ``--json PATH`` writes the array to PATH as well.  Bad input prints
``mmactors: FILE:LINE: message`` on stderr and makes the exit status 2.

``--run N`` also *executes* each test on the engine, its processes as
actors under the operational model of ``--model`` (store buffers for tso,
propagation for lkmm), over N schedules (random and PCT strategies, seeds
S, S+1, ...); ``--exhaustive`` explores every schedule instead (stateless
search with sleep sets; ``--run N`` then caps it).  One more line per test
says which allowed states the runs reached; a reached state the checker
forbids is printed with its replay token and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .check import check
from .errors import LitmusError
from .litmus import parse_litmus
from .models import MODELS
from .output import dumps, herd_text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmactors litmus",
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
    return p


def _expand(paths: list) -> list:
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(str(f) for f in path.rglob("*.litmus")))
        else:
            out.append(p)
    return out


def main(argv: list) -> int:
    args = _parser().parse_args(argv)
    if args.run is not None and args.run < 1:
        print("mmactors litmus: error: --run needs N >= 1", file=sys.stderr)
        return 2
    status = 0
    results = []
    operational = []
    to_stdout = args.json == "-"
    for f in _expand(args.paths):
        try:
            if not Path(f).is_file():
                raise LitmusError(f, None, "no such file")
            test = parse_litmus(Path(f), f)
            result = check(test, args.model)
            ex = None
            if args.run is not None or args.exhaustive:
                from .runner import explore_litmus
                ex = explore_litmus(test, args.model, schedules=args.run or 1000,
                                    exhaustive=args.exhaustive, limit=args.run,
                                    seed=args.seed)
        except LitmusError as e:
            print(f"mmactors: {e}", file=sys.stderr)
            status = 2
            continue
        results.append(result)
        operational.append(ex)
        if ex is not None and ex.forbidden:
            status = max(status, 1)
        if not to_stdout:
            text = herd_text(result)
            if ex is not None:
                text += _operational_text(ex)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    if args.json is not None:
        text = dumps(results)
        if any(ex is not None for ex in operational):
            import json
            docs = json.loads(text)
            for d, ex in zip(docs, operational):
                if ex is not None:
                    d["operational"] = _operational_json(ex)
            text = json.dumps(docs, indent=2) + "\n"
        if to_stdout:
            sys.stdout.write(text)
        else:
            try:
                Path(args.json).write_text(text)
            except OSError as e:
                print(f"mmactors: {args.json}: cannot write JSON: {e.strerror}", file=sys.stderr)
                status = 2
    return status


def _operational_text(ex) -> str:
    from .check import format_state
    lines = [ex.summary()]
    missing = _sorted_states(ex.allowed - set(ex.reached))
    if missing and ex.model != "lkmm":
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
            "reached": [state(st) for st in _sorted_states(ex.reached)],
            "allowed_not_reached": [state(st) for st in
                                    _sorted_states(ex.allowed - set(ex.reached))],
            "forbidden": [dict(state(st), replay_token=tok) for st, tok in ex.forbidden.items()]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
