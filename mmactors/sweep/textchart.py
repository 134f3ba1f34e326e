"""``mmactors plot`` without ``-o``: the points of :func:`.plot.aggregate` as a
plain-ASCII chart for a terminal (no dependency beyond the core: a quick look
over ssh needs no matplotlib).  Hand-written rather than plotext: the chart is
a few dozen lines, exact cell placement is testable (:func:`cell`), and the
output is plain text that pipes and diffs.
"""
from __future__ import annotations

import math

from .plot import PlotSpec, _is_num, _label, model_curve

__all__ = ["text_chart", "cell", "MARKERS"]

MARKERS = "o*x+#@%&"                      # one per hue, in order


def _fmt(v: float) -> str:
    if v == 0 or math.isnan(v):
        return "0" if v == 0 else "-"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.3g}"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def text_chart(points, spec: PlotSpec, *, width: int = 64, height: int = 16) -> str:
    """A plain-ASCII chart: per facet a grid ``width`` x ``height`` where
    each point is its hue's marker at (x, mean) and the spread a column of
    ``:`` from lo to hi; y labels on the left, the x values below, a legend.
    A marker's cell is computed as :func:`cell` says (tests use it)."""
    facets = list(dict.fromkeys(points["col"])) if spec.col else [None]
    out = []
    for facet in facets:
        pf = points[points["col"] == facet] if spec.col else points
        if spec.col:
            out.append(f"{spec.col}={_label(facet)}")
        out.extend(_panel(pf, spec, width, height))
        out.append("")
    hues = list(dict.fromkeys(points["hue"])) if spec.hue else [None]
    legend = "   ".join(f"{MARKERS[i % len(MARKERS)]} {spec.hue}={_label(h)}" if spec.hue
                        else f"{MARKERS[0]} {spec.y_label}" for i, h in enumerate(hues))
    band = {"minmax": ": min..max over seeds", "sd": ": mean +- 1 sd", "none": ""}[spec.spread]
    if spec.model:
        legend += "   - " + model_curve(spec.model, [1])[0]
    out.append(legend + (f"   {band}" if band else ""))
    out.append(f"y: {spec.y_label}" + (" (log)" if spec.logy else "")
               + f"; x: {spec.x}" + (" (log)" if spec.logx else ""))
    return "\n".join(out)


class _Scale:
    def __init__(self, lo, hi, n, log):
        self.log = log and lo > 0
        f = math.log if self.log else float
        self.lo, self.hi, self.n = f(lo), f(hi), n
        if self.hi == self.lo:
            self.lo, self.hi = self.lo - 1, self.hi + 1
        self.f = f

    def __call__(self, v) -> int:
        return round((self.f(v) - self.lo) / (self.hi - self.lo) * (self.n - 1))


def cell(points, spec: PlotSpec, width: int, height: int):
    """(x scale, y scale, x positions): the functions that place a point."""
    numeric = all(_is_num(v) for v in points["x"])
    cats = None if numeric else list(dict.fromkeys(points["x"]))
    ys = list(points["lo"]) + list(points["hi"]) + list(points["mean"])
    if spec.model:
        ys += model_curve(spec.model, list(points["x"]))[2]
    if spec.logy:
        ys = [v for v in ys if v > 0] or [1.0]
    ysc = _Scale(min(ys), max(ys), height, spec.logy)
    if numeric:
        xsc = _Scale(min(points["x"]), max(points["x"]), width, spec.logx)
        xpos = xsc
    else:
        def xpos(v):
            return round(cats.index(v) * (width - 1) / max(1, len(cats) - 1)) \
                if len(cats) > 1 else width // 2
    return xpos, ysc


def _panel(pf, spec, width, height) -> list[str]:
    xpos, ysc = cell(pf, spec, width, height)
    grid = [[" "] * width for _ in range(height)]
    hues = list(dict.fromkeys(pf["hue"])) if spec.hue else [None]
    if spec.model:
        _, mx, my = model_curve(spec.model, sorted(set(pf["x"])))
        for x, y in zip(mx, my):
            if y > 0 or not spec.logy:
                grid[height - 1 - ysc(y)][xpos(x)] = "-"
    for i, h in enumerate(hues):               # bands first, markers on top
        ph = pf[pf["hue"] == h] if spec.hue else pf
        for x, lo, hi in zip(ph["x"], ph["lo"], ph["hi"]):
            if spec.logy and lo <= 0:
                continue
            c = xpos(x)
            for r in range(ysc(lo), ysc(hi) + 1):
                if grid[height - 1 - r][c] == " ":
                    grid[height - 1 - r][c] = ":"
    for i, h in enumerate(hues):
        ph = pf[pf["hue"] == h] if spec.hue else pf
        for x, m in zip(ph["x"], ph["mean"]):
            if spec.logy and m <= 0:
                continue
            grid[height - 1 - ysc(m)][xpos(x)] = MARKERS[i % len(MARKERS)]
    top = ysc.hi if not ysc.log else math.exp(ysc.hi)
    bot = ysc.lo if not ysc.log else math.exp(ysc.lo)
    mid = (top + bot) / 2 if not ysc.log else math.sqrt(top * bot)
    labels = {0: _fmt(top), height // 2: _fmt(mid), height - 1: _fmt(bot)}
    lw = max(len(s) for s in labels.values())
    lines = [f"{labels.get(r, ''):>{lw}} |" + "".join(row).rstrip() for r, row in enumerate(grid)]
    lines.append(" " * lw + " +" + "-" * width)
    # x labels: each distinct x under its column, left to right, where they fit
    axis = [" "] * (width + 12)
    last = -2
    for x in list(dict.fromkeys(pf["x"])):
        s, c = _label(x), xpos(x)
        start = max(0, min(c - len(s) // 2, len(axis) - len(s)))
        if start > last + 1:
            axis[start:start + len(s)] = s
            last = start + len(s) - 1
    lines.append(" " * (lw + 2) + "".join(axis).rstrip())
    return lines
