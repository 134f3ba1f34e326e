#!/usr/bin/env python3
"""lib/locking-selftest.c's table, run through the simulator: ``  ok  `` where
lockdep agrees with the kernel's expectation, ``FAILED`` where it does not.

    python tools/locking_selftest.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmactors.lockdep.selftest import COLUMNS, cases  # noqa: E402
from mmactors.testing import run_selftest_case  # noqa: E402


def main(argv=None) -> int:
    """Print the kernel's table: ``  ok  `` where lockdep agrees with the
    kernel's expectation, ``FAILED`` where it does not."""
    rows: dict[str, dict[str, str]] = {}
    order: list[str] = []
    bad = total = 0
    for c in cases():
        got, _, _ = run_selftest_case(c)
        ok = got == c.expected
        total += 1
        bad += not ok
        if c.group not in rows:
            rows[c.group] = {}
            order.append(c.group)
        rows[c.group][c.column] = "  ok  " if ok else "FAILED"
    print("------------------------")
    print("| Locking API testsuite:")
    print("-" * 76)
    print(f"{'':33} |" + "|".join(f"{k:^6}" for k in COLUMNS) + "|")
    print("  " + "-" * 74)
    for g in order:
        cells = "|".join(rows[g].get(k, "      ") for k in COLUMNS)
        print(f"{g:>33}:{cells}|")
    print("-" * 55)
    if bad:
        print(f"BUG: {bad:3d} unexpected failures (out of {total:3d}) - debugging disabled! |")
    else:
        print(f"Good, all {total:3d} testcases passed! |")
    sys.stdout.flush()
    return 1 if bad else 0



if __name__ == "__main__":
    raise SystemExit(main())
