#!/usr/bin/env python3
"""An experiment behind issue 15's design proposal, not a mode of mmactors.

The same model code (engine, locks, lock-loop workload) with the engine
stepping the actors' coroutines itself -- ``coro.send()`` from one loop, as
SimPy steps its generators -- instead of handing the baton through trio's
scheduler (one trio task per actor, one scheduler pass per hand-off).  The
run is the same run: the same acquisitions, decided in the same order.  It
measures what trio's scheduler costs the default mode and what the model's
own Python costs, each against the SimPy model of ``../shared/bench``.

It patches two module globals of mmactors._core.engine (the hand-off and the
wait) for the rest of its process: run it on its own.

    python tools/bench/stepped_experiment.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mmactors._core.engine as E  # noqa: E402
from engine import DURATION, mmactors_run, simpy_model  # noqa: E402
from mmactors import Machine, parse_scenario  # noqa: E402
from mmactors.sweep import lock_loop_scenario  # noqa: E402


@types.coroutine
def _yield_to_stepper():
    yield None


class _Event:
    def set(self):
        pass


def run_stepped(m: Machine) -> int:
    """Run ``m`` with its actors stepped by this loop; return the acquisitions."""
    eng = m.engine
    saved = E._reschedule, E._wait_rescheduled
    E._reschedule = lambda task, value: None               # the baton is eng.current
    E._wait_rescheduled = lambda abort: _yield_to_stepper()
    try:
        coros = {a.id: eng._body(a) for a in eng.actors}
        for a in eng.actors:
            a.task = a.id
        eng._done = _Event()
        eng._initial = eng._live = len(eng.actors)
        heapq.heappush(eng._heap, (eng.duration_ns, -1, -1, None))
        eng.strategy.start(eng)
        eng._dispatch(None)
        while not eng.finished:
            try:
                coros[eng.current.id].send(None)
            except StopIteration:
                pass
    finally:
        E._reschedule, E._wait_rescheduled = saved
    return sum(a.ops for a in eng.actors)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    simpy_lock = simpy_model()
    for lock in ("ticket", "qspinlock"):
        trio_r, stepped, sp = [], [], []
        for _ in range(a.repeat):
            trio_r.append(mmactors_run(lock, 64)[0])
            m = Machine(parse_scenario(lock_loop_scenario(lock, 64, duration_ns=DURATION)),
                        trace=False)
            t = time.perf_counter()
            ops = run_stepped(m)
            stepped.append(ops / (time.perf_counter() - t))
            sp.append(simpy_lock.run(64, lock, T=DURATION)[1])
        base = statistics.median(sp)
        print(f"{lock:>9} @ 64 CPUs ({ops:,} acquisitions): trio tasks "
              f"{statistics.median(trio_r):,.0f}/s (ratio {statistics.median(trio_r) / base:.2f}), "
              f"engine-stepped {statistics.median(stepped):,.0f}/s "
              f"(ratio {statistics.median(stepped) / base:.2f}), SimPy {base:,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
