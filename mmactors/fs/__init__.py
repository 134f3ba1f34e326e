"""Filesystems: inodes, files, superblocks and a simple disk filesystem on
the block devices (fs/inode.c, fs/super.c, fs/mpage.c, fs/open.c, Linux 6.12).

The page cache itself is mm's (mm/filemap.py, mm/readahead.py); this
package holds what the VFS and a filesystem add around it.  It imports mm
and block; mm reaches an inode through ``mapping.host`` as the kernel does
(and may import fs modules that do not import it back: no module cycles).
"""
from __future__ import annotations

from ..schema import Subsystem
from .inode import O_DIRECT, File, Inode
from .super import BackingDevInfo, FileSystems, SuperBlock, build

__all__ = ["Inode", "File", "SuperBlock", "FileSystems", "BackingDevInfo", "O_DIRECT",
           "SUBSYSTEM"]

SUBSYSTEM = Subsystem("fs", build=build,
                      doc="disk filesystems on [[block]] devices: inodes, files, the page cache's owners")
