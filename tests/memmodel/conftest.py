"""Shared fixtures for the memory-model tests.

The kernel litmus tests are read in place from <project>/../shared/litmus
(or $MMACTORS_SHARED/litmus); tests needing them skip when it is absent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mmactors.memmodel.paths import litmus_dir  # noqa: E402


def shared_litmus() -> Path:
    return litmus_dir()


@pytest.fixture
def litmus_root() -> Path:
    d = shared_litmus()
    if not (d / "EXPECTED.tsv").is_file():
        pytest.skip(f"shared litmus data not found at {d} (set MMACTORS_SHARED)")
    return d
