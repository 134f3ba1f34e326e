"""`mmactors plot`: the points drawn are the results table's aggregates, the
files are reproducible byte for byte, the terminal chart puts each point where
it belongs, and bad requests are one line with exit status 2."""
import math
import sys

import pandas as pd
import pytest

from mmactors.cli import main
from mmactors.sweep import sweep
from mmactors.sweep.legacy import lock_loop_scenario
from mmactors.sweep.plot import PlotError, PlotSpec, aggregate, figure
from mmactors.sweep.textchart import MARKERS, cell, text_chart
from mmactors.theory import ticket_lock_throughput

LOCK_Y = "lock.&lock_loop->lock.waittime_total_ns"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A real sweep: 3 CPU counts x 2 lock kinds x 3 seeds, short runs."""
    out = tmp_path_factory.mktemp("plot") / "results"
    text = lock_loop_scenario("ticket", 1, duration_ns=300_000)
    df = sweep(text, {"machine.cpus": [1, 2, 4], "workload.0.lock": ["ticket", "qspinlock"]},
               seeds=3, jobs=1, out=out)
    return out, df


def test_points_are_the_frames_means_and_extremes(results):
    _, df = results
    spec = PlotSpec(x="machine.cpus", y="ops_per_us", hue="workload.0.lock")
    pts = aggregate(df, spec)
    want = df.groupby(["workload.0.lock", "machine.cpus"])["ops_per_us"].agg(
        ["mean", "min", "max", "std", "count"])
    assert len(pts) == len(want) == 6
    assert list(pts["hue"]) == ["qspinlock"] * 3 + ["ticket"] * 3   # sorted, x ascending
    for _, p in pts.iterrows():
        w = want.loc[(p["hue"], p["x"])]
        assert p["n"] == w["count"] == 3
        assert p["mean"] == pytest.approx(w["mean"], rel=1e-12)
        assert (p["lo"], p["hi"]) == (w["min"], w["max"])
        assert p["sd"] == pytest.approx(w["std"], rel=1e-12)
    shuffled = df.sample(frac=1.0, random_state=7)              # row order does not matter
    pd.testing.assert_frame_equal(aggregate(shuffled, spec), pts)
    sd = aggregate(df, PlotSpec(x="machine.cpus", y="ops_per_us", hue="workload.0.lock",
                                spread="sd"))
    assert list(sd["lo"]) == pytest.approx(list(sd["mean"] - sd["sd"]))
    assert list(sd["hi"]) == pytest.approx(list(sd["mean"] + sd["sd"]))


def test_per_divides_row_by_row_and_where_filters(results):
    _, df = results
    pts = aggregate(df, PlotSpec(x="machine.cpus", y="ops", per="machine.cpus",
                                 where=[("workload.0.lock", "qspinlock")]))
    sub = df[df["workload.0.lock"] == "qspinlock"]
    want = (sub["ops"] / sub["machine.cpus"]).groupby(sub["machine.cpus"]).mean()
    assert list(pts["x"]) == [1, 2, 4]
    assert list(pts["mean"]) == pytest.approx(list(want))
    with pytest.raises(PlotError, match="no row matches --where workload.0.lock=mutex"):
        aggregate(df, PlotSpec(x="machine.cpus", y="ops", where=[("workload.0.lock", "mutex")]))


def test_failed_runs_are_left_out_unless_asked():
    df = pd.DataFrame({"x": [1, 1, 2], "y": [1.0, 100.0, 3.0], "exit_status": [0, 3, 0]})
    assert list(aggregate(df, PlotSpec(x="x", y="y"))["mean"]) == [1.0, 3.0]
    both = aggregate(df, PlotSpec(x="x", y="y", include_failed=True))
    assert list(both["mean"]) == [50.5, 3.0]
    with pytest.raises(PlotError, match="non-zero exit_status"):
        aggregate(df[df.exit_status == 3], PlotSpec(x="x", y="y"))


def test_figure_draws_exactly_the_points(results):
    _, df = results
    spec = PlotSpec(x="machine.cpus", y="ops_per_us", hue="workload.0.lock", col="seed",
                    model="markov:a=20000,s=400,c=100")
    pts = aggregate(df, spec)
    fig = figure(pts, spec)
    axes = fig.axes
    assert len(axes) == 3                                   # one panel per seed
    for ax, seed in zip(axes, [1, 2, 3]):
        lines = ax.lines
        assert len(lines) == 3                              # two locks and the model
        for line, lock in zip(lines, ["qspinlock", "ticket"]):
            p = pts[(pts["col"] == seed) & (pts["hue"] == lock)]
            xy = line.get_xydata()
            assert list(xy[:, 0]) == list(p["x"]) and list(xy[:, 1]) == list(p["mean"])
        model = lines[2].get_xydata()
        assert list(model[:, 1]) == pytest.approx(
            [ticket_lock_throughput(n, 20000, 400, 100) * 1000 for n in (1, 2, 4)])
    # the band: fill_between's polygon spans lo..hi at each x
    spec2 = PlotSpec(x="machine.cpus", y="ops_per_us", hue="workload.0.lock")
    pts2 = aggregate(df, spec2)
    ax = figure(pts2, spec2).axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    t = pts2[pts2["hue"] == "ticket"]
    for x, lo, hi in zip(t["x"], t["lo"], t["hi"]):
        ys = band[band[:, 0] == x][:, 1]
        assert min(ys) == pytest.approx(lo) and max(ys) == pytest.approx(hi)


def test_files_are_byte_reproducible(results, tmp_path):
    out, _ = results
    for ext in ("svg", "png"):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        args = ["plot", str(out), "--x", "machine.cpus", "--y", "ops_per_us", "--hue",
                "workload.0.lock", "--quiet", "--title", "lock-loop"]
        assert main(args + ["-o", str(a)]) == 0
        assert main(args + ["-o", str(b)]) == 0
        assert a.read_bytes() == b.read_bytes()
    svg = (tmp_path / "a.svg").read_text()
    assert "<dc:date>" not in svg and "matplotlib v" not in svg.lower()
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_text_chart_exact_small():
    """Means at (x, mean), the min..max band as ':' under them, the later
    hue's marker on top where two means share a cell."""
    df = pd.DataFrame({"x": [1, 1, 2, 4, 1, 2, 4], "h": ["a", "a", "a", "a", "b", "b", "b"],
                       "y": [0.0, 2.0, 5.0, 10.0, 10.0, 5.0, 0.0]})
    spec = PlotSpec(x="x", y="y", hue="h")
    assert text_chart(aggregate(df, spec), spec, width=7, height=5).splitlines() == [
        "10 |*     o",
        "   |",
        " 5 |  *",
        "   |:",          # a at x=1: mean 1, seeds 0 and 2
        " 0 |o     *",
        "   +-------",
        "    1 2   4",
        "",
        "o h=a   * h=b   : min..max over seeds",
        "y: y; x: x",
    ]


