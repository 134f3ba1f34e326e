"""Lockdep reports: the record a run carries, the error that stops it, and the
kernel's report texts (kernel/locking/lockdep.c ``print_*_bug``).

Texts follow the kernel line for line where the simulator has the same
information.  Where the kernel prints an address or a stack, we print a
stable pseudo-address per lock instance (first-seen order, so reports are
identical run to run) and the acquisition *site*: the function and
file:line of the model code, or the workload step with its scenario line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .._core.errors import SimulationError

__all__ = ["LockdepReport", "LockdepError", "KINDS", "kernel_ident"]

#: report kind -> the kernel's headline
KINDS = {
    "recursive": "WARNING: possible recursive locking detected",
    "circular": "WARNING: possible circular locking dependency detected",
    "double-unlock": "WARNING: bad unlock balance detected!",
    "bad-unlock": "WARNING: bad unlock balance detected!",
    "non-owner-unlock": "WARNING: bad unlock balance detected!",
    "held-lock-freed": "WARNING: held lock freed!",
    "inconsistent": "WARNING: inconsistent lock state",
    "irq-inversion": "WARNING: possible irq lock inversion dependency detected",
    "irq-safe-unsafe": "WARNING: %s-safe -> %s-unsafe lock order detected",
    "sleep-in-atomic": "BUG: sleeping function called from invalid context",
    "invalid-subclass": "BUG: looking up invalid subclass",
}


def kernel_ident() -> str:
    """print_kernel_ident(): release, version, taint."""
    from .._version import __version__
    return f"{__version__}-mmactors #1 Not tainted"


@dataclass
class LockdepReport:
    """One lockdep finding.  ``text`` is the full kernel-style report."""
    kind: str
    headline: str
    classes: list
    actors: list
    sites: list
    text: str
    virtual_ns: int
    replay_token: str | None = None
    chain: list = field(default_factory=list)
    hierarchy: bool = False          # the cycle goes through the mm lock order table

    def to_json(self) -> dict:
        d = {"kind": self.kind, "headline": self.headline, "classes": list(self.classes),
             "actors": list(self.actors), "sites": list(self.sites),
             "virtual_ns": self.virtual_ns, "replay_token": self.replay_token,
             "text": self.text}
        if self.chain:
            d["chain"] = self.chain
        if self.hierarchy:
            d["hierarchy"] = True
        return d

    def summary(self) -> str:
        return f"lockdep {self.kind}: {self.cycle()}"

    def cycle(self) -> str:
        """The classes as a chain; a circular one is closed: ``A -> B -> A``."""
        cl = list(self.classes)
        if self.kind == "circular" and cl:
            cl.append(cl[0])
        return " -> ".join(cl)


class LockdepError(SimulationError):
    """The run stopped at a lockdep report (exit status 4)."""

    exit_status = 4
    kind = "lockdep"

    def __init__(self, report: LockdepReport, *, now=None, token=None, actor=None):
        super().__init__(report.summary(), now=now, token=token, actor=actor)
        self.lockdep = report

    def report(self) -> str:
        out = self.lockdep.text.strip("\n")
        if self.token:
            out += f"\nreplay: --strategy replay:{self.token}"
        return out

    def to_json(self) -> dict:
        d = super().to_json()
        d["lockdep"] = self.lockdep.to_json()
        return d
