"""The mm lock hierarchy as data: the "Lock ordering in mm" comment at the top
of mm/rmap.c and the "Lock ordering" comment of mm/filemap.c, encoded once.

Each entry ``(outer, inner, where)`` says the kernel takes ``inner`` while
holding ``outer`` (``where`` is the comment's hint, with its source file).
Names are the *lockdep class names* the kernel prints (``&mm->mmap_lock``,
``&anon_vma->rwsem``, ``&xa->xa_lock`` for the i_pages lock, ...), so any
simulated lock created with one of these class names is checked against the
table, whoever wrote the path.  :data:`ALIASES` maps the comment's names and
older class names to these.

How lockdep uses it: with ``[lockdep] hierarchy = true`` (the default) every
edge is added to the dependency graph before the run, as if the kernel path
that takes the two locks in this order had already been seen (the report
shows "mm/rmap.c lock order" where a stack would be).  A simulated path that
takes two of these locks the other way round, or closes a cycle through
them with its own locks, is then reported as a "possible circular locking
dependency" the first time it runs -- the same report the kernel would give
once both paths have run.

Versions: current mainline (the ``folio_lock_memcg move_lock`` line of
6.12 is gone, so ``i_pages lock`` hangs off ``mapping->private_lock``).
Choices where the two comments disagree or are stale (say so where it
matters):

* filemap.c's first block (``->private_lock -> ->swap_lock``, from
  ``__free_pte``/``exclusive_swap_page``, which no longer exist) contradicts
  rmap.c's ``swap_lock -> mapping->private_lock``; rmap.c wins, that edge is
  left out.
* rmap.c's hugetlbfs block (``i_mmap_rwsem -> folio_lock``) would close a
  false cycle with the main tree's ``folio_lock -> hugetlbfs_i_mmap_rwsem_key``
  and is itself out of date (mm/hugetlb.c takes i_mmap_lock before the vma
  lock); it is left out: hugetlb is not simulated.
* rmap.c's main tree runs ``folio_lock -> hugetlbfs_i_mmap_rwsem_key
  (in huge_pmd_share) -> vma_start_write``: hugetlb's path, whose edges are
  :data:`HUGETLB_LOCK_ORDER`, seeded lazily (only once a hugetlbfs lock is
  taken: never today, hugetlb is not simulated).  Seeded eagerly they closed
  a false cycle with every file read fault under the per-VMA lock
  (vm_lock -> invalidate_lock -> folio_lock), which the kernel's lockdep
  never sees: PG_locked is not a lockdep class there (below), and the
  hugetlb edges exist only on machines that use hugetlbfs.
* ``folio_lock`` (PG_locked) is not a lockdep class in the kernel (the
  cross-release machinery that could see it was removed in v4.15); the
  simulator gives it the synthetic class ``folio_lock``.
* ``tasklist_lock`` is taken for read on the documented path
  (memory_failure / collect_procs_anon); its edges are seeded as reader
  edges, so the recursive-read rules apply to them.  Every other edge is
  seeded as exclusive -> non-recursive (the strongest kind), which reports
  any reversal whatever the modes.

The rmap.c tree is a flattened partial order ("in X" hints name the path),
and lockdep follows paths, so the transitive closure is implied, as in the
kernel.
"""
from __future__ import annotations

__all__ = ["MM_LOCK_ORDER", "CLASSES", "ALIASES", "READ_CLASSES", "canonical", "order_of",
           "is_ordered", "SWAP_CLASSES", "SWAP_LOCK_ORDER", "swap_lock_order",
           "RECLAIM_CLASSES", "RECLAIM_LOCK_ORDER", "THP_CLASSES", "THP_LOCK_ORDER",
           "thp_lock_order", "WRITEBACK_CLASSES", "WRITEBACK_LOCK_ORDER",
           "writeback_lock_order", "HUGETLB_CLASSES", "HUGETLB_LOCK_ORDER",
           "hugetlb_lock_order", "FS_RECLAIM_CLASSES", "FS_RECLAIM_LOCK_ORDER",
           "fs_reclaim_lock_order"]