def test_text_chart_places_every_point(results):
    _, df = results
    spec = PlotSpec(x="machine.cpus", y="ops_per_us", hue="workload.0.lock", logx=True)
    pts = aggregate(df, spec)
    w, h = 40, 12
    lines = text_chart(pts, spec, width=w, height=h).splitlines()
    grid = [ln.split("|", 1)[1].ljust(w) for ln in lines[:h]]
    xpos, ysc = cell(pts, spec, w, h)
    for i, lock in enumerate(["qspinlock", "ticket"]):
        for _, p in pts[pts["hue"] == lock].iterrows():
            ch = grid[h - 1 - ysc(p["mean"])][xpos(p["x"])]
            assert ch in MARKERS[:2], (lock, p["x"], ch)
            if i == 1:
                assert ch == MARKERS[1]                     # drawn last, always visible
    assert xpos(1) == 0 and xpos(4) == w - 1 and xpos(2) == round((w - 1) / 2)  # log2 axis
    assert "o workload.0.lock=qspinlock" in lines[-2] and "* workload.0.lock=ticket" in lines[-2]


def test_cli_terminal_chart(results, capsys):
    out, _ = results
    assert main(["plot", str(out), "--x", "machine.cpus", "--hue", "workload.0.lock",
                 "--width", "30", "--height", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "y: ops_per_us; x: machine.cpus"
    assert lines[8].endswith("+" + "-" * 30) and len([ln for ln in lines if "|" in ln]) == 8


def test_rows_of_two_experiments_are_not_averaged(results, tmp_path, capsys):
    import shutil
    out = tmp_path / "results"
    shutil.copytree(results[0], out)
    other = lock_loop_scenario("ticket", 1, duration_ns=200_000)
    sweep(other, {"machine.cpus": [1, 2]}, jobs=1, out=out)      # same name, other text
    assert main(["plot", str(out), "--x", "machine.cpus"]) == 2
    assert "swept with different fixed --set values" in capsys.readouterr().err
    assert main(["plot", str(out), "--x", "machine.cpus", "--col", "scenario_hash",
                 "-o", str(tmp_path / "a.svg"), "--quiet"]) == 0


@pytest.mark.parametrize("argv, msg", [
    (["--x", "machine.cpu"], "--x machine.cpu: no such column (did you mean machine.cpus?); "
                             "the columns are: scenario, "),
    (["--x", "machine.cpus", "--y", "scenario"], "--y scenario: not a numeric column"),
    (["--x", "machine.cpus", "--hue", "nope"], "--hue nope: no such column"),
    (["--x", "machine.cpus", "--model", "markov:a=1"], "--model markov:a=1: give s, c"),
    (["--x", "machine.cpus", "-o", "x.jpg"], "-o x.jpg: the file name must end in .png, .svg, .pdf"),
    (["--x", "machine.cpus", "--where", "seed"], "--where seed: needs COLUMN=VALUE"),
])
def test_cli_errors_are_one_line(results, capsys, argv, msg, tmp_path, monkeypatch):
    out, _ = results
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(out)] + argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and msg in err, err
    if "no such column" in msg and "--x" in argv[0]:
        assert "ops_per_us" in err and "lock.&lock_loop->lock.contentions" in err


def test_cli_missing_results_and_missing_matplotlib(tmp_path, capsys, monkeypatch):
    assert main(["plot", str(tmp_path / "none"), "--x", "seed"]) == 2
    assert "no such results directory" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    assert main(["plot", str(bad), "--x", "seed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.parquet: cannot read" in err
    (tmp_path / "empty").mkdir()
    assert main(["plot", str(tmp_path / "empty"), "--x", "seed"]) == 2
    assert "no rows to plot" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)         # import fails
    assert main(["plot", str(tmp_path / "none"), "--x", "seed", "-o",
                 str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'mmactors[plot]'" in err


def test_log_scales_refuse_nothing_numeric_and_nan_stays_out():
    df = pd.DataFrame({"x": [1, 2, 4], "y": [1.0, math.nan, 4.0]})
    pts = aggregate(df, PlotSpec(x="x", y="y"))
    assert list(pts["x"]) == [1, 4]                         # a NaN metric is no point
    with pytest.raises(PlotError, match="--logx: s is not numeric"):
        aggregate(pd.DataFrame({"s": ["a"], "y": [1.0]}), PlotSpec(x="s", y="y", logx=True))


def test_int_columns_with_nulls_stay_integers_and_logx_ticks_are_the_values(tmp_path):
    """A results directory of two experiments: machine.cpus is null in the rows
    of the one that did not sweep it, so pandas reads it as float; the plot
    still says 32, not 32.0."""
    df = pd.DataFrame({"scenario": ["a", "a", "b"], "machine.cpus": [1.0, 32.0, math.nan],
                       "y": [1.0, 2.0, 3.0]})
    spec = PlotSpec(x="machine.cpus", y="y", where=[("scenario", "a")], logx=True)
    pts = aggregate(df, spec)
    assert list(pts["x"]) == [1, 32] and all(type(x) is int for x in pts["x"])
    ax = figure(pts, spec).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "32"]
    assert "  1" in text_chart(pts, spec, width=20, height=4).splitlines()[-4]
