"""First contact: bad input is one line and exit status 2, never a traceback;
nothing is lost on a bad output path or on Ctrl-C; what used to be accepted
without a word is refused or counted."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmactors import parse_scenario
from mmactors._core.files import atomic_write
from mmactors.cli import main

ROOT = Path(__file__).resolve().parent.parent

SMALL = """\
[machine]
cpus = 2
[[workload]]
kind = "lock-loop"
think_ns = 2000
hold_ns = 300
[run]
duration_ns = 200000
"""


def run_cli(capsys, *args):
    """mmactors in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, *expect):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmactors: "), err
    assert "Traceback" not in err
    for e in expect:
        assert e in lines[0], lines[0]


# ------------------------------------------------------------ output paths
@pytest.mark.parametrize("where,expect", [
    ("missing/out.json", "no such directory"),
    (".", "is a directory"),
])
def test_bad_output_paths_fail_before_the_run(tmp_path, capsys, where, expect):
    scn = tmp_path / "s.toml"
    scn.write_text(SMALL.replace("200000", "10_000_000_000"))     # would take long
    for opt in ("--json", "--trace"):
        t = time.perf_counter()
        code, out, err = run_cli(capsys, "run", scn, opt, tmp_path / where)
        one_line_error(code, err, opt, expect)
        assert out == "" and time.perf_counter() - t < 5      # refused before any work
    code, out, err = run_cli(capsys, "fuzz", scn, "--runs", "3", "--json", tmp_path / where)
    one_line_error(code, err, "--json", expect)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_unwritable_output_file(tmp_path, capsys):
    f = tmp_path / "ro.json"
    f.write_text("{}")
    f.chmod(0o444)
    code, _, err = run_cli(capsys, "run", "--json", f, "--duration", "1000")
    one_line_error(code, err, "not writable")


def test_outputs_are_written_atomically(tmp_path, monkeypatch):
    f = tmp_path / "out.json"
    atomic_write(str(f), "old\n")

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(str(f), "new and longer\n")
    assert f.read_text() == "old\n"                           # never half a file
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]   # no temporary left


# ------------------------------------------------------------------ Ctrl-C
def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "mmactors", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt_after(p, seconds):
    time.sleep(seconds)
    assert p.poll() is None, p.communicate()
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    return out, err, time.monotonic() - t


def test_ctrl_c_stops_a_run_cleanly_and_keeps_a_partial_result(tmp_path):
    js = tmp_path / "partial.json"
    p = _start("run", "lock-scaling", "--duration", "10_000_000_000", "--json", js, "--quiet")
    out, err, _ = _interrupt_after(p, 6)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmactors: interrupted at "), err
    assert "ms of virtual time" in lines[0] and f"partial result in {js}" in lines[0]
    doc = json.loads(js.read_text())
    assert doc["end"] == "interrupted" and doc["error"]["kind"] == "interrupted"
    assert doc["virtual_ns"] > 0 and doc["workloads"]["ops"] > 0


def test_ctrl_c_stops_fuzz_with_two_jobs_within_a_second(tmp_path):
    js = tmp_path / "fuzz.json"
    marker = tmp_path / "fz.toml"             # a unique path: finds the workers by name
    marker.write_text(SMALL)
    p = _start("fuzz", marker, "--runs", "100000", "--jobs", "2", "--json", js, "--quiet")
    out, err, took = _interrupt_after(p, 4)
    assert p.returncode == 130, err
    assert took < 1.5, f"took {took:.2f} s to stop"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "fuzz interrupted after" in err
    doc = json.loads(js.read_text())
    assert doc["interrupted"] is True and doc["failure"] is None and doc["executed"] > 0
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True)
    assert left.stdout.strip() == "", "worker processes outlived fuzz"


# ------------------------------------------------------- bad input, one line
@pytest.mark.parametrize("kind", ['["lock-loop"]', '{ a = 1 }'])
def test_kind_that_is_not_a_string(tmp_path, capsys, kind):
    scn = tmp_path / "k.toml"
    scn.write_text(SMALL.replace('kind = "lock-loop"', f"kind = {kind}"))
    code, _, err = run_cli(capsys, "run", scn)
    one_line_error(code, err, "k.toml:4: workload[0].kind: must be a string")


@pytest.mark.parametrize("pair,expect", [
    ("machine.cpus.x=1", "machine.cpus is 2, not a table"),
    ("name.x=1", "not a table"),
    ("workload.7.hold_ns=1", "no element 7"),
    ("=3", "a key is names joined by dots"),
    ("machine..cpus=2", "a key is names joined by dots"),
])
def test_bad_set_keys(tmp_path, capsys, pair, expect):
    scn = tmp_path / "s.toml"
    scn.write_text('name = "s"\n' + SMALL)
    code, _, err = run_cli(capsys, "run", scn, "--set", pair)
    one_line_error(code, err, expect)


@pytest.mark.parametrize("old,new,expect", [
    ("hold_ns = 300", "hold_ns = 1_000_000_000_000_000_000_000_000_000_000",
     "workload[0].hold_ns: must be between 0 and 10,000,000,000,000 ns"),
    ("think_ns = 2000", "think_ns = 99_000_000_000_000", "workload[0].think_ns: must be between"),
    ("[run]", "[costs]\nline_transfer_ns = 2_000_000_000\n[run]",
     "costs.line_transfer_ns: must be between 0 and 1,000,000,000 ns"),
])
def test_absurd_times_are_refused(old, new, expect):
    from mmactors import ScenarioError
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(SMALL.replace(old, new), "t.toml")
    assert expect in str(ei.value)


