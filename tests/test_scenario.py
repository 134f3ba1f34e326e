"""Scenario validation: every error is one line naming file, line and key."""
import subprocess
import sys

import pytest

from mmactors import ScenarioError, parse_scenario

GOOD = """\
[machine]
cpus = 48
nodes = 1

[costs]
line_transfer_ns = 100    # one cache-line transfer within a node

[[workload]]
kind = "lock-loop"
cpus = "all"
lock = "ticket"
think_ns = 20000
hold_ns = 400

[run]
duration_ns = 20000000
seed = 1
strategy = "random"
"""


def test_issue_example_parses_exactly():
    s = parse_scenario(GOOD, "x.toml")
    assert (s.machine["cpus"], s.machine["nodes"]) == (48, 1)
    assert s.machine["memory_mib"] == 0          # other subsystems' keys get their defaults
    assert s.costs.line_transfer_ns == 100
    w = s.workloads[0]
    assert (w["kind"], w["lock"], w["think_ns"], w["hold_ns"]) == ("lock-loop", "ticket", 20000, 400)
    assert w["_cpus"] == list(range(48))
    assert s.run == {"duration_ns": 20000000, "seed": 1, "strategy": "random"}


def _err(text):
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(text, "bad.toml")
    return str(ei.value)


@pytest.mark.parametrize("old,new,expect", [
    ("nodes = 1", "nodez = 1", "bad.toml:3: machine.nodez: unknown key"),
    ("cpus = 48", 'cpus = "many"', "bad.toml:2: machine.cpus: must be an integer"),
    ("cpus = 48", "cpus = 0", "bad.toml:2: machine.cpus: must be between 1 and 4096"),
    ("cpus = 48", "cpus = true", "bad.toml:2: machine.cpus: must be an integer"),
    ("nodes = 1", "nodes = 5", "bad.toml:3: machine.nodes: 48 cpus do not split evenly"),
    ("line_transfer_ns = 100", "line_transfer_ns = -1",
     "bad.toml:6: costs.line_transfer_ns: must be between 0 and 1,000,000,000 ns"),
    ("line_transfer_ns = 100", "line_xfer_ns = 1", "bad.toml:6: costs.line_xfer_ns: unknown key"),
    ('kind = "lock-loop"', 'kind = "lock-lop"', "bad.toml:9: workload[0].kind: unknown workload kind"),
    ('cpus = "all"', "cpus = [0, 99]", "bad.toml:10: workload[0].cpus: cpu 99 does not exist"),
    ('cpus = "all"', "cpus = [1, 1]", "bad.toml:10: workload[0].cpus: lists a CPU twice"),
    ('cpus = "all"', 'cpus = "some"', "bad.toml:10: workload[0].cpus: must be \"all\""),
    ('lock = "ticket"', 'lock = "spinny"', "bad.toml:11: workload[0].lock: must be one of"),
    ("think_ns = 20000", "think_ns = -5", "bad.toml:12: workload[0].think_ns: must be between 0 and"),
    ("hold_ns = 400", "hold_ns = 4.5", "bad.toml:13: workload[0].hold_ns: must be an integer"),
    ("hold_ns = 400", "hold_ms = 4", "bad.toml:13: workload[0].hold_ms: unknown key"),
    ("duration_ns = 20000000", "duration_ns = 0", "bad.toml:16: run.duration_ns: must be between"),
    ('strategy = "random"', 'strategy = "fifo"', "bad.toml:18: run.strategy: unknown strategy"),
    ('strategy = "random"', 'strategy = "pct:0"', "bad.toml:18: run.strategy: pct:D needs D >= 1"),
    ("[run]", "[runn]", "bad.toml:15: runn: unknown table or key"),
    ("seed = 1", "seed = ", "bad.toml:17: TOML syntax error"),
])
def test_validation_errors(old, new, expect):
    assert old in GOOD
    msg = _err(GOOD.replace(old, new, 1))
    assert msg.startswith(expect), msg
    assert "\n" not in msg


def test_missing_workload_and_kind():
    assert "has no [[workload]]" in _err("[machine]\ncpus = 2\n")
    assert "workload[0].kind: is required" in _err("[[workload]]\ncpus = [0]\n")


def test_two_workloads_on_one_cpu():
    text = GOOD + '\n[[workload]]\nkind = "lock-loop"\ncpus = [3]\n'
    assert "workload[1].cpus: cpu 3 is already used by workload[0]" in _err(text)


def test_lock_sequence_errors():
    base = ('[[lock]]\nname = "A"\nkind = "spinlock"\n[[workload]]\nkind = "lock-sequence"\n'
            'cpus = [0]\nsteps = [STEPS]\n')
    assert "no [[lock]] named 'B'" in _err(base.replace("STEPS", '"lock B"'))
    assert "expected 'VERB ARG'" in _err(base.replace("STEPS", '"grab A"'))
    assert "which has no read side" in _err(base.replace("STEPS", '"read_lock A"'))
    dup = '[[lock]]\nname = "A"\nkind = "mutex"\n' + base.replace("STEPS", '"lock A"')
    assert "lock 'A' is declared twice" in _err(dup)
    assert "lock[0].kind: must be one of" in _err(base.replace('"spinlock"', '"spin"')
                                                  .replace("STEPS", '"lock A"'))


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mmactors", *args], capture_output=True,
                          text=True, **kw)


def test_cli_bad_scenario_is_one_line_exit_2(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(GOOD.replace("think_ns = 20000", "think_ns = -5"))
    r = _cli("run", str(p))
    assert r.returncode == 2
    assert r.stderr.strip() == f"mmactors: {p}:12: workload[0].think_ns: must be between 0 and 10,000,000,000,000 ns, got -5"
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_cli_missing_file_and_bad_options(tmp_path):
    r = _cli("run", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "no such scenario file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("run", "--strategy", "bogus")
    assert r.returncode == 2 and "unknown strategy" in r.stderr and "Traceback" not in r.stderr
    r = _cli("run", "--seed", "x")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = _cli("run", "--set", "machine.cpus=0", "--quiet")
    assert r.returncode == 2 and "machine.cpus: must be between 1 and 4096" in r.stderr


def test_two_race_workloads_are_refused_at_validation():
    """The machine has one memory model: a second race workload is a scenario
    error found while validating, with its line, not while building."""
    text = """
[machine]
cpus = 4
[[workload]]
kind = "race"
program = "page-counter"
cpus = [0, 1]
[[workload]]
kind = "race"
program = "lru-isolate"
cpus = [2, 3]
"""
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(text, "two.toml")
    assert str(ei.value).startswith("two.toml:9: workload[1].kind: only one 'race' workload")
