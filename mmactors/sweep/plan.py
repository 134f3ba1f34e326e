"""What a sweep runs: the points (one value per parameter), the seeds, and a
stable id for every run.

A run is a deterministic function of (scenario, --set overrides, parameter
values, seed, strategy, lockdep), so its id is a hash of exactly those; the
results table uses it to skip runs already done.  ``scenario_hash`` covers
the scenario as parsed (comments and key order do not change it) and its
fixed ``--set`` overrides; ``code_hash`` covers the mmactors source that ran
it (see ``store.py`` for how both keep stale rows apart).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .._core.errors import ScenarioError
from .._version import __version__
from .values import SweepSpecError, parse_seeds, parse_values

__all__ = ["Plan", "Run", "make_plan", "code_hash", "load_source"]


@dataclass(frozen=True)
class Run:
    index: int                              # place in the plan (row order of the result)
    params: tuple                           # ((key, value), ...) in the sweep's key order
    seed: int
    run_id: str


@dataclass
class Plan:
    text: str                               # the scenario's TOML
    path: str                               # where it came from (error messages, names)
    name: str
    sets: tuple                             # fixed --set overrides ((key, value), ...)
    keys: list                              # the swept keys, in command-line order
    values: dict                            # key -> its values
    seeds: list
    strategy: str
    lockdep: bool | None
    scenario_hash: str
    runs: list = field(default_factory=list)
    version: str = __version__
    code: str = ""

    @property
    def points(self) -> int:
        return len(self.runs) // max(1, len(self.seeds))

    def task(self, run: Run) -> dict:
        """Everything a worker needs for one run (plain data: it crosses processes)."""
        return {"index": run.index, "text": self.text, "path": self.path,
                "overrides": list(self.sets) + list(run.params), "params": list(run.params),
                "seed": run.seed, "strategy": self.strategy, "lockdep": self.lockdep,
                "meta": {"run_id": run.run_id, "scenario_hash": self.scenario_hash,
                         "mmactors_version": self.version}}


def load_source(scenario) -> tuple[str, str]:
    """(TOML text, path) from a path, a shipped scenario's name, or TOML text."""
    from ..scenario import find_scenario
    s = str(scenario)
    if "\n" in s:
        return s, "<sweep>"
    if not s.strip():
        raise SweepSpecError(f"no scenario named {s!r} (`mmactors scenarios` lists them)")
    p = find_scenario(s)
    try:
        return Path(p).read_text(), str(p)
    except FileNotFoundError:
        raise ScenarioError(str(p), None, "no such scenario file "
                            "(`mmactors scenarios` lists the shipped ones)") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise ScenarioError(str(p), None, f"cannot read: {e}") from None


def _canon(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def scenario_hash(text: str, sets) -> str:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = text                  # parse_scenario reports it, with the line
    return hashlib.sha256(_canon({"scenario": data, "set": [list(kv) for kv in sets]})
                          .encode()).hexdigest()[:16]


_CODE: list = []


def code_hash() -> str:
    """A hash of the mmactors package's source (.py and shipped .toml files):
    rows made by other code are never mixed with new ones, and a Dask worker
    running other code is refused.  Computed once per process."""
    if not _CODE:
        root = Path(__file__).resolve().parent.parent
        h = hashlib.sha256()
        for p in sorted(list(root.rglob("*.py")) + list(root.rglob("*.toml"))):
            if "__pycache__" in p.parts:
                continue
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
        _CODE.append(h.hexdigest()[:12])
    return _CODE[0]


def _norm_values(key, vals) -> list:
    if isinstance(vals, str):
        return parse_values(vals, f"--param {key}")
    if not isinstance(vals, (list, tuple, range)):
        vals = [vals]
    vals = list(vals)
    if not vals:
        raise SweepSpecError(f"--param {key}: no values")
    return vals


def make_plan(scenario, params=None, *, seeds=None, seed=None, strategy=None, sets=(),
              lockdep=None) -> Plan:
    """Check everything a sweep will run before any run starts: every point's
    scenario parses (a bad value is a one-line error naming the --param), the
    strategy is valid, the seeds are."""
    from .._core.strategies import make_strategy
    from ..scenario import parse_scenario
    text, path = load_source(scenario)
    sets = tuple((str(k), v) for k, v in sets)
    base = parse_scenario(text, path, list(sets))
    params = dict(params or {})
    for key in params:
        if key in ("run.seed", "run.strategy"):
            raise SweepSpecError(f"--param {key}: use {'--seeds' if key == 'run.seed' else '--strategy'}")
    values = {k: _norm_values(k, v) for k, v in params.items()}
    strat = (strategy or base.run["strategy"]).strip()
    if strat.startswith("replay:"):
        raise SweepSpecError("--strategy replay:... replays one run: use `mmactors run "
                             "SCENARIO --strategy replay:TOKEN`")
    make_strategy(strat, 0, base.digest)            # a bad spec fails here, not in a worker
    base_seed = base.run["seed"] if seed is None else int(seed)
    seed_list = parse_seeds(seeds, base_seed) if seeds is not None else [base_seed]
    keys = list(values)
    plan = Plan(text=text, path=path, name=base.name, sets=sets, keys=keys, values=values,
                seeds=seed_list, strategy=strat, lockdep=lockdep,
                scenario_hash=scenario_hash(text, sets), code=code_hash())
    index = 0
    for combo in itertools.product(*(values[k] for k in keys)):
        point = tuple(zip(keys, combo))
        try:
            parse_scenario(text, path, list(sets) + list(point))
        except ScenarioError as e:
            where = " ".join(f"{k}={v}" for k, v in point) or "the scenario"
            raise SweepSpecError(f"--param {where}: {e}") from None
        for s in seed_list:
            rid = hashlib.sha256(_canon([plan.scenario_hash, sorted(map(list, point)), s, strat,
                                         lockdep]).encode()).hexdigest()[:20]
            plan.runs.append(Run(index, point, s, rid))
            index += 1
    return plan


def param_text(values: list) -> str:
    """A short rendering of a value list for the sweep's header line."""
    shown = [json.dumps(v) if not isinstance(v, (int, float, str)) else str(v) for v in values]
    if len(shown) > 8:
        shown = shown[:4] + ["..."] + shown[-2:]
    return ",".join(shown)


def describe(plan: Plan) -> str:
    parts = [f"{k}={param_text(plan.values[k])}" for k in plan.keys]
    s = plan.seeds
    seeds = (f"seed {s[0]}" if len(s) == 1 else
             f"seeds {s[0]}..{s[-1]}" if s == list(range(s[0], s[0] + len(s))) else
             f"seeds {param_text(s)}")
    pts = plan.points
    return (f"sweep {plan.name}: {pts} point{'s' * (pts != 1)} x {len(s)} seed"
            f"{'s' * (len(s) != 1)} = {len(plan.runs)} runs"
            f"{' (' + '; '.join(parts) + ')' if parts else ''}; {seeds}, strategy {plan.strategy}")