# --------------------------------------------- no longer accepted silently
def test_replay_token_from_another_scenario_or_with_seed(tmp_path, capsys):
    js = tmp_path / "a.json"
    code, _, _ = run_cli(capsys, "run", "lock-scaling", "--duration", "100000", "--json", js,
                         "--quiet")
    tok = json.loads(js.read_text())["replay_token"]
    code, _, err = run_cli(capsys, "run", "lock-scaling", "--duration", "100000", "--quiet",
                           "--strategy", f"replay:{tok}")
    assert code == 0, err
    code, _, err = run_cli(capsys, "run", "lock-scaling", "--duration", "100000",
                           "--set", "workload.0.hold_ns=401", "--strategy", f"replay:{tok}")
    one_line_error(code, err, "made for another scenario or other options")
    code, _, err = run_cli(capsys, "run", "abba-deadlock", "--strategy", f"replay:{tok}")
    one_line_error(code, err, "made for another scenario")
    code, _, err = run_cli(capsys, "run", "lock-scaling", "--seed", "3",
                           "--strategy", f"replay:{tok}")
    one_line_error(code, err, "--seed: a replay token carries its own seed")


@pytest.mark.parametrize("var,value,expect", [
    ("MMACTORS_LOCKDEP", "garbage", "MMACTORS_LOCKDEP='garbage': expected"),
    ("MMACTORS_SCENARIOS", "/nonexistent", "/nonexistent: no such directory"),
])
def test_bad_environment(monkeypatch, capsys, var, value, expect):
    monkeypatch.setenv(var, value)
    code, _, err = run_cli(capsys, "run", "lock-scaling", "--duration", "1000")
    one_line_error(code, err, expect)


def test_empty_scenario_name(capsys):
    code, out, err = run_cli(capsys, "run", "")
    one_line_error(code, err, "no scenario named ''")
    assert out == ""


def test_fuzz_runs_zero_is_not_a_strategy_error(capsys):
    code, _, err = run_cli(capsys, "fuzz", "lockdep/abba", "--runs", "0")
    one_line_error(code, err, "fuzz: --runs must be >= 1")
    assert "--strategy" not in err


MM_OPS = """\
[machine]
cpus = 1
memory_mib = 256
[[workload]]
kind = "mm-ops"
steps = [{steps}]
[run]
duration_ns = 100_000_000
"""


def test_mm_ops_unknown_name_is_refused():
    from mmactors import ScenarioError
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(MM_OPS.format(steps='"mmap a 4K rw anon,private", "munmap b"'), "m.toml")
    assert "step 1 'munmap b': no mapping named 'b' (known: a" in str(ei.value)


def test_mm_ops_touch_past_the_end_or_after_munmap_is_a_counted_sigsegv(capsys, tmp_path):
    scn = tmp_path / "m.toml"
    scn.write_text(MM_OPS.format(steps='"mmap a 64K rw anon,private", "touch a write 64K 8K", '
                                       '"munmap a", "touch a read 0 4K", '
                                       '"mmap z 0 rw anon,private"'))
    code, out, err = run_cli(capsys, "run", scn)
    assert code == 0, err
    assert "mm-ops (workload[0]): 3 SIGSEGV; failed system calls: mmap EINVAL x1" in out


# ------------------------------------------------------------------ polish
def test_race_result_line_is_printed_once(capsys):
    code, out, _ = run_cli(capsys, "run", "races/lru-isolate-buggy")
    assert code == 6
    assert out.count("race program lru-isolate (buggy) under sc") == 1


def test_lock_stat_fits_a_narrow_terminal():
    from mmactors import run_scenario
    from mmactors.report.summary import format_summary
    res = run_scenario("lock-scaling", overrides=[("run.duration_ns", 200_000)])
    narrow = format_summary(res, width=100)
    table = narrow[narrow.index("lock_stat version"):].splitlines()
    assert max(len(line) for line in table if not line.startswith("at the end")) <= 100
    assert "--wide" in table[0]
    wide = format_summary(res)
    assert "holdtime-min" in wide and "holdtime-min" not in narrow


def test_header_names_the_overrides(capsys):
    code, out, _ = run_cli(capsys, "run", "lock-scaling", "--cpus", "64", "--duration", "100000")
    head = out.splitlines()
    assert head[0].startswith("scenario lock-scaling: 64 CPUs")
    assert head[1].startswith("  set: machine.cpus=64, run.duration_ns=100000")


def test_pft_progress_follows_its_workers():
    from mmactors import Machine, load_scenario
    m = Machine(load_scenario(ROOT / "scenarios/pft/pft-threads.toml",
                              [("workload.0.mapping_mib", 8)]), trace=False)
    assert m.progress() == 0.0
    m.run()
    assert m.progress() == 1.0           # the run ends long before its duration_ns


def test_unlock_without_lock_and_without_lockdep_is_a_kernel_bug(capsys, tmp_path):
    """Found by tests/test_fuzz_input.py: a lock-sequence that releases a lock
    it does not hold, run without lockdep, ended as a simulator exception
    (exit status 1).  It is a bug in the simulated code: exit status 6, as
    BUG_ON() and CONFIG_DEBUG_SPINLOCK's reports end a run."""
    scn = tmp_path / "u.toml"
    scn.write_text('[[lock]]\nname = "A"\nkind = "spinlock"\n[[workload]]\n'
                   'kind = "lock-sequence"\ncpus = [0]\nsteps = ["unlock A"]\n')
    code, out, err = run_cli(capsys, "run", scn, "--no-lockdep")
    assert code == 6, (out, err)
    assert "bug in cpu0 at " in out + err and "cpu0 releases A, which it does not hold" in out + err
    assert "Traceback" not in out + err
