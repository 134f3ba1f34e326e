"""Scenario files: the TOML schema, built from what each part of the model
declares, and its validation.

A scenario is a TOML file with these tables:

``name``, ``description``   strings, optional
``[machine]``               cpus, nodes, and the keys subsystems add (memory_mib, ...)
``[costs]``                 overrides of :class:`mmactors.costs.CostModel`
``[sysctl]``, ``[kconfig]``, ``[constants]``, ``[sysfs]``   the kernel knobs subsystems model
                            (``[sysfs]`` keys are paths below /sys:
                            ``"kernel/mm/transparent_hugepage/enabled" = "madvise"``)
``[[workload]]``            what the CPUs run; ``kind`` selects the schema
``[run]``                   duration_ns, seed, strategy
and the tables subsystems and workload kinds own (``[lockdep]``, ``[[lock]]``).

The assembly
------------
:data:`SUBSYSTEMS` lists every subsystem a machine can have, in the order
:class:`~mmactors.machine.Machine` builds them; each is a
:class:`~mmactors.schema.Subsystem` value its own module exports, with its
knobs as data.  :data:`~mmactors.workloads.KINDS` is the table of workload
kinds.  The schema is built from these two lists and nothing else: no part
of the package registers anything by being imported.  Adding a subsystem is
its module plus one line in :data:`SUBSYSTEMS`; adding a knob touches only
the module that owns it.

Every error is a :class:`ScenarioError`: one line naming the file, the line
where known, and the key (see :mod:`mmactors.schema`).
"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import block, fs, lockdep
from ._core.errors import ScenarioError
from ._core.strategies import StrategyError, make_strategy
from .costs import CostModel
from .mm import addrspace, physmem, swapfile
from .schema import (COST_MAX_NS, Ctx, Field, LineMap, Section, Subsystem, at_least, between,
                     check_table, knob_section, nanoseconds, one_of)
from .workloads import KINDS, validate_workload

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario", "SUBSYSTEMS",
           "apply_override", "find_scenario", "list_scenarios", "DEFAULT_SCENARIO",
           "Field", "check_table", "at_least", "between", "one_of"]

PACKAGE_DIR = Path(__file__).resolve().parent
# The built-in default scenario ships inside the package, so it works from any install.
DEFAULT_SCENARIO = PACKAGE_DIR / "data" / "default.toml"

# Every subsystem, in the order a machine builds them: the lock validator
# first (so that it sees every lock taken while the rest boots), then physical
# memory (as mm_core_init() brings up the page allocator), then the block
# devices ([[block]]: swap and files do I/O to them), then address spaces,
# then the swap devices of [[swap]] (swapon), then the filesystems on the
# block devices the file workloads name (mounted on their page cache).
SUBSYSTEMS: tuple[Subsystem, ...] = (lockdep.SUBSYSTEM, physmem.SUBSYSTEM, block.SUBSYSTEM,
                                     addrspace.SUBSYSTEM, swapfile.SUBSYSTEM, fs.SUBSYSTEM)


# ------------------------------------------------------------------ sections
MACHINE_FIELDS = (
    Field("cpus", int, 4, check=between(1, 4096), doc="number of CPUs"),
    Field("nodes", int, 1, check=between(1, 64), doc="NUMA nodes; CPUs split evenly"),
)

RUN_FIELDS = (
    Field("duration_ns", int, 5_000_000, check=nanoseconds(1),
          doc="virtual run time in nanoseconds"),
    Field("seed", int, 1, doc="seed of every random choice"),
    Field("strategy", str, "random", doc="random | random:P | pct:D | replay:TOKEN"),
)

COST_FIELDS = tuple(Field(f.name, int, f.default, check=nanoseconds(0, COST_MAX_NS),
                          doc=f.metadata["doc"]) for f in fields(CostModel))


@dataclass(frozen=True)
class Schema:
    """Everything a scenario may say, gathered from the subsystems and kinds."""
    machine: tuple
    sections: dict            # name -> Section, in validation order
    checks: tuple             # cross-key checks of the subsystems


def build_schema(subsystems=SUBSYSTEMS, kinds=KINDS) -> Schema:
    machine = MACHINE_FIELDS + tuple(f for s in subsystems for f in s.machine)
    sections: dict[str, Section] = {}
    for title in ("sysctl", "kconfig", "constants", "sysfs"):
        knobs = [f for s in subsystems for f in getattr(s, title)]
        sections[title] = knob_section(title, knobs)
    for owner in list(subsystems) + list(kinds.values()):
        for sec in owner.sections:
            sections[sec.name] = sec
    return Schema(machine, sections, tuple(s.check for s in subsystems if s.check))


SCHEMA = build_schema()


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
    needs: frozenset = frozenset()   # subsystems the workloads need ("physmem", ...)
    digest: int = 0                  # short hash of what the run is made from (replay tokens)
    overrides: tuple = ()            # the --set KEY=VALUE pairs applied to the file

    @property
    def cpus(self) -> int:
        return self.machine["cpus"]


def parse_scenario(text: str, path: str = "<scenario>",
                   overrides: list[tuple[str, Any]] | None = None) -> Scenario:
    ctx = Ctx(path, LineMap(text))
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

    schema = SCHEMA
    known = {"name", "description", "machine", "costs", "workload", "run", *schema.sections}
    for k in data:
        if k not in known:
            raise ctx.error((), k, f"unknown table or key (known: {', '.join(sorted(known))})")
    for k in ("name", "description"):
        if k in data and not isinstance(data[k], str):
            raise ctx.error((), k, f"must be a string, got {data[k]!r}")
    machine = check_table(ctx, ("machine",), data.get("machine", {}), schema.machine)
    if machine["cpus"] % machine["nodes"]:
        raise ctx.error(("machine",), "nodes",
                        f"{machine['cpus']} cpus do not split evenly over {machine['nodes']} nodes")
    costs = check_table(ctx, ("costs",), data.get("costs", {}), COST_FIELDS)
    run = check_table(ctx, ("run",), data.get("run", {}), RUN_FIELDS)
    digest = scenario_digest(data)
    try:
        make_strategy(run["strategy"], run["seed"], digest)
    except StrategyError as e:
        raise ctx.error(("run",), "strategy", str(e)) from None
    sections = {}
    for name, sec in schema.sections.items():
        sections[name] = sec.validate(ctx, data[name], machine) if name in data else sec.default()
    wl = data.get("workload", [])
    if isinstance(wl, dict):
        wl = [wl]
    if not isinstance(wl, list):
        raise ctx.error((), "workload", "must be an array of tables ([[workload]])")
    workloads = [validate_workload(ctx, ("workload", i), w, machine, sections)
                 for i, w in enumerate(wl)]
    if not workloads:
        raise ctx.error((), "workload", "the scenario has no [[workload]]: nothing would run")
    first: dict[str, int] = {}
    for i, w in enumerate(workloads):
        k = w["kind"]
        if KINDS[k].one_per_scenario and first.setdefault(k, i) != i:
            raise ctx.error(("workload", i), "kind", f"only one {k!r} workload per scenario "
                            f"(workload[{first[k]}] is one)")
    claimed: dict[int, int] = {}
    for i, w in enumerate(workloads):
        for c in w["_cpus"]:
            if c in claimed:
                raise ctx.error(("workload", i), "cpus",
                                f"cpu {c} is already used by workload[{claimed[c]}]")
            claimed[c] = i
    needs = frozenset(n for w in workloads for n in KINDS[w["kind"]].needs)
    parts = {"machine": machine, "sections": sections, "workloads": workloads, "needs": needs}
    for check in schema.checks:
        check(ctx, parts)
    return Scenario(path=path, name=data.get("name", Path(path).stem),
                    description=data.get("description", ""), machine=machine,
                    costs=CostModel(**costs), workloads=workloads, run=run,
                    sections=sections, text=text, needs=needs, digest=digest,
                    overrides=tuple((k, v) for k, v in overrides or []))


def scenario_digest(data: dict) -> int:
    """A 24-bit hash of everything in a scenario (after ``--set`` overrides)
    but its seed and strategy: what a replay token must be replayed with.
    Comments and key order do not change it."""
    run = {k: v for k, v in data.get("run", {}).items() if k not in ("seed", "strategy")}
    canon = json.dumps(dict(data, run=run), sort_keys=True, default=str)
    return int(hashlib.sha256(canon.encode()).hexdigest()[:6], 16) or 1


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
    if not key or any(not p for p in parts):
        raise ScenarioError(ctx.path, key or "''", "--set: a key is names joined by dots, "
                            "e.g. machine.cpus or workload.0.hold_ns")
    # Sysctl names contain dots: [sysctl] "vm.swappiness" -> sysctl.vm.swappiness
    if parts[0] in ("sysctl",) and len(parts) > 2:
        parts = [parts[0], ".".join(parts[1:])]
    cur = data
    for i, p in enumerate(parts[:-1]):
        where = ".".join(parts[:i]) or "the scenario"
        if isinstance(cur, list):
            if not p.isdigit() or int(p) >= len(cur):
                raise ScenarioError(ctx.path, key, f"--set: no element {p} in {where} "
                                    f"(it has {len(cur)})")
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            if p == "workload" and isinstance(cur.get("workload"), list) \
                    and not parts[i + 1].isdigit():
                # --set workload.hold_ns=... applies to every workload
                for w in cur["workload"]:
                    if isinstance(w, dict):
                        w[parts[-1]] = value
                return
            cur = cur.setdefault(p, {})
        else:
            raise ScenarioError(ctx.path, key, f"--set: {where} is {cur!r}, not a table")
    if not isinstance(cur, dict):
        where = ".".join(parts[:-1])
        raise ScenarioError(ctx.path, key, f"--set: {where} is {cur!r}, not a table")
    cur[parts[-1]] = value


# ----------------------------------------------------------------- discovery
def scenarios_dir() -> Path | None:
    """The shipped scenarios: ``scenarios/`` beside the package (a checkout or
    an editable install), or $MMACTORS_SCENARIOS."""
    import os
    env = os.environ.get("MMACTORS_SCENARIOS")
    if env and not Path(env).is_dir():
        raise ScenarioError("$MMACTORS_SCENARIOS", None, f"{env}: no such directory")
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
