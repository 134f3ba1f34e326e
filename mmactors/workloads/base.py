"""The base of every workload kind: its common keys and the actors it runs.

A workload kind declares its scenario keys as :class:`~mmactors.schema.Field`
lists and, once the machine is built, the actors it needs: usually one per CPU
in ``cpus``, each looping over the workload's operation and counting
``actor.ops`` (completed iterations).  ``needs`` names the subsystems the kind
cannot run without (``"physmem"``, ``"addrspace"``): the machine builds them
for it.  The table of kinds is ``mmactors.workloads.KINDS``.
"""
from __future__ import annotations

from ..schema import Ctx, Field

__all__ = ["Workload", "COMMON_FIELDS", "fatal_signal_pending"]


def fatal_signal_pending(mm) -> bool:
    """The task running in ``mm`` was killed (the OOM killer's SIGKILL,
    mm/oom_kill.py): a workload checks this between steps and, if set,
    stops and exits (exit_mmap), as a killed task does on its way back to
    user space."""
    return mm is not None and getattr(mm, "oom_victim", False)


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
    sections: tuple = ()          # top-level tables the kind owns (schema.Section)
    needs: tuple = ()             # subsystems it needs: "physmem", "addrspace"
    one_per_scenario = False      # at most one workload of this kind in a scenario

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
        """This workload's entry in the JSON result's ``workload_details``."""
        return {}

    def progress(self) -> float | None:
        """For a workload that ends on its own: the fraction of its work done
        (the progress bar shows it); None for one that runs until the end."""
        return None
