"""The OOM killer (mm/oom_kill.c, Linux 6.12) under usemem pressure."""
from __future__ import annotations

from mmactors import Machine, parse_scenario
from mmactors.mm.addrspace import addrspace_of
from mmactors.mm.oom_kill import oom_badness
from mmactors.mm.physmem import physmem_of


def _usemem(sizes, *, swap_mib=0, memory_mib=64):
    swap = f'[[swap]]\nsize_mib = {swap_mib}\ndevice = "ssd"\n' if swap_mib else ""
    wl = "".join(f'[[workload]]\nkind = "usemem"\ncpus = [{i}]\nsize = "{s}"\nsleep_ns = -1\n'
                 for i, s in enumerate(sizes))
    return f"""
name = "oom-test"
[machine]
cpus = {len(sizes)}
memory_mib = {memory_mib}
{swap}{wl}
[run]
duration_ns = 5_000_000_000
seed = 1
"""


def _run(text):
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


class _MM:
    MM_ANONPAGES = 1

    def __init__(self, anon, swap, ptes, file=0, shmem=0):
        self.rss = [file, anon, swap, shmem]
        self.nr_ptes = ptes


def test_oom_badness_is_rss_plus_swap_plus_page_tables():
    """oom_badness: get_mm_rss + MM_SWAPENTS + mm_pgtables_bytes / PAGE_SIZE."""
    assert oom_badness(_MM(100, 20, 3, file=5, shmem=7)) == 135


def test_oom_kills_the_largest_and_frees_it():
    """No swap, two tasks holding 24 MiB and 50 MiB of a 64 MiB machine: reclaim
    finds nothing (anon without swap is not reclaimable, so
    should_reclaim_retry gives up), __alloc_pages_may_oom takes oom_lock and
    out_of_memory kills the task with the largest badness (the 50 MiB one):
    oom_kill = 1, the kill is listed, the victim exits (or the oom_reaper
    frees its anonymous memory after OOM_REAPER_DELAY), and no frame is leaked."""
    m, res = _run(_usemem(["24M", "50M"]))
    j = res.to_json()
    oom = j["reclaim"]["oom"]
    assert j["reclaim"]["vmstat"]["oom_kill"] == 1 and len(oom["kills"]) == 1
    kill = oom["kills"][0]
    assert kill["badness"] == max(b for b, _ in kill["candidates"])
    sub = addrspace_of(m)
    victim = sub.mms[kill["mm"]]
    assert victim.oom_victim and victim.oom_skip
    # the victim's task stops at its next step (fatal_signal_pending) and
    # exits, or the oom_reaper frees its anonymous memory: either way it is gone
    assert victim.exited or oom["reaped"] == 1
    assert victim.rss[victim.MM_ANONPAGES] == 0
    assert j["reclaim"]["vmstat"]["allocstall"] >= 1        # reclaim ran before the kill
    tasks = {t["cpu"]: t for w in j["workload_details"] for t in w["tasks"]}
    assert tasks[0]["bytes"] == 24 << 20 and tasks[1]["bytes"] < 50 << 20
    physmem_of(m)._check()
    sub._check()


def test_no_oom_with_swap():
    """The same demand with 256 MiB of swap is absorbed by reclaim: no kill."""
    m, res = _run(_usemem(["24M", "50M"], swap_mib=256))
    j = res.to_json()
    assert j["reclaim"]["vmstat"]["oom_kill"] == 0
    assert j["reclaim"]["vmstat"]["pgsteal_direct"] + j["reclaim"]["vmstat"]["pgsteal_kswapd"] > 0
    assert all(not t["oom"] for w in j["workload_details"] for t in w["tasks"])
    physmem_of(m)._check()
    addrspace_of(m)._check()
