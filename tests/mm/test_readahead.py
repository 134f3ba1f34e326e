"""mm/readahead.c (Linux 6.12): the window arithmetic and its known results."""
import pytest

from mmactors.mm.readahead import (FileRaState, get_init_ra_size, get_next_ra_size,
                                   page_cache_next_miss, page_cache_prev_miss)

from fs.filescn import run_file_io, workload


@pytest.mark.parametrize("req,maxp,want", [
    (1, 32, 4),      # roundup 1 <= 32/32: x4
    (2, 32, 4),      # 2 > max/32, <= max/4: x2
    (8, 32, 16),     # 8 <= max/4: x2
    (9, 32, 32),     # roundup 16 > max/4: max
    (1, 512, 4), (16, 512, 64), (64, 512, 128), (200, 512, 512),
])
def test_get_init_ra_size(req, maxp, want):
    """get_init_ra_size: newsize = roundup_pow_of_two(size); x4 if <= max/32,
    x2 if <= max/4, else max (mm/readahead.c)."""
    assert get_init_ra_size(req, maxp) == want


def test_get_next_ra_size_ramps_to_max():
    """get_next_ra_size: x4 below max/16, x2 up to max/2, then max: a 4 KiB
    reader's window goes 4, 8, 16, 32 pages with read_ahead_kb = 128."""
    ra = FileRaState()
    ra.size = get_init_ra_size(1, 32)
    seen = [ra.size]
    for _ in range(4):
        ra.size = get_next_ra_size(ra, 32)
        seen.append(ra.size)
    assert seen == [4, 8, 16, 32, 32]
    ra.size = 1
    assert get_next_ra_size(ra, 512) == 4            # 1 < 512/16: x4


class _M:
    def __init__(self, idx):
        self.i_pages = {i: 100 + i for i in idx}


def test_page_cache_miss_scans():
    """page_cache_prev_miss / next_miss look at ``index`` itself first and
    return the first hole; next_miss gives index + max_scan with none."""
    m = _M([3, 4, 5, 7])
    assert page_cache_prev_miss(m, 5, 32) == 2
    assert page_cache_prev_miss(m, 6, 32) == 6
    assert page_cache_prev_miss(_M(range(0, 4)), 3, 32) == -1    # ULONG_MAX: cached from 0
    assert page_cache_next_miss(m, 3, 32) == 6
    assert page_cache_next_miss(_M(range(0, 100)), 0, 8) == 8


def test_sequential_read_ramps_window_and_hits():
    """Known result (issue 13; mm/readahead.c's on-demand readahead): a
    sequential 4 KiB read of a cold 8 MiB file starts with a 4-page window
    (get_init_ra_size(1, 32)), ramps on each PG_readahead hit to
    read_ahead_kb = 128 (32 pages) and then reads 32 pages ahead, so at most
    one read in a window waits for the disk: >= 96% page-cache hits."""
    m, res, sub = run_file_io(size="8M")
    wl = workload(m)
    ra = wl.files[0].f_ra
    assert ra.size == 32 and ra.async_size == 32 and ra.ra_pages == 32
    t = wl.report()["tasks"][0]
    assert t["ios"] == 2048 and t["bytes"] == 8 << 20
    hits, misses = t["pagecache_hits"], t["pagecache_misses"]
    assert hits + misses == 2048
    assert hits / 2048 >= 0.96
    # every page read once from the disk: 8 MiB of reads on the device
    dev = res.extra["block"]["dev0"]
    assert dev["stat"]["read_sectors"] == 16384                                 # sectors read


def test_random_small_reads_do_not_ramp():
    """page_cache_sync_ra: a read neither at index 0 nor right after the
    previous one, with no cached run behind it longer than the request, is
    read as is (do_page_cache_ra(req_count): one page) and leaves the window
    alone.  A random 4 KiB pass over a cold file therefore issues mostly
    one-page reads: over half as many I/Os as pages, where the sequential
    reader needs one per 32 (later in the pass, cached runs behind a miss
    look like a stream and page_cache_sync_ra reads ahead: as the kernel
    does).  Every page still comes from the disk exactly once."""
    m, res, sub = run_file_io(rw="randread", size="8M")
    st = res.extra["block"]["dev0"]["stat"]
    assert st["read_sectors"] == 16384
    assert st["read_ios"] > 2048 // 2
    m2, res2, _ = run_file_io(rw="read", size="8M")
    assert res2.extra["block"]["dev0"]["stat"]["read_ios"] < 2048 // 16
