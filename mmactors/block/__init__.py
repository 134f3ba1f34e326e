"""Block devices (the kernel's block/ beside mm/; Linux 6.12).

* :mod:`.blk_types`: ``struct bio`` and the request operations;
* :mod:`.blk_core`: ``submit_bio``, ``submit_bio_wait``;
* :mod:`.blk_mq`: a blk-mq device: tags, the device actor, completion in
  hardirq and BLOCK_SOFTIRQ context on the submitting CPU;
* :mod:`.zram`: zram, completing synchronously in the submitter's context;
* :mod:`.genhd`: the /sys/block/<dev>/stat and /proc/diskstats figures;
* :mod:`.devices`: the ``[[block]]`` scenario tables, device kinds, the subsystem.

mm code (swap I/O in mm/page_io.c, the page cache's reads and writeback)
imports this package; it imports nothing of mm.
"""
from .blk_core import submit_bio, submit_bio_wait
from .blk_mq import BlkMqTags, BlockDevice, Request, blk_softirq
from .blk_types import (BLK_STS_IOERR, BLK_STS_OK, PAGE_SECTORS, REQ_FUA, REQ_META, REQ_OP_READ,
                        REQ_OP_WRITE, REQ_RAHEAD, REQ_SWAP, REQ_SYNC, SECTOR_SHIFT, SECTOR_SIZE, Bio, op_is_write)
from .devices import (BLOCK_FIELDS, DEVICE_KINDS, SUBSYSTEM, BlockLayer, block_of, make_device)
from .genhd import STAT_FIELDS, DiskStats
from .zram import Zram

__all__ = ["Bio", "submit_bio", "submit_bio_wait", "BlockDevice", "BlkMqTags", "Request",
           "Zram", "DiskStats", "STAT_FIELDS", "BlockLayer", "block_of", "make_device",
           "DEVICE_KINDS", "BLOCK_FIELDS", "SUBSYSTEM", "blk_softirq", "REQ_OP_READ",
           "REQ_OP_WRITE", "REQ_SYNC", "REQ_SWAP", "REQ_RAHEAD", "REQ_META", "REQ_FUA", "SECTOR_SHIFT", "SECTOR_SIZE",
           "PAGE_SECTORS", "BLK_STS_OK", "BLK_STS_IOERR", "op_is_write"]
