"""The value lists of --param and --seeds (mmactors/sweep/values.py)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmactors.sweep.values import SweepSpecError, parse_param, parse_seeds, parse_values


@pytest.mark.parametrize("text,expected", [
    ("1..8", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("1,2,4..64", [1, 2, 4, 8, 16, 32, 64]),
    ("1,2..5", [1, 2, 3, 4, 5]),
    ("8,16..40", [8, 16, 24, 32, 40]),
    ("0,8,16..32", [0, 8, 16, 24, 32]),
    ("1,3,9..81", [1, 3, 9, 27, 81]),
    ("0..100:25", [0, 25, 50, 75, 100]),
    ("1..64:*4", [1, 4, 16, 64]),
    ("1..4,8..10", [1, 2, 3, 4, 8, 9, 10]),
    ("1,2,4..16,24,32", [1, 2, 4, 8, 16, 24, 32]),
    ("ticket,qspinlock", ["ticket", "qspinlock"]),
    ("true,false", [True, False]),
    ("0.5,1.5", [0.5, 1.5]),
    ('[0, 1],[2, 3]', [[0, 1], [2, 3]]),
    ('"a,b",c', ["a,b", "c"]),
    ("5", [5]),
])
def test_examples(text, expected):
    assert parse_values(text) == expected


@pytest.mark.parametrize("text,words", [
    ("1,3,4..64", "neither"), ("1,2,4..48", "does not reach 48"), ("8..1", "backwards"),
    ("1,1", "twice"), ("1,,2", "empty"), ("", "no values"), ("1..x", "a range is"),
    ("0..10:0", "step"), ("0..8:*2", "start >= 1"), ("1..1000000000", "more than"),
])
def test_refused_with_a_reason(text, words):
    with pytest.raises(SweepSpecError, match=words):
        parse_values(text)


def test_param_and_seeds():
    assert parse_param("machine.cpus=1,2,4..8") == ("machine.cpus", [1, 2, 4, 8])
    for bad in ("machine.cpus", "=1", "a..b=1", "run.seed=1,2", "run.strategy=x"):
        with pytest.raises(SweepSpecError):
            parse_param(bad)
    assert parse_seeds("3", base=7) == [7, 8, 9]
    assert parse_seeds(2, base=1) == [1, 2]
    assert parse_seeds("1,5,9", base=1) == [1, 5, 9]
    assert parse_seeds("10..12", base=1) == [10, 11, 12]
    for bad in ("0", "-1", "a,b", "1,1"):
        with pytest.raises(SweepSpecError):
            parse_seeds(bad, base=1)


@given(st.integers(-50, 50), st.integers(1, 20), st.integers(1, 30))
def test_arithmetic_ranges(a, step, n):
    vals = [a + step * i for i in range(n + 2)]
    # three written values then a range, two then a range, an explicit step
    assert parse_values(f"{vals[0]},{vals[1]},{vals[2]}..{vals[-1]}") == vals
    assert parse_values(f"{vals[0]},{vals[1]}..{vals[-1]}") == vals
    assert parse_values(f"{vals[0]}..{vals[-1]}:{step}") == vals


@given(st.integers(1, 9), st.integers(2, 5), st.integers(1, 8))
def test_geometric_ranges(a, r, n):
    vals = [a * r ** i for i in range(n + 2)]
    assert parse_values(f"{vals[0]},{vals[1]},{vals[2]}..{vals[-1]}") == vals
    assert parse_values(f"{vals[0]}..{vals[-1]}:*{r}") == vals


@given(st.text(max_size=30))
def test_any_text_parses_or_says_why(text):
    try:
        out = parse_values(text)
    except SweepSpecError as e:
        assert "\n" not in str(e).strip("\n") or "\n" in text
    else:
        assert out and len(out) == len({repr(v) for v in out})
