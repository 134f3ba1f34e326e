"""``mmactors litmus FILE_OR_DIR... [--model lkmm|tso|sc] [--json PATH|-]``.

Prints herd7-style results for each test (directories are searched
recursively for ``*.litmus``).  ``--json -`` prints a JSON array instead of
the text; ``--json PATH`` writes the array to PATH as well.  Bad input prints
``mmactors: FILE:LINE: message`` on stderr and makes the exit status 2.
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
    status = 0
    results = []
    to_stdout = args.json == "-"
    for f in _expand(args.paths):
        try:
            if not Path(f).is_file():
                raise LitmusError(f, 0, "no such file")
            result = check(parse_litmus(Path(f), f), args.model)
        except LitmusError as e:
            print(f"mmactors: {e}", file=sys.stderr)
            status = 2
            continue
        results.append(result)
        if not to_stdout:
            sys.stdout.write(herd_text(result) + "\n")
            sys.stdout.flush()
    if args.json is not None:
        text = dumps(results)
        if to_stdout:
            sys.stdout.write(text)
        else:
            try:
                Path(args.json).write_text(text)
            except OSError as e:
                print(f"mmactors: {args.json}:0: cannot write JSON: {e.strerror}", file=sys.stderr)
                status = 2
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
