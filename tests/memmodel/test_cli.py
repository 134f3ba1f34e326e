"""The ``mmactors litmus`` entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mmactors.memmodel.cli import main

SB = """C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
"""
HERD_SB = """Test SB Allowed
States 4
0:r0=0; 1:r0=0;
0:r0=0; 1:r0=1;
0:r0=1; 1:r0=0;
0:r0=1; 1:r0=1;
Ok
Witnesses
Positive: 1 Negative: 3
Condition exists (0:r0=0 /\\ 1:r0=0)
Observation SB Sometimes 1 3
"""


def test_text_output(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus")]) == 0
    assert capsys.readouterr().out == HERD_SB + "\n"


def test_directory_recursive_and_model(tmp_path, capsys):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (sub / "sb.litmus").write_text(SB)
    (tmp_path / "notes.txt").write_text("ignored")
    assert main([str(tmp_path), "--model", "sc"]) == 0
    out = capsys.readouterr().out
    assert "Observation SB Never 0 3" in out


def test_json_stdout(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus"), "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["name"] == "SB"
    assert data[0]["model"] == "lkmm"
    assert data[0]["observation"] == "Sometimes"
    assert data[0]["verdict"] == "Ok"
    assert (data[0]["positive"], data[0]["negative"]) == (1, 3)
    assert data[0]["states"][0] == {"0:r0": 0, "1:r0": 0}
    assert data[0]["flags"] == []


def test_json_file(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    out = tmp_path / "out.json"
    assert main([str(tmp_path / "sb.litmus"), "--json", str(out)]) == 0
    assert "Observation SB" in capsys.readouterr().out
    assert json.loads(out.read_text())[0]["name"] == "SB"


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.litmus"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"mmactors: {missing}: no such file\n"


def test_parse_error_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.litmus"
    bad.write_text("C bad\n{}\nP0(int *x)\n{\n\twhile (1) { }\n}\nexists (x=0)\n")
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"mmactors: {bad}:5: unsupported statement 'while'\n"


def test_module_entry_point(tmp_path):
    (tmp_path / "sb.litmus").write_text(SB)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "mmactors.memmodel.cli", str(tmp_path / "sb.litmus")],
        cwd=root, capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Test SB Allowed")


def test_operational_run(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus"), "--model", "tso", "--run", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(HERD_SB.replace("Test SB Allowed", "Test SB Allowed"))
    assert "Operational tso: 40 schedules: reached 4 of 4 allowed states" in out
    assert main([str(tmp_path / "sb.litmus"), "--model", "sc", "--exhaustive"]) == 0
    out = capsys.readouterr().out
    assert "Operational sc: exhaustive search (" in out
    assert "reached 3 of 3 allowed states" in out


def test_operational_json(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus"), "--model", "tso", "--exhaustive",
                 "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)[0]
    op = doc["operational"]
    assert op["exhaustive"] and not op["forbidden"] and not op["allowed_not_reached"]
    assert {"0:r0": 0, "1:r0": 0} in op["reached"]


def test_operational_bad_count(tmp_path, capsys):
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus"), "--run", "0"]) == 2
    assert "--run needs N >= 1" in capsys.readouterr().err


# ------------------------------------------------ issue 11: budgets, Ctrl-C, bad input

def ring(n: int) -> str:
    """An RCU ring of n processes (2**n candidate executions) that stays
    slow: each write carries the value read plus one (a value that varies
    with the source), which keeps it off the product path (product.py)
    that would count it in a second.  (``r1 | 1`` would not: it is 1
    whatever the read returns, and the product takes it.)"""
    import re
    from .test_scale import rcu_ring
    return re.sub(r"WRITE_ONCE\(\*(x\d+), 1\)", r"WRITE_ONCE(*\1, r1 + 1)",
                  rcu_ring(("GGRR" * n)[:n]))


def _cli(*args, stdin=None, **kw):
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "mmactors", "litmus", *args], cwd=root,
                          capture_output=True, text=True, check=False, **kw)


def test_empty_directory_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"mmactors: {tmp_path}: no litmus tests (*.litmus) in this directory\n")


def test_bad_option_is_one_line(capsys):
    import pytest
    with pytest.raises(SystemExit) as info:
        main(["--model", "arm", "x.litmus"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmactors litmus: error: argument --model")


def test_binary_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "b.litmus"
    f.write_bytes(b"\xff\xfe\x00C x")
    assert main([str(f)]) == 2
    assert capsys.readouterr().err == f"mmactors: {f}: not a text file (UTF-8)\n"


def test_time_budget_gives_unknown(tmp_path, capsys):
    (tmp_path / "ring.litmus").write_text(ring(16))
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "ring.litmus"), str(tmp_path / "sb.litmus"),
                 "--timeout", "0.3"]) == 3
    out = capsys.readouterr().out
    assert out.startswith("Test ring-GGRRGGRRGGRRGGRR: unknown within budget (0.3 s: ")
    assert "Observation SB Sometimes 1 3" in out            # the next test still runs


def test_execution_budget_gives_unknown(tmp_path, capsys):
    (tmp_path / "ring.litmus").write_text(ring(12))
    assert main([str(tmp_path / "ring.litmus"), "--max-executions", "100", "--json", "-"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc == [{"name": "ring-GGRRGGRRGGRR", "model": "lkmm", "verdict": "unknown",
                    "budget": "100 candidate executions", "examined": 100}]
    assert main([str(tmp_path / "ring.litmus"), "--max-executions", "4096"]) == 0


def test_exhaustive_search_stops_at_its_budget(tmp_path, capsys):
    procs = [f"P{i}(int *x{i}, int *x{(i + 1) % 5}) {{ int r0; WRITE_ONCE(*x{i}, 1); "
             f"r0 = READ_ONCE(*x{(i + 1) % 5}); }}" for i in range(5)]
    (tmp_path / "sb5.litmus").write_text("C SB5\n{}\n" + "\n".join(procs) + "\nexists (0:r0=0)\n")
    assert main([str(tmp_path / "sb5.litmus"), "--model", "tso", "--exhaustive",
                 "--timeout", "1"]) == 3
    out = capsys.readouterr().out
    assert "Operational tso: exhaustive search stopped by the time budget after" in out
    assert "completeness unknown within budget" in out


def test_ctrl_c_stops_cleanly(tmp_path):
    import signal
    import time
    (tmp_path / "a.litmus").write_text(SB)
    (tmp_path / "b.litmus").write_text(ring(18))
    root = Path(__file__).resolve().parents[2]
    # A shell runs background jobs with SIGINT ignored, and the child would
    # inherit that (Python then installs no KeyboardInterrupt handler).
    proc = subprocess.Popen([sys.executable, "-m", "mmactors", "litmus", str(tmp_path)],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    out = ""
    while "Observation" not in out:         # the first test's output has arrived
        out += proc.stdout.readline()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out.startswith("Test SB Allowed\n")
    assert out.endswith("Observation SB Sometimes 1 3\n")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mmactors: interrupted while checking {tmp_path / 'b.litmus'}"
                               f" (test 2 of 2, ")
    assert "candidate executions examined); 1 test(s) done" in lines[0]


def test_progress_on_a_terminal(tmp_path):
    import os
    import pty
    (tmp_path / "ring.litmus").write_text(ring(18))
    master, slave = pty.openpty()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "mmactors", "litmus", "--timeout", "3",
                             str(tmp_path / "ring.litmus")], cwd=root,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 3
    assert out.startswith("Test ring-GGRRGGRRGGRRGGRRGG: unknown within budget (3 s: ")
    assert b"candidate executions" in err and b"ring-GGRRGGRRGGRRGGRRGG:" in err
    assert err.endswith(b"\r\x1b[K")        # the status line is cleared at the end


def test_internal_error_names_the_test(tmp_path, capsys, monkeypatch):
    from mmactors.memmodel.models import MODELS
    check_mod = sys.modules["mmactors.memmodel.check"]
    monkeypatch.setattr(MODELS["sc"], "check", lambda c: (False, set()))
    monkeypatch.setattr(check_mod, "sc_acyclic", lambda c: False)
    (tmp_path / "sb.litmus").write_text(SB)
    assert main([str(tmp_path / "sb.litmus"), "--model", "sc"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error: the sc model rejects every execution of test SB" in err