# class name -> (kind, what the comments call it)
CLASSES: dict[str, tuple[str, str]] = {
    "&sb->s_type->i_mutex_key": ("rwsem", "inode->i_rwsem"),
    "&mm->mmap_lock": ("rwsem", "mm->mmap_lock"),
    "mapping.invalidate_lock": ("rwsem", "mapping->invalidate_lock"),
    "folio_lock": ("folio", "folio_lock / lock_page (PG_locked; synthetic class)"),
    "vm_lock": ("rwsem", "vma_start_write (per-VMA lock)"),
    "&mapping->i_mmap_rwsem": ("rwsem", "mapping->i_mmap_rwsem"),
    "&anon_vma->rwsem": ("rwsem", "anon_vma->rwsem"),
    "&mm->page_table_lock": ("spinlock", "mm->page_table_lock"),
    "ptlock_ptr(ptdesc)": ("spinlock", "pte_lock (split page table lock)"),
    "swap_lock": ("spinlock", "swap_lock"),
    "mmlist_lock": ("spinlock", "mmlist_lock"),
    "&mapping->i_private_lock": ("spinlock", "mapping->private_lock"),
    "&xa->xa_lock": ("spinlock", "i_pages lock"),
    "&lruvec->lru_lock": ("spinlock", "lruvec->lru_lock"),
    "&sb->s_type->i_lock_key": ("spinlock", "inode->i_lock"),
    "&wb->list_lock": ("spinlock", "bdi.wb->list_lock"),
    "sb_lock": ("spinlock", "sb_lock"),
    "tasklist_lock": ("rwlock", "tasklist_lock"),
    "pcpu_drain_mutex": ("mutex", "pcpu_drain_mutex"),
    "&pcp->lock": ("spinlock", "per_cpu_pages->lock"),
    "&zone->lock": ("spinlock", "zone->lock"),
    "slab_mutex": ("mutex", "slab_mutex"),
    "&n->list_lock": ("spinlock", "kmem_cache_node->list_lock"),
}

# Other spellings -> the class names above.
ALIASES: dict[str, str] = {
    "i_rwsem": "&sb->s_type->i_mutex_key",
    "inode->i_rwsem": "&sb->s_type->i_mutex_key",
    "mmap_lock": "&mm->mmap_lock",
    "mm->mmap_lock": "&mm->mmap_lock",
    "invalidate_lock": "mapping.invalidate_lock",
    "mapping->invalidate_lock": "mapping.invalidate_lock",
    "lock_page": "folio_lock",
    "PG_locked": "folio_lock",
    "vma_start_write": "vm_lock",
    "&vma->vm_lock->lock": "vm_lock",          # the class name up to 6.14
    "i_mmap_rwsem": "&mapping->i_mmap_rwsem",
    "mapping->i_mmap_rwsem": "&mapping->i_mmap_rwsem",
    "anon_vma->rwsem": "&anon_vma->rwsem",
    "anon_vma.lock": "&anon_vma->rwsem",
    "page_table_lock": "&mm->page_table_lock",
    "mm->page_table_lock": "&mm->page_table_lock",
    "pte_lock": "ptlock_ptr(ptdesc)",
    # pmd_lock(): with split PMD locks (x86-64, CONFIG_SPLIT_PMD_PTLOCKS) the
    # PMD table's ptdesc lock, initialised by the same ptlock_init() as a PTE
    # table's, so the same class; where one nests in the other the kernel says
    # spin_lock_nested(pte_ptl, SINGLE_DEPTH_NESTING) (mm/khugepaged.c).
    "pmd_lock": "ptlock_ptr(ptdesc)",
    "ptl": "ptlock_ptr(ptdesc)",
    "private_lock": "&mapping->i_private_lock",
    "mapping->private_lock": "&mapping->i_private_lock",
    "&mapping->private_lock": "&mapping->i_private_lock",
    "i_pages": "&xa->xa_lock",
    "i_pages lock": "&xa->xa_lock",
    "&mapping->i_pages": "&xa->xa_lock",
    "lru_lock": "&lruvec->lru_lock",
    "lruvec->lru_lock": "&lruvec->lru_lock",
    "i_lock": "&sb->s_type->i_lock_key",
    "inode->i_lock": "&sb->s_type->i_lock_key",
    "&inode->i_lock": "&sb->s_type->i_lock_key",
    "list_lock": "&wb->list_lock",
    "bdi.wb->list_lock": "&wb->list_lock",
    "zone->lock": "&zone->lock",
    "pcp->lock": "&pcp->lock",
    "node->list_lock": "&n->list_lock",
}

