"""The ``fs_reclaim`` lockdep map (mm/sched_mm.py; Linux 6.12 mm/page_alloc.c
``fs_reclaim_acquire``/``__need_reclaim``, include/linux/sched/mm.h
``might_alloc``/``current_gfp_context``, mm/vmscan.c ``balance_pgdat``):
lib/locking-selftest.c's three fs_reclaim tests, the rules on each gfp mask
and task scope, and the report the kernel's lockdep is known for -- an
allocation that may enter reclaim while holding a lock that reclaim takes --
from the real allocator and the real reclaim paths."""
from __future__ import annotations

import pytest

from helpers import thp_sysfs
from mmactors import Machine, parse_scenario
from mmactors.lockdep import lockdep_of
from mmactors.lockdep import selftest as T
from mmactors.mm import sched_mm as S
from mmactors.mm.gfp import __GFP_FS, parse_gfp
from mmactors.mm.physmem import physmem_of
from mmactors.mm.vmscan import VmScan
from mmactors.sync import RWSemaphore
from mmactors.testing import run_selftest_case


# ------------------------------------------------- lib/locking-selftest.c
@pytest.mark.parametrize("name,expected", [
    ("fs_reclaim_correct_nesting", T.SUCCESS),     # might_alloc(GFP_NOFS) inside reclaim
    ("fs_reclaim_wrong_nesting", T.FAILURE),       # might_alloc(GFP_KERNEL) inside reclaim
    ("fs_reclaim_protected_nesting", T.SUCCESS),   # ... inside memalloc_nofs_save()
])
def test_fs_reclaim_selftests(name, expected):
    """fs_reclaim_tests() (lib/locking-selftest.c): dotest(..., SUCCESS/FAILURE, 0);
    the failure is lockdep's recursion on the fs_reclaim map."""
    case = {c.name: c for c in T.cases()}[name]
    assert case.expected == expected and case.group in ("correct nesting", "wrong nesting",
                                                        "protected nesting")
    debug_locks, reports, _ = run_selftest_case(case)
    assert debug_locks == expected
    if expected == T.FAILURE:
        assert [r.kind for r in reports] == ["recursive"]
        assert reports[0].classes == ["fs_reclaim", "fs_reclaim"]
        assert "(fs_reclaim){+.+.}-{0:0}" in reports[0].text


# ------------------------------------------------------- the rules, mask by mask
def _program(steps):
    """A one-CPU lock-sequence run of ``steps``: the lockdep reports."""
    text = "\n".join(['name = "fs-reclaim-rule"', "[machine]", "cpus = 1",
                      "[[workload]]", 'kind = "lock-sequence"', "cpus = [0]",
                      "steps = [" + ", ".join(f'"{s}"' for s in steps) + "]",
                      "[lockdep]", "enabled = true", "hierarchy = false",
                      "[run]", "duration_ns = 1_000_000", "seed = 1"])
    m = Machine(parse_scenario(text, "<fs_reclaim>"), trace=False)
    m.run()
    return lockdep_of(m).reports


# (scope steps, gfp, does might_alloc take fs_reclaim?)  mm/page_alloc.c
# __need_reclaim: no map without __GFP_DIRECT_RECLAIM or under PF_MEMALLOC;
# fs_reclaim_acquire: the map only with __GFP_FS, after current_gfp_context.
RULES = [
    ((), "GFP_KERNEL", True),
    ((), "GFP_KERNEL_ACCOUNT", True),
    ((), "GFP_HIGHUSER_MOVABLE", True),
    ((), "GFP_TRANSHUGE", True),              # __GFP_DIRECT_RECLAIM | __GFP_FS
    ((), "GFP_NOFS", False),
    ((), "GFP_NOIO", False),
    ((), "GFP_NOWAIT", False),
    ((), "GFP_ATOMIC", False),
    ((), "GFP_TRANSHUGE_LIGHT", False),        # no __GFP_DIRECT_RECLAIM
    (("memalloc_nofs_save",), "GFP_KERNEL", False),
    (("memalloc_noio_save",), "GFP_KERNEL", False),
    (("memalloc_noreclaim_save",), "GFP_KERNEL", False),
    (("memalloc_nofs_save", "memalloc_nofs_restore"), "GFP_KERNEL", True),
    (("memalloc_noio_save", "memalloc_noio_restore"), "GFP_KERNEL", True),
]


@pytest.mark.parametrize("scope,gfp,takes", RULES)
def test_might_alloc_inside_reclaim(scope, gfp, takes):
    """Inside fs_reclaim_acquire(GFP_KERNEL), might_alloc(gfp) is recursion
    exactly when that allocation would take fs_reclaim itself."""
    reports = _program(["fs_reclaim_acquire GFP_KERNEL", *scope, f"might_alloc {gfp}",
                        "fs_reclaim_release GFP_KERNEL"])
    assert [r.kind for r in reports] == (["recursive"] if takes else [])


