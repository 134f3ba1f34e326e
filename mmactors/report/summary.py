"""The human summary of a run, and the ``--json`` document."""
from __future__ import annotations

import json
import re

from ..sync import lock_registry
from .lockstat import format_lock_stat

__all__ = ["format_summary", "write_json"]


def format_summary(res, *, top_locks: int = 10) -> str:
    m = res.machine
    scn = m.scenario
    lines = [f"scenario {scn.name}: {m.ncpus} CPUs, {m.nnodes} node{'s' if m.nnodes > 1 else ''}; "
             f"strategy {res.strategy}, seed {res.seed}"]
    if scn.description:
        lines.append(f"  {scn.description}")
    v_ms = res.virtual_ns / 1e6
    lines.append(f"ran {v_ms:.3f} ms of virtual time in {res.wall_s:.2f} s "
                 f"({res.events:,} events, {res.switches:,} task switches); ended: {res.end_reason}")
    active = [n for n, a in zip(res.per_cpu_ops, range(len(res.per_cpu_ops)))]
    used = [x for x in res.per_cpu_ops if x] or [0]
    rate = res.ops / (res.virtual_ns / 1000) if res.virtual_ns else 0.0
    lines.append(f"workloads: {res.ops:,} ops = {rate:.4f} ops/us; per busy CPU "
                 f"min {min(used):,}, mean {sum(used) / len(used):,.1f}, max {max(used):,}")
    del active
    for sect in res.extra.get("_summary", []):
        lines.append(sect)
    lines.append(f"replay token: {res.replay_token}")
    if res.error is not None:
        lines.append("")
        lines.append(res.error.report())
    if res.locks:
        lines.append("")
        lines.append(format_lock_stat(lock_registry(m.engine), top=top_locks))
    return "\n".join(lines)


_SCALARS = re.compile(r"\[\s*((?:-?[\d.eE+]+|true|false|null|\"[^\"\n]*\")"
                      r"(?:,\s*(?:-?[\d.eE+]+|true|false|null|\"[^\"\n]*\"))*)\s*\]")


def dumps(doc: dict) -> str:
    """JSON with lists of scalars on one line (per-CPU arrays stay readable)."""
    text = json.dumps(doc, indent=2)
    return _SCALARS.sub(lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def write_json(res, path: str):
    doc = dumps(res.to_json())
    if path == "-":
        import sys
        sys.stdout.write(doc)
    else:
        with open(path, "w") as f:
            f.write(doc)
