"""vmstat: mm/vmstat.c and include/linux/vmstat.h (Linux 6.12).

Counters keep the kernel's names (what /proc/vmstat prints) and its four kinds:

* zone items (``enum zone_stat_item``: ``nr_free_pages``, ...): an atomic
  ``zone->vm_stat[]`` plus, per CPU, ``vm_stat_diff[]`` and a
  ``stat_threshold``; a per-CPU diff that passes the threshold is folded into
  the zone and the global ``vm_zone_stat[]`` (two shared cache lines);
* node items (``enum node_stat_item``: ``nr_slab_unreclaimable``, ...): the
  same per ``pglist_data``;
* NUMA events (``numa_hit``, ...): per CPU and zone, folded when read;
* VM events (``pgalloc_normal``, ``pgfree``, ``allocstall_dma32``, ...): per
  CPU, never folded, summed when read (``all_vm_events``).

Thresholds are ``calculate_normal_threshold`` (``refresh_zone_stat_thresholds``
at boot); ``vmstat_update`` (per-CPU work, ``vm.stat_interval``) folds every
diff with ``refresh_cpu_vm_stats(true)`` and decays ``pcp->high``
(``decay_pcp_high``).  Byte-sized node items (``NR_SLAB_*_B``) are kept in
pages, as ``__mod_node_page_state`` does.

Simplifications: CONFIG_CMA, ZONE_DEVICE and HIGHMEM are absent, so there is
no ``_device``/``_high`` suffix; the optional items follow a typical x86-64
distribution config (ZSMALLOC, SWAP, NUMA_BALANCING, MIGRATION, COMPACTION,
HUGETLB_PAGE, MEMORY_BALLOON, KSM, ZSWAP on; UNACCEPTED_MEMORY, CMA,
DEBUG_TLBFLUSH, PER_VMA_LOCK_STATS off).  ``quiet_vmstat`` (NOHZ idle) and
the shepherd's ``need_update`` scan cost are not modelled.  The 6.12 final
system items ``nr_memmap_pages``/``nr_memmap_boot_pages`` are used (the
node items ``nr_memmap``/``nr_memmap_boot`` of the merge window were moved
there by 9d8573111024).
"""
from __future__ import annotations

from ._internal import MIGRATE_TYPES, CacheStats, migratetype_names, zone_suffix

__all__ = ["ZONE_STAT_ITEMS", "NUMA_EVENT_ITEMS", "NODE_STAT_ITEMS", "VM_STAT_ITEMS",
           "vm_event_items", "VmStat", "calculate_normal_threshold",
           "calculate_pressure_threshold", "fls"]

ZONE_STAT_ITEMS = (
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock",
    "nr_bounce", "nr_zspages", "nr_free_cma")
NR_FREE_PAGES = 0

NUMA_EVENT_ITEMS = ("numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local",
                    "numa_other")
NUMA_HIT, NUMA_MISS, NUMA_FOREIGN, NUMA_INTERLEAVE_HIT, NUMA_LOCAL, NUMA_OTHER = range(6)

NODE_STAT_ITEMS = (
    "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
    "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file",
    "workingset_nodes", "workingset_refault_anon", "workingset_refault_file",
    "workingset_activate_anon", "workingset_activate_file", "workingset_restore_anon",
    "workingset_restore_file", "workingset_nodereclaim", "nr_anon_pages", "nr_mapped",
    "nr_file_pages", "nr_dirty", "nr_writeback", "nr_writeback_temp", "nr_shmem",
    "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim",
    "nr_dirtied", "nr_written", "nr_throttled_written", "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired", "nr_foll_pin_released", "nr_kernel_stack", "nr_page_table_pages",
    "nr_sec_page_table_pages", "nr_iommu_pages", "nr_swapcached", "pgpromote_success",
    "pgpromote_candidate", "pgdemote_kswapd", "pgdemote_direct", "pgdemote_khugepaged")
