"""Allocation scopes and the ``fs_reclaim`` lockdep map: include/linux/sched/mm.h
(``current_gfp_context``, ``memalloc_{noio,nofs,noreclaim}_save/restore``,
``might_alloc``) and the ``fs_reclaim_acquire``/``fs_reclaim_release`` pair it
declares, defined in mm/page_alloc.c (Linux 6.12).

Why: an allocation that may enter direct reclaim can, inside reclaim, take
the locks reclaim takes (i_mmap_rwsem and anon_vma->rwsem in the rmap walk,
the page table locks, the i_pages lock, ...).  Allocating so while holding
one of those locks deadlocks once memory is short, yet nothing deadlocks
while memory is plentiful.  The kernel makes lockdep see it always: reclaim
holds a lockdep-only lock, ``fs_reclaim`` (``__fs_reclaim_map``), and every
allocation that could enter it takes and drops the same map at once
(``might_alloc`` in ``prepare_alloc_pages``), so "lock X, then allocate"
is the dependency X -> fs_reclaim and reclaim's "fs_reclaim, then lock X"
the reverse: a circular dependency, reported even if reclaim never ran
while X was held.

6.12's rules, followed exactly (mm/page_alloc.c ``__need_reclaim``,
``fs_reclaim_acquire``):

* the gfp mask is first narrowed by the task's scope
  (``current_gfp_context``: PF_MEMALLOC_NOIO strips __GFP_IO and __GFP_FS,
  PF_MEMALLOC_NOFS strips __GFP_FS);
* no map without ``__GFP_DIRECT_RECLAIM`` (GFP_ATOMIC, GFP_NOWAIT) or in a
  PF_MEMALLOC task (reclaim itself, kswapd: it will not recurse);
* and the map only with ``__GFP_FS``: GFP_NOFS and GFP_NOIO allocations do
  not take it (those are how filesystems and the block layer allocate under
  the locks reclaim's writeback takes).

Where the model differs (each also said where it happens): the gfp masks
have no ``__GFP_NOLOCKDEP`` (mm/gfp.py); no mmu notifiers, so not the
``__mmu_notifier_invalidate_range_start_map`` that ``fs_reclaim_acquire``
also touches; PF_MEMALLOC_PIN only stored (it strips __GFP_MOVABLE in the
kernel; nothing here pins).  Task flags live in the actor's ``data`` under
``"pf_flags"`` (``current->flags``; only the PF_MEMALLOC* bits, PF_KSWAPD and
PF_KTHREAD).

Cost: when no validator watches lockdep maps, ``fs_reclaim_acquire`` and
``might_alloc`` return after one tuple test; callers on hot paths test
``lock_registry(engine).on_map_acquire`` themselves first.
"""
from __future__ import annotations

from ..sync import LockdepMap, lock_registry, might_sleep
from .gfp import __GFP_DIRECT_RECLAIM, __GFP_FS, __GFP_IO, __GFP_MOVABLE

__all__ = ["PF_MEMALLOC", "PF_KSWAPD", "PF_KTHREAD", "set_kthread", "PF_MEMALLOC_NOFS", "PF_MEMALLOC_NOIO",
           "PF_MEMALLOC_PIN", "current_flags", "memalloc_flags_save", "memalloc_flags_restore",
           "memalloc_noio_save", "memalloc_noio_restore", "memalloc_nofs_save",
           "memalloc_nofs_restore", "memalloc_noreclaim_save", "memalloc_noreclaim_restore",
           "current_gfp_context", "gfpflags_allow_blocking", "fs_reclaim_map",
           "fs_reclaim_acquire", "fs_reclaim_release", "fs_reclaim_map_acquire",
           "fs_reclaim_map_release", "might_alloc"]

# include/linux/sched.h (6.12)
PF_MEMALLOC = 0x00000800
PF_KTHREAD = 0x00200000
PF_KSWAPD = 0x00020000
PF_MEMALLOC_NOFS = 0x00040000
PF_MEMALLOC_NOIO = 0x00080000
PF_MEMALLOC_PIN = 0x10000000

_PF = "pf_flags"


def current_flags(actor) -> int:
    """``current->flags`` (the PF_MEMALLOC* bits, PF_KSWAPD, PF_KTHREAD)."""
    return actor.data.get(_PF, 0)


def set_kthread(actor):
    """A kernel thread (kthread_create: PF_KTHREAD); returns ``actor``."""
    actor.data[_PF] = actor.data.get(_PF, 0) | PF_KTHREAD
    return actor


def memalloc_flags_save(actor, flags: int) -> int:
    """Set ``flags`` on the task; returns the ones that were not set yet."""
    cur = actor.data.get(_PF, 0)
    actor.data[_PF] = cur | flags
    return ~cur & flags


def memalloc_flags_restore(actor, flags: int) -> None:
    actor.data[_PF] = actor.data.get(_PF, 0) & ~flags


