"""Issue 11.8: every command in the README's litmus section prints what the
README shows (the commands' deterministic output, trailing blank lines
aside)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = ("### Litmus tests: the checker and the engine", "### The race detector")


def readme_examples() -> list:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(SECTION[0]), text.index(SECTION[1])
    examples = []
    for block in re.findall(r"```\n(.*?)```", text[start:end], re.S):
        current = None
        for line in block.split("\n"):
            if line.startswith("$ "):
                current = [line[2:], []]
                examples.append(current)
            elif current is not None:
                current[1].append(line)
    return [(cmd, "\n".join(out).rstrip("\n")) for cmd, out in examples]


EXAMPLES = readme_examples()


def test_section_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("cmd, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_litmus_example(cmd, expected):
    assert cmd.startswith("mmactors litmus ")
    shell = f"{sys.executable} -m {cmd}"
    proc = subprocess.run(shell, shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.stdout.rstrip("\n") == expected, proc.stderr