def test_scopes_nest_and_restore_only_what_they_set():
    """memalloc_flags_save returns the bits it newly set; an inner save of a
    bit already set restores nothing (include/linux/sched/mm.h)."""
    class A:
        data: dict = {}
    a = A()
    outer = S.memalloc_nofs_save(a)
    inner = S.memalloc_nofs_save(a)
    assert (outer, inner) == (S.PF_MEMALLOC_NOFS, 0)
    S.memalloc_nofs_restore(a, inner)
    assert S.current_gfp_context(a, parse_gfp("GFP_KERNEL")) == parse_gfp("GFP_NOFS")
    S.memalloc_nofs_restore(a, outer)
    assert S.current_gfp_context(a, parse_gfp("GFP_KERNEL")) == parse_gfp("GFP_KERNEL")
    noio = S.memalloc_noio_save(a)
    S.memalloc_nofs_save(a)                   # NOIO wins over NOFS
    assert S.current_gfp_context(a, parse_gfp("GFP_KERNEL")) == parse_gfp("GFP_NOIO")
    S.memalloc_noio_restore(a, noio)


def test_lock_then_allocate_against_reclaim_then_lock():
    """The classic: CPU0 is reclaim (fs_reclaim held) and takes i_mmap_rwsem
    (rmap_walk_file's i_mmap_lock_read); CPU1 holds i_mmap_rwsem and
    allocates GFP_KERNEL.  A circular dependency naming both; GFP_NOFS in
    its place is silent."""
    def run(gfp):
        text = f"""
name = "fs-reclaim-abba"
[machine]
cpus = 2
[[lock]]
name = "imap"
kind = "rwsem"
class = "&mapping->i_mmap_rwsem"
[[workload]]
kind = "lock-sequence"
cpus = [0]
steps = ["fs_reclaim_acquire GFP_KERNEL", "read_lock imap", "read_unlock imap",
         "fs_reclaim_release GFP_KERNEL"]
[[workload]]
kind = "lock-sequence"
cpus = [1]
steps = ["delay 1000", "lock imap", "might_alloc {gfp}", "unlock imap"]
[lockdep]
enabled = true
[run]
duration_ns = 1_000_000
seed = 1
"""
        m = Machine(parse_scenario(text, "<abba>"), trace=False)
        m.run()
        return lockdep_of(m).reports
    r = run("GFP_KERNEL")
    assert [x.kind for x in r] == ["circular"]
    assert set(r[0].classes) == {"fs_reclaim", "&mapping->i_mmap_rwsem"}
    assert run("GFP_NOFS") == []


# ------------------------------------------- the real allocator and reclaim
def _reclaim_machine(alloc, *, kswapd_only=False, where="shrink_node", lockdep=True):
    """64 MiB with SSD swap; CPUs 0 and 1 touch 40 MiB each (direct reclaim
    and kswapd run, as test_vmscan's storm), or CPU 0 touches 96 MiB slowly
    (kswapd alone keeps up).  Reclaim's shrink_node takes a test rwsem
    ``&test->reclaim_sem`` for read, as it takes i_mmap_rwsem or
    anon_vma->rwsem in the rmap walk; CPU 2 runs ``alloc(me, sem, pa)``
    every 200 us.  ``where="kswapd_shrink_node"``: only kswapd's
    balance_pgdat takes the test rwsem.  Returns (machine, result, sem)."""
    cpus = [0]
    if kswapd_only:
        steps = ["mmap buf 96M rw anon,private"]
        for off in range(0, 96 * 1024, 128):
            steps += [f"touch buf write {off}K 128K", "delay 1000000"]
    else:
        steps = ["mmap buf 40M rw anon,private", "touch buf write"]
        cpus = [0, 1]
    st_ = ", ".join('"' + s + '"' for s in steps)
    text = f"""
name = "fs-reclaim-test"
[machine]
cpus = 3
memory_mib = 64
[[swap]]
size_mib = 256
device = "ssd"
{thp_sysfs("never")}
[[workload]]
kind = "mm-ops"
cpus = {cpus}
steps = [{st_}]
[lockdep]
enabled = {str(lockdep).lower()}
[run]
duration_ns = {600_000_000 if kswapd_only else 10_000_000}
seed = 1
"""
    m = Machine(parse_scenario(text, "<test>"), trace=False)
    eng = m.engine
    sem = RWSemaphore(eng, "&test->reclaim_sem")
    pa = physmem_of(m).pa
    orig = getattr(VmScan, where)

    async def shrink_node(self, pgdat, sc, me):
        # only reclaim that may call into the filesystem, as a superblock
        # shrinker (fs/super.c super_cache_scan: SHRINK_STOP without __GFP_FS)
        if sc.gfp_mask & __GFP_FS:
            await sem.down_read("shrink_node (test)")
            sem.up_read("shrink_node (test)")
        return await orig(self, pgdat, sc, me)

    async def body(me):
        for _ in range(40):
            await alloc(me, sem, pa)
            await eng.spend(200_000)

    eng.add_actor("allocator", body, cpu=2)
    setattr(VmScan, where, shrink_node)
    try:
        res = m.run()
    finally:
        setattr(VmScan, where, orig)
    return m, res, sem


