"""LKMM results agree with herd7 7.57 on every row of EXPECTED.tsv."""

from __future__ import annotations

import pytest

from mmactors.memmodel import check, parse_litmus
from mmactors.memmodel.paths import agrees, expected_rows

from .conftest import shared_litmus

try:
    ROWS = expected_rows(shared_litmus())
except OSError:
    ROWS = []


@pytest.mark.skipif(not ROWS, reason="shared litmus data (EXPECTED.tsv) not found; "
                    "set MMACTORS_SHARED to the shared dir")
@pytest.mark.parametrize("name, expected, path", [(r[0], r[1], r[2]) for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_expected(name, expected, path):
    result = check(parse_litmus(path), "lkmm")
    assert result.name == name
    assert agrees(expected, result.observation, result.positive, result.negative), (
        f"{name}: expected {expected}, got {result.observation} "
        f"{result.positive} {result.negative}")


def test_table_is_complete(litmus_root):
    assert len(ROWS) == 47
