#!/usr/bin/env python3
"""Benchmark the litmus checker.

Usage: tools/bench/litmus.py [--shared DIR] [--model lkmm|tso|sc] [--repeat N]
                             [--rings 8,12,16,19,20] [--dep-rings 8,16,20]
                             [--srcu-rings 7,8,12,16,19,20] [--lock3-seconds S]
                             [--rings-only] [--verbose]

Times, in this process (no interpreter start-up), checking:

* shipped:   the 20 tests of scenarios/litmus/;
* kernel:    the kernel's 47 tests listed in ../shared/litmus/EXPECTED.tsv
             (skipped when the shared data is absent);
* generated: the MP/LB/SB tests with marked and plain accesses of
             tests/memmodel/test_plain_family.py (641);
* lock:      a two-process lock hand-off with xchg_acquire() and
             smp_store_release() in the style of Manfred Spraul's ipc/sem
             tests (tests/memmodel/data/xchg-lock-handoff.litmus);
* lock-3:    the same hand-off with a third process (P2 a copy of P1,
             tests/memmodel/data/xchg-lock-handoff-3.litmus), which does
             not finish (41 million candidates): the candidate executions
             checked in --lock3-seconds (default 20), as candidates per
             CPU second, median and best of --repeat (0 skips it);
* ring-N:    for each N of --rings (default 8,12,16,19,20), the RCU rings
             "RCU-ring-N" of tests/memmodel/rings.py, one access each side
             of synchronize_rcu() or inside a read-side critical section,
             as herdtools' diy writes them: the forbidden shape (as many
             grace periods as readers, or one more) and the allowed one
             (one grace period fewer); 2**N candidate executions and as
             many final states each.
* dep-N:     LB rings of N processes whose links are data, address or
             control dependencies, as diy writes them (--dep-rings).
* srcu-N:    for each N of --srcu-rings, the SRCU rings "SRCU-ring-N" of
             tests/memmodel/rings.py: the RCU rings with synchronize_srcu(s)
             and srcu_read_lock(s)/srcu_read_unlock(s, r2) on one
             srcu_struct s, forbidden and allowed shapes; k readers give
             (k!)**2 orders of the struct's accesses per execution of the
             other locations (mmactors/memmodel/srcu.py counts them).
             Default 7,8,12,16,19,20: an odd ring's forbidden shape puts two
             grace periods side by side, where the struct's order can close
             the cycle; there srcu.OrderCounter counts, per execution, the
             orders that close none (SRCU-ring-19: 256 executions of nine
             readers' orders, the most expensive of these tests).

Each set is checked --repeat times (default 3); the median, min and max of
the set's total are printed (the machine is noisy: read the median; the
minimum is the best run), with the slowest test of the set.  A benchmark,
not a test: it never fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mmactors.memmodel import check, parse_litmus  # noqa: E402
from mmactors.memmodel.paths import expected_rows, litmus_dir  # noqa: E402


def shipped() -> list:
    d = ROOT / "scenarios" / "litmus"
    return [(p.stem, p.read_text()) for p in sorted(d.glob("*.litmus"))]


def kernel(shared) -> list:
    if not (litmus_dir(shared) / "EXPECTED.tsv").is_file():
        return []
    return [(name, path.read_text()) for name, _, path, _ in expected_rows(shared)]


def generated() -> list:
    from tests.memmodel.test_plain_family import CASES
    return [(text.split("\n", 1)[0][2:], text) for text, _, _ in CASES]


def lock() -> list:
    p = ROOT / "tests" / "memmodel" / "data" / "xchg-lock-handoff.litmus"
    return [(p.stem, p.read_text())]


def lock3(seconds: float, repeat: int) -> None:
    """The 3-process hand-off under a time budget: how far it gets."""
    from mmactors.memmodel.budget import Budget, BudgetExceeded
    p = ROOT / "tests" / "memmodel" / "data" / "xchg-lock-handoff-3.litmus"
    test = parse_litmus(p.read_text(), path=p.name)
    rates = []
    for _ in range(repeat):
        c0 = time.process_time()
        try:
            check(test, "lkmm", budget=Budget(seconds=seconds))
            done = None
        except BudgetExceeded as e:
            done = e.done
        cpu = time.process_time() - c0
        if done is None:
            print(f"lock-3     finished within {seconds:g} s ({cpu:.1f} CPU s)")
            return
        rates.append(done / cpu)
    print(f"lock-3        1 test   {statistics.median(rates):7.0f} candidates per CPU second "
          f"(best {max(rates):.0f}; {repeat} runs of {seconds:g} s; 41,115,600 to go)")
    sys.stdout.flush()


def ring(n: int) -> list:
    from tests.memmodel.rings import rcu_ring
    g = (n + 1) // 2        # the fewest grace periods that forbid the cycle
    return [(f"RCU-ring-{n}-forbidden", rcu_ring(n, g)),
            (f"RCU-ring-{n}-allowed", rcu_ring(n, g - 1))]


def dep_ring(n: int) -> list:
    from tests.memmodel.rings import ring as diy_ring
    return [(f"LB-data-{n}", diy_ring(["rf"] * n, ["data"] * n, name=f"LB-data-{n}")),
            (f"LB-addr-{n}", diy_ring(["rf"] * n, ["addr"] * n, name=f"LB-addr-{n}")),
            (f"LB-ctrl-{n}", diy_ring(["rf"] * n, ["ctrl"] * n, name=f"LB-ctrl-{n}"))]


def srcu_ring(n: int) -> list:
    from tests.memmodel.rings import srcu_ring as make
    g = (n + 1) // 2
    return [(f"SRCU-ring-{n}-forbidden", make(n, g)),
            (f"SRCU-ring-{n}-allowed", make(n, g - 1))]


def run_set(name: str, tests: list, model: str, repeat: int, verbose: bool) -> None:
    parsed = [(t, parse_litmus(text, path=f"{t}.litmus")) for t, text in tests]
    totals = []
    per_test: dict = {}
    for _ in range(repeat):
        total = 0.0
        for t, test in parsed:
            t0 = time.perf_counter()
            check(test, model)
            dt = time.perf_counter() - t0
            total += dt
            per_test.setdefault(t, []).append(dt)
        totals.append(total)
    slow_name, slow = max(((t, statistics.median(v)) for t, v in per_test.items()),
                          key=lambda x: x[1])
    if verbose:
        width = max(len(t) for t in per_test)
        for t, v in per_test.items():
            print(f"  {t:<{width}}  {statistics.median(v) * 1000:9.1f} ms"
                  f"  (best {min(v) * 1000:.1f})")
    print(f"{name:<10} {len(tests):4d} tests  median {statistics.median(totals):7.2f} s  "
          f"(min {min(totals):.2f}, max {max(totals):.2f}; {repeat} runs)  "
          f"slowest {slow_name} {slow * 1000:.0f} ms")
    sys.stdout.flush()


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--model", default="lkmm", choices=["lkmm", "tso", "sc"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rings", default="8,12,16,19,20",
                    help="processes of the RCU rings, comma-separated (default 8,12,16,19,20)")
    ap.add_argument("--dep-rings", default="8,16,20",
                    help="processes of the dependency rings, comma-separated (default 8,16,20)")
    ap.add_argument("--srcu-rings", default="7,8,12,16,19,20",
                    help="processes of the SRCU rings, comma-separated (default 7,8,12,16,19,20)")
    ap.add_argument("--lock3-seconds", type=float, default=20.0,
                    help="time budget of each run of the 3-process hand-off (0: skip it)")
    ap.add_argument("--rings-only", action="store_true",
                    help="skip the shipped, kernel, generated and lock sets")
    ap.add_argument("--verbose", action="store_true",
                    help="print every test's median and best time")
    args = ap.parse_args(argv)
    repeat = max(1, args.repeat)
    print(f"litmus checker, model {args.model}")
    if not args.rings_only:
        run_set("shipped", shipped(), args.model, repeat, args.verbose)
        k = kernel(args.shared)
        if k:
            run_set("kernel", k, args.model, repeat, args.verbose)
        else:
            print(f"kernel     (no EXPECTED.tsv under {litmus_dir(args.shared)}: skipped)")
        run_set("generated", generated(), args.model, repeat, args.verbose)
        run_set("lock", lock(), args.model, repeat, args.verbose)
        if args.lock3_seconds > 0 and args.model == "lkmm":
            lock3(args.lock3_seconds, repeat)
    for n in (int(x) for x in args.rings.split(",") if x):
        run_set(f"ring-{n}", ring(n), args.model, repeat, args.verbose)
    for n in (int(x) for x in args.dep_rings.split(",") if x):
        run_set(f"dep-{n}", dep_ring(n), args.model, repeat, args.verbose)
    for n in (int(x) for x in args.srcu_rings.split(",") if x):
        run_set(f"srcu-{n}", srcu_ring(n), args.model, repeat, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
