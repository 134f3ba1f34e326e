"""Hypothesis throws mutated scenario files (built from the shipped ones) and
random ``--set`` pairs at the loader and the command line: every outcome is
a clean run (a documented exit status) or one line on stderr with exit
status 2, never a traceback."""
import contextlib
import io
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmactors import ScenarioError, parse_scenario
from mmactors.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").rglob("*.toml"))
TEXTS = [p.read_text() for p in SHIPPED]

KEYS = ["machine.cpus", "machine.nodes", "machine.memory_mib", "machine.movablecore_mib",
        "run.duration_ns", "run.seed", "run.strategy", "costs.line_transfer_ns",
        "costs.wakeup_ns", "workload.0.kind", "workload.0.cpus", "workload.0.hold_ns",
        "workload.0.think_ns", "workload.0.steps", "workload.0.order", "workload.0.gfp",
        "workload.1.lock", "workload.kind", "sysctl.vm.min_free_kbytes",
        "sysctl.vm.percpu_pagelist_high_fraction", "kconfig.CONFIG_PER_VMA_LOCK",
        "constants.PAGEVEC_SIZE", "lockdep.enabled", "lock.0.kind", "name", "description",
        "machine", "workload", "nope.x", "machine.cpus.x", "name.x"]

literals = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.sampled_from(["0", "1", "-1", "4096", "1e300", "nan", "inf", "true", "false", '""',
                     '"all"', "[0, 1]", "[]", "[[1]]", "{}", "{ a = 1 }", '"random:0.5"',
                     '"pct:2"', '"replay:v2abc"', '"GFP_KERNEL | __GFP_ZERO"', '"lock A"',
                     "1_000", "0x10", "'single'", '"\\u0000"']),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
)


@st.composite
def mutated(draw):
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.integers(0, 5))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if not lines:
            lines = [""]
        if op == 0:                                   # delete a line
            del lines[i]
        elif op == 1 and "=" in lines[i]:             # a new value for a key
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(literals)
        elif op == 2:                                 # a new key
            key = draw(st.sampled_from(["cpus", "kind", "steps", "hold_ns", "memory_mib",
                                        "order", "x", "enabled", "seed", "iterations"]))
            lines.insert(i, f"{key} = {draw(literals)}")
        elif op == 3:                                 # a table header changes
            lines.insert(i, draw(st.sampled_from(["[machine]", "[[workload]]", "[workload]",
                                                  "[run]", "[sysctl]", "[[lock]]", "[x]",
                                                  "[costs", "[[machine]]"])))
        elif op == 4:                                 # a stray character
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + draw(st.sampled_from(list("=[]\"'{},#\\\n"))) + lines[i][j:]
        else:                                         # duplicate a line
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


def _small(text) -> bool:
    """Worth running (a machine this test can build in a moment)."""
    try:
        scn = parse_scenario(text, "fuzz.toml")
    except ScenarioError:
        return True                                   # the CLI must refuse it, in one line
    m = scn.machine
    return m["cpus"] <= 64 and m.get("memory_mib", 0) <= 2048 and \
        all(w.get("region_mib", 0) <= 64 and w.get("mapping_mib", 0) <= 64
            for w in scn.workloads)


def run_main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:              # argparse refusing an option: its own exit
            code = e.code
    return code, out.getvalue(), err.getvalue()


def check(code, err):
    assert "Traceback" not in err, err
    assert code in (0, 2, 3, 4, 5, 6), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmactors"), err


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(text=mutated())
def test_the_loader_refuses_in_one_line(text):
    try:
        parse_scenario(text, "fuzz.toml")
    except ScenarioError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.toml")


@settings(deadline=None, max_examples=40, suppress_health_check=list(HealthCheck))
@given(text=mutated())
def test_the_cli_runs_or_refuses_mutated_scenarios(tmp_path_factory, text):
    if not _small(text):
        return
    f = tmp_path_factory.mktemp("fuzz") / "fuzz.toml"
    f.write_text(text)
    check(*run_main("run", f, "--duration", "2000", "--quiet", "--no-lockdep")[::2])


@settings(deadline=None, max_examples=40, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(SHIPPED),
       pairs=st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)),
                                literals), min_size=1, max_size=3))
def test_the_cli_runs_or_refuses_random_set_pairs(path, pairs):
    args = []
    for k, v in pairs:
        args += ["--set", f"{k}={v}"]
    try:                                              # skip what would build a huge machine
        ov = [(k, v) for k, v in pairs]
        text = path.read_text()
        scn = parse_scenario(text, str(path), ov)
        if scn.machine["cpus"] > 64 or scn.machine.get("memory_mib", 0) > 2048:
            return
    except (ScenarioError, tomllib.TOMLDecodeError):
        pass
    check(*run_main("run", path, *args, "--duration", "2000", "--quiet", "--no-lockdep")[::2])


def test_an_option_like_set_value_is_one_line():
    """Regression (found by the test above): ``--set -=0`` is an option to
    argparse; the refusal is still one line and exit status 2."""
    code, out, err = run_main("run", SHIPPED[0], "--set", "-=0")
    assert code == 2 and err.strip() == "mmactors run: error: argument --set: expected one argument"


# ------------------------------------------------------------------ litmus
LITMUS = sorted((ROOT / "scenarios" / "litmus").glob("*.litmus"))
LITMUS_TEXTS = [p.read_text() for p in LITMUS]
TOKENS = ["READ_ONCE(*x)", "WRITE_ONCE(*y, 1);", "smp_mb();", "r0", "r9", "int r1;", "{", "}",
          "(", ")", ";", "exists", "/\\", "\\/", "~", "=", "0:r0=1", "spin_lock(l);",
          "rcu_read_lock();", "synchronize_srcu(s);", "if (r0) {", "while (1)", "*(int *)x",
          "P9(int *x)", "x=1;", "Cycle=Rfe PodRR", "\"desc\"", "intptr_t r2 = x;", "(*", "*)",
          "\x00", "é", "1000000000000000000000"]


@st.composite
def litmus_text(draw):
    if draw(st.integers(0, 9)) == 0:                  # now and then: anything at all
        return draw(st.text(max_size=200))
    lines = draw(st.sampled_from(LITMUS_TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if not lines:
            lines = [""]
        op = draw(st.integers(0, 3))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, draw(st.sampled_from(TOKENS)))
        elif op == 2:
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + draw(st.sampled_from(TOKENS)) + lines[i][j:]
        else:
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


@settings(deadline=None, max_examples=60, suppress_health_check=list(HealthCheck))
@given(text=litmus_text(), model=st.sampled_from(["lkmm", "tso", "sc"]))
def test_the_litmus_cli_checks_or_refuses_random_files(tmp_path_factory, text, model):
    """A random or mutated litmus file is checked (exit 0), cut by its budget
    (3) or refused in one line naming the file (2); never a traceback, and
    never exit 1 (the checker's own internal error)."""
    f = tmp_path_factory.mktemp("litmus") / "fuzz.litmus"
    f.write_text(text, encoding="utf-8", errors="surrogateescape")
    code, out, err = run_main("litmus", f, "--model", model, "--timeout", "5",
                              "--max-executions", "20000")
    assert "Traceback" not in err, err
    assert code in (0, 2, 3), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmactors: ") and "fuzz.litmus" in lines[0], err
