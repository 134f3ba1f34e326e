"""The swap devices in the human summary: use per device, the allocator
release, the per-CPU swap-slot cache (6.12, 6.14) or per-CPU cluster
(6.15) hit rates, the swap cache and swap I/O (bios per device, the
/proc/vmstat counters pswpin, pswpout, pgpgin, pgpgout, pgmajfault, swap_ra,
swap_ra_hit).  The JSON has the same figures under ``"swap"`` (``"swap_cache"``
in it) and ``"caches"`` (see :meth:`mmactors.mm.swapfile.Swap.report`)."""
from __future__ import annotations

__all__ = ["format_swap"]


def _pct(h, m):
    return "-" if h + m == 0 else f"{100 * h / (h + m):.2f}%"


def format_swap(sw) -> str:
    L = [f"swap: allocator {sw.version} ({'per-CPU slots cache' if sw.slots is not None else 'no slots cache'}"
         f"), {sw.nr_swap_pages:,} of {sw.total_swap_pages:,} pages free"]
    for si in sw.swap_info:
        j = si.to_json()
        line = (f"  {j['name']:<12} {j['device']:<4} prio {j['prio']:>5}: "
                f"{j['inuse_pages']:,} of {j['pages']:,} pages used ({j['used_pct']:.2f}%)")
        c = j.get("clusters")
        if c:
            line += (f"; clusters free {c['free']:,}, nonfull {c['nonfull']:,}, "
                     f"frag {c['frag']:,}, full {c['full']:,}")
        L.append(line)
    st = sw.caches()[0]
    ah, am = sum(st.alloc_hits), sum(st.alloc_misses)
    fh, fm = sum(st.free_hits), sum(st.free_misses)
    if sw.slots is not None:
        s = sw.slots.to_json()
        L.append(f"  swap slots cache: {'active' if s['active'] else 'inactive'} "
                 f"(on above {s['activate_above']:,} free slots, off below "
                 f"{s['deactivate_below']:,}; {s['deactivations']} deactivations); "
                 f"alloc hit rate {_pct(ah, am)} ({ah:,}/{am:,}), free hit rate "
                 f"{_pct(fh, fm)} ({fh:,}/{fm:,}), {sum(st.refills):,} refills, "
                 f"{sum(st.drains):,} flushes")
    else:
        L.append(f"  per-CPU swap cluster (swap_alloc_fast): hit rate {_pct(ah, am)} "
                 f"({ah:,} fast / {am:,} slow)")
    sc = getattr(sw, "swap_cache", None)
    if sc is not None:
        j = sc.to_json()
        ev = j["counters"]
        L.append(f"  swap cache: {j['nr_swapcached']:,} pages (nr_swapcached), "
                 f"{j['nr_writeback']:,} under writeback; readahead {j['readahead']}, "
                 f"page-cluster {j['page_cluster']}")
        L.append("  " + ", ".join(f"{k} {ev[k]:,}" for k in sc.COUNTERS if k in ev)
                 + (f"; readahead hit rate {100 * j['swap_ra_hit_rate']:.1f}%"
                    if j["swap_ra_hit_rate"] is not None else ""))
        for d in j["devices"]:
            L.append(f"  {d['name']:<12} on {d['bdev'] or '-'}"
                     f"{' (synchronous)' if d['synchronous_io'] else ''}: "
                     f"{d['write_bios']:,} write bios, {d['read_bios']:,} read bios; "
                     f"{d['swapcached']:,} cached, {d['shadows']:,} shadow entries in "
                     f"{d['address_spaces_used']} of {d['address_spaces']} address spaces")
    cells = [f"cpu{c} {_pct(st.hits(c), st.misses(c))}" for c in range(st.ncpus)
             if st.hits(c) or st.misses(c)]
    for i in range(0, len(cells), 8):
        L.append(("  hit rate per CPU: " if i == 0 else "                    ")
                 + "  ".join(f"{x:<13}" for x in cells[i:i + 8]).rstrip())
    return "\n".join(L)
