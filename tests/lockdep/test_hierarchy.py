"""The mm lock order of mm/rmap.c and mm/filemap.c as data, and lockdep
checking simulated paths (written with the kernel's class names) against it."""
import pytest

from mmactors.lockdep import hierarchy as H

from helpers import lock_scenario, lockdep_reports, run_lock_scenario

RW, SPIN = "rwsem", "spinlock"


def test_table_is_a_partial_order():
    closure = H.order_of()
    for c, below in closure.items():
        assert c not in below, f"{c} is ordered before itself"
    for outer, inner, where in H.MM_LOCK_ORDER:
        assert outer in H.CLASSES and inner in H.CLASSES
        assert where.split(":")[0] in ("mm/rmap.c", "mm/filemap.c", "mm/page_alloc.c",
                                       "mm/slub.c", "include/linux/mmap_lock.h")
    for alias, name in H.ALIASES.items():
        assert name in H.CLASSES, alias


def test_table_matches_the_rmap_comment():
    o = H.is_ordered
    assert o("inode->i_rwsem", "mmap_lock")
    assert o("mmap_lock", "i_mmap_rwsem") and o("i_mmap_rwsem", "anon_vma->rwsem")
    assert o("anon_vma->rwsem", "pte_lock") and o("page_table_lock", "swap_lock")
    assert o("swap_lock", "private_lock") and o("private_lock", "i_pages lock")
    assert o("i_pages lock", "lru_lock") and o("bdi.wb->list_lock", "sb_lock")
    assert o("anon_vma->rwsem", "tasklist_lock") and o("tasklist_lock", "pte_lock")
    assert o("mmap_lock", "vma_start_write") and o("vm_lock", "&mapping->i_mmap_rwsem")
    # the reverse of any of these is a violation; unrelated pairs are unknown
    assert o("lru_lock", "mmap_lock") is False
    assert o("mmlist_lock", "sb_lock") is None
    # the stale filemap.c entry (->private_lock -> ->swap_lock) is not encoded
    assert o("private_lock", "swap_lock") is False


def _descent(names):
    """Lock the classes in order, release in reverse."""
    locks = {}
    steps = []
    for i, (cls, kind, mode) in enumerate(names):
        n = f"L{i}"
        locks[n] = (kind, cls)
        steps.append(f"{mode} {n}")
    for i in reversed(range(len(names))):
        mode = names[i][2]
        steps.append(f"{mode.replace('lock', 'unlock')} L{i}")
    return locks, steps


def test_the_documented_descent_is_silent():
    path = [("&sb->s_type->i_mutex_key", RW, "lock"), ("&mm->mmap_lock", RW, "read_lock"),
            ("mapping.invalidate_lock", RW, "read_lock"), ("folio_lock", "mutex", "lock"),
            ("&mapping->i_mmap_rwsem", RW, "read_lock"), ("&anon_vma->rwsem", RW, "lock"),
            ("ptlock_ptr(ptdesc)", SPIN, "lock"), ("swap_lock", SPIN, "lock"),
            ("&mapping->i_private_lock", SPIN, "lock"), ("&xa->xa_lock", SPIN, "lock"),
            ("&lruvec->lru_lock", SPIN, "lock")]
    locks, steps = _descent(path)
    res, ld = run_lock_scenario(lock_scenario(locks, steps))
    assert res.exit_status == 0 and not ld.reports
    assert ld.stats()["hierarchy_dependencies"] > 40


def test_an_inverted_mm_path_is_caught():
    # mmap_lock taken under anon_vma->rwsem: the reverse of rmap.c's order,
    # reported on first sight even though nothing else in the run nests them.
    locks = {"anon": (RW, "&anon_vma->rwsem"), "mmap": (RW, "&mm->mmap_lock")}
    (r,) = lockdep_reports(lock_scenario(locks, ["read_lock anon", "read_lock mmap", "read_unlock mmap",
                                    "read_unlock anon"]))
    assert r.kind == "circular" and r.hierarchy
    assert r.classes[0] == "&mm->mmap_lock" and r.classes[-1] == "&anon_vma->rwsem"
    assert "mm lock order: " in r.text and "(mm/rmap.c" in r.text
    assert "Chain exists of:" in r.text
    # the same program with the table switched off is not a finding
    assert not lockdep_reports(lock_scenario(locks, ["read_lock anon", "read_lock mmap", "read_unlock mmap",
                                        "read_unlock anon"], lockdep="hierarchy = false"))


