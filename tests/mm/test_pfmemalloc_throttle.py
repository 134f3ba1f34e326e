"""throttle_direct_reclaim (mm/vmscan.c, Linux 6.12): direct reclaimers wait
on ``pgdat->pfmemalloc_wait`` while the node's pfmemalloc reserve is more
than half used (``allow_direct_reclaim``: free pages against half the min
watermarks of the zones up to ZONE_NORMAL), counted as
pgscan_direct_throttle; kswapd wakes them when the reserve is back (in
balance_pgdat after each kswapd_shrink_node) and before it sleeps
(prepare_kswapd_sleep).  Kernel threads and killed tasks are never
throttled."""
from __future__ import annotations

import pytest
from helpers import thp_sysfs

from mmactors import Machine, parse_scenario
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.gfp import GFP_HIGHUSER_MOVABLE
from mmactors.mm.physmem import physmem_of
from mmactors.mm.sched_mm import set_kthread


def _scenario(atomic_iterations: int, *, buf: str = "16M") -> str:
    """Three CPUs touching 16 MiB each of a 64 MiB machine while a fourth
    allocates GFP_ATOMIC pages and holds them: __GFP_HIGH and the
    non-blocking allowance let those go down to 3/8 of the min watermark
    (__zone_watermark_ok), below the half that allow_direct_reclaim wants."""
    atomic = f"""
[[workload]]
kind = "page-alloc"
cpus = [3]
gfp = "GFP_ATOMIC"
think_ns = 500
lifetime_ns = 4000000000
iterations = {atomic_iterations}""" if atomic_iterations else ""
    return f"""
name = "pfmemalloc-throttle"
[machine]
cpus = 4
memory_mib = 64
[[swap]]
size_mib = 256
device = "ssd"
{thp_sysfs("never")}
[[workload]]
kind = "mm-ops"
cpus = [0, 1, 2]
steps = ["mmap buf {buf} rw anon,private", "touch buf write", "touch buf write"]
{atomic}
[run]
duration_ns = 5_000_000_000
seed = 1
"""


def _run(text):
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


def test_direct_reclaimers_throttled_while_atomic_allocations_eat_the_reserve():
    """The known behaviour: with GFP_ATOMIC allocations holding most of
    memory, user faults entering direct reclaim find less than half the
    reserve free and sleep on pfmemalloc_wait (pgscan_direct_throttle > 0)
    until kswapd has reclaimed it back; every sleeper is woken again (none
    left waiting), the faults all complete and no frame is lost."""
    m, res = _run(_scenario(13000))
    ev = res.to_json()["reclaim"]["vmstat"]
    assert ev["pgscan_direct_throttle"] > 0
    vs = addrspace_of(m).vmscan
    kn = vs.nodes[0]
    assert kn.pfmemalloc_throttled == ev["pgscan_direct_throttle"]
    assert kn.pfmemalloc_throttled_ns > 0
    assert not kn.pfmemalloc_wait.waiters
    assert res.to_json()["workloads"]["per_cpu_ops"][:3] == [1, 1, 1]
    physmem_of(m)._check()
    addrspace_of(m)._check()


def test_no_throttle_without_the_atomic_drain():
    """The same faults without the GFP_ATOMIC allocator: direct reclaim
    (allocstall) alone never takes free pages below half the min watermark,
    so nobody is throttled."""
    _, res = _run(_scenario(0, buf="24M"))
    ev = res.to_json()["reclaim"]["vmstat"]
    assert ev["allocstall"] > 0
    assert ev["pgscan_direct_throttle"] == 0


def _drive(coro):
    """Run a coroutine that must finish without waiting."""
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    return stop.value.value


class _Task:
    def __init__(self, cpu, kthread=False):
        self.cpu = cpu
        self.data = {}
        if kthread:
            set_kthread(self)


