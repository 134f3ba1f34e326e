"""A lock that exists only for lockdep: ``struct lockdep_map`` with
``lock_map_acquire``/``lock_map_release`` (include/linux/lockdep.h).

The kernel annotates things that are not locks but can deadlock like one by
acquiring a bare lockdep map around them: ``fs_reclaim`` (mm/page_alloc.c:
"this context may enter reclaim", and reclaim itself), workqueue flushes,
``__mmu_notifier_invalidate_range_start_map``.  Nothing waits on such a map
and nothing is counted: no cache line, no wait queue, no lock_stat row (the
kernel's lock_stat would show one; ours keeps the rows of real locks only,
so a run's lock_stat is the same with lockdep on or off).  Only validators
that implement the ``map_acquire``/``map_release`` hooks see it (lockdep
does; the race detector does not: a map orders nothing, so it must give no
happens-before edge).

Cost when no validator watches: the caller tests one tuple
(``reg.on_map_acquire``) and does nothing else.
"""
from __future__ import annotations

from .lockstat import LockClass, lock_registry

__all__ = ["LockdepMap", "lock_map_acquire", "lock_map_release"]


class LockdepMap:
    """``struct lockdep_map``: a lockdep class name and nothing to wait for.

    ``kind`` is ``"map"`` (lockdep prints its wait types as ``{0:0}``, as for
    ``STATIC_LOCKDEP_MAP_INIT``); it is ``sleeping`` in the sense lockdep's
    sleep check uses: holding it does not make the context atomic."""

    kind = "map"
    rw = False
    sleeping = True

    def __init__(self, engine, name: str):
        self.engine = engine
        self.name = name
        self.reg = lock_registry(engine)
        # A class of its own, outside the registry's lock_stat rows.
        self.lclass = LockClass(name, self.kind, False, -1)

    def __repr__(self):
        return f"<LockdepMap {self.name}>"

    def acquire(self, actor, site, read: int = 0) -> None:
        """lock_map_acquire (read 0) / lock_map_acquire_read (read 1)."""
        for hook in self.reg.on_map_acquire:
            hook(actor, self, "R" if read else "W", site, False, 0)

    def release(self, actor, site) -> None:
        """lock_map_release."""
        for hook in self.reg.on_map_release:
            hook(actor, self, "W", site)


def lock_map_acquire(m: LockdepMap, actor, site) -> None:
    m.acquire(actor, site)


def lock_map_release(m: LockdepMap, actor, site) -> None:
    m.release(actor, site)