_PTL = ("&mm->page_table_lock", "ptlock_ptr(ptdesc)")
_R = "mm/rmap.c"
_F = "mm/filemap.c"

#: (outer, inner, where): the kernel takes ``inner`` while holding ``outer``.
MM_LOCK_ORDER: list[tuple[str, str, str]] = [
    # ---- mm/rmap.c, "Lock ordering in mm:" (mainline) ----
    ("&sb->s_type->i_mutex_key", "&mm->mmap_lock", f"{_R}: while writing or truncating"),
    ("&mm->mmap_lock", "mapping.invalidate_lock", f"{_R}: in filemap_fault"),
    ("mapping.invalidate_lock", "folio_lock", f"{_R}"),
    # The comment's chain folio_lock -> hugetlbfs_i_mmap_rwsem_key ->
    # vma_start_write is hugetlb's (HUGETLB_LOCK_ORDER below, seeded only if a
    # hugetlbfs lock is ever taken); what it implies for other files is the
    # rmap walk of a locked folio: folio_lock -> i_mmap_rwsem.
    ("folio_lock", "&mapping->i_mmap_rwsem", f"{_R}: rmap_walk_file under the folio lock"),
    ("vm_lock", "&mapping->i_mmap_rwsem", f"{_R}"),
    ("&mapping->i_mmap_rwsem", "&anon_vma->rwsem", f"{_R}"),
    *[("&anon_vma->rwsem", p, f"{_R}: mm->page_table_lock or pte_lock") for p in _PTL],
    *[(p, "swap_lock", f"{_R}: in swap_duplicate, swap_info_get") for p in _PTL],
    ("swap_lock", "mmlist_lock", f"{_R}: in mmput, drain_mmlist and others"),
    ("swap_lock", "&mapping->i_private_lock", f"{_R}: in block_dirty_folio"),
    ("&mapping->i_private_lock", "&xa->xa_lock", f"{_R}: i_pages lock (widely used)"),
    ("&xa->xa_lock", "&lruvec->lru_lock", f"{_R}: in folio_lruvec_lock_irq"),
    ("swap_lock", "&sb->s_type->i_lock_key", f"{_R}: in set_page_dirty's __mark_inode_dirty"),
    ("swap_lock", "&wb->list_lock", f"{_R}: in set_page_dirty's __mark_inode_dirty"),
    ("&wb->list_lock", "sb_lock", f"{_R}: within inode_lock in fs/fs-writeback.c"),
    ("&wb->list_lock", "&xa->xa_lock", f"{_R}: within bdi.wb->list_lock in __sync_single_inode"),
    ("&anon_vma->rwsem", "tasklist_lock", f"{_R}: memory_failure, collect_procs_anon"),
    ("&mapping->i_mmap_rwsem", "tasklist_lock", f"{_R}: memory_failure, collect_procs_anon"),
    *[("tasklist_lock", p, f"{_R}: pte map lock") for p in _PTL],
    # ---- mm/filemap.c, "Lock ordering:" (edges not already direct above) ----
    ("&sb->s_type->i_mutex_key", "mapping.invalidate_lock", f"{_F}: acquired by fs in truncate path"),
    ("mapping.invalidate_lock", "&mapping->i_mmap_rwsem", f"{_F}: truncate->unmap_mapping_range"),
    ("&mm->mmap_lock", "&mapping->i_mmap_rwsem", f"{_F}"),
    *[("&mapping->i_mmap_rwsem", p, f"{_F}: various, mainly in memory.c") for p in _PTL],
    *[(p, "&xa->xa_lock", f"{_F}: try_to_unmap_one, arch-dependent flush_dcache_mmap_lock")
      for p in _PTL],
    *[(p, "&mapping->i_private_lock", f"{_F}: try_to_unmap_one, zap_pte_range") for p in _PTL],
    *[(p, "&lruvec->lru_lock", f"{_F}: follow_page_mask->mark_page_accessed") for p in _PTL],
    *[(p, "&wb->list_lock", f"{_F}: folio_remove_rmap_pte->set_page_dirty") for p in _PTL],
    *[(p, "&sb->s_type->i_lock_key", f"{_F}: zap_pte_range->set_page_dirty") for p in _PTL],
    # ---- per-VMA locks: vma_start_write() asserts mmap_lock held for write
    # (include/linux/mmap_lock.h), so taking mmap_lock under a VMA read lock
    # (lock_vma_under_rcu) closes a cycle.
    ("&mm->mmap_lock", "vm_lock", "include/linux/mmap_lock.h: vma_start_write under mmap_write_lock"),
    # ---- allocators (others' mm/ models are checked against these too) ----
    ("pcpu_drain_mutex", "&pcp->lock", "mm/page_alloc.c: __drain_all_pages -> drain_pages_zone"),
    ("&pcp->lock", "&zone->lock", "mm/page_alloc.c: free_pcppages_bulk under pcp_spin_lock"),
    ("slab_mutex", "&n->list_lock", "mm/slub.c: Lock order: slab_mutex, node->list_lock"),
]

