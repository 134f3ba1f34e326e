"""Scenario text and runs for file-io tests (tests/fs, tests/mm/test_filemap*, test_readahead*)."""
from mmactors.machine import Machine
from mmactors.mm.addrspace import addrspace_of
from mmactors.scenario import parse_scenario


def file_io_text(*, cpus=1, memory_mib=64, rw="read", bs="4K", size="8M", files="per-cpu",
                 loops=1, kind="nvme", extra_wl="", extra="", duration_ns=2_000_000_000,
                 seed=1, swap=""):
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
{extra}
[[block]]
name = "dev0"
kind = "{kind}"
{swap}
[[workload]]
kind = "file-io"
cpus = "all"
device = "dev0"
rw = "{rw}"
bs = "{bs}"
size = "{size}"
files = "{files}"
loops = {loops}
{extra_wl}
[run]
duration_ns = {duration_ns}
seed = {seed}
"""


def run_file_io(check=True, strategy=None, **kw):
    m = Machine(parse_scenario(file_io_text(**kw), "<test>"), strategy=strategy, trace=False)
    res = m.run()
    if res.error is not None:
        raise AssertionError(res.error.report())
    sub = addrspace_of(m)
    if check:
        sub._check()
        m.subsystems["fs"]._check()
        m.subsystems["physmem"]._check()
    return m, res, sub


def workload(m):
    return m.workloads[0]
