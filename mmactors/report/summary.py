"""The human summary of a run, and the ``--json`` document.

The model emits data (a :class:`~mmactors.machine.RunResult` and the objects
it built); this module renders it.  Each workload kind and each subsystem
with something to say has one renderer in the tables below, called in the
order the machine holds them (workloads first, then subsystems in build
order).
"""
from __future__ import annotations

import json
import re

from .._core.files import atomic_write
from ..sync import lock_registry
from .block import format_block
from .caches import format_caches
from .compaction import format_compaction, format_highorder
from .lockstat import format_lock_stat
from .mm import format_addrspace
from .pagecache import format_pagecache
from .reclaim import format_reclaim
from .thp import format_thp
from .swap import format_swap
from .writeback import format_writeback
from .zoneinfo import format_memory_summary

__all__ = ["format_summary", "write_json", "dumps"]


# ------------------------------------------------------------ workloads
def _pft(w, res) -> str:
    r = w.report()
    if r["faults_per_cpu_s"] is None:
        return f"pft: {r['workers_done']} of {r['workers']} workers finished; raise duration_ns"
    return (f"pft-{r['mode']}: {r['workers_done']} of {r['workers']} workers, "
            f"{r['faults']} faults, flt/cpu/s {r['faults_per_cpu_s']:,.0f}, "
            f"fault/wsec {r['faults_per_wall_s']:,.0f}")


def _race(w, res) -> str:
    r = w.report()
    head = (f"race program {r['program']} ({r['variant']}) under {r['model']}, "
            f"race detector {'on' if w.mem.race is not None else 'off'}: ")
    if res.error is not None:
        head += f"FAILED at schedule {r['schedules_started']} ({r['schedules_clean']} clean before it)"
    else:
        head += f"{r['schedules_clean']} of {r['iterations']} schedules clean"
    return head + f"\n  modelled on {r['fix']}"


_ERRNO = {1: "EPERM", 12: "ENOMEM", 14: "EFAULT", 16: "EBUSY", 22: "EINVAL"}


def _mm_ops(w, res) -> str:
    r = w.report()
    errs = ", ".join(f"{call} {_ERRNO.get(int(no), 'errno ' + no)} x{n}"
                     for call, no, n in ((*k.split(":"), v) for k, v in r["errors"].items()))
    return (f"mm-ops (workload[{w.index}]): {r['segv']:,} SIGSEGV"
            + (f", {r['sigbus']:,} SIGBUS" if r["sigbus"] else "")
            + (f"; failed system calls: {errs}" if errs else "; no failed system call"))


def _usemem(w, res) -> str:
    """usemem's own lines: "%lu bytes / %lu usecs = %lu KB/s" per task (virtual time)."""
    r = w.report()
    L = [f"usemem (workload[{w.index}]): {len(r['tasks'])} tasks of {r['size']} ({r['mode']}"
         f"{', random' if r['random'] else ''}{', readonly' if r['readonly'] else ''}"
         f", {1 + r['repeat']} passes); {r['oom']} stopped by OOM, {r['killed']} killed"]
    for t in r["tasks"][:8]:
        L.append(f"  cpu{t['cpu']}: {t['bytes']} bytes / {t['usecs']} usecs = {t['kb_per_s']} KB/s"
                 f"{' (oom)' if t['oom'] else ''}{' (killed)' if t['killed'] else ''}")
    if len(r["tasks"]) > 8:
        L.append(f"  ... {len(r['tasks']) - 8} more in --json")
    return "\n".join(L)


def _highorder(w, res) -> str:
    return format_highorder(w.report())


WORKLOAD_SUMMARIES = {"pft": _pft, "race": _race, "mm-ops": _mm_ops, "usemem": _usemem,
                      "highorder": _highorder}


# ----------------------------------------------------------- subsystems
def _lockdep(sub, res) -> str:
    ld = sub.lockdep
    s = ld.stats()
    nc, nd, nh = s["lock_classes"], s["direct_dependencies"], s["lock_chains"]
    head = (f"lockdep: {nc} class{'' if nc == 1 else 'es'}, "
            f"{nd} dependenc{'y' if nd == 1 else 'ies'}"
            + (f" (+{ld.nr_seeded} from the mm lock order)" if ld.nr_seeded else "")
            + f", {nh} chain{'' if nh == 1 else 's'}; ")
    if not ld.reports:
        return head + "no reports"
    return head + "; ".join(r.summary() for r in ld.reports)


