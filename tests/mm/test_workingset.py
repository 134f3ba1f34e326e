"""Workingset detection (mm/workingset.c, Linux 6.12): shadow entries and
refault distances, against an LRU on a standalone machine."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mmactors.mm._internal import PG_workingset
from mmactors.mm.gfp import GFP_HIGHUSER_MOVABLE
from mmactors.mm.filemap import PG_active
from mmactors.mm.swap import LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_INACTIVE_FILE
from mmactors.mm.vmstat import NODE_STAT_ITEMS
from mmactors.mm.workingset import (EVICTION_MASK, EVICTION_SHIFT, NODES_SHIFT, pack_shadow,
                                    unpack_shadow, workingset_eviction, workingset_refault)

from .test_vmscan import _LRUBench


@given(memcg=st.integers(0, (1 << 16) - 1), nid=st.integers(0, (1 << NODES_SHIFT) - 1),
       eviction=st.integers(0, EVICTION_MASK), ws=st.booleans())
def test_pack_unpack_roundtrip(memcg, nid, eviction, ws):
    """pack_shadow/unpack_shadow: an xarray value entry (bit 0 set) that fits
    in 64 bits and gives back what was packed."""
    s = pack_shadow(memcg, nid, eviction, ws)
    assert s & 1 and s < (1 << 64)
    assert unpack_shadow(s) == (memcg, nid, eviction, ws)


def test_eviction_shift_is_the_kernels():
    """EVICTION_SHIFT = (BITS_PER_LONG - BITS_PER_XA_VALUE) + WORKINGSET_SHIFT
    + NODES_SHIFT + MEM_CGROUP_ID_SHIFT = 1 + 1 + 6 + 16."""
    assert EVICTION_SHIFT == 24 and EVICTION_MASK == (1 << 40) - 1


class _Sub:
    """The fields of an AddrSpace the workingset code reads."""

    def __init__(self, b, swap_free=0):
        self.lru = b.lru
        self.mem_map = b.pa.mem_map
        self.vmstat = b.pa.vmstat
        self.pa = b.pa

        class Swap:
            nr_swap_pages = swap_free
        self.swap = Swap() if swap_free else None


def _stat(b, name):
    i = NODE_STAT_ITEMS.index(name)
    pg = b.pa.nodes[0]
    return pg.vm_stat[i] + sum(d[i] for d in pg.vm_node_stat_diff)


def _fill(b, lru, n):
    """n frames on list lru, for its size only (lruvec_page_state): allocated,
    so that no folio of the test is given the same frame."""
    lv = b.lru.lruvecs[0]
    for _ in range(n):
        lv.add(b.call(0, b.pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0)), lru)


def test_refault_within_workingset_activates():
    """A refault distance no larger than the workingset (active file, plus
    inactive file for anon refaults, plus anon with free swap) activates the
    folio: workingset_refault_anon and workingset_activate_anon count."""
    b = _LRUBench()
    sub = _Sub(b, swap_free=1000)
    pfn = b.new_folio()
    shadow = workingset_eviction(sub, pfn)
    lv = b.lru.lruvecs[0]
    _fill(b, LRU_ACTIVE_FILE, 50)
    _fill(b, LRU_INACTIVE_FILE, 30)
    _fill(b, LRU_ACTIVE_ANON, 20)                # workingset size 100 for anon
    lv.nonresident_age += 99                     # distance 99 (+1 from the eviction itself)
    f = b.pa.mem_map.f
    f[pfn] &= ~PG_active
    workingset_refault(sub, pfn, shadow, b.me[0])
    assert f[pfn] & PG_active and not f[pfn] & PG_workingset
    assert _stat(b, "workingset_refault_anon") == 1
    assert _stat(b, "workingset_activate_anon") == 1
    assert _stat(b, "workingset_restore_anon") == 0


def test_refault_beyond_workingset_stays_inactive():
    """A distance larger than the workingset: counted as a refault only."""
    b = _LRUBench()
    sub = _Sub(b, swap_free=0)                   # no free swap: anon lists do not count
    pfn = b.new_folio()
    shadow = workingset_eviction(sub, pfn)
    _fill(b, LRU_ACTIVE_FILE, 50)
    _fill(b, LRU_ACTIVE_ANON, 500)
    b.lru.lruvecs[0].nonresident_age += 60
    f = b.pa.mem_map.f
    workingset_refault(sub, pfn, shadow, b.me[0])
    assert not f[pfn] & PG_active
    assert _stat(b, "workingset_refault_anon") == 1
    assert _stat(b, "workingset_activate_anon") == 0


def test_refault_of_a_workingset_folio_restores():
    """A folio evicted with PG_workingset (it was active) comes back with
    PG_workingset: workingset_restore_anon."""
    b = _LRUBench()
    sub = _Sub(b, swap_free=10)
    pfn = b.new_folio()
    f = b.pa.mem_map.f
    f[pfn] |= PG_workingset
    shadow = workingset_eviction(sub, pfn)
    assert unpack_shadow(shadow)[3]
    f[pfn] &= ~PG_workingset
    _fill(b, LRU_ACTIVE_ANON, 10)                # a workingset for the distance of 1
    workingset_refault(sub, pfn, shadow, b.me[0])
    assert f[pfn] & PG_active and f[pfn] & PG_workingset
    assert _stat(b, "workingset_restore_anon") == 1


def test_eviction_ages_the_clock():
    """workingset_eviction reads nonresident_age, then ages it by the folio."""
    b = _LRUBench()
    sub = _Sub(b)
    pfn = b.new_folio()
    lv = b.lru.lruvecs[0]
    lv.nonresident_age = 1234
    s = workingset_eviction(sub, pfn)
    assert unpack_shadow(s)[2] == 1234 and lv.nonresident_age == 1235


# ------------------------------------------------------------ end to end
def _mm_ops_machine(workloads, memory_mib, duration_ns=2_000_000_000):
    from mmactors import Machine, parse_scenario

    def q(x):
        return '"' + x + '"'
    wl = "".join(f'[[workload]]\nkind = "mm-ops"\ncpus = [{cpu}]\n'
                 f'steps = [{", ".join(q(s) for s in steps)}]\n'
                 for cpu, steps in enumerate(workloads))
    text = f"""
