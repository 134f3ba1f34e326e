"""Dirty accounting, the dirty limits and the throttling control law
(mm/page_writeback.py), and inode writeback by the flusher and fsync
(fs/fs_writeback.py), on a machine with one nvme device and its filesystem."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmactors.fs import FileSystems
from mmactors.fs.fs_writeback import vfs_fsync_range
from mmactors.machine import Machine
from mmactors.mm.backing_dev import WB_DIRTIED, WB_RECLAIMABLE, WB_WRITEBACK, WB_WRITTEN
from mmactors.mm.filemap import PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK, PG_dirty
from mmactors.mm.page_writeback import (I_DIRTY_PAGES, MAX_PAUSE, NR_DIRTIED, NR_FILE_DIRTY,
                                        NR_WRITEBACK, NR_WRITTEN, NR_ZONE_WRITE_PENDING,
                                        RATELIMIT_CALC_SHIFT, DirtyThrottleControl,
                                        balance_dirty_pages_ratelimited, dirty_poll_interval,
                                        folio_mark_dirty, pos_ratio_polynom, writeback_of)
from mmactors.mm.vmscan import HZ, JIFFY_NS
from mmactors.scenario import ScenarioError, parse_scenario

SEC = 1_000_000_000


def scn(memory_mib=64, cpus=1, sysctl="", duration_ns=60 * SEC):
    return f"""
