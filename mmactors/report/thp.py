"""Transparent huge pages in the human summary: the sysfs modes, the THP
counters as /proc/vmstat names them, the PMD-mapped THPs at the end of the
run, and khugepaged's state as its sysfs directory shows it
(/sys/kernel/mm/transparent_hugepage/khugepaged/{pages_collapsed,full_scans,...})
plus each collapse's mmap_lock write hold, and the deferred split queue
(its length per node, the pages it keeps, the thp-deferred_split shrinker's
work) once a folio was queued.  The JSON has the same figures
under ``"thp"`` (:meth:`mmactors.mm.huge_memory.Thp.report`); the section
exists only in runs where a THP was faulted, split, collapsed or khugepaged ran."""
from __future__ import annotations

__all__ = ["format_thp"]


def format_thp(thp) -> str:
    """The THP section for a :class:`~mmactors.mm.huge_memory.Thp` ("" if unused)."""
    if thp is None or not thp.active():
        return ""
    j = thp.report()
    ev = ", ".join(f"{n} {v:,}" for n, v in j["vmstat"].items() if v) or "no THP events"
    L = [f"thp: enabled [{j['enabled']}], defrag [{j['defrag']}]; {j['pmd_mapped']:,} PMD-mapped "
         f"THPs at the end" + ("; huge zero page allocated" if j["huge_zero_page"] else ""),
         f"  {ev}"]
    d = j.get("deferred_split")
    if d:
        sh = d["shrinker"]
        L.append(f"  deferred split queue: {', '.join(f'{n:,}' for n in d['split_queue_len'])} "
                 f"folios (per node), {d['pages_kept']:,} unmapped pages kept; shrinker "
                 f"thp-deferred_split: {sh['calls']:,} scans, {sh['scanned']:,} objects, "
                 f"{sh['split']:,} split, {d['thp_split_page_failed']:,} failed")
    k = j.get("khugepaged")
    if k:
        h = k["mmap_lock_hold_ns"]
        L.append(f"  khugepaged: pages_to_scan {k['pages_to_scan']}, scan_sleep_millisecs "
                 f"{k['scan_sleep_millisecs']}, max_ptes_none {k['max_ptes_none']}; "
                 f"pages_collapsed {k['pages_collapsed']:,}, full_scans {k['full_scans']:,}, "
                 f"{k['passes']:,} passes, {k['ptes_scanned']:,} PTEs scanned "
                 f"(at most {k['max_ptes_per_pass']:,} in a pass)")
        if h["count"]:
            L.append(f"  collapse_huge_page held mmap_lock for write {h['count']:,} times: "
                     f"mean {h['mean'] / 1e3:.1f} us, max {h['max'] / 1e3:.1f} us")
        if k["scan_results"]:
            L.append("  scan results: " + ", ".join(f"{n} {v:,}"
                                                    for n, v in k["scan_results"].items()))
    return "\n".join(L)
