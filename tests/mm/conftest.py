"""Fixtures for the physical-memory tests (helpers are in tests/helpers.py)."""
import pytest

from mmactors.mm.physmem import PhysMem


@pytest.fixture
def pm4():
    """64 MiB, 4 CPUs, 1 node."""
    return PhysMem.standalone(cpus=4, memory_mib=64)
