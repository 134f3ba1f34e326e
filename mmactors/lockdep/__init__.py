"""Lock-order validation (lockdep) for simulated code.

Turn it on with ``mmactors run --lockdep``, a ``[lockdep]`` table in the
scenario, ``MMACTORS_LOCKDEP=1`` in the environment, or (in tests)
:func:`mmactors.testing.lockdep_enabled`::

    [lockdep]
    enabled = true          # default: off (on under the test suite)
    stop = true             # stop the run at the first report (exit status 4)
    rwlock_read = "recursive"   # or "queued": CONFIG_QUEUED_RWLOCKS semantics
    hierarchy = true        # check against the mm lock order (hierarchy.py)

A run with a report exits with status 4; ``--json`` carries
``"lockdep": {"reports": [{"kind": ..., "classes": [...], "text": ...}]}``.
The validator is :class:`~mmactors.lockdep.core.Lockdep`; the irq-state
helpers for model code are in :mod:`mmactors.sync.irq` (re-exported here); the mm lock order
table is :mod:`mmactors.lockdep.hierarchy`; the port of
lib/locking-selftest.c is :mod:`mmactors.lockdep.selftest`.
"""
from __future__ import annotations

import os

from ..schema import Field, Section, Subsystem, check_table, one_of
from .core import HeldLock, Lockdep, LockdepClass
from ..sync.irq import (hardirq_enter, hardirq_exit, local_bh_disable, local_bh_enable,
                        local_irq_disable, local_irq_enable, local_irq_restore, local_irq_save,
                        softirq_enter, softirq_exit)
from ..sync.lockstat import lock_registry
from .report import KINDS, LockdepError, LockdepReport

__all__ = ["Lockdep", "LockdepClass", "HeldLock", "LockdepError", "LockdepReport", "KINDS",
           "attach", "detach", "lockdep_of", "set_default", "default_enabled", "env_default",
           "LOCKDEP_FIELDS",
           "SUBSYSTEM",
           "local_irq_disable", "local_irq_enable", "local_irq_save", "local_irq_restore",
           "local_bh_disable", "local_bh_enable", "hardirq_enter", "hardirq_exit",
           "softirq_enter", "softirq_exit"]

LOCKDEP_FIELDS = [
    Field("enabled", bool, None, doc="validate lock order (default: off; on under tests)"),
    Field("stop", bool, True, doc="stop the run at the first report (else report once, go quiet)"),
    Field("rwlock_read", str, "recursive", check=one_of("recursive", "queued"),
          doc="rwlock readers: recursive (locking-selftest) or queued (x86 qrwlock)"),
    Field("hierarchy", bool, True, doc="check against the mm lock order of mm/rmap.c, mm/filemap.c"),
]


def _validate(ctx, data, machine):
    return check_table(ctx, ("lockdep",), data, LOCKDEP_FIELDS)


def _defaults():
    return {f.name: f.default for f in LOCKDEP_FIELDS}



# Process-wide default when a scenario does not say: None = ask the environment.
_DEFAULT: list = [None]


def set_default(enabled: bool | None) -> bool | None:
    """Make lockdep on (True) or off (False) for every machine whose scenario
    does not say, or defer to $MMACTORS_LOCKDEP (None).  Returns the old value."""
    old = _DEFAULT[0]
    _DEFAULT[0] = enabled
    return old


_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def env_default() -> bool:
    """$MMACTORS_LOCKDEP: 1/true/yes/on or 0/false/no/off (unset: off)."""
    v = os.environ.get("MMACTORS_LOCKDEP", "").strip().lower()
    if v in _ON:
        return True
    if v in _OFF:
        return False
    raise ValueError(f"MMACTORS_LOCKDEP={os.environ['MMACTORS_LOCKDEP']!r}: expected "
                     "1, true, yes or on (lockdep on), or 0, false, no or off")


def default_enabled() -> bool:
    if _DEFAULT[0] is not None:
        return bool(_DEFAULT[0])
    return env_default()


class LockdepSubsystem:
    """What a machine carries (``machine.subsystems["lockdep"]``): adds
    ``"lockdep"`` to the JSON result and a line to the summary; a report
    without a stopped run still exits with 4."""

    def __init__(self, machine, ld: Lockdep):
        self.machine = machine
        self.lockdep = ld

    @property
    def exit_status(self) -> int:
        return LockdepError.exit_status if self.lockdep.reports else 0

    def report(self, extra: dict):
        extra["lockdep"] = self.lockdep.to_json()