# Classes seeded as shared (reader) on the documented paths.
READ_CLASSES = frozenset({"tasklist_lock"})


# ---- swap devices (mm/swapfile.c, mm/swap_slots.c) ----
# Seeded only for machines with [[swap]] devices (lockdep's build reads the
# scenario), so that every other machine's lockdep figures stay as they were;
# and by allocator release, since 6.14 reversed si->lock and ci->lock.
_S = "mm/swapfile.c"
_SS = "mm/swap_slots.c"
SWAP_CLASSES: dict[str, tuple[str, str]] = {
    "&cache->alloc_lock": ("mutex", "swap_slots_cache->alloc_lock"),
    "&cache->free_lock": ("spinlock", "swap_slots_cache->free_lock"),
    "swap_slots_cache_mutex": ("mutex", "swap_slots_cache_mutex"),
    "&p->lock": ("spinlock", "swap_info_struct->lock (si->lock)"),
    "&cluster_info[i].lock": ("spinlock", "swap_cluster_info->lock (ci->lock)"),
    "&si->global_cluster_lock": ("spinlock", "swap_info_struct->global_cluster_lock (6.14+)"),
    "swap_avail_lock": ("spinlock", "swap_avail_lock"),
}

_SLOTS = [
    ("swap_slots_cache_mutex", "&cache->alloc_lock",
     f"{_SS}: deactivate_swap_slots_cache -> drain_slots_cache_cpu"),
    ("swap_slots_cache_mutex", "&cache->free_lock",
     f"{_SS}: deactivate_swap_slots_cache -> drain_slots_cache_cpu"),
    ("&cache->alloc_lock", "swap_avail_lock", f"{_SS}: refill_swap_slots_cache -> get_swap_pages"),
    ("&cache->alloc_lock", "&cluster_info[i].lock", f"{_SS}: refill_swap_slots_cache"),
    ("&cache->free_lock", "&cluster_info[i].lock", f"{_SS}: free_swap_slot -> swapcache_free_entries"),
]

#: (outer, inner, where) per [constants] swap_allocator.
SWAP_LOCK_ORDER: dict[str, list[tuple[str, str, str]]] = {
    "6.12": _SLOTS + [
        ("&cache->alloc_lock", "&p->lock", f"{_SS}: refill_swap_slots_cache -> get_swap_pages"),
        ("&cache->free_lock", "&p->lock", f"{_SS}: free_swap_slot -> swapcache_free_entries"),
        ("&p->lock", "&cluster_info[i].lock", f"{_S}: ci->lock nests inside si->lock "
                                              "(cluster_alloc_swap_entry, swap_entry_range_free)"),
        ("&cluster_info[i].lock", "swap_avail_lock",
         f"{_S}: cluster_alloc_range -> swap_range_alloc -> del_from_avail_list"),
        ("&p->lock", "swap_avail_lock", f"{_S}: swap_range_free -> add_to_avail_list"),
    ],
    "6.14": _SLOTS + [
        ("&cache->alloc_lock", "&si->global_cluster_lock", f"{_SS}: get_swap_pages (HDD)"),
        ("&si->global_cluster_lock", "&cluster_info[i].lock",
         f"{_S}: cluster_alloc_swap_entry (HDD)"),
        ("&cluster_info[i].lock", "&p->lock", f"{_S}: move_cluster (relocate_cluster, "
                                              "partial_free_cluster) under ci->lock"),
        ("&cluster_info[i].lock", "swap_avail_lock",
         f"{_S}: swap_range_alloc/swap_range_free -> del/add_to_avail_list"),
    ],
    "6.15": [
        ("&si->global_cluster_lock", "&cluster_info[i].lock",
         f"{_S}: cluster_alloc_swap_entry (HDD)"),
        ("&cluster_info[i].lock", "&p->lock", f"{_S}: move_cluster under ci->lock"),
        ("&cluster_info[i].lock", "swap_avail_lock",
         f"{_S}: swap_range_alloc/swap_range_free -> del/add_to_avail_list"),
    ],
}


