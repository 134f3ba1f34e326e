"""/proc/lock_stat: the lock classes' figures as the kernel prints them."""
from __future__ import annotations

from ..sync.lockstat import LOCKSTAT_POINTS, LockRegistry

__all__ = ["format_lock_stat"]


def _us(ns) -> str:
    # lock_stat prints times in microseconds with two decimals.
    return f"{ns / 1000:.2f}"


# (header, value of a LockStatistics) for every column of /proc/lock_stat.
_COLUMNS = (
    ("con-bounces", lambda s: str(s.con_bounces)),
    ("contentions", lambda s: str(s.contentions)),
    ("waittime-min", lambda s: _us(s.waittime_min_ns)),
    ("waittime-max", lambda s: _us(s.waittime_max_ns)),
    ("waittime-total", lambda s: _us(s.waittime_total_ns)),
    ("waittime-avg", lambda s: _us(s.waittime_avg_ns)),
    ("acq-bounces", lambda s: str(s.acq_bounces)),
    ("acquisitions", lambda s: str(s.acquisitions)),
    ("holdtime-min", lambda s: _us(s.holdtime_min_ns)),
    ("holdtime-max", lambda s: _us(s.holdtime_max_ns)),
    ("holdtime-total", lambda s: _us(s.holdtime_total_ns)),
    ("holdtime-avg", lambda s: _us(s.holdtime_avg_ns)),
)
# What a narrow terminal keeps, most wanted first.
_NARROW = ("contentions", "waittime-total", "acquisitions", "holdtime-total", "waittime-avg",
           "holdtime-avg", "con-bounces", "acq-bounces", "waittime-max", "holdtime-max",
           "waittime-min", "holdtime-min")


def format_lock_stat(registry: LockRegistry, top: int | None = None,
                     points: bool = True, width: int | None = None) -> str:
    """Render like /proc/lock_stat (version 0.4), classes by contentions.

    ``width``: fit that many columns (a terminal) by keeping the most useful
    columns, narrower; None prints the kernel's full layout."""
    rows = registry.rows()
    rows.sort(key=lambda r: (-r[1].contentions, -r[1].acquisitions, r[0]))
    if top is not None:
        rows = rows[:top]
    w0 = max([40] + [len(n) + 1 for n, _ in rows])
    cols = list(_COLUMNS)
    cw = 14
    if width is not None:
        w0 = max([16] + [len(n) + 1 for n, _ in rows])
        cw = max([len(h) for h, _ in cols] + [len(f(st)) for _, st in rows for _, f in cols]) + 1
        keep = []
        for h in _NARROW:
            if w0 + (len(keep) + 1) * (cw + 1) > width and keep:
                break
            keep.append(h)
        cols = [c for c in cols if c[0] in keep]
    head = f"{'class name':>{w0}} " + " ".join(f"{h:>{cw}}" for h, _ in cols)
    bar = "-" * len(head)
    out = ["lock_stat version 0.4"
           + ("" if len(cols) == len(_COLUMNS) else " (narrowed to the terminal: --wide "
              "or --json for every column)"), bar, head, bar]
    waiting = held = 0
    for name, s in rows:
        waiting += s.waiting_at_end
        held += s.held_at_end
        out.append(f"{name + ':':>{w0}} " + " ".join(f"{f(s):>{cw}}" for _, f in cols))
        if points and s.contention_points:
            base = name.rsplit("-", 1)[0] if name.endswith(("-W", "-R")) else name
            out.append(f"{'-' * 15:>{w0}}")
            for site, n in s.contention_points[:LOCKSTAT_POINTS]:
                out.append(f"{base:>{w0}} {n:>{cw}} [{site}]")
            if s.contending_points:
                out.append(f"{'-' * 15:>{w0}}")
                for site, n in s.contending_points[:LOCKSTAT_POINTS]:
                    out.append(f"{base:>{w0}} {n:>{cw}} [{site}]")
            out.append("")
    out.append(bar)
    if waiting or held:
        out.append(f"at the end of the run {waiting} wait{'s' if waiting != 1 else ''} and "
                   f"{held} hold{'s' if held != 1 else ''} were in progress: counted in "
                   "contention points, con-bounces and acq-bounces, not yet in contentions "
                   "and acquisitions (as the kernel counts them)")
    return "\n".join(out)
