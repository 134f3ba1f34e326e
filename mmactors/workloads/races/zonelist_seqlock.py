"""An allocator walking a zonelist that memory hotplug is rebuilding: a
seqcount reader that must retry.

Kernel fix: 3d36424b3b58 ("mm/page_alloc: fix race condition between
build_all_zonelists and page allocation"), Mel Gorman, 2022.
build_all_zonelists() rewrites each node's zonelist in place when memory
is onlined; an allocation walking the zonelist at the same time can see a
half-written list, skip zones that have free pages, fail, and go on to
the OOM killer.  The fix adds the zonelist_update_seq seqlock: the rebuild
is a write section, the allocator samples the sequence when it starts
(zonelist_iter_begin()) and, before declaring failure, restarts if it
changed (check_retry_zonelist()).

CPU 0 is __alloc_pages() -> get_page_from_freelist() walking the zonelist
(for_each_zone_zonelist: plain loads of ``z->zone``), then the slowpath's
retry check.  CPU 1 is build_all_zonelists() -> __build_all_zonelists()
after a Movable zone is onlined: the new order [Movable, Normal, DMA32] is
written over the old [Normal, DMA32] entry by entry, then terminated.
Normal has no free pages; DMA32 and the new Movable zone have.

Buggy: no seqlock: the allocator fails with free memory available (a
premature OOM), or KCSAN reports the plain zonelist accesses.  Fixed:
seqcount-protected (KCSAN treats the read and write sections as atomic).
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram


class ZonelistSeqlock(RaceProgram):
    name = "zonelist-seqlock"
    title = "page allocation walking a zonelist being rebuilt (seqcount reader must retry)"
    fix = ('3d36424b3b58 ("mm/page_alloc: fix race condition between build_all_zonelists '
           'and page allocation")')
    mirrors = ("__alloc_pages(), get_page_from_freelist(), __alloc_pages_slowpath(), "
               "check_retry_zonelist() (mm/page_alloc.c)",
               "build_all_zonelists(), __build_all_zonelists(), build_zonelists() "
               "(mm/page_alloc.c)")
    ncpus = 2
    model = "sc"
    finds = "premature OOM (page allocation failure with free pages), or KCSAN"

    def setup(self, mem):
        zones = {name: mem.struct(f"zone {name}", free=free)
                 for name, free in (("Normal", 0), ("DMA32", 8), ("Movable", 8))}
        refs = [zones["Normal"], zones["DMA32"], None, None]
        return SimpleNamespace(
            zones=zones,
            zonerefs=[mem.loc(f"zonelist->_zonerefs[{i}].zone", z) for i, z in enumerate(refs)],
            seq=mem.seqcount("zonelist_update_seq"),
            lock=mem.spinlock("zonelist_update_seq.lock"))

    def cpu_functions(self):
        return [self.alloc_pages, self.build_all_zonelists]

    async def alloc_pages(self, k, st):
        while True:
            if not self.buggy:
                cookie = await k.read_seqcount_begin(st.seq)    # zonelist_iter_begin()
            page = None
            for ref in st.zonerefs:                              # for_each_zone_zonelist()
                zone = await k.read(ref)
                if zone is None:
                    break
                if await k.atomic_read(zone.free) > 0:           # zone_watermark_ok()
                    await k.atomic_dec(zone.free)                # rmqueue()
                    page = zone
                    break
            if not self.buggy:
                retry = await k.read_seqcount_retry(st.seq, cookie)  # check_retry_zonelist()
                if page is None and retry:
                    continue                                     # goto restart
            break
        if page is None:
            free = sum(k.mem.final(z.free) for z in st.zones.values())
            k.WARN_ON(free > 0,
                      f"page allocation failure: order:0, mode:0xcc0(GFP_KERNEL) with "
                      f"{free} free pages in the zonelist's zones: the allocator saw a "
                      f"half-rebuilt zonelist (out_of_memory() would kill a task)")

    async def build_all_zonelists(self, k, st):
        new = [st.zones["Movable"], st.zones["Normal"], st.zones["DMA32"], None]
        if not self.buggy:
            await k.spin_lock(st.lock)                           # write_seqlock()
            await k.write_seqcount_begin(st.seq)
        for ref, zone in zip(st.zonerefs, new):                  # build_zonerefs_node()
            await k.write(ref, zone)
        if not self.buggy:
            await k.write_seqcount_end(st.seq)                   # write_sequnlock()
            await k.spin_unlock(st.lock)
