#!/usr/bin/env python3
"""Sweep the lock-loop workload over CPU counts: simulated ticket and queued
spinlocks beside the Markov model of Boyd-Wickizer et al. (Linux Symposium 2012).

    python tools/lock_scaling.py [--think 20000] [--hold 400] [--c 100] [--jobs 2] [--plot out.png]

Prints acquisitions per microsecond; with matplotlib installed, also plots them.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmactors.sweep import lock_loop_throughput  # noqa: E402
from mmactors.theory import ticket_lock_throughput  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", default="1,2,4,8,16,24,32,40,48,56,64")
    ap.add_argument("--think", type=int, default=20000, help="a: mean think time, ns")
    ap.add_argument("--hold", type=int, default=400, help="s: serial section, ns")
    ap.add_argument("--c", type=int, default=100, help="c: line transfer, ns")
    ap.add_argument("--duration", type=int, default=20_000_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--plot", default="lock_scaling.png", help="PNG path (needs matplotlib)")
    a = ap.parse_args()
    ns = [int(x) for x in a.cpus.split(",")]
    kw = dict(think_ns=a.think, hold_ns=a.hold, line_transfer_ns=a.c, duration_ns=a.duration)
    t = lock_loop_throughput("ticket", ns, jobs=a.jobs, **kw)
    q = lock_loop_throughput("qspinlock", ns, jobs=a.jobs, **kw)
    m = {n: ticket_lock_throughput(n, a.think, a.hold, a.c) * 1000 for n in ns}
    print(f"acquisitions per us (a={a.think} ns, s={a.hold} ns, c={a.c} ns)")
    print(f"{'cpus':>5} {'model':>8} {'ticket':>8} {'ticket/model':>13} {'qspinlock':>10}")
    for n in ns:
        print(f"{n:>5} {m[n]:>8.3f} {t[n]:>8.3f} {t[n] / m[n]:>13.2f} {q[n]:>10.3f}")
    peak = max(t.values())
    print(f"ticket: peak {peak:.3f}/us at {max(t, key=t.get)} CPUs, "
          f"{t[ns[-1]] / peak:.0%} of peak at {ns[-1]}; "
          f"qspinlock at {ns[-1]}: {q[ns[-1]] / max(q.values()):.0%} of its best")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ns, [m[n] for n in ns], "k--", label="Markov model (ticket)")
    ax.plot(ns, [t[n] for n in ns], "o-", label="simulated ticket spinlock")
    ax.plot(ns, [q[n] for n in ns], "s-", label="simulated qspinlock")
    ax.set_xlabel("CPUs")
    ax.set_ylabel("acquisitions / us")
    ax.set_title("Non-scalable locks (Boyd-Wickizer et al. 2012)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.plot, dpi=110)
    print(f"plot: {a.plot}")


if __name__ == "__main__":
    main()
