"""Swap devices and the swap-slot allocator (mm/swapfile.c, mm/swap_slots.c).

Known results, with their sources:

* mm/swap_slots.c (6.12): with the slots cache active, ``si->lock`` is taken
  once per ``get_swap_pages(SWAP_SLOTS_CACHE_SIZE = 64)`` refill and once per
  ``swapcache_free_entries`` flush of 64 returned slots; with it inactive
  (free slots below 2 * 64 * nr_cpus, ``check_cache_active``) once per slot
  each way.
* mm/swapfile.c ``get_swap_pages`` + ``plist_requeue``: equal priorities
  share allocations round-robin, higher priorities go first; ``swapon``
  without ``-p`` gives -2, -3, ... in order (``least_priority``).
* Kairui Song's lock rework (6.14, 3b644773eefd "mm, swap: reduce contention
  on device lock"): ``si->lock`` only in ``isolate_lock_cluster`` and
  ``move_cluster``, i.e. once per cluster moved between lists.

Allocations are driven one at a time through each model's SyncDriver, as
different CPUs; reclaim (the real caller, ``add_to_swap``) comes next.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmactors import Machine, parse_scenario
from mmactors._core.errors import ScenarioError
from mmactors.lockdep import Lockdep
from mmactors.lockdep.hierarchy import swap_lock_order
from mmactors.mm.swapfile import (SWAP_HAS_CACHE, Swap, swp_offset, swp_type)
from mmactors.report.summary import format_summary
from mmactors.sync import lock_registry

VERSIONS = ("6.12", "6.14", "6.15")


def make(devices, *, cpus=4, version="6.12", lockdep=True, table=None):
    sw = Swap.standalone(devices, cpus=cpus, version=version)
    sw.ld = None
    if lockdep:
        sw.ld = Lockdep(sw.engine).attach()
        sw.ld.add_hierarchy(*swap_lock_order(table or version))
    return sw


def acq(sw, name):
    for c in lock_registry(sw.engine).classes.values():
        if c.name == name:
            return c.stat_w.acquisitions
    return 0


def alloc(sw, cpu):
    return sw.call(cpu, sw.folio_alloc_swap())


# ------------------------------------------------------------------ scenario
SCN = """
name = "swap-test"
[machine]
cpus = 2
memory_mib = 64
[run]
duration_ns = 200000
[[workload]]
kind = "page-alloc"
cpus = [0, 1]
order = 0
gfp = "GFP_KERNEL"
"""


def test_swap_section_defaults_and_priorities():
    scn = parse_scenario(SCN + '[[swap]]\nsize_mib = 16\n[[swap]]\nsize_mib = 8\ndevice = "zram"\n'
                         '[[swap]]\nsize_mib = 8\npriority = 7\n')
    m = Machine(scn, trace=False)
    sw = m.subsystems["swap"]
    assert [si.prio for si in sw.swap_info] == [-2, -3, 7]
    assert [si.device for si in sw.swap_info] == ["ssd", "zram", "ssd"]
    assert sw.version == "6.12" and sw.slots is not None
    assert [si.type for si in sw.avail] == [2, 0, 1]       # by priority
    assert sw.swap_info[0].pages == 16 * 256 - 1             # the header page
    res = m.run()
    assert res.error is None
    doc = res.to_json()
    assert doc["swap"]["allocator"] == "6.12"
    assert [d["prio"] for d in doc["swap"]["devices"]] == [-2, -3, 7]
    assert "swap_slots" in doc["caches"]
    text = format_summary(res)
    assert "swap: allocator 6.12" in text and "/dev/zram1" in text and "swap slots cache" in text


def test_no_swap_no_subsystem():
    m = Machine(parse_scenario(SCN), trace=False)
    assert "swap" not in m.subsystems
    assert "swap" not in m.run().to_json()


@pytest.mark.parametrize("text, where", [
    ("[[swap]]\ndevice = \"ssd\"\n", "swap[0].size_mib: is required"),
    ("[[swap]]\nsize_mib = 8\ndevice = \"floppy\"\n", "swap[0].device: must be one of"),
    ("[[swap]]\nsize_mib = 8\n[[swap]]\nsize_mib = 8\npriority = 40000\n",
     "swap[1].priority: must be between -1 and 32767"),
    ("[[swap]]\nsize_mib = 8\nsize = 3\n", "swap[0].size: unknown key"),
    ("[constants]\nswap_allocator = \"6.13\"\n", "constants.swap_allocator: must be one of"),
])
def test_swap_section_errors_name_file_line_key(text, where):
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(SCN + text, path="s.toml")
    msg = str(ei.value)
    assert msg.startswith("s.toml:") and where in msg, msg
    lines = (SCN + text).splitlines()
    lineno = int(msg.split(":")[1])
    key = where.split(":")[0].split(".")[-1]
    assert key in lines[lineno - 1] or "[[swap]]" in lines[lineno - 1], (lineno, msg)


@pytest.mark.parametrize("version", VERSIONS)
def test_machine_with_swap_seeds_the_swap_lock_order(version):
    scn = parse_scenario(SCN + f'[constants]\nswap_allocator = "{version}"\n'
                               '[[swap]]\nsize_mib = 8\n[lockdep]\nenabled = true\n')
    m = Machine(scn, trace=False)
    res = m.run()
    assert res.error is None
    ld = m.subsystems["lockdep"].lockdep
    names = {c.name for c in ld.class_list}
    assert {"&p->lock", "&cluster_info[i].lock", "swap_avail_lock"} <= names
    assert (m.subsystems["swap"].slots is None) == (version == "6.15")


# ------------------------------------------------------------- known results
def test_612_slots_cache_takes_si_lock_once_per_64_slots():
    sw = make([dict(size_mib=64)])                 # 16,383 slots, 4 CPUs: active
    n = 64 * 40
    ents = [alloc(sw, i % 4) for i in range(n)]
    assert all(ents) and len(set(ents)) == n
    a = acq(sw, "&p->lock")
    assert n // 64 <= a <= n // 64 + 4, a          # one refill per 64, a partial one per CPU
    assert sw.slots.swap_slot_cache_active
    for i, e in enumerate(ents):
        sw.call(i % 4, sw.put_swap_folio(e))
    f = acq(sw, "&p->lock") - a
    assert n // 64 - 4 <= f <= n // 64, f          # one flush per 64 returned (64 stay cached)
    st = sw.slots.stats
    assert sum(st.alloc_hits) == n - sum(st.refills)
    sw._check()
    assert not sw.ld.reports


def test_612_slots_cache_off_below_threshold_takes_si_lock_per_slot():
    sw = make([dict(size_mib=1)])                  # 255 slots < 2 * 64 * 4
    n = 200
    ents = [alloc(sw, i % 4) for i in range(n)]
    assert all(ents)
    assert not sw.slots.swap_slot_cache_active
    assert acq(sw, "&p->lock") == n
    for i, e in enumerate(ents):
        sw.call(i % 4, sw.put_swap_folio(e))
    assert acq(sw, "&p->lock") == 2 * n
    assert sum(sw.slots.stats.alloc_hits) == 0
    sw._check()


def test_612_slots_cache_deactivates_as_swap_fills():
    sw = make([dict(size_mib=6)])                  # 1,535 slots: on above 1,280, off below 512
    ents = []
    while True:
        e = alloc(sw, len(ents) % 4)
        if not e:
            break
        ents.append(e)
    assert len(ents) == 1535 and sw.nr_swap_pages == 0
    assert sw.slots.activations == 1 and sw.slots.deactivations == 1
    assert not sw.slots.swap_slot_cache_active
    sw._check()


@pytest.mark.parametrize("version", VERSIONS)
def test_round_robin_among_equal_priorities(version):
    """Per get_swap_pages call in 6.12/6.14 (here the slots cache is off: the
    devices are small); in 6.15 per swap_alloc_slow, i.e. per CPU cluster: a
    CPU then stays on its cluster's device (swap_alloc_fast)."""
    sw = make([dict(size_mib=1, priority=5), dict(size_mib=1, priority=5)], version=version)
    if version == "6.15":
        first = [swp_type(alloc(sw, cpu)) for cpu in range(4)]
        assert first == [0, 1, 0, 1]
        assert [swp_type(alloc(sw, 1)) for _ in range(6)] == [1] * 6
    else:
        types = [swp_type(alloc(sw, 0)) for _ in range(8)]
        assert types == [0, 1, 0, 1, 0, 1, 0, 1]
    sw._check()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("prios", [(10, 5), (None, None)])