# ---- page reclaim and the OOM killer (mm/vmscan.c, mm/page_alloc.c) ----
# Seeded with the swap order (reclaim does its work on machines with swap);
# lru_lock stays innermost: reclaim never takes another lock under it.
_V = "mm/vmscan.c"
RECLAIM_CLASSES: dict[str, tuple[str, str]] = {
    "oom_lock": ("mutex", "oom_lock (mm/oom_kill.c; mutex_trylock in __alloc_pages_may_oom)"),
}
RECLAIM_LOCK_ORDER: list[tuple[str, str, str]] = [
    ("folio_lock", "&xa->xa_lock", f"{_V}: shrink_folio_list -> __remove_mapping"),
    *[("folio_lock", p, f"{_V}: shrink_folio_list -> try_to_unmap, folio_referenced")
      for p in _PTL],
    ("folio_lock", "&anon_vma->rwsem", f"{_V}: folio_check_references -> folio_referenced"),
    ("oom_lock", "&pcp->lock", "mm/page_alloc.c: __alloc_pages_may_oom -> get_page_from_freelist"),
    ("oom_lock", "&zone->lock", "mm/page_alloc.c: __alloc_pages_may_oom -> get_page_from_freelist"),
]


# ---- migration and compaction (mm/migrate.c, mm/compaction.c) ----
# Seeded only for machines that compact (lockdep's build reads the scenario),
# so every other machine's lockdep figures stay as they were.  Compaction's
# scanners take lruvec->lru_lock and zone->lock each alone, never nested; what
# migration adds is the folio lock held across the rmap walks and the page
# cache's slot swap.
_MG = "mm/migrate.c"
COMPACTION_LOCK_ORDER: list[tuple[str, str, str]] = [
    ("folio_lock", "&anon_vma->rwsem",
     f"{_MG}: try_to_migrate / remove_migration_ptes under the folio lock"),
    ("folio_lock", "&mapping->i_mmap_rwsem",
     f"{_MG}: try_to_migrate / remove_migration_ptes (file) under the folio lock"),
    ("folio_lock", "&xa->xa_lock", f"{_MG}: __folio_migrate_mapping under the folio lock"),
    *[("folio_lock", p, f"{_MG}: try_to_migrate_one / remove_migration_pte") for p in _PTL],
]


