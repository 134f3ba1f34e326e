"""Scenario files: the TOML schema and its validation.

A scenario is a TOML file with these tables (later subsystems add their own
through :func:`register_section`; workload kinds through
``mmactors.workloads.register``):

``name``, ``description``   strings, optional
``[machine]``               cpus, nodes, ...
``[costs]``                 overrides of :class:`mmactors.costs.CostModel`
``[[workload]]``            what the CPUs run; ``kind`` selects the schema
``[run]``                   duration_ns, seed, strategy

Every error is a :class:`ScenarioError`: one line naming the file, the line
where known, and the key (``scenarios/x.toml:7: workload[0].think_ns: must be
an integer >= 0, got -5``).  tomllib does not report positions of keys, so a
small scanner (:class:`_Lines`) maps table paths and keys back to lines.
"""
from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from ._core.errors import ScenarioError
from .costs import CostModel

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario", "Field",
           "check_table", "register_section", "apply_override", "find_scenario",
           "list_scenarios", "DEFAULT_SCENARIO", "register_machine_field"]

PACKAGE_DIR = Path(__file__).resolve().parent
# The built-in default scenario ships inside the package, so it works from any install.
DEFAULT_SCENARIO = PACKAGE_DIR / "data" / "default.toml"


# --------------------------------------------------------------------- lines
class _Lines:
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


# -------------------------------------------------------------------- fields
@dataclass
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


class Ctx:
    """Validation context: the file, its line map, and the path being checked."""

    def __init__(self, path: str, lines: _Lines):
        self.path, self.lines = path, lines

    def error(self, tpath: tuple, key: str | None, msg: str) -> ScenarioError:
        label = _label(tpath + ((key,) if key else ()))
        line = self.lines.line(tpath + ((key,) if key else ()))
        return ScenarioError(self.path, label, msg, line)


def _label(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + (p if re.fullmatch(r"[A-Za-z0-9_\-]+", p) else f'"{p}"')
    return out


def check_table(ctx: Ctx, tpath: tuple, table: Any, spec: list[Field],
                allow_extra: bool = False) -> dict:
    """Validate ``table`` against ``spec``; return it with defaults filled in."""
    if not isinstance(table, dict):
        raise ctx.error(tpath, None, f"must be a table, got {type(table).__name__}")
    by_name = {f.name: f for f in spec}
    if not allow_extra:
        for k in table:
            if k not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise ctx.error(tpath, k, f"unknown key (known: {known})")
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


def at_least(lo):
    return lambda v: None if v >= lo else f"must be >= {lo}, got {v}"


def between(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}"


def one_of(*choices):
    return lambda v: None if v in choices else \
        f"must be one of {', '.join(map(str, choices))}, got {v!r}"


# ------------------------------------------------------------------ sections
MACHINE_FIELDS = [
    Field("cpus", int, 4, check=between(1, 4096), doc="number of CPUs"),
    Field("nodes", int, 1, check=between(1, 64), doc="NUMA nodes; CPUs split evenly"),
]

def register_machine_field(f: Field):
    """Let a subsystem add a ``[machine]`` key (``memory_mib``, ...)."""
    MACHINE_FIELDS.append(f)


RUN_FIELDS = [
    Field("duration_ns", int, 5_000_000, check=between(1, 10**13),
          doc="virtual run time in nanoseconds"),
    Field("seed", int, 1, doc="seed of every random choice"),
    Field("strategy", str, "random", doc="random | random:P | pct:D | replay:TOKEN"),
]

_cost_fields = [Field(f.name, int, f.default, check=at_least(0), doc=f.metadata["doc"])
                for f in fields(CostModel)]

# Extra top-level sections: name -> (validator(ctx, table) -> value, default).
_SECTIONS: dict[str, tuple[Callable, Callable[[], Any]]] = {}


def register_section(name: str, validate: Callable, default: Callable[[], Any]):
    """Let a subsystem own a top-level table (``[sysctl]``, ``[kconfig]``, ``[[lock]]``)."""
    _SECTIONS[name] = (validate, default)


@dataclass
class Scenario:
    path: str
    name: str
    description: str
    machine: dict
    costs: CostModel
    workloads: list          # validated workload specs (dicts with "kind")
    run: dict
    sections: dict = field(default_factory=dict)
    text: str = ""

    @property
    def cpus(self) -> int:
        return self.machine["cpus"]


def parse_scenario(text: str, path: str = "<scenario>",
                   overrides: list[tuple[str, Any]] | None = None) -> Scenario:
    from . import sysctl as _sysctl  # noqa: F401  (registers [sysctl], [kconfig], [constants])
    from .workloads import validate_workload   # the registry of workload kinds

    lines = _Lines(text)
    ctx = Ctx(path, lines)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ScenarioError(path, None, f"TOML syntax error: {msg}", line) from None
    for key, value in overrides or []:
        apply_override(ctx, data, key, value)

    known = {"name", "description", "machine", "costs", "workload", "run", *_SECTIONS}
    for k in data:
        if k not in known:
            raise ctx.error((), k, f"unknown table or key (known: {', '.join(sorted(known))})")
    for k in ("name", "description"):
        if k in data and not isinstance(data[k], str):
            raise ctx.error((), k, f"must be a string, got {data[k]!r}")
    machine = check_table(ctx, ("machine",), data.get("machine", {}), MACHINE_FIELDS)
    if machine["cpus"] % machine["nodes"]:
        raise ctx.error(("machine",), "nodes",
                        f"{machine['cpus']} cpus do not split evenly over {machine['nodes']} nodes")
    costs = check_table(ctx, ("costs",), data.get("costs", {}), _cost_fields)
    run = check_table(ctx, ("run",), data.get("run", {}), RUN_FIELDS)
    from ._core.strategies import StrategyError, make_strategy
    try:
        make_strategy(run["strategy"], run["seed"])
    except StrategyError as e:
        raise ctx.error(("run",), "strategy", str(e)) from None
    sections = {}
    for name, (validate, default) in _SECTIONS.items():
        sections[name] = validate(ctx, data[name], machine) if name in data else default()
    wl = data.get("workload", [])
    if isinstance(wl, dict):
        wl = [wl]
    if not isinstance(wl, list):
        raise ctx.error((), "workload", "must be an array of tables ([[workload]])")
    workloads = [validate_workload(ctx, ("workload", i), w, machine, sections)
                 for i, w in enumerate(wl)]
    if not workloads:
        raise ctx.error((), "workload", "the scenario has no [[workload]]: nothing would run")
    claimed: dict[int, int] = {}
    for i, w in enumerate(workloads):
        for c in w["_cpus"]:
            if c in claimed:
                raise ctx.error(("workload", i), "cpus",
                                f"cpu {c} is already used by workload[{claimed[c]}]")
            claimed[c] = i
    return Scenario(path=path, name=data.get("name", Path(path).stem),
                    description=data.get("description", ""), machine=machine,
                    costs=CostModel(**costs), workloads=workloads, run=run,
                    sections=sections, text=text)


def load_scenario(path: str | Path, overrides=None) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "no such scenario file "
                            "(`mmactors scenarios` lists the shipped ones)") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise ScenarioError(str(path), None, f"cannot read: {e}") from None
    return parse_scenario(text, str(path), overrides)