def _under_sem(gfp, scope=None):
    g = parse_gfp(gfp)

    async def alloc(me, sem, pa):
        await sem.down_write("allocator (test)")
        flags = scope[0](me) if scope else None
        pfn = await pa.alloc_pages(g, 0)
        if scope:
            scope[1](me, flags)
        sem.up_write("allocator (test)")
        if pfn >= 0:
            await pa.free_pages(pfn, 0)
    return alloc


def _dep(ld, a, b):
    ca, cb = ld.classes.get((a, 0)), ld.classes.get((b, 0))
    return ca is not None and cb is not None and cb in ca.after


def test_gfp_kernel_under_a_lock_reclaim_takes_is_reported():
    """GFP_KERNEL while holding a lock that reclaim takes: "possible
    circular locking dependency" between fs_reclaim and that lock, whether
    or not this run's reclaim ever met the holder (mm/page_alloc.c
    prepare_alloc_pages: might_alloc; __perform_reclaim: fs_reclaim held
    around try_to_free_pages)."""
    m, res, _ = _reclaim_machine(_under_sem("GFP_KERNEL"))
    assert res.error is not None and res.exit_status == 4, "no lockdep report"
    rep = lockdep_of(m).reports[0]
    assert rep.kind == "circular"
    assert set(rep.classes) == {"fs_reclaim", "&test->reclaim_sem"}
    assert "fs_reclaim" in rep.text and "&test->reclaim_sem" in rep.text


@pytest.mark.parametrize("gfp,scope", [
    ("GFP_NOFS", None),
    ("GFP_NOWAIT", None),
    ("GFP_KERNEL", (S.memalloc_nofs_save, S.memalloc_nofs_restore)),
    ("GFP_KERNEL", (S.memalloc_noreclaim_save, S.memalloc_noreclaim_restore)),   # PF_MEMALLOC
], ids=["GFP_NOFS", "GFP_NOWAIT", "memalloc_nofs_save", "PF_MEMALLOC"])
def test_allocations_that_cannot_recurse_into_fs_reclaim_are_silent(gfp, scope):
    """The same lock, the same reclaim, masks or scopes that do not take
    fs_reclaim: silent, although reclaim did take the lock under fs_reclaim."""
    m, res, _ = _reclaim_machine(_under_sem(gfp, scope))
    assert res.error is None, res.error.report()
    ld = lockdep_of(m)
    assert ld.reports == []
    assert _dep(ld, "fs_reclaim", "&test->reclaim_sem")
    assert not _dep(ld, "&test->reclaim_sem", "fs_reclaim")


def test_kswapd_holds_fs_reclaim_across_balance_pgdat():
    """A lock kswapd takes in balance_pgdat (here in kswapd_shrink_node) is
    taken under fs_reclaim (balance_pgdat: __fs_reclaim_acquire at its
    start, __fs_reclaim_release at its end, mm/vmscan.c), and kswapd runs
    PF_MEMALLOC | PF_KSWAPD (kswapd(): tsk->flags |= ...)."""
    async def alloc(me, sem, pa):
        pass
    m, res, _ = _reclaim_machine(alloc, kswapd_only=True, where="kswapd_shrink_node")
    assert res.error is None, res.error.report()
    ld = lockdep_of(m)
    dep = ld.classes[("fs_reclaim", 0)].after.get(ld.classes[("&test->reclaim_sem", 0)])
    assert dep is not None, "kswapd's balance_pgdat did not hold fs_reclaim"
    assert dep.trace.actor.startswith("kswapd")
    kswapd = [a for a in m.engine.actors if a.name.startswith("kswapd")]
    assert kswapd and S.current_flags(kswapd[0]) & (S.PF_MEMALLOC | S.PF_KSWAPD) == \
        S.PF_MEMALLOC | S.PF_KSWAPD


