"""mmactors sweep: the API, the results directory and the command line."""
import os
import subprocess
import sys

import pandas as pd
import pytest

import mmactors
from mmactors.sweep import WALL_COLUMNS, lock_loop_scenario, read_results
from mmactors.sweep.plan import make_plan

SMALL = lock_loop_scenario("ticket", 1, duration_ns=200_000)
GRID = {"machine.cpus": [1, 2, 4], "workload.0.lock": ["ticket", "qspinlock"]}


def _det(df):
    """The deterministic part of a frame (everything but host time)."""
    return df.drop(columns=list(WALL_COLUMNS)).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial():
    return mmactors.sweep(SMALL, GRID, seeds=2, jobs=1)


def test_rows_in_plan_order_with_the_documented_columns(serial):
    df = serial
    assert len(df) == 12
    assert list(df["machine.cpus"]) == [1] * 4 + [2] * 4 + [4] * 4
    assert list(df["seed"]) == [1, 2] * 6
    for col in ("scenario", "scenario_hash", "mmactors_version", "code_hash", "run_id", "strategy",
                "replay_token", "exit_status", "virtual_ns", "ops", "ops_per_us", "wl0.ops",
                "lock.&lock_loop->lock.contentions", "lock.&lock_loop->lock.waittime_total_ns",
                "wall_s"):
        assert col in df.columns, col
    assert (df["ops"] == df["wl0.ops"]).all()
    assert df["mmactors_version"].iloc[0] == mmactors.__version__
    assert df["run_id"].is_unique


def test_a_row_is_the_run(serial):
    """Row 7 (2 CPUs, qspinlock, seed 2) equals a plain run of the same inputs."""
    r = serial.iloc[7]
    res = mmactors.run_scenario(SMALL, seed=2, trace=False,
                                overrides=[("machine.cpus", 2), ("workload.0.lock", "qspinlock")])
    assert (r["machine.cpus"], r["workload.0.lock"], r["seed"]) == (2, "qspinlock", 2)
    assert r["ops"] == res.ops and r["replay_token"] == res.replay_token
    assert r["virtual_ns"] == res.virtual_ns


def test_jobs_do_not_change_rows(serial):
    par = mmactors.sweep(SMALL, GRID, seeds=2, jobs=2)
    pd.testing.assert_frame_equal(_det(par), _det(serial))


def test_results_directory_resumes_and_skips(tmp_path, serial):
    out = tmp_path / "res"
    first = mmactors.sweep(SMALL, {"machine.cpus": [1, 2]}, seeds=2, jobs=1, out=out)
    files = sorted(out.rglob("run-*.parquet"))
    assert len(files) == 4
    mtimes = [f.stat().st_mtime_ns for f in files]
    # A bigger sweep over the same scenario runs only the new runs.
    from mmactors.sweep import run_plan
    plan = make_plan(SMALL, GRID, seeds=2)
    res = run_plan(plan, jobs=1, out=out)
    assert (res.skipped, res.ran) == (0, 12)     # GRID adds a key: other runs
    res = run_plan(make_plan(SMALL, {"machine.cpus": [1, 2, 4]}, seeds=2), jobs=1, out=out)
    assert (res.skipped, res.ran) == (4, 2)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    pd.testing.assert_frame_equal(_det(res.frame.iloc[:4]), _det(first))
    # Reading the directory back gives every row once.
    everything = read_results(out)
    assert len(everything) == 4 + 12 + 2 and everything["run_id"].is_unique
    assert not list(out.rglob("*.tmp"))


