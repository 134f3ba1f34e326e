"""Helpers for the physical-memory tests (page allocator, pcp, SLUB, vmstat).

``run_checked(text)`` parses and runs a scenario without a trace and checks
every invariant of the machine's PhysMem afterwards; ``standalone(...)``
builds a PhysMem on its own engine whose async operations are called one at
a time through ``pm.call(cpu, coro)``.
"""
from __future__ import annotations

import pytest

from mmactors import Machine, parse_scenario
from mmactors.mm.physmem import PhysMem, physmem_of


def run_checked(text: str, *, seed=None, strategy=None, check=True):
    scn = parse_scenario(text)
    m = Machine(scn, seed=seed, strategy=strategy, trace=False)
    res = m.run()
    pm = physmem_of(m)
    if res.error is not None:
        raise AssertionError(f"run failed: {res.error.report()}")
    if check and pm is not None:
        pm._check()
    return res, m, pm


def zone_lock_acquisitions(res) -> int:
    return res.locks.get("&zone->lock", {}).get("acquisitions", 0)


def standalone(**kw) -> PhysMem:
    return PhysMem.standalone(**kw)


@pytest.fixture
def pm4():
    """64 MiB, 4 CPUs, 1 node."""
    return PhysMem.standalone(cpus=4, memory_mib=64)
