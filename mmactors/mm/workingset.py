"""Workingset detection: shadow entries and refault distances (mm/workingset.c, Linux 6.12).

When reclaim evicts a folio from the page cache or the swap cache it leaves a
*shadow entry* in the slot: an xarray value packing the memcg id, the node,
the eviction timestamp and the folio's PG_workingset bit.  The timestamp is
the lruvec's ``nonresident_age``, a clock that ticks on every eviction and
every activation (``workingset_age_nonresident``).  On a refault the
distance ``refault - eviction`` (pages evicted or activated since) is the
number of extra slots the inactive list would have needed to keep the folio;
if it fits in the workingset (``workingset_test_recent``: the active file
list, plus the inactive file list for anon refaults, plus the anon lists when
swap space is left), the folio is activated at once (``workingset_activate_*``)
and, if it was active before eviction, counted as restored
(``workingset_restore_*``).  Every refault counts ``workingset_refault_*``.

Encoding as the kernel's ``pack_shadow``/``unpack_shadow`` with
MEM_CGROUP_ID_SHIFT 16, NODES_SHIFT 6 (x86-64 default without MAXSMP) and
WORKINGSET_SHIFT 1: EVICTION_SHIFT = 1 + 16 + 6 + 1 = 24, 40 timestamp bits,
so ``bucket_order`` is 0 for any memory this simulator models.
Simplifications: no memcg (the id is 0: the root), no MGLRU (``lru_gen``),
``workingset_nodes`` / ``workingset_nodereclaim`` (the shadow-node shrinker)
are not modelled: shadows live in the owner's slot until overwritten.
"""
from __future__ import annotations

from ._internal import PG_workingset
from .filemap import PG_active, PG_swapbacked
from .swap import LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE
from .vmstat import NODE_STAT_ITEMS

__all__ = ["workingset_eviction", "workingset_refault", "workingset_test_recent",
           "workingset_age_nonresident", "workingset_activation", "pack_shadow",
           "unpack_shadow", "EVICTION_SHIFT", "EVICTION_MASK"]

BITS_PER_LONG = 64
BITS_PER_XA_VALUE = BITS_PER_LONG - 1
MEM_CGROUP_ID_SHIFT = 16
NODES_SHIFT = 6
WORKINGSET_SHIFT = 1
EVICTION_SHIFT = (BITS_PER_LONG - BITS_PER_XA_VALUE) + WORKINGSET_SHIFT + NODES_SHIFT \
    + MEM_CGROUP_ID_SHIFT
EVICTION_MASK = (1 << (BITS_PER_LONG - EVICTION_SHIFT)) - 1
bucket_order = 0

_REFAULT_ANON = NODE_STAT_ITEMS.index("workingset_refault_anon")
_ACTIVATE_ANON = NODE_STAT_ITEMS.index("workingset_activate_anon")
_RESTORE_ANON = NODE_STAT_ITEMS.index("workingset_restore_anon")


def pack_shadow(memcgid: int, nid: int, eviction: int, workingset: bool) -> int:
    """pack_shadow: the xa_mk_value of (eviction, memcg, node, workingset)."""
    eviction &= EVICTION_MASK
    eviction = (eviction << MEM_CGROUP_ID_SHIFT) | memcgid
    eviction = (eviction << NODES_SHIFT) | nid
    eviction = (eviction << WORKINGSET_SHIFT) | int(bool(workingset))
    return (eviction << 1) | 1                        # xa_mk_value


def unpack_shadow(shadow: int) -> tuple[int, int, int, bool]:
    """unpack_shadow: (memcgid, nid, eviction, workingset)."""
    if not shadow & 1:
        raise ValueError(f"{shadow:#x} is not a shadow entry (xa_is_value)")
    entry = shadow >> 1                               # xa_to_value
    workingset = bool(entry & ((1 << WORKINGSET_SHIFT) - 1))
    entry >>= WORKINGSET_SHIFT
    nid = entry & ((1 << NODES_SHIFT) - 1)
    entry >>= NODES_SHIFT
    memcgid = entry & ((1 << MEM_CGROUP_ID_SHIFT) - 1)
    entry >>= MEM_CGROUP_ID_SHIFT
    return memcgid, nid, entry << bucket_order, workingset


def workingset_age_nonresident(lruvec, nr_pages: int) -> None:
    """Tick the lruvec's nonresident_age (no memcg hierarchy here)."""
    lruvec.nonresident_age += nr_pages


def workingset_activation(sub, pfn: int) -> None:
    """workingset_activation: an activation ages the clock too."""
    sub.lru.lruvec_of(pfn).nonresident_age += 1


def workingset_eviction(sub, pfn: int) -> int:
    """workingset_eviction: the shadow entry for a folio leaving memory
    (called by __remove_mapping with the i_pages lock held, refcount frozen)."""
    lruvec = sub.lru.lruvec_of(pfn)
    eviction = lruvec.nonresident_age >> bucket_order
    workingset_age_nonresident(lruvec, 1)
    return pack_shadow(0, lruvec.nid, eviction,
                       bool(sub.mem_map.f[pfn] & PG_workingset))


def _nr_swap_pages(sub) -> int:
    """get_nr_swap_pages(): free swap slots, 0 when no swap is configured."""
    sw = sub.swap
    return sw.nr_swap_pages if sw is not None else 0


def workingset_test_recent(sub, shadow: int, file: bool) -> tuple[bool, bool]:
    """workingset_test_recent: (recent enough to activate, the workingset bit)."""
    _, nid, eviction, workingset = unpack_shadow(shadow)
    lruvec = sub.lru.lruvecs[nid]
    refault = lruvec.nonresident_age
    refault_distance = (refault - eviction) & EVICTION_MASK
    size = lruvec.lru_size
    workingset_size = size(LRU_ACTIVE_FILE)
    if not file:
        workingset_size += size(LRU_INACTIVE_FILE)
    if _nr_swap_pages(sub) > 0:
        workingset_size += size(LRU_ACTIVE_ANON)
        if file:
            workingset_size += size(LRU_INACTIVE_ANON)
    return refault_distance <= workingset_size, workingset


def workingset_refault(sub, pfn: int, shadow: int, me) -> None:
    """workingset_refault: a folio read back into a slot that held ``shadow``
    (before folio_add_lru).  Counts workingset_refault_*; if the refault
    distance fits in the workingset, sets PG_active (workingset_activate_*)
    and, if it was active before eviction, PG_workingset (workingset_restore_*)."""
    f = sub.mem_map.f
    file = not f[pfn] & PG_swapbacked
    lruvec = sub.lru.lruvec_of(pfn)
    vs = sub.vmstat
    pgdat = sub.pa.nodes[lruvec.nid]
    vs.mod_node_page_state(pgdat, _REFAULT_ANON + file, 1, me)
    recent, workingset = workingset_test_recent(sub, shadow, file)
    if not recent:
        return
    f[pfn] |= PG_active
    workingset_age_nonresident(lruvec, 1)
    vs.mod_node_page_state(pgdat, _ACTIVATE_ANON + file, 1, me)
    if workingset:
        f[pfn] |= PG_workingset
        sub.lru.lru_note_cost_locked(lruvec, file, 1, 0)     # lru_note_cost_refault
        vs.mod_node_page_state(pgdat, _RESTORE_ANON + file, 1, me)
