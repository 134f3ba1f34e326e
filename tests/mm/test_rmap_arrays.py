"""folio->mapping/index and PageAnonExclusive as per-frame arrays
(mm/rmap.py :class:`FolioMappings`, :class:`AnonExclusive`), against the
dict and set they replaced: every lookup the same after any sequence of
stores and clears, and the object table no larger than what frames name."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmactors.mm.rmap import AnonExclusive, AnonVMA, FolioMappings, PG_anon_exclusive, Rmap

MAX_PFN = 32


class _Space:
    """Stands for an AddressSpace (anything not an AnonVMA is file-backed)."""


def _objects():
    anon = [AnonVMA.__new__(AnonVMA) for _ in range(3)]
    return anon + [_Space() for _ in range(3)]


OPS = st.lists(st.tuples(st.sampled_from(["set", "set_obj", "clear", "pop", "setitem"]),
                         st.integers(0, MAX_PFN - 1), st.integers(0, 5),
                         st.integers(0, (1 << FolioMappings.INDEX_BITS) - 1)),
               max_size=100)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_mappings_match_a_dict(ops):
    """get / [pfn] / in / pop / len give what a pfn -> (object, index) dict
    gives; PAGE_MAPPING_ANON follows the object's type; a slot is held only
    by objects some frame names, and a freed slot is reused."""
    objs = _objects()
    m = FolioMappings(MAX_PFN)
    ref: dict[int, tuple] = {}
    for op, pfn, o, index in ops:
        obj = objs[o]
        if op == "set":
            m.set(pfn, obj, index)
            ref[pfn] = (obj, index)
        elif op == "setitem":
            m[pfn] = (obj, index)
            ref[pfn] = (obj, index)
        elif op == "set_obj":                         # folio_move_anon_rmap
            if pfn in ref:
                m.set_obj(pfn, obj)
                ref[pfn] = (obj, ref[pfn][1])
        elif op == "clear":
            m.clear(pfn)
            ref.pop(pfn, None)
        else:
            assert m.pop(pfn, None) == ref.pop(pfn, None)
        for p in range(MAX_PFN):
            assert m.get(p) == ref.get(p)
            assert m.get(p, "absent") == ref.get(p, "absent")
            assert (p in m) == (p in ref)
            assert m.obj(p) is (ref[p][0] if p in ref else None)
            assert m.is_anon(p) == (p in ref and type(ref[p][0]) is AnonVMA)
            if p in ref:
                assert m[p] == ref[p]
            else:
                with pytest.raises(KeyError):
                    m[p]
        assert len(m) == len(ref) and m.pfns() == sorted(ref)
        live = {id(v[0]) for v in ref.values()}
        held = {id(x) for x in m.objs if x is not None}
        assert held == live                           # no object outlives its last frame
        assert len(m.objs) - 1 <= len(objs)           # slots reused, never more than objects
        for s, x in enumerate(m.objs):
            if s:
                assert m.users[s] == sum(1 for v in ref.values() if v[0] is x)


def test_null_mapping_is_a_clear_not_a_store():
    m = FolioMappings(4)
    with pytest.raises(ValueError):
        m[1] = (None, 3)
    with pytest.raises(KeyError):
        m.pop(1)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "discard", "flags"]),
                              st.integers(0, MAX_PFN - 1), st.integers(0, (1 << 24) - 1)),
                    max_size=80))
def test_anon_exclusive_bit_matches_a_set(ops):
    """PageAnonExclusive as a flag bit answers as the set did, and other
    flag writes (read-modify-write of other bits) leave it alone."""
    flags = np.zeros(MAX_PFN, np.uint32)
    ae = AnonExclusive(memoryview(flags))
    ref = set()
    for op, pfn, bits in ops:
        if op == "add":
            ae.add(pfn)
            ref.add(pfn)
        elif op == "discard":
            ae.discard(pfn)
            ref.discard(pfn)
        else:
            flags[pfn] = (flags[pfn] & PG_anon_exclusive) | bits
        assert [p in ae for p in range(MAX_PFN)] == [p in ref for p in range(MAX_PFN)]


def test_rmap_helpers_keep_the_arrays_consistent():
    """folio_add_new_anon_rmap / folio_dup_rmap_pte / folio_move_anon_rmap /
    forget on the arrays: mapping, index, exclusivity, mapcount."""
    flags = np.zeros(16, np.uint32)
    r = Rmap(None, 16, memoryview(flags))

    class Vma:
        def __init__(self, av):
            self.anon_vma = av
            self.vm_start = 0x10000
            self.vm_pgoff = 0x10

        def linear_page_index(self, addr):
            return ((addr - self.vm_start) >> 12) + self.vm_pgoff

    a1, a2 = AnonVMA.__new__(AnonVMA), AnonVMA.__new__(AnonVMA)
    v1, v2 = Vma(a1), Vma(a2)
    r.folio_add_new_anon_rmap(5, v1, 0x13000)
    assert r.mapping[5] == (a1, 0x13) and r.folio_test_anon(5) and 5 in r.anon_exclusive
    assert flags[5] & PG_anon_exclusive and r.folio_mapcount(5) == 1
    r.folio_dup_rmap_pte(5)                           # fork: shared, not exclusive
    assert 5 not in r.anon_exclusive and r.folio_mapcount(5) == 2
    r.folio_move_anon_rmap(5, v2)
    assert r.mapping[5] == (a2, 0x13) and a1 not in r.mapping.objs
    r.anon_exclusive.add(5)
    r.forget(5)
    assert r.mapping.get(5) is None and 5 not in r.anon_exclusive and not r.folio_test_anon(5)
    assert r.mapping.users[1:] == [0] * (len(r.mapping.users) - 1)


def test_index_keeps_40_bits_and_refuses_more():
    """folio->index is 40 bits (uint32 + uint8): every bit of the largest
    anonymous index (TASK_SIZE >> PAGE_SHIFT, 4-level paging) survives; an
    index beyond 40 bits is refused before the frame or any count changes."""
    from mmactors.mm.mm_types import PAGE_SHIFT, TASK_SIZE
    m = FolioMappings(4)
    obj = AnonVMA.__new__(AnonVMA)
    for index in (0, 1, 0xFFFF_FFFF, 1 << 32, TASK_SIZE >> PAGE_SHIFT, (1 << 40) - 1):
        m.set(2, obj, index)
        assert m[2] == (obj, index) and m.index_of(2) == index and m.get(2) == (obj, index)
    with pytest.raises(ValueError, match="40-bit"):
        m.set(2, obj, 1 << 40)
    with pytest.raises(ValueError):
        m[1] = (obj, -1)
    assert m[2] == (obj, (1 << 40) - 1) and 1 not in m and m.users[1] == 1


def test_slots_widen_past_uint16_and_keep_every_mapping():
    """The slot array is uint16 until a 65,536th object is named at once,
    then int32 with every frame's mapping and index kept."""
    n = FolioMappings.SLOT_WIDE_AT + 2
    m = FolioMappings(n)
    assert m.slot.itemsize == 2
    objs = [_Space() for _ in range(n)]
    for pfn, obj in enumerate(objs):
        m.set(pfn, obj, pfn * 3)
    assert m.slot.itemsize == 4 and m._slot.dtype == np.int32
    assert all(m[pfn] == (obj, pfn * 3) for pfn, obj in enumerate(objs))
    assert m.slot[n - 1] == n and len(m) == n


def test_per_frame_widths():
    """The per-frame bytes of folio->mapping/index (7) and of folio->lru
    (prev, next and the list number: 9 for up to 50 nodes): a filled
    machine's peak memory is mostly these (tools/bench/reclaim.py --filled),
    so a wider array is a deliberate change, made here too."""
    from mmactors.mm.swap import LruLinks
    assert FolioMappings(1000).nbytes == 7 * 1000
    assert LruLinks(1000, 5 * 50).nbytes == 9 * 1000 + 2 * 4 * 5 * 50
    assert LruLinks(1000, 5 * 51).on.itemsize == 2         # 255 lists need a second byte
    assert Rmap(None, 1000).mc.itemsize == 4                # _mapcount
