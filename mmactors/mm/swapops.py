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
           "_PAGE_SWP_EXCLUSIVE", "_PAGE_PRESENT"]

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