@pytest.mark.parametrize("held,taken", [
    (("&xa->xa_lock", SPIN), ("&mm->page_table_lock", SPIN)),        # i_pages under ptl
    (("&lruvec->lru_lock", SPIN), ("swap_lock", SPIN)),
    (("&zone->lock", SPIN), ("&pcp->lock", SPIN)),                   # page allocator
    (("&n->list_lock", SPIN), ("slab_mutex", "mutex")),              # SLUB (also sleeps)
    (("&mapping->i_mmap_rwsem", RW), ("&sb->s_type->i_mutex_key", RW)),
])
def test_inversions_through_the_table(held, taken):
    locks = {"H": (held[1], held[0]), "T": (taken[1], taken[0])}
    rs = lockdep_reports(lock_scenario(locks, ["lock H", "lock T", "unlock T", "unlock H"]))
    assert len(rs) == 1
    assert rs[0].kind in ("circular", "sleep-in-atomic")
    if rs[0].kind == "circular":
        assert rs[0].hierarchy


def test_mmap_lock_under_a_per_vma_read_lock():
    # lock_vma_under_rcu() holds a VMA read lock; taking mmap_lock there can
    # deadlock against vma_start_write() under mmap_write_lock().
    for cls in ("vm_lock", "&vma->vm_lock->lock"):
        locks = {"vma": (RW, cls), "mmap": (RW, "&mm->mmap_lock")}
        (r,) = lockdep_reports(lock_scenario(locks, ["read_lock vma", "read_lock mmap", "read_unlock mmap",
                                        "read_unlock vma"]))
        assert r.kind == "circular"
        assert "mm lock order: &mm->mmap_lock -> vm_lock" in r.text
        assert "include/linux/mmap_lock.h" in r.text
    # the per-VMA rule is lockdep's own (vmlock_dep_map): it stays without the table
    (r,) = lockdep_reports(lock_scenario(locks, ["read_lock vma", "read_lock mmap", "read_unlock mmap",
                                    "read_unlock vma"], lockdep="hierarchy = false"))
    assert r.kind == "circular"


def test_a_user_lock_closing_a_cycle_through_the_table():
    # my_lock is not in the table: anon_vma -> my_lock on cpu0, my_lock ->
    # mmap_lock on cpu1; with mmap_lock -> ... -> anon_vma from rmap.c that
    # is a cycle of three classes, two of them from real runs.
    locks = {"anon": (RW, "&anon_vma->rwsem"), "mine": ("mutex", "my_lock"),
             "mmap": (RW, "&mm->mmap_lock")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock anon", "lock mine", "unlock mine", "unlock anon"],
                            ["lock mine", "read_lock mmap", "read_unlock mmap", "unlock mine"],
                            delays=[0, 20_000]))
    assert r.kind == "circular" and r.hierarchy
    assert "my_lock" in r.classes and "&anon_vma->rwsem" in r.classes


def test_the_shipped_mm_scenarios():
    from mmactors.testing import run_scenario
    res = run_scenario("lockdep/mm-inversion")
    assert res.exit_status == 4
    assert res.to_json()["lockdep"]["reports"][0]["hierarchy"] is True
    res = run_scenario("lockdep/vma-lock")
    assert res.exit_status == 4


def test_thp_order_extends_the_table_without_a_cycle():
    """THP_LOCK_ORDER (mm/huge_memory.c, mm/khugepaged.c) names only known
    classes and, added to the mm order, still makes a partial order."""
    classes = dict(H.CLASSES, **H.THP_CLASSES, **H.RECLAIM_CLASSES)
    edges = H.MM_LOCK_ORDER + H.COMPACTION_LOCK_ORDER + H.RECLAIM_LOCK_ORDER + H.THP_LOCK_ORDER
    succ = {}
    for a, b, where in edges:
        assert a in classes and b in classes, (a, b)
        succ.setdefault(a, set()).add(b)
    for start in classes:
        seen, stack = set(), list(succ.get(start, ()))
        while stack:
            c = stack.pop()
            assert c != start, f"{start} is ordered before itself"
            if c not in seen:
                seen.add(c)
                stack.extend(succ.get(c, ()))
    assert H.canonical("pmd_lock") == "ptlock_ptr(ptdesc)"
    # khugepaged_mm_lock is a leaf: nothing is taken inside it
    assert not succ.get("khugepaged_mm_lock")


def test_pmd_lock_then_mmap_lock_is_caught():
    """pmd_lock is taken under mmap_lock (or the VMA lock) on every THP path
    (__do_huge_pmd_anonymous_page, collapse_huge_page, __split_huge_pmd).
    Taking mmap_lock under it is first a sleep in atomic context (down_read's
    might_sleep() comes before rwsem_acquire_read, as in the kernel); the
    spinning inversion, pmd_lock under lru_lock, is a circular dependency
    through the table."""
    locks = {"pmd": (SPIN, "pmd_lock"), "mmap": (RW, "&mm->mmap_lock")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock pmd", "read_lock mmap",
                                                 "read_unlock mmap", "unlock pmd"]))
    assert r.kind == "sleep-in-atomic" and "ptlock_ptr(ptdesc)" in r.text
    locks = {"lru": (SPIN, "&lruvec->lru_lock"), "pmd": (SPIN, "pmd_lock")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock lru", "lock pmd", "unlock pmd",
                                                 "unlock lru"]))
    assert r.kind == "circular" and r.hierarchy
    assert set(r.classes) == {"ptlock_ptr(ptdesc)", "&lruvec->lru_lock"}


