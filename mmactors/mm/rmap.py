"""Reverse mappings: anon_vma, anon_vma_chain, mapcounts (mm/rmap.c, Linux 6.12).

Lock order, from the comment at the top of mm/rmap.c (6.12; see
``mmactors.lockdep.hierarchy`` for the whole table)::

    mmap_lock -> folio_lock -> vma_start_write -> mapping->i_mmap_rwsem
      -> anon_vma->rwsem -> mm->page_table_lock or pte_lock
      -> swap_lock -> mapping->private_lock -> i_pages lock -> lruvec->lru_lock

* An :class:`AnonVMA` has ``root`` (whose ``rwsem`` serialises the whole
  tree, class ``&anon_vma->rwsem``), ``parent``, ``num_children``,
  ``num_active_vmas`` and the chains (the kernel's interval tree ``rb_root``
  is a list here: rmap walks are not on a hot path of this simulator).
* ``__anon_vma_prepare`` takes ``anon_vma->rwsem`` and then
  ``mm->page_table_lock``, as the kernel does.
* Mapcounts are the folio's ``_mapcount`` (-1 = unmapped), kept per frame in
  an int32 array as ``_mapcount + 1`` so that a zeroed array means unmapped.
  Only order-0 folios are mapped by this simulator (THP is not modelled).
* ``folio->mapping``/``folio->index`` live in a dict for mapped or cached
  frames only (``Rmap.mapping``), outside the 16-byte per-frame budget.
"""
from __future__ import annotations

import numpy as np

from ..sync import RWSemaphore

__all__ = ["AnonVMA", "AnonVMAChain", "Rmap"]


class AnonVMA:
    """struct anon_vma."""

    __slots__ = ("root", "parent", "rwsem", "refcount", "num_children", "num_active_vmas",
                 "chains", "id")

    def __init__(self, engine, aid: int, parent: "AnonVMA | None" = None):
        self.id = aid
        self.parent = parent if parent is not None else self
        self.root = parent.root if parent is not None else self
        # Only the root's rwsem is ever taken (anon_vma_lock_write locks root->rwsem).
        self.rwsem = RWSemaphore(engine, "&anon_vma->rwsem") if self.root is self else None
        self.refcount = 1
        self.num_children = 0
        self.num_active_vmas = 0
        self.chains: list = []            # AnonVMAChain (the rb_root interval tree)

    def __repr__(self):
        return f"<anon_vma {self.id} root={self.root.id}>"

    def vmas(self):
        return [avc.vma for avc in self.chains]


class AnonVMAChain:
    """struct anon_vma_chain: links one VMA to one anon_vma."""

    __slots__ = ("vma", "anon_vma")

    def __init__(self, vma, anon_vma):
        self.vma = vma
        self.anon_vma = anon_vma


def anon_vma_chain_link(vma, avc, anon_vma):
    vma.anon_vma_chain.append(avc)
    anon_vma.chains.append(avc)


class Rmap:
    """Mapcounts and folio->mapping for every frame of the machine."""

    def __init__(self, engine, max_pfn: int):
        self.engine = engine
        self._mc = np.zeros(max_pfn, np.int32)     # _mapcount + 1
        self.mc = memoryview(self._mc)
        self.mapping: dict[int, tuple] = {}        # pfn -> (AnonVMA | AddressSpace, index)
        self.anon_exclusive: set[int] = set()      # PageAnonExclusive

    # -- mapcount helpers ---------------------------------------------------
    def folio_mapcount(self, pfn: int) -> int:
        return self.mc[pfn]

    def folio_mapped(self, pfn: int) -> bool:
        return self.mc[pfn] > 0

    def folio_test_anon(self, pfn: int) -> bool:
        """folio->mapping points to an anon_vma (PAGE_MAPPING_ANON)."""
        m = self.mapping.get(pfn)
        return m is not None and type(m[0]) is AnonVMA

    # -- adding and removing mappings (charged by the caller's cache-line costs)
    def folio_add_new_anon_rmap(self, pfn: int, vma, addr: int):
        """A freshly allocated folio becomes anonymous, mapped once, exclusive."""
        self.mc[pfn] = 1                       # atomic_set(&_mapcount, 0): no RMW
        self.mapping[pfn] = (vma.anon_vma, vma.linear_page_index(addr))
        self.anon_exclusive.add(pfn)

    def folio_add_file_rmap_pte(self, pfn: int):
        self.mc[pfn] += 1                      # atomic_inc_and_test(&_mapcount)

    def folio_dup_rmap_pte(self, pfn: int):
        """fork: folio_try_dup_anon_rmap_pte / folio_dup_file_rmap_pte."""
        self.mc[pfn] += 1
        self.anon_exclusive.discard(pfn)

    def folio_remove_rmap_pte(self, pfn: int) -> bool:
        """atomic_add_negative(-1, &_mapcount): True when the last mapping went."""
        n = self.mc[pfn] - 1
        if n < 0:
            raise AssertionError(f"BUG: mapcount underflow on pfn {pfn:#x}")
        self.mc[pfn] = n
        return n == 0

    def folio_move_anon_rmap(self, pfn: int, vma):
        """The folio now belongs to vma's own anon_vma (wp_can_reuse_anon_folio)."""
        _, idx = self.mapping[pfn]
        self.mapping[pfn] = (vma.anon_vma, idx)

    def forget(self, pfn: int):
        """The folio is being freed: clear mapping and anon-exclusive."""
        self.mapping.pop(pfn, None)
        self.anon_exclusive.discard(pfn)


