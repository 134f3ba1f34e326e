"""Readahead state: struct file_ra_state (include/linux/fs.h) and the
defaults of mm/readahead.c (Linux 6.12).

``file_ra_state`` lives in each open file (``file->f_ra``): ``start``,
``size`` and ``async_size`` describe the current window (the folio at
``start + size - async_size`` carries PG_readahead), ``ra_pages`` is the
file's maximum (``file_ra_state_init``: the bdi's ``ra_pages``) and
``prev_pos`` the byte position just after the last read, which
``filemap_read`` updates and the on-demand logic tests for sequentiality.
"""
from __future__ import annotations

__all__ = ["FileRaState", "VM_READAHEAD_PAGES", "file_ra_state_init"]

PAGE_SIZE = 4096
# include/linux/mm.h: #define VM_READAHEAD_PAGES (SZ_128K / PAGE_SIZE)
VM_READAHEAD_PAGES = (128 * 1024) // PAGE_SIZE


class FileRaState:
    """struct file_ra_state."""

    __slots__ = ("start", "size", "async_size", "ra_pages", "mmap_miss", "prev_pos")

    def __init__(self, ra_pages: int = VM_READAHEAD_PAGES):
        self.start = 0
        self.size = 0
        self.async_size = 0
        self.ra_pages = ra_pages
        self.mmap_miss = 0
        self.prev_pos = -1              # file_ra_state_init: ra->prev_pos = -1

    def __repr__(self):
        return (f"<file_ra_state start={self.start} size={self.size} "
                f"async_size={self.async_size} ra_pages={self.ra_pages}>")


def file_ra_state_init(ra: FileRaState, mapping) -> None:
    """file_ra_state_init: the window's maximum from the mapping's bdi
    (``inode_to_bdi(mapping->host)->ra_pages``)."""
    host = getattr(mapping, "host", None)
    bdi = host.i_sb.s_bdi if host is not None and host.i_sb is not None else None
    ra.ra_pages = bdi.ra_pages if bdi is not None else VM_READAHEAD_PAGES
    ra.prev_pos = -1
