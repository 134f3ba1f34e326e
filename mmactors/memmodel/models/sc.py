"""Sequential consistency: acyclic(po | rf | co | fr) over all memory events.

Lock events follow lock.cat (LKR;LKW is an atomic pair, UL a write) and the
RCU grace-period guarantee is added as in ``common.acyclic_with_rcu``.
"""

from __future__ import annotations

from ..executions import Candidate
from .common import acyclic_with_rcu, grace_periods, memory_events

NAME = "sc"


def check(c: Candidate) -> tuple[bool, set]:
    s = c.sol.skel
    M = memory_events(s)
    nodes = M | grace_periods(s)
    ghb = s.po.restrict(nodes, nodes) | c.rf | c.co | c.fr
    return acyclic_with_rcu(ghb, c, M), set(c.sol.lock.flags)


def needs_check(c: Candidate, flags_so_far: set) -> bool:
    return False


def flags_of(c: Candidate) -> set:
    return set(c.sol.lock.flags)


def uniform_flags(sol) -> set:
    """The flags of every execution of ``sol``'s skeleton (see lkmm)."""
    return set(sol.lock.flags)
