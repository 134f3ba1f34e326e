"""Fragmentation and compaction in the human summary: /proc/buddyinfo,
/proc/pagetypeinfo (free blocks per order and migratetype, pageblocks per
migratetype), the fragmentation score and index per zone
(/sys/kernel/debug/extfrag/extfrag_index's and kcompactd's figures), the
compaction counters as /proc/vmstat names them, kcompactd per node, and the
allocation latency percentiles of each ``highorder`` workload.  The JSON
has the same under ``"compaction"`` (mm/compaction.py ``to_json``) and each
workload's report."""
from __future__ import annotations

from ..mm._internal import NR_PAGE_ORDERS, migratetype_names, pageblock_order
from ..mm.compaction import COMPACTION_HPAGE_ORDER, extfrag_for_order, fragmentation_index

__all__ = ["format_buddyinfo", "format_pagetypeinfo", "format_compaction", "format_highorder",
           "COUNTERS"]

COUNTERS = ("compact_stall", "compact_fail", "compact_success", "compact_migrate_scanned",
            "compact_free_scanned", "compact_isolated", "compact_daemon_wake",
            "compact_daemon_migrate_scanned", "compact_daemon_free_scanned",
            "pgmigrate_success", "pgmigrate_fail")


def format_buddyinfo(pa) -> list[str]:
    """/proc/buddyinfo: free blocks per order, one line per zone."""
    out = []
    for z in pa.populated:
        counts = " ".join(f"{a.nr_free:6d}" for a in z.free_area)
        out.append(f"Node {z.node}, zone {z.name:>8} {counts}")
    return out


def format_pagetypeinfo(pa) -> list[str]:
    """/proc/pagetypeinfo: free blocks per order and migratetype, then the
    number of pageblocks of each migratetype per zone."""
    out = [f"Page block order: {pageblock_order}", f"Pages per block:  {1 << pageblock_order}", "",
           "Free pages count per migrate type at order " +
           " ".join(f"{o:6d}" for o in range(NR_PAGE_ORDERS))]
    for z in pa.populated:
        for mt, name in enumerate(migratetype_names):
            counts = " ".join(f"{len(a.free_list[mt]):6d}" for a in z.free_area)
            out.append(f"Node {z.node:4d}, zone {z.name:>8}, type {name:>12} {counts}")
    out.append("")
    out.append("Number of blocks type     " + " ".join(f"{n:>12}" for n in migratetype_names))
    pbmt = pa.mem_map.pageblock_mt
    for z in pa.populated:
        blocks = pbmt[z.zone_start_pfn >> pageblock_order:z.end_pfn >> pageblock_order]
        counts = [int((blocks == mt).sum()) for mt in range(len(migratetype_names))]
        out.append(f"Node {z.node}, zone {z.name:>8} " + " ".join(f"{c:12d}" for c in counts))
    return out


def format_highorder(r: dict) -> str:
    lat = r["latency"]
    if not lat.get("n"):
        return "highorder: no allocation made"
    us = lambda ns: f"{ns / 1000:,.1f} us"                 # noqa: E731
    return (f"highorder: {r['allocations']} order-{r['order']} allocations ({r['gfp']}), "
            f"{r['ok']} ok, {r['failed']} failed; latency mean {us(lat['mean_ns'])}, "
            f"p50 {us(lat['p50_ns'])}, p90 {us(lat['p90_ns'])}, p99 {us(lat['p99_ns'])}, "
            f"max {us(lat['max_ns'])}")


def format_compaction(comp, vmstat) -> str:
    """The compaction section, or "" in a run where compaction never ran."""
    if not comp.used and all(kn.actor is None for kn in comp.nodes):
        return ""
    pa = comp.pa
    L = ["compaction (mm/compaction.c):"]
    ev = {n: vmstat.event(n) for n in COUNTERS}
    L.append("  " + ", ".join(f"{k} {v:,}" for k, v in ev.items()))
    L.append(f"  compact_zone runs {comp.compact_zone_runs:,}, compact_memory "
             f"{comp.compact_memory_runs:,}; direct compaction time "
             f"{comp.stall_ns / 1e6:,.3f} ms; migration failures "
             + ", ".join(f"{k} {v}" for k, v in comp.migrate.fail_reasons.items()))
    for z in pa.populated:
        L.append(f"  Node {z.node}, zone {z.name:>8}: fragmentation score "
                 f"{extfrag_for_order(z, COMPACTION_HPAGE_ORDER)}, fragmentation index "
                 f"(order {COMPACTION_HPAGE_ORDER}) {fragmentation_index(z, COMPACTION_HPAGE_ORDER)}"
                 f", defer shift {z.compact_defer_shift}, order failed {z.compact_order_failed}")
    for kn in comp.nodes:
        if kn.actor is None:
            continue
        L.append(f"  kcompactd{kn.nid}: {kn.state}, node score "
                 f"{comp.fragmentation_score_node(pa.nodes[kn.nid])}, woken {kn.wakeups}, "
                 f"work {kn.work_runs}, proactive runs {kn.proactive_runs} (backoffs "
                 f"{kn.proactive_backoffs}): "
                 + ", ".join(f"{b}->{a} at {t / 1e6:.0f} ms" for t, b, a in kn.scores[:6]))
    L.append("  /proc/buddyinfo:")
    L.extend("    " + ln for ln in format_buddyinfo(pa))
    L.append("  /proc/pagetypeinfo:")
    L.extend("    " + ln for ln in format_pagetypeinfo(pa) if ln)
    return "\n".join(L)