def test_strict_priority_order_otherwise(version, prios):
    sw = make([dict(size_mib=1, priority=prios[0]), dict(size_mib=1, priority=prios[1])],
              version=version)
    types = [swp_type(alloc(sw, i % 4)) for i in range(300)]
    assert types == [0] * 255 + [1] * 45           # the first fills before the second is used
    sw._check()


@pytest.mark.parametrize("version", ["6.14", "6.15"])
def test_later_allocator_takes_si_lock_only_to_move_clusters(version):
    sw = make([dict(size_mib=64)], version=version)
    n = 64 * 40
    ents = [alloc(sw, i % 4) for i in range(n)]
    for i, e in enumerate(ents):
        sw.call(i % 4, sw.put_swap_folio(e))
    moves = sum(si.list_moves for si in sw.swap_info)
    assert acq(sw, "&p->lock") == moves
    assert moves < n // 64                          # fewer than 6.12's once per 64
    sw._check()
    assert not sw.ld.reports


def test_612_and_later_lock_orders_conflict():
    """The 6.14 rework reversed si->lock and ci->lock: its paths, checked
    against 6.12's order, are a circular dependency to lockdep."""
    sw = make([dict(size_mib=8)], version="6.14", table="6.12")
    sw.ld.stop = False
    for i in range(600):
        alloc(sw, i % 4)
    assert sw.ld.reports and "circular" in sw.ld.reports[0].kind