# ---- transparent huge pages (mm/huge_memory.c, mm/khugepaged.c, 6.12) ----
# Seeded lazily, when one of THP_CLASSES is first taken (khugepaged's list
# lock, a node's deferred split queue lock), so machines that never run
# khugepaged nor queue a THP keep their lockdep figures.  The pmd_lock is
# ptlock_ptr(ptdesc) (see ALIASES), already ordered under anon_vma->rwsem
# and i_mmap_rwsem above; what THP adds is below.  Not seedable here: the
# pmd_lock -> PTE lock nesting of collapse_pte_mapped_thp/retract_page_tables
# (subclass SINGLE_DEPTH_NESTING of the same class: the table is subclass 0).
_HM = "mm/huge_memory.c"
_KH = "mm/khugepaged.c"
THP_CLASSES: dict[str, tuple[str, str]] = {
    "khugepaged_mm_lock": ("spinlock", "khugepaged_mm_lock (DEFINE_SPINLOCK in mm/khugepaged.c)"),
    "&ds_queue->split_queue_lock": ("spinlock", "deferred_split->split_queue_lock "
                                                "(pgdat_init_split_queue; irq-saving)"),
}
THP_LOCK_ORDER: list[tuple[str, str, str]] = [
    # khugepaged_mm_lock guards the mm slot list and hash; nothing nests in it
    # (khugepaged_scan_mm_slot drops it before mmap_read_trylock), and it is
    # taken under the mm's locks when an mm registers:
    ("&mm->mmap_lock", "khugepaged_mm_lock",
     f"{_KH}: __khugepaged_enter from madvise(MADV_HUGEPAGE) and khugepaged_fork (dup_mmap) "
     "under mmap_write_lock, from a THP fault under mmap_read_lock"),
    ("vm_lock", "khugepaged_mm_lock",
     f"{_HM}: do_huge_pmd_anonymous_page -> khugepaged_enter_vma under the per-VMA read lock"),
    # collapse_huge_page: mmap_write_lock -> vma_start_write -> anon_vma_lock_write
    # -> pmd_lock (pmdp_collapse_flush), dropped, then the PTE lock alone
    # (__collapse_huge_page_isolate), pmd_lock again to install the PMD.
    ("vm_lock", "&anon_vma->rwsem", f"{_KH}: collapse_huge_page: vma_start_write, "
                                    "anon_vma_lock_write"),
    # deferred_split_folio(folio, false) under the pmd_lock (a THP fault, a
    # collapse), deferred_split_folio(folio, true) under the PTE lock
    # (__folio_remove_rmap from zap_pte_range)
    *[(p, "&ds_queue->split_queue_lock",
       f"{_HM}: __do_huge_pmd_anonymous_page, {_KH} collapse_huge_page, mm/rmap.c "
       "__folio_remove_rmap -> deferred_split_folio under the page table lock") for p in _PTL],
    # split_huge_page_to_list_to_order: folio lock -> anon_vma_lock_write
    # (or i_mmap_lock_read) -> unmap_folio -> [xas_lock] -> split_queue_lock
    # (folio_ref_freeze), dropped before __split_huge_page takes lru_lock
    ("folio_lock", "&anon_vma->rwsem",
     f"{_HM}: split_huge_page_to_list_to_order under the folio lock (deferred_split_scan: "
     "folio_trylock, split_folio)"),
    ("&anon_vma->rwsem", "&ds_queue->split_queue_lock",
     f"{_HM}: split_huge_page_to_list_to_order: split_queue_lock under anon_vma_lock_write"),
    ("&xa->xa_lock", "&ds_queue->split_queue_lock",
     f"{_HM}: split_huge_page_to_list_to_order (file: xas_lock first); mm/migrate.c "
     "__folio_migrate_mapping: folio_unqueue_deferred_split under xas_lock_irq"),
]


def thp_lock_order() -> tuple[dict, list]:
    return dict(THP_CLASSES), list(THP_LOCK_ORDER)


# ---- writeback (mm/page-writeback.c, fs/fs-writeback.c, mm/backing-dev.c, 6.12) ----
# Seeded lazily, like the THP locks, when one of WRITEBACK_CLASSES is first
# taken, so machines without a filesystem keep their lockdep figures.
# &wb->work_lock (spin_lock_irq) guards a wb's work_list and WB_registered:
# wb_queue_work, get_next_work_item, wb_wakeup(_delayed), whose callers hold
# none of the mm's locks (__mark_inode_dirty calls wb_wakeup_delayed after
# dropping wb->list_lock and i_lock); nothing of the model nests in it (the
# kernel's mod_delayed_work takes the workqueue pool's lock, not modelled).
_PW = "mm/page-writeback.c"
WRITEBACK_CLASSES: dict[str, tuple[str, str]] = {
    "&wb->work_lock": ("spinlock", "bdi_writeback->work_lock (wb_init; irq-disabling)"),
    "&dom->lock": ("spinlock", "wb_domain->lock (wb_domain_init)"),
}
WRITEBACK_LOCK_ORDER: list[tuple[str, str, str]] = [
    ("&wb->list_lock", "&dom->lock",
     f"{_PW}: __wb_update_bandwidth -> domain_update_dirty_limit under wb->list_lock"),
]


def writeback_lock_order() -> tuple[dict, list]:
    return dict(WRITEBACK_CLASSES), list(WRITEBACK_LOCK_ORDER)