# ----------------------------------------------------------------- overrides
def _parse_value(raw: str):
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw                     # a bare word is a string


def apply_override(ctx: Ctx, data: dict, key: str, value: Any):
    """``--set machine.cpus=8`` or ``--set workload.0.hold_ns=100``."""
    if isinstance(value, str):
        value = _parse_value(value)
    parts = key.split(".")
    # Sysctl names contain dots: [sysctl] "vm.swappiness" -> sysctl.vm.swappiness
    if parts[0] in ("sysctl",) and len(parts) > 2:
        parts = [parts[0], ".".join(parts[1:])]
    cur = data
    for i, p in enumerate(parts[:-1]):
        if isinstance(cur, list):
            if not p.isdigit() or int(p) >= len(cur):
                raise ScenarioError(ctx.path, key, f"--set: no element {p} in {'.'.join(parts[:i])}")
            cur = cur[int(p)]
        else:
            if p == "workload" and "workload" in cur and not parts[i + 1].isdigit():
                # --set workload.hold_ns=... applies to every workload
                for w in cur["workload"]:
                    w[parts[-1]] = value
                return
            cur = cur.setdefault(p, {})
    last = parts[-1]
    if isinstance(cur, list):
        raise ScenarioError(ctx.path, key, "--set: name a key, not a list element")
    cur[last] = value


# ----------------------------------------------------------------- discovery
def scenarios_dir() -> Path | None:
    """The shipped scenarios: ``scenarios/`` beside the package (a checkout or
    an editable install), or $MMACTORS_SCENARIOS."""
    import os
    env = os.environ.get("MMACTORS_SCENARIOS")
    for cand in ([Path(env)] if env else []) + [PACKAGE_DIR.parent / "scenarios",
                                                Path.cwd() / "scenarios"]:
        if cand.is_dir():
            return cand
    return None


def list_scenarios() -> list[tuple[str, str]]:
    """(name relative to scenarios/, first description line) for every shipped file."""
    d = scenarios_dir()
    out = [("default (built-in)", _describe(DEFAULT_SCENARIO))]
    if d is not None:
        for p in sorted(d.rglob("*.toml")):
            out.append((str(p.relative_to(d)), _describe(p)))
    return out


def _describe(p: Path) -> str:
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        return f"(unreadable: {e})"
    return str(data.get("description", "")).strip().splitlines()[0] if data.get("description") else ""


def find_scenario(name: str) -> Path:
    """A path as given, or a shipped scenario by name (``lock-scaling``)."""
    p = Path(name)
    if p.exists():
        return p
    d = scenarios_dir()
    if d is not None:
        for cand in (d / name, d / f"{name}.toml"):
            if cand.is_file():
                return cand
    if name in ("default", "default.toml"):
        return DEFAULT_SCENARIO
    return p