[machine]
cpus = {cpus}
memory_mib = {memory_mib}
[sysctl]
{sysctl}
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "usemem"
size = "64K"
[run]
duration_ns = {duration_ns}
"""


class Rig:
    """A machine with a mounted filesystem and one test actor on CPU 0 that
    stands in for a workload (the flusher ends when it is done)."""

    def __init__(self, body, **kw):
        self.m = Machine(parse_scenario(scn(**kw)), trace=False)
        self.sub = self.m.subsystems["addrspace"]
        self.fss = FileSystems(self.m)
        self.m.subsystems["fs"] = self.fss
        self.sb = self.fss.mount("nvme0n1")
        self.pw = writeback_of(self.sub)
        self.inode = self.sb.create(64 << 20)
        eng = self.m.engine

        async def main(me):
            await body(self, me)
        a = eng.add_actor("tester", main, cpu=0, node=0)
        self.m._cpu_actors.append(a)

    def run(self):
        res = self.m.run()
        if res.error is not None:
            raise AssertionError(res.error.report())
        self.pw._check()
        return res

    async def add_folio(self, index, me, inode=None):
        """A page-cache folio at ``index`` (what filemap_add_folio leaves: in
        i_pages, on the file LRU, uptodate), locked."""
        sub = self.sub
        mapping = (inode or self.inode).i_mapping
        pfn = await sub.pa.alloc_pages(sub.GFP_HIGHUSER_MOVABLE, 0)
        assert pfn >= 0
        sub.folio_locks.folio_trylock(pfn, me)
        sub.mem_map.ref[pfn] += 1
        await mapping.xa_lock.lock_irq("test_add")
        mapping.i_pages[index] = pfn
        mapping.nrpages += 1
        sub.rmap.mapping[pfn] = (mapping, index)
        mapping.xa_lock.unlock_irq("test_add")
        await sub.lru.folio_add_lru(pfn, False, me)
        return pfn

    async def dirty(self, n, me, start=0, balance=True):
        """Write n pages: folio_mark_dirty under the folio lock, then
        balance_dirty_pages_ratelimited, as generic_perform_write does."""
        pfns = []
        paused = 0
        mapping = self.inode.i_mapping
        for i in range(start, start + n):
            pfn = mapping.i_pages.get(i)
            if pfn is None:
                pfn = await self.add_folio(i, me)
            else:
                await self.sub.folio_locks.folio_lock(pfn, me)
            await folio_mark_dirty(self.sub, pfn, mapping, me)
            self.sub.folio_locks.folio_unlock(pfn, me)
            if balance:
                paused += await balance_dirty_pages_ratelimited(self.sub, mapping, me)
            pfns.append(pfn)
        return pfns, paused

    def node(self, item):
        vs = self.sub.vmstat
        return vs.vm_node_stat[item] + sum(d[item] for p in vs.nodes for d in p.vm_node_stat_diff)

    def zone(self, item):
        vs = self.sub.vmstat
        return vs.vm_zone_stat[item] + sum(d[item] for z in vs.zones for d in z.vm_stat_diff)


# --------------------------------------------------------------- the knobs
def test_sysctl_defaults():
    """mm/page-writeback.c: dirty_background_ratio 10, vm_dirty_ratio 20, the
    bytes knobs 0, dirty_expire_interval 3000 cs, dirty_writeback_interval 500 cs."""
    m = Machine(parse_scenario(scn()), trace=False)
    s = m.sysctl
    assert (s["vm.dirty_ratio"], s["vm.dirty_background_ratio"], s["vm.dirty_bytes"],
            s["vm.dirty_background_bytes"], s["vm.dirty_expire_centisecs"],
            s["vm.dirty_writeback_centisecs"]) == (20, 10, 0, 0, 3000, 500)


def test_sysctl_bad_value_names_the_key():
    with pytest.raises(ScenarioError, match="vm.dirty_ratio"):
        parse_scenario(scn(sysctl="vm.dirty_ratio = 101"))
    with pytest.raises(ScenarioError, match="vm.dirty_bytes"):
        parse_scenario(scn(sysctl="vm.dirty_bytes = 100"))


def test_domain_dirty_limits_ratio_and_bytes():
    """domain_dirty_limits: thresh = ratio * avail in PAGE_SIZE/100 steps;
    a bytes knob wins; bg_thresh >= thresh is cut to thresh / 2."""
    m = Machine(parse_scenario(scn()), trace=False)
    pw = writeback_of(m.subsystems["addrspace"])
    d = DirtyThrottleControl(None)
    d.avail = 100_000
    pw.domain_dirty_limits(d)
    assert d.thresh == (20 * 4096 // 100) * 100_000 // 4096
    assert d.bg_thresh == (10 * 4096 // 100) * 100_000 // 4096
    pw.vm_dirty_bytes = 40 << 20
    pw.dirty_background_bytes = 80 << 20
    pw.domain_dirty_limits(d)
    assert d.thresh == 10240 and d.bg_thresh == 5120


def test_ratelimit_pages_and_initial_limit():
    """writeback_set_ratelimit: ratelimit_pages = thresh / (cpus * 32), at
    least 16; global_wb_domain.dirty_limit starts at thresh."""
    m = Machine(parse_scenario(scn(memory_mib=512, cpus=2)), trace=False)
    pw = writeback_of(m.subsystems["addrspace"])
    bg, th = pw.global_dirty_limits()
    assert pw.dom.dirty_limit == th
    assert pw.ratelimit_pages == max(th // 64, 16)
    # dirtyable memory: free pages less totalreserve plus the file LRU (empty at boot)
    free = pw.vmstat.global_zone_page_state(0)
    assert pw.global_dirtyable_memory() == free - min(free, pw.pa.totalreserve_pages) + 1


# ------------------------------------------------------- the control line
def test_pos_ratio_polynom_known_points():
    """pos_ratio_polynom's comment (mm/page-writeback.c): f(freerun) = 2.0,
    f(setpoint) = 1.0, f(limit) = 0, in 1/1024 units."""
    one = 1 << RATELIMIT_CALC_SHIFT
    thresh, bg = 20_000, 10_000
    freerun = (thresh + bg) // 2
    limit = thresh
    setpoint = (freerun + limit) // 2
    assert pos_ratio_polynom(setpoint, setpoint, limit) == one
    assert pos_ratio_polynom(setpoint, limit, limit) <= 2          # (limit - setpoint) | 1 rounding
    assert abs(pos_ratio_polynom(setpoint, freerun, limit) - 2 * one) <= 4
    assert pos_ratio_polynom(setpoint, 0, limit) == 2 * one        # clamped


@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(0, 2 * 10**6),
       st.integers(0, 2 * 10**6))
@settings(max_examples=200, deadline=None)
def test_pos_ratio_polynom_is_a_negative_feedback(a, b, d1, d2):
    """(4) df/dx <= 0 and the result in [0, 2.0] for every setpoint < limit."""
    setpoint, limit = min(a, b), max(a, b) + 1
    lo, hi = min(d1, d2), max(d1, d2)
    r_lo, r_hi = pos_ratio_polynom(setpoint, lo, limit), pos_ratio_polynom(setpoint, hi, limit)
    assert 0 <= r_hi <= r_lo <= 2 << RATELIMIT_CALC_SHIFT


def test_dirty_poll_interval():
    """dirty_poll_interval: 1 << (ilog2(thresh - dirty) / 2), 1 at or above thresh."""
    assert dirty_poll_interval(0, 1 << 16) == 1 << 8
    assert dirty_poll_interval(100, 100) == 1
    assert dirty_poll_interval(0, 1000) == 1 << 4


def test_pauses_are_bounded():
    """wb_max_pause never exceeds MAX_PAUSE = HZ/5 (200 ms); wb_min_pause is
    at most the max pause and its nr_dirtied_pause at most DIRTY_POLL_THRESH
    when the rates are low."""
    m = Machine(parse_scenario(scn()), trace=False)
    pw = writeback_of(m.subsystems["addrspace"])
    fss = FileSystems(m)
    wb = fss.mount("nvme0n1").s_bdi.wb
    assert MAX_PAUSE * JIFFY_NS == 200_000_000
    for dirty in (0, 10, 1000, 10**6):
        assert 1 <= pw.wb_max_pause(wb, dirty) <= MAX_PAUSE
    for bw in (1, 100, 25600, 10**6):
        wb.avg_write_bandwidth = bw
        for rl in (1, 50, 25600):
            wb.dirty_ratelimit = rl
            mp = pw.wb_max_pause(wb, 10**5)
            t, pages = pw.wb_min_pause(wb, mp, rl, rl)
            assert 0 <= t <= max(mp, HZ // 100 + 1)
            assert pages >= 0


# ------------------------------------------------------------- accounting
def test_folio_mark_dirty_accounting_and_inode_list():
    """folio_account_dirtied (NR_FILE_DIRTY, NR_ZONE_WRITE_PENDING,
    NR_DIRTIED, WB_RECLAIMABLE, WB_DIRTIED, bdp_ratelimits), the dirty tag,
    and __mark_inode_dirty: I_DIRTY_PAGES, dirtied_when = jiffies, on b_dirty."""
    out = {}

    async def body(rig, me):
        await me.spend(3 * JIFFY_NS)
        pfns, paused = await rig.dirty(40, me)
        out["paused"] = paused
        out["again"] = await folio_mark_dirty(rig.sub, pfns[0], rig.inode.i_mapping, me)
        out["j"] = rig.pw.jiffies()
        out["nr_dirty"] = rig.node(NR_FILE_DIRTY)
        out["nr_dirtied"] = rig.node(NR_DIRTIED)
        out["pending"] = rig.zone(NR_ZONE_WRITE_PENDING)
        out["flags"] = all(rig.sub.mem_map.f[p] & PG_dirty for p in pfns)
        wb = rig.sb.s_bdi.wb
        out["wb"] = (wb.stat[WB_RECLAIMABLE], wb.stat[WB_DIRTIED])
        out["list"] = wb.list_of(rig.inode)
        out["state"] = rig.inode.i_state
        out["when"] = rig.inode.dirtied_when
        out["tags"] = sorted(rig.inode.i_mapping.tags[PAGECACHE_TAG_DIRTY])
        out["task"] = rig.pw.task(me).nr_dirtied
        out["pause_after"] = rig.pw.task(me).nr_dirtied_pause

    rig = Rig(body)
    rig.run()
    assert out["paused"] == 0 and out["again"] is False
    assert out["nr_dirty"] == out["nr_dirtied"] == out["pending"] == 40
    assert out["flags"] and out["wb"] == (40, 40)
    assert out["list"] == "b_dirty" and out["state"] & I_DIRTY_PAGES
    assert out["when"] == 3
    assert out["tags"] == list(range(40))
    # 32 pages, then balance_dirty_pages: far below freerun, nr_dirtied reset
    # and nr_dirtied_pause = dirty_poll_interval(dirty, thresh)
    assert out["task"] == 8
    assert rig.pw.bdp_calls == 1 and rig.pw.bdp_freerun == 1 and rig.pw.pauses == 0


def test_fsync_writes_and_waits():
    """vfs_fsync_range -> file_write_and_wait_range: every dirty folio is
    written (folio_clear_dirty_for_io, folio_start_writeback, one bio of
    contiguous blocks as fs/mpage.c builds it) and waited for:
    NR_FILE_DIRTY back to 0, NR_WRITTEN = pages, pgpgout in KiB, the device
    saw the sectors, the tags are clear."""
    out = {}

    async def body(rig, me):
        await rig.dirty(300, me, balance=False)
        await vfs_fsync_range(rig.inode, me)
        wb = rig.sb.s_bdi.wb
        out["after"] = (rig.node(NR_FILE_DIRTY), rig.node(NR_WRITEBACK), rig.node(NR_WRITTEN),
                        rig.zone(NR_ZONE_WRITE_PENDING))
        out["wb"] = (wb.stat[WB_RECLAIMABLE], wb.stat[WB_WRITEBACK], wb.stat[WB_WRITTEN])
        mp = rig.inode.i_mapping
        out["tags"] = (len(mp.tags[PAGECACHE_TAG_DIRTY]), len(mp.tags[PAGECACHE_TAG_WRITEBACK]))
        out["t"] = me.engine.now

    rig = Rig(body)
    rig.run()
    assert out["after"] == (0, 0, 300, 0)
    assert out["wb"] == (0, 0, 300)
    assert out["tags"] == (0, 0)
    dev = rig.m.subsystems["block"]["nvme0n1"]
    st = dev.stats.stat(rig.m.engine.now)
    assert st["write_sectors"] == 300 * 8
    assert st["write_ios"] == 2                      # BIO_MAX_VECS = 256 pages per bio
    assert rig.sub.vmstat.event("pgpgout") == 300 * 4


def test_kupdate_writes_expired_inodes_only_on_its_passes():
    """Below the background threshold nothing is written until the inode has
    been dirty for dirty_expire_interval (30 s); the periodic (kupdate) pass
    every dirty_writeback_interval (5 s) then writes it (fs/fs-writeback.c
    wb_check_old_data_flush).  The passes cost a few engine events each:
    there is no polling in between.  The wb first gets a writeout history
    (an fsync): a wb with no completions at all has a zero share of the
    background threshold (__wb_calc_thresh), and the kernel's
    wb_over_bg_thresh then starts background writeback for any dirty page."""
    out = {}

    async def body(rig, me):
        await rig.dirty(8, me, start=1000)
        await vfs_fsync_range(rig.inode, me)
        await rig.dirty(50, me)
        await me.spend(29 * SEC)
        out["at29"] = rig.node(NR_FILE_DIRTY)
        await me.spend(12 * SEC)
        out["at41"] = rig.node(NR_FILE_DIRTY)

    rig = Rig(body)
    res = rig.run()
    f = rig.pw.fs.flushers[0]
    assert out["at29"] == 50 and out["at41"] == 0, out
    assert f.written.get("periodic") == 50 and f.written.get("background", 0) == 0
    first = f.first_write_ns["periodic"]
    assert 30 * SEC <= first <= 36 * SEC
    assert res.events < 5000


def test_summary_section():
    """report/writeback.py: the thresholds, Dirty/Writeback in kB, the
    vmstat counters, the balance_dirty_pages figures, the bdi and flusher
    lines and the dirty chart."""
    from mmactors.report.writeback import format_writeback

    async def body(rig, me):
        await rig.dirty(100, me)
        await vfs_fsync_range(rig.inode, me)
        await rig.dirty(20, me, start=200)

    rig = Rig(body)
    res = rig.run()
    text = format_writeback(rig.pw)
    assert text.startswith("writeback: vm.dirty_ratio 20, dirty_background_ratio 10 of ")
    assert "Dirty: 80 kB, Writeback: 0 kB; nr_dirtied 120, nr_written 100, pgpgout 400 kB" in text
    assert "bdi nvme0n1: write bandwidth" in text and "flusher flush-nvme0n1" in text
    assert "fsync 100" in text
    assert "dirty+writeback pages against the thresholds" in text
    j = res.extra["writeback"]
    assert j["nr_dirty"] == 20 and j["nr_dirty_threshold"] == res.extra["writeback"]["nr_dirty_threshold"]
    assert format_writeback(None) == ""


MMAP_TEXT = """
[machine]
cpus = 1
memory_mib = 64
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "mm-ops"
cpus = [0]
device = "nvme0n1"
check = true
steps = [{steps}]
[run]
duration_ns = 60_000_000_000
seed = 1
"""


def test_shared_file_mapping_dirtying_and_mkclean():
    """Writes through a MAP_SHARED disk-file mapping: do_shared_fault calls
    page_mkwrite (filemap_page_mkwrite: folio_mark_dirty, accounted) then
    fault_dirty_shared_page (balance_dirty_pages_ratelimited); kupdate
    writes the pages back after 30 s and folio_clear_dirty_for_io's
    folio_mkclean write-protects the PTEs, so writing the same pages again
    faults (wp_page_shared -> page_mkwrite) and dirties them again
    (mm/memory.c, mm/filemap.c, mm/rmap.c page_vma_mkclean_one, 6.12)."""
    steps = ["mmap f 1M rw file,shared", "touch f write", "delay 40000000000",
             "touch f write"]
    m = Machine(parse_scenario(MMAP_TEXT.format(steps=", ".join(f'"{s}"' for s in steps)),
                               "<t>"), trace=False)
    res = m.run()
    assert res.error is None, res.error.report()
    vs = m.subsystems["physmem"].vmstat.snapshot()
    assert vs["nr_dirtied"] == 2 * 256
    assert vs["nr_written"] == 256 and vs["nr_dirty"] == 256
    # the first round is written 5 s in (a bdi with no writeout history has
    # no share of the background threshold: wb_over_bg_thresh); the second,
    # dirtied at 40 s, is not expired when the run ends
    fl = res.extra["writeback"]["flusher"]["nvme0n1"]
    assert sum(fl["written"].values()) == 256
    # 256 write faults, then 256 write-protect faults after folio_mkclean
    assert res.extra["vmstat_delta"]["pgfault"] >= 512
    sub = m.subsystems["addrspace"]
    sub._check()
    writeback_of(sub)._check()


def test_sync_queues_a_sync_all_work_for_the_flusher():
    """sync_inodes_sb (fs/fs-writeback.c): a WB_SYNC_ALL work queued on the
    wb (wb_queue_work, mod_delayed_work 0), done by the flusher
    (wb_do_writeback's work list, writeback_sb_inodes with
    writeback_chunk_size LONG_MAX), waited for with its wb_completion, then
    wait_sb_inodes: every page written and clean when sync returns."""
    from mmactors.fs.fs_writeback import ksys_sync
    out = {}

    async def body(rig, me):
        await rig.dirty(500, me)
        await ksys_sync(rig.m, me)
        out["after"] = (rig.node(NR_FILE_DIRTY), rig.node(NR_WRITEBACK), rig.node(NR_WRITTEN))
        out["t"] = me.engine.now

    rig = Rig(body)
    rig.run()
    f = rig.pw.fs.flushers[0]
    assert out["after"] == (0, 0, 500)
    assert f.works == 1 and sum(f.written.values()) == 500, f.to_json()
    assert out["t"] < SEC                       # no waiting for kupdate


def test_bw_dwork_refreshes_the_bandwidth_after_inode_writeback_ends():
    """wb_inode_writeback_end (mm/page-writeback.c 6.12) queues wb->bw_dwork
    BANDWIDTH_INTERVAL ahead, unchanged while pending: two fsyncs ending
    well within 200 ms of each other give one wb_update_bandwidth, which
    runs 200 ms (plus the kworker's wake-up) after the first ended and moves
    bw_time_stamp and written_stamp; a third fsync a second later queues it
    again."""
    from mmactors.mm.page_writeback import BANDWIDTH_INTERVAL
    out = {}

    async def body(rig, me):
        eng = me.engine
        wb = rig.sb.s_bdi.wb
        await rig.dirty(40, me, balance=False)
        await vfs_fsync_range(rig.inode, me)
        out["end1"] = eng.now                        # the first inode writeback ended
        await rig.dirty(40, me, start=40, balance=False)
        await vfs_fsync_range(rig.inode, me)
        out["end2"] = eng.now
        out["runs_before"] = rig.pw._bw_dwork[wb].runs
        await eng.spend(BANDWIDTH_INTERVAL * JIFFY_NS + 10_000_000)
        out["runs"] = rig.pw._bw_dwork[wb].runs
        out["stamp"] = (wb.bw_time_stamp, wb.written_stamp)
        await eng.spend(SEC)
        await rig.dirty(40, me, start=80, balance=False)
        await vfs_fsync_range(rig.inode, me)
        await eng.spend(BANDWIDTH_INTERVAL * JIFFY_NS + 10_000_000)
        out["runs_after"] = rig.pw._bw_dwork[wb].runs

    rig = Rig(body)
    res = rig.run()
    assert out["end2"] - out["end1"] < BANDWIDTH_INTERVAL * JIFFY_NS
    assert out["runs_before"] == 0 and out["runs"] == 1, out
    due = out["end1"] + BANDWIDTH_INTERVAL * JIFFY_NS + rig.m.engine.costs.wakeup_ns
    assert out["stamp"] == (due // JIFFY_NS, 80), (out, due)
    assert out["runs_after"] == 2, out
    assert res.extra["writeback"]["bdi"]["nvme0n1"]["bw_dwork_runs"] == 2
