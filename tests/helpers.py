"""Helpers the tests share (fixtures stay in the conftest.py files).

* Physical memory: :func:`run_checked` runs a scenario and checks every
  invariant of its PhysMem; :func:`standalone` builds a PhysMem on its own
  engine whose async operations are called one at a time (``pm.call``).
* Address spaces: :func:`mm_machine` and :func:`run_ops` build and run an
  ``mm-ops`` program; :func:`allocated_user_frames` counts user frames.
* Lockdep: :func:`lock_scenario` writes a ``lock-sequence`` scenario,
  :func:`run_lock_scenario` and :func:`lockdep_reports` run it.
* Known results: :func:`lockdep_on_and_off` runs a measurement with lockdep
  off (as users run by default) and on, and asserts the figures agree.
"""
from __future__ import annotations

import numpy as np

from mmactors import Machine, parse_scenario
from mmactors.lockdep import lockdep_of
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.physmem import PhysMem, physmem_of


# ------------------------------------------------------------ physical memory
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


# ------------------------------------------------------------- address spaces
def thp_sysfs(enabled: str = "never") -> str:
    """A ``[sysfs]`` table setting transparent_hugepage/enabled.  Tests written
    for 4 KiB pages (counts of faults, locks, swap-outs per page) say
    "never": the kernel's default (always, mm/Kconfig) would map their
    PMD-aligned anonymous memory with THPs."""
    return f'[sysfs]\n"kernel/mm/transparent_hugepage/enabled" = "{enabled}"\n'


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


# -------------------------------------------------------------------- lockdep
def lock_scenario(locks, *programs, lockdep="", delays=None, step_ns=50, repeat=1):
    """``locks``: {name: kind or (kind, class)}; each program is a list of
    steps, or a dict with ``steps`` and ``context``; CPU i runs program i."""
    out = [f"[machine]\ncpus = {max(1, len(programs))}\n"]
    for name, k in locks.items():
        kind, cls = (k, name) if isinstance(k, str) else k
        out.append(f'[[lock]]\nname = "{name}"\nkind = "{kind}"\nclass = "{cls}"\n')
    for i, p in enumerate(programs):
        ctx = "process"
        if isinstance(p, dict):
            ctx, p = p.get("context", "process"), p["steps"]
        steps = list(p)
        if delays and delays[i]:
            steps = [f"delay {delays[i]}"] + steps
        body = ",\n  ".join(f'"{s}"' for s in steps)
        out.append(f'[[workload]]\nkind = "lock-sequence"\ncpus = [{i}]\ncontext = "{ctx}"\n'
                   f"step_ns = {step_ns}\nrepeat = {repeat}\nsteps = [\n  {body}\n]\n")
    if lockdep:
        out.append("[lockdep]\n" + lockdep + "\n")
    out.append("[run]\nduration_ns = 10_000_000\nseed = 1\n")
    return "\n".join(out)


def run_lock_scenario(text, **kw):
    scn = parse_scenario(text, "rules.toml")
    m = Machine(scn, trace=False, **kw)
    res = m.run()
    return res, lockdep_of(m)


def lockdep_reports(text, **kw):
    res, ld = run_lock_scenario(text, **kw)
    return ld.reports if ld is not None else []


# -------------------------------------------------------------- known results
def _without_lockdep(x):
    if isinstance(x, dict):
        return {k: _without_lockdep(v) for k, v in x.items() if k != "lockdep"}
    if isinstance(x, list):
        return [_without_lockdep(v) for v in x]
    return x


def lockdep_on_and_off(measure, *args, **kw):
    """``measure(*args, lockdep=..., **kw)`` with lockdep off and on: the
    figures (every result dict without its ``"lockdep"`` key) must be the same,
    since lockdep only watches.  Returns the lockdep-off figures."""
    off = measure(*args, lockdep=False, **kw)
    on = measure(*args, lockdep=True, **kw)
    assert _without_lockdep(on) == _without_lockdep(off), "lockdep changed the figures"
    return off
