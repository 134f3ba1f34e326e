"""The file-io workload kind: buffered writes, fsync, O_DIRECT, bad input."""
import pytest

from mmactors.scenario import ScenarioError, parse_scenario

from fs.filescn import file_io_text, run_file_io, workload


def test_buffered_write_dirties_every_page_and_fsync_cleans():
    """generic_perform_write: each 4 KiB write of a new page allocates it
    with __GFP_WRITE, copies, marks it dirty (nr_dirtied) and the file grows;
    end_fsync (vfs_fsync_range) writes every page back: no page stays dirty
    and the device wrote the file once."""
    m, res, sub = run_file_io(rw="write", size="4M", extra_wl="end_fsync = true")
    t = workload(m).report()["tasks"][0]
    assert t["ios"] == 1024 and t["fsyncs"] == 1
    vm = res.extra["vmstat_delta"]
    assert vm["nr_dirtied"] == 1024 and vm["nr_written"] == 1024
    ino = sub.files[0]
    assert ino.i_size == 4 << 20 and ino.i_mapping.nrpages == 1024
    assert not ino.i_mapping.tags[0]                         # no PAGECACHE_TAG_DIRTY left
    assert res.extra["block"]["dev0"]["stat"]["write_sectors"] == 8192


def test_partial_overwrite_reads_the_page_first():
    """__block_write_begin: a 1 KiB write into a cached-nowhere, on-disk page
    must read the page before copying (not uptodate, write partial)."""
    m, res, sub = run_file_io(rw="write", bs="1K", size="64K", extra_wl="cached = false")
    # the file exists on disk with i_size 64K: each page's first 1K write reads it
    assert res.extra["block"]["dev0"]["stat"]["read_sectors"] == 16 * 8
    assert res.extra["vmstat_delta"]["nr_dirtied"] == 16


def test_direct_read_bypasses_the_page_cache():
    """O_DIRECT reads are bios of bs straight to the device: nothing is
    cached, pgpgin counts every byte, no readahead."""
    m, res, sub = run_file_io(rw="read", bs="64K", size="4M", extra_wl="direct = true")
    assert sub.files[0].i_mapping.nrpages == 0
    st = res.extra["block"]["dev0"]["stat"]
    assert st["read_ios"] == 64 and st["read_sectors"] == 8192
    assert res.extra["vmstat_delta"]["pgpgin"] == 4096


def test_warm_cache_reads_all_hit():
    """cached = true reads the file once before the job: every read hits."""
    m, res, sub = run_file_io(rw="randread", size="4M", extra_wl="cached = true")
    t = workload(m).report()["tasks"][0]
    assert t["pagecache_hits"] == 1024 and t["pagecache_misses"] == 0


@pytest.mark.parametrize("extra_wl,extra,msg", [
    ('', '', None),
    ('fsync = 4', '', "fsync: only applies to writes"),
    ('direct = true\nbs = "2K"', '', "direct = true needs whole pages"),
])
def test_bad_input(extra_wl, extra, msg):
    text = file_io_text(extra_wl=extra_wl).replace('bs = "4K"\n', '', 1 if 'bs =' in extra_wl else 0)
    if msg is None:
        parse_scenario(text, "t.toml")
        return
    with pytest.raises(ScenarioError, match=msg):
        parse_scenario(text, "t.toml")


def test_unknown_device():
    text = file_io_text().replace('device = "dev0"', 'device = "sdz"')
    with pytest.raises(ScenarioError, match="no \\[\\[block\\]\\] device named 'sdz'"):
        parse_scenario(text, "t.toml")


def test_fsync_every_n_writes_and_direct_writes():
    """fio fsync=N: vfs_fsync_range after every N writes (here 64 x 4 KiB:
    16 fsyncs over 1024 writes); O_DIRECT writes go straight to the device
    as one bio per call and leave nothing cached or dirty."""
    m, res, sub = run_file_io(rw="write", size="4M", extra_wl="fsync = 64")
    t = workload(m).report()["tasks"][0]
    assert t["fsyncs"] == 16
    assert not sub.files[0].i_mapping.tags[0]
    m, res, sub = run_file_io(rw="randwrite", bs="16K", size="4M", extra_wl="direct = true")
    st = res.extra["block"]["dev0"]["stat"]
    assert st["write_ios"] == 256 and st["write_sectors"] == 8192
    assert sub.files[0].i_mapping.nrpages == 0
    assert res.extra["vmstat_delta"].get("nr_dirtied", 0) == 0


def test_unlink_truncates_the_page_cache():
    """unlink (fio unlink=1) -> truncate_inode_pages: after a write job
    without fsync the file's dirty pages are dropped unwritten
    (folio_cancel_dirty: no dirty page left accounted), and every frame of
    its page cache is back with the allocator (nr_file_pages 0; the
    invariants hold: nothing lost)."""
    m, res, sub = run_file_io(rw="write", size="1M", cpus=2, files="shared",
                              extra_wl="unlink = true")
    mp = sub.files[0].i_mapping
    assert mp.nrpages == 0 and not mp.i_pages and not any(mp.tags)
    assert res.extra["pagecache"]["meminfo"]["Cached"] == 0
    assert sum(t.get("truncated", 0) for t in workload(m).report()["tasks"]) == 256
    assert res.extra["vmstat"]["nr_dirty"] == 0                  # NR_FILE_DIRTY back to 0
    assert res.extra["vmstat_delta"]["nr_dirtied"] == 256
    assert not res.extra["vmstat_delta"].get("nr_written")       # dropped, never written
