"""The README's commands run as written and print what the README shows.

Every ``$ command`` line in a fenced block is run (``mmactors``, ``python`` and
``pytest`` are this environment's), and the lines after it are compared with
its output, in order, as a subsequence of the output's lines:

* ``...`` alone skips any number of lines; inside a line it stands for any
  text, so ``workloads: 7,758 ops ...`` matches the start of that line;
* runs of spaces compare equal whatever their length (column widths vary);
* wall-clock figures (``in 0.31 s``, ``372 runs/s``) are not compared;
* a last line ``exit status N`` is the command's exit status.

Commands in the README's indented command lists (``    mmactors run ...``)
are run too and must exit 0; benchmark scripts are left to ``tools/bench``.
"""
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

# Wall-clock figures, and what Hypothesis's random search happens to find.
VOLATILE = [
    (re.compile(r"\d[\d,]*(\.\d+)? ?s\b(?!\w)"), "N s"),
    (re.compile(r"\d[\d,]*(\.\d+)? runs/s"), "N runs/s"),
    (re.compile(r"\d+ failed in \S+"), "N failed in T"),
]


def _norm(line: str) -> str:
    for rx, sub in VOLATILE:
        line = rx.sub(sub, line)
    return re.sub(r"\s+", " ", line).strip()


def examples():
    """(line number, command, expected lines, python block before it)."""
    out = []
    lines = README.splitlines()
    i, last_python = 0, None
    while i < len(lines):
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip()
            j = i + 1
            block = []
            while j < len(lines) and not lines[j].startswith("```"):
                block.append(lines[j])
                j += 1
            if lang == "python":
                last_python = "\n".join(block) + "\n"
            elif not lang:
                k = 0
                while k < len(block):
                    if block[k].startswith("$ "):
                        start = i + 2 + k
                        cmd = block[k][2:]
                        while cmd.endswith("\\"):
                            k += 1
                            cmd = cmd[:-1] + " " + block[k].strip()
                        k += 1
                        exp = []
                        while k < len(block) and not block[k].startswith("$ "):
                            exp.append(block[k])
                            k += 1
                        if cmd.strip() == "echo $?" and out:
                            # the exit status of the command before it
                            prev = out[-1]
                            out[-1] = (prev[0], prev[1], prev[2] + [f"exit status {exp[0].strip()}"],
                                       prev[3])
                            continue
                        out.append((start, cmd, exp, last_python))
                    else:
                        k += 1
            i = j + 1
        else:
            i += 1
    return out


def command_lists():
    """Indented ``    mmactors ...`` lines (no output shown), as line, command."""
    out = []
    for n, line in enumerate(README.splitlines(), 1):
        m = re.match(r"^    (mmactors \S.*?)(\s{2,}#.*)?$", line)
        if m:
            out.append((n, m.group(1)))
    return out


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """A bin directory whose mmactors, python and pytest are this environment's."""
    bin_dir = tmp_path_factory.mktemp("bin")
    py = shlex.quote(sys.executable)
    for name, body in (("mmactors", f"exec {py} -m mmactors \"$@\""),
                       ("python", f"exec {py} \"$@\""),
                       # a fixed Hypothesis seed: the README's search example must find
                       # its bug on every run, not on most (it once missed)
                       ("pytest", f"exec {py} -m pytest -p no:cacheprovider "
                                  f"--hypothesis-seed=1 \"$@\"")):
        f = bin_dir / name
        f.write_text(f"#!/bin/sh\n{body}\n")
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", COLUMNS="400")
    env.pop("MMACTORS_LOCKDEP", None)

    def run(cmd, cwd=ROOT):
        return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
    return run


def _matches(expected: str, actual: str) -> bool:
    parts = [p for p in (_norm(x) for x in expected.split("...")) if p]
    pos = 0
    a = _norm(actual)
    for p in parts:
        k = a.find(p, pos)
        if k < 0:
            return False
        pos = k + len(p)
    if not expected.strip().startswith("...") and parts and not a.startswith(parts[0]):
        return False
    return True


EXAMPLES = examples()


@pytest.mark.no_lockdep
@pytest.mark.parametrize("line,cmd,expected,python", EXAMPLES,
                         ids=[f"README:{e[0]}" for e in EXAMPLES])
def test_readme_example(shell, tmp_path, line, cmd, expected, python):
    cwd = ROOT
    if cmd.startswith("pytest "):                     # the test file is the python block above
        cwd = tmp_path
        (tmp_path / cmd.split()[1]).write_text(textwrap.dedent(python))
        (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    before = set(os.listdir(ROOT))
    r = shell(cmd, cwd=cwd)
    for f in set(os.listdir(ROOT)) - before:          # files the example wrote (out.json ...)
        (ROOT / f).unlink()
    exp = [e for e in expected if e.strip()]
    status = None
    if exp and re.fullmatch(r"exit status \d+", exp[-1].strip()):
        status = int(exp.pop().split()[-1])
    got = (r.stdout + r.stderr).splitlines()
    if status is not None:
        assert r.returncode == status, f"README:{line}: exit {r.returncode}\n{r.stderr}"
    i = 0
    for e in exp:
        if e.strip() == "...":
            continue
        while i < len(got) and not _matches(e, got[i]):
            i += 1
        assert i < len(got), (f"README:{line}: `{cmd}` printed no line like\n  {e!r}\n"
                              f"--- it printed:\n" + "\n".join(got[:80]))
        i += 1


@pytest.mark.no_lockdep
@pytest.mark.parametrize("line,cmd", command_lists(), ids=lambda x: str(x))
def test_readme_command_lists_run(shell, line, cmd):
    before = set(os.listdir(ROOT))
    r = shell(cmd + " --quiet" if cmd.startswith("mmactors run") else cmd)
    for f in set(os.listdir(ROOT)) - before:
        (ROOT / f).unlink()
    assert r.returncode == 0, f"README:{line}: `{cmd}` exited {r.returncode}\n{r.stderr}"


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 10 and len(command_lists()) >= 5
