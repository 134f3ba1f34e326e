"""The intrusive LRU lists (mm/swap.py :class:`LruList`, ``folio->lru`` as
per-frame prev/next arrays), against the dict-based lists they replaced:
the same order for every sequence of list_add, list_add_tail, list_del,
lru_to_folio and iteration (the golden results depend on that order)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmactors import Engine
from mmactors.mm.swap import NR_LRU_LISTS, LruLinks, LruList, Lruvec

MAX_PFN = 64


class DictLruList(dict):
    """The reference: mm/swap.py's LruList before the intrusive lists (dict
    insertion order, its last key the head; ``tail`` the folios added at
    the tail, in reverse), without its compaction (which kept the order)."""

    def __init__(self):
        super().__init__()
        self.tail: dict = {}

    def __len__(self):
        return dict.__len__(self) + len(self.tail)

    def __contains__(self, pfn):
        return dict.__contains__(self, pfn) or pfn in self.tail

    def __iter__(self):
        yield from reversed(self.tail)
        yield from dict.__iter__(self)

    def oldest(self) -> int:
        if self.tail:
            return next(reversed(self.tail))
        return next(dict.__iter__(self))

    def discard(self, pfn) -> bool:
        if dict.__contains__(self, pfn):
            dict.__delitem__(self, pfn)
            return True
        if pfn in self.tail:
            del self.tail[pfn]
            return True
        return False

    def add(self, pfn):
        self[pfn] = None

    def add_tail(self, pfn):
        self.discard(pfn)
        self.tail[pfn] = None


OPS = st.lists(st.tuples(st.sampled_from(["add", "add_tail", "discard", "oldest", "iter",
                                          "isolate"]),
                         st.integers(0, 2), st.integers(0, MAX_PFN - 1)),
               max_size=120)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_lists_keep_the_dict_lists_order(ops):
    """Three lists over one set of links against three dict lists: after
    every operation the same members in the same order, the same oldest,
    the same lengths; a frame is on at most one list."""
    links = LruLinks(MAX_PFN, 3)
    new = [LruList(links, i) for i in range(3)]
    ref = [DictLruList() for _ in range(3)]
    for op, i, pfn in ops:
        where = [k for k in range(3) if pfn in ref[k]]
        if op == "add":
            if where:                       # list_add of a listed folio: a BUG
                with pytest.raises(AssertionError):
                    new[i].add(pfn)
            else:
                new[i].add(pfn)
                ref[i].add(pfn)
        elif op == "add_tail":
            if where and where != [i]:      # on another list: a BUG
                with pytest.raises(AssertionError):
                    new[i].add_tail(pfn)
            else:
                new[i].add_tail(pfn)
                ref[i].add_tail(pfn)
        elif op == "discard":
            assert new[i].discard(pfn) == ref[i].discard(pfn)
        elif op == "oldest":
            if ref[i]:
                assert new[i].oldest() == ref[i].oldest()
            else:
                with pytest.raises(IndexError):
                    new[i].oldest()
        elif op == "iter":
            assert list(new[i]) == list(ref[i])
        else:                               # isolate_lru_folios' pattern: take from the tail
            for _ in range(pfn % 5):
                if not ref[i]:
                    break
                p = ref[i].oldest()
                assert new[i].oldest() == p
                ref[i].discard(p)
                new[i].discard(p)
                if p % 2:                   # rotated: list_move to the head
                    ref[i].add(p)
                    new[i].add(p)
        for k in range(3):
            assert list(new[k]) == list(ref[k])
            assert len(new[k]) == len(ref[k]) and bool(new[k]) == bool(ref[k])
        for p in range(MAX_PFN):
            assert [p in lst for lst in new] == [p in lst for lst in ref]


@settings(max_examples=100, deadline=None)
@given(pfns=st.lists(st.integers(0, MAX_PFN - 1), unique=True, max_size=40),
       drop=st.sets(st.integers(0, MAX_PFN - 1)))
def test_iteration_may_delete_the_folio_it_yielded(pfns, drop):
    """list_for_each_entry_safe: dropping the folio just yielded neither ends
    nor derails the walk; the others are visited once, in order."""
    links = LruLinks(MAX_PFN, 1)
    lst = LruList(links, 0)
    for p in pfns:
        lst.add(p)
    seen = []
    for p in lst:
        seen.append(p)
        if p in drop:
            assert lst.discard(p)
    assert seen == pfns
    assert list(lst) == [p for p in pfns if p not in drop]
    assert len(lst) == len(pfns) - len(drop & set(pfns))


def test_links_are_the_kernels_list_head():
    """head->next is the newest folio (list_add), head->prev the oldest
    (lru_to_folio); a lone folio points at the head both ways."""
    links = LruLinks(8, 1)
    lst = LruList(links, 0)
    h = lst.head
    assert h == 8 and links.next[h] == links.prev[h] == h      # INIT_LIST_HEAD
    lst.add(3)
    assert links.next[h] == links.prev[h] == 3 and links.next[3] == links.prev[3] == h
    lst.add(5)                                                  # newest
    lst.add_tail(1)                                             # oldest
    assert links.next[h] == 5 and links.prev[h] == 1 and list(lst) == [1, 3, 5]
    assert lst.discard(3) and links.next[5] == 1 and links.prev[1] == 5
    assert not lst.discard(3) and links.on[3] == 0


def test_lruvec_delete_finds_the_list_and_only_its_own():
    """lruvec_del_folio takes a folio off whichever of its node's lists holds
    it, and leaves another node's folio alone."""
    links = LruLinks(16, 2 * NR_LRU_LISTS)
    eng = Engine(seed=1)
    lv0 = Lruvec(eng, 0, links)
    lv1 = Lruvec(eng, 1, links)
    lv0.add(4, 2)
    lv1.add(9, 2)
    lv0.add_tail(6, 3)
    assert lv0.nr_pages() == [0, 0, 1, 1, 0] and lv1.lru_size(2) == 1
    assert not lv0.delete(9) and 9 in lv1.lists[2]
    assert lv0.delete(6) and lv0.nr_pages() == [0, 0, 1, 0, 0]
    assert not lv0.delete(6)
    assert lv1.delete(9) and lv1.nr_pages() == [0] * 5

