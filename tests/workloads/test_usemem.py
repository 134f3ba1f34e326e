"""vm-scalability's usemem as a workload kind: what it touches, how it
reports, how it refuses bad input, and what it does to memory with swap."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmactors import Machine, ScenarioError, parse_scenario
from mmactors.mm.addrspace import addrspace_of

from helpers import allocated_user_frames, thp_sysfs

ROOT = Path(__file__).resolve().parent.parent.parent


def scenario(wl: str, *, cpus=2, memory_mib=256, extra="", duration_ns=10**10, thp="never"):
    """``thp``: transparent_hugepage/enabled; these tests count 4 KiB pages."""
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
{thp_sysfs(thp)}
{extra}
[[workload]]
kind = "usemem"
{wl}
[run]
duration_ns = {duration_ns}
seed = 1
"""


def run(text):
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


def details(res):
    return next(d for d in res.extra["workload_details"] if d["kind"] == "usemem")


def test_sequential_write_touches_every_page_once_then_frees():
    m, res = run(scenario('size = "4M"'))
    sub = addrspace_of(m)
    d = details(res)
    assert [t["bytes"] for t in d["tasks"]] == [4 << 20, 4 << 20]
    assert all(t["passes"] == 1 and t["kb_per_s"] > 0 and not t["oom"] for t in d["tasks"])
    assert res.ops == 2 * 1024
    assert sub.event("pgfault") == 2 * 1024
    assert allocated_user_frames(m) == 0                      # exit_mmap freed it all
    sub._check()


def test_repeat_passes_do_not_fault_again_and_hold_keeps_memory():
    """A second pass over present pages is served by the MMU: no fault."""
    m, res = run(scenario('size = "2M"\nrepeat = 3\nsleep_ns = -1'))
    sub = addrspace_of(m)
    assert sub.event("pgfault") == 2 * 512
    assert res.ops == 2 * 512 * 4
    assert all(t["passes"] == 4 for t in details(res)["tasks"])
    assert allocated_user_frames(m) >= 2 * 512                # held to the end
    mm = sub.mms[0]
    sub._check()
    assert mm.rss[mm.MM_ANONPAGES] == 512


def test_readonly_maps_the_zero_page():
    m, res = run(scenario('size = "1M"\nreadonly = true\nsleep_ns = -1'))
    sub = addrspace_of(m)
    assert all(mm.rss[mm.MM_ANONPAGES] == 0 for mm in sub.mms)


def test_random_order_is_deterministic_and_differs_from_sequential():
    a = run(scenario('size = "1M"\nrandom = true\nsleep_ns = -1'))[1]
    b = run(scenario('size = "1M"\nrandom = true\nsleep_ns = -1'))[1]
    c = run(scenario('size = "1M"\nsleep_ns = -1'))[1]
    assert a.virtual_ns == b.virtual_ns and a.ops == c.ops
    assert a.to_json()["locks"] == b.to_json()["locks"]


def test_threads_share_one_mm():
    m, res = run(scenario('size = "1M"\nmode = "threads"\nsleep_ns = -1', cpus=3))
    sub = addrspace_of(m)
    assert len(sub.mms) == 1 and sub.mms[0].rss[sub.mms[0].MM_ANONPAGES] == 3 * 256


def test_step_touches_every_step_bytes():
    m, res = run(scenario('size = "1M"\nstep = "16K"\nsleep_ns = -1', cpus=1))
    assert res.ops == 64 and addrspace_of(m).event("pgfault") == 64


@pytest.mark.parametrize("wl,field,msg", [
    ('size = "lots"', "size", "must be a size"),
    ('size = "1K"', "size", "at least"),
    ('size = "1M"\nstep = "2M"', "step", "larger than size"),
    ('size = "1M"\nrepeat = -1', "repeat", ">= 0"),
    ('size = "1M"\nmode = "fork"', "mode", "one of"),
    ('size = "1M"\nsleep_ns = -2', "sleep_ns", "-1"),
    ('size = "1M"\nbogus = 1', "bogus", ""),
])
def test_bad_input_is_one_line_naming_the_field(tmp_path, wl, field, msg):
    text = scenario(wl)
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(text, "u.toml")
    s = str(ei.value)
    assert "u.toml" in s and field in s and msg in s and "\n" not in s
    p = tmp_path / "u.toml"
    p.write_text(text)
    r = subprocess.run([sys.executable, "-m", "mmactors", "run", str(p)], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and field in r.stderr


def swap_scenario(wl, *, memory_mib=32, device="ssd", cpus=2, duration_ns=2_000_000_000):
    return scenario(wl, cpus=cpus, memory_mib=memory_mib, duration_ns=duration_ns,
                    extra=f'[[swap]]\nsize_mib = 128\ndevice = "{device}"\n')


def check_all(m):
    """Every invariant of the machine after a run: page allocator, address
    spaces (with the swap accounting of mm/swap_state.py), swap devices."""
    from mmactors.mm.physmem import physmem_of
    physmem_of(m)._check()
    sub = addrspace_of(m)
    sub._check()
    sub.swap._check()


@pytest.mark.parametrize("device", ["ssd", "zram"])
def test_usemem_beyond_memory_swaps_and_keeps_every_invariant(device):
    """Two tasks of 14 MiB on a 32 MiB machine: reclaim swaps out, the second
    pass swaps back in; afterwards swap_map counts equal the swap PTEs plus
    the swap cache and every frame and slot is accounted for."""
    m, res = run(swap_scenario('size = "14M"\nrepeat = 1\nsleep_ns = -1', device=device))
    vm = res.extra["vmstat"]
    assert vm["pswpout"] > 0 and vm["pswpin"] > 0 and vm["pgmajfault"] > 0
    assert all(t["passes"] == 2 and not t["oom"] for t in details(res)["tasks"])
    check_all(m)


def test_usemem_frees_memory_and_swap_at_exit():
    m, res = run(swap_scenario('size = "14M"\nrepeat = 1'))
    assert res.extra["vmstat"]["pswpout"] > 0
    check_all(m)
    sub = addrspace_of(m)
    assert allocated_user_frames(m) == 0
    sw = sub.swap
    assert sw.nr_swap_pages + len(sw.cached_slots()) == sw.total_swap_pages
    assert sub.swap_cache.nr_swapcached == 0


def test_summary_prints_usemems_lines():
    from mmactors.report.summary import format_summary
    m, res = run(scenario('size = "1M"\nsleep_ns = -1'))
    text = format_summary(res)
    assert "usemem (workload[0]): 2 tasks of 1M" in text
    assert "cpu0: 1048576 bytes / " in text and " KB/s" in text


def test_rotational_swap_uses_cluster_readahead():
    """A rotational device swapped on (nr_rotate_swap): swapin_readahead uses
    swap_cluster_readahead (the aligned 2^page-cluster slots around the
    entry) instead of VMA readahead; pages read ahead are counted swap_ra."""
    m, res = run(swap_scenario('size = "14M"\nrepeat = 1\nsleep_ns = -1', device="hdd",
                               duration_ns=20_000_000_000))
    sc = res.extra["swap"]["swap_cache"]
    assert sc["readahead"] == "cluster"
    vm = res.extra["vmstat"]
    assert vm["pswpin"] > 0 and vm["swap_ra"] > 0
    assert all(t["passes"] == 2 for t in details(res)["tasks"])
    check_all(m)