def _physmem(pm, res) -> str:
    return format_memory_summary(pm) + "\n" + format_caches(pm)


def _addrspace(sub, res) -> str:
    rec = format_reclaim(sub.vmscan) if getattr(sub, "vmscan", None) is not None else ""
    thp = format_thp(getattr(sub, "thp", None))
    wb = format_writeback(getattr(sub, "writeback", None))
    return (format_addrspace(sub) + ("\n" + rec if rec else "") + ("\n" + thp if thp else "")
            + ("\n" + wb if wb else ""))


def _compaction(sub, res) -> str:
    comp = getattr(sub, "compaction", None)
    return format_compaction(comp, sub.pa.vmstat) if comp is not None else ""


def _swap(sw, res) -> str:
    return format_swap(sw)


SUBSYSTEM_SUMMARIES = {"lockdep": _lockdep, "physmem": _physmem, "addrspace": _addrspace,
                       "block": format_block, "swap": _swap, "fs": format_pagecache}


def _subsystem_summaries(name: str):
    """The renderers of a subsystem's sections (compaction lives on the
    address-space side: it migrates its folios)."""
    fn = SUBSYSTEM_SUMMARIES.get(name)
    return [f for f in (fn, _compaction if name == "addrspace" else None) if f is not None]


def sections(res) -> list[str]:
    """The summary sections of the workloads and subsystems, in order."""
    m = res.machine
    out = []
    for w in m.workloads:
        fn = WORKLOAD_SUMMARIES.get(w.kind)
        if fn is not None:
            out.append(fn(w, res))
    for name, sub in m.subsystems.items():
        for fn in _subsystem_summaries(name):
            text = fn(sub, res)
            if text:
                out.append(text)
    return out


def format_summary(res, *, top_locks: int = 10, width: int | None = None) -> str:
    """The human summary; ``width`` narrows the lock_stat table to fit."""
    m = res.machine
    scn = m.scenario
    lines = [f"scenario {scn.name}: {m.ncpus} CPUs, {m.nnodes} node{'s' if m.nnodes > 1 else ''}; "
             f"strategy {res.strategy}, seed {res.seed}"]
    if scn.overrides:
        lines.append("  set: " + ", ".join(f"{k}={v}" for k, v in scn.overrides)
                     + (" (the description below is the file's)" if scn.description else ""))
    if scn.description:
        lines.append(f"  {scn.description}")
    v_ms = res.virtual_ns / 1e6
    lines.append(f"ran {v_ms:.3f} ms of virtual time in {res.wall_s:.2f} s "
                 f"({res.events:,} events, {res.switches:,} task switches); ended: {res.end_reason}")
    used = [x for x in res.per_cpu_ops if x] or [0]
    rate = res.ops / (res.virtual_ns / 1000) if res.virtual_ns else 0.0
    lines.append(f"workloads: {res.ops:,} ops = {rate:.4f} ops/us; per busy CPU "
                 f"min {min(used):,}, mean {sum(used) / len(used):,.1f}, max {max(used):,}")
    lines.extend(sections(res))
    lines.append(f"replay token: {res.replay_token}")
    if res.error is not None:
        lines.append("")
        lines.append(res.error.report())
    if res.locks:
        lines.append("")
        lines.append(format_lock_stat(lock_registry(m.engine), top=top_locks, width=width))
    return "\n".join(lines)


_SCALARS = re.compile(r"\[\s*((?:-?[\d.eE+]+|true|false|null|\"[^\"\n]*\")"
                      r"(?:,\s*(?:-?[\d.eE+]+|true|false|null|\"[^\"\n]*\"))*)\s*\]")


def dumps(doc: dict) -> str:
    """JSON with lists of scalars on one line (per-CPU arrays stay readable)."""
    text = json.dumps(doc, indent=2)
    return _SCALARS.sub(lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def write_json(res, path: str):
    """The ``--json`` document to ``path`` (written atomically) or stdout ("-")."""
    doc = dumps(res.to_json())
    if path == "-":
        import sys
        sys.stdout.write(doc)
    else:
        atomic_write(path, doc)
