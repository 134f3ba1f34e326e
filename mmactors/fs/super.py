"""Superblocks and mounting (fs/super.c, Linux 6.12), and the simple disk
filesystem the ``file-io`` workloads keep their files on.

A workload names a ``[[block]]`` device (``device = "nvme0n1"``); the first
workload to name it mounts it at build time (:meth:`FileSystems.mount`), as
``mount -t <fs> /dev/<device>`` would before the benchmark starts.  The
:class:`SuperBlock` has ``s_bdev`` (the block device actor), ``s_bdi`` (its
backing_dev_info: ``ra_pages``, and the writeback state mm/backing_dev.py
owns), ``s_id`` (the device's name, as the kernel prints it) and ``s_op``-
free inode creation: :meth:`SuperBlock.create` gives a file of ``size``
bytes one contiguous extent of the device (its blocks exist on disk: a
file laid out earlier, read cold).  Simplifications: no directories,
journal, block bitmaps or on-disk inodes (no metadata I/O); sectors are
handed out in creation order from sector 2048 (a 1 MiB-aligned partition
start) and never freed.
"""
from __future__ import annotations

from ..mm.filemap import AddressSpaceOperations
from ..mm.readahead import VM_READAHEAD_PAGES
from .inode import PAGE_SECTORS, PAGE_SIZE, Inode

__all__ = ["SuperBlock", "FileSystems", "BackingDevInfo", "FS_TYPE"]

FS_TYPE = "simplefs"
FIRST_SECTOR = 2048


class BackingDevInfo:
    """The read-side fields of struct backing_dev_info (include/linux/
    backing-dev-defs.h): ``ra_pages`` (read_ahead_kb / 4, default
    VM_READAHEAD_PAGES = 32: bdi_alloc) and ``io_pages`` (the device's
    max_sectors_kb in pages: 1280 KiB, the default BLK_DEF_MAX_SECTORS_CAP
    of 2560 sectors).  The writeback state (bdi_writeback, the flusher) is
    mm/backing_dev.py's and fs/fs_writeback.py's, hung on ``wb``."""

    def __init__(self, name: str, ra_pages: int = VM_READAHEAD_PAGES):
        self.dev_name = name
        self.ra_pages = ra_pages
        self.io_pages = 2560 * 512 // PAGE_SIZE
        self.wb = None

    def __repr__(self):
        return f"<backing_dev_info {self.dev_name} ra_pages={self.ra_pages}>"