NR_SLAB_RECLAIMABLE_B = NODE_STAT_ITEMS.index("nr_slab_reclaimable")
NR_SLAB_UNRECLAIMABLE_B = NODE_STAT_ITEMS.index("nr_slab_unreclaimable")

VM_STAT_ITEMS = ("nr_dirty_threshold", "nr_dirty_background_threshold", "nr_memmap_pages",
                 "nr_memmap_boot_pages")


def vm_event_items(zones_present, thp: bool = True) -> tuple:
    """``enum vm_event_item`` names; ``zones_present`` are the configured zone
    indices (TEXTS_FOR_ZONES: dma only with CONFIG_ZONE_DMA)."""
    zs = [zone_suffix[z] for z in zones_present]
    ev = ["pgpgin", "pgpgout", "pswpin", "pswpout"]
    ev += [f"pgalloc_{s}" for s in zs]
    ev += [f"allocstall_{s}" for s in zs]
    ev += [f"pgskip_{s}" for s in zs]
    ev += ["pgfree", "pgactivate", "pgdeactivate", "pglazyfree", "pgfault", "pgmajfault",
           "pglazyfreed", "pgrefill", "pgreuse", "pgsteal_kswapd", "pgsteal_direct",
           "pgsteal_khugepaged", "pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged",
           "pgscan_direct_throttle", "pgscan_anon", "pgscan_file", "pgsteal_anon",
           "pgsteal_file", "zone_reclaim_failed", "pginodesteal", "slabs_scanned",
           "kswapd_inodesteal", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
           "pageoutrun", "pgrotated", "drop_pagecache", "drop_slab", "oom_kill",
           "numa_pte_updates", "numa_huge_pte_updates", "numa_hint_faults",
           "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success",
           "pgmigrate_fail", "thp_migration_success", "thp_migration_fail",
           "thp_migration_split", "compact_migrate_scanned", "compact_free_scanned",
           "compact_isolated", "compact_stall", "compact_fail", "compact_success",
           "compact_daemon_wake", "compact_daemon_migrate_scanned",
           "compact_daemon_free_scanned", "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail",
           "unevictable_pgs_culled", "unevictable_pgs_scanned", "unevictable_pgs_rescued",
           "unevictable_pgs_mlocked", "unevictable_pgs_munlocked", "unevictable_pgs_cleared",
           "unevictable_pgs_stranded"]
    if thp:
        ev += ["thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge",
               "thp_collapse_alloc", "thp_collapse_alloc_failed", "thp_file_alloc",
               "thp_file_fallback", "thp_file_fallback_charge", "thp_file_mapped",
               "thp_split_page", "thp_split_page_failed", "thp_deferred_split_page",
               "thp_split_pmd", "thp_scan_exceed_none_pte", "thp_scan_exceed_swap_pte",
               "thp_scan_exceed_share_pte", "thp_split_pud", "thp_zero_page_alloc",
               "thp_zero_page_alloc_failed", "thp_swpout", "thp_swpout_fallback"]
    ev += ["balloon_inflate", "balloon_deflate", "balloon_migrate", "swap_ra", "swap_ra_hit",
           "ksm_swpin_copy", "cow_ksm", "zswpin", "zswpout", "zswpwb",
           "direct_map_level2_splits", "direct_map_level3_splits"]
    return tuple(ev)


def fls(x: int) -> int:
    """Find last set bit, 1-based (fls(0) = 0)."""
    return x.bit_length()


def calculate_normal_threshold(managed_pages: int, online_cpus: int) -> int:
    """mm/vmstat.c: 2 * fls(cpus) * (1 + fls(managed in 128 MiB units)), at most 125."""
    mem = managed_pages >> (27 - 12)
    return min(125, 2 * fls(online_cpus) * (1 + fls(mem)))


