"""Sequential consistency: acyclic(po | rf | co | fr) over all memory events.

Lock events follow lock.cat (LKR;LKW is an atomic pair, UL a write) and the
RCU grace-period guarantee is added as in ``common.rcu_orientations``.
"""

from __future__ import annotations

from ..executions import Candidate
from .common import acyclic_with_rcu, memory_events

NAME = "sc"


def check(c: Candidate) -> tuple[bool, set]:
    s = c.sol.skel
    M = memory_events(s)
    gps = s.fence_tags.get("sync-rcu", 0)
    nodes = M | gps
    ghb = s.po.restrict(nodes, nodes) | c.rf | c.co | c.fr
    return acyclic_with_rcu(ghb, s, M, gps), set(c.sol.lock.flags)
