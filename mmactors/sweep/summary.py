"""The one-screen summary of a sweep: one line per point, the metric's mean and
spread over the seeds, and where the CPUs waited."""
from __future__ import annotations

import math

__all__ = ["summarize", "format_summary"]

MAX_LINES = 40            # one screen; the rest is in the results table


def _top_wait(group) -> str:
    cols = [c for c in group.columns if c.startswith("lock.") and c.endswith(".waittime_total_ns")]
    waits = {c[5:-len(".waittime_total_ns")]: float(group[c].fillna(0).sum()) for c in cols}
    total = sum(waits.values())
    if not total:
        return ""
    cls = max(sorted(waits), key=lambda k: waits[k])
    return f"{cls} {waits[cls] / total:.0%}"


def summarize(df, keys: list, metric: str = "ops_per_us"):
    """A DataFrame with one row per point (in the sweep's order): seeds, mean,
    sd, min, max of ``metric``, failed runs, the top lock wait."""
    import pandas as pd
    if metric not in df.columns:
        raise KeyError(metric)
    out = []
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    for point, g in groups:
        point = point if isinstance(point, tuple) else (point,)
        vals = pd.to_numeric(g[metric], errors="coerce").dropna()
        rec = dict(zip(keys, point))
        rec.update(seeds=len(g), mean=vals.mean() if len(vals) else math.nan,
                   sd=vals.std(ddof=1) if len(vals) > 1 else math.nan,
                   min=vals.min() if len(vals) else math.nan,
                   max=vals.max() if len(vals) else math.nan,
                   failed=int((g["exit_status"] != 0).sum()), top_wait=_top_wait(g))
        out.append(rec)
    return pd.DataFrame(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(v)


def format_summary(summary, keys: list, metric: str) -> str:
    """Plain text columns (stable for tests and pipes; rich is for the bar)."""
    heads = list(keys) + ["seeds", f"{metric} mean", "sd", "min", "max"]
    has_failed = bool(len(summary)) and summary["failed"].any()
    if has_failed:
        heads.append("failed")
    heads.append("top lock wait")
    rows = []
    for _, r in summary.iterrows():
        cells = [_fmt(r[k]) for k in keys] + [str(r["seeds"]), _fmt(r["mean"]), _fmt(r["sd"]),
                                              _fmt(r["min"]), _fmt(r["max"])]
        if has_failed:
            cells.append(str(r["failed"]))
        cells.append(r["top_wait"])
        rows.append(cells)
    hidden = 0
    if len(rows) > MAX_LINES:
        hidden = len(rows) - MAX_LINES
        rows = rows[:MAX_LINES // 2] + [["..."] + [""] * (len(heads) - 1)] + rows[-MAX_LINES // 2:]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(heads)]
    lines = []
    for cells in [heads] + rows:
        # numbers right-aligned, the lock column left-aligned, last
        parts = [c.rjust(w) for c, w in zip(cells[:-1], widths[:-1])] + [cells[-1]]
        lines.append("  ".join(parts).rstrip())
    if hidden:
        lines.append(f"({hidden} points not shown; every row is in the results table)")
    return "\n".join(lines)