def calculate_pressure_threshold(low_wmark: int, min_wmark: int, online_cpus: int) -> int:
    return min(125, max(1, (low_wmark - min_wmark) // online_cpus))


class VmStat:
    """The counters of one machine and the folding rules (see module docstring).

    Zone and node objects carry their own ``vm_stat`` / ``vm_stat_diff`` /
    ``stat_threshold`` / ``stat_line``; this object keeps the global arrays,
    the per-CPU event counters and the "vmstat" per-CPU cache statistics
    (an update absorbed by a per-CPU diff is a hit, one that had to fold into
    the shared counters a miss; ``refresh_cpu_vm_stats`` folds are drains).
    """

    def __init__(self, ncpus: int, zones_present, costs, node_of, line_factory, thp=True):
        self.ncpus = ncpus
        self.event_names = vm_event_items(zones_present, thp)
        self.ev = {n: i for i, n in enumerate(self.event_names)}
        self.PGALLOC = {z: self.ev[f"pgalloc_{zone_suffix[z]}"] for z in zones_present}
        self.ALLOCSTALL = {z: self.ev[f"allocstall_{zone_suffix[z]}"] for z in zones_present}
        self.PGFREE = self.ev["pgfree"]
        self.events = [[0] * len(self.event_names) for _ in range(ncpus)]
        self.vm_zone_stat = [0] * len(ZONE_STAT_ITEMS)
        self.vm_node_stat = [0] * len(NODE_STAT_ITEMS)
        self.vm_stat = [0] * len(VM_STAT_ITEMS)
        self.global_line = line_factory("vm_zone_stat")
        self.costs = costs
        self.node_of = node_of
        self.stats = CacheStats("vmstat", ncpus)
        self.zones = []           # set by the page allocator (every zone, populated or not)
        self.nodes = []

    # ------------------------------------------------------------ events
    def count_vm_events(self, cpu: int, item: int, n: int = 1):
        self.events[cpu][item] += n

    def count_event(self, cpu: int, name: str, n: int = 1) -> None:
        """count_vm_events by name, when this configuration has the event."""
        i = self.ev.get(name)
        if i is not None:
            self.events[cpu][i] += n

    def event(self, name: str) -> int:
        i = self.ev[name]
        return sum(e[i] for e in self.events)

    # ------------------------------------------------------- zone items
    def mod_zone_page_state(self, zone, item: int, delta: int, me) -> None:
        """``__mod_zone_page_state`` (no overstep; caller has preemption off).
        A fold costs the zone's and the global counter lines (added to ``me.debt``)."""
        cpu = me.cpu
        d = zone.vm_stat_diff[cpu]
        x = d[item] + delta
        t = zone.stat_threshold[cpu]
        if x > t or x < -t:
            zone.vm_stat[item] += x
            self.vm_zone_stat[item] += x
            me.debt += zone.stat_line.write(cpu) + self.global_line.write(cpu)
            self.stats.alloc_misses[cpu] += 1
            x = 0
        else:
            self.stats.alloc_hits[cpu] += 1
        d[item] = x

    def inc_zone_state(self, zone, item: int, me, delta: int = 1) -> None:
        """``__inc_zone_state``/``__dec_zone_state``: overstep by half the threshold."""
        cpu = me.cpu
        d = zone.vm_stat_diff[cpu]
        t = zone.stat_threshold[cpu]
        v = d[item] + delta
        if v > t:
            over = t >> 1
            zone.vm_stat[item] += v + over
            self.vm_zone_stat[item] += v + over
            v = -over
            me.debt += zone.stat_line.write(cpu) + self.global_line.write(cpu)
            self.stats.alloc_misses[cpu] += 1
        elif v < -t:
            over = t >> 1
            zone.vm_stat[item] += v - over
            self.vm_zone_stat[item] += v - over
            v = over
            me.debt += zone.stat_line.write(cpu) + self.global_line.write(cpu)
            self.stats.alloc_misses[cpu] += 1
        else:
            self.stats.alloc_hits[cpu] += 1
        d[item] = v

    # ------------------------------------------------------- node items
    def mod_node_page_state(self, pgdat, item: int, delta: int, me) -> None:
        """``mod_node_page_state`` (this_cpu_cmpxchg loop, overstep mode 0)."""
        cpu = me.cpu
        d = pgdat.vm_node_stat_diff[cpu]
        t = pgdat.stat_threshold[cpu]
        x = d[item] + delta
        if x > t or x < -t:
            pgdat.vm_stat[item] += x
            self.vm_node_stat[item] += x
            me.debt += pgdat.stat_line.write(cpu) + self.global_line.write(cpu)
            self.stats.alloc_misses[cpu] += 1
            x = 0
        else:
            self.stats.alloc_hits[cpu] += 1
        me.debt += self.costs.atomic_rmw_ns      # this_cpu_try_cmpxchg
        d[item] = x

    # ------------------------------------------------------------ readers
    @staticmethod
    def zone_page_state(zone, item: int) -> int:
        v = zone.vm_stat[item]
        return v if v > 0 else 0

    @staticmethod
    def zone_page_state_snapshot(zone, item: int) -> int:
        v = zone.vm_stat[item] + sum(d[item] for d in zone.vm_stat_diff)
        return v if v > 0 else 0

    def global_zone_page_state(self, item: int) -> int:
        v = self.vm_zone_stat[item]
        return v if v > 0 else 0

    def global_node_page_state(self, item: int) -> int:
        v = self.vm_node_stat[item]
        return v if v > 0 else 0

    def zone_numa_event_state(self, zone, item: int) -> int:
        return sum(e[item] for e in zone.vm_numa_event)

    # -------------------------------------------------------------- folding
    def need_update(self, cpu: int) -> bool:
        for z in self.zones:
            if z.present_pages and any(z.vm_stat_diff[cpu]):
                return True
        for p in self.nodes:
            if any(p.vm_node_stat_diff[cpu]):
                return True
        return False

    def fold_cpu_diffs(self, cpu: int, me=None) -> int:
        """The counter part of ``refresh_cpu_vm_stats``: ``this_cpu_xchg`` every
        diff of ``cpu`` to 0 and add it to the zone/node and global counters.
        Returns the number of counters changed."""
        changes = 0
        for z in self.zones:
            d = z.vm_stat_diff[cpu]
            if not any(d):
                continue
            for i, v in enumerate(d):
                if v:
                    z.vm_stat[i] += v
                    self.vm_zone_stat[i] += v
                    d[i] = 0
                    changes += 1
            if me is not None:
                me.debt += z.stat_line.write(me.cpu) + self.global_line.write(me.cpu)
        for p in self.nodes:
            d = p.vm_node_stat_diff[cpu]
            if not any(d):
                continue
            for i, v in enumerate(d):
                if v:
                    p.vm_stat[i] += v
                    self.vm_node_stat[i] += v
                    d[i] = 0
                    changes += 1
            if me is not None:
                me.debt += p.stat_line.write(me.cpu) + self.global_line.write(me.cpu)
        if changes:
            self.stats.drains[cpu] += 1
            self.stats.drain_objs[cpu] += changes
        return changes

    def fold_all(self) -> None:
        """``refresh_vm_stats`` on every CPU (vm.stat_refresh), without costs."""
        for cpu in range(self.ncpus):
            self.fold_cpu_diffs(cpu)

    # ------------------------------------------------------------- output
    def snapshot(self) -> dict:
        """Every /proc/vmstat item as it would read after ``vm.stat_refresh``
        (global counters plus the per-CPU diffs not yet folded)."""
        out = {}
        for i, n in enumerate(ZONE_STAT_ITEMS):
            v = self.vm_zone_stat[i] + sum(d[i] for z in self.zones for d in z.vm_stat_diff)
            out[n] = max(v, 0)
        for i, n in enumerate(NUMA_EVENT_ITEMS):
            out[n] = sum(e[i] for z in self.zones for e in z.vm_numa_event)
        for i, n in enumerate(NODE_STAT_ITEMS):
            v = self.vm_node_stat[i] + sum(d[i] for p in self.nodes for d in p.vm_node_stat_diff)
            out[n] = max(v, 0)
        for i, n in enumerate(VM_STAT_ITEMS):
            out[n] = self.vm_stat[i]
        for i, n in enumerate(self.event_names):
            out[n] = sum(e[i] for e in self.events)
        return out

    def _check(self) -> None:
        """Global counters equal the sums over zones/nodes, and each zone's
        folded value plus its diffs is what the zone holds."""
        for i, n in enumerate(ZONE_STAT_ITEMS):
            s = sum(z.vm_stat[i] for z in self.zones)
            assert s == self.vm_zone_stat[i], f"vm_zone_stat[{n}] {self.vm_zone_stat[i]} != {s}"
        for i, n in enumerate(NODE_STAT_ITEMS):
            s = sum(p.vm_stat[i] for p in self.nodes)
            assert s == self.vm_node_stat[i], f"vm_node_stat[{n}] {self.vm_node_stat[i]} != {s}"
        for z in self.zones:
            for cpu, t in enumerate(z.stat_threshold):
                for i, v in enumerate(z.vm_stat_diff[cpu]):
                    assert -t <= v <= t, f"{z.name} cpu{cpu} diff {ZONE_STAT_ITEMS[i]}={v} > {t}"


# ------------------------------------------------------- /proc/zoneinfo
def _pageblocks(pa, z):
    pb = pa.mem_map.pageblock_mt[z.zone_start_pfn >> 9:(z.end_pfn + 511) >> 9]
    return {migratetype_names[mt]: int((pb == mt).sum()) for mt in range(MIGRATE_TYPES)}


def zoneinfo_json(pa, vm) -> list:
    """Every zone as /proc/zoneinfo shows it (``zoneinfo_show_print``), field
    by field, plus what /proc/buddyinfo and /proc/pagetypeinfo show (free
    blocks per order and migratetype, pageblocks per migratetype)."""
    out = []
    for z in pa.zones:
        d = {"node": z.node, "zone": z.name, "start_pfn": z.zone_start_pfn,
             "spanned": z.spanned_pages, "present": z.present_pages, "managed": z.managed_pages,
             "populated": z.populated(),
             "protection": list(z.lowmem_reserve)}
        if z.populated():
            d.update({
                "free": vm.zone_page_state_snapshot(z, NR_FREE_PAGES),
                "boost": z.watermark_boost,
                "min": z.min_wmark_pages(), "low": z.low_wmark_pages(),
                "high": z.high_wmark_pages(), "promo": z._watermark[3] + z.watermark_boost,
                "nr_reserved_highatomic": z.nr_reserved_highatomic,
                "flags": [n for b, n in ((1, "ZONE_BOOSTED_WATERMARK"), (2, "ZONE_RECLAIM_ACTIVE"),
                                         (4, "ZONE_BELOW_HIGH")) if z.flags & b],
                "free_area": [a.nr_free for a in z.free_area],
                "free_by_migratetype": {
                    migratetype_names[mt]: [len(a.free_list[mt]) for a in z.free_area]
                    for mt in range(MIGRATE_TYPES)},
                "pageblocks": _pageblocks(pa, z),
                "vm_stat": {n: vm.zone_page_state_snapshot(z, i)
                            for i, n in enumerate(ZONE_STAT_ITEMS)},
                "vm_stats_threshold": z.stat_threshold[0] if z.stat_threshold else 0,
                "pageset_batch": z.pageset_batch, "pageset_high_min": z.pageset_high_min,
                "pageset_high_max": z.pageset_high_max,
                "pagesets": [p.to_json() for p in z.per_cpu_pageset],
            })
        out.append(d)
    return out