def test_lock_figures_do_not_depend_on_lockdep():
    figs = []
    for ld in (False, True):
        sw = make([dict(size_mib=16)], lockdep=ld)
        ents = [alloc(sw, i % 4) for i in range(500)]
        for i, e in enumerate(ents):
            sw.call((i + 1) % 4, sw.put_swap_folio(e))
        figs.append(lock_registry(sw.engine).to_json())
    assert figs[0] == figs[1]


# ---------------------------------------------------------- property tests
DEVICES = st.lists(st.fixed_dictionaries({
    "size_mib": st.sampled_from([1, 2, 3]),
    "device": st.sampled_from(["ssd", "zram", "hdd"]),
    "priority": st.sampled_from([None, 0, 5])}), min_size=1, max_size=3)
OPS = st.lists(st.tuples(st.sampled_from(["alloc", "alloc", "alloc", "dup", "put", "free"]),
                         st.integers(0, 3), st.integers(0, 10**6)), max_size=400)


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from(VERSIONS), devices=DEVICES, ops=OPS)
def test_allocator_invariants_under_random_alloc_free(version, devices, ops):
    """No slot both free and used; swap_map counts equal the references the
    test holds; cluster lists consistent with counts; nr_swap_pages equal to
    the free slots (checked by Swap._check after every step)."""
    sw = make(devices, version=version)
    live: dict[int, list[int]] = {}           # entry -> [swap count, has_cache]
    for op, cpu, pick in ops:
        if op == "alloc":
            e = alloc(sw, cpu)
            if not e:
                assert sw.nr_swap_pages <= 0 or sw.cached_slots(), "no entry with swap free"
                continue
            assert e not in live, f"entry {e:#x} handed out twice"
            assert e not in sw.cached_slots()
            live[e] = [0, 1]
        elif live:
            e = sorted(live)[pick % len(live)]
            cnt = live[e]
            if op == "dup" and cnt[0] < 10:
                sw.call(cpu, sw.swap_duplicate(e))
                cnt[0] += 1
            elif op == "put" and cnt[1]:
                sw.call(cpu, sw.put_swap_folio(e))
                cnt[1] = 0
            elif op == "free" and cnt[0]:
                sw.call(cpu, sw.swap_free(e))
                cnt[0] -= 1
            if cnt == [0, 0]:
                del live[e]
        sw._check()
        for e, (c, hc) in live.items():
            assert sw.map_of(e) == c | (SWAP_HAS_CACHE if hc else 0), f"{e:#x}"
        cached = sw.cached_slots()
        assert not cached & set(live)
        used = sum(si.inuse_pages for si in sw.swap_info)
        assert used == len(live) + len(cached)
        for si in sw.swap_info:
            assert si.swap_map[1:].astype(bool).sum() == \
                sum(1 for e in list(live) + list(cached) if swp_type(e) == si.type)
    assert not sw.ld.reports
    for e in live:
        assert swp_offset(e) != 0


# ------------------------------------------------ concurrent CPUs (actors)
def run_actors(version, cpus, *, iters=120, think_ns=3000, size_mib=64, lockdep=True, seed=1):
    """Each CPU swaps out ``iters`` entries (folio_alloc_swap, then
    ``think_ns`` for the rest of a swap-out), keeps the last 32 and returns
    the oldest 16 whenever it holds 32 (put_swap_folio), then returns all."""
    from mmactors._core import Engine
    node_of = [0] * cpus
    eng = Engine(seed=seed, trace=False, node_of=node_of)
    sw = Swap(eng, [dict(size_mib=size_mib, device="ssd", priority=None, latency_ns=0,
                         bandwidth_mib_s=0)], ncpus=cpus, node_of=node_of, version=version)
    ld = None
    if lockdep:
        ld = Lockdep(eng).attach()
        ld.add_hierarchy(*swap_lock_order(version))

    async def body(actor):
        held = []
        for _ in range(iters):
            e = await sw.folio_alloc_swap()
            assert e
            held.append(e)
            await eng.spend(think_ns)
            if len(held) >= 32:
                for x in held[:16]:
                    await sw.put_swap_folio(x)
                del held[:16]
        for x in held:
            await sw.put_swap_folio(x)
    for c in range(cpus):
        eng.add_actor(f"cpu{c}", body, cpu=c, node=0)
    eng.run()
    return sw, ld, lock_registry(eng).to_json()


@pytest.mark.parametrize("version", VERSIONS)
def test_concurrent_cpus_keep_the_allocator_consistent(version):
    sw, ld, locks = run_actors(version, 8)
    sw._check()
    assert not ld.reports
    assert sum(si.inuse_pages for si in sw.swap_info) == len(sw.cached_slots())
    assert locks["&p->lock"]["contentions"] >= 0
    if version != "6.12":
        assert locks["&p->lock"]["acquisitions"] == sum(si.list_moves for si in sw.swap_info)