async def anon_vma_prepare(mm_sub, vma, me):
    """__anon_vma_prepare: attach an anon_vma (reusing a neighbour's if mergeable)."""
    if vma.anon_vma is not None:
        return
    mm = vma.vm_mm
    eng = mm_sub.engine
    anon_vma = find_mergeable_anon_vma(vma)
    allocated = None
    if anon_vma is None:
        anon_vma = AnonVMA(eng, mm_sub.next_id())
        anon_vma.num_children += 1
        allocated = anon_vma
        eng.charge(eng.costs.slab_alloc_ns)      # anon_vma_alloc + anon_vma_chain_alloc
    root = anon_vma.root
    await root.rwsem.down_write("__anon_vma_prepare")
    await mm.page_table_lock.lock("__anon_vma_prepare")
    if vma.anon_vma is None:
        vma.anon_vma = anon_vma
        anon_vma_chain_link(vma, AnonVMAChain(vma, anon_vma), anon_vma)
        anon_vma.num_active_vmas += 1
        allocated = None
    mm.page_table_lock.unlock("__anon_vma_prepare")
    root.rwsem.up_write("__anon_vma_prepare")
    del allocated                                  # put_anon_vma of a lost race


def find_mergeable_anon_vma(vma):
    """Reuse the anon_vma of an adjacent, compatible VMA (mm/vma.c), else None."""
    mm = vma.vm_mm
    for other in (mm.find_vma(vma.vm_end), mm.find_vma(vma.vm_start - 1)):
        if (other is not None and other is not vma and other.anon_vma is not None
                and other.vm_file is None and vma.vm_file is None
                and other.vm_flags == vma.vm_flags
                and len(other.anon_vma_chain) == 1):
            return other.anon_vma
    return None


async def anon_vma_clone(dst, src):
    """Chain dst to every anon_vma src is chained to, under the root's rwsem.
    A dst that already has its anon_vma (copied by vm_area_dup on a split or
    a move) counts as one more of its active VMAs.  Simplification: no reuse
    of an old anon_vma for a forked child."""
    if not src.anon_vma_chain:
        return
    root = src.anon_vma_chain[0].anon_vma.root
    await root.rwsem.down_write("anon_vma_clone")
    for avc in src.anon_vma_chain:
        anon_vma_chain_link(dst, AnonVMAChain(dst, avc.anon_vma), avc.anon_vma)
    root.rwsem.up_write("anon_vma_clone")
    if dst.anon_vma is not None:
        dst.anon_vma.num_active_vmas += 1


async def anon_vma_fork(mm_sub, vma, pvma):
    """Give the child VMA its own anon_vma, linked to every anon_vma of the parent."""
    if pvma.anon_vma is None:
        return
    eng = mm_sub.engine
    await anon_vma_clone(vma, pvma)                # vma->anon_vma is still NULL here
    root = pvma.anon_vma.root
    anon_vma = AnonVMA(eng, mm_sub.next_id(), parent=pvma.anon_vma)
    root.refcount += 1                             # get_anon_vma(root)
    vma.anon_vma = anon_vma
    await root.rwsem.down_write("anon_vma_fork")
    anon_vma_chain_link(vma, AnonVMAChain(vma, anon_vma), anon_vma)
    anon_vma.parent.num_children += 1
    anon_vma.num_active_vmas += 1
    root.rwsem.up_write("anon_vma_fork")


async def unlink_anon_vmas(vma):
    """Detach vma from every anon_vma it is chained to (free_pgtables)."""
    if not vma.anon_vma_chain:
        return
    root = vma.anon_vma_chain[0].anon_vma.root
    await root.rwsem.down_write("unlink_anon_vmas")
    for avc in vma.anon_vma_chain:
        av = avc.anon_vma
        av.chains.remove(avc)
        if not av.chains and av.parent is not av:
            av.parent.num_children -= 1
    if vma.anon_vma is not None:
        vma.anon_vma.num_active_vmas -= 1
    vma.anon_vma_chain = []
    vma.anon_vma = None
    root.rwsem.up_write("unlink_anon_vmas")