@pytest.mark.parametrize("who", ["kthread", "oom victim", "reserve ok"])
def test_not_throttled(who):
    """throttle_direct_reclaim returns at once, counting nothing, for a
    kernel thread (PF_KTHREAD: it may be the one cleaning pages), a task
    with a fatal signal pending (it should exit and free its memory), and
    while allow_direct_reclaim holds."""
    m = Machine(parse_scenario(_scenario(0), "<test>"), trace=False)
    vs = addrspace_of(m).vmscan
    pa = physmem_of(m).pa
    vs.allow_direct_reclaim = lambda pgdat: who == "reserve ok"
    task = _Task(0, kthread=(who == "kthread"))
    if who == "oom victim":
        mm = addrspace_of(m).new_mm()
        mm.oom_victim = True
        mm.cpumask |= 1
        vs.oom.kills.append({"mm": mm.id})
    zonelist = pa.nodes[0].node_zonelists
    killed = _drive(vs.throttle_direct_reclaim(GFP_HIGHUSER_MOVABLE, zonelist, None, task))
    assert killed is False
    assert pa.vmstat.event("pgscan_direct_throttle") == 0
    assert not vs.nodes[0].pfmemalloc_wait.waiters


def test_oom_kill_ends_a_throttled_sleep():
    """wait_event_killable: a task throttled on pfmemalloc_wait that gets the
    OOM killer's SIGKILL wakes at once (not when kswapd next wakes the
    queue), and throttle_direct_reclaim reports the fatal signal, so that
    try_to_free_pages returns 1 without reclaiming (no OOM kill for it)."""
    m = Machine(parse_scenario(_scenario(13000), "<test>"), trace=False)
    sub = addrspace_of(m)
    vs, eng = sub.vmscan, m.engine
    seen = {}
    orig = vs.throttle_direct_reclaim

    async def throttle(gfp, zonelist, nodemask, me):
        if not seen:
            async def killer(a):
                await eng.spend(1000)
                if seen or not any(t[0] is me for t in vs.nodes[0].pfmemalloc_wait.waiters):
                    return                          # that call was not throttled
                mm = next(x for x in sub.mms if x.cpumask & (1 << me.cpu) and not x.exited)
                seen.update(me=me, killed=eng.now)
                vs.oom.oom_kill_process(mm, gfp, 0, a)
            eng.spawn("killer", killer, cpu=3)
        r = await orig(gfp, zonelist, nodemask, me)
        if seen.get("me") is me and "ret" not in seen:
            seen.update(ret=r, back=eng.now)
        return r
    vs.throttle_direct_reclaim = throttle
    res = m.run()
    assert res.error is None, res.error.report()
    assert seen and seen["ret"] is True
    assert seen["back"] - seen["killed"] <= eng.costs.wakeup_ns + 10_000
    assert res.to_json()["reclaim"]["vmstat"]["oom_kill"] == 1


def test_reclaim_throttle_does_not_put_kthreads_to_sleep():
    """mm/vmscan.c reclaim_throttle: "Do not throttle user workers, kthreads
    other than kswapd": a PF_KTHREAD task (khugepaged, a kworker) only
    cond_resched()s; kswapd and user tasks sleep on reclaim_wait."""
    from mmactors.mm.sched_mm import PF_KSWAPD, memalloc_flags_save, set_kthread
    from mmactors.mm.vmscan import VMSCAN_THROTTLE_ISOLATED

    from .test_swap_state import Box
    b = Box(swap=[{"size_mib": 16}])
    vs = b.sub.vmscan
    pgdat = b.pm.pa.nodes[0]
    me = b.me()
    set_kthread(me)
    b.call(vs.reclaim_throttle(pgdat, VMSCAN_THROTTLE_ISOLATED, me))     # returns at once
    assert vs.nodes[0].throttled[VMSCAN_THROTTLE_ISOLATED] == 0
    memalloc_flags_save(me, PF_KSWAPD)                 # kswapd is a kthread that sleeps
    with pytest.raises(RuntimeError, match="blocked"):
        b.call(vs.reclaim_throttle(pgdat, VMSCAN_THROTTLE_ISOLATED, me))
    assert vs.nodes[0].throttled[VMSCAN_THROTTLE_ISOLATED] == 1