class SuperBlock:
    """struct super_block of a mounted disk filesystem."""

    def __init__(self, machine, bdev, bdi: BackingDevInfo, a_ops: AddressSpaceOperations):
        self.machine = machine
        self.engine = machine.engine
        self.s_bdev = bdev
        self.s_bdi = bdi
        self.s_id = bdev.name
        self.s_type = FS_TYPE
        self.a_ops = a_ops
        self.s_inodes: list[Inode] = []
        self._next_sector = FIRST_SECTOR
        self._next_ino = 11                  # ext2/ext4's first non-reserved inode

    def create(self, size: int) -> Inode:
        """A regular file of ``size`` bytes, its blocks allocated (one extent)."""
        ino = self._next_ino
        self._next_ino += 1
        inode = Inode(self, ino, size, self._next_sector, self.a_ops)
        self._next_sector += -(-size // PAGE_SIZE) * PAGE_SECTORS
        self.s_inodes.append(inode)
        sub = self.machine.subsystems.get("addrspace")
        if sub is not None:
            sub.files.append(inode)          # the page-cache invariants cover it
        return inode

    def __repr__(self):
        return f"<super_block {self.s_type} on {self.s_id}: {len(self.s_inodes)} inodes>"


def simplefs_aops() -> AddressSpaceOperations:
    """The filesystem's address_space_operations (ext2's shape: mpage reads;
    writepages from mm/page_writeback.py when that lands)."""
    from ..mm.page_writeback import generic_dirty_folio, generic_writepages
    from .mpage import mpage_read_folio, mpage_readahead
    return AddressSpaceOperations(FS_TYPE, read_folio=mpage_read_folio,
                                  readahead=mpage_readahead, writepages=generic_writepages,
                                  dirty_folio=generic_dirty_folio)


class FileSystems:
    """The machine's mounted filesystems, by device name."""

    name = "fs"

    def __init__(self, machine):
        self.machine = machine
        self.engine = machine.engine
        self.mounts: dict[str, SuperBlock] = {}

    def mount(self, device: str) -> SuperBlock:
        """mount the filesystem on the ``[[block]]`` device ``device`` (once)."""
        sb = self.mounts.get(device)
        if sb is None:
            bdev = self.machine.subsystems["block"][device]
            sb = SuperBlock(self.machine, bdev, self._bdi(device, bdev), simplefs_aops())
            self.mounts[device] = sb
        return sb

    def _bdi(self, device: str, bdev):
        """The device's backing_dev_info with its writeback state
        (mm/backing_dev.py, registered by fs/fs_writeback.py), or the read-only
        placeholder when the machine has no address spaces."""
        sub = self.machine.subsystems.get("addrspace")
        if sub is None:
            return BackingDevInfo(device)
        from .fs_writeback import bdi_register
        return bdi_register(sub, device, bdev)

    def inodes(self):
        for sb in self.mounts.values():
            yield from sb.s_inodes

    def _check(self) -> None:
        _check_filesystems(self)

    def report(self, extra: dict) -> None:
        """extra["pagecache"]: meminfo's Cached/Active(file)/Inactive(file),
        pgpgin and the page-cache read figures (report/pagecache.py renders them)."""
        sub = self.machine.subsystems.get("addrspace")
        if sub is None or not self.mounts:
            return
        from ..mm.filemap_io import pagecache_stats
        from ..mm.filemap_core import NR_FILE_PAGES
        from ..mm.swap import LRU_ACTIVE_FILE, LRU_INACTIVE_FILE
        cached = sum(pg.vm_stat[NR_FILE_PAGES] + sum(d[NR_FILE_PAGES] for d in pg.vm_node_stat_diff)
                     for pg in sub.pa.nodes)
        if sub.swap_cache is not None:         # si_meminfo: minus total_swapcache_pages()
            cached -= sub.swap_cache.nr_swapcached
        lv = sub.lru.lruvecs
        extra["pagecache"] = {
            "meminfo": {"Cached": cached * 4,
                        "Active(file)": sum(v.lru_size(LRU_ACTIVE_FILE) for v in lv) * 4,
                        "Inactive(file)": sum(v.lru_size(LRU_INACTIVE_FILE) for v in lv) * 4},
            "pgpgin": sub.vmstat.event("pgpgin"),
            "reads": pagecache_stats(sub).to_json(),
            "mounts": {name: {"type": sb.s_type, "files": len(sb.s_inodes)}
                       for name, sb in self.mounts.items()}}


def build(machine) -> "FileSystems | None":
    if "fs" not in machine.scenario.needs:
        return None
    return FileSystems(machine)


def _check_filesystems(fss: "FileSystems") -> None:
    """The page cache of every disk file against the memmap, the rmap, the
    LRU and NR_FILE_PAGES (with the tmpfs pages, which mm/addrspace.py checks
    against NR_SHMEM): no frame lost (every cached folio referenced, on
    the file LRU or in a CPU's lru_add batch, or isolated by a reclaimer)
    and none owned twice (one (mapping, index) per frame, never swap-backed
    or in the swap cache); shadows only in empty slots; marks only on
    cached indices."""
    from ..mm._internal import PG_lru, PG_pcp, PGTY_buddy
    from ..mm.filemap import PG_swapbacked, PG_swapcache
    from ..mm.filemap_core import NR_FILE_PAGES
    sub = fss.machine.subsystems.get("addrspace")
    if sub is None:
        return
    mem = sub.mem_map
    rmap = sub.rmap
    batched = sub.lru.in_batches()
    owner: dict[int, tuple] = {}
    total = 0
    for ino in fss.inodes():
        mp = ino.i_mapping
        assert mp.nrpages == len(mp.i_pages), f"{ino}: nrpages {mp.nrpages} != {len(mp.i_pages)}"
        total += mp.nrpages
        for idx, pfn in mp.i_pages.items():
            assert pfn not in owner, f"pfn {pfn:#x} cached at {owner[pfn]} and {(ino.i_ino, idx)}"
            owner[pfn] = (ino.i_ino, idx)
            assert rmap.mapping.get(pfn) == (mp, idx), f"pfn {pfn:#x}: folio->mapping/index wrong"
            fl = mem.f[pfn]
            assert not fl & (PGTY_buddy | PG_pcp), f"cached pfn {pfn:#x} is free"
            assert not fl & (PG_swapbacked | PG_swapcache), f"file folio {pfn:#x} swap-backed"
            assert mem.ref[pfn] >= 1, f"cached pfn {pfn:#x} has no reference"
            assert fl & PG_lru or pfn in batched or mem.ref[pfn] >= 2, \
                f"cached pfn {pfn:#x} neither on the LRU, batched nor isolated"
        assert not set(mp.shadows) & set(mp.i_pages), f"{ino}: a shadow beside a folio"
        for tag in mp.tags:
            assert all(i in mp.i_pages for i in tag), f"{ino}: a mark on an empty slot"
    nodes = sub.pa.nodes
    counted = sum(pg.vm_stat[NR_FILE_PAGES] + sum(d[NR_FILE_PAGES] for d in pg.vm_node_stat_diff)
                  for pg in nodes)
    shmem = sum(f.mapping.nrpages for f in sub.files      # tmpfs folios count too (NR_SHMEM)
                if f.mapping.shmem is not None)
    swapcache = sub.swap_cache.nr_swapcached if sub.swap_cache is not None else 0
    assert counted == total + shmem + swapcache, \
        f"nr_file_pages {counted} but {total} disk-file, {shmem} tmpfs and {swapcache} " \
        f"swap-cache pages cached"
