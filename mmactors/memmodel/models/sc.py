"""Sequential consistency: acyclic(po | rf | co | fr) over all memory events.

Lock events follow lock.cat (LKR;LKW is an atomic pair, UL a write) and the
RCU grace-period guarantee is added as in ``common.rcu_orientations``.
"""

from __future__ import annotations

from ..executions import Candidate
from .common import memory_events, rcu_orientations

NAME = "sc"


def check(c: Candidate) -> tuple[bool, set]:
    s = c.sol.skel
    M = memory_events(s)
    gps = s.fence_tags.get("sync-rcu", 0)
    nodes = M | gps
    ghb = s.po.restrict(nodes, nodes) | c.rf | c.co | c.fr
    flags = set(c.sol.lock.flags)
    if not gps:
        return ghb.acyclic(), flags
    for extra in rcu_orientations(s, M):
        if (ghb | extra).acyclic():
            return True, flags
    return False, flags
