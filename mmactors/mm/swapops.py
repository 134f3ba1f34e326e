"""Swap entries in PTEs: include/linux/swapops.h and x86's __swp_entry (6.12).

``swp_entry_t`` is ``type << SWP_TYPE_SHIFT | offset`` (mm/swapfile.py's
:func:`~mmactors.mm.swapfile.swp_entry`).  In a PTE the present bit is clear,
the type sits in bits 1-5 and the offset above the flag bits, so a swap PTE
is never 0 (offset 0 is the swap header).  ``_PAGE_SWP_EXCLUSIVE`` is x86's
``_PAGE_PSE`` bit reused (pte_swp_mkexclusive: the folio was exclusive to this
mm when it was unmapped, so swap-in may map it writable).
"""
from __future__ import annotations

__all__ = ["swp_entry_to_pte", "pte_to_swp_entry", "is_swap_pte", "pte_swp_exclusive",
           "_PAGE_SWP_EXCLUSIVE", "_PAGE_PRESENT", "SWP_MIGRATION_READ",
           "SWP_MIGRATION_READ_EXCLUSIVE", "SWP_MIGRATION_WRITE", "make_readable_migration_entry",
           "make_readable_exclusive_migration_entry", "make_writable_migration_entry",
           "is_migration_entry", "is_writable_migration_entry",
           "is_readable_exclusive_migration_entry", "is_migration_pte", "pfn_swap_entry_to_pfn"]

PAGE_SHIFT = 12
_PAGE_PRESENT = 0x1
_PAGE_SWP_EXCLUSIVE = 0x80
MAX_SWAPFILES_SHIFT = 5
SWP_TYPE_SHIFT = 58                # BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT (swapfile.py)


def swp_entry_to_pte(entry: int, exclusive: bool = False) -> int:
    off = entry & ((1 << SWP_TYPE_SHIFT) - 1)
    return ((off << PAGE_SHIFT) | ((entry >> SWP_TYPE_SHIFT) << 1)
            | (_PAGE_SWP_EXCLUSIVE if exclusive else 0))


def pte_to_swp_entry(v: int) -> int:
    return (((v >> 1) & ((1 << MAX_SWAPFILES_SHIFT) - 1)) << SWP_TYPE_SHIFT) | (v >> PAGE_SHIFT)


def is_swap_pte(v: int) -> bool:
    return v != 0 and not v & _PAGE_PRESENT


def pte_swp_exclusive(v: int) -> bool:
    return bool(v & _PAGE_SWP_EXCLUSIVE)


# -- migration entries (include/linux/swap.h, include/linux/swapops.h) -----------
# The swap types above MAX_SWAPFILES name special entries.  With
# CONFIG_MIGRATION and CONFIG_MEMORY_FAILURE on and CONFIG_DEVICE_PRIVATE off
# (simplification: no device-private entries), MAX_SWAPFILES = 32 - 3 - 1 - 1
# = 27, SWP_HWPOISON = 27 and the three migration types follow it.
SWP_MIGRATION_NUM = 3
SWP_HWPOISON_NUM = 1
SWP_PTE_MARKER_NUM = 1
MAX_SWAPFILES = (1 << MAX_SWAPFILES_SHIFT) - SWP_MIGRATION_NUM - SWP_HWPOISON_NUM \
    - SWP_PTE_MARKER_NUM
SWP_MIGRATION_READ = MAX_SWAPFILES + SWP_HWPOISON_NUM
SWP_MIGRATION_READ_EXCLUSIVE = MAX_SWAPFILES + SWP_HWPOISON_NUM + 1
SWP_MIGRATION_WRITE = MAX_SWAPFILES + SWP_HWPOISON_NUM + 2


def _swp_entry(type_: int, offset: int) -> int:
    return (type_ << SWP_TYPE_SHIFT) | offset


def make_readable_migration_entry(pfn: int) -> int:
    return _swp_entry(SWP_MIGRATION_READ, pfn)


def make_readable_exclusive_migration_entry(pfn: int) -> int:
    return _swp_entry(SWP_MIGRATION_READ_EXCLUSIVE, pfn)


def make_writable_migration_entry(pfn: int) -> int:
    return _swp_entry(SWP_MIGRATION_WRITE, pfn)


def is_migration_entry(entry: int) -> bool:
    return SWP_MIGRATION_READ <= entry >> SWP_TYPE_SHIFT <= SWP_MIGRATION_WRITE


def is_writable_migration_entry(entry: int) -> bool:
    return entry >> SWP_TYPE_SHIFT == SWP_MIGRATION_WRITE


def is_readable_exclusive_migration_entry(entry: int) -> bool:
    return entry >> SWP_TYPE_SHIFT == SWP_MIGRATION_READ_EXCLUSIVE


def pfn_swap_entry_to_pfn(entry: int) -> int:
    """The pfn a migration entry names (its offset field)."""
    return entry & ((1 << SWP_TYPE_SHIFT) - 1)


def is_migration_pte(v: int) -> bool:
    """A non-present PTE holding a migration entry (is_swap_pte && is_migration_entry)."""
    return v != 0 and not v & _PAGE_PRESENT and \
        SWP_MIGRATION_READ <= (v >> 1) & ((1 << MAX_SWAPFILES_SHIFT) - 1) <= SWP_MIGRATION_WRITE