def test_stale_rows_are_kept_apart(tmp_path, monkeypatch):
    out = tmp_path / "res"
    mmactors.sweep(SMALL, {"machine.cpus": [1]}, jobs=1, out=out)
    # Another scenario text (a cost changed) is another hash: nothing skipped.
    other = SMALL.replace("line_transfer_ns = 100", "line_transfer_ns = 90")
    plan = make_plan(other, {"machine.cpus": [1]})
    from mmactors.sweep import run_plan
    assert run_plan(plan, jobs=1, out=out).ran == 1
    # Comments do not change the hash.
    plan2 = make_plan(other + "\n# a comment\n", {"machine.cpus": [1]})
    assert plan2.scenario_hash == plan.scenario_hash
    assert run_plan(plan2, jobs=1, out=out).skipped == 1
    dirs = sorted(p.relative_to(out) for p in out.glob("*/*"))
    assert len(dirs) == 2 and dirs[0].parent != dirs[1].parent
    # Other code (a version or source change) goes to its own directory.
    from mmactors.sweep import plan as P   # (mmactors.sweep is also the function)
    monkeypatch.setattr(P, "_CODE", ["0" * 12])
    plan3 = make_plan(other, {"machine.cpus": [1]})
    assert run_plan(plan3, jobs=1, out=out).ran == 1
    assert len(list(out.glob("*/*"))) == 3
    assert len(read_results(out)) == 3
    # latest: per scenario name, only the newest code's and text's rows
    df = read_results(out, latest=True)
    assert len(df) == 1 and set(df["code_hash"]) == {"0" * 12}


def test_dead_writers_temp_files_are_removed(tmp_path):
    out = tmp_path / "res"
    mmactors.sweep(SMALL, {"machine.cpus": [1]}, jobs=1, out=out)
    (part,) = {p.parent for p in out.rglob("run-*.parquet")}
    stale = part / ".run-x.parquet.999999999.tmp"
    stale.write_bytes(b"half a row")
    assert len(read_results(out)) == 1           # readers never see it
    mmactors.sweep(SMALL, {"machine.cpus": [1]}, jobs=1, out=out)
    assert not stale.exists()


# ------------------------------------------------------------ command line
def mm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mmactors", *args], capture_output=True,
                          text=True, env=dict(os.environ, **(env or {})), timeout=300)


def test_cli_sweep_summary_and_rows(tmp_path):
    scn = tmp_path / "small.toml"
    scn.write_text(SMALL)
    r = mm("sweep", str(scn), "--param", "machine.cpus=1,2,4", "--seeds", "2", "--jobs", "2",
           "--out", str(tmp_path / "res"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("sweep small: 3 points x 2 seeds = 6 runs (machine.cpus=1,2,4)")
    assert lines[1].split()[:3] == ["machine.cpus", "seeds", "ops_per_us"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["1", "2", "4"]
    assert "6 runs in" in lines[5] and "rows in" in lines[5]
    again = mm("sweep", str(scn), "--param", "machine.cpus=1,2,4", "--seeds", "2",
               "--out", str(tmp_path / "res"))
    assert "0 runs in" in again.stdout and "6 already done" in again.stdout


@pytest.mark.parametrize("args,words", [
    (["--param", "machine.cpus=1,3,4..8"], "--param machine.cpus: 4..8: 1, 3, 4 is neither"),
    (["--param", "machine.cpus"], "needs KEY=V1,V2"),
    (["--param", "machine.cpus=1,2", "--param", "machine.cpus=4"], "given twice"),
    (["--param", "machine.nosuch=1,2"], "machine.nosuch"),
    (["--param", "machine.cpus=0,1"], "--param machine.cpus=0:"),
    (["--param", "run.seed=1,2"], "use --seeds"),
    (["--seeds", "0"], "at least one seed"),
    (["--jobs", "0"], "--jobs must be >= 1"),
    (["--strategy", "replay:abc"], "replays one run"),
    (["--strategy", "nosuch"], "nosuch"),
    (["--out", "/nonexistent/dir/res"], "no such directory"),
    (["--metric", "nosuch"], "--metric nosuch: no such column"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, words):
    scn = tmp_path / "small.toml"
    scn.write_text(SMALL)
    r = mm("sweep", str(scn), "--quiet" if "--metric" not in args else "--jobs=1", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("mmactors: "), r.stderr
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_cli_out_that_is_a_file(tmp_path):
    f = tmp_path / "res"
    f.write_text("x")
    r = mm("sweep", "lock-scaling", "--out", str(f), "--quiet")
    assert r.returncode == 2 and "is a file" in r.stderr
