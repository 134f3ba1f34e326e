"""What simulated CPUs run: one class per ``kind`` of ``[[workload]]``.

:data:`KINDS` is the table the scenario loader validates against and the
machine builds from; adding a kind is a module here plus one entry in it.
"""
from __future__ import annotations

from ..schema import Ctx, check_table
from .base import COMMON_FIELDS, Workload
from .file_io import FileIO
from .fragment import Fragment, HighOrder
from .kmalloc import Kmalloc
from .lock_loop import LockLoop
from .lock_sequence import LockSequence
from .mm_ops import MMOps
from .page_alloc import PageAlloc
from .pft import PFT
from .racy import RaceWorkload
from .usemem import UseMem
from .will_it_scale import WillItScale

__all__ = ["Workload", "KINDS", "validate_workload", "COMMON_FIELDS"]

KINDS: dict[str, type[Workload]] = {cls.kind: cls for cls in (
    LockLoop, LockSequence, PageAlloc, Kmalloc, WillItScale, MMOps, PFT, RaceWorkload, UseMem,
    FileIO, Fragment, HighOrder)}


def validate_workload(ctx: Ctx, tpath: tuple, table, machine: dict, sections: dict) -> dict:
    if not isinstance(table, dict):
        raise ctx.error(tpath, None, "must be a table")
    kind = table.get("kind")
    if kind is None:
        raise ctx.error(tpath, "kind", f"is required (one of: {', '.join(sorted(KINDS))})")
    if not isinstance(kind, str):
        raise ctx.error(tpath, "kind", f"must be a string (one of: {', '.join(sorted(KINDS))}), "
                        f"got {type(kind).__name__}")
    if kind not in KINDS:
        raise ctx.error(tpath, "kind", f"unknown workload kind {kind!r} "
                        f"(known: {', '.join(sorted(KINDS))})")
    cls = KINDS[kind]
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
