"""The value lists of ``--param KEY=V1,V2,...`` and ``--seeds``.

A value list is items separated by commas (commas inside ``[...]`` or quotes
do not separate).  An item is either one value, read as ``--set`` reads it (a
TOML value: ``8``, ``0.5``, ``true``, ``"x"``, ``[0, 1]``; a bare word is a
string), or an integer range ``A..B``, both ends included.  The step of a
range is what a kernel engineer writing a CPU list means:

* ``1..8`` alone: every integer, 1, 2, ..., 8;
* ``A..B:S``: every S-th integer from A (``0..100:25`` = 0, 25, 50, 75, 100);
* ``A..B:*R``: A times powers of R (``1..64:*2`` = 1, 2, 4, ..., 64);
* after one single value P: the arithmetic progression P, A, ... (Haskell's
  ``[P, A .. B]``): ``8,16..64`` = 8, 16, 24, ..., 64, and ``1,2..8`` = 1..8;
* after two single values Q, P: the progression Q, P, A continues, arithmetic
  if P - Q = A - P, geometric if P / Q = A / P is a whole number
  (``1,2,4..64`` = 1, 2, 4, 8, 16, 32, 64; ``0,8,16..64`` steps by 8); anything
  else is refused, since nothing says which progression was meant.

Only the single values written since the last range count as "before" (so
``1..4,8..64`` is 1..4 then 8, 9, ..., 64).  A range must land exactly on its
end (``1,2,4..48`` is refused: write ``1,2,4..32,48``) and must not run
backwards; a value listed twice is refused.  These rules are checked by
Hypothesis in tests/test_sweep_values.py.
"""
from __future__ import annotations

import re
import tomllib

__all__ = ["SweepSpecError", "parse_values", "parse_param", "parse_seeds", "split_items",
           "MAX_VALUES"]

MAX_VALUES = 100_000          # one list; a typo like 1..10000000 should not hang


class SweepSpecError(ValueError):
    """A bad ``--param`` or ``--seeds``: one line, exit status 2."""


_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*(?::\s*(\*?)\s*(-?\d+)\s*)?$")


def split_items(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    items, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    items.append("".join(cur))
    return items


def _scalar(raw: str):
    """One value as ``--set`` reads it."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw                      # a bare word is a string


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _progression(a: int, b: int, step: int, ratio: int, item: str) -> list[int]:
    if b < a:
        raise SweepSpecError(f"{item}: the range runs backwards ({a} > {b})")
    out, v = [], a
    while v < b:
        out.append(v)
        if len(out) > MAX_VALUES:
            raise SweepSpecError(f"{item}: more than {MAX_VALUES:,} values")
        v = v * ratio if ratio else v + step
    if v != b:
        how = f"times {ratio}" if ratio else f"in steps of {step}"
        raise SweepSpecError(f"{item}: {a} {how} does not reach {b} (it goes "
                             f"{out[-1] if out else a} -> {v}); end the range on a value "
                             "of the progression and list the rest singly")
    out.append(b)
    return out


def _range(m: re.Match, before: list, item: str) -> list[int]:
    a, b = int(m.group(1)), int(m.group(2))
    if m.group(4) is not None:                       # explicit :S or :*R
        n = int(m.group(4))
        if m.group(3):
            if n < 2 or a < 1:
                raise SweepSpecError(f"{item}: a geometric range needs a ratio >= 2 and a "
                                     "start >= 1")
            return _progression(a, b, 0, n, item)
        if n < 1:
            raise SweepSpecError(f"{item}: the step must be >= 1")
        return _progression(a, b, n, 0, item)
    nums = [v for v in before if _is_int(v)]
    if len(nums) != len(before):                   # strings or floats before a range
        nums = []
    if len(nums) >= 2:
        q, p = nums[-2], nums[-1]
        if p - q == a - p and a > p:
            return _progression(a, b, a - p, 0, item)
        if q >= 1 and p % q == 0 and a % p == 0 and p // q == a // p >= 2:
            return _progression(a, b, 0, a // p, item)
        raise SweepSpecError(f"{item}: {q}, {p}, {a} is neither an arithmetic nor a "
                             "doubling-like progression; write the step (A..B:S or A..B:*R)")
    if len(nums) == 1:
        p = nums[0]
        if a <= p:
            raise SweepSpecError(f"{item}: after {p} a range must start above it")
        return _progression(a, b, a - p, 0, item)
    return _progression(a, b, 1, 0, item)


def parse_values(text: str, what: str = "value list") -> list:
    """The values of one list, in order (see the module docstring)."""
    if not text.strip():
        raise SweepSpecError(f"{what}: no values")
    out: list = []
    before: list = []           # single values since the last range
    for raw in split_items(text):
        item = raw.strip()
        if not item:
            raise SweepSpecError(f"{what}: an empty item (two commas, or one at an end)")
        m = _RANGE.match(item)
        if m:
            out.extend(_range(m, before, f"{what}: {item}"))
            before = []
        elif ".." in item and not item.startswith(("\"", "'", "[")):
            raise SweepSpecError(f"{what}: {item}: a range is INT..INT, INT..INT:STEP or "
                                 "INT..INT:*RATIO")
        else:
            v = _scalar(item)
            out.append(v)
            before.append(v)
        if len(out) > MAX_VALUES:
            raise SweepSpecError(f"{what}: more than {MAX_VALUES:,} values")
    seen = set()
    for v in out:
        key = repr(v)
        if key in seen:
            raise SweepSpecError(f"{what}: {v!r} is listed twice")
        seen.add(key)
    return out


def parse_param(spec: str) -> tuple[str, list]:
    """``KEY=V1,V2,...`` -> (KEY, values)."""
    if "=" not in spec:
        raise SweepSpecError(f"--param {spec}: needs KEY=V1,V2,... (e.g. machine.cpus=1,2,4..64)")
    key, text = spec.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise SweepSpecError(f"--param {spec}: a key is names joined by dots, e.g. machine.cpus")
    if key in ("run.seed", "run.strategy"):
        opt = "--seeds" if key == "run.seed" else "--strategy"
        raise SweepSpecError(f"--param {key}: use {opt}")
    return key, parse_values(text, f"--param {key}")


def parse_seeds(spec, base: int) -> list[int]:
    """``--seeds N`` (N seeds from the scenario's seed on), or a list/range
    (``1,5,9``, ``1..10``).  An int is a count."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        n = spec
    elif isinstance(spec, str) and spec.strip().isdigit():
        n = int(spec)
    else:
        vals = parse_values(spec, "--seeds") if isinstance(spec, str) else list(spec)
        if not vals or not all(_is_int(v) and v >= 0 for v in vals):
            raise SweepSpecError(f"--seeds {spec}: seeds are integers >= 0")
        if len(set(vals)) != len(vals):
            raise SweepSpecError(f"--seeds {spec}: a seed is listed twice")
        return vals
    if n < 1:
        raise SweepSpecError(f"--seeds {spec}: at least one seed")
    if n > MAX_VALUES:
        raise SweepSpecError(f"--seeds {spec}: more than {MAX_VALUES:,} seeds")
    return list(range(base, base + n))