def test_thp_locks_are_seeded_when_first_taken():
    """The THP order is seeded the first time a THP lock class is taken
    (a run that never uses one keeps its lockdep figures), and then catches
    the inversion of an edge only it holds: split_queue_lock -> PTE lock."""
    locks = {"q": (SPIN, "&ds_queue->split_queue_lock"), "ptl": (SPIN, "ptlock_ptr(ptdesc)")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock q", "lock ptl", "unlock ptl", "unlock q"]))
    assert r.kind == "circular" and r.hierarchy and "deferred_split_folio" in r.text
    res, ld = run_lock_scenario(lock_scenario({"ptl": (SPIN, "ptlock_ptr(ptdesc)")},
                                              ["lock ptl", "unlock ptl"]))
    assert not ld.reports
    assert "khugepaged_mm_lock" not in {c.name for c in ld.class_list}
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock ptl", "lock q", "unlock q",
                                                      "unlock ptl"]))
    assert not ld.reports and "khugepaged_mm_lock" in {c.name for c in ld.class_list}


def test_writeback_locks_are_seeded_when_first_taken():
    """WRITEBACK_LOCK_ORDER (mm/page-writeback.c __wb_update_bandwidth:
    wb_domain->lock under wb->list_lock) names known classes, keeps the
    order partial, is seeded the first time &dom->lock or &wb->work_lock is
    taken, and then catches the inversion: wb->list_lock under dom->lock."""
    classes = dict(H.CLASSES, **H.WRITEBACK_CLASSES)
    for a, b, where in H.WRITEBACK_LOCK_ORDER:
        assert a in classes and b in classes and "__wb_update_bandwidth" in where
        assert not any(x == b and y == a for x, y, _ in H.MM_LOCK_ORDER)
    locks = {"dom": (SPIN, "&dom->lock"), "wb": (SPIN, "&wb->list_lock")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock dom", "lock wb", "unlock wb",
                                                 "unlock dom"]))
    assert r.kind == "circular" and r.hierarchy and "__wb_update_bandwidth" in r.text
    res, ld = run_lock_scenario(lock_scenario({"wb": (SPIN, "&wb->list_lock")},
                                              ["lock wb", "unlock wb"]))
    assert not ld.reports and "&dom->lock" not in {c.name for c in ld.class_list}
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock wb", "lock dom", "unlock dom",
                                                      "unlock wb"]))
    assert not ld.reports and "&wb->work_lock" in {c.name for c in ld.class_list}


def test_hugetlb_chain_is_seeded_only_when_a_hugetlbfs_lock_is_taken():
    """mm/rmap.c's main tree runs folio_lock -> hugetlbfs_i_mmap_rwsem_key
    (huge_pmd_share) -> vma_start_write: hugetlb's edges (HUGETLB_LOCK_ORDER),
    seeded lazily.  Without them a per-VMA-locked file fault's vm_lock ->
    folio_lock is no cycle (it was a false positive while they were seeded
    eagerly); once a hugetlbfs lock is taken the chain is known, and the same
    order then closes a cycle, as rmap.c's comment implies."""
    assert "&hugetlbfs_i_mmap_rwsem_key" not in H.CLASSES
    assert not any("hugetlbfs" in a + b for a, b, _ in H.MM_LOCK_ORDER)
    assert ("folio_lock", "&mapping->i_mmap_rwsem") in {(a, b) for a, b, _ in H.MM_LOCK_ORDER}
    locks = {"vma": ("rwsem", "vm_lock"), "folio": ("rwsem", "folio_lock"),
             "h": ("rwsem", "&hugetlbfs_i_mmap_rwsem_key")}
    fault = ["down_read vma", "down_write folio", "up_write folio", "up_read vma"]
    res, ld = run_lock_scenario(lock_scenario(locks, fault))
    assert not ld.reports
    assert "&hugetlbfs_i_mmap_rwsem_key" not in {c.name for c in ld.class_list}
    (r,) = lockdep_reports(lock_scenario(locks, ["down_read h", "up_read h"] + fault))
    assert r.kind == "circular" and r.hierarchy and "huge_pmd_share" in r.text
