"""The mm subsystems, one module per kernel file of mm/ (Linux 6.12).

Physical memory (this package's first half):

* :mod:`.mm_init`     memory layout, zones, memblock reservations, the memmap arrays
* :mod:`.page_alloc`  zones, the buddy allocator, pcp lists, watermarks (mm/page_alloc.c)
* :mod:`.slub`        SLUB and the kmalloc caches (mm/slub.c, mm/slab_common.c)
* :mod:`.vmstat`      vmstat counters and their per-CPU diffs (mm/vmstat.c)
* :mod:`.gfp`         GFP flags (include/linux/gfp_types.h)
* :mod:`._internal`   constants, ``alloc_context``, enums, per-CPU cache counters
* :mod:`.physmem`     the machine subsystem tying them together, and its knobs

This ``__init__`` stays light (it imports nothing heavy) so that other mm
modules can be imported on their own.  The physical-memory models register
their knobs when :mod:`.physmem` is imported.
"""
from __future__ import annotations

__all__ = ["physmem_of", "ensure_registered"]


def physmem_of(machine):
    """The machine's physical-memory subsystem (a :class:`.physmem.PhysMem`) or None."""
    from .physmem import physmem_of as _of
    return _of(machine)


def ensure_registered() -> bool:
    from .physmem import ensure_registered as _e
    return _e()
