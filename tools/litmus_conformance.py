#!/usr/bin/env python3
"""Compare the LKMM checker with herd7's results listed in EXPECTED.tsv.

Usage: tools/litmus_conformance.py [--shared DIR] [--model lkmm]
Prints one row per test (name, expected, got, agree) and "N/M agree";
exits 1 if any test disagrees, 2 if the reference data is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmactors.memmodel import check, parse_litmus  # noqa: E402
from mmactors.memmodel.errors import LitmusError  # noqa: E402
from mmactors.memmodel.paths import agrees, expected_rows, litmus_dir  # noqa: E402


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None,
                    help="the shared dir (default: <project>/../shared or $MMACTORS_SHARED)")
    ap.add_argument("--model", default="lkmm")
    args = ap.parse_args(argv)
    d = litmus_dir(args.shared)
    if not (d / "EXPECTED.tsv").is_file():
        print(f"litmus_conformance: no EXPECTED.tsv under {d}", file=sys.stderr)
        return 2
    rows = expected_rows(args.shared)
    width = max(len(r[0]) for r in rows)
    print(f"{'name':<{width}}  {'expected':<9} {'got':<16} agree")
    good = 0
    for name, expected, path, _ in rows:
        try:
            r = check(parse_litmus(path), args.model)
            got = f"{r.observation} {r.positive} {r.negative}"
            ok = agrees(expected, r.observation, r.positive, r.negative)
        except LitmusError as e:
            got, ok = f"error: {e}", False
        good += ok
        print(f"{name:<{width}}  {expected:<9} {got:<16} {'yes' if ok else 'NO'}")
    print(f"{good}/{len(rows)} agree")
    return 0 if good == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