def test_kswapd_fs_reclaim_closes_the_cycle_with_an_allocator():
    """kswapd's balance_pgdat holds fs_reclaim: a lock only kswapd takes
    under it, held by a GFP_KERNEL allocator, is a circular dependency."""
    m, res, _ = _reclaim_machine(_under_sem("GFP_KERNEL"), kswapd_only=True,
                                 where="kswapd_shrink_node")
    assert res.exit_status == 4
    rep = lockdep_of(m).reports[0]
    assert rep.kind == "circular"
    assert set(rep.classes) == {"fs_reclaim", "&test->reclaim_sem"}
    assert "balance_pgdat" in rep.text


# ------------------------------------------------------------ the rest
def test_the_shipped_fs_reclaim_scenario():
    """scenarios/lockdep/fs-reclaim.toml: GFP_KERNEL under anon_vma->rwsem
    (mm/rmap.c anon_vma_clone uses GFP_NOWAIT there) against reclaim's rmap
    walk: exit 4, one circular report naming both; GFP_NOWAIT passes."""
    from mmactors.testing import run_scenario
    res = run_scenario("lockdep/fs-reclaim")
    assert res.exit_status == 4
    (r,) = res.to_json()["lockdep"]["reports"]
    assert r["kind"] == "circular"
    assert set(r["classes"]) == {"fs_reclaim", "&anon_vma->rwsem"}
    assert '"might_alloc GFP_KERNEL"' in r["text"]


def test_a_bad_gfp_in_a_step_is_one_clear_error():
    from mmactors.scenario import ScenarioError
    text = "\n".join(['name = "x"', "[machine]", "cpus = 1", "[[workload]]",
                      'kind = "lock-sequence"', "cpus = [0]",
                      'steps = ["might_alloc GFP_KERNAL"]', "[run]", "duration_ns = 1000"])
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "bad.toml")
    msg = str(e.value)
    assert "bad.toml" in msg and "steps" in msg and "GFP_KERNAL" in msg


@pytest.mark.no_lockdep
def test_without_lockdep_the_same_program_deadlocks_and_pays_nothing(monkeypatch):
    """Lockdep off: the allocators never call might_alloc (one tuple test),
    and the GFP_KERNEL allocator under the lock reclaim takes really
    deadlocks once memory runs short -- on itself, inside its own direct
    reclaim: what lockdep reported above before it could happen."""
    from mmactors._core.errors import Deadlock
    from mmactors.mm import page_alloc, slub
    from mmactors.testing import lockdep_enabled

    def boom(*a):
        raise AssertionError("might_alloc called with no validator watching")
    monkeypatch.setattr(page_alloc, "might_alloc", boom)
    monkeypatch.setattr(slub, "might_alloc", boom)
    with lockdep_enabled(False):
        m, res, _ = _reclaim_machine(_under_sem("GFP_KERNEL"), lockdep=False)
    assert lockdep_of(m) is None
    assert isinstance(res.error, Deadlock), res.error
    assert "&test->reclaim_sem" in str(res.error)


@pytest.mark.parametrize("cls", ["&anon_vma->rwsem", "&mapping->i_mmap_rwsem"])
def test_the_mm_order_knows_reclaim_takes_the_rmap_locks(cls):
    """hierarchy.FS_RECLAIM_LOCK_ORDER (mm/vmscan.c try_to_unmap's rmap walk
    under fs_reclaim): GFP_KERNEL under an rmap lock is reported on first
    sight, with no reclaim in the run; without the table it is not."""
    def run(hierarchy):
        text = f"""
name = "rmap-alloc"
[machine]
cpus = 1
[[lock]]
name = "L"
kind = "rwsem"
class = "{cls}"
[[workload]]
kind = "lock-sequence"
cpus = [0]
steps = ["lock L", "might_alloc GFP_NOWAIT", "might_alloc GFP_KERNEL", "unlock L"]
[lockdep]
enabled = true
hierarchy = {str(hierarchy).lower()}
[run]
duration_ns = 1_000_000
"""
        m = Machine(parse_scenario(text, "<rmap-alloc>"), trace=False)
        m.run()
        return lockdep_of(m).reports
    (r,) = run(True)
    assert r.kind == "circular" and r.hierarchy and set(r.classes) == {"fs_reclaim", cls}
    assert "might_alloc GFP_KERNEL" in r.text
    assert run(False) == []


def test_fs_reclaim_order_extends_the_table_without_a_cycle():
    from mmactors.lockdep import hierarchy as H
    edges = H.MM_LOCK_ORDER + H.RECLAIM_LOCK_ORDER + H.FS_RECLAIM_LOCK_ORDER
    succ: dict = {}
    for a, b, _ in edges:
        succ.setdefault(a, []).append(b)
    seen, stack = set(), list(succ["fs_reclaim"])
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.add(c)
            stack.extend(succ.get(c, ()))
    assert "fs_reclaim" not in seen
    assert {"&anon_vma->rwsem", "&mapping->i_mmap_rwsem", "&xa->xa_lock"} <= seen
