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
    python tools/bench/stepped_experiment.py --reclaim [--memory-mib 256 --size 6M
                                             --duration 200000000] [--repeat 3]

``--reclaim`` runs issue 12's reclaim rate run (``reclaim.py``'s scenario,
THP never) both ways instead: the same vmstat, and each mode's pages
reclaimed per wall second.
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


class _Nursery:
    """Stands in for the run's trio nursery: an actor spawned during the run
    (kswapd, a block-softirq handler, a forked child) becomes one more
    coroutine of the loop, first stepped when the baton reaches it."""

    def __init__(self, eng, coros):
        self.eng, self.coros = eng, coros

    def start_soon(self, fn, a, name=None):
        a.task = a.id
        self.coros[a.id] = self.eng._body(a)


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
        eng._nursery = _Nursery(eng, coros)
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
        for c in coros.values():          # the parked ones, as the nursery's cancel would
            c.close()
        eng._nursery = None
    finally:
        E._reschedule, E._wait_rescheduled = saved
    return sum(a.ops for a in eng.actors)


def reclaim_stepped(text: str):
    """reclaim.py's rate run, stepped: (wall seconds, vmstat)."""
    m = Machine(parse_scenario(text, "<bench>"), trace=False)
    eng = m.engine
    eng.run = lambda: (run_stepped(m), eng)[1]     # Machine.run collects as usual
    t = time.perf_counter()
    res = m.run()
    wall = time.perf_counter() - t
    if res.error is not None:
        raise SystemExit(res.error.report())
    return wall, res.extra["vmstat"]


def reclaim_main(a) -> int:
    """Issue 12's rate run (reclaim.py's scenario, THP never), default mode
    and stepped alternately: the same vmstat, and each mode's rate."""
    import reclaim
    text = reclaim.scenario(64, a.memory_mib, a.size, a.duration, sysctl=reclaim.THP_NEVER)
    rates = {"trio tasks": [], "engine-stepped": []}
    vms = []
    for _ in range(a.repeat):
        for mode, fn in (("trio tasks", reclaim.run), ("engine-stepped", reclaim_stepped)):
            wall, vm = fn(text)
            n = vm["pgsteal_kswapd"] + vm["pgsteal_direct"]
            rates[mode].append(n / wall)
            vms.append(vm)
    same = all(v == vms[0] for v in vms)
    print(f"usemem {a.size} x 64 CPUs on {a.memory_mib} MiB, THP never, {a.duration / 1e6:g} ms "
          f"({n:,} pages reclaimed, {vms[0]['pgfault']:,} faults; vmstat identical in every "
          f"run: {'yes' if same else 'NO'}):")
    for mode, r in rates.items():
        print(f"  {mode:>14}: median {statistics.median(r):,.0f} pages reclaimed/s, "
              f"best {max(r):,.0f}")
    print(f"  ratio stepped / trio tasks: "
          f"{statistics.median(rates['engine-stepped']) / statistics.median(rates['trio tasks']):.2f}")
    return 0 if same else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reclaim", action="store_true",
                    help="issue 12's reclaim rate run instead of lock-loop")
    ap.add_argument("--memory-mib", type=int, default=256)
    ap.add_argument("--size", default="6M")
    ap.add_argument("--duration", type=int, default=200_000_000)
    a = ap.parse_args()
    if a.reclaim:
        return reclaim_main(a)
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
