#!/usr/bin/env python3
"""Compare the checker with herd7's results.

Usage:
  tools/litmus_conformance.py [--shared DIR] [--model lkmm]
      the kernel's tests of EXPECTED.tsv (verdicts as herd7 7.57 gives them);
      exit 1 if any test disagrees, 2 if the reference data is missing.
  tools/litmus_conformance.py --herd DIR
      every DIR/**/X.litmus that has an X.litmus.expected beside it (herd7's
      own output, e.g. herdtools7's catalogue/linux/tests): the whole herd7
      text must match (locations printed [x] by newer herd7 read as x; Time
      and Hash lines ignored).
  tools/litmus_conformance.py --results DIR [--timeout S] [--show N]
      every DIR/**/*.litmus against the "Result: Never|Sometimes|Always"
      line of its header comment (what the authors recorded, usually from
      herd7); tests with no such line are counted apart.  --timeout caps each
      check (default 60 s).

Prints one line per disagreement and a summary; reference files are read
in place.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmactors.memmodel import check, herd_text, parse_litmus  # noqa: E402
from mmactors.memmodel.budget import Budget, BudgetExceeded  # noqa: E402
from mmactors.memmodel.errors import LitmusError  # noqa: E402
from mmactors.memmodel.paths import agrees, expected_rows, litmus_dir  # noqa: E402

RESULT = re.compile(r"Result:\s*(Never|Sometimes|Always|DEADLOCK)", re.I)


def kernel_table(args) -> int:
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


def _herd_lines(text: str) -> list:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Time ", "Hash=")):
            continue
        out.append(re.sub(r"\[([A-Za-z_][\w]*)\]", r"\1", line))
    return out


def herd_dir(args) -> int:
    files = sorted(p for p in Path(args.herd).rglob("*.litmus")
                   if p.with_name(p.name + ".expected").is_file())
    if not files:
        print(f"litmus_conformance: no X.litmus with X.litmus.expected under {args.herd}",
              file=sys.stderr)
        return 2
    good = 0
    for p in files:
        want = _herd_lines(p.with_name(p.name + ".expected").read_text())
        try:
            got = _herd_lines(herd_text(check(parse_litmus(p), args.model)))
        except LitmusError as e:
            got = [f"error: {e}"]
        if got == want:
            good += 1
        else:
            w = next((l for l in want if l.startswith("Observation")), "?")
            g = next((l for l in got if l.startswith(("Observation", "error"))), "?")
            print(f"DIFFERS {p}: herd7 '{w}', checker '{g}'")
    print(f"{good}/{len(files)} identical to herd7's output")
    return 0 if good == len(files) else 1


def results_dir(args) -> int:
    files = sorted(Path(args.results).rglob("*.litmus"))
    tally: Counter = Counter()
    reasons: Counter = Counter()
    t_start = time.monotonic()
    slow = []
    for p in files:
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError):
            tally["refused"] += 1
            reasons["unreadable"] += 1
            continue
        m = RESULT.search(text)
        expected = m.group(1).capitalize() if m else None
        if expected == "Deadlock":
            expected = "DEADLOCK"
        t0 = time.monotonic()
        try:
            r = check(parse_litmus(text, path=str(p)), args.model,
                      budget=Budget(seconds=args.timeout))
        except BudgetExceeded:
            tally["unknown within budget"] += 1
            slow.append((args.timeout, p))
            continue
        except LitmusError as e:
            tally["refused"] += 1
            reasons[re.sub(r"'[^']*'", "'...'", e.message)[:70]] += 1
            continue
        dt = time.monotonic() - t0
        if dt > 1:
            slow.append((dt, p))
        if expected is None:
            tally["no Result line"] += 1
        elif agrees(expected, r.observation, r.positive, r.negative):
            tally["agree"] += 1
        else:
            tally["disagree"] += 1
            print(f"DISAGREE {p}: Result {expected}, checker {r.observation} "
                  f"{r.positive} {r.negative} {' '.join(r.flags)}")
    print(f"{len(files)} tests in {time.monotonic() - t_start:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    checkable = tally["agree"] + tally["disagree"]
    if checkable:
        print(f"agreement {tally['agree']}/{checkable} "
              f"({100 * tally['agree'] / checkable:.1f}%)")
    for reason, n in reasons.most_common(args.show):
        print(f"  refused {n:5d}: {reason}")
    for dt, p in sorted(slow, reverse=True)[:args.show]:
        print(f"  slow {dt:6.1f} s: {p}")
    return 0


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None,
                    help="the shared dir (default: <project>/../shared or $MMACTORS_SHARED)")
    ap.add_argument("--model", default="lkmm")
    ap.add_argument("--herd", metavar="DIR", help="compare with X.litmus.expected files")
    ap.add_argument("--results", metavar="DIR", help="compare with Result: comments")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--show", type=int, default=15, help="refusal reasons and slow tests shown")
    args = ap.parse_args(argv)
    if args.herd:
        return herd_dir(args)
    if args.results:
        return results_dir(args)
    return kernel_table(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
