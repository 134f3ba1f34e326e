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
  A PMD-mapped THP (mm/huge_memory.py) counts its PMD mappings on the head
  (``_entire_mapcount``); a split gives every page its own.
* ``folio->mapping``/``folio->index`` are per-frame arrays too, as the
  kernel keeps them in struct page: ``index`` (int64, pgoff_t) and a slot
  (int32) in a table of the AnonVMA/AddressSpace objects frames point to
  (:class:`FolioMappings`; 0 = NULL; a slot is reused once no frame names
  its object).  ``Rmap.mapping`` reads and writes them with the dict
  spelling the callers used before (``get``, ``[pfn]``, ``pop``, ``in``),
  each value an ``(AnonVMA | AddressSpace, index)`` tuple.
* PageAnonExclusive is a bit of the frame's flags (:data:`PG_anon_exclusive`;
  ``Rmap.anon_exclusive`` spells it as a set: ``add``, ``discard``, ``in``).
  Cleared with the other flags when the frame is allocated or freed.

Reclaim's walks (``rmap_walk_anon``/``rmap_walk_file``):

* :func:`folio_referenced`: each mapping PTE tested and cleared young under
  its PTL (x86's ``ptep_clear_flush_young`` does not flush the TLB); anon
  folios under ``anon_vma->root->rwsem`` taken by trylock
  (``folio_lock_anon_vma_read`` with ``rwc->try_lock``), file/shmem folios
  under ``i_mmap_rwsem`` by trylock: contention gives -1, as in 6.12.
* :func:`try_to_unmap`: ``try_to_unmap_one`` on every mapping (the rmap lock
  taken by a sleeping read lock when its trylock fails); an anonymous folio
  leaves a swap PTE (``swap_duplicate``, MM_ANONPAGES -> MM_SWAPENTS, the
  PTE's dirty bit moved to PG_dirty).  TTU_BATCH_FLUSH as shrink_folio_list
  passes it: when the mm ran on another CPU the flush is deferred to
  :func:`try_to_unmap_flush` (``current->tlb_ubc``), else ``ptep_clear_flush``.
* :func:`folio_mkclean`: writeback's ``folio_clear_dirty_for_io`` write-protects
  and cleans every PTE of a file folio (``page_vma_mkclean_one``, a TLB flush
  per changed PTE), so the next write faults and dirties the folio again.
"""
from __future__ import annotations

import numpy as np

from ..sync import RWSemaphore
from .filemap import PG_dirty, PG_swapbacked, PG_swapcache
from .mm_types import PAGE_SHIFT, PMD_SHIFT, PTRS_PER_PTE, VM_LOCKED
from .swapops import swp_entry_to_pte

__all__ = ["AnonVMA", "AnonVMAChain", "Rmap", "FolioMappings", "AnonExclusive",
           "PG_anon_exclusive", "folio_referenced", "try_to_unmap", "try_to_unmap_flush",
           "try_to_unmap_flush_dirty", "rmap_walk_vmas"]

# include/linux/page-flags.h: PG_anon_exclusive = PG_owner_2, the bit file
# folios use as PG_mappedtodisk.  A bit of its own here (bits 0-5, 8-22 are
# taken: _internal.py, filemap.py, swap_state.py), so that no file folio's
# PG_mappedtodisk ever reads as exclusive.
PG_anon_exclusive = 1 << 24

# arch/x86/include/asm/pgtable_types.h (memory.py has the same bits)
_PAGE_PRESENT = 0x1
_PAGE_RW = 0x2
_PAGE_ACCESSED = 0x20
_PAGE_DIRTY = 0x40


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


class FolioMappings:
    """``folio->mapping`` and ``folio->index`` of every frame, as arrays
    indexed by pfn: ``slot`` names an entry of ``objs``, the AnonVMA or
    AddressSpace (0: NULL, no mapping), and the page offset is split in
    ``index_lo`` (uint32) and ``index_hi`` (uint8).  A slot is shared by
    every frame naming the same object and counted (``users``); at 0 it goes
    back to a free list, reused last freed first, so the table stays as small
    as the set of objects in use.

    Widths (bytes per frame: the arrays are a filled machine's largest cost):
    ``slot`` is uint16 until a 65,536th object is named at once, then widened
    to int32 (one copy); the index has 40 bits, 5 bytes instead of
    pgoff_t's 8 (simplification: an anonymous index is at most TASK_SIZE >>
    PAGE_SHIFT < 2**35 with 4-level paging, and a file offset of 4 PiB is
    beyond any simulated file; a larger one is refused with ValueError).

    Read and written with the spelling of the dict the callers used before
    (pfn -> (object, index)): ``get``, ``[pfn]``, ``[pfn] = (obj, index)``,
    ``pop``, ``in``."""

    __slots__ = ("_slot", "_lo", "_hi", "slot", "index_lo", "index_hi", "objs", "users", "anon",
                 "_slot_of", "_free")

    INDEX_BITS = 40
    SLOT_WIDE_AT = 1 << 16           # the first slot uint16 cannot hold

    def __init__(self, max_pfn: int):
        self._slot = np.zeros(max_pfn, np.uint16)
        self._lo = np.zeros(max_pfn, np.uint32)
        self._hi = np.zeros(max_pfn, np.uint8)
        self.slot = memoryview(self._slot)         # scalar access from Python
        self.index_lo = memoryview(self._lo)
        self.index_hi = memoryview(self._hi)
        self.objs: list = [None]                   # slot -> object (slot 0: NULL)
        self.users: list[int] = [0]                # slot -> frames naming it
        self.anon: list[bool] = [False]            # slot -> PAGE_MAPPING_ANON
        self._slot_of: dict[int, int] = {}         # id(object) -> slot (objs keeps it alive)
        self._free: list[int] = []

    @property
    def nbytes(self) -> int:
        return self._slot.nbytes + self._lo.nbytes + self._hi.nbytes

    def _widen_slots(self):
        """More objects in use than uint16 slots: the slot array becomes int32."""
        self._slot = self._slot.astype(np.int32)
        self.slot = memoryview(self._slot)

    def index_of(self, pfn: int) -> int:
        """folio->index (meaningful while the frame has a mapping)."""
        return self.index_lo[pfn] | self.index_hi[pfn] << 32

    def _set_index(self, pfn: int, index: int):
        if not 0 <= index < 1 << self.INDEX_BITS:
            raise ValueError(f"folio->index {index:#x} of pfn {pfn:#x}: beyond the "
                             f"{self.INDEX_BITS}-bit page offset modelled")
        self.index_lo[pfn] = index & 0xFFFF_FFFF
        self.index_hi[pfn] = index >> 32

    def _get_slot(self, obj) -> int:
        """The object's slot, one more frame counted on it."""
        s = self._slot_of.get(id(obj))
        if s is None:
            if obj is None:
                raise ValueError("folio->mapping = NULL is pop(), not a (None, index) store")
            if self._free:
                s = self._free.pop()
                self.objs[s] = obj
                self.users[s] = 0
                self.anon[s] = type(obj) is AnonVMA
            else:
                s = len(self.objs)
                if s == self.SLOT_WIDE_AT and self._slot.dtype == np.uint16:
                    self._widen_slots()
                self.objs.append(obj)
                self.users.append(0)
                self.anon.append(type(obj) is AnonVMA)
            self._slot_of[id(obj)] = s
        self.users[s] += 1
        return s

    def _put_slot(self, s: int):
        n = self.users[s] - 1
        self.users[s] = n
        if not n:
            del self._slot_of[id(self.objs[s])]
            self.objs[s] = None
            self._free.append(s)

    def set(self, pfn: int, obj, index: int):
        """folio->mapping = obj, folio->index = index."""
        self._set_index(pfn, index)               # refused before any count moves
        new = self._get_slot(obj)
        old = self.slot[pfn]
        self.slot[pfn] = new
        if old:
            self._put_slot(old)

    def set_obj(self, pfn: int, obj):
        """folio->mapping = obj, the index kept (the frame must have a mapping)."""
        new = self._get_slot(obj)
        old = self.slot[pfn]
        self.slot[pfn] = new
        self._put_slot(old)

    def clear(self, pfn: int):
        """folio->mapping = NULL (the index is left as it was: unused)."""
        old = self.slot[pfn]
        if old:
            self.slot[pfn] = 0
            self._put_slot(old)

    def obj(self, pfn: int):
        """folio->mapping: the object, or None."""
        return self.objs[self.slot[pfn]]

    def is_anon(self, pfn: int) -> bool:
        return self.anon[self.slot[pfn]]

    # -- the dict spelling ------------------------------------------------------
    def get(self, pfn: int, default=None):
        s = self.slot[pfn]
        return (self.objs[s], self.index_lo[pfn] | self.index_hi[pfn] << 32) if s else default

    def __getitem__(self, pfn: int):
        s = self.slot[pfn]
        if not s:
            raise KeyError(pfn)
        return self.objs[s], self.index_lo[pfn] | self.index_hi[pfn] << 32

    def __setitem__(self, pfn: int, value):
        obj, index = value
        self.set(pfn, obj, index)

    def __contains__(self, pfn: int) -> bool:
        return self.slot[pfn] != 0

    def pop(self, pfn: int, *default):
        s = self.slot[pfn]
        if not s:
            if default:
                return default[0]
            raise KeyError(pfn)
        value = self.objs[s], self.index_lo[pfn] | self.index_hi[pfn] << 32
        self.slot[pfn] = 0
        self._put_slot(s)
        return value

    def __len__(self) -> int:
        return int(np.count_nonzero(self._slot))

    def pfns(self) -> list[int]:
        """Every frame with a mapping, in pfn order."""
        return [int(p) for p in np.flatnonzero(self._slot)]


class AnonExclusive:
    """PageAnonExclusive of every frame: the :data:`PG_anon_exclusive` bit of
    its flags, spelled as the set of pfns the callers used before."""

    __slots__ = ("f",)

    def __init__(self, flags):
        self.f = flags                              # MemMap.f (a memoryview)

    def add(self, pfn: int):
        self.f[pfn] |= PG_anon_exclusive            # SetPageAnonExclusive

    def discard(self, pfn: int):
        self.f[pfn] &= ~PG_anon_exclusive           # ClearPageAnonExclusive

    def __contains__(self, pfn: int) -> bool:
        return bool(self.f[pfn] & PG_anon_exclusive)


class Rmap:
    """Mapcounts, folio->mapping/index and PageAnonExclusive for every frame
    of the machine."""

    def __init__(self, engine, max_pfn: int, flags=None):
        self.engine = engine
        self._mc = np.zeros(max_pfn, np.int32)     # _mapcount + 1
        self.mc = memoryview(self._mc)
        self.mapping = FolioMappings(max_pfn)      # pfn -> (AnonVMA | AddressSpace, index)
        if flags is None:                          # a standalone Rmap: flags of its own
            flags = memoryview(np.zeros(max_pfn, np.uint32))
        self.f = flags
        self.anon_exclusive = AnonExclusive(flags)  # PageAnonExclusive
        # current->tlb_ubc of each task with a deferred unmap flush:
        # actor -> [cpumask to flush, writable (a dirty PTE was cleared)]
        self.tlb_ubc: dict = {}

    # -- mapcount helpers ---------------------------------------------------
    def folio_mapcount(self, pfn: int) -> int:
        return self.mc[pfn]

    def folio_mapped(self, pfn: int) -> bool:
        return self.mc[pfn] > 0

    def folio_test_anon(self, pfn: int) -> bool:
        """folio->mapping points to an anon_vma (PAGE_MAPPING_ANON)."""
        m = self.mapping
        return m.anon[m.slot[pfn]]

    # -- adding and removing mappings (charged by the caller's cache-line costs)
    def folio_add_new_anon_rmap(self, pfn: int, vma, addr: int):
        """A freshly allocated folio becomes anonymous, mapped once, exclusive."""
        self.mc[pfn] = 1                       # atomic_set(&_mapcount, 0): no RMW
        self.mapping.set(pfn, vma.anon_vma, vma.linear_page_index(addr))
        self.f[pfn] |= PG_anon_exclusive

    def folio_add_file_rmap_pte(self, pfn: int):
        self.mc[pfn] += 1                      # atomic_inc_and_test(&_mapcount)

    def folio_dup_rmap_pte(self, pfn: int):
        """fork: folio_try_dup_anon_rmap_pte / folio_dup_file_rmap_pte."""
        self.mc[pfn] += 1
        self.f[pfn] &= ~PG_anon_exclusive

    def folio_remove_rmap_pte(self, pfn: int) -> bool:
        """atomic_add_negative(-1, &_mapcount): True when the last mapping went."""
        n = self.mc[pfn] - 1
        if n < 0:
            raise AssertionError(f"BUG: mapcount underflow on pfn {pfn:#x}")
        self.mc[pfn] = n
        return n == 0

    def folio_move_anon_rmap(self, pfn: int, vma):
        """The folio now belongs to vma's own anon_vma (wp_can_reuse_anon_folio)."""
        self.mapping.set_obj(pfn, vma.anon_vma)

    def forget(self, pfn: int):
        """The folio is being freed: clear mapping and anon-exclusive."""
        self.mapping.clear(pfn)
        self.f[pfn] &= ~PG_anon_exclusive


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


# ======================================================================= walks
def vma_address(vma, pgoff: int) -> int:
    """vma_address(): the user address of page pgoff in vma, or -1 outside it."""
    addr = vma.vm_start + ((pgoff - vma.vm_pgoff) << PAGE_SHIFT)
    if addr < vma.vm_start or addr >= vma.vm_end:
        return -1
    return addr


def rmap_walk_vmas(sub, pfn: int):
    """The (vma, address) pairs the interval tree query of rmap_walk_anon /
    rmap_walk_file yields for an order-0 folio (the caller holds the rmap lock)."""
    m = sub.rmap.mapping
    s = m.slot[pfn]
    if not s:
        return []
    obj = m.objs[s]
    pgoff = m.index_of(pfn)
    vmas = obj.vmas() if m.anon[s] else list(obj.i_mmap)
    out = []
    for vma in vmas:
        addr = vma_address(vma, pgoff)
        if addr >= 0:
            out.append((vma, addr))
    return out


async def _rmap_lock_read(sub, pfn: int, try_lock: bool, me):
    """folio_lock_anon_vma_read / i_mmap_lock_read: the lock rmap_walk takes,
    or None (folio no longer mapped) or False (contended with try_lock)."""
    m = sub.rmap.mapping
    s = m.slot[pfn]
    if not s:
        return None
    obj = m.objs[s]
    if m.anon[s]:
        if not sub.rmap.mc[pfn]:
            return None
        lk = obj.root.rwsem
        if not await lk.down_read_trylock("folio_lock_anon_vma_read"):
            if try_lock:
                return False                          # rwc->contended
            await lk.down_read("folio_lock_anon_vma_read")
        if m.objs[m.slot[pfn]] is not obj or not sub.rmap.mc[pfn]:
            lk.up_read("folio_lock_anon_vma_read")    # moved or unmapped meanwhile
            return None
        return lk
    lk = obj.i_mmap_rwsem
    if not await lk.down_read_trylock("rmap_walk_file"):
        if try_lock:
            return False
        await lk.down_read("rmap_walk_file")
    return lk


def _pte_of(vma, addr: int):
    """page_vma_mapped_walk's table lookup: (PageTable, index) or (None, 0)."""
    pt = vma.vm_mm.pgtables.get(addr >> PMD_SHIFT)
    return pt, (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)


async def folio_referenced(sub, pfn: int, me, is_locked: bool = True) -> tuple[int, int]:
    """folio_referenced(folio, is_locked, NULL, &vm_flags): (the number of
    mappings whose PTE was young, each cleared; the union of those VMAs'
    vm_flags).  -1 when the rmap lock was contended (``rwc.try_lock``); a
    mapping in a VM_LOCKED VMA ends the walk with VM_LOCKED in the flags.
    Simplifications: no VM_SEQ_READ/VM_RAND_READ (vma_has_recency is always
    true), no page-idle tracking, no MGLRU look-around."""
    rmap = sub.rmap
    mapcount = rmap.mc[pfn]
    if not mapcount or not rmap.mapping.slot[pfn]:
        return 0, 0
    anon = rmap.folio_test_anon(pfn)
    we_locked = False
    if not is_locked and not anon:
        if not sub.folio_locks.folio_trylock(pfn, me):
            return 1, 0
        we_locked = True
    lk = await _rmap_lock_read(sub, pfn, True, me)
    referenced = vm_flags = 0
    if lk is False:
        referenced = -1
    elif lk is not None:
        eng = sub.engine
        costs = eng.costs
        flags = sub.mem_map.f
        for vma, addr in rmap_walk_vmas(sub, pfn):
            pt, idx = _pte_of(vma, addr)
            if pt is None:
                hp = vma.vm_mm.pmd_huge.get(addr >> PMD_SHIFT)
                if hp is None or hp.pfn != pfn:
                    continue
                # a PMD-mapped THP (mm/huge_memory.py): pmdp_clear_flush_young
                ptl = vma.vm_mm.pmd_lock(addr)
                await ptl.lock("folio_referenced_one")
                if vma.vm_flags & VM_LOCKED:
                    ptl.unlock("folio_referenced_one")
                    vm_flags |= VM_LOCKED
                    break
                young = hp.young
                hp.young = False
                await eng.spend(costs.llc_hit_ns + (costs.atomic_rmw_ns if young else 0))
                ptl.unlock("folio_referenced_one")
                mapcount -= 1
                if young:
                    referenced += 1
                    vm_flags |= vma.vm_flags & ~VM_LOCKED
                if not mapcount:
                    break
                continue
            await pt.ptl.lock("folio_referenced_one")      # page_vma_mapped_walk
            v = pt.ptes[idx]
            if not v & _PAGE_PRESENT or v >> PAGE_SHIFT != pfn:
                pt.ptl.unlock("folio_referenced_one")
                continue
            if vma.vm_flags & VM_LOCKED:                    # mlock_vma_folio: keep it
                pt.ptl.unlock("folio_referenced_one")
                vm_flags |= VM_LOCKED
                break
            mm = vma.vm_mm
            if (not mm.mm_users or mm.exited) and anon and flags[pfn] & PG_swapbacked \
                    and rmap.mc[pfn] == 1:
                # the exiting task's own folio: no swap-out before its unmap
                pt.ptl.unlock("folio_referenced_one")
                referenced = -1
                break
            young = v & _PAGE_ACCESSED
            if young:                                       # ptep_test_and_clear_young
                pt.ptes[idx] = v & ~_PAGE_ACCESSED
            await eng.spend(costs.llc_hit_ns + (costs.atomic_rmw_ns if young else 0))
            pt.ptl.unlock("folio_referenced_one")
            mapcount -= 1
            if young:
                referenced += 1
                vm_flags |= vma.vm_flags & ~VM_LOCKED
            if not mapcount:
                break
        lk.up_read("rmap_walk")
    if we_locked:
        sub.folio_locks.folio_unlock(pfn, me)
    return referenced, vm_flags


async def try_to_unmap(sub, pfn: int, me, batch_flush: bool = True) -> bool:
    """try_to_unmap(folio, TTU_BATCH_FLUSH): remove every mapping of a locked
    folio; True when none is left (``!folio_mapped``).  An anonymous folio
    must be in the swap cache (add_to_swap ran): each PTE becomes its swap
    entry, ``swap_duplicate`` taking the cluster (or si->) lock under the PTL.
    A VM_LOCKED mapping is left alone (the walk stops)."""
    rmap = sub.rmap
    if not rmap.mc[pfn]:
        return True
    lk = await _rmap_lock_read(sub, pfn, False, me)
    if lk is None:
        return not rmap.mc[pfn]
    eng = sub.engine
    costs = eng.costs
    f = sub.mem_map.f
    ref = sub.mem_map.ref
    anon = rmap.folio_test_anon(pfn)
    entry = sub.swap_cache.folio_swap_entry(pfn) if sub.swap_cache is not None else 0
    for vma, addr in rmap_walk_vmas(sub, pfn):
        pt, idx = _pte_of(vma, addr)
        if pt is None:
            continue
        await pt.ptl.lock("try_to_unmap_one")
        v = pt.ptes[idx]
        if not v & _PAGE_PRESENT or v >> PAGE_SHIFT != pfn:
            pt.ptl.unlock("try_to_unmap_one")
            continue
        if vma.vm_flags & VM_LOCKED:                  # must not swap it out
            pt.ptl.unlock("try_to_unmap_one")
            break
        if anon and (not f[pfn] & PG_swapcache or not entry):
            # folio_test_swapbacked != folio_test_swapcache: WARN_ON_ONCE, give up
            pt.ptl.unlock("try_to_unmap_one")
            break
        mm = vma.vm_mm
        pt.ptes[idx] = 0                              # ptep_get_and_clear / ptep_clear_flush
        pt.nr_present -= 1
        others = mm.cpumask & ~(1 << me.cpu)
        if batch_flush and others:                    # should_defer_flush
            ubc = rmap.tlb_ubc.get(me)
            if ubc is None:
                ubc = rmap.tlb_ubc[me] = [0, False]
            ubc[0] |= mm.cpumask                      # arch_tlbbatch_add_pending
            if v & _PAGE_DIRTY:
                ubc[1] = True
        else:
            await sub.memory.flush_tlb_mm_range(mm, addr, addr + (1 << PAGE_SHIFT), False, me)
        if v & _PAGE_DIRTY:                           # folio_mark_dirty
            f[pfn] |= PG_dirty
        if anon:
            await sub.swap.swap_duplicate(entry)      # the PTE's reference to the slot
            exclusive = bool(rmap.f[pfn] & PG_anon_exclusive)   # folio_try_share_anon_rmap
            mm.rss[mm.MM_ANONPAGES] -= 1
            mm.rss[mm.MM_SWAPENTS] += 1
            pt.ptes[idx] = swp_entry_to_pte(entry, exclusive)
            pt.nr_swap += 1
        else:
            mm.rss[mm.mm_counter_file(rmap.f[pfn])] -= 1   # dec_mm_counter(mm_counter_file)
        rmap.folio_remove_rmap_pte(pfn)
        assert ref[pfn] > 1, f"BUG: try_to_unmap dropped the last reference of {pfn:#x}"
        ref[pfn] -= 1                                 # folio_put: the mapping's reference
        await eng.spend(2 * costs.atomic_rmw_ns + sub.pa._touch(pfn, me.cpu))
        pt.ptl.unlock("try_to_unmap_one")
    if anon:
        rmap.f[pfn] &= ~PG_anon_exclusive
    lk.up_read("rmap_walk")
    return not rmap.mc[pfn]


async def _tlbbatch_flush(sub, cpumask: int, me):
    """arch_tlbbatch_flush: one flush_tlb_multi to every CPU of the batch."""
    costs = sub.engine.costs
    others = cpumask & ~(1 << me.cpu)
    n = 0
    for cpu in sub.cpus_in(others):
        n += 1
        for a in sub.cpu_actors.get(cpu, ()):
            a.debt += costs.ipi_handle_ns
    if n:
        sub.count(me.cpu, "nr_tlb_remote_flush")
        sub.count(me.cpu, "nr_tlb_remote_flush_received", n)
        await sub.engine.spend(costs.tlb_ipi_ns + costs.tlb_flush_page_ns)
    else:
        sub.count(me.cpu, "nr_tlb_local_flush_all")
        await sub.engine.spend(costs.tlb_flush_page_ns)


async def try_to_unmap_flush(sub, me):
    """try_to_unmap_flush(): the deferred flushes of this task's unmaps."""
    ubc = sub.rmap.tlb_ubc.pop(me, None)
    if ubc is not None:
        await _tlbbatch_flush(sub, ubc[0], me)


async def try_to_unmap_flush_dirty(sub, me):
    """try_to_unmap_flush_dirty(): flush only if a writable PTE was deferred
    (before pageout(), so no CPU writes through a stale TLB entry during I/O)."""
    ubc = sub.rmap.tlb_ubc.get(me)
    if ubc is not None and ubc[1]:
        await try_to_unmap_flush(sub, me)


async def folio_mkclean(sub, pfn: int, me) -> int:
    """folio_mkclean (mm/rmap.c, page_vma_mkclean_one): write-protect and
    clean every PTE of a locked file folio, flushing each changed PTE's TLB
    entry (ptep_clear_flush + set_pte_at of the clean, read-only PTE), so
    that the next write faults (wp_page_shared -> page_mkwrite) and dirties
    the folio again.  Returns how many PTEs were dirty or writable."""
    rmap = sub.rmap
    if not rmap.mc[pfn]:
        return 0
    lk = await _rmap_lock_read(sub, pfn, False, me)
    if lk is None:
        return 0
    eng = sub.engine
    cleaned = 0
    for vma, addr in rmap_walk_vmas(sub, pfn):
        pt, idx = _pte_of(vma, addr)
        if pt is None:
            continue
        await pt.ptl.lock("page_vma_mkclean_one")
        v = pt.ptes[idx]
        if not v & _PAGE_PRESENT or v >> PAGE_SHIFT != pfn or not v & (_PAGE_RW | _PAGE_DIRTY):
            pt.ptl.unlock("page_vma_mkclean_one")
            continue
        pt.ptes[idx] = v & ~(_PAGE_RW | _PAGE_DIRTY)   # pte_wrprotect(pte_mkclean(entry))
        await eng.spend(eng.costs.atomic_rmw_ns)
        await sub.memory.flush_tlb_mm_range(vma.vm_mm, addr, addr + (1 << PAGE_SHIFT), False, me)
        pt.ptl.unlock("page_vma_mkclean_one")
        cleaned += 1
    lk.up_read("rmap_walk")
    return cleaned
