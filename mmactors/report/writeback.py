"""Dirty pages and writeback in the human summary: /proc/meminfo's Dirty and
Writeback, the /proc/vmstat counters (nr_dirtied, nr_written, pgpgout,
nr_dirty_threshold, nr_dirty_background_threshold), the balance_dirty_pages
figures (pauses and their sizes), each bdi's bandwidth estimate and flusher,
and dirty + writeback pages against the thresholds over time as a text
chart.  The JSON has the same figures under ``"writeback"`` (see
:meth:`mmactors.mm.page_writeback.PageWriteback.to_json`); the section exists
only in runs with a mounted filesystem."""
from __future__ import annotations

__all__ = ["format_writeback", "dirty_chart"]

CHART_ROWS = 12
CHART_WIDTH = 40


def dirty_chart(rows_, rows: int = CHART_ROWS, width: int = CHART_WIDTH) -> list[str]:
    """One line per time point (at most ``rows``): ``*`` marks dirty +
    writeback pages (what balance_dirty_pages controls), ``d`` the dirty
    pages alone, ``b`` the background threshold, ``s`` the setpoint and
    ``L`` the dirty threshold, on a scale up to 1.25 x the threshold."""
    if not rows_:
        return []
    pts = rows_ if len(rows_) <= rows else \
        [rows_[i * (len(rows_) - 1) // (rows - 1)] for i in range(rows)]
    top = max(max(r[4] for r in rows_) * 5 // 4, max(r[1] + r[2] for r in rows_), 1)

    def col(v):
        return min(width - 1, max(0, v * (width - 1) // top))
    out = [f"    dirty+writeback pages against the thresholds (* = dirty+writeback, d = dirty, "
           f"b = background, s = setpoint, L = limit; scale 0..{top:,}):"]
    for t, dirty, wb, bg, thresh, setpoint, *_ in pts:
        cells = [" "] * width
        for ch, v in (("b", bg), ("s", setpoint), ("L", thresh)):
            cells[col(v)] = ch
        cells[col(dirty)] = "d"
        cells[col(dirty + wb)] = "*"
        out.append(f"    {t / 1e9:9.3f} s |{''.join(cells)}| {dirty + wb:,} ({dirty:,} dirty)")
    return out


def format_writeback(pw) -> str:
    """The writeback section for a PageWriteback (None: no filesystem)."""
    if pw is None:
        return ""
    j = pw.to_json()
    vs = pw.vmstat
    snap = vs.snapshot()
    sc = j["sysctl"]
    ratio = (f"vm.dirty_bytes {sc['dirty_bytes']:,}" if sc["dirty_bytes"]
             else f"vm.dirty_ratio {sc['dirty_ratio']}")
    bg_ratio = (f"dirty_background_bytes {sc['dirty_background_bytes']:,}"
                if sc["dirty_background_bytes"]
                else f"dirty_background_ratio {sc['dirty_background_ratio']}")
    L = [f"writeback: {ratio}, {bg_ratio} of {j['dirtyable_pages']:,} dirtyable pages: "
         f"background {j['nr_dirty_background_threshold']:,}, freerun {j['freerun']:,}, "
         f"setpoint {j['setpoint']:,}, limit {j['dirty_limit']:,} pages "
         f"(thresh {j['nr_dirty_threshold']:,}); ratelimit_pages {j['ratelimit_pages']}; "
         f"expire {sc['dirty_expire_centisecs']} cs, interval {sc['dirty_writeback_centisecs']} cs",
         f"  Dirty: {j['nr_dirty'] * 4:,} kB, Writeback: {j['nr_writeback'] * 4:,} kB; "
         f"nr_dirtied {snap['nr_dirtied']:,}, nr_written {snap['nr_written']:,}, "
         f"pgpgout {snap['pgpgout']:,} kB"]
    b = j["balance_dirty_pages"]
    hist = ", ".join(f"{k} ms {v:,}" for k, v in b["pause_hist_ms"].items() if v) or "none"
    L.append(f"  balance_dirty_pages: {b['calls']:,} calls ({b['freerun']:,} below freerun), "
             f"{b['pauses']:,} pauses, {b['pause_ms_total']:,.0f} ms in all, longest "
             f"{b['pause_ms_max']:,.0f} ms; pauses: {hist}")
    for name, w in j["bdi"].items():
        L.append(f"  bdi {name}: write bandwidth {w['write_bandwidth_kbps']:,} KB/s "
                 f"(avg {w['avg_write_bandwidth_kbps']:,}), dirty_ratelimit "
                 f"{w['dirty_ratelimit_kbps']:,} KB/s (balanced "
                 f"{w['balanced_dirty_ratelimit_kbps']:,}); inodes on b_dirty {w['b_dirty']}, "
                 f"b_io {w['b_io']}, b_more_io {w['b_more_io']}")
    for name, f in (j.get("flusher") or {}).items():
        wr = ", ".join(f"{k} {v:,}" for k, v in f["written"].items()) or "nothing"
        L.append(f"  flusher flush-{name} (cpu {f['cpu']}): {f['state']}; {f['runs']:,} runs, "
                 f"{f['kupdate_passes']:,} kupdate and {f['background_passes']:,} background "
                 f"passes, {f['works']:,} queued works; pages written by reason: {wr}")
    L.extend(dirty_chart(j["samples"]["rows"]))
    return "\n".join(L)
