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
