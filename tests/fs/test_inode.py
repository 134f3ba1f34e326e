"""struct inode / super_block / file of the disk filesystem (fs/inode.py, fs/super.py)."""
from mmactors.fs import File, FileSystems
from mmactors.fs.inode import PAGE_SECTORS
from mmactors.machine import Machine
from mmactors.mm.filemap import PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK
from mmactors.scenario import parse_scenario

SCN = """
[machine]
cpus = 1
memory_mib = 32
[[block]]
name = "nvme0n1"
kind = "nvme"
[[workload]]
kind = "usemem"
size = "1M"
[run]
duration_ns = 1_000_000
"""


def _fs():
    m = Machine(parse_scenario(SCN), trace=False)
    return m, FileSystems(m)


def test_mount_once_and_extents():
    m, fss = _fs()
    sb = fss.mount("nvme0n1")
    assert fss.mount("nvme0n1") is sb
    assert sb.s_bdev is m.subsystems["block"]["nvme0n1"]
    a = sb.create(10 * 4096 + 1)           # 11 pages
    b = sb.create(4096)
    assert a.nr_pages() == 11
    assert a.bmap(0) == 2048 and a.bmap(3) == 2048 + 3 * PAGE_SECTORS
    assert b.bmap(0) == a.bmap(10) + PAGE_SECTORS      # extents do not overlap
    assert a.i_ino != b.i_ino
    assert a.i_mapping.host is a and a.mapping is a.i_mapping
    assert a.i_sb is sb and a.i_rwsem.name == "&sb->s_type->i_mutex_key"
    assert a in m.subsystems["addrspace"].files


def test_mapping_fields_for_writeback():
    _, fss = _fs()
    ino = fss.mount("nvme0n1").create(4096)
    mp = ino.i_mapping
    assert mp.a_ops.read_folio is not None and mp.a_ops.readahead is not None
    assert mp.tags[PAGECACHE_TAG_DIRTY] == set() and mp.tags[PAGECACHE_TAG_WRITEBACK] == set()
    assert ino.i_state == 0 and ino.i_io_list is None


def test_file_ra_state_from_bdi():
    """file_ra_state_init: ra_pages = bdi->ra_pages = VM_READAHEAD_PAGES (128 KiB / 4 KiB)."""
    _, fss = _fs()
    f = File(fss.mount("nvme0n1").create(1 << 20))
    assert f.f_ra.ra_pages == 32 and f.f_ra.prev_pos == -1
