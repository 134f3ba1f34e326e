#!/usr/bin/env python3
"""Record (or check) what every shipped scenario produces: the guard against
refactors and speed work changing behaviour by accident.

For each scenario under ``scenarios/`` the run is made as ``mmactors run``
makes it (its own seed and strategy, a trace), once with lockdep off and once
with lockdep on.  What is recorded is the sha256 of the ``--json`` document
without its ``"host"`` key (which holds wall time) and with the line numbers
of Python call sites taken out (``function (file.py:123)`` becomes
``function (file.py)``: lock_stat contention points and BUG reports name the
model's source lines, which move whenever the code is edited), the trace's
sha256 and the exit status.

    python tools/golden.py            # check against tests/data/golden.json
    python tools/golden.py --record   # re-record (say why in the commit)
    python tools/golden.py --diff DIR # also write each run's JSON to DIR

A deliberate change of the model re-records here, in one place; the test
``tests/test_golden.py`` then guards the new values.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOLDEN = ROOT / "tests" / "data" / "golden.json"
SCENARIOS = ROOT / "scenarios"


def scenario_paths() -> list[Path]:
    return sorted(SCENARIOS.rglob("*.toml"))


_PY_LINE = re.compile(r"(\.py):\d+\b")


def digest(json_text: str) -> str:
    """sha256 of a ``--json`` document's text, Python source lines taken out."""
    return hashlib.sha256(_PY_LINE.sub(r"\1", json_text).encode()).hexdigest()


def run_one(path: Path, lockdep: bool, result: bool = False):
    """(the record, the JSON document) of one run (and the RunResult)."""
    from mmactors.machine import Machine
    from mmactors.report.summary import dumps
    from mmactors.scenario import load_scenario
    from mmactors.testing import lockdep_enabled
    with lockdep_enabled(lockdep):
        res = Machine(load_scenario(path), trace=True).run()
    doc = res.to_json()
    doc.pop("host", None)
    rec = {"json_sha256": digest(dumps(doc)), "trace_sha256": res.trace_sha256,
           "exit_status": res.exit_status}
    return (rec, doc, res) if result else (rec, doc)


def key(path: Path, lockdep: bool) -> str:
    return f"{path.relative_to(SCENARIOS).as_posix()} lockdep={'on' if lockdep else 'off'}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", action="store_true", help="write tests/data/golden.json")
    ap.add_argument("--diff", metavar="DIR", help="write each run's JSON document to DIR")
    args = ap.parse_args(argv)
    old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    new, bad = {}, 0
    for p in scenario_paths():
        for ld in (False, True):
            rec, doc = run_one(p, ld)
            k = key(p, ld)
            new[k] = rec
            if args.diff:
                d = Path(args.diff)
                d.mkdir(parents=True, exist_ok=True)
                (d / (k.replace("/", "_").replace(" ", ".") + ".json")).write_text(
                    json.dumps(doc, indent=1, sort_keys=True))
            same = old.get(k) == rec
            bad += not same
            print(f"{'ok  ' if same else 'DIFF'} {k}", flush=True)
    if args.record:
        GOLDEN.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(new)} runs in {GOLDEN.relative_to(ROOT)}")
        return 0
    print(f"{bad} of {len(new)} runs differ from {GOLDEN.relative_to(ROOT)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
