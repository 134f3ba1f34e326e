"""Known results through the sweep: the lock-scaling curve of Boyd-Wickizer et
al. on the local pool and on a two-worker Dask LocalCluster (identical rows),
and a sweep killed half-way (SIGINT, SIGKILL) then restarted gives exactly the
rows of an uninterrupted one.

The curve uses the sizes and the 25% tolerance of tests/sync/test_known_results.py
but fewer points and a shorter run (4 ms: the model's steady state is reached
within a few hundred acquisitions), so that it stays fast on two cores."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import mmactors
from mmactors.sweep import WALL_COLUMNS, lock_loop_scenario, read_results
from mmactors.theory import ticket_lock_throughput

NS = [1, 4, 16, 24, 48, 64]
TICKET = lock_loop_scenario("ticket", 1, duration_ns=4_000_000)


def _det(df):
    return df.drop(columns=list(WALL_COLUMNS)).reset_index(drop=True)


@pytest.fixture(scope="module")
def local_rows():
    return mmactors.sweep(TICKET, {"machine.cpus": NS}, jobs=2, lockdep=False)


@pytest.mark.parametrize("i,n", list(enumerate(NS)))
def test_ticket_lock_sweep_follows_the_markov_model(local_rows, i, n):
    row = local_rows.iloc[i]
    assert row["machine.cpus"] == n
    model = ticket_lock_throughput(n, 20000, 400, 100) * 1000
    sim = row["ops"] / (row["virtual_ns"] / 1000)
    assert abs(sim - model) <= 0.25 * model, f"n={n}: sim {sim:.3f}/us vs model {model:.3f}/us"


def test_dask_local_cluster_gives_identical_rows(local_rows, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        df = mmactors.sweep(TICKET, {"machine.cpus": NS}, lockdep=False,
                            scheduler=cluster.scheduler_address, out=tmp_path / "res")
    pd.testing.assert_frame_equal(_det(df), _det(local_rows))
    # and what was written reads back the same (in file order: sort by run)
    back = read_results(tmp_path / "res").sort_values("machine.cpus")
    pd.testing.assert_frame_equal(_det(back), _det(local_rows))


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    from mmactors.sweep import execute
    monkeypatch.setattr(execute, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(execute.SchedulerError, match="cannot connect"):
        mmactors.sweep(TICKET, {"machine.cpus": [1]}, scheduler="tcp://127.0.0.1:1")


# ------------------------------------------------------ killed and restarted
SLOW = lock_loop_scenario("ticket", 1, duration_ns=1_000_000)
ARGS = ["--param", "machine.cpus=1..4", "--param", "workload.0.lock=ticket,qspinlock",
        "--seeds", "2", "--jobs", "2", "--quiet"]            # 16 runs


def _sweep_cmd(scn, out):
    return [sys.executable, "-m", "mmactors", "sweep", str(scn), *ARGS, "--out", str(out)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    scn = d / "s.toml"
    scn.write_text(SLOW)
    r = subprocess.run(_sweep_cmd(scn, d / "res"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return scn, read_results(d / "res")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_half_way_then_restarted(uninterrupted, tmp_path, sig):
    scn, full = uninterrupted
    assert len(full) == 16
    out = tmp_path / "res"
    p = subprocess.Popen(_sweep_cmd(scn, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.rglob("run-*.parquet"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    # the whole process group, as a terminal's Ctrl-C (or the OOM killer) would
    os.killpg(p.pid, sig)
    _, err = p.communicate(timeout=60)
    done = len(list(out.rglob("run-*.parquet")))
    assert 8 <= done <= 16
    if sig == signal.SIGINT and p.returncode != 0:
        assert p.returncode == 130, err
        assert err.count("\n") == 1 and "interrupted after" in err, err
    assert len(read_results(out)) == done          # every file whole, readable
    r = subprocess.run(_sweep_cmd(scn, out), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    again = read_results(out)
    pd.testing.assert_frame_equal(_det(again), _det(full))
