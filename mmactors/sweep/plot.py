"""Plots of a results table: a metric against a swept key, one line per value
of another key, the spread over seeds as a band.

    mmactors plot RESULTS --x machine.cpus --y ops_per_us --hue workload.0.lock -o out.svg

The data of a plot is :func:`aggregate`: the rows grouped by (facet, hue,
x), ``y`` (divided by the ``per`` column if given, row by row) averaged over
the seeds, with the spread.  The spread is ``minmax`` (the default: the band
runs from the smallest to the largest seed's value, so every run is inside
it; with 3 to 10 seeds a standard deviation says little), ``sd`` (mean
plus and minus one sample standard deviation) or ``none``.  Both renderings,
the matplotlib figure (:func:`figure`, PNG/SVG/PDF) and the text chart
(``textchart.text_chart``, for a terminal), draw exactly those points, so a test
can compare either with pandas' own groupby.

Determinism.  The same rows give the same file, byte for byte: the Agg
backend, DejaVu Sans (shipped with matplotlib) at fixed sizes, glyphs as
paths, a fixed ``svg.hashsalt`` (SVG element ids), and no date or software
version in the file's metadata.  Everything runs inside ``rc_context``, so
a notebook's own matplotlib settings are left as they were.

Rows whose run failed (``exit_status`` != 0: a deadlock, a lockdep report)
are left out of the means unless ``include_failed``: their figures stop
where the run stopped.  Rows of older mmactors code under the same results
directory are left out too (``read_results(latest=True)``), since points
made by different models must not be averaged together.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

__all__ = ["plot", "PlotSpec", "PlotError", "aggregate", "figure", "save", "load_rows",
           "check_spec", "model_curve", "file_format", "MatplotlibMissing", "FORMATS", "SPREADS"]

SPREADS = ("minmax", "sd", "none")
FORMATS = ("png", "svg", "pdf")
_MPL_MARKERS = "osD^v<>p"
_INSTALL = "pip install 'mmactors[plot]'"


class PlotError(ValueError):
    """A bad plot request (unknown column, non-numeric metric, ...): one line, exit 2."""


class MatplotlibMissing(PlotError):
    """Writing a file needs matplotlib, which is an optional dependency."""


@dataclass
class PlotSpec:
    x: str
    y: str
    hue: str | None = None
    col: str | None = None                # facets: one panel per value
    per: str | None = None                # y / this column, row by row (e.g. machine.cpus)
    where: list = field(default_factory=list)   # [(column, value)]: keep rows equal to it
    spread: str = "minmax"
    logx: bool = False
    logy: bool = False
    title: str | None = None
    xlabel: str | None = None
    ylabel: str | None = None
    model: str | None = None              # "markov:a=NS,s=NS,c=NS" (theory.py)
    include_failed: bool = False

    @property
    def y_label(self) -> str:
        if self.ylabel:
            return self.ylabel
        return f"{self.y} per {self.per}" if self.per else self.y


# ---------------------------------------------------------------- the data

def load_rows(path, *, all_versions: bool = False):
    """The rows of a results directory (or one Parquet file).  By default,
    per experiment (``<scenario>-<scenario hash>`` directory), only the rows
    of the newest mmactors code that wrote into it: the model changes
    between versions, and points of two models must not be averaged.
    (``read_results(latest=True)`` keeps one experiment per scenario *name*,
    which would drop a sweep of the same scenario under other --set values.)"""
    from pathlib import Path

    from .store import read_results, rows_to_frame
    p = Path(path)
    try:
        if all_versions or p.is_file():
            return read_results(p)
        if not p.is_dir():
            raise FileNotFoundError(path)
        import pyarrow.parquet as pq
        tables = []
        for exp in sorted(d for d in p.iterdir() if d.is_dir()):
            versions = [d for d in sorted(exp.iterdir()) if d.is_dir()
                        and any(d.glob("run-*.parquet"))]
            if versions:
                newest = max(versions, key=lambda d: max(f.stat().st_mtime
                                                         for f in d.glob("run-*.parquet")))
                tables += [pq.read_table(f) for f in sorted(newest.glob("run-*.parquet"))]
        return rows_to_frame(tables)
    except FileNotFoundError:
        raise PlotError(f"{path}: no such results directory (write one with "
                        "`mmactors sweep SCENARIO --out DIR`)") from None
    except (OSError, ValueError) as e:         # ValueError: pyarrow.ArrowInvalid (a bad file)
        raise PlotError(f"{path}: cannot read: {str(e).splitlines()[0]}") from None


def _unknown(option: str, name: str, df) -> PlotError:
    cols = list(df.columns)
    near = difflib.get_close_matches(name, cols, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return PlotError(f"{option} {name}: no such column{hint}; the columns are: "
                     + ", ".join(cols))


def check_spec(df, spec: PlotSpec) -> None:
    """Every column named exists, the metric is numeric, the options are
    known: each a one-line PlotError."""
    if not len(df.columns):
        raise PlotError("no rows to plot (the results directory is empty)")
    for opt, name in (("--x", spec.x), ("--y", spec.y), ("--hue", spec.hue),
                      ("--col", spec.col), ("--per", spec.per)):
        if name is not None and name not in df.columns:
            raise _unknown(opt, name, df)
    for name, _ in spec.where:
        if name not in df.columns:
            raise _unknown("--where", name, df)
    if spec.spread not in SPREADS:
        raise PlotError(f"--spread {spec.spread}: one of {', '.join(SPREADS)}")
    import pandas as pd
    for opt, name in (("--y", spec.y), ("--per", spec.per)):
        if name is not None and not pd.api.types.is_numeric_dtype(df[name]) \
                or name is not None and pd.api.types.is_bool_dtype(df[name]):
            raise PlotError(f"{opt} {name}: not a numeric column")
    if spec.logx and not pd.api.types.is_numeric_dtype(df[spec.x]):
        raise PlotError(f"--logx: {spec.x} is not numeric")
    if spec.model is not None:
        _parse_model(spec.model)


def _matches(series, value):
    """Rows equal to ``value`` as --set would read it (``true``, ``8``, ``ticket``)."""
    import pandas as pd
    from .values import _scalar
    v = _scalar(value) if isinstance(value, str) else value
    if isinstance(v, bool) or (isinstance(v, (int, float))
                               and pd.api.types.is_numeric_dtype(series)
                               and not pd.api.types.is_bool_dtype(series)):
        return series == v
    return series.astype(str) == str(value)


def _filtered(df, spec: PlotSpec):
    for name, value in spec.where:
        df = df[_matches(df[name], value)]
    if not len(df):
        raise PlotError("no row matches " + " ".join(f"--where {k}={v}" for k, v in spec.where))
    if not spec.include_failed and "exit_status" in df.columns:
        ok = df[df["exit_status"] == 0]
        if not len(ok):
            raise PlotError(f"all {len(df)} runs ended with a non-zero exit_status "
                            "(--include-failed plots them)")
        df = ok
    return df


def _is_num(v) -> bool:
    import numpy as np
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _order(values) -> list:
    """Numbers ascending, anything else sorted as text (False before True):
    the same rows give the same order however the files were read."""
    import pandas as pd
    uniq = list(pd.unique(values))
    if all(_is_num(v) for v in uniq):
        return sorted(uniq)
    return sorted(uniq, key=lambda v: (str(type(v)), str(v)))


def _tidy(series):
    """Integers back from float: a results directory holding experiments
    with other columns gives an int column nulls, which pandas stores as
    float (machine.cpus 32.0); the axis should say 32."""
    import pandas as pd
    if pd.api.types.is_float_dtype(series):
        known = series.dropna()
        if len(known) and (known == known.round()).all():
            return series.astype("Int64").astype(object).where(series.notna(), None)
    return series


def _one_scenario(rows, spec: PlotSpec) -> None:
    """Rows of different scenarios (or of one scenario under different fixed
    --set values: another scenario_hash) are different experiments: averaging
    them into one point would be wrong, so the plot must tell them apart."""
    split = (spec.hue, spec.col)
    if "scenario" in rows.columns and "scenario" not in split:
        names = list(dict.fromkeys(rows["scenario"]))
        if len(names) > 1:
            raise PlotError(f"the rows come from {len(names)} scenarios ({', '.join(names[:4])}"
                            f"{', ...' if len(names) > 4 else ''}); choose one with --where "
                            "scenario=NAME, or --hue/--col scenario")
    if "scenario_hash" in rows.columns and "scenario_hash" not in split:
        by = rows.groupby(rows["scenario"] if "scenario" in rows.columns else 0)
        many = by["scenario_hash"].nunique()
        if (many > 1).any():
            name = many[many > 1].index[0]
            hashes = ", ".join(dict.fromkeys(rows.loc[rows.get("scenario", name) == name,
                                                      "scenario_hash"]))
            raise PlotError(f"scenario {name} was swept with different fixed --set values "
                            f"(scenario_hash {hashes}); choose one with --where "
                            "scenario_hash=HASH, or --hue/--col scenario_hash")


def aggregate(df, spec: PlotSpec):
    """One row per (facet, hue, x): ``n`` (seeds), ``mean``, ``sd``, ``min``,
    ``max``, and the band ``lo``/``hi`` the spread asks for.  Columns ``col``,
    ``hue``, ``x`` hold the group's values (None where not used).  Groups are
    ordered by facet, hue, then x (see :func:`_order`)."""
    import pandas as pd
    check_spec(df, spec)
    rows = _filtered(df, spec)
    _one_scenario(rows, spec)
    y = pd.to_numeric(rows[spec.y], errors="coerce").astype(float)
    if spec.per is not None:
        y = y / pd.to_numeric(rows[spec.per], errors="coerce").astype(float)
    work = pd.DataFrame({"col": _tidy(rows[spec.col]) if spec.col else None,
                         "hue": _tidy(rows[spec.hue]) if spec.hue else None,
                         "x": _tidy(rows[spec.x]), "y": y.values}, index=rows.index)
    work = work[work["y"].notna() & work["x"].notna()]
    out = []
    for c in _order(work["col"]) if spec.col else [None]:
        wc = work[work["col"] == c] if spec.col else work
        for h in _order(wc["hue"]) if spec.hue else [None]:
            wh = wc[wc["hue"] == h] if spec.hue else wc
            for x in _order(wh["x"]):
                v = wh.loc[wh["x"] == x, "y"]
                mean, n = float(v.mean()), int(len(v))
                sd = float(v.std(ddof=1)) if n > 1 else 0.0
                lo, hi = {"minmax": (float(v.min()), float(v.max())),
                          "sd": (mean - sd, mean + sd),
                          "none": (mean, mean)}[spec.spread]
                out.append({"col": c, "hue": h, "x": x, "n": n, "mean": mean, "sd": sd,
                            "min": float(v.min()), "max": float(v.max()), "lo": lo, "hi": hi})
    if not out:
        raise PlotError(f"no row has both {spec.x} and {spec.y_label}")
    return pd.DataFrame(out, columns=["col", "hue", "x", "n", "mean", "sd", "min", "max",
                                      "lo", "hi"])


# ---------------------------------------------------------------- a model beside the data

def _parse_model(text: str):
    kind, _, args = text.partition(":")
    if kind != "markov":
        raise PlotError(f"--model {text}: the known model is markov:a=NS,s=NS,c=NS "
                        "(Boyd-Wickizer et al.'s ticket spinlock, mmactors/theory.py)")
    vals = {}
    for item in filter(None, args.split(",")):
        k, eq, v = item.partition("=")
        try:
            vals[k.strip()] = float(v)
        except ValueError:
            raise PlotError(f"--model {text}: {item!r} is not NAME=NUMBER") from None
        if not eq or k.strip() not in ("a", "s", "c"):
            raise PlotError(f"--model {text}: {item!r}: the names are a (think), "
                            "s (hold), c (line transfer), in ns")
    missing = [k for k in ("a", "s", "c") if k not in vals]
    if missing:
        raise PlotError(f"--model {text}: give {', '.join(missing)} (e.g. "
                        "markov:a=20000,s=400,c=100)")
    return vals


def model_curve(text: str, xs) -> tuple[str, list, list]:
    """(label, x, y): the Markov model's acquisitions per microsecond at each
    CPU count in ``xs`` (the x column must be the CPU count)."""
    from ..theory import ticket_lock_throughput
    p = _parse_model(text)
    xs = [x for x in xs if _is_num(x) and x >= 1]
    ys = [ticket_lock_throughput(int(x), p["a"], p["s"], p["c"]) * 1000 for x in xs]
    label = f"Markov model (a={p['a']:g}, s={p['s']:g}, c={p['c']:g} ns)"
    return label, xs, ys


def _label(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------- matplotlib

_RC = {"font.family": "DejaVu Sans", "font.size": 9, "svg.fonttype": "path",
       "svg.hashsalt": "mmactors", "path.simplify": False, "figure.dpi": 100,
       "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3}


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise MatplotlibMissing(f"writing a plot file needs matplotlib: {_INSTALL} "
                                "(without -o, mmactors plot draws in the terminal)") from None
    return matplotlib


def figure(points, spec: PlotSpec):
    """A matplotlib Figure of ``aggregate``'s points: one panel per facet, one
    line per hue (markers at the means), the spread as a shaded band.  Lines
    are drawn in (facet, hue) order; ``ax.lines`` holds the data lines first,
    then the model's line if any."""
    mpl = _matplotlib()
    from matplotlib.figure import Figure       # no pyplot: no global figure manager
    with mpl.rc_context(_RC):
        facets = list(dict.fromkeys(points["col"])) if spec.col else [None]
        fig = Figure(figsize=(min(4.2 * len(facets) + 1.6, 16), 3.8), layout="constrained")
        axes = fig.subplots(1, len(facets), sharey=True, squeeze=False)[0]
        numeric = all(_is_num(v) for v in points["x"])
        cats = list(dict.fromkeys(points["x"])) if not numeric else None
        for ax, facet in zip(axes, facets):
            pf = points[points["col"] == facet] if spec.col else points
            hues = list(dict.fromkeys(pf["hue"])) if spec.hue else [None]
            for i, h in enumerate(hues):
                ph = pf[pf["hue"] == h] if spec.hue else pf
                xs = list(ph["x"]) if numeric else [cats.index(v) for v in ph["x"]]
                label = f"{spec.hue}={_label(h)}" if spec.hue else spec.y_label
                line, = ax.plot(xs, list(ph["mean"]), marker=_MPL_MARKERS[i % len(_MPL_MARKERS)],
                                markersize=4, linewidth=1.4, label=label)
                if spec.spread != "none":
                    ax.fill_between(xs, list(ph["lo"]), list(ph["hi"]), alpha=0.2,
                                    color=line.get_color(), linewidth=0)
            if spec.model is not None:
                mlabel, mx, my = model_curve(spec.model, sorted(set(pf["x"])))
                ax.plot(mx, my, "k--", linewidth=1.2, label=mlabel)
            if not numeric:
                ax.set_xticks(range(len(cats)), [_label(c) for c in cats])
            if spec.logx:
                ax.set_xscale("log", base=2)
                ticks = sorted(set(pf["x"]))
                ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
                ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
            if spec.logy:
                ax.set_yscale("log")
            ax.set_xlabel(spec.xlabel or spec.x)
            if spec.col:
                ax.set_title(f"{spec.col}={_label(facet)}", fontsize=9)
        axes[0].set_ylabel(spec.y_label)
        axes[0].legend(fontsize=8, frameon=False)
        band = {"minmax": "band: min to max over seeds", "sd": "band: mean ± 1 sd over seeds",
                "none": ""}[spec.spread]
        seeds = sorted(set(int(n) for n in points["n"]))
        nseeds = (f"{seeds[0]} seed{'s' * (seeds[0] != 1)}" if len(seeds) == 1
                  else f"{seeds[0]}-{seeds[-1]} seeds")
        sub = f"mean of {nseeds} per point" + (f"; {band}" if band and seeds[-1] > 1 else "")
        fig.suptitle((spec.title + "\n" if spec.title else "") + sub,
                     fontsize=10 if spec.title else 8)
    return fig


