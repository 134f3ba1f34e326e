#!/usr/bin/env python3
"""Engine speed against SimPy: simulated lock acquisitions per wall-clock
second in lock-scaling (line_transfer_ns = 100, think_ns = 20000,
hold_ns = 400, 20 ms of virtual time) for the ticket lock and the queued
spinlock, beside the same model written as a SimPy user would write it
(``../shared/bench/simpy_lock.py``), measured in the same process, runs
interleaved so that load on the host hits both alike.

    python tools/bench/engine.py [--cpus 64] [--repeat 5] [--big 1024]

Prints, per lock kind, the median and the best of ``--repeat`` runs of each
side and their ratio (goal: >= 1.0 at 64 CPUs), then the wall cost per
acquisition at ``--big`` CPUs against that at 64 (goal: <= 2x), and the floor
trio itself sets: the cost of one bare task switch (reschedule +
wait_task_rescheduled between two tasks) against SimPy's cost per
acquisition.  SimPy is a benchmark-only dependency (``pip install simpy``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import outcome  # noqa: E402
import trio  # noqa: E402

from mmactors import Machine, parse_scenario  # noqa: E402
from mmactors.sweep import lock_loop_scenario  # noqa: E402

SIMPY_MODEL = ROOT.parent / "shared" / "bench" / "simpy_lock.py"
DURATION = 20_000_000


def simpy_model():
    """Import ../shared/bench/simpy_lock.py, or exit with one line saying why not."""
    try:
        import simpy  # noqa: F401
    except ImportError:
        sys.exit("engine.py: the baseline needs SimPy: pip install simpy")
    if not SIMPY_MODEL.exists():
        sys.exit(f"engine.py: {SIMPY_MODEL}: the SimPy baseline model is missing")
    sys.path.insert(0, str(SIMPY_MODEL.parent))
    import simpy_lock
    return simpy_lock


def mmactors_run(lock: str, cpus: int, duration: int = DURATION):
    """(acquisitions per wall second, acquisitions, trio switches per acquisition)."""
    m = Machine(parse_scenario(lock_loop_scenario(lock, cpus, duration_ns=duration)),
                trace=False)
    t = time.perf_counter()
    res = m.run()
    dt = time.perf_counter() - t
    return res.ops / dt, res.ops, res.switches / max(res.ops, 1)


def trio_switch_ns(n: int = 100_000) -> float:
    """Wall ns of one hand-off between two trio tasks, as the engine does it."""
    abort = lambda _: trio.lowlevel.Abort.SUCCEEDED  # noqa: E731

    async def main():
        tasks, left = [None, None], [n]
        done = trio.Event()

        async def actor(i):
            tasks[i] = trio.lowlevel.current_task()
            if i:
                await trio.lowlevel.wait_task_rescheduled(abort)
            else:
                await trio.sleep(0.001)
            while left[0] > 0:
                left[0] -= 1
                trio.lowlevel.reschedule(tasks[1 - i], outcome.Value(None))
                await trio.lowlevel.wait_task_rescheduled(abort)
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor, 1)
            nursery.start_soon(actor, 0)
            await done.wait()
            nursery.cancel_scope.cancel()

    t = time.perf_counter()
    trio.run(main)
    return (time.perf_counter() - t - 0.001) / n * 1e9


def fmt(xs):
    return f"median {statistics.median(xs):>9,.0f}  best {max(xs):>9,.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--big", type=int, default=1024, help="CPU count of the scaling check")
    a = ap.parse_args()
    simpy_lock = simpy_model()
    simpy_cost = {}
    for lock in ("ticket", "qspinlock"):
        ours, theirs, sws = [], [], []
        for _ in range(a.repeat):             # interleaved: host load hits both alike
            rate, ops, sw = mmactors_run(lock, a.cpus)
            ours.append(rate)
            sws.append(sw)
            theirs.append(simpy_lock.run(a.cpus, lock, T=DURATION)[1])
        simpy_cost[lock] = 1e9 / statistics.median(theirs)
        print(f"{lock:>9} @ {a.cpus} CPUs  mmactors {fmt(ours)} acq/s ({ops:,} acq, "
              f"{statistics.median(sws):.2f} trio switches each)")
        print(f"{'':>9}              SimPy    {fmt(theirs)} acq/s")
        print(f"{'':>9}              ratio    median {statistics.median(ours) / statistics.median(theirs):.2f}"
              f"  best {max(ours) / max(theirs):.2f}  (goal >= 1.0)")
    if a.big:
        # A ticket lock at 1,024 CPUs hands over once per ~50 us (every waiter
        # re-reads the line): 100 ms of virtual time, so that the first pass of
        # every CPU through the lock weighs little against the steady state.
        for lock, dur in (("ticket", 5 * DURATION), ("qspinlock", DURATION)):
            small = [1e9 / mmactors_run(lock, a.cpus, dur)[0] for _ in range(3)]
            big = [1e9 / mmactors_run(lock, a.big, dur)[0] for _ in range(3)]
            print(f"{lock:>9} @ {a.big} CPUs  {statistics.median(big):,.0f} ns/acq against "
                  f"{statistics.median(small):,.0f} at {a.cpus}: "
                  f"{statistics.median(big) / statistics.median(small):.2f}x  (goal <= 2x)")
    sw = statistics.median(trio_switch_ns() for _ in range(3))
    print(f"trio floor: one task switch {sw:,.0f} ns; SimPy's whole acquisition "
          f"{simpy_cost['ticket']:,.0f} ns (ticket), {simpy_cost['qspinlock']:,.0f} ns (qspinlock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
