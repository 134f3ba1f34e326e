"""Reclaim in the human summary: kswapd's state per node, the reclaim
counters (/proc/vmstat names) and free pages against the min/low/high
watermarks over time as a compact text chart.  The JSON has the same figures
under ``"reclaim"`` (see :meth:`mmactors.mm.vmscan.VmScan.to_json`); the
section exists only in runs where kswapd was woken or direct reclaim ran."""
from __future__ import annotations

__all__ = ["format_reclaim", "free_chart"]

CHART_ROWS = 12
CHART_WIDTH = 40


def free_chart(samples, wm: dict, node: int = 0, rows: int = CHART_ROWS,
               width: int = CHART_WIDTH) -> list[str]:
    """One line per time point (at most ``rows``, evenly picked from the
    samples): a bar of the node's free pages on a scale up to 1.5 x the high
    watermark (or the largest sample), with ``m``, ``l``, ``h`` marking the
    watermarks and ``*`` the free pages."""
    if not samples:
        return []
    pts = samples if len(samples) <= rows else \
        [samples[i * (len(samples) - 1) // (rows - 1)] for i in range(rows)]
    top = max(wm["high"] * 3 // 2, max(s[1 + node] for s in samples), 1)

    def col(v):
        return min(width - 1, v * (width - 1) // top)
    out = [f"    free pages, node {node} (min {wm['min']:,}, low {wm['low']:,}, "
           f"high {wm['high']:,}; scale 0..{top:,}):"]
    for s in pts:
        t, free = s[0], s[1 + node]
        cells = [" "] * width
        for ch, key in (("m", "min"), ("l", "low"), ("h", "high")):
            cells[col(wm[key])] = ch
        cells[col(free)] = "*"
        out.append(f"    {t / 1e6:10.3f} ms |{''.join(cells)}| {free:,}")
    return out


def format_reclaim(vs) -> str:
    """The reclaim section for a VmScan (empty when reclaim never ran)."""
    if not vs.used():
        return ""
    j = vs.to_json()
    ev = j["vmstat"]
    j["oom"] = vs.oom.to_json()
    L = [f"reclaim: vm.swappiness {j['swappiness']}; direct reclaim {j['direct_reclaims']:,} "
         f"calls, {j['direct_reclaimed']:,} pages"]
    for k in j["kswapd"]:
        thr = ", ".join(f"{n} {v}" for n, v in k["throttled"].items() if v) or "none"
        L.append(f"  kswapd{k['node']}: {k['state']}; {k['wakeups']:,} wake-ups, "
                 f"{k['runs']:,} balance_pgdat runs, {k['nr_reclaimed']:,} pages reclaimed, "
                 f"kswapd_failures {k['kswapd_failures']}, kcompactd wake-up calls "
                 f"{k['kcompactd_wakeups']:,}; throttled: {thr}")
    L.append("  " + ", ".join(f"{n} {v:,}" for n, v in ev.items()))
    oom = j.get("oom")
    if oom and oom["kills"]:
        L.append(f"  OOM killer: {len(oom['kills'])} kill(s), oom_reaper reaped {oom['reaped']}, "
                 f"failed {oom['reap_failed']}")
        for k in oom["kills"]:
            L.append(f"    {k['ns'] / 1e6:.3f} ms: Out of memory (by {k['by']}, order {k['order']}, "
                     f"gfp {k['gfp']}): killed mm {k['mm']}, badness {k['badness']:,}, "
                     f"anon-rss {k['anon_rss_kb']:,}kB, swapents {k['swapents']:,}, "
                     f"pgtables {k['pgtables_kb']:,}kB")
    samples = j["free_samples"]["samples"]
    for k in j["kswapd"]:
        L.extend(free_chart(samples, k["watermarks"], k["node"]))
    return "\n".join(L)
