"""Known results of dirty throttling and writeback, on the shipped scenarios
under scenarios/files/ (run longer here than they ship, where the result
needs the estimators to converge)."""
from __future__ import annotations

from pathlib import Path

from mmactors.machine import Machine
from mmactors.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SEC = 1_000_000_000


def _run(name: str, duration_ns: int | None = None, extra: str = ""):
    text = (ROOT / "scenarios" / "files" / f"{name}.toml").read_text()
    if duration_ns is not None:
        lines = [ln for ln in text.splitlines() if not ln.startswith("duration_ns")]
        text = "\n".join(lines).replace("[run]", f"[run]\nduration_ns = {duration_ns}")
    text += extra
    m = Machine(parse_scenario(text, f"{name}.toml"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    return res, m


def test_writers_faster_than_device_settle_near_setpoint():
    """Sixteen writers faster than a 10 MB/s disk (scenarios/files/
    writers-faster-than-device.toml), after the write bandwidth and
    dirty_ratelimit estimates have had time to converge (the kernel's
    bandwidth estimate averages over roundup_pow_of_two(3 * HZ) jiffies, ~4 s,
    starting from INIT_BW = 100 MB/s: mm/page-writeback.c
    wb_update_write_bandwidth, wb_update_dirty_ratelimit).

    Wu Fengguang's IO-less dirty throttling (Linux 3.2, "IO-less dirty
    throttling", LWN 456904; mm/page-writeback.c balance_dirty_pages):
    dirty + writeback pages settle between freerun and the limit, near the
    setpoint (freerun + limit) / 2, which is about 17.5% of dirtyable memory
    with dirty_ratio 20 and dirty_background_ratio 10; no pause is longer
    than MAX_PAUSE = HZ/5 = 200 ms; the writers' throughput is the disk's
    bandwidth (the disk never idles: utilisation ~1); dirty_ratelimit heads
    for write_bw / N."""
    def measure():
        res, m = _run("writers-faster-than-device", 20 * SEC)
        wb = res.extra["writeback"]
        rows = wb["samples"]["rows"]
        late = [r for r in rows if r[0] >= 15 * SEC]
        mean = sum(r[1] + r[2] for r in late) / len(late)
        setpoint = sum(r[5] for r in late) / len(late)
        bdi = wb["bdi"]["sda"]
        dev = res.extra["block"]["sda"]
        written_mb = dev["stat"]["write_sectors"] * 512 / 1e6
        return {
            "setpoint_pct": round(100 * wb["setpoint"] / wb["dirtyable_pages"], 1),
            "mean": mean, "setpoint": setpoint, "freerun": wb["freerun"],
            "limit": wb["dirty_limit"], "max_pause": wb["balance_dirty_pages"]["pause_ms_max"],
            "pauses": wb["balance_dirty_pages"]["pauses"],
            "mb_s": written_mb / (res.virtual_ns / SEC), "util": dev["util"],
            "ratelimit": bdi["dirty_ratelimit_kbps"], "avg_bw": bdi["avg_write_bandwidth_kbps"],
        }
    r = measure()
    assert 17.0 <= r["setpoint_pct"] <= 18.0, r
    assert r["freerun"] < r["mean"] < r["limit"], r
    # measured: +14.5% over 15-20 s (the estimates are still converging;
    # the equilibrium pos_ratio is write_bw / (N * dirty_ratelimit))
    assert abs(r["mean"] - r["setpoint"]) <= 0.2 * r["setpoint"], r
    assert r["pauses"] > 1000 and r["max_pause"] <= 200, r
    assert 9.5 <= r["mb_s"] <= 10.5 and r["util"] >= 0.98, r
    # the estimates: write bandwidth near the disk's 10 MB/s (9,766 KiB/s),
    # dirty_ratelimit far below INIT_BW (102,400 KB/s) on its way to bw / 16
    assert 8_500 <= r["avg_bw"] <= 12_500, r
    assert r["ratelimit"] < 102_400 // 8, r


def test_writers_below_freerun_are_never_paused():
    """A writer whose dirty pages stay below freerun = (thresh + bg_thresh) / 2
    is never paused (balance_dirty_pages returns at once, "free_running"), and
    the flusher writes only on its periodic kupdate passes, every
    dirty_writeback_interval for inodes dirtied dirty_expire_interval ago
    (fs/fs-writeback.c wb_check_old_data_flush); scenarios/files/
    writers-below-freerun.toml."""
    res, m = _run("writers-below-freerun")
    wb = res.extra["writeback"]
    b = wb["balance_dirty_pages"]
    assert b["calls"] > 0 and b["pauses"] == 0 and b["calls"] == b["freerun"], b
    fl = wb["flusher"]["sda"]
    assert set(fl["written"]) <= {"periodic", "fsync"} and fl["written"]["periodic"] > 0, fl
    assert fl["first_write_ns"]["periodic"] >= 30 * SEC, fl
    assert fl["kupdate_passes"] >= 1 and fl["background_passes"] == 0, fl
    rows = wb["samples"]["rows"]
    assert max(r[1] + r[2] for r in rows) < wb["freerun"]


def test_reclaim_meeting_dirty_file_folios():
    """Reclaim meeting dirty file pages (scenarios/files/writers-vs-reclaim.toml;
    mm/vmscan.c shrink_folio_list, shrink_inactive_list, shrink_node,
    reclaim_throttle, 6.12): reclaim writes none of them (nr_vmscan_write 0:
    direct reclaim never writes file folios, and kswapd finds no ->writepage),
    marks them for immediate reclaim (nr_vmscan_immediate_reclaim, PG_reclaim)
    and wakes the flusher (wakeup_flusher_threads(WB_REASON_VMSCAN)); the
    marked folios are rotated to the inactive tail when their writeback ends
    (pgrotated); with most of the inactive file list dirty or under
    writeback, reclaimers sleep in reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)."""
    res, m = _run("writers-vs-reclaim")
    vs = m.subsystems["physmem"].vmstat.snapshot()
    rec = res.extra["reclaim"]
    assert vs["nr_vmscan_write"] == 0
    assert vs["nr_vmscan_immediate_reclaim"] > 0
    assert vs["pgrotated"] > 0
    assert rec.get("wakeup_flusher_threads", 0) > 0
    fl = res.extra["writeback"]["flusher"]["sda"]
    # (the flusher is already in background writeback, which writes
    # everything the start-all request would: WB_start_all waits for it)
    assert sum(fl["written"].values()) > 0, fl
    throttled = sum(k["throttled"]["writeback"] for k in rec["kswapd"])
    assert throttled > 0, rec["kswapd"]
