import numpy as np
import pytest

from mmactors import Machine, parse_scenario
from mmactors.mm.addrspace import addrspace_of


def mm_machine(steps, *, cpus=1, workload_cpus=None, mode="processes", check=True,
               memory_mib=256, strategy=None, seed=1, extra="", duration_ns=10**10):
    wl_cpus = workload_cpus if workload_cpus is not None else list(range(cpus))
    steps_toml = ", ".join('"' + s + '"' for s in steps)
    text = f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
{extra}
[[workload]]
kind = "mm-ops"
cpus = {wl_cpus}
mode = "{mode}"
check = {str(check).lower()}
steps = [{steps_toml}]
[run]
duration_ns = {duration_ns}
seed = {seed}
"""
    m = Machine(parse_scenario(text, "<test>"), strategy=strategy, trace=False)
    return m


def run_ops(steps, **kw):
    m = mm_machine(steps, **kw)
    res = m.run()
    if res.error is not None:
        raise AssertionError(res.error.report())
    return m, res, addrspace_of(m)


def allocated_user_frames(m) -> int:
    """Frames in use that are not reserved, slab or on a free/pcp list."""
    from mmactors.mm._internal import PG_pcp, PG_reserved, PGTY_buddy, PGTY_slab
    sub = addrspace_of(m)
    mem = sub.mem_map
    ref = mem.refcount
    flags = mem.flags
    busy = (ref > 0) & ((flags & (PG_reserved | PGTY_slab | PGTY_buddy | PG_pcp)) == 0)
    return int(np.count_nonzero(busy))


@pytest.fixture
def ops():
    return run_ops