def file_format(path: str) -> str:
    """png, svg or pdf, from the file name."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext not in FORMATS:
        raise PlotError(f"-o {path}: the file name must end in "
                        + ", ".join("." + f for f in FORMATS))
    return ext


def save(fig, path: str) -> None:
    """Write ``fig`` to ``path`` (PNG, SVG or PDF by its extension), with no
    date or version in the file, through a temporary file renamed into place."""
    import io
    from .._core.files import atomic_write
    mpl = _matplotlib()
    ext = file_format(path)
    meta = {"png": {"Software": None}, "svg": {"Date": None, "Creator": "mmactors"},
            "pdf": {"CreationDate": None, "Creator": "mmactors", "Producer": None}}[ext]
    buf = io.BytesIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format=ext, metadata=meta)
    atomic_write(path, buf.getvalue())


def plot(rows, x: str, y: str = "ops_per_us", *, output: str | None = None, **options):
    """The notebook form of ``mmactors plot``: ``rows`` is a DataFrame (from
    :func:`mmactors.sweep`) or a results directory; ``options`` are
    :class:`PlotSpec`'s fields (hue, col, per, where, spread, logx, ...).
    Returns the matplotlib Figure, also written to ``output`` if given."""
    df = load_rows(rows) if not hasattr(rows, "columns") else rows
    spec = PlotSpec(x=x, y=y, **options)
    fig = figure(aggregate(df, spec), spec)
    if output is not None:
        save(fig, output)
    return fig
