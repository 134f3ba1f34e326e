"""Field and value checks for scenario tables, and the descriptor each subsystem
exports: the bottom layer every other part of the package may import.

Why a module of its own
-----------------------
Every subsystem owns its knobs (``vm.swappiness`` belongs to reclaim,
``CONFIG_PER_VMA_LOCK`` to the fault path), so the declarations live beside
the code that reads them.  But nothing *registers* itself by being imported:
a subsystem exports its knobs, sections and build function as plain data in
one :class:`Subsystem` value, each workload kind exports its :class:`Field`
list, ``scenario.py`` builds the schema from those lists and ``machine.py``
builds the subsystems from the same list, in order.  For that to work without
import cycles, the vocabulary they share (a field, a check, an error with a
file and a line) sits here, below everything, importing nothing of ours but
the error type.

Every error is a :class:`~mmactors._core.errors.ScenarioError`: one line
naming the file, the line where known, and the key
(``scenarios/x.toml:7: workload[0].think_ns: must be an integer >= 0, got -5``).
tomllib does not report positions of keys, so :class:`LineMap` maps table
paths and keys back to lines with a small scanner.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ._core.errors import ScenarioError

__all__ = ["Field", "Ctx", "LineMap", "Section", "Subsystem", "check_table", "at_least",
           "between", "one_of", "knob_section", "nanoseconds", "NS_MAX", "COST_MAX_NS",
           "ScenarioError"]


# --------------------------------------------------------------------- lines
class LineMap:
    """Where each table and key of a TOML text is, as far as a line scan can tell."""

    _HDR = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_.\-]+)\s*=')

    def __init__(self, text: str):
        self.where: dict[tuple, int] = {}
        counts: dict[str, int] = {}
        cur: tuple = ()
        for i, line in enumerate(text.splitlines(), 1):
            m = self._HDR.match(line)
            if m:
                name = m.group(2).strip().strip('"')
                if m.group(1) == "[[":
                    idx = counts.get(name, 0)
                    counts[name] = idx + 1
                    cur = (name, idx)
                else:
                    cur = (name,)
                self.where.setdefault(cur, i)
                continue
            m = self._KEY.match(line)
            if m:
                key = m.group(1).strip("\"'")
                self.where.setdefault(cur + (key,), i)

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.where:
                return self.where[path]
            path = path[:-1]
        return None


class Ctx:
    """Validation context: the file, its line map, and how to make an error."""

    def __init__(self, path: str, lines: LineMap):
        self.path, self.lines = path, lines

    def error(self, tpath: tuple, key: str | None, msg: str) -> ScenarioError:
        full = tpath + ((key,) if key else ())
        return ScenarioError(self.path, label(full), msg, self.lines.line(full))


def label(path: tuple) -> str:
    """``("workload", 0, "think_ns")`` -> ``workload[0].think_ns``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + (p if re.fullmatch(r"[A-Za-z0-9_\-]+", p)
                                           else json.dumps(p))
    return out


# -------------------------------------------------------------------- fields
@dataclass(frozen=True)
class Field:
    """One key of a table: its type, default, a check, and a line of doc."""
    name: str
    type: Any                       # a type or tuple of types (bool is never an int)
    default: Any = None
    required: bool = False
    check: Callable[[Any], str | None] | None = None   # returns an error or None
    doc: str = ""


def _type_ok(value, typ) -> bool:
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool) and bool not in types:
        return False
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, types)


def _type_name(typ) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "a boolean",
             list: "a list", dict: "a table"}
    types = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_table(ctx: Ctx, tpath: tuple, table: Any, spec: list[Field] | tuple,
                allow_extra: bool = False, what: str = "key") -> dict:
    """Validate ``table`` against ``spec``; return it with defaults filled in."""
    if not isinstance(table, dict):
        raise ctx.error(tpath, None, f"must be a table, got {type(table).__name__}")
    by_name = {f.name: f for f in spec}
    if not allow_extra:
        for k in table:
            if k not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise ctx.error(tpath, k, f"unknown {what} (known: {known})")
    out = dict(table)
    for f in spec:
        if f.name not in table:
            if f.required:
                raise ctx.error(tpath, f.name, "is required")
            out[f.name] = copy.deepcopy(f.default)
            continue
        v = table[f.name]
        if not _type_ok(v, f.type):
            raise ctx.error(tpath, f.name, f"must be {_type_name(f.type)}, got {v!r}")
        if f.check is not None:
            msg = f.check(v)
            if msg:
                raise ctx.error(tpath, f.name, msg)
    return out


# The longest virtual time any key may name (the run's duration, a think
# time, a delay): 10**13 ns is 2.8 hours, far beyond any run the engine can
# simulate; larger values are typing mistakes, not experiments.
NS_MAX = 10**13
# The largest cost of one operation: a second.  Slower than any device.
COST_MAX_NS = 10**9


def nanoseconds(lo: int = 0, hi: int = NS_MAX):
    """The check of a time in nanoseconds: ``lo`` to ``hi`` (default NS_MAX)."""
    return lambda v: None if lo <= v <= hi else \
        f"must be between {lo:,} and {hi:,} ns, got {v:,}"


def at_least(lo):
    return lambda v: None if v >= lo else f"must be >= {lo}, got {v}"


def between(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}"


def one_of(*choices):
    return lambda v: None if v in choices else \
        f"must be one of {', '.join(map(str, choices))}, got {v!r}"


# ------------------------------------------------------------------ sections
@dataclass(frozen=True)
class Section:
    """A top-level table a subsystem or workload kind owns (``[lockdep]``,
    ``[[lock]]``): ``validate(ctx, value, machine) -> value`` and the value
    when the scenario does not have the table."""
    name: str
    validate: Callable[[Ctx, Any, dict], Any]
    default: Callable[[], Any]


def knob_section(title: str, knobs: list[Field]) -> Section:
    """``[sysctl]``, ``[kconfig]``, ``[constants]`` or ``[sysfs]``: every knob has a value
    (its kernel default unless the scenario sets it); an unknown one is an
    error listing the known ones."""
    def validate(ctx, table, machine):
        if not isinstance(table, dict):
            raise ctx.error((), title, "must be a table")
        return check_table(ctx, (title,), table, knobs, what=f"{title} knob")

    def default():
        return {f.name: copy.deepcopy(f.default) for f in knobs}
    return Section(title, validate, default)


# ---------------------------------------------------------------- subsystems
@dataclass(frozen=True)
class Subsystem:
    """What a subsystem tells the scenario loader and the machine, as data.

    ``machine``, ``sysctl``, ``kconfig``, ``constants``, ``sysfs``: the keys it
    adds to those tables, with the kernel's names and defaults (``sysfs`` keys
    are paths below /sys, e.g. ``kernel/mm/transparent_hugepage/enabled``).  ``sections``: whole
    tables it owns.  ``check(ctx, scenario_parts)``: cross-key checks once
    every table is validated (``scenario_parts`` has ``machine``,
    ``sections``, ``workloads`` and ``needs``); raise ``ctx.error``.
    ``build(machine)``: the subsystem object for a machine, or None when the
    scenario does not use it.  ``machine.py`` calls the builds in the order
    ``scenario.SUBSYSTEMS`` lists them."""
    name: str
    machine: tuple = ()
    sysctl: tuple = ()
    kconfig: tuple = ()
    constants: tuple = ()
    sysfs: tuple = ()
    sections: tuple = ()
    check: Callable | None = None
    build: Callable | None = None
    doc: str = field(default="", compare=False)
