"""The litmus tests shipped in scenarios/litmus/ have the verdicts that
their EXPECTED.tsv (derived by hand from each model) gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mmactors.memmodel import check, parse_litmus

DIR = Path(__file__).resolve().parents[2] / "scenarios" / "litmus"
ROWS = list(csv.DictReader((DIR / "EXPECTED.tsv").open(), delimiter="\t"))


def test_every_shipped_test_has_a_row():
    assert sorted(r["file"] for r in ROWS) == sorted(p.name for p in DIR.glob("*.litmus"))
    assert len(ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_shipped_verdicts(row):
    test = parse_litmus(DIR / row["file"])
    assert test.name == row["file"][:-len(".litmus")]
    for model in ("lkmm", "tso", "sc"):
        assert check(test, model).observation == row[model], model
        # the header comment says the same
        assert f"{model} {row[model]}" in (DIR / row["file"]).read_text()


def test_scenario_listing_ignores_litmus_folder():
    from mmactors.scenario import list_scenarios
    names = [name for name, _ in list_scenarios()]
    assert names and not any(n.startswith("litmus") for n in names)
