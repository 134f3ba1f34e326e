"""herd7-style text output and JSON output for check results."""

from __future__ import annotations

import json

from .check import Result, format_value


def herd_lines(r: Result) -> list:
    """The lines herd7 prints for a test (without its Time and Hash lines)."""
    lines = [f"Test {r.name} {r.kind}", f"States {len(r.states)}"]
    lines.extend(r.state_strings())
    lines.append("Ok" if r.ok else "No")
    lines.append("Witnesses")
    p, n = r.witnesses
    lines.append(f"Positive: {p} Negative: {n}")
    lines.extend(f"Flag {f}" for f in r.flags)
    lines.append(f"Condition {r.condition}")
    lines.append(f"Observation {r.name} {r.observation} {r.positive} {r.negative}")
    return lines


def herd_text(r: Result) -> str:
    return "\n".join(herd_lines(r)) + "\n"


def to_json(r: Result) -> dict:
    return {
        "name": r.name,
        "model": r.model,
        "verdict": "Ok" if r.ok else "No",
        "kind": r.kind,
        "condition": r.condition,
        "observation": r.observation,
        "positive": r.positive,
        "negative": r.negative,
        "states": [
            {str(loc): (v if isinstance(v, int) else format_value(v))
             for loc, v in zip(r.locations, st)}
            for st in r.states
        ],
        "flags": list(r.flags),
    }


def dumps(results: list) -> str:
    """A JSON array of results (plain dicts, e.g. a test unknown within its
    budget, are written as they are)."""
    return json.dumps([to_json(r) if isinstance(r, Result) else r for r in results],
                      indent=2) + "\n"