def memalloc_noio_save(actor) -> int:
    return memalloc_flags_save(actor, PF_MEMALLOC_NOIO)


def memalloc_noio_restore(actor, flags: int) -> None:
    memalloc_flags_restore(actor, flags)


def memalloc_nofs_save(actor) -> int:
    return memalloc_flags_save(actor, PF_MEMALLOC_NOFS)


def memalloc_nofs_restore(actor, flags: int) -> None:
    memalloc_flags_restore(actor, flags)


def memalloc_noreclaim_save(actor) -> int:
    return memalloc_flags_save(actor, PF_MEMALLOC)


def memalloc_noreclaim_restore(actor, flags: int) -> None:
    memalloc_flags_restore(actor, flags)


def current_gfp_context(actor, gfp: int) -> int:
    """The mask narrowed by the task's NOIO/NOFS/PIN scope (NOIO wins)."""
    pf = actor.data.get(_PF, 0)
    if pf & (PF_MEMALLOC_NOIO | PF_MEMALLOC_NOFS | PF_MEMALLOC_PIN):
        if pf & PF_MEMALLOC_NOIO:
            gfp &= ~(__GFP_IO | __GFP_FS)
        elif pf & PF_MEMALLOC_NOFS:
            gfp &= ~__GFP_FS
        if pf & PF_MEMALLOC_PIN:
            gfp &= ~__GFP_MOVABLE
    return gfp


def gfpflags_allow_blocking(gfp: int) -> bool:
    return bool(gfp & __GFP_DIRECT_RECLAIM)


class _FsReclaim:
    """The run's ``__fs_reclaim_map`` (one per engine, in ``engine.runvars``)."""


def fs_reclaim_map(engine) -> LockdepMap:
    """``static struct lockdep_map __fs_reclaim_map = STATIC_LOCKDEP_MAP_INIT("fs_reclaim")``."""
    m = engine.runvars.get(_FsReclaim)
    if m is None:
        m = engine.runvars[_FsReclaim] = LockdepMap(engine, "fs_reclaim")
    return m


def _need_reclaim(actor, gfp: int) -> bool:
    """__need_reclaim (no __GFP_NOLOCKDEP in the model's masks)."""
    if not gfp & __GFP_DIRECT_RECLAIM:
        return False                  # no reclaim without waiting on it
    if actor.data.get(_PF, 0) & PF_MEMALLOC:
        return False                  # this guy won't enter reclaim
    return True


def fs_reclaim_map_acquire(actor, site) -> None:
    """__fs_reclaim_acquire: the map, whatever the mask (kswapd's balance_pgdat)."""
    if lock_registry(actor.engine).on_map_acquire:
        fs_reclaim_map(actor.engine).acquire(actor, site)


def fs_reclaim_map_release(actor, site) -> None:
    """__fs_reclaim_release."""
    if lock_registry(actor.engine).on_map_release:
        fs_reclaim_map(actor.engine).release(actor, site)


def fs_reclaim_acquire(actor, gfp: int, site) -> None:
    """fs_reclaim_acquire(gfp_mask): the map if this mask, in this task's
    scope, may enter reclaim that may call into the filesystem."""
    if not lock_registry(actor.engine).on_map_acquire:
        return
    gfp = current_gfp_context(actor, gfp)
    if _need_reclaim(actor, gfp) and gfp & __GFP_FS:
        fs_reclaim_map(actor.engine).acquire(actor, site)


def fs_reclaim_release(actor, gfp: int, site) -> None:
    """fs_reclaim_release(gfp_mask): the same test, so the pair balances
    while the scope is unchanged between them (as in the kernel)."""
    if not lock_registry(actor.engine).on_map_release:
        return
    gfp = current_gfp_context(actor, gfp)
    if _need_reclaim(actor, gfp) and gfp & __GFP_FS:
        fs_reclaim_map(actor.engine).release(actor, site)


def might_alloc(actor, gfp: int, site) -> None:
    """might_alloc(gfp_mask): take and drop fs_reclaim as an allocation that
    enters reclaim would, then ``might_sleep_if(gfpflags_allow_blocking())``.
    (fs_reclaim_acquire + fs_reclaim_release with their tests made once:
    this runs for every allocation while lockdep watches.)"""
    eng = actor.engine
    reg = lock_registry(eng)
    if not gfp & __GFP_DIRECT_RECLAIM:
        return                        # neither reclaim nor a sleep
    acq = reg.on_map_acquire
    if acq:
        pf = actor.data.get(_PF, 0)
        if not pf & PF_MEMALLOC:
            g = current_gfp_context(actor, gfp) if pf else gfp
            if g & __GFP_FS:
                m = eng.runvars.get(_FsReclaim) or fs_reclaim_map(eng)
                for hook in acq:
                    hook(actor, m, "W", site, False, 0)
                for hook in reg.on_map_release:
                    hook(actor, m, "W", site)
    if reg.on_might_sleep:
        might_sleep(actor, site)
