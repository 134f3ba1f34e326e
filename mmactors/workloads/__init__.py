"""What simulated CPUs run: one class per ``kind`` of ``[[workload]]``.

A workload kind declares its scenario keys as :class:`~mmactors.scenario.Field`
lists and, once the machine is built, the actors it needs: usually one per CPU
in ``cpus``, each looping over the workload's operation and counting
``actor.ops`` (completed iterations).  Register new kinds with :func:`register`.
"""
from __future__ import annotations

from ..scenario import Ctx, Field, check_table

__all__ = ["Workload", "register", "validate_workload", "kinds"]

_KINDS: dict[str, type] = {}


def register(cls):
    _KINDS[cls.kind] = cls
    return cls


def kinds() -> dict[str, type]:
    return dict(_KINDS)


def _check_cpus(v):
    if v == "all":
        return None
    if isinstance(v, list) and v and all(isinstance(c, int) and not isinstance(c, bool)
                                         and c >= 0 for c in v):
        if len(set(v)) != len(v):
            return "lists a CPU twice"
        return None
    return 'must be "all" or a non-empty list of CPU numbers'


COMMON_FIELDS = [
    Field("kind", str, required=True, doc="the workload kind"),
    Field("cpus", (str, list), "all", check=_check_cpus, doc='"all" or a list of CPU numbers'),
]


class Workload:
    """Base of every workload kind."""

    kind = "?"
    fields: list[Field] = []

    @classmethod
    def validate(cls, ctx: Ctx, tpath: tuple, spec: dict, machine: dict, sections: dict) -> dict:
        """Checks across keys; override to add them.  Return the spec."""
        return spec

    def __init__(self, machine, spec: dict, index: int):
        self.machine = machine
        self.spec = spec
        self.index = index
        self.cpus: list[int] = spec["_cpus"]

    def actors(self):
        """Yield (cpu, name, body) for each actor this workload runs."""
        raise NotImplementedError

    def report(self) -> dict:
        return {}


def validate_workload(ctx: Ctx, tpath: tuple, table, machine: dict, sections: dict) -> dict:
    if not isinstance(table, dict):
        raise ctx.error(tpath, None, "must be a table")
    kind = table.get("kind")
    if kind is None:
        raise ctx.error(tpath, "kind", f"is required (one of: {', '.join(sorted(_KINDS))})")
    if kind not in _KINDS:
        raise ctx.error(tpath, "kind", f"unknown workload kind {kind!r} "
                        f"(known: {', '.join(sorted(_KINDS))})")
    cls = _KINDS[kind]
    spec = check_table(ctx, tpath, table, COMMON_FIELDS + cls.fields)
    n = machine["cpus"]
    if spec["cpus"] == "all":
        spec["_cpus"] = list(range(n))
    else:
        bad = [c for c in spec["cpus"] if c >= n]
        if bad:
            raise ctx.error(tpath, "cpus", f"cpu {bad[0]} does not exist "
                            f"(the machine has cpus 0..{n - 1})")
        spec["_cpus"] = list(spec["cpus"])
    return cls.validate(ctx, tpath, spec, machine, sections)


# Built-in kinds register themselves on import.
from . import kmalloc, lock_loop, lock_sequence, mm_ops, page_alloc, pft, racy, will_it_scale  # noqa: E402,F401,E501
