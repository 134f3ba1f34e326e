"""Where the shared litmus reference data lives.

The kernel's litmus tests and LKMM files are read in place from
``<project root>/../shared/litmus`` (beside the clone, in CI too), or from
``$MMACTORS_SHARED/litmus`` when the ``MMACTORS_SHARED`` variable names the
shared directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    env = os.environ.get("MMACTORS_SHARED")
    if env:
        return Path(env)
    return PROJECT_ROOT.parent / "shared"


def litmus_dir(shared: Optional[Path] = None) -> Path:
    """The ``litmus`` folder (accepts the shared dir or the litmus dir itself)."""
    base = Path(shared) if shared is not None else shared_dir()
    return base if (base / "EXPECTED.tsv").is_file() else base / "litmus"


def expected_rows(shared: Optional[Path] = None) -> list:
    """Rows of EXPECTED.tsv: (name, expected, path under kernel/, nprocs)."""
    d = litmus_dir(shared)
    rows = []
    lines = (d / "EXPECTED.tsv").read_text().splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        name, expected, rel, nprocs = line.split("\t")
        rows.append((name, expected, d / "kernel" / rel, int(nprocs)))
    return rows


def agrees(expected: str, observation: str, positive: int, negative: int) -> bool:
    """herd7's DEADLOCK is "Never 0 0": no execution completes."""
    if expected == "DEADLOCK":
        return observation == "Never" and positive == 0 and negative == 0
    return expected == observation