def attach(machine, *, stop=None, rwlock_read=None, hierarchy=None) -> Lockdep:
    """Attach lockdep to ``machine`` (a Machine, or a bare Engine) before it
    runs; options default to the scenario's ``[lockdep]`` table."""
    eng = getattr(machine, "engine", machine)
    cur = lock_registry(eng).find(Lockdep)
    if cur is not None:
        if (stop is None or stop == cur.stop) and \
                (rwlock_read is None or rwlock_read == cur.rwlock_read) and \
                (hierarchy is None or hierarchy == cur.hierarchy):
            return cur
        detach(machine)                 # other options: start afresh (before the run)
    scn = getattr(machine, "scenario", None)
    cfg = dict(_defaults())
    if scn is not None:
        cfg.update(scn.sections.get("lockdep") or {})
    ld = Lockdep(eng, stop=cfg["stop"] if stop is None else stop,
                 rwlock_read=cfg["rwlock_read"] if rwlock_read is None else rwlock_read,
                 hierarchy=cfg["hierarchy"] if hierarchy is None else hierarchy)
    ld.attach()
    if scn is not None:
        _swap_order(ld, scn)
    if hasattr(machine, "subsystems"):
        machine.subsystems["lockdep"] = LockdepSubsystem(machine, ld)
    return ld


def _swap_order(ld: Lockdep, scn) -> None:
    """A machine with [[swap]] devices: seed the swap locks' order too, for
    the allocator release its [constants] swap_allocator names."""
    if scn.sections.get("swap"):
        from . import hierarchy as H
        version = (scn.sections.get("constants") or {}).get("swap_allocator", "6.12")
        ld.add_hierarchy(*H.swap_lock_order(version))
    _compaction_order(ld, scn)
    from . import hierarchy as H
    ld.add_lazy_hierarchy(*H.thp_lock_order())     # seeded once a THP lock is taken
    ld.add_lazy_hierarchy(*H.writeback_lock_order())   # once &wb->work_lock or &dom->lock is
    ld.add_lazy_hierarchy(*H.hugetlb_lock_order())     # once a hugetlbfs lock is taken
    ld.add_lazy_hierarchy(*H.fs_reclaim_lock_order())  # once an allocation takes fs_reclaim


def _compaction_order(ld: Lockdep, scn) -> None:
    """A machine that compacts (kcompactd started at boot, or a workload that
    fragments memory or asks for high orders): seed migration's lock order."""
    consts = scn.sections.get("constants") or {}
    kinds = {w.get("kind") for w in getattr(scn, "workloads", ())}
    if consts.get("KCOMPACTD_AT_BOOT") or kinds & {"fragment", "highorder"}:
        from . import hierarchy as H
        ld.add_hierarchy(*H.compaction_lock_order())


def detach(machine) -> None:
    eng = getattr(machine, "engine", machine)
    v = lock_registry(eng).find(Lockdep)
    if v is not None:
        v.detach()
    if hasattr(machine, "subsystems"):
        machine.subsystems.pop("lockdep", None)


def lockdep_of(machine_or_result) -> Lockdep | None:
    """The Lockdep attached to a Machine, an Engine or a RunResult's machine."""
    m = getattr(machine_or_result, "machine", None) or machine_or_result
    eng = getattr(m, "engine", m)
    if not hasattr(eng, "runvars"):
        return None
    return lock_registry(eng).find(Lockdep)


def build(machine) -> LockdepSubsystem | None:
    """Lockdep for a machine whose scenario (or the process default) turns it on."""
    cfg = machine.scenario.sections.get("lockdep") or {}
    enabled = cfg.get("enabled")
    if enabled is None:
        enabled = default_enabled()
    if not enabled:
        return None
    eng = machine.engine
    ld = Lockdep(eng, stop=cfg.get("stop", True), rwlock_read=cfg.get("rwlock_read", "recursive"),
                 hierarchy=cfg.get("hierarchy", True))
    ld.attach()
    _swap_order(ld, machine.scenario)
    return LockdepSubsystem(machine, ld)


SUBSYSTEM = Subsystem("lockdep", sections=(Section("lockdep", _validate, _defaults),),
                      build=build, doc="lock-order validation")
