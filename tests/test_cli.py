"""The command line: determinism, replay, traces, deadlocks, listing."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCN = ROOT / "scenarios"

RACY = """\
[machine]
cpus = 6
[[workload]]
kind = "lock-loop"
lock = "ticket"
think_ns = 2000
hold_ns = 300
[run]
duration_ns = 400000
"""


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "mmactors", *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT)
    if check and r.returncode not in (0,):
        raise AssertionError(f"exit {r.returncode}: {r.stderr}")
    return r


def run_json(tmp_path, scenario, *extra, tag="a"):
    out, tr = tmp_path / f"{tag}.json", tmp_path / f"{tag}.trace"
    r = cli("run", scenario, "--json", out, "--trace", tr, "--quiet", *extra, check=False)
    doc = json.loads(out.read_text())
    return r, doc, tr.read_bytes()


def strip_host(doc):
    return {k: v for k, v in doc.items() if k != "host"}


@pytest.fixture
def racy(tmp_path):
    p = tmp_path / "racy.toml"
    p.write_text(RACY)
    return p


def test_same_seed_same_json_and_trace(tmp_path, racy):
    _, a, ta = run_json(tmp_path, racy, "--seed", "5", tag="a")
    _, b, tb = run_json(tmp_path, racy, "--seed", "5", tag="b")
    assert strip_host(a) == strip_host(b)
    assert ta == tb
    import hashlib
    assert a["trace_sha256"] == hashlib.sha256(ta).hexdigest()


def test_json_has_the_documented_keys(tmp_path, racy):
    _, d, _ = run_json(tmp_path, racy)
    for k in ("scenario", "seed", "strategy", "replay_token", "virtual_ns", "workloads",
              "locks", "engine", "trace_sha256", "host"):
        assert k in d
    assert d["workloads"]["ops"] == sum(d["workloads"]["per_cpu_ops"]) > 0
    assert len(d["workloads"]["per_cpu_ops"]) == 6
    row = d["locks"]["&lock_loop->lock"]
    for k in ("contentions", "con_bounces", "acquisitions", "acq_bounces", "waittime_min_ns",
              "waittime_max_ns", "waittime_total_ns", "holdtime_min_ns", "holdtime_max_ns",
              "holdtime_total_ns"):
        assert isinstance(row[k], int)
    assert set(d["engine"]) >= {"events", "switches"}
    assert d["virtual_ns"] == 400000


def test_different_seeds_give_different_schedules(tmp_path, racy):
    _, a, _ = run_json(tmp_path, racy, "--seed", "1", tag="a")
    _, b, _ = run_json(tmp_path, racy, "--seed", "2", tag="b")
    assert a["trace_sha256"] != b["trace_sha256"]


@pytest.mark.parametrize("strategy", ["random", "random:0.2", "pct:3:500"])
def test_replay_token_reproduces_the_run(tmp_path, racy, strategy):
    _, a, ta = run_json(tmp_path, racy, "--seed", "11", "--strategy", strategy, tag="a")
    _, b, tb = run_json(tmp_path, racy, "--strategy", f"replay:{a['replay_token']}", tag="b")
    assert ta == tb
    assert a["workloads"] == b["workloads"] and a["locks"] == b["locks"]
    assert b["seed"] == 11


def test_trace_is_chrome_trace_json(tmp_path, racy):
    _, _, tr = run_json(tmp_path, racy)
    doc = json.loads(tr)
    evs = doc["traceEvents"]
    names = {e["args"]["name"] for e in evs if e["ph"] == "M"}
    assert names == {f"cpu{i}" for i in range(6)}
    spans = [e for e in evs if e["ph"] == "X"]
    assert any(e["name"].startswith("wait ") for e in spans)
    assert any(e["name"].startswith("hold ") for e in spans)
    assert all(e["dur"] >= 0 for e in spans)


def test_abba_deadlock_scenario_exits_3_with_cycle(tmp_path):
    r = cli("run", SCN / "abba-deadlock.toml", "--json", tmp_path / "d.json", check=False)
    assert r.returncode == 3
    assert "wait-for cycle" in r.stdout
    assert "cpu0 (cpu 0) waits on &lock_b, held by cpu1" in r.stdout
    assert "cpu1 (cpu 1) waits on &lock_a, held by cpu0" in r.stdout
    d = json.loads((tmp_path / "d.json").read_text())
    assert d["error"]["kind"] == "deadlock" and len(d["error"]["cycle"]) == 2


def test_default_run_and_scenarios_listing():
    r = cli("run", "--quiet", "--duration", "200000")
    assert r.returncode == 0
    r = cli("scenarios")
    assert "lock-scaling.toml" in r.stdout and "abba-deadlock.toml" in r.stdout
    assert "default (built-in)" in r.stdout
    r = cli("run", "lock-scaling", "--cpus", "4", "--duration", "100000")
    assert "lock_stat version 0.4" in r.stdout and "&lock_loop->lock" in r.stdout
    assert "replay token: v2" in r.stdout


def test_costs_listing():
    r = cli("costs")
    assert "line_transfer_ns" in r.stdout and "Boyd-Wickizer" in r.stdout


def test_every_shipped_scenario_validates():
    from mmactors import load_scenario
    paths = sorted(SCN.rglob("*.toml"))
    assert len(paths) > 20
    for p in paths:
        load_scenario(p)