name = "workingset-test"
[machine]
cpus = {len(workloads)}
memory_mib = {memory_mib}
[[swap]]
size_mib = 256
device = "ssd"
{wl}
[run]
duration_ns = {duration_ns}
seed = 1
"""
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return m, res


def test_refaults_within_the_workingset_activate():
    """mm/workingset.c's model: a working set cycled with a period whose
    refault distance fits in the active list is activated on refault.  On a
    32 MiB machine: 8 MiB retouched every 5 ms (it becomes the active list),
    10 MiB retouched every 60 ms (evicted between passes under the pressure
    of a 60 MiB stream at 128 KiB/ms), so its refaults come back at a
    distance below the active list's size: workingset_activate_anon > 0,
    and those that were active before eviction are restored
    (workingset_restore_anon > 0)."""
    stream = ["mmap big 60M rw anon,private"]
    for off in range(0, 60 * 1024, 128):
        stream += [f"touch big write {off}K 128K", "delay 1000000"]
    hot = ["mmap wa 8M rw anon,private", "touch wa write"]
    hot += ["delay 5000000", "retouch wa read 1"] * 120
    warm = ["mmap wb 10M rw anon,private", "touch wb write"]
    warm += ["delay 60000000", "retouch wb read 1"] * 10
    m, res = _mm_ops_machine([hot, warm, stream], 32)
    vm = res.to_json()["vmstat"]
    assert vm["workingset_refault_anon"] > 0
    assert 0 < vm["workingset_activate_anon"] <= vm["workingset_refault_anon"]
    assert vm["workingset_restore_anon"] > 0
    assert vm["pgactivate"] > 0 and vm["pgdeactivate"] > 0


def test_cycling_over_more_than_memory_refaults_without_activation():
    """A working set larger than memory (40 MiB cycled twice on 32 MiB): every
    folio is evicted before it is used again, the refault distance exceeds
    the workingset (nothing is ever active), so no refault activates."""
    m, res = _mm_ops_machine([["mmap buf 40M rw anon,private", "touch buf write",
                               "retouch buf write 1"]], 32)
    vm = res.to_json()["vmstat"]
    assert vm["workingset_refault_anon"] > 1000
    assert vm["workingset_activate_anon"] == 0
