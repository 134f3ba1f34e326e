"""/proc/lock_stat: the lock classes' figures as the kernel prints them."""
from __future__ import annotations

from ..sync.lockstat import LOCKSTAT_POINTS, LockRegistry

__all__ = ["format_lock_stat"]


def _us(ns) -> str:
    # lock_stat prints times in microseconds with two decimals.
    return f"{ns / 1000:.2f}"


def format_lock_stat(registry: LockRegistry, top: int | None = None,
                     points: bool = True) -> str:
    """Render like /proc/lock_stat (version 0.4), classes by contentions."""
    rows = registry.rows()
    rows.sort(key=lambda r: (-r[1].contentions, -r[1].acquisitions, r[0]))
    if top is not None:
        rows = rows[:top]
    cols = ("class name", "con-bounces", "contentions", "waittime-min", "waittime-max",
            "waittime-total", "waittime-avg", "acq-bounces", "acquisitions",
            "holdtime-min", "holdtime-max", "holdtime-total", "holdtime-avg")
    w0 = max([40] + [len(n) + 1 for n, _ in rows])
    head = f"{cols[0]:>{w0}} " + " ".join(f"{c:>14}" for c in cols[1:])
    bar = "-" * len(head)
    out = ["lock_stat version 0.4", bar, head, bar]
    for name, s in rows:
        out.append(
            f"{name + ':':>{w0}} "
            f"{s.con_bounces:>14} {s.contentions:>14} {_us(s.waittime_min_ns):>14} "
            f"{_us(s.waittime_max_ns):>14} {_us(s.waittime_total_ns):>14} "
            f"{_us(s.waittime_avg_ns):>14} {s.acq_bounces:>14} {s.acquisitions:>14} "
            f"{_us(s.holdtime_min_ns):>14} {_us(s.holdtime_max_ns):>14} "
            f"{_us(s.holdtime_total_ns):>14} {_us(s.holdtime_avg_ns):>14}")
        if points and s.contention_points:
            base = name.rsplit("-", 1)[0] if name.endswith(("-W", "-R")) else name
            out.append(f"{'-' * 15:>{w0}}")
            for site, n in s.contention_points[:LOCKSTAT_POINTS]:
                out.append(f"{base:>{w0}} {n:>14} [{site}]")
            if s.contending_points:
                out.append(f"{'-' * 15:>{w0}}")
                for site, n in s.contending_points[:LOCKSTAT_POINTS]:
                    out.append(f"{base:>{w0}} {n:>14} [{site}]")
            out.append("")
    out.append(bar)
    return "\n".join(out)
