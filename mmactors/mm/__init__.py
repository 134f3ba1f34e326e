"""The mm subsystems, one module per kernel file of mm/ (Linux 6.12).

Physical memory (this package's first half):

* :mod:`.mm_init`     memory layout, zones, memblock reservations, the memmap arrays
* :mod:`.page_alloc`  zones, the buddy allocator, pcp lists, watermarks (mm/page_alloc.c)
* :mod:`.slub`        SLUB and the kmalloc caches (mm/slub.c, mm/slab_common.c)
* :mod:`.vmstat`      vmstat counters and their per-CPU diffs (mm/vmstat.c)
* :mod:`.gfp`         GFP flags (include/linux/gfp_types.h)
* :mod:`._internal`   constants, ``alloc_context``, enums, per-CPU cache counters
* :mod:`.physmem`     the machine subsystem tying them together, and its knobs

This ``__init__`` imports nothing, so that each mm module can be imported on
its own.  :mod:`.physmem` and :mod:`.addrspace` export the two subsystems a
machine builds (``SUBSYSTEM``, with their knobs as data).
"""