# ---- hugetlbfs (mm/rmap.c's main tree, mm/hugetlb.c huge_pmd_share) ----
# Seeded lazily, when a lock of HUGETLB_CLASSES is first taken; hugetlb is not
# simulated, so today never (see the module docstring).
HUGETLB_CLASSES: dict[str, tuple[str, str]] = {
    "&hugetlbfs_i_mmap_rwsem_key": ("rwsem", "hugetlbfs_i_mmap_rwsem_key"),
}
HUGETLB_LOCK_ORDER: list[tuple[str, str, str]] = [
    ("folio_lock", "&hugetlbfs_i_mmap_rwsem_key", f"{_R}: in huge_pmd_share"),
    ("&hugetlbfs_i_mmap_rwsem_key", "vm_lock", f"{_R}: vma_start_write"),
]


def hugetlb_lock_order() -> tuple[dict, list]:
    return dict(HUGETLB_CLASSES), list(HUGETLB_LOCK_ORDER)


# ---- fs_reclaim (mm/page_alloc.c __fs_reclaim_map, mm/vmscan.c) ----
# Seeded lazily, when the fs_reclaim map is first taken (any allocation that
# may enter reclaim, while lockdep watches).  Reclaim takes the rmap locks
# under it: shrink_folio_list -> try_to_unmap -> rmap_walk takes
# anon_vma_lock_read / i_mmap_lock_read (blocking when the trylock fails;
# the kernel's lockdep records the edge the first time that happens, on a
# machine under pressure sooner or later), so an allocation that may enter
# reclaim under either lock is reported on first sight.  The locks reclaim
# takes inside those (PTL, i_pages, lru_lock) follow through the table.
_PA = "mm/page_alloc.c"
FS_RECLAIM_CLASSES: dict[str, tuple[str, str]] = {
    "fs_reclaim": ("map", "__fs_reclaim_map (lockdep only: held by direct reclaim and kswapd)"),
}
FS_RECLAIM_LOCK_ORDER: list[tuple[str, str, str]] = [
    ("fs_reclaim", "&anon_vma->rwsem",
     f"{_V}: shrink_folio_list -> try_to_unmap -> rmap_walk_anon (anon_vma_lock_read) "
     f"under fs_reclaim ({_PA} __perform_reclaim, {_V} balance_pgdat)"),
    ("fs_reclaim", "&mapping->i_mmap_rwsem",
     f"{_V}: shrink_folio_list -> try_to_unmap -> rmap_walk_file (i_mmap_lock_read) "
     f"under fs_reclaim ({_PA} __perform_reclaim, {_V} balance_pgdat)"),
]


def fs_reclaim_lock_order() -> tuple[dict, list]:
    return dict(FS_RECLAIM_CLASSES), list(FS_RECLAIM_LOCK_ORDER)


def compaction_lock_order() -> tuple[dict, list]:
    return {}, list(COMPACTION_LOCK_ORDER)


def swap_lock_order(version: str) -> tuple[dict, list]:
    """The swap lock classes and the edges of allocator ``version``, plus the
    swap PTE edges shared by every release (__swap_duplicate and swap_free
    take ci->lock, or si->lock without clusters, under the PTL), and the
    reclaim/OOM edges."""
    edges = list(SWAP_LOCK_ORDER[version])
    for p in _PTL:
        edges.append((p, "&cluster_info[i].lock", f"{_S}: __swap_duplicate under the PTL"))
    edges.extend(RECLAIM_LOCK_ORDER)
    return dict(SWAP_CLASSES, **RECLAIM_CLASSES), edges


def canonical(name: str) -> str:
    """The table's class name for ``name`` (itself if unknown)."""
    return ALIASES.get(name, name)


def order_of() -> dict[str, set[str]]:
    """Transitive closure: class -> every class that may be taken inside it."""
    succ: dict[str, list[str]] = {}
    for a, b, _ in MM_LOCK_ORDER:
        succ.setdefault(a, []).append(b)
    out: dict[str, set[str]] = {}
    for start in CLASSES:
        seen: set[str] = set()
        stack = list(succ.get(start, ()))
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(succ.get(c, ()))
        out[start] = seen
    return out


def is_ordered(outer: str, inner: str) -> bool | None:
    """True if the table allows taking ``inner`` under ``outer``, False if it
    requires the reverse, None if it says nothing about the pair."""
    o, i = canonical(outer), canonical(inner)
    closure = order_of()
    if i in closure.get(o, ()):
        return True
    if o in closure.get(i, ()):
        return False
    return None
