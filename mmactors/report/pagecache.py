"""The page cache of regular files, as the summary shows it: /proc/meminfo's
Cached, Active(file) and Inactive(file) lines, /proc/vmstat's pgpgin, and
the page-cache hit rate overall and per CPU (fs/proc/meminfo.c,
mm/vmstat.c, Linux 6.12).  It renders ``extra["pagecache"]``, which the
filesystems' ``report`` (fs/super.py) emits; the hit rate is what
cachestat-style tools estimate (mm/filemap_io.py counts a page a read
copies a hit when the first lookup found it uptodate).

``Cached`` is NR_FILE_PAGES less the swap cache's pages in kB, as
``si_meminfo`` computes it (no buffer heads here), read exactly (the per-CPU
diffs folded in).  tmpfs pages (mm/shmem.py) are in
NR_FILE_PAGES, so in Cached, as in the kernel (meminfo's Shmem is not shown).
"""
from __future__ import annotations

__all__ = ["format_pagecache"]


def _pct(h, m):
    return f"{100 * h / (h + m):.1f}%" if h + m else "-"


def format_pagecache(fss, res) -> str:
    """The summary section of the machine's filesystems."""
    j = res.extra.get("pagecache")
    if not j:
        return ""
    mi = j["meminfo"]
    mounts = ", ".join(f"{m['type']} on {name} ({m['files']} files)"
                       for name, m in j["mounts"].items())
    L = [f"page cache: Cached {mi['Cached']:,} kB, Active(file) {mi['Active(file)']:,} kB, "
         f"Inactive(file) {mi['Inactive(file)']:,} kB; pgpgin {j['pgpgin']:,} kB; {mounts}"]
    r = j["reads"]
    h, m = r["hits"], r["misses"]
    if h or m:
        L.append(f"  reads: {h + m:,} pages, hit rate {_pct(h, m)} ({h:,} hits, {m:,} misses, "
                 f"{r['waits']:,} waited on I/O in flight); readahead: "
                 f"{r['ra_sync']:,} sync, {r['ra_async']:,} async; written {r['bytes_written']:,} B")
        cells = [f"cpu{c['cpu']} {_pct(c['hits'], c['misses'])}" for c in r["per_cpu"]]
        L.append("  page-cache hit rate per CPU:")
        for i in range(0, len(cells), 8):
            L.append("    " + "  ".join(f"{x:<13}" for x in cells[i:i + 8]).rstrip())
    return "\n".join(L)
